package org.layernorm4j.examples;

import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.RMSNorm;
import org.layernorm4j.Tensor;

/** The README's transformer variants, each self-contained: RMSNorm, zero-centred gamma, fused residual, from y. */
public final class Variants {
    private Variants() {}

    /** RMSNorm forward and backward. */
    public static void rmsNorm() {
        // tag::rmsnorm[]
        // RMSNorm (Zhang, Sennrich 2019): y = x * rstd * gamma, rstd = 1/sqrt(mean(x^2) + eps); no mean, no beta.
        RMSNorm rms = RMSNorm.builder(4096).eps(1e-6).build();
        float[] data = new float[8 * 4096];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(i) + 2;
        try (Tensor x = Tensor.of(data, 8, 4096);
             Tensor dy = Tensor.empty(DType.FLOAT32, Device.cpu(), 8, 4096).fill(1);
             Tensor gamma = Tensor.empty(DType.FLOAT32, Device.cpu(), 4096).fill(1);
             RMSNorm.Forward f = rms.forward(x, gamma);                     // f.output(), f.rstd()
             RMSNorm.Gradients g = rms.backward(dy, f, x, gamma)) {         // g.dx(), g.dgamma()
            System.out.println("rms dgamma[0] " + g.dgamma().toFloatArray()[0]);
        }
        // end::rmsnorm[]
    }

    /** Zero-centred gamma: stored zeros are the identity scale. */
    public static void zeroCentred() {
        // tag::zerocentred[]
        // Zero-centred weights (Gemma): gamma is applied as (1 + gamma), on both norms; zeros are the identity.
        LayerNorm ln = LayerNorm.builder(4).zeroCenteredGamma(true).build();
        try (Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 1, 4);
             Tensor gamma = Tensor.of(new float[4], 4);
             Tensor beta = Tensor.of(new float[4], 4);
             LayerNorm.Forward f = ln.forward(x, gamma, beta)) {
            System.out.println("zero-centred y[0] " + f.output().toFloatArray()[0]);   // the plain normalized row
        }
        // end::zerocentred[]
    }

    /** Fused residual forward and backward. */
    public static void residual() {
        // tag::residual[]
        // Fused residual add (pre-norm blocks): s = x + residual is normalized in the same pass and kept in
        // f.residualOut(), so the next block's residual is never re-read. The backward differentiates through s and
        // adds dResidualOut (the gradient flowing into s from later blocks; may be null): g.dx() = d(x) = d(residual).
        LayerNorm ln = LayerNorm.builder(768).build();
        float[] data = new float[16 * 768];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.cos(i) + 1;
        try (Tensor x = Tensor.of(data, 16, 768);
             Tensor residual = Tensor.empty(DType.FLOAT32, Device.cpu(), 16, 768).fill(0.5);
             Tensor dy = Tensor.empty(DType.FLOAT32, Device.cpu(), 16, 768).fill(1);
             Tensor dResidualOut = Tensor.empty(DType.FLOAT32, Device.cpu(), 16, 768).fill(0.25);
             Tensor gamma = Tensor.empty(DType.FLOAT32, Device.cpu(), 768).fill(1);
             Tensor beta = Tensor.empty(DType.FLOAT32, Device.cpu(), 768).fill(0);
             LayerNorm.Forward f = ln.newForwardWithResidualOutputs(x);     // y, mean, rstd and s
             LayerNorm.Gradients g = ln.newBackwardOutputs(x, gamma)) {
            ln.forwardWithResidual(x, residual, gamma, beta, f);
            ln.backwardWithResidual(dy, dResidualOut, f, gamma, g);
            System.out.println("residual s[0] " + f.residualOut().toFloatArray()[0] + " dx[0] " + g.dx().toFloatArray()[0]);
        }
        // end::residual[]
    }

    /** Memory-saving backward from y. */
    public static void fromOutput() {
        // tag::fromoutput[]
        // Memory-saving backward (as Apex's memory-efficient mode): rebuilds xhat = (y - beta) / gamma from the
        // forward's output, so x can be dropped after the forward. It reads f.output() and f.rstd().
        LayerNorm ln = LayerNorm.builder(1024).build();
        float[] data = new float[4 * 1024];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(0.1 * i) * 3 + 1;
        try (Tensor dy = Tensor.empty(DType.FLOAT32, Device.cpu(), 4, 1024).fill(1);
             Tensor gamma = Tensor.empty(DType.FLOAT32, Device.cpu(), 1024).fill(1.5);
             Tensor beta = Tensor.empty(DType.FLOAT32, Device.cpu(), 1024).fill(0.1);
             LayerNorm.Forward f = ln.newForwardOutputs(dy);                // outputs for x's shape [4, 1024]
             LayerNorm.Gradients g = ln.newBackwardOutputs(dy, gamma)) {
            try (Tensor x = Tensor.of(data, 4, 1024)) {
                ln.forward(x, gamma, beta, f);
            }                                                              // x is closed here
            ln.backwardFromOutput(dy, f, gamma, beta, g);
            System.out.println("from y dgamma[0] " + g.dgamma().toFloatArray()[0]);
        }
        // end::fromoutput[]
    }

    public static void main(String[] args) {
        rmsNorm();
        zeroCentred();
        residual();
        fromOutput();
    }
}

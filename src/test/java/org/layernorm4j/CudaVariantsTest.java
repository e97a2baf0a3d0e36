package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The transformer variants on CUDA through the Java API (runs only with a usable CUDA device, else skipped with the reason): RMSNorm,
 * zero-centred gamma, the fused residual and the backward from y agree with the CPU path (itself checked against
 * float64 in NormalizationVariantsTest) for every 16/32-bit dtype, outputs poisoned first; the zero-gamma rule throws.
 */
@GpuTest
class CudaVariantsTest {
    @Test
    void variantsAgreeWithCpu() {
        Device gpu = Device.cuda(0);
        int rows = 33, cols = 1000;
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16}) {
            DType pd = Data.paramDType(dt);
            RMSNorm rms = RMSNorm.builder(cols).zeroCenteredGamma(true).build();
            LayerNorm ln = LayerNorm.builder(cols).build();
            try (Tensor x = Tensor.of(Data.offCentre(1, rows, cols), dt, rows, cols);
                    Tensor r = Tensor.of(Data.offCentre(2, rows, cols), dt, rows, cols);
                    Tensor w = Tensor.of(Data.offCentre(3, rows, cols), dt, rows, cols);
                    Tensor g = Tensor.of(Data.gamma(4, cols), pd, cols); Tensor b = Tensor.of(Data.beta(5, cols), pd, cols);
                    Tensor xg = x.to(gpu); Tensor rg = r.to(gpu); Tensor wg = w.to(gpu); Tensor gg = g.to(gpu);
                    Tensor bg = b.to(gpu);
                    RMSNorm.Forward fc = rms.newForwardWithResidualOutputs(x);
                    RMSNorm.Forward fg = rms.newForwardWithResidualOutputs(xg);
                    RMSNorm.Gradients bc = rms.newBackwardOutputs(x, g); RMSNorm.Gradients bgr = rms.newBackwardOutputs(xg, gg);
                    LayerNorm.Forward lc = ln.forward(x, g, b); LayerNorm.Forward lg = ln.forward(xg, gg, bg);
                    LayerNorm.Gradients yc = ln.newBackwardOutputs(x, g); LayerNorm.Gradients yg = ln.newBackwardOutputs(xg, gg)) {
                rms.forwardWithResidual(x, r, g, fc);
                rms.forwardWithResidual(xg, rg, gg, fg);
                rms.backwardWithResidual(w, r, fc, g, bc);
                rms.backwardWithResidual(wg, rg, fg, gg, bgr);
                ln.backwardFromOutput(w, lc, g, b, yc);
                ln.backwardFromOutput(wg, lg, gg, bg, yg);
                double k = dt == DType.FLOAT32 ? 1e-4 : dt == DType.BFLOAT16 ? 0.1 : 0.02;
                agree(dt + " rms y", fc.output(), fg.output(), k);
                agree(dt + " rms s", fc.residualOut(), fg.residualOut(), 0);
                agree(dt + " rms dx", bc.dx(), bgr.dx(), k);
                agree(dt + " rms dgamma", bc.dgamma(), bgr.dgamma(), k);
                agree(dt + " from-y dx", yc.dx(), yg.dx(), k);
                agree(dt + " from-y dgamma", yc.dgamma(), yg.dgamma(), k);
            }
        }
        float[] g0 = Data.gamma(6, cols);
        g0[17] = 0;
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(Data.offCentre(7, rows, cols), rows, cols).to(gpu); Tensor g = Tensor.of(g0, cols).to(gpu);
                Tensor b = Tensor.of(Data.beta(8, cols), cols).to(gpu); LayerNorm.Forward f = ln.forward(x, g, b);
                LayerNorm.Gradients out = ln.newBackwardOutputs(x, g)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ln.backwardFromOutput(x, f, g, b, out));
            assertTrue(e.getMessage().contains("column 17"), e.getMessage());
        }
    }

    /** |gpu - cpu| <= k (|cpu| + max|cpu|): the two paths round differently, and the backward (from s, from y) amplifies the rounding of s and y: k is ~25 roundoffs of the data dtype (bf16 2^-8, fp16 2^-11), 1e-4 for fp32. */
    private static void agree(String what, Tensor cpu, Tensor gpu, double k) {
        double[] c = cpu.toDoubleArray(), g = gpu.toDoubleArray();
        double scale = 0;
        for (double v : c) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < c.length; i++) {
            assertTrue(Math.abs(c[i] - g[i]) <= k * (Math.abs(c[i]) + scale), what + "[" + i + "]: cpu " + c[i] + ", cuda " + g[i]);
        }
    }
}

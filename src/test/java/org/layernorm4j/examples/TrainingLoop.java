package org.layernorm4j.examples;

import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.Tensor;

/** The README's allocation-free loop: outputs preallocated once, reused every step. */
public final class TrainingLoop {
    private TrainingLoop() {}

    /** Prints dbeta[0] after the last step (dy = 1 summed over 32 rows: 32). */
    public static void run() {
        // tag::loop[]
        LayerNorm ln = LayerNorm.builder(768).build();
        int steps = 3;
        try (Tensor x = Tensor.empty(DType.FLOAT32, Device.cpu(), 32, 768).fill(0.5);
             Tensor dy = Tensor.empty(DType.FLOAT32, Device.cpu(), 32, 768).fill(1);
             Tensor gamma = Tensor.empty(DType.FLOAT32, Device.cpu(), 768).fill(1);
             Tensor beta = Tensor.empty(DType.FLOAT32, Device.cpu(), 768).fill(0);
             LayerNorm.Forward f = ln.newForwardOutputs(x);                 // y, mean, rstd, allocated once
             LayerNorm.Gradients g = ln.newBackwardOutputs(x, gamma)) {     // dx, dgamma, dbeta, allocated once
            float[] batch = new float[32 * 768];
            for (int step = 0; step < steps; step++) {
                for (int i = 0; i < batch.length; i++) batch[i] = (float) Math.sin(step + i);
                x.copyFrom(batch);                                           // the next batch into the same tensor
                ln.forward(x, gamma, beta, f);                               // writes f.output(), f.mean(), f.rstd()
                ln.backward(dy, f, x, gamma, g);                             // reads f's statistics, writes g
            }
            System.out.println("dbeta[0] " + g.dbeta().toFloatArray()[0]);
        }
        // end::loop[]
    }

    public static void main(String[] args) {
        run();
    }
}

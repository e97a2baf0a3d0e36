package org.layernorm4j.examples;

// tag::imports[]
import org.layernorm4j.*;
// end::imports[]

/** The README's first example: an allocating forward and backward. Public API only (this package is not ours). */
public final class QuickStart {
    private QuickStart() {}

    /** Prints y's first row and dgamma. */
    public static void run() {
        // tag::quickstart[]
        // x: a batch of 2 sequences of 3 tokens, hidden size 4 -> 6 rows of 4.
        float[] data = new float[2 * 3 * 4];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(i) + 3;
        LayerNorm ln = LayerNorm.builder(4).eps(1e-5).build();            // elementwiseAffine and bias default to true
        try (Tensor x = Tensor.of(data, 2, 3, 4);
             Tensor gamma = Tensor.of(new float[] {1, 1, 2, 2}, 4);
             Tensor beta = Tensor.of(new float[] {0, 0, 0, 1}, 4);
             LayerNorm.Forward f = ln.forward(x, gamma, beta)) {           // f.output() [2,3,4]; f.mean(), f.rstd() [2,3]
            float[] y = f.output().toFloatArray();
            System.out.println("y[0..3] " + y[0] + " " + y[1] + " " + y[2] + " " + y[3]);

            try (Tensor dy = Tensor.of(new float[24], 2, 3, 4).fill(1);    // upstream gradient
                 LayerNorm.Gradients g = ln.backward(dy, f, x, gamma)) {  // f: the saved forward; g.dx(), g.dgamma(), g.dbeta()
                float[] dbeta = g.dbeta().toFloatArray();                  // 6 rows of dy = 1: 6 each
                System.out.println("dbeta " + java.util.Arrays.toString(dbeta));
            }
        }
        // end::quickstart[]
    }

    public static void main(String[] args) {
        run();
    }
}

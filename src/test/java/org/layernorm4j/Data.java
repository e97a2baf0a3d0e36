package org.layernorm4j;

import java.util.Random;

/** Test data: random off-centre rows (mean far from 0, scale far from 1, never zeros) and helpers. */
final class Data {
    private Data() {}

    /** Row r: mean in [-2, 8], scale in [0.5, 4]; never exactly zero. */
    static float[] offCentre(long seed, int rows, int cols) {
        Random rnd = new Random(seed);
        float[] a = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double m = 3 + 10 * (rnd.nextDouble() - 0.5), s = 0.5 + 3.5 * rnd.nextDouble();
            for (int j = 0; j < cols; j++) {
                float v = (float) (m + s * rnd.nextGaussian());
                a[r * cols + j] = v == 0 ? 1e-3f : v;
            }
        }
        return a;
    }

    static float[] gamma(long seed, int cols) {
        Random rnd = new Random(seed);
        float[] g = new float[cols];
        for (int j = 0; j < cols; j++) g[j] = (float) (0.5 + rnd.nextDouble()) * (rnd.nextBoolean() ? 1 : -1);
        return g;
    }

    static float[] beta(long seed, int cols) {
        Random rnd = new Random(seed);
        float[] b = new float[cols];
        for (int j = 0; j < cols; j++) b[j] = (float) (rnd.nextDouble() - 0.5) * 2;
        return b;
    }

    static Tensor poisoned(DType dt, long... shape) {
        return Tensor.empty(dt, Device.cpu(), shape).fill(Double.NaN);
    }

    static DType paramDType(DType x) {
        return x.size() == 2 ? DType.FLOAT32 : x;
    }

    /** Accumulation roundoff: float64 for FLOAT64, float32 otherwise. */
    static double uAcc(DType x) {
        return x == DType.FLOAT64 ? 0x1p-53 : 0x1p-24;
    }

    /** Forward outputs over the given tensors (test shorthand; mean/rstd may be null). */
    static LayerNorm.Forward fwd(Tensor y, Tensor mean, Tensor rstd) {
        return LayerNorm.Forward.builder().output(y).mean(mean).rstd(rstd).build();
    }

    /** Gradient outputs over the given tensors (test shorthand; dgamma/dbeta may be null). */
    static LayerNorm.Gradients grads(Tensor dx, Tensor dgamma, Tensor dbeta) {
        return LayerNorm.Gradients.builder().dx(dx).dgamma(dgamma).dbeta(dbeta).build();
    }

    /** Raw bytes of a CPU tensor, for bitwise comparisons. */
    static byte[] bytes(Tensor t) {
        byte[] b = new byte[(int) t.byteSize()];
        t.pointer().get(b);
        return b;
    }
}

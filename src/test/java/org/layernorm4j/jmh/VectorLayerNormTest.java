package org.layernorm4j.jmh;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.Tensor;
import org.layernorm4j.cli.Reference;

/**
 * The Vector API bar of the JMH suite must compute the same thing as ours, or beating it means nothing: both are
 * checked here against the float64 reference with its rounding-derived bounds (fp32, off-centre rows, outputs
 * poisoned with NaN before each call), and must agree with each other within the sum of their bounds.
 */
class VectorLayerNormTest {
    private static final double U = 0x1p-24;

    @ParameterizedTest
    @CsvSource({"7,768", "3,1000", "5,4097", "2,16384", "1,17", "32,256"})
    void vectorReferenceMatchesFloat64AndOurs(int rows, int cols) {
        Random rnd = new Random(42L * rows + cols);
        float[] x = offCentre(rnd, rows, cols), dy = offCentre(rnd, rows, cols);
        float[] gamma = new float[cols], beta = new float[cols];
        for (int j = 0; j < cols; j++) {
            gamma[j] = (float) (0.5 + rnd.nextDouble());
            beta[j] = (float) (rnd.nextDouble() - 0.5);
        }
        float eps = 1e-5f;
        Reference ref = new Reference(d(x), d(gamma), d(beta), rows, cols, eps, U, U, U);
        Reference.Backward bw = ref.new Backward(d(dy), U, U);

        float[] y = nan(rows * cols), mean = nan(rows), rstd = nan(rows);
        VectorLayerNorm.forward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
        float[] dx = nan(rows * cols), dg = nan(cols), db = nan(cols);
        VectorLayerNorm.backward(dy, x, mean, rstd, gamma, dx, dg, db, rows, cols);
        check("vector y", d(y), ref.y, ref.boundY);
        check("vector mean", d(mean), ref.mean, ref.boundMean);
        check("vector rstd", d(rstd), ref.rstd, ref.boundRstd);
        check("vector dx", d(dx), bw.dx, bw.boundDx);
        check("vector dgamma", d(dg), bw.dgamma, bw.boundDgamma);
        check("vector dbeta", d(db), bw.dbeta, bw.boundDbeta);

        LayerNorm ln = LayerNorm.builder(cols).eps(eps).build();
        try (Tensor tx = Tensor.of(x, rows, cols); Tensor tdy = Tensor.of(dy, rows, cols);
                Tensor tg = Tensor.of(gamma, cols); Tensor tb = Tensor.of(beta, cols);
                Tensor ty = Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols).fill(Double.NaN);
                Tensor tm = Tensor.empty(DType.FLOAT32, Device.cpu(), rows).fill(Double.NaN);
                Tensor tr = Tensor.empty(DType.FLOAT32, Device.cpu(), rows).fill(Double.NaN);
                Tensor tdx = Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols).fill(Double.NaN);
                Tensor tdg = Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(Double.NaN);
                Tensor tdb = Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(Double.NaN)) {
            LayerNorm.Forward f = LayerNorm.Forward.builder().output(ty).mean(tm).rstd(tr).build();
            ln.forward(tx, tg, tb, f);
            ln.backward(tdy, f, tx, tg, LayerNorm.Gradients.builder().dx(tdx).dgamma(tdg).dbeta(tdb).build());
            double[] twice = twice(ref.boundY);
            check("ours vs vector y", ty.toDoubleArray(), d(y), twice);
            check("ours vs vector dx", tdx.toDoubleArray(), d(dx), twice(bw.boundDx));
            check("ours vs vector dgamma", tdg.toDoubleArray(), d(dg), twice(bw.boundDgamma));
            check("ours vs vector dbeta", tdb.toDoubleArray(), d(db), twice(bw.boundDbeta));
        }
    }

    /** The check itself can fail: a wrong affine (beta dropped) is caught. */
    @ParameterizedTest
    @CsvSource({"4,768"})
    void checkCatchesAWrongResult(int rows, int cols) {
        Random rnd = new Random(7);
        float[] x = offCentre(rnd, rows, cols), gamma = new float[cols], beta = new float[cols];
        Arrays.fill(gamma, 1.25f);
        Arrays.fill(beta, 0.5f);
        Reference ref = new Reference(d(x), d(gamma), d(beta), rows, cols, 1e-5, U, U, U);
        float[] y = nan(rows * cols), mean = nan(rows), rstd = nan(rows);
        VectorLayerNorm.forward(x, gamma, new float[cols], y, mean, rstd, rows, cols, 1e-5f);
        assertTrue(Reference.worstRatio(d(y), ref.y, ref.boundY) > 1, "a forward without beta must fail the bound");
    }

    private static void check(String what, double[] got, double[] ref, double[] bound) {
        double w = Reference.worstRatio(got, ref, bound);
        assertTrue(w <= 1, what + ": worst error / bound = " + w);
    }

    private static double[] twice(double[] b) {
        double[] t = new double[b.length];
        for (int i = 0; i < b.length; i++) t[i] = 2 * b[i];
        return t;
    }

    private static float[] nan(int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);
        return a;
    }

    static double[] d(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    static float[] offCentre(Random rnd, int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double m = 3 + 10 * (rnd.nextDouble() - 0.5), s = 0.5 + 3.5 * rnd.nextDouble();
            for (int j = 0; j < cols; j++) a[r * cols + j] = (float) (m + s * rnd.nextGaussian());
        }
        return a;
    }
}

package org.layernorm4j;

import org.layernorm4j.cli.Reference;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Rows with a large mean and a tiny spread, constant rows, NaN and Inf rows. */
class HardNumericsTest {
    /**
     * Rows of 1e4 + N(0, 1e-3) in float32 (the data's quantum at 1e4 is 2^-10 ~ 1e-3, so the rows still spread
     * over a few quanta). E[x^2]-E[x]^2 in float32 loses everything (x^2 ~ 1e8 has an ulp of 8); a stable
     * algorithm gets rstd right to well under 25 %: the float32 mean itself can be off by half an ulp of 1e4
     * (~0.5 std), which changes the variance by at most that square (~25 %) when the variance is then computed
     * around the rounded mean. eps = 1e-12 so that the variance (1e-6), not eps, decides rstd.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void largeMeanTinySpread(DType dt) {
        int rows = 4, cols = 768;
        Random rnd = new Random(3);
        double[] xs = new double[rows * cols];
        for (int i = 0; i < xs.length; i++) xs[i] = 1e4 + 1e-3 * rnd.nextGaussian();
        float[] xf = new float[xs.length];
        for (int i = 0; i < xs.length; i++) xf[i] = (float) xs[i];
        LayerNorm ln = LayerNorm.builder(cols).eps(1e-12).elementwiseAffine(false).build();
        try (Tensor x = dt == DType.FLOAT64 ? Tensor.of(xs, rows, cols) : Tensor.of(xf, rows, cols);
                LayerNorm.Forward f = ln.forward(x, null, null)) {
            Reference ref = new Reference(x.toDoubleArray(), null, null, rows, cols, 1e-12, Data.uAcc(dt), dt.unitRoundoff(),
                    dt.statsDType().unitRoundoff());
            double[] rstd = f.rstd().toDoubleArray();
            double[] y = f.output().toDoubleArray();
            double tol = dt == DType.FLOAT64 ? 1e-6 : 0.25;
            for (int r = 0; r < rows; r++) {
                double rel = Math.abs(rstd[r] - ref.rstd[r]) / ref.rstd[r];
                assertTrue(rel <= tol, "row " + r + ": rstd " + rstd[r] + ", reference " + ref.rstd[r]
                        + ", relative error " + rel + " > " + tol);
            }
            for (int i = 0; i < y.length; i++) {
                assertTrue(Math.abs(y[i] - ref.y[i]) <= (dt == DType.FLOAT64 ? 1e-6 : 0.75) * (1 + Math.abs(ref.y[i])),
                        "y[" + i + "] = " + y[i] + ", reference " + ref.y[i]);
            }
        }
    }

    /** Constant rows (exactly representable sums): mean = c, rstd = 1/sqrt(eps), y = beta exactly, dx finite. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void constantRows(DType dt) {
        int rows = 3, cols = 1000;
        float[] xs = new float[rows * cols];
        for (int r = 0; r < rows; r++) java.util.Arrays.fill(xs, r * cols, (r + 1) * cols, new float[] {3f, -1.5f, 0.25f}[r]);
        DType pdt = Data.paramDType(dt);
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(xs, dt, rows, cols); Tensor g = Tensor.of(Data.gamma(1, cols), pdt, cols);
                Tensor b = Tensor.of(Data.beta(2, cols), pdt, cols); LayerNorm.Forward f = ln.forward(x, g, b);
                Tensor dy = Tensor.of(Data.offCentre(4, rows, cols), dt, rows, cols);
                LayerNorm.Gradients gr = ln.backward(dy, f, x, g)) {
            assertArrayEquals(new double[] {3, -1.5, 0.25}, f.mean().toDoubleArray(), 0, "mean");
            double expect = 1 / Math.sqrt(1e-5);
            for (double v : f.rstd().toDoubleArray()) assertEquals(expect, v, expect * 4 * dt.statsDType().unitRoundoff(), "rstd");
            double[] y = f.output().toDoubleArray(), beta = b.toDoubleArray();
            for (int i = 0; i < y.length; i++) {
                double want = beta[i % cols];
                assertEquals(want, y[i], Math.abs(want) * dt.unitRoundoff(), "y[" + i + "] must be beta");
            }
            for (double v : gr.dx().toDoubleArray()) assertTrue(Double.isFinite(v), "dx must be finite");
        }
    }

    /** A NaN row and an Inf row give NaN y and dx in those rows; every other row is bitwise the clean result. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void nanAndInfRowsStayInTheirRows(DType dt) {
        int rows = 6, cols = 129;
        float[] clean = Data.offCentre(9, rows, cols);
        float[] dirty = clean.clone();
        dirty[2 * cols + 5] = Float.NaN;
        dirty[4 * cols + 100] = Float.POSITIVE_INFINITY;
        DType pdt = Data.paramDType(dt);
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor xc = Tensor.of(clean, dt, rows, cols); Tensor xd = Tensor.of(dirty, dt, rows, cols);
                Tensor g = Tensor.of(Data.gamma(1, cols), pdt, cols); Tensor b = Tensor.of(Data.beta(2, cols), pdt, cols);
                Tensor dy = Tensor.of(Data.offCentre(3, rows, cols), dt, rows, cols);
                LayerNorm.Forward fc = ln.forward(xc, g, b); LayerNorm.Forward fd = ln.forward(xd, g, b);
                LayerNorm.Gradients gc = ln.backward(dy, fc, xc, g); LayerNorm.Gradients gd = ln.backward(dy, fd, xd, g)) {
            double[] yc = fc.output().toDoubleArray(), yd = fd.output().toDoubleArray();
            double[] dxc = gc.dx().toDoubleArray(), dxd = gd.dx().toDoubleArray();
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) {
                    int i = r * cols + j;
                    if (r == 2 || r == 4) {
                        assertTrue(Double.isNaN(yd[i]), "y[" + r + "," + j + "] must be NaN, got " + yd[i]);
                        assertTrue(Double.isNaN(dxd[i]), "dx[" + r + "," + j + "] must be NaN, got " + dxd[i]);
                    } else {
                        assertEquals(Double.doubleToRawLongBits(yc[i]), Double.doubleToRawLongBits(yd[i]), "y row " + r);
                        assertEquals(Double.doubleToRawLongBits(dxc[i]), Double.doubleToRawLongBits(dxd[i]), "dx row " + r);
                    }
                }
            }
            for (double v : gd.dgamma().toDoubleArray()) assertTrue(Double.isNaN(v), "dgamma columns see the NaN rows");
            assertArrayEquals(Data.bytes(gc.dbeta()), Data.bytes(gd.dbeta()), "dbeta = sum dy does not read x");
        }
    }

    @Test
    void zeroRowsIsANoOp() {
        LayerNorm ln = LayerNorm.builder(8).elementwiseAffine(false).build();
        try (Tensor x = Tensor.empty(DType.FLOAT32, Device.cpu(), 0, 8); LayerNorm.Forward f = ln.forward(x, null, null)) {
            assertEquals(0, f.output().numel());
        }
    }
}

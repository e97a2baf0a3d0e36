package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The transformer variants through the Java API: RMSNorm, zero-centred gamma, the fused residual add and the memory-saving backward.
 *
 * <ul>
 *   <li>Gradients by central finite differences in float64 (as GradientCheckTest: L = sum(y*w) [+ sum(s*v)], step
 *       1e-6 (|v| + 1), agreement to 1e-6 of the gradient scale; a formula error is of order 1).
 *   <li>Forward values against a float64 reference written here.
 *   <li>Every ISA path x dtype: the same call in float32/bfloat16/float16 against the float64 result, within a bound
 *       derived from the data dtype's rounding (inputs rounded to the dtype first, so only the kernel's own rounding
 *       and the output rounding remain: |err| <= c * uo * (|ref| + scale)), outputs poisoned with NaN first.
 *   <li>Backward from y equals the backward from x (float64: to 1e-9 relative), the zero-gamma rule, determinism.
 * </ul>
 */
class NormalizationVariantsTest {
    static final int ROWS = 5, COLS = 37;

    // ---- float64 finite differences ----------------------------------------------------------------------------

    /** One forward: y, and s = x + residual (null without a residual). */
    interface Fwd {
        double[][] run(Tensor x, Tensor r, Tensor g, Tensor b);
    }

    /** A LayerNorm forward as a Fwd: the allocating forward, or forwardWithResidual into new outputs. */
    static Fwd fwd(LayerNorm ln) {
        return (x, r, g, b) -> {
            try (LayerNorm.Forward f = r == null ? ln.forward(x, g, b) : ln.newForwardWithResidualOutputs(x)) {
                if (r != null) ln.forwardWithResidual(x, r, g, b, f);
                return new double[][] {f.output().toDoubleArray(), r == null ? null : f.residualOut().toDoubleArray()};
            }
        };
    }

    /** An RMSNorm forward as a Fwd (b unused). */
    static Fwd fwd(RMSNorm rms) {
        return (x, r, g, b) -> {
            try (RMSNorm.Forward f = r == null ? rms.forward(x, g) : rms.newForwardWithResidualOutputs(x)) {
                if (r != null) rms.forwardWithResidual(x, r, g, f);
                return new double[][] {f.output().toDoubleArray(), r == null ? null : f.residualOut().toDoubleArray()};
            }
        };
    }

    /** L(x, gamma, beta, residual) = sum(y * w) + sum(s * v) of one forward (s only with a residual). */
    private static double loss(Fwd f, double[] x, double[] r, double[] g, double[] b, double[] w, double[] v) {
        try (Tensor tx = Tensor.of(x, ROWS, COLS); Tensor tr = r == null ? null : Tensor.of(r, ROWS, COLS);
                Tensor tg = g == null ? null : Tensor.of(g, COLS); Tensor tb = b == null ? null : Tensor.of(b, COLS)) {
            double[][] out = f.run(tx, tr, tg, tb);
            double s = 0;
            for (int i = 0; i < out[0].length; i++) s += out[0][i] * w[i];
            if (out[1] != null) {
                for (int i = 0; i < out[1].length; i++) s += out[1][i] * v[i];
            }
            return s;
        }
    }

    private static void fd(String what, double[] analytic, double[] v, Function<double[], Double> loss) {
        double scale = 0;
        for (double a : analytic) scale = Math.max(scale, Math.abs(a));
        for (int i = 0; i < v.length; i++) {
            double step = 1e-6 * (Math.abs(v[i]) + 1);
            double[] p = v.clone(), m = v.clone();
            p[i] += step;
            m[i] -= step;
            double num = (loss.apply(p) - loss.apply(m)) / (2 * step);
            assertTrue(Math.abs(num - analytic[i]) <= 1e-6 * (scale + 1),
                    what + "[" + i + "]: backward " + analytic[i] + ", finite difference " + num);
        }
    }

    private static double[] d(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    @Test
    void rmsNormGradientsMatchFiniteDifferences() {
        for (boolean zc : new boolean[] {false, true}) {
            RMSNorm rms = RMSNorm.builder(COLS).eps(1e-3).zeroCenteredGamma(zc).build();
            double[] x = d(Data.offCentre(11, ROWS, COLS)), g = d(Data.gamma(12, COLS)), w = d(Data.offCentre(13, ROWS, COLS));
            Fwd f = fwd(rms);
            try (Tensor tx = Tensor.of(x, ROWS, COLS); Tensor tg = Tensor.of(g, COLS); Tensor tw = Tensor.of(w, ROWS, COLS);
                    RMSNorm.Forward fw = rms.forward(tx, tg); RMSNorm.Gradients gr = rms.backward(tw, fw, tx, tg)) {
                assertNull(fw.residualOut());
                fd("rms zc=" + zc + " dx", gr.dx().toDoubleArray(), x, xp -> loss(f, xp, null, g, null, w, null));
                fd("rms zc=" + zc + " dgamma", gr.dgamma().toDoubleArray(), g, gp -> loss(f, x, null, gp, null, w, null));
                // forward values against the float64 formula
                double[] y = fw.output().toDoubleArray();
                for (int r = 0; r < ROWS; r++) {
                    double ms = 0;
                    for (int j = 0; j < COLS; j++) ms += x[r * COLS + j] * x[r * COLS + j];
                    double rs = 1 / Math.sqrt(ms / COLS + 1e-3);
                    for (int j = 0; j < COLS; j++) {
                        double ref = x[r * COLS + j] * rs * (zc ? 1 + g[j] : g[j]);
                        assertEquals(ref, y[r * COLS + j], 1e-12 * (Math.abs(ref) + 1), "rms y[" + r + "," + j + "]");
                    }
                }
            }
        }
    }

    @Test
    void zeroCenteredLayerNormGradientsMatchFiniteDifferences() {
        LayerNorm ln = LayerNorm.builder(COLS).eps(1e-3).zeroCenteredGamma(true).build();
        double[] x = d(Data.offCentre(21, ROWS, COLS)), g = d(Data.gamma(22, COLS)), b = d(Data.beta(23, COLS));
        double[] w = d(Data.offCentre(24, ROWS, COLS));
        Fwd f = fwd(ln);
        try (Tensor tx = Tensor.of(x, ROWS, COLS); Tensor tg = Tensor.of(g, COLS); Tensor tb = Tensor.of(b, COLS);
                Tensor tw = Tensor.of(w, ROWS, COLS); LayerNorm.Forward fw = ln.forward(tx, tg, tb);
                LayerNorm.Gradients gr = ln.backward(tw, fw, tx, tg)) {
            fd("zc dx", gr.dx().toDoubleArray(), x, xp -> loss(f, xp, null, g, b, w, null));
            fd("zc dgamma", gr.dgamma().toDoubleArray(), g, gp -> loss(f, x, null, gp, b, w, null));
            fd("zc dbeta", gr.dbeta().toDoubleArray(), b, bp -> loss(f, x, null, g, bp, w, null));
        }
    }

    @Test
    void fusedResidualGradientsMatchFiniteDifferences() {
        LayerNorm ln = LayerNorm.builder(COLS).eps(1e-3).build();
        RMSNorm rms = RMSNorm.builder(COLS).eps(1e-3).build();
        double[] x = d(Data.offCentre(31, ROWS, COLS)), r = d(Data.offCentre(32, ROWS, COLS));
        double[] g = d(Data.gamma(33, COLS)), b = d(Data.beta(34, COLS));
        double[] w = d(Data.offCentre(35, ROWS, COLS)), v = d(Data.offCentre(36, ROWS, COLS));
        for (boolean isRms : new boolean[] {false, true}) {
            Fwd f = isRms ? fwd(rms) : fwd(ln);
            double[] bb = isRms ? null : b;
            try (Tensor tx = Tensor.of(x, ROWS, COLS); Tensor tr = Tensor.of(r, ROWS, COLS); Tensor tg = Tensor.of(g, COLS);
                    Tensor tb = isRms ? null : Tensor.of(b, COLS); Tensor tw = Tensor.of(w, ROWS, COLS);
                    Tensor tv = Tensor.of(v, ROWS, COLS)) {
                double[] s, dx, dg;
                if (isRms) {
                    try (RMSNorm.Forward fw = rms.newForwardWithResidualOutputs(tx);
                            RMSNorm.Gradients gr = rms.newBackwardOutputs(tx, tg)) {
                        rms.forwardWithResidual(tx, tr, tg, fw);
                        rms.backwardWithResidual(tw, tv, fw, tg, gr);
                        s = fw.residualOut().toDoubleArray();
                        dx = gr.dx().toDoubleArray();
                        dg = gr.dgamma().toDoubleArray();
                    }
                } else {
                    try (LayerNorm.Forward fw = ln.newForwardWithResidualOutputs(tx);
                            LayerNorm.Gradients gr = ln.newBackwardOutputs(tx, tg)) {
                        ln.forwardWithResidual(tx, tr, tg, tb, fw);
                        ln.backwardWithResidual(tw, tv, fw, tg, gr);
                        s = fw.residualOut().toDoubleArray();
                        dx = gr.dx().toDoubleArray();
                        dg = gr.dgamma().toDoubleArray();
                    }
                }
                for (int i = 0; i < s.length; i++) assertEquals(x[i] + r[i], s[i], 0.0, "s = x + residual at " + i);
                String n = isRms ? "rms residual " : "ln residual ";
                fd(n + "dx", dx, x, xp -> loss(f, xp, r, g, bb, w, v));
                fd(n + "dresidual", dx, r, rp -> loss(f, x, rp, g, bb, w, v));
                fd(n + "dgamma", dg, g, gp -> loss(f, x, r, gp, bb, w, v));
            }
        }
    }

    // ---- backward from y -----------------------------------------------------------------------------------

    @Test
    void backwardFromOutputMatchesBackwardFromInput() {
        for (boolean isRms : new boolean[] {false, true})
            for (boolean zc : new boolean[] {false, true}) {
                LayerNorm ln = LayerNorm.builder(COLS).zeroCenteredGamma(zc).build();
                RMSNorm rms = RMSNorm.builder(COLS).zeroCenteredGamma(zc).build();
                double[] x = d(Data.offCentre(41, ROWS, COLS)), g = d(Data.gamma(42, COLS)), b = d(Data.beta(43, COLS));
                double[] w = d(Data.offCentre(44, ROWS, COLS));
                try (Tensor tx = Tensor.of(x, ROWS, COLS); Tensor tg = Tensor.of(g, COLS); Tensor tb = Tensor.of(b, COLS);
                        Tensor tw = Tensor.of(w, ROWS, COLS)) {
                    if (isRms) {
                        try (RMSNorm.Forward fw = rms.forward(tx, tg); RMSNorm.Gradients fromX = rms.backward(tw, fw, tx, tg);
                                RMSNorm.Gradients fromY = rms.newBackwardOutputs(tx, tg)) {
                            rms.backwardFromOutput(tw, fw, tg, fromY);
                            close("dx rms zc=" + zc, fromX.dx().toDoubleArray(), fromY.dx().toDoubleArray());
                            close("dgamma rms zc=" + zc, fromX.dgamma().toDoubleArray(), fromY.dgamma().toDoubleArray());
                        }
                    } else {
                        try (LayerNorm.Forward fw = ln.forward(tx, tg, tb); LayerNorm.Gradients fromX = ln.backward(tw, fw, tx, tg);
                                LayerNorm.Gradients fromY = ln.newBackwardOutputs(tx, tg)) {
                            ln.backwardFromOutput(tw, fw, tg, tb, fromY);
                            close("dx zc=" + zc, fromX.dx().toDoubleArray(), fromY.dx().toDoubleArray());
                            close("dgamma zc=" + zc, fromX.dgamma().toDoubleArray(), fromY.dgamma().toDoubleArray());
                            close("dbeta zc=" + zc, fromX.dbeta().toDoubleArray(), fromY.dbeta().toDoubleArray());
                        }
                    }
                }
            }
    }

    private static void close(String what, double[] a, double[] b) {
        double scale = 0;
        for (double v : a) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < a.length; i++) {
            assertTrue(Math.abs(a[i] - b[i]) <= 1e-9 * (scale + 1), what + "[" + i + "]: from x " + a[i] + ", from y " + b[i]);
        }
    }

    @Test
    void zeroGammaRuleThrowsNamingTheColumnAndWritesNothing() {
        for (boolean zc : new boolean[] {false, true}) {
            LayerNorm ln = LayerNorm.builder(COLS).zeroCenteredGamma(zc).build();
            float[] g = Data.gamma(51, COLS);
            try (Tensor tx = Tensor.of(Data.offCentre(52, ROWS, COLS), ROWS, COLS); Tensor tb = Tensor.of(Data.beta(53, COLS), COLS);
                    Tensor tw = Tensor.of(Data.offCentre(54, ROWS, COLS), ROWS, COLS)) {
                g[9] = zc ? -1f : 0f;
                g[20] = zc ? -1f : 0f;
                try (Tensor tg = Tensor.of(g, COLS); LayerNorm.Forward fw = ln.forward(tx, tg, tb);
                        Tensor dx = Data.poisoned(DType.FLOAT32, ROWS, COLS); Tensor dg = Data.poisoned(DType.FLOAT32, COLS);
                        Tensor db = Data.poisoned(DType.FLOAT32, COLS)) {
                    for (Tensor want : new Tensor[] {dg, null}) {
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                () -> ln.backwardFromOutput(tw, fw, tg, tb, Data.grads(dx, want, db)));
                        assertTrue(e.getMessage().contains("gamma") && e.getMessage().contains("column 9"), e.getMessage());
                        for (double v : dx.toDoubleArray()) assertTrue(Double.isNaN(v), "dx written by a refused call");
                        for (double v : db.toDoubleArray()) assertTrue(Double.isNaN(v), "dbeta written by a refused call");
                    }
                    // the backward from x is exact for any gamma
                    try (LayerNorm.Gradients ok = ln.backward(tw, fw, tx, tg)) {
                        for (double v : ok.dx().toDoubleArray()) assertTrue(Double.isFinite(v));
                    }
                }
            }
        }
    }

    // ---- every ISA x dtype against float64 -------------------------------------------------------------------

    @Test
    void everyIsaAndDtypeAgreesWithFloat64() {
        int rows = 7, cols = 65;
        float[] xf = Data.offCentre(61, rows, cols), rf = Data.offCentre(62, rows, cols), wf = Data.offCentre(63, rows, cols);
        float[] gf = Data.gamma(64, cols);
        for (String isa : Isa.supported())
            for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16})
                for (int variant = 0; variant < 4; variant++) {
                    final int v = variant;
                    Isa.run(isa, () -> checkVariant(isa, dt, v, rows, cols, xf, rf, wf, gf));
                }
    }

    /** variant: 0 RMS, 1 RMS zero-centred + residual, 2 LayerNorm zero-centred + residual, 3 LayerNorm from y. */
    private static void checkVariant(String isa, DType dt, int v, int rows, int cols, float[] xf, float[] rf, float[] wf,
            float[] gf) {
        DType pd = Data.paramDType(dt);
        boolean rmsv = v <= 1, res = v == 1 || v == 2, zc = v == 1 || v == 2, fromY = v == 3;
        LayerNorm ln = LayerNorm.builder(cols).bias(false).zeroCenteredGamma(zc).build();
        RMSNorm rms = RMSNorm.builder(cols).zeroCenteredGamma(zc).build();
        String what = isa + " " + dt + " variant " + v;
        // inputs rounded to dt once; the float64 run gets exactly those values
        try (Tensor x = Tensor.of(xf, dt, rows, cols); Tensor r = Tensor.of(rf, dt, rows, cols);
                Tensor w = Tensor.of(wf, dt, rows, cols); Tensor g = Tensor.of(gf, pd, cols);
                Tensor x64 = Tensor.of(x.toDoubleArray(), rows, cols); Tensor r64 = Tensor.of(r.toDoubleArray(), rows, cols);
                Tensor w64 = Tensor.of(w.toDoubleArray(), rows, cols); Tensor g64 = Tensor.of(g.toDoubleArray(), cols);
                Tensor y = Data.poisoned(dt, rows, cols); Tensor s = Data.poisoned(dt, rows, cols);
                Tensor rstd = Data.poisoned(DType.FLOAT32, rows); Tensor mean = Data.poisoned(DType.FLOAT32, rows);
                Tensor dx = Data.poisoned(dt, rows, cols); Tensor dg = Data.poisoned(pd, cols);
                Tensor y64 = Data.poisoned(DType.FLOAT64, rows, cols); Tensor s64 = Data.poisoned(DType.FLOAT64, rows, cols);
                Tensor rstd64 = Data.poisoned(DType.FLOAT64, rows); Tensor mean64 = Data.poisoned(DType.FLOAT64, rows);
                Tensor dx64 = Data.poisoned(DType.FLOAT64, rows, cols); Tensor dg64 = Data.poisoned(DType.FLOAT64, cols)) {
            // the same call twice: in float64 (the reference) and in dt
            Tensor[][] runs = {{x64, r64, w64, g64, y64, s64, rstd64, mean64, dx64, dg64}, {x, r, w, g, y, s, rstd, mean, dx, dg}};
            for (Tensor[] t : runs) {
                if (rmsv) {
                    RMSNorm.Forward f = RMSNorm.Forward.builder().output(t[4]).residualOut(res ? t[5] : null).rstd(t[6]).build();
                    RMSNorm.Gradients gr = RMSNorm.Gradients.builder().dx(t[8]).dgamma(t[9]).build();
                    if (res) {
                        rms.forwardWithResidual(t[0], t[1], t[3], f);
                        rms.backwardWithResidual(t[2], t[1], f, t[3], gr);
                    } else {
                        rms.forward(t[0], t[3], f);
                        rms.backward(t[2], f, t[0], t[3], gr);
                    }
                } else {
                    LayerNorm.Forward f = LayerNorm.Forward.builder().output(t[4]).residualOut(res ? t[5] : null)
                            .mean(t[7]).rstd(t[6]).build();
                    LayerNorm.Gradients gr = Data.grads(t[8], t[9], null);
                    if (res) {
                        ln.forwardWithResidual(t[0], t[1], t[3], null, f);
                        ln.backwardWithResidual(t[2], t[1], f, t[3], gr);
                    } else {
                        ln.forward(t[0], t[3], null, f);
                        if (fromY) ln.backwardFromOutput(t[2], f, t[3], null, gr);
                        else ln.backward(t[2], f, t[0], t[3], gr);
                    }
                }
            }
            double uo = dt == DType.FLOAT32 ? 0x1p-24 : dt == DType.BFLOAT16 ? 0x1p-8 : 0x1p-11;
            // y: output rounding (uo) plus the float32 statistics (a few hundred u32 at 65 columns); dx and dgamma
            // also see the rounding of s (residual) and, from y, of y itself, amplified by |xhat| ~ 3 and 1/|g| <= 2.
            agree(what + " y", y.toDoubleArray(), y64.toDoubleArray(), 4 * uo + 512 * 0x1p-24);
            double kb = 64 * uo + 2048 * 0x1p-24;
            agree(what + " dx", dx.toDoubleArray(), dx64.toDoubleArray(), kb);
            agree(what + " dgamma", dg.toDoubleArray(), dg64.toDoubleArray(), kb * rows);
        }
    }

    /** |got - ref| <= k * (|ref| + max|ref|) elementwise; NaN (a poisoned output left unwritten) fails. */
    private static void agree(String what, double[] got, double[] ref, double k) {
        double scale = 0;
        for (double v : ref) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            assertTrue(err <= k * (Math.abs(ref[i]) + scale), what + "[" + i + "] = " + got[i] + ", float64 " + ref[i]
                    + " (|err| " + err + " > " + k * (Math.abs(ref[i]) + scale) + ")");
        }
    }

    // ---- determinism and bad input -------------------------------------------------------------------------

    @Test
    void sameBitsForAnyThreadCount() {
        int rows = 301, cols = 1000;
        byte[] first = null;
        for (int t : new int[] {1, 2, 3, 8}) {
            RMSNorm rms = RMSNorm.builder(cols).zeroCenteredGamma(true).cpuThreads(t).build();
            try (Tensor x = Tensor.of(Data.offCentre(71, rows, cols), rows, cols);
                    Tensor r = Tensor.of(Data.offCentre(72, rows, cols), rows, cols);
                    Tensor g = Tensor.of(Data.gamma(73, cols), cols); Tensor w = Tensor.of(Data.offCentre(74, rows, cols), rows, cols);
                    RMSNorm.Forward f = rms.newForwardWithResidualOutputs(x); RMSNorm.Gradients gr = rms.newBackwardOutputs(x, g);
                    RMSNorm.Gradients gy = rms.newBackwardOutputs(x, g)) {
                rms.forwardWithResidual(x, r, g, f);
                rms.backwardWithResidual(w, r, f, g, gr);
                rms.backwardFromOutput(w, f, g, gy);
                byte[] all = concat(Data.bytes(f.output()), Data.bytes(gr.dx()), Data.bytes(gr.dgamma()),
                        Data.bytes(gy.dx()), Data.bytes(gy.dgamma()));
                if (first == null) first = all;
                else assertArrayEquals(first, all, "threads " + t);
            }
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    @Test
    void badInputsNameTheArgument() {
        RMSNorm rms = RMSNorm.builder(8).build();
        LayerNorm ln = LayerNorm.builder(8).build();
        try (Tensor x = Tensor.of(new float[16], 2, 8); Tensor g = Tensor.of(new float[8], 8); Tensor b = Tensor.of(new float[8], 8);
                Tensor wrong = Tensor.of(new float[24], 3, 8); Tensor y = Tensor.empty(DType.FLOAT32, Device.cpu(), 2, 8);
                Tensor st = Tensor.empty(DType.FLOAT32, Device.cpu(), 2); Tensor d64 = Tensor.of(new double[16], 2, 8)) {
            LayerNorm.Forward lf = LayerNorm.Forward.builder().output(y).mean(st).rstd(st).build();
            LayerNorm.Forward lfs = LayerNorm.Forward.builder().output(y).residualOut(x).mean(st).rstd(st).build();
            RMSNorm.Forward rf = RMSNorm.Forward.builder().output(y).rstd(st).build();
            msg(IllegalArgumentException.class, "residual", () -> ln.forwardWithResidual(x, wrong, g, b, lf));
            msg(IllegalArgumentException.class, "residual", () -> rms.forwardWithResidual(x, d64, g, rf));
            msg(NullPointerException.class, "residual", () -> rms.forwardWithResidual(x, null, g, rf));
            msg(IllegalArgumentException.class, "residualOut", () -> ln.forward(x, g, b, lfs));
            msg(IllegalArgumentException.class, "dResidualOut",
                    () -> ln.backwardWithResidual(x, wrong, lfs, g, Data.grads(y, null, null)));
            msg(NullPointerException.class, "saved.residualOut()",
                    () -> ln.backwardWithResidual(x, null, lf, g, Data.grads(y, null, null)));
            // the backward of a residual forward differentiates through s, not x: the plain backward refuses x
            msg(IllegalArgumentException.class, "backwardWithResidual", () -> ln.backward(x, lfs, wrong, g));
            msg(NullPointerException.class, "beta", () -> ln.backwardFromOutput(x, lf, g, null, Data.grads(y, null, null)));
            msg(IllegalArgumentException.class, "eps", () -> RMSNorm.builder(8).eps(0));
            msg(IllegalArgumentException.class, "normalizedShape", () -> RMSNorm.builder(8, 0));
        }
    }

    private static void msg(Class<? extends RuntimeException> type, String needle, Runnable call) {
        RuntimeException e = assertThrows(type, call::run);
        assertTrue(e.getMessage().contains(needle), "message should name " + needle + ": " + e.getMessage());
    }
}

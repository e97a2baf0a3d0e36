package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Backward against central finite differences of the forward, in float64: L = sum(y * w), so dL/dx, dL/dgamma,
 * dL/dbeta are the backward with dy = w. Step h = 1e-6 * (|v| + 1): truncation error O(h^2) ~ 1e-12 and
 * cancellation error ~ eps_64 |L| / h ~ 1e-9, so agreement to 1e-6 (relative to the gradient's scale) is a
 * check with room to spare that any formula error (order 1) cannot pass.
 */
class GradientCheckTest {
    @Test
    void finiteDifferencesMatchBackward() {
        int rows = 3, cols = 17;
        LayerNorm ln = LayerNorm.builder(cols).eps(1e-3).build();
        double[] x = toD(Data.offCentre(5, rows, cols));
        double[] g = toD(Data.gamma(6, cols));
        double[] b = toD(Data.beta(7, cols));
        double[] w = toD(Data.offCentre(8, rows, cols));
        try (Tensor tx = Tensor.of(x, rows, cols); Tensor tg = Tensor.of(g, cols); Tensor tb = Tensor.of(b, cols);
                Tensor tw = Tensor.of(w, rows, cols); LayerNorm.Forward f = ln.forward(tx, tg, tb);
                LayerNorm.Gradients gr = ln.backward(tw, f, tx, tg)) {
            compare("dx", gr.dx().toDoubleArray(), x, i -> loss(ln, perturb(x, i), g, b, w, rows, cols), x);
            compare("dgamma", gr.dgamma().toDoubleArray(), g, i -> loss(ln, x, perturb(g, i), b, w, rows, cols), g);
            compare("dbeta", gr.dbeta().toDoubleArray(), b, i -> loss(ln, x, g, perturb(b, i), w, rows, cols), b);
        }
    }

    private static double h;

    private static double[] perturb(double[] v, int i) {
        double[] c = v.clone();
        c[i] += h;
        return c;
    }

    interface Loss {
        double at(int i);
    }

    private static void compare(String what, double[] analytic, double[] v, Loss loss, double[] base) {
        double scale = 0;
        for (double a : analytic) scale = Math.max(scale, Math.abs(a));
        for (int i = 0; i < v.length; i++) {
            double step = 1e-6 * (Math.abs(v[i]) + 1);
            h = step;
            double lp = loss.at(i);
            h = -step;
            double lm = loss.at(i);
            double fd = (lp - lm) / (2 * step);
            double err = Math.abs(fd - analytic[i]);
            assertTrue(err <= 1e-6 * (scale + 1), what + "[" + i + "]: backward " + analytic[i] + ", finite difference "
                    + fd + ", |difference| " + err);
        }
    }

    private static double loss(LayerNorm ln, double[] x, double[] g, double[] b, double[] w, int rows, int cols) {
        try (Tensor tx = Tensor.of(x, rows, cols); Tensor tg = Tensor.of(g, cols); Tensor tb = Tensor.of(b, cols);
                LayerNorm.Forward f = ln.forward(tx, tg, tb)) {
            double[] y = f.output().toDoubleArray();
            double s = 0;
            for (int i = 0; i < y.length; i++) s += y[i] * w[i];
            return s;
        }
    }

    private static double[] toD(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}

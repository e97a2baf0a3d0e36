package org.layernorm4j.jmh;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The bar the CPU performance targets are set against: layer normalization as a Java user could write it with the
 * JDK Vector API (jdk.incubator.vector), on heap float[] arrays, one thread, row-major [rows x cols]. Not part of the
 * library.
 *
 * <p>Forward is the same math as ours: two passes per row (mean, then the variance of x - mean, biased), rstd =
 * 1 / sqrt(var + eps), y = (x - mean) * rstd * gamma + beta. Backward: xhat = (x - mean) * rstd, g = dy * gamma,
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), dgamma = sum over rows of dy * xhat, dbeta = sum of dy.
 * Sums are in float lanes (reduceLanes at the end of a row), the way a straightforward Vector API version would.
 */
public final class VectorLayerNorm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorLayerNorm() {
    }

    public static void forward(float[] x, float[] gamma, float[] beta, float[] y, float[] mean, float[] rstd,
            int rows, int cols, float eps) {
        final int bound = S.loopBound(cols);
        for (int r = 0; r < rows; r++) {
            final int o = r * cols;
            FloatVector acc = FloatVector.zero(S);
            int c = 0;
            for (; c < bound; c += S.length()) acc = acc.add(FloatVector.fromArray(S, x, o + c));
            float sum = acc.reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) sum += x[o + c];
            final float mu = sum / cols;
            FloatVector vmu = FloatVector.broadcast(S, mu);
            acc = FloatVector.zero(S);
            for (c = 0; c < bound; c += S.length()) {
                FloatVector d = FloatVector.fromArray(S, x, o + c).sub(vmu);
                acc = d.fma(d, acc);
            }
            float ss = acc.reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                float d = x[o + c] - mu;
                ss += d * d;
            }
            final float rs = (float) (1.0 / Math.sqrt(ss / cols + eps));
            FloatVector vrs = FloatVector.broadcast(S, rs);
            for (c = 0; c < bound; c += S.length()) {
                FloatVector g = FloatVector.fromArray(S, gamma, c).mul(vrs);
                FloatVector d = FloatVector.fromArray(S, x, o + c).sub(vmu);
                d.fma(g, FloatVector.fromArray(S, beta, c)).intoArray(y, o + c);
            }
            for (; c < cols; c++) y[o + c] = (x[o + c] - mu) * (gamma[c] * rs) + beta[c];
            mean[r] = mu;
            rstd[r] = rs;
        }
    }

    /** dgamma and dbeta are overwritten (not accumulated into). */
    public static void backward(float[] dy, float[] x, float[] mean, float[] rstd, float[] gamma, float[] dx,
            float[] dgamma, float[] dbeta, int rows, int cols) {
        final int bound = S.loopBound(cols);
        java.util.Arrays.fill(dgamma, 0, cols, 0f);
        java.util.Arrays.fill(dbeta, 0, cols, 0f);
        for (int r = 0; r < rows; r++) {
            final int o = r * cols;
            final float mu = mean[r], rs = rstd[r];
            FloatVector vmu = FloatVector.broadcast(S, mu), vrs = FloatVector.broadcast(S, rs);
            FloatVector a1 = FloatVector.zero(S), a2 = FloatVector.zero(S);
            int c = 0;
            for (; c < bound; c += S.length()) {
                FloatVector vdy = FloatVector.fromArray(S, dy, o + c);
                FloatVector xh = FloatVector.fromArray(S, x, o + c).sub(vmu).mul(vrs);
                FloatVector g = vdy.mul(FloatVector.fromArray(S, gamma, c));
                a1 = a1.add(g);
                a2 = g.fma(xh, a2);
                xh.fma(vdy, FloatVector.fromArray(S, dgamma, c)).intoArray(dgamma, c);
                FloatVector.fromArray(S, dbeta, c).add(vdy).intoArray(dbeta, c);
            }
            float sg = a1.reduceLanes(VectorOperators.ADD), sgx = a2.reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                float xh = (x[o + c] - mu) * rs, g = dy[o + c] * gamma[c];
                sg += g;
                sgx += g * xh;
                dgamma[c] += dy[o + c] * xh;
                dbeta[c] += dy[o + c];
            }
            final float mg = sg / cols, mgx = sgx / cols;
            FloatVector vmg = FloatVector.broadcast(S, mg), vmgx = FloatVector.broadcast(S, mgx);
            for (c = 0; c < bound; c += S.length()) {
                FloatVector xh = FloatVector.fromArray(S, x, o + c).sub(vmu).mul(vrs);
                FloatVector g = FloatVector.fromArray(S, dy, o + c).mul(FloatVector.fromArray(S, gamma, c));
                g.sub(vmg).sub(xh.mul(vmgx)).mul(vrs).intoArray(dx, o + c);
            }
            for (; c < cols; c++) {
                float xh = (x[o + c] - mu) * rs, g = dy[o + c] * gamma[c];
                dx[o + c] = rs * (g - mg - xh * mgx);
            }
        }
    }
}

package org.layernorm4j.cli;

/**
 * Float64 layer-norm reference and rounding-derived error bounds, used by the CLI's {@code check} and
 * the JUnit accuracy tests.
 *
 * <p>Bounds, per element, with u_acc the accumulation dtype's unit roundoff (2^-24 for all but FLOAT64, 2^-53),
 * u_out the output dtype's, n = cols, and k(n) = 8 + 2 sqrt(n) (1 + |mean| rstd): summation of n terms in
 * blocks/pairs or in sequence leaves a relative error in mean and variance of about sqrt(n) u_acc for random data,
 * amplified by |mean|/std when the row is off-centre; the output is rounded once more (u_out |ref|).
 * <pre>
 *   y:      u_out |y_ref| + u_acc k(n) |g| (1 + |xhat|) + u_acc |beta|
 *   dx:     u_out |dx_ref| + u_acc k(n) rstd (|g dy| + mean|g dy| + (1 + |xhat|) mean(|g dy| (1 + |xhat|)))
 *   dgamma: u_out |ref| + u_acc (k(n) + 2 sqrt(rows)) sum_rows |dy| (1 + |xhat|);  dbeta: same with sum |dy|
 *   mean:   u_stat |ref| + u_acc (8 + 2 sqrt(n)) mean|x|;  rstd: relative u_stat + u_acc k(n)
 * </pre>
 */
public final class Reference {
    public final int rows, cols;
    public final double[] y, mean, rstd, xhat;
    public final double[] boundY, boundMean, boundRstd;
    private final double[] x, gamma, beta;
    private final double uAcc;

    /** Forward reference; gamma/beta may be null. */
    public Reference(double[] x, double[] gamma, double[] beta, int rows, int cols, double eps, double uAcc,
            double uOut, double uStat) {
        this.x = x;
        this.gamma = gamma;
        this.beta = beta;
        this.rows = rows;
        this.cols = cols;
        this.uAcc = uAcc;
        y = new double[rows * cols];
        xhat = new double[rows * cols];
        boundY = new double[rows * cols];
        mean = new double[rows];
        rstd = new double[rows];
        boundMean = new double[rows];
        boundRstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            double s = 0, sa = 0;
            for (int j = 0; j < cols; j++) {
                s += x[o + j];
                sa += Math.abs(x[o + j]);
            }
            double m = s / cols;
            double v = 0;
            for (int j = 0; j < cols; j++) v += (x[o + j] - m) * (x[o + j] - m);
            v /= cols;
            double rs = 1 / Math.sqrt(v + eps);
            mean[r] = m;
            rstd[r] = rs;
            double k = k(cols, m, rs);
            boundMean[r] = uStat * Math.abs(m) + uAcc * (8 + 2 * Math.sqrt(cols)) * (sa / cols);
            boundRstd[r] = (uStat + uAcc * k) * rs;
            for (int j = 0; j < cols; j++) {
                double xh = (x[o + j] - m) * rs;
                double g = gamma == null ? 1 : gamma[j];
                double b = beta == null ? 0 : beta[j];
                xhat[o + j] = xh;
                y[o + j] = xh * g + b;
                boundY[o + j] = uOut * Math.abs(y[o + j]) + uAcc * k * Math.abs(g) * (1 + Math.abs(xh))
                        + uAcc * Math.abs(b);
            }
        }
    }

    static double k(int n, double mean, double rstd) {
        return 8 + 2 * Math.sqrt(n) * (1 + Math.abs(mean) * rstd);
    }

    /** Backward reference: dx, dgamma, dbeta and their bounds. */
    public final class Backward {
        public final double[] dx, dgamma, dbeta, boundDx, boundDgamma, boundDbeta;

        public Backward(double[] dy, double uOut, double uParamOut) {
            dx = new double[rows * cols];
            boundDx = new double[rows * cols];
            dgamma = new double[cols];
            dbeta = new double[cols];
            boundDgamma = new double[cols];
            boundDbeta = new double[cols];
            double[] sg = new double[cols], sb = new double[cols];
            for (int r = 0; r < rows; r++) {
                int o = r * cols;
                double c1 = 0, c2 = 0, a1 = 0, a2 = 0;
                for (int j = 0; j < cols; j++) {
                    double gdy = (gamma == null ? 1 : gamma[j]) * dy[o + j];
                    c1 += gdy;
                    c2 += gdy * xhat[o + j];
                    a1 += Math.abs(gdy);
                    a2 += Math.abs(gdy) * (1 + Math.abs(xhat[o + j]));
                    dgamma[j] += dy[o + j] * xhat[o + j];
                    dbeta[j] += dy[o + j];
                    sg[j] += Math.abs(dy[o + j]) * (1 + Math.abs(xhat[o + j]));
                    sb[j] += Math.abs(dy[o + j]);
                }
                c1 /= cols;
                c2 /= cols;
                a1 /= cols;
                a2 /= cols;
                double k = k(cols, mean[r], rstd[r]);
                for (int j = 0; j < cols; j++) {
                    double gdy = (gamma == null ? 1 : gamma[j]) * dy[o + j];
                    double xh = xhat[o + j];
                    dx[o + j] = rstd[r] * (gdy - c1 - xh * c2);
                    boundDx[o + j] = uOut * Math.abs(dx[o + j])
                            + uAcc * k * rstd[r] * (Math.abs(gdy) + a1 + (1 + Math.abs(xh)) * a2);
                }
            }
            double kr = 2 * Math.sqrt(rows);
            double kmax = 0;
            for (int r = 0; r < rows; r++) kmax = Math.max(kmax, k(cols, mean[r], rstd[r]));
            for (int j = 0; j < cols; j++) {
                boundDgamma[j] = uParamOut * Math.abs(dgamma[j]) + uAcc * (kmax + kr) * sg[j];
                boundDbeta[j] = uParamOut * Math.abs(dbeta[j]) + uAcc * (8 + kr) * sb[j];
            }
        }
    }

    /** Largest |got - ref| / bound (NaN anywhere counts as infinite); <= 1 passes. */
    public static double worstRatio(double[] got, double[] ref, double[] bound) {
        double w = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(got[i] - ref[i]);
            double q = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e / bound[i];
            if (q > w || Double.isNaN(q)) w = q;
        }
        return w;
    }

    /** Largest |got - ref|. */
    public static double maxAbsError(double[] got, double[] ref) {
        double w = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(got[i] - ref[i]);
            if (!(e <= w)) w = e;
        }
        return w;
    }
}

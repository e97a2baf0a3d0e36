package org.layernorm4j;

import java.util.Arrays;
import org.layernorm4j.internal.Backend;
import org.layernorm4j.internal.NormCall;

/**
 * The one implementation behind {@link LayerNorm} and {@link RMSNorm}: configuration, every argument check, the
 * allocation of results, and the only two places where a normalization call reaches native code
 * ({@link #callForward} and {@link #callBackward}). The public classes are thin faces that name the variants and
 * unpack their result objects into tensors for the methods here.
 *
 * <p>Checks follow one rule: each argument is checked in Java before any native call, a bad one throws
 * NullPointerException, IllegalArgumentException or IllegalStateException naming it with the expected and the
 * actual value, and no tensor is touched.
 */
final class NormCore {
    static final int NORM_LAYER = 0, NORM_RMS = 1;  // LN4J_NORM_*
    static final int FLAG_ZERO_CENTERED_GAMMA = 1, FLAG_BACKWARD_FROM_OUTPUT = 2;  // LN4J_FLAG_*
    /** Argument names of the guarded kernel calls, in CallGuard.enter order (named when closed by another thread). */
    private static final String[] FORWARD_NAMES = {"x", "residual", "gamma", "beta", "y", "residualOut", "mean", "rstd",
        null, null};
    private static final String[] BACKWARD_NAMES = {"dy", "dResidualOut", "x", "mean", "rstd", "gamma", "beta", "dx",
        "dgamma", "dbeta"};

    final long[] normalizedShape;
    final long cols;
    final double eps;
    final boolean affine;
    final boolean bias;
    final int cpuThreads;
    final boolean zeroCentered;
    final boolean rms;

    NormCore(Settings s, boolean rms) {
        this.normalizedShape = s.normalizedShape;
        this.cols = s.cols;
        this.eps = s.eps;
        this.affine = s.elementwiseAffine;
        this.bias = s.elementwiseAffine && s.bias && !rms;
        this.cpuThreads = s.cpuThreads;
        this.zeroCentered = s.zeroCentered;
        this.rms = rms;
    }

    /** The builders' shared state and validation (both norms take the same options; RMSNorm has no bias). */
    static final class Settings {
        final long[] normalizedShape;
        final long cols;
        double eps = 1e-5;
        boolean elementwiseAffine = true;
        boolean bias = true;
        int cpuThreads = 0;
        boolean zeroCentered = false;

        Settings(long[] normalizedShape) {
            if (normalizedShape == null) throw new NullPointerException("normalizedShape must not be null");
            if (normalizedShape.length == 0) {
                throw new IllegalArgumentException("normalizedShape must have at least one dim, got []");
            }
            for (long d : normalizedShape) {
                if (d <= 0) {
                    throw new IllegalArgumentException("normalizedShape dims must be >= 1, got "
                            + Arrays.toString(normalizedShape));
                }
            }
            this.normalizedShape = Shapes.intern(normalizedShape.clone());  // gamma's shape is then the same array
            this.cols = Tensor.numel("normalizedShape", this.normalizedShape);
        }

        void eps(double eps) {
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
            }
            this.eps = eps;
        }

        void cpuThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("cpuThreads must be >= 0 (0 = pool default), got " + threads);
            }
            this.cpuThreads = threads;
        }
    }

    @Override
    public String toString() {
        return (rms ? "RMSNorm(" : "LayerNorm(") + Arrays.toString(normalizedShape) + ", eps=" + eps
                + ", elementwiseAffine=" + affine + (rms ? "" : ", bias=" + bias)
                + (zeroCentered ? ", zeroCenteredGamma=true" : "") + (cpuThreads > 0 ? ", cpuThreads=" + cpuThreads : "")
                + ")";
    }

    // ---- the forward ----------------------------------------------------------------------------------------

    /**
     * Checks, then runs the forward. residual null: plain forward (residualOut must be null); residualOut null with
     * a residual: s is not kept; mean/rstd null: not written (inference).
     */
    void forward(Tensor x, Tensor residual, Tensor gamma, Tensor beta, Tensor y, Tensor residualOut, Tensor mean,
            Tensor rstd) {
        long rows = checkX("x", x);
        DType xd = x.dtype();
        checkEps(xd);
        if (residual != null) checkLike("residual", residual, x);
        DType pd = checkParams(x, gamma, beta, "gamma", "beta");
        checkLike("y", y, x);
        if (residualOut != null) {
            if (residual == null) {
                throw new IllegalArgumentException("residualOut must be null for a forward without residual (use "
                        + "forwardWithResidual, or outputs from newForwardOutputs), got " + residualOut);
            }
            checkLike("residualOut", residualOut, x);
        }
        if (mean != null) {
            if (rms) throw new IllegalArgumentException("mean must be null for RMSNorm (it has no mean), got " + mean);
            checkStats("mean", mean, x);
        }
        if (rstd != null) checkStats("rstd", rstd, x);
        if (rows == 0) return;
        callForward(rows, xd, pd, x, residual, gamma, beta, y, residualOut, mean, rstd);
    }

    /** The only place a forward reaches native code; every argument has been checked. */
    private void callForward(long rows, DType xd, DType pd, Tensor x, Tensor residual, Tensor gamma, Tensor beta,
            Tensor y, Tensor residualOut, Tensor mean, Tensor rstd) {
        Backend be = x.device().backend();
        int s;
        // the guard keeps every tensor's memory alive until the call returns (a racing close waits for it)
        CallGuard.Slot guard = CallGuard.enter(FORWARD_NAMES, x, residual, gamma, beta, y, residualOut, mean, rstd,
                null, null);
        try {
            s = be.forward(rms ? NORM_RMS : NORM_LAYER, zeroCentered ? FLAG_ZERO_CENTERED_GAMMA : 0, xd.ordinal(),
                    pd.ordinal(), rows, cols, eps, x.rawAddress(), addr(residual), addr(gamma), addr(beta),
                    y.rawAddress(), addr(residualOut), addr(mean), addr(rstd), cpuThreads);
        } finally {
            CallGuard.exit(guard, x, residual, gamma, beta, y, residualOut, mean, rstd, null, null);
        }
        if (s != 0) throw NormCall.failure(s, be.lastError());
    }

    /**
     * eps is added to the variance in the compute type (FLOAT64 for FLOAT64 data, FLOAT32 otherwise). An eps that
     * rounds to 0 or to a subnormal there (which flush-to-zero hardware reads as 0) gives rstd = 1/sqrt(0) on a
     * constant row and NaN where the exact answer is beta, so it is refused.
     */
    private void checkEps(DType xd) {
        if (xd == DType.FLOAT64) {
            if (eps < Double.MIN_NORMAL) {
                throw new IllegalArgumentException("eps " + eps + " is subnormal in FLOAT64, the compute type of FLOAT64"
                        + " x: a constant row would give NaN instead of beta; eps must be >= " + Double.MIN_NORMAL);
            }
        } else if ((float) eps < Float.MIN_NORMAL) {
            throw new IllegalArgumentException("eps " + eps + " is " + ((float) eps == 0 ? "0" : "subnormal")
                    + " in FLOAT32, the compute type of " + xd + " x: a constant row would give NaN instead of beta;"
                    + " eps must be >= " + Float.MIN_NORMAL + " for " + xd + " x (or use FLOAT64 data)");
        }
    }

    // ---- the backward ---------------------------------------------------------------------------------------

    /**
     * Checks, then runs the backward. xName names where x came from in the public call ("x", or the saved
     * tensor standing for it); dres may be null; mean is null for RMSNorm and the backward from y; dgamma/dbeta
     * null when not wanted. With no rows, dgamma/dbeta (sums over no rows) are set to zeros.
     */
    void backward(int flags, String xName, Tensor dy, Tensor dres, Tensor x, Tensor mean, Tensor rstd, Tensor gamma,
            Tensor beta, Tensor dx, Tensor dgamma, Tensor dbeta) {
        final boolean fromY = (flags & FLAG_BACKWARD_FROM_OUTPUT) != 0;
        long rows = checkX(xName, x);
        checkLike("dy", dy, x, xName);
        if (dres != null) checkLike("dResidualOut", dres, x, xName);
        if (!rms && !fromY) {
            if (mean == null) {
                throw new NullPointerException("saved.mean() must not be null in backward (the forward's mean: run the "
                        + "forward with outputs that keep the statistics)");
            }
            checkStats("saved.mean()", mean, x);
        }
        if (rstd == null) {
            throw new NullPointerException("saved.rstd() must not be null in backward (the forward's rstd: run the "
                    + "forward with outputs that keep the statistics)");
        }
        checkStats("saved.rstd()", rstd, x);
        DType pd = checkParams(x, gamma, fromY ? beta : null, "gamma", fromY ? "beta" : null);
        checkLike("dx", dx, x, xName);
        if (dgamma != null) {
            if (!affine) {
                throw new IllegalArgumentException("dgamma must be null when elementwiseAffine is false, got " + dgamma);
            }
            checkParam("dgamma", dgamma, x, pd);
        }
        if (dbeta != null) {
            if (!bias) {
                throw new IllegalArgumentException("dbeta must be null when " + (affine ? "bias" : "elementwiseAffine")
                        + " is false, got " + dbeta);
            }
            checkParam("dbeta", dbeta, x, pd);
        }
        if (rows == 0) {
            // An empty batch (the last one of a data loader): dx is empty and the parameter gradients, sums over
            // no rows, are zeros.
            zero(dgamma);
            zero(dbeta);
            return;
        }
        callBackward(rows, flags, x.dtype(), pd, dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta);
    }

    /** The only place a backward reaches native code; every argument has been checked. */
    private void callBackward(long rows, int flags, DType xd, DType pd, Tensor dy, Tensor dres, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma, Tensor beta, Tensor dx, Tensor dgamma, Tensor dbeta) {
        Backend be = x.device().backend();
        int s;
        CallGuard.Slot guard = CallGuard.enter(BACKWARD_NAMES, dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta);
        try {
            s = be.backward(rms ? NORM_RMS : NORM_LAYER, flags | (zeroCentered ? FLAG_ZERO_CENTERED_GAMMA : 0),
                    xd.ordinal(), pd.ordinal(), rows, cols, dy.rawAddress(), addr(dres), x.rawAddress(), addr(mean),
                    rstd.rawAddress(), addr(gamma), addr(beta), dx.rawAddress(), addr(dgamma), addr(dbeta),
                    cpuThreads);
        } finally {
            CallGuard.exit(guard, dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta);
        }
        // the zero-gamma rule (the only argument the native side checks that Java cannot see cheaply) has a status
        // of its own, which NormCall.failure turns into an IllegalArgumentException naming gamma and the column
        if (s != 0) throw NormCall.failure(s, be.lastError());
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.rawAddress();
    }

    /** Sets a checked, open tensor to zeros (on its device); null is skipped. */
    private static void zero(Tensor t) {
        if (t != null) t.fill(0);
    }

    // ---- results ----------------------------------------------------------------------------------------------

    /** Newly allocated forward tensors (mean null for RMSNorm, residualOut null unless asked for). */
    record ForwardTensors(Tensor y, Tensor mean, Tensor rstd, Tensor residualOut) {}

    /** Newly allocated gradient tensors (dgamma null without elementwiseAffine, dbeta null without bias). */
    record GradientTensors(Tensor dx, Tensor dgamma, Tensor dbeta) {}

    /** New forward tensors for x, on x's device. */
    ForwardTensors newForwardTensors(Tensor x, boolean withResidual) {
        checkX("x", x);
        Device dev = x.device();
        long[] statsShape = statsShape(x);
        DType sd = x.dtype().statsDType();
        Tensor[] t = new Tensor[4];
        try {
            t[0] = Tensor.empty(x.dtype(), dev, x.shapeRef());
            if (!rms) t[1] = Tensor.empty(sd, dev, statsShape);
            t[2] = Tensor.empty(sd, dev, statsShape);
            if (withResidual) t[3] = Tensor.empty(x.dtype(), dev, x.shapeRef());
            return new ForwardTensors(t[0], t[1], t[2], t[3]);
        } catch (RuntimeException | Error e) {
            closeAfterFailure(e, t);
            throw e;
        }
    }

    /** New gradient tensors for x, the parameter gradients in gamma's dtype. */
    GradientTensors newGradientTensors(Tensor x, Tensor gamma) {
        checkX("x", x);
        DType pd = x.dtype();
        if (affine) {
            if (gamma == null) {
                throw new NullPointerException("gamma must not be null when elementwiseAffine is true (dgamma takes "
                        + "its dtype)");
            }
            pd = checkParams(x, gamma, null, "gamma", null);
        } else if (gamma != null) {
            throw new IllegalArgumentException("gamma must be null when elementwiseAffine is false, got " + gamma);
        }
        Device dev = x.device();
        Tensor[] t = new Tensor[3];
        try {
            t[0] = Tensor.empty(x.dtype(), dev, x.shapeRef());
            if (affine) t[1] = Tensor.empty(pd, dev, normalizedShape);
            if (bias) t[2] = Tensor.empty(pd, dev, normalizedShape);
            return new GradientTensors(t[0], t[1], t[2]);
        } catch (RuntimeException | Error e) {
            closeAfterFailure(e, t);
            throw e;
        }
    }

    /**
     * The allocating calls: runs {@code call} on new outputs and returns them, or closes them and rethrows when the
     * call fails (a refused call leaves nothing allocated).
     */
    static <T extends AutoCloseable> T allocating(T out, java.util.function.Consumer<T> call) {
        try {
            call.accept(out);
            return out;
        } catch (RuntimeException | Error e) {
            closeAfterFailure(e, out);
            throw e;
        }
    }

    private static void closeAfterFailure(Throwable e, AutoCloseable... t) {
        try {
            closeAll(t);
        } catch (RuntimeException | Error c) {
            e.addSuppressed(c);
        }
    }

    /**
     * Closes every non-null resource even when some close throws; then rethrows the first failure with the later
     * ones suppressed. Used by every result's close().
     */
    static void closeAll(AutoCloseable... resources) {
        Throwable first = null;
        for (AutoCloseable r : resources) {
            if (r == null) continue;
            try {
                r.close();
            } catch (Throwable e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (first instanceof RuntimeException) throw (RuntimeException) first;
        if (first instanceof Error) throw (Error) first;
        if (first != null) throw new IllegalStateException("close failed", first);
    }

    // ---- checks -------------------------------------------------------------------------------------------------

    /** Checks x against normalizedShape and returns the row count. */
    long checkX(String name, Tensor x) {
        if (x == null) throw new NullPointerException(name + " must not be null");
        x.checkOpen(name);
        long[] s = x.shapeRef();
        int k = normalizedShape.length;
        int off = s.length - k;
        if (off < 0) throw trailing(name, x);
        for (int i = 0; i < k; i++) if (s[off + i] != normalizedShape[i]) throw trailing(name, x);
        return x.numel() / cols;
    }

    private IllegalArgumentException trailing(String name, Tensor x) {
        return new IllegalArgumentException(name + ": trailing dims of shape " + Arrays.toString(x.shapeRef())
                + " must equal normalizedShape " + Arrays.toString(normalizedShape));
    }

    /** Checks gamma/beta presence, shape, dtype, device; returns the param dtype to pass to native code. */
    private DType checkParams(Tensor x, Tensor gamma, Tensor beta, String gName, String bName) {
        DType xd = x.dtype();
        if (!affine) {
            if (gamma != null) {
                throw new IllegalArgumentException(gName + " must be null when elementwiseAffine is false, got " + gamma);
            }
            if (beta != null) {
                throw new IllegalArgumentException(bName + " must be null when elementwiseAffine is false, got " + beta);
            }
            return xd;
        }
        if (gamma == null) throw new NullPointerException(gName + " must not be null when elementwiseAffine is true");
        gamma.checkOpen(gName);
        DType pd = gamma.dtype();
        if (!xd.acceptsParamDType(pd)) {
            throw new IllegalArgumentException(gName + " dtype must be " + xd + (xd.size() == 2 ? " or FLOAT32" : "")
                    + " for x of " + xd + ", got " + pd);
        }
        checkParam(gName, gamma, x, pd);
        if (bName != null) {
            if (bias) {
                if (beta == null) throw new NullPointerException(bName + " must not be null when bias is true");
                checkParam(bName, beta, x, pd);
            } else if (beta != null) {
                throw new IllegalArgumentException(bName + " must be null when bias is false, got " + beta);
            }
        }
        return pd;
    }

    private void checkParam(String name, Tensor t, Tensor x, DType pd) {
        t.checkOpen(name);
        if (t.dtype() != pd) {
            throw new IllegalArgumentException(name + " dtype must be " + pd + " (the dtype of gamma), got " + t.dtype());
        }
        if (!Arrays.equals(t.shapeRef(), normalizedShape)) {
            throw new IllegalArgumentException(name + " shape must be normalizedShape " + Arrays.toString(normalizedShape)
                    + ", got " + Arrays.toString(t.shapeRef()));
        }
        checkDevice(name, t, x);
    }

    private static void checkDevice(String name, Tensor t, Tensor x) {
        if (t.device() != x.device() && !t.device().equals(x.device())) {
            throw new IllegalArgumentException(name + " is on " + t.device() + " but x is on " + x.device()
                    + ": all tensors of a call must be on one device");
        }
    }

    /** t must be open with x's shape, dtype and device. */
    private static void checkLike(String name, Tensor t, Tensor x) {
        checkLike(name, t, x, "x");
    }

    /** t must be open with the shape, dtype and device of x, which the public call knows as xName. */
    private static void checkLike(String name, Tensor t, Tensor x, String xName) {
        if (t == null) throw new NullPointerException(name + " must not be null");
        t.checkOpen(name);
        if (t.dtype() != x.dtype()) {
            throw new IllegalArgumentException(name + " dtype must be " + x.dtype() + " (the dtype of " + xName
                    + "), got " + t.dtype());
        }
        if (t != x && !Arrays.equals(t.shapeRef(), x.shapeRef())) {
            throw new IllegalArgumentException(name + " shape must be " + Arrays.toString(x.shapeRef())
                    + " (the shape of " + xName + "), got " + Arrays.toString(t.shapeRef()));
        }
        checkDevice(name, t, x);
    }

    private void checkStats(String name, Tensor t, Tensor x) {
        t.checkOpen(name);
        DType sd = x.dtype().statsDType();
        if (t.dtype() != sd) {
            throw new IllegalArgumentException(name + " dtype must be " + sd + " for x of " + x.dtype() + ", got "
                    + t.dtype());
        }
        long[] s = t.shapeRef();
        long[] xs = x.shapeRef();
        int r = xs.length - normalizedShape.length;
        boolean ok = s.length == r;
        for (int i = 0; ok && i < r; i++) ok = s[i] == xs[i];
        if (!ok) {
            throw new IllegalArgumentException(name + " shape must be " + Arrays.toString(Arrays.copyOf(xs, r))
                    + " (x's shape without the normalized dims), got " + Arrays.toString(s));
        }
        checkDevice(name, t, x);
    }

    /** Shape of mean/rstd for x: x's shape without the normalized dims. */
    long[] statsShape(Tensor x) {
        checkX("x", x);
        return Arrays.copyOf(x.shapeRef(), x.rank() - normalizedShape.length);
    }

    /** The saved forward must not be null. */
    static void requireSaved(Object saved) {
        if (saved == null) throw new NullPointerException("saved must not be null (the result of the forward)");
    }

    /** The outputs object must not be null. */
    static void requireOut(Object out) {
        if (out == null) {
            throw new NullPointerException("out must not be null (preallocate it once with newForwardOutputs / "
                    + "newBackwardOutputs, or use its builder)");
        }
    }
}

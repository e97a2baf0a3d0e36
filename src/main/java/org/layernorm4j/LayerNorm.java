package org.layernorm4j;

import java.util.Arrays;
import org.layernorm4j.internal.Backend;
import org.layernorm4j.internal.CpuBackend;

/**
 * Layer normalization (Ba, Kiros, Hinton 2016) over the trailing {@code normalizedShape} dims of x, as
 * PyTorch's {@code torch.nn.LayerNorm}: for each row of {@code cols = prod(normalizedShape)} elements,
 * <pre>
 *   mean = sum(x) / cols,  var = sum((x - mean)^2) / cols,  rstd = 1 / sqrt(var + eps)
 *   y = (x - mean) * rstd * gamma + beta
 * </pre>
 * x of shape [2,3,2,4] with normalizedShape [2,4] is 6 rows of 8; mean and rstd have shape [2,3] (x's shape
 * without the normalized dims, [] when x's shape equals normalizedShape).
 *
 * <p><b>Configuration.</b> {@code LayerNorm.builder(768).eps(1e-5).elementwiseAffine(true).bias(true)
 * .cpuThreads(0).build()}; the object is immutable and thread-safe. gamma/beta are required when
 * elementwiseAffine is on (beta only with bias), and must be null otherwise.
 *
 * <p><b>Dtypes.</b> gamma/beta (and dgamma/dbeta) have x's dtype, or FLOAT32 when x is BFLOAT16/FLOAT16. mean
 * and rstd are FLOAT64 for FLOAT64 x, FLOAT32 otherwise. All tensors must be on one device; the call runs there.
 *
 * <p><b>Calls.</b> {@link #forward(Tensor, Tensor, Tensor)} and {@link #backward(Tensor, Tensor, Forward, Tensor)}
 * allocate their results (close them); the into-outputs forms write caller-provided tensors and allocate nothing
 * (mean/rstd may be null for an inference forward; dgamma/dbeta may be null when not wanted). Every argument is
 * checked in Java first: a bad one throws NullPointerException, IllegalArgumentException or IllegalStateException
 * naming the argument, the expected and the actual value, and no memory is touched. A native failure after the
 * checks throws {@link LayerNormException}.
 *
 * <p><b>CPU options.</b> System property {@code layernorm4j.cpu.isa} = {@code scalar|avx2|avx512|auto} forces an
 * ISA path (read on every call); {@code layernorm4j.cpu.threads} = default thread count (read once), also settable
 * with {@link #setDefaultCpuThreads(int)}; {@link Builder#cpuThreads(int)} caps one LayerNorm's threads. Results
 * are bitwise identical for every thread count.
 */
public final class LayerNorm {
    private final long[] normalizedShape;
    private final long cols;
    private final double eps;
    private final boolean affine;
    private final boolean bias;
    private final int cpuThreads;
    private final boolean zeroCentered;
    private final int norm;  // LN4J_NORM_LAYER (0) or LN4J_NORM_RMS (1, used by RMSNorm)

    static final int FLAG_ZERO_CENTERED_GAMMA = 1, FLAG_BACKWARD_FROM_OUTPUT = 2;  // LN4J_FLAG_*
    /** Argument names of the guarded kernel calls, in CallGuard.enter order (named when closed by another thread). */
    private static final String[] FORWARD_NAMES = {"x", "residual", "gamma", "beta", "y", "residualOut", "mean", "rstd",
        null, null};
    private static final String[] BACKWARD_NAMES = {"dy", "dResidualOut", "x", "mean", "rstd", "gamma", "beta", "dx",
        "dgamma", "dbeta"};

    private LayerNorm(Builder b) {
        this.normalizedShape = b.normalizedShape;
        this.cols = b.cols;
        this.eps = b.eps;
        this.affine = b.elementwiseAffine;
        this.bias = b.elementwiseAffine && b.bias;
        this.cpuThreads = b.cpuThreads;
        this.zeroCentered = b.zeroCentered;
        this.norm = b.rms ? 1 : 0;
    }

    /**
     * A builder for a layer norm over trailing dims {@code normalizedShape} (at least one dim, each >= 1, product
     * fitting a long).
     */
    public static Builder builder(long... normalizedShape) {
        return new Builder(normalizedShape);
    }

    /** Builder of {@link LayerNorm}; defaults eps 1e-5, elementwiseAffine true, bias true, cpuThreads 0. */
    public static final class Builder {
        private final long[] normalizedShape;
        private final long cols;
        private double eps = 1e-5;
        private boolean elementwiseAffine = true;
        private boolean bias = true;
        private int cpuThreads = 0;
        private boolean zeroCentered = false;
        boolean rms = false;  // set by RMSNorm.Builder

        private Builder(long[] normalizedShape) {
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
            this.normalizedShape = normalizedShape.clone();
            this.cols = Tensor.numel("normalizedShape", this.normalizedShape);
        }

        /** Added to the variance; must be finite and > 0 (default 1e-5). */
        public Builder eps(double eps) {
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
            }
            this.eps = eps;
            return this;
        }

        /** Whether gamma (and beta with {@link #bias}) are applied (default true). */
        public Builder elementwiseAffine(boolean on) {
            this.elementwiseAffine = on;
            return this;
        }

        /** Whether beta is added when elementwiseAffine is on (default true). */
        public Builder bias(boolean on) {
            this.bias = on;
            return this;
        }

        /** Most threads a CPU call uses; 0 (default) = the pool default. */
        public Builder cpuThreads(int threads) {
            if (threads < 0) throw new IllegalArgumentException("cpuThreads must be >= 0 (0 = pool default), got " + threads);
            this.cpuThreads = threads;
            return this;
        }

        /**
         * Applies gamma as {@code (1 + gamma)} (zero-centred weights, as in Gemma): gamma initialised to zeros is the
         * identity scale. dgamma keeps its meaning (the gradient with respect to the stored gamma). Default false.
         */
        public Builder zeroCenteredGamma(boolean on) {
            this.zeroCentered = on;
            return this;
        }

        public LayerNorm build() {
            return new LayerNorm(this);
        }
    }

    // ---- configuration --------------------------------------------------------------------------------------

    public long[] normalizedShape() {
        return normalizedShape.clone();
    }

    /** Elements per row (product of normalizedShape). */
    public long cols() {
        return cols;
    }

    public double eps() {
        return eps;
    }

    public boolean elementwiseAffine() {
        return affine;
    }

    /** True when beta is used (elementwiseAffine and bias). */
    public boolean bias() {
        return bias;
    }

    public int cpuThreads() {
        return cpuThreads;
    }

    /** True when gamma is applied as (1 + gamma). */
    public boolean zeroCenteredGamma() {
        return zeroCentered;
    }

    private boolean rms() {
        return norm == 1;
    }

    /** Sets the CPU pool's default thread count (0 = available processors); overrides layernorm4j.cpu.threads. */
    public static void setDefaultCpuThreads(int threads) {
        CpuBackend.setDefaultThreads(threads);
    }

    /** The CPU pool's default thread count. */
    public static int defaultCpuThreads() {
        return CpuBackend.defaultThreads();
    }

    @Override
    public String toString() {
        return (rms() ? "RMSNorm(" : "LayerNorm(") + Arrays.toString(normalizedShape) + ", eps=" + eps
                + ", elementwiseAffine=" + affine + (rms() ? "" : ", bias=" + bias)
                + (zeroCentered ? ", zeroCenteredGamma=true" : "") + (cpuThreads > 0 ? ", cpuThreads=" + cpuThreads : "")
                + ")";
    }

    // ---- results ----------------------------------------------------------------------------------------------

    /**
     * Result of a forward: y, mean (null for RMSNorm), rstd, and for the fused residual forward
     * {@link #residualOut()} = x + residual; close() closes them all.
     */
    public static final class Forward implements AutoCloseable {
        private final Tensor output, mean, rstd, residualOut;

        Forward(Tensor output, Tensor mean, Tensor rstd, Tensor residualOut) {
            this.output = output;
            this.mean = mean;
            this.rstd = rstd;
            this.residualOut = residualOut;
        }

        /** s = x + residual of the fused forward (the next block's residual, and the backward's input); else null. */
        public Tensor residualOut() {
            return residualOut;
        }

        public Tensor output() {
            return output;
        }

        public Tensor mean() {
            return mean;
        }

        public Tensor rstd() {
            return rstd;
        }

        @Override
        public void close() {
            output.close();
            if (mean != null) mean.close();
            rstd.close();
            if (residualOut != null) residualOut.close();
        }
    }

    /** Result of {@link #backward(Tensor, Tensor, Forward, Tensor)}; gamma()/beta() are null when absent. */
    public static final class Gradients implements AutoCloseable {
        private final Tensor input, gamma, beta;

        Gradients(Tensor input, Tensor gamma, Tensor beta) {
            this.input = input;
            this.gamma = gamma;
            this.beta = beta;
        }

        /** dx. */
        public Tensor input() {
            return input;
        }

        /** dgamma (null without elementwiseAffine). */
        public Tensor gamma() {
            return gamma;
        }

        /** dbeta (null without bias). */
        public Tensor beta() {
            return beta;
        }

        @Override
        public void close() {
            input.close();
            if (gamma != null) gamma.close();
            if (beta != null) beta.close();
        }
    }

    // ---- allocating calls -------------------------------------------------------------------------------------

    /** Forward into new tensors y (x's shape), mean and rstd (x's shape without the normalized dims). */
    public Forward forward(Tensor x, Tensor gamma, Tensor beta) {
        return forwardAllocating(x, null, gamma, beta);
    }

    /**
     * Fused residual forward (pre-norm transformer blocks): normalizes {@code s = x + residual} in the same pass and
     * returns s as {@link Forward#residualOut()} (so the next block's residual is never re-read). residual: x's
     * shape and dtype. The backward of this forward is {@link #backward(Tensor, Tensor, Tensor, Forward, Tensor)}
     * with s in place of x.
     */
    public Forward forward(Tensor x, Tensor residual, Tensor gamma, Tensor beta) {
        if (residual == null) throw new NullPointerException("residual must not be null (use forward(x, gamma, beta))");
        return forwardAllocating(x, residual, gamma, beta);
    }

    Forward forwardAllocating(Tensor x, Tensor residual, Tensor gamma, Tensor beta) {
        checkX("x", x);
        Device dev = x.device();
        long[] statsShape = statsShape(x);
        Tensor y = null, mean = null, rstd = null, sOut = null;
        try {
            y = Tensor.empty(x.dtype(), dev, x.shapeRef());
            if (!rms()) mean = Tensor.empty(x.dtype().statsDType(), dev, statsShape);
            rstd = Tensor.empty(x.dtype().statsDType(), dev, statsShape);
            if (residual != null) sOut = Tensor.empty(x.dtype(), dev, x.shapeRef());
            forward(x, residual, gamma, beta, y, sOut, mean, rstd);
            return new Forward(y, mean, rstd, sOut);
        } catch (RuntimeException | Error e) {
            for (Tensor t : new Tensor[] {y, mean, rstd, sOut}) if (t != null) t.close();
            throw e;
        }
    }

    /** Backward into new tensors dx, dgamma (when affine), dbeta (when bias), from the forward's saved stats. */
    public Gradients backward(Tensor dy, Tensor x, Forward saved, Tensor gamma) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return backwardAllocating(dy, null, x, saved.mean(), saved.rstd(), gamma, null, 0);
    }

    /**
     * Backward of the fused residual forward: {@code s} is the forward's {@link Forward#residualOut()};
     * dResidualOut (may be null) is the gradient flowing into s from later blocks and is added to dx. The returned
     * input() is d(x) = d(residual).
     */
    public Gradients backward(Tensor dy, Tensor dResidualOut, Tensor s, Forward saved, Tensor gamma) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return backwardAllocating(dy, dResidualOut, s, saved.mean(), saved.rstd(), gamma, null, 0);
    }

    /**
     * Memory-saving backward: rebuilds xhat = (y - beta) / g' from the forward's output y (g' = gamma, or 1 + gamma
     * when zero-centred), so x need not be kept after the forward (as Apex's memory-efficient layer norm); only
     * saved.rstd() is read. <b>Zero-gamma rule:</b> where g' is exactly 0, y equals beta whatever x was, so xhat —
     * which dx and dgamma both need — cannot be rebuilt: the call throws IllegalArgumentException naming gamma and
     * the first such column, and writes nothing. Use {@link #backward(Tensor, Tensor, Forward, Tensor)} (exact for
     * any gamma) there.
     */
    public Gradients backwardFromOutput(Tensor dy, Tensor y, Forward saved, Tensor gamma, Tensor beta) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return backwardAllocating(dy, null, y, null, saved.rstd(), gamma, beta, FLAG_BACKWARD_FROM_OUTPUT);
    }

    Gradients backwardAllocating(Tensor dy, Tensor dres, Tensor x, Tensor mean, Tensor rstd, Tensor gamma,
            Tensor beta, int flags) {
        checkX("x", x);
        Device dev = x.device();
        DType pd = gamma != null ? gamma.dtype() : x.dtype();
        Tensor dx = null, dgamma = null, dbeta = null;
        try {
            dx = Tensor.empty(x.dtype(), dev, x.shapeRef());
            if (affine) dgamma = Tensor.empty(pd, dev, normalizedShape);
            if (bias) dbeta = Tensor.empty(pd, dev, normalizedShape);
            backwardInto(dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta, flags);
            return new Gradients(dx, dgamma, dbeta);
        } catch (RuntimeException | Error e) {
            if (dx != null) dx.close();
            if (dgamma != null) dgamma.close();
            if (dbeta != null) dbeta.close();
            throw e;
        }
    }

    // ---- into-outputs calls -----------------------------------------------------------------------------------

    /**
     * Forward into caller-provided tensors. y: x's shape and dtype; mean, rstd (each may be null): stats shape and
     * dtype. Allocates nothing.
     */
    public void forward(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd) {
        forward(x, null, gamma, beta, y, null, mean, rstd);
    }

    /**
     * Forward into caller-provided tensors, with an optional fused residual: when residual is not null the call
     * normalizes s = x + residual and writes s to residualOut (may be null: s not kept). residualOut must be null
     * without residual. Allocates nothing.
     */
    public void forward(Tensor x, Tensor residual, Tensor gamma, Tensor beta, Tensor y, Tensor residualOut, Tensor mean,
            Tensor rstd) {
        long rows = checkX("x", x);
        DType xd = x.dtype();
        Device dev = x.device();
        if (residual != null) checkLike("residual", residual, x, xd, dev);
        DType pd = checkParams(x, gamma, beta, "gamma", "beta");
        checkLike("y", y, x, xd, dev);
        if (residualOut != null) {
            if (residual == null) throw new IllegalArgumentException("residualOut must be null without residual, got " + residualOut);
            checkLike("residualOut", residualOut, x, xd, dev);
        }
        if (mean != null) {
            if (rms()) throw new IllegalArgumentException("mean must be null for RMSNorm (it has no mean), got " + mean);
            checkStats("mean", mean, x);
        }
        if (rstd != null) checkStats("rstd", rstd, x);
        if (rows == 0) return;
        Backend be = dev.backend();
        int s;
        CallGuard.Slot guard = CallGuard.enter(FORWARD_NAMES, x, residual, gamma, beta, y, residualOut, mean, rstd,
                null, null);
        try {
            s = be.forward(cpuThreads, norm, zeroCentered ? FLAG_ZERO_CENTERED_GAMMA : 0, xd.ordinal(), pd.ordinal(),
                    rows, cols, eps, x.rawAddress(), addr(residual), addr(gamma), addr(beta), y.rawAddress(),
                    addr(residualOut), addr(mean), addr(rstd));
        } finally {
            CallGuard.exit(guard, x, residual, gamma, beta, y, residualOut, mean, rstd, null, null);
        }
        if (s != 0) throw new LayerNormException(s, be.lastError());
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.rawAddress();
    }

    /**
     * Backward into caller-provided tensors. dy, dx: x's shape and dtype; mean, rstd: as the forward wrote them
     * (required; mean null for RMSNorm); dgamma, dbeta: normalizedShape and the param dtype, or null when not wanted
     * (must be null when elementwiseAffine / bias is off). Allocates nothing.
     */
    public void backward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor gamma, Tensor dx, Tensor dgamma,
            Tensor dbeta) {
        backwardInto(dy, null, x, mean, rstd, gamma, null, dx, dgamma, dbeta, 0);
    }

    /** Backward of the fused residual forward into caller tensors: x slot = s, dResidualOut (may be null) added to dx. */
    public void backward(Tensor dy, Tensor dResidualOut, Tensor s, Tensor mean, Tensor rstd, Tensor gamma, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        backwardInto(dy, dResidualOut, s, mean, rstd, gamma, null, dx, dgamma, dbeta, 0);
    }

    /**
     * Memory-saving backward into caller tensors (see {@link #backwardFromOutput(Tensor, Tensor, Forward, Tensor,
     * Tensor)}): y is the forward's output, rstd its rstd; beta as given to the forward (null without bias).
     */
    public void backwardFromOutput(Tensor dy, Tensor y, Tensor rstd, Tensor gamma, Tensor beta, Tensor dx, Tensor dgamma,
            Tensor dbeta) {
        backwardInto(dy, null, y, null, rstd, gamma, beta, dx, dgamma, dbeta, FLAG_BACKWARD_FROM_OUTPUT);
    }

    void backwardInto(Tensor dy, Tensor dres, Tensor x, Tensor mean, Tensor rstd, Tensor gamma, Tensor beta, Tensor dx,
            Tensor dgamma, Tensor dbeta, int flags) {
        final boolean fromY = (flags & FLAG_BACKWARD_FROM_OUTPUT) != 0;
        final String xName = fromY ? "y" : "x";
        long rows = checkX(xName, x);
        DType xd = x.dtype();
        Device dev = x.device();
        checkLike("dy", dy, x, xd, dev);
        if (dres != null) checkLike("dResidualOut", dres, x, xd, dev);
        if (!rms() && !fromY) {
            if (mean == null) throw new NullPointerException("mean must not be null in backward (the forward's mean)");
            checkStats("mean", mean, x);
        } else if (mean != null) {
            throw new IllegalArgumentException("mean must be null " + (fromY ? "in the backward from y" : "for RMSNorm")
                    + ", got " + mean);
        }
        if (rstd == null) throw new NullPointerException("rstd must not be null in backward (the forward's rstd)");
        checkStats("rstd", rstd, x);
        DType pd = checkParams(x, gamma, fromY ? beta : null, "gamma", fromY ? "beta" : null);
        checkLike("dx", dx, x, xd, dev);
        if (dgamma != null) {
            if (!affine) throw new IllegalArgumentException("dgamma must be null when elementwiseAffine is false, got " + dgamma);
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
            if (dgamma != null || dbeta != null) {
                throw new IllegalArgumentException(xName + " " + x + " has no rows: dgamma/dbeta would be all zeros; pass null");
            }
            return;
        }
        Backend be = dev.backend();
        int s;
        CallGuard.Slot guard = CallGuard.enter(BACKWARD_NAMES, dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta);
        try {
            s = be.backward(cpuThreads, norm, flags | (zeroCentered ? FLAG_ZERO_CENTERED_GAMMA : 0), xd.ordinal(),
                    pd.ordinal(), rows, cols, dy.rawAddress(), addr(dres), x.rawAddress(), addr(mean), rstd.rawAddress(),
                    addr(gamma), addr(beta), dx.rawAddress(), addr(dgamma), addr(dbeta));
        } finally {
            CallGuard.exit(guard, dy, dres, x, mean, rstd, gamma, beta, dx, dgamma, dbeta);
        }
        if (s == LayerNormException.INVALID_ARGUMENT && fromY) {
            // the zero-gamma rule (the only argument the native side checks that Java cannot see cheaply)
            throw new IllegalArgumentException("gamma: " + be.lastError());
        }
        if (s != 0) throw new LayerNormException(s, be.lastError());
    }

    // ---- checks (LWJGL Checks style: before any native call) ---------------------------------------------------

    /** Checks x against normalizedShape and returns the row count. */
    private long checkX(String name, Tensor x) {
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

    private static void checkLike(String name, Tensor t, Tensor x, DType xd, Device dev) {
        if (t == null) throw new NullPointerException(name + " must not be null");
        t.checkOpen(name);
        if (t.dtype() != xd) {
            throw new IllegalArgumentException(name + " dtype must be " + xd + " (the dtype of x), got " + t.dtype());
        }
        if (t != x && !Arrays.equals(t.shapeRef(), x.shapeRef())) {
            throw new IllegalArgumentException(name + " shape must be " + Arrays.toString(x.shapeRef())
                    + " (the shape of x), got " + Arrays.toString(t.shapeRef()));
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
    public long[] statsShape(Tensor x) {
        checkX("x", x);
        return Arrays.copyOf(x.shapeRef(), x.rank() - normalizedShape.length);
    }
}

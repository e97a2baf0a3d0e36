package org.layernorm4j;

import java.util.List;
import org.layernorm4j.internal.CpuBackend;
import org.layernorm4j.internal.NativeCpu;

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
 * <p><b>Calls.</b> Two directions, each a plain call and named variants:
 * <ul>
 *   <li>{@link #forward(Tensor, Tensor, Tensor)} returns a new {@link Forward} (y, mean, rstd; close it), and
 *       {@link #forward(Tensor, Tensor, Tensor, Forward)} writes into outputs preallocated once with
 *       {@link #newForwardOutputs(Tensor)} (allocates nothing: use it in loops);
 *   <li>{@link #backward(Tensor, Forward, Tensor, Tensor)} returns new {@link Gradients} (dx, dgamma, dbeta), and
 *       {@link #backward(Tensor, Forward, Tensor, Tensor, Gradients)} writes into outputs from
 *       {@link #newBackwardOutputs(Tensor, Tensor)};
 *   <li>the variants write into outputs: {@link #forwardWithResidual} (fused residual add),
 *       {@link #backwardWithResidual} (its backward) and {@link #backwardFromOutput} (memory-saving backward from
 *       y).
 * </ul>
 * The statistics never travel by position: the backward reads them from the forward's result ({@code saved}).
 * Outputs made from your own tensors (wrapped memory, or y only for inference) come from {@link Forward#builder()}
 * and {@link Gradients#builder()}.
 *
 * <p><b>Dtypes.</b> gamma/beta (and dgamma/dbeta) have x's dtype, or FLOAT32 when x is BFLOAT16/FLOAT16. mean
 * and rstd are FLOAT64 for FLOAT64 x, FLOAT32 otherwise. All tensors must be on one device; the call runs there.
 * eps is added in the compute type (FLOAT64 for FLOAT64 x, FLOAT32 otherwise) and must be a normal number there
 * (at least 1.18e-38 for FLOAT32): a smaller one is refused, since a constant row would give NaN instead of beta.
 *
 * <p><b>Checks.</b> Every argument is checked in Java first: a bad one throws NullPointerException,
 * IllegalArgumentException or IllegalStateException naming the argument, the expected and the actual value, and no
 * memory is touched. A native failure after the checks throws {@link LayerNormException}.
 *
 * <p><b>CPU options.</b> System property {@code layernorm4j.cpu.isa} = {@code scalar|avx2|avx512|auto} forces an
 * ISA path (read on every call); {@code layernorm4j.cpu.threads} = default thread count (read once), also settable
 * with {@link #setDefaultCpuThreads(int)}; {@link Builder#cpuThreads(int)} caps one LayerNorm's threads. Results
 * are bitwise identical for every thread count.
 */
public final class LayerNorm {
    private final NormCore core;

    private LayerNorm(NormCore core) {
        this.core = core;
    }

    /**
     * A builder for a layer norm over trailing dims {@code normalizedShape} (at least one dim, each >= 1, product
     * fitting a long).
     *
     * @param normalizedShape the trailing dims normalized over
     * @return a new builder
     */
    public static Builder builder(long... normalizedShape) {
        return new Builder(normalizedShape);
    }

    /** Builder of {@link LayerNorm}; defaults eps 1e-5, elementwiseAffine true, bias true, cpuThreads 0. */
    public static final class Builder {
        private final NormCore.Settings s;

        private Builder(long[] normalizedShape) {
            s = new NormCore.Settings(normalizedShape);
        }

        /**
         * Added to the variance; must be finite and > 0 (default 1e-5), and normal in the compute type (above).
         *
         * @param eps added to the variance (mean square for RMSNorm)
         * @return this builder
         */
        public Builder eps(double eps) {
            s.eps(eps);
            return this;
        }

        /**
         * Whether gamma (and beta with {@link #bias}) are applied (default true).
         *
         * @param on true to turn it on
         * @return this builder
         */
        public Builder elementwiseAffine(boolean on) {
            s.elementwiseAffine = on;
            return this;
        }

        /**
         * Whether beta is added when elementwiseAffine is on (default true).
         *
         * @param on true to turn it on
         * @return this builder
         */
        public Builder bias(boolean on) {
            s.bias = on;
            return this;
        }

        /**
         * Most threads a CPU call uses; 0 (default) = the pool default.
         *
         * @param threads thread count (0: the default)
         * @return this builder
         */
        public Builder cpuThreads(int threads) {
            s.cpuThreads(threads);
            return this;
        }

        /**
         * Applies gamma as {@code (1 + gamma)} (zero-centred weights, as in Gemma): gamma initialised to zeros is the
         * identity scale. dgamma keeps its meaning (the gradient with respect to the stored gamma). Default false.
         *
         * @param on true to turn it on
         * @return this builder
         */
        public Builder zeroCenteredGamma(boolean on) {
            s.zeroCentered = on;
            return this;
        }

        /**
         * Builds the configured object.
         *
         * @return the configured object
         */
        public LayerNorm build() {
            return new LayerNorm(new NormCore(s, false));
        }
    }

    // ---- configuration --------------------------------------------------------------------------------------

    /**
     * The normalized (trailing) dims.
     *
     * @return a copy of the normalized dims
     */
    public long[] normalizedShape() {
        return core.normalizedShape.clone();
    }

    /**
     * Elements per row (product of normalizedShape).
     *
     * @return elements per row
     */
    public long cols() {
        return core.cols;
    }

    /**
     * The eps added to the variance.
     *
     * @return eps
     */
    public double eps() {
        return core.eps;
    }

    /**
     * Whether gamma (and beta) are applied.
     *
     * @return whether gamma (and beta) are applied
     */
    public boolean elementwiseAffine() {
        return core.affine;
    }

    /**
     * True when beta is used (elementwiseAffine and bias).
     *
     * @return whether beta is applied
     */
    public boolean bias() {
        return core.bias;
    }

    /**
     * The most threads a CPU call uses (0: the pool default).
     *
     * @return the most threads a CPU call uses (0: the pool default)
     */
    public int cpuThreads() {
        return core.cpuThreads;
    }

    /**
     * True when gamma is applied as (1 + gamma).
     *
     * @return whether gamma is applied as (1 + gamma)
     */
    public boolean zeroCenteredGamma() {
        return core.zeroCentered;
    }

    /**
     * Shape of mean/rstd for x: x's shape without the normalized dims.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return x's shape without the normalized dims
     */
    public long[] statsShape(Tensor x) {
        return core.statsShape(x);
    }

    /**
     * Sets the CPU pool's default thread count (0 = available processors); overrides layernorm4j.cpu.threads.
     *
     * @param threads thread count (0: the default)
     */
    public static void setDefaultCpuThreads(int threads) {
        CpuBackend.setDefaultThreads(threads);
    }

    /**
     * The CPU pool's default thread count.
     *
     * @return the default thread count
     */
    public static int defaultCpuThreads() {
        return CpuBackend.defaultThreads();
    }

    /** System property that forces a CPU ISA path: {@code scalar|avx2|avx512|auto}, read on every call. */
    public static final String CPU_ISA_PROPERTY = CpuBackend.ISA_PROPERTY;

    /**
     * Version of the native library, e.g. {@code "0.1.0"}.
     *
     * @return the version
     */
    public static String version() {
        return NativeCpu.ln4j_version();
    }

    /**
     * This CPU's model name as the native library reads it.
     *
     * @return the CPU model
     */
    public static String cpuModel() {
        return NativeCpu.ln4j_cpu_model();
    }

    /**
     * The CPU ISA path calls use now: the one {@link #CPU_ISA_PROPERTY} forces, else the best of this CPU.
     *
     * @return the ISA path name
     */
    public static String cpuIsa() {
        return CpuBackend.activeIsaName();
    }

    /**
     * The CPU ISA paths this CPU runs, in increasing order (e.g. {@code [scalar, avx2, avx512]}).
     *
     * @return the ISA path names
     */
    public static List<String> supportedCpuIsas() {
        return List.copyOf(CpuBackend.supportedIsaNames());
    }

    @Override
    public String toString() {
        return core.toString();
    }

    // ---- results and outputs ----------------------------------------------------------------------------------

    /**
     * The tensors of a forward: {@link #output()} y, {@link #mean()}, {@link #rstd()} and, after
     * {@link #forwardWithResidual}, {@link #residualOut()} s = x + residual. A forward returns one (it owns new
     * tensors), or writes into one you preallocated ({@link #newForwardOutputs}, {@link #newForwardWithResidualOutputs}
     * or {@link #builder()}); a backward reads the statistics from it. {@link #close()} closes every tensor it holds,
     * even when one close throws.
     */
    public static final class Forward implements AutoCloseable {
        private final Tensor output, mean, rstd, residualOut;

        private Forward(Tensor output, Tensor mean, Tensor rstd, Tensor residualOut) {
            this.output = output;
            this.mean = mean;
            this.rstd = rstd;
            this.residualOut = residualOut;
        }

        private Forward(NormCore.ForwardTensors t) {
            this(t.y(), t.mean(), t.rstd(), t.residualOut());
        }

        /**
         * A builder of forward outputs over your own tensors (each named; mean, rstd and residualOut optional).
         *
         * @return a new builder
         */
        public static Builder builder() {
            return new Builder();
        }

        /**
         * y, x's shape and dtype.
         *
         * @return y
         */
        public Tensor output() {
            return output;
        }

        /**
         * Per-row mean (stats shape and dtype), or null when these outputs do not keep it.
         *
         * @return the per-row mean, or null
         */
        public Tensor mean() {
            return mean;
        }

        /**
         * Per-row rstd = 1/sqrt(var + eps), or null when these outputs do not keep it.
         *
         * @return the per-row rstd, or null
         */
        public Tensor rstd() {
            return rstd;
        }

        /**
         * s = x + residual of {@link LayerNorm#forwardWithResidual} (the next block's residual); else null.
         *
         * @return s = x + residual, or null
         */
        public Tensor residualOut() {
            return residualOut;
        }

        /** Closes every tensor held, even when one close throws (the first failure is rethrown). */
        @Override
        public void close() {
            NormCore.closeAll(output, mean, rstd, residualOut);
        }

        /**
         * Forward outputs over tensors you own: y (required); mean and rstd (null: not written, as for inference;
         * the backward needs them); residualOut (only for {@link LayerNorm#forwardWithResidual}; null: s not
         * kept). Shapes, dtypes and devices are checked by the call that writes them.
         */
        public static final class Builder {
            private Tensor output, mean, rstd, residualOut;

            private Builder() {}

            /**
             * Sets y.
             *
             * @param y y, x's shape and dtype
             * @return this builder
             */
            public Builder output(Tensor y) {
                this.output = y;
                return this;
            }

            /**
             * Sets mean.
             *
             * @param mean per-row mean (stats shape, stats dtype), or null
             * @return this builder
             */
            public Builder mean(Tensor mean) {
                this.mean = mean;
                return this;
            }

            /**
             * Sets rstd.
             *
             * @param rstd per-row rstd (stats shape, stats dtype), or null
             * @return this builder
             */
            public Builder rstd(Tensor rstd) {
                this.rstd = rstd;
                return this;
            }

            /**
             * Sets residualOut.
             *
             * @param s receives s = x + residual, x's shape and dtype, or null
             * @return this builder
             */
            public Builder residualOut(Tensor s) {
                this.residualOut = s;
                return this;
            }

            /**
             * Builds the configured object.
             *
             * @return the outputs
             */
            public Forward build() {
                if (output == null) throw new NullPointerException("output (y) must not be null");
                return new Forward(output, mean, rstd, residualOut);
            }
        }
    }

    /**
     * The gradients of a backward: {@link #dx()}, {@link #dgamma()}, {@link #dbeta()}. A backward returns new ones,
     * or writes into ones you preallocated ({@link #newBackwardOutputs} or {@link #builder()}). {@link #close()}
     * closes every tensor it holds, even when one close throws.
     */
    public static final class Gradients implements AutoCloseable {
        private final Tensor dx, dgamma, dbeta;

        private Gradients(Tensor dx, Tensor dgamma, Tensor dbeta) {
            this.dx = dx;
            this.dgamma = dgamma;
            this.dbeta = dbeta;
        }

        /**
         * A builder of gradient outputs over your own tensors (dx required; dgamma, dbeta null when not wanted).
         *
         * @return a new builder
         */
        public static Builder builder() {
            return new Builder();
        }

        /**
         * The gradient with respect to x (with respect to x and residual after {@link #backwardWithResidual}).
         *
         * @return dx
         */
        public Tensor dx() {
            return dx;
        }

        /**
         * The gradient with respect to gamma (null without elementwiseAffine, or when not wanted).
         *
         * @return dgamma, or null
         */
        public Tensor dgamma() {
            return dgamma;
        }

        /**
         * The gradient with respect to beta (null without bias, or when not wanted).
         *
         * @return dbeta, or null
         */
        public Tensor dbeta() {
            return dbeta;
        }

        /** Closes every tensor held, even when one close throws (the first failure is rethrown). */
        @Override
        public void close() {
            NormCore.closeAll(dx, dgamma, dbeta);
        }

        /** Gradient outputs over tensors you own; checked by the call that writes them. */
        public static final class Builder {
            private Tensor dx, dgamma, dbeta;

            private Builder() {}

            /**
             * Sets dx.
             *
             * @param dx receives dx: x's shape and dtype
             * @return this builder
             */
            public Builder dx(Tensor dx) {
                this.dx = dx;
                return this;
            }

            /**
             * Sets dgamma.
             *
             * @param dgamma receives dgamma: gamma's shape and dtype, or null when not wanted
             * @return this builder
             */
            public Builder dgamma(Tensor dgamma) {
                this.dgamma = dgamma;
                return this;
            }

            /**
             * Sets dbeta.
             *
             * @param dbeta receives dbeta: beta's shape and dtype, or null when not wanted
             * @return this builder
             */
            public Builder dbeta(Tensor dbeta) {
                this.dbeta = dbeta;
                return this;
            }

            /**
             * Builds the configured object.
             *
             * @return the outputs
             */
            public Gradients build() {
                if (dx == null) throw new NullPointerException("dx must not be null");
                return new Gradients(dx, dgamma, dbeta);
            }
        }
    }

    /**
     * New outputs for {@link #forward(Tensor, Tensor, Tensor, Forward)} on x: y, mean and rstd (close them).
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return new outputs (close them)
     */
    public Forward newForwardOutputs(Tensor x) {
        return new Forward(core.newForwardTensors(x, false));
    }

    /**
     * New outputs for {@link #forwardWithResidual} on x: y, mean, rstd and residualOut (close them).
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return new outputs (close them)
     */
    public Forward newForwardWithResidualOutputs(Tensor x) {
        return new Forward(core.newForwardTensors(x, true));
    }

    /**
     * New outputs for every backward on x: dx, and dgamma (with elementwiseAffine), dbeta (with bias) in gamma's
     * dtype (gamma null without elementwiseAffine). Close them.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @return new gradient outputs (close them)
     */
    public Gradients newBackwardOutputs(Tensor x, Tensor gamma) {
        NormCore.GradientTensors t = core.newGradientTensors(x, gamma);
        return new Gradients(t.dx(), t.dgamma(), t.dbeta());
    }

    // ---- forward ----------------------------------------------------------------------------------------------

    /**
     * Forward into new tensors: y (x's shape), mean and rstd (x's shape without the normalized dims).
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param beta the shift, shape normalizedShape (null without bias)
     * @return the new y and statistics (close them)
     */
    public Forward forward(Tensor x, Tensor gamma, Tensor beta) {
        return NormCore.allocating(newForwardOutputs(x), out -> forward(x, gamma, beta, out));
    }

    /**
     * Forward into {@code out} (from {@link #newForwardOutputs}, or {@link Forward#builder()}: y required, mean/rstd
     * written when present). Allocates nothing.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param beta the shift, shape normalizedShape (null without bias)
     * @param out outputs to write: from newForwardOutputs / newForwardWithResidualOutputs, or Forward.builder()
     */
    public void forward(Tensor x, Tensor gamma, Tensor beta, Forward out) {
        NormCore.requireOut(out);
        core.forward(x, null, gamma, beta, out.output, out.residualOut, out.mean, out.rstd);
    }

    /**
     * Fused residual forward (pre-norm transformer blocks) into {@code out}: normalizes {@code s = x + residual} in
     * the same pass and writes s to {@code out.residualOut()} when present (so the next block's residual is never
     * re-read; outputs from {@link #newForwardWithResidualOutputs}). residual: x's shape and dtype. Its backward is
     * {@link #backwardWithResidual}. Allocates nothing.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param residual added to x before normalizing; x's shape and dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param beta the shift, shape normalizedShape (null without bias)
     * @param out outputs to write: from newForwardOutputs / newForwardWithResidualOutputs, or Forward.builder()
     */
    public void forwardWithResidual(Tensor x, Tensor residual, Tensor gamma, Tensor beta, Forward out) {
        if (residual == null) throw new NullPointerException("residual must not be null (use forward(x, gamma, beta, out))");
        NormCore.requireOut(out);
        core.forward(x, residual, gamma, beta, out.output, out.residualOut, out.mean, out.rstd);
    }

    // ---- backward ---------------------------------------------------------------------------------------------

    /**
     * Backward of {@link #forward} into new tensors dx, dgamma (with elementwiseAffine), dbeta (with bias): dy is the
     * gradient of y, saved the forward's result (its mean and rstd are read), x and gamma the forward's inputs.
     *
     * @param dy the gradient of y: x's shape and dtype
     * @param saved the result of the forward (its statistics are read)
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @return the new gradients (close them)
     */
    public Gradients backward(Tensor dy, Forward saved, Tensor x, Tensor gamma) {
        NormCore.requireSaved(saved);
        return NormCore.allocating(newBackwardOutputs(x, gamma), out -> backward(dy, saved, x, gamma, out));
    }

    /**
     * Backward of {@link #forward} into {@code out} (from {@link #newBackwardOutputs}, or {@link Gradients#builder()}:
     * dgamma/dbeta written when present). With an empty batch dgamma and dbeta are zeros. Allocates nothing.
     *
     * @param dy the gradient of y: x's shape and dtype
     * @param saved the result of the forward (its statistics are read)
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param out gradient outputs to write: from newBackwardOutputs, or Gradients.builder()
     */
    public void backward(Tensor dy, Forward saved, Tensor x, Tensor gamma, Gradients out) {
        NormCore.requireSaved(saved);
        NormCore.requireOut(out);
        if (saved.residualOut != null && x != saved.residualOut) {
            throw new IllegalArgumentException("saved comes from forwardWithResidual, which normalized s = x + residual,"
                    + " not x: use backwardWithResidual(dy, dResidualOut, saved, gamma, out)");
        }
        core.backward(0, "x", dy, null, x, saved.mean, saved.rstd, gamma, null, out.dx, out.dgamma, out.dbeta);
    }

    /**
     * Backward of {@link #forwardWithResidual} into {@code out}: reads s = saved.residualOut() in place of x;
     * dResidualOut (may be null) is the gradient flowing into s from later blocks and is added to dx, so
     * {@code out.dx()} is d(x) = d(residual). Allocates nothing.
     *
     * @param dy the gradient of y: x's shape and dtype
     * @param dResidualOut the gradient flowing into s from later blocks, added to dx; may be null
     * @param saved the result of the forward (its statistics are read)
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param out gradient outputs to write: from newBackwardOutputs, or Gradients.builder()
     */
    public void backwardWithResidual(Tensor dy, Tensor dResidualOut, Forward saved, Tensor gamma, Gradients out) {
        NormCore.requireSaved(saved);
        NormCore.requireOut(out);
        if (saved.residualOut == null) {
            throw new NullPointerException("saved.residualOut() must not be null in backwardWithResidual (s = x + "
                    + "residual: run forwardWithResidual with outputs that keep it)");
        }
        core.backward(0, "saved.residualOut()", dy, dResidualOut, saved.residualOut, saved.mean, saved.rstd, gamma,
                null, out.dx, out.dgamma, out.dbeta);
    }

    /**
     * Memory-saving backward into {@code out}: rebuilds xhat = (y - beta) / g' from the forward's output y =
     * saved.output() (g' = gamma, or 1 + gamma when zero-centred), so x need not be kept after the forward (as
     * Apex's memory-efficient layer norm); reads saved.rstd(), not the mean. beta as given to the forward.
     * <b>Zero-gamma rule:</b> where g' is exactly 0, y equals beta whatever x was, so xhat — which dx and dgamma both
     * need — cannot be rebuilt: the call throws IllegalArgumentException naming gamma and the first such column, and
     * writes nothing. Use {@link #backward(Tensor, Forward, Tensor, Tensor, Gradients)} (exact for any gamma) there.
     *
     * @param dy the gradient of y: x's shape and dtype
     * @param saved the result of the forward (its statistics are read)
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param beta the shift, shape normalizedShape (null without bias)
     * @param out gradient outputs to write: from newBackwardOutputs, or Gradients.builder()
     */
    public void backwardFromOutput(Tensor dy, Forward saved, Tensor gamma, Tensor beta, Gradients out) {
        NormCore.requireSaved(saved);
        NormCore.requireOut(out);
        core.backward(NormCore.FLAG_BACKWARD_FROM_OUTPUT, "saved.output()", dy, null, saved.output, null, saved.rstd,
                gamma, beta, out.dx, out.dgamma, out.dbeta);
    }
}

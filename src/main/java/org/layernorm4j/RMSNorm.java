package org.layernorm4j;

/**
 * RMS normalization (Zhang and Sennrich 2019) over the trailing {@code normalizedShape} dims of x: for each row of
 * {@code cols = prod(normalizedShape)} elements,
 * <pre>
 *   rstd = 1 / sqrt(mean(x^2) + eps),   y = x * rstd * gamma       (gamma, or 1 + gamma with zeroCenteredGamma)
 * </pre>
 * No mean is subtracted and there is no beta: the forward gives y and rstd ({@link Forward}), the backward dx and
 * dgamma ({@link Gradients}).
 *
 * <p>The same calls, checks, dtypes, devices and determinism as {@link LayerNorm} (both are faces of one
 * implementation): {@link #forward(Tensor, Tensor)} and {@link #backward(Tensor, Forward, Tensor, Tensor)} allocate
 * their results, their four-argument and five-argument forms write into outputs preallocated once
 * ({@link #newForwardOutputs}, {@link #newBackwardOutputs}), and the variants {@link #forwardWithResidual},
 * {@link #backwardWithResidual} and the memory-saving {@link #backwardFromOutput} (xhat = y / g'; the same
 * zero-gamma rule: an applied gamma of exactly 0 throws IllegalArgumentException naming the column) write into
 * outputs.
 */
public final class RMSNorm {
    private final NormCore core;

    private RMSNorm(NormCore core) {
        this.core = core;
    }

    /**
     * A builder for an RMS norm over trailing dims {@code normalizedShape} (at least one dim, each >= 1).
     *
     * @param normalizedShape the trailing dims normalized over
     * @return a new builder
     */
    public static Builder builder(long... normalizedShape) {
        return new Builder(normalizedShape);
    }

    /** Builder of {@link RMSNorm}; defaults eps 1e-5, elementwiseAffine true, zeroCenteredGamma false, cpuThreads 0. */
    public static final class Builder {
        private final NormCore.Settings s;

        private Builder(long[] normalizedShape) {
            s = new NormCore.Settings(normalizedShape);
            s.bias = false;
        }

        /**
         * Added to the mean square; must be finite and > 0 (default 1e-5), and normal in the compute type.
         *
         * @param eps added to the variance (mean square for RMSNorm)
         * @return this builder
         */
        public Builder eps(double eps) {
            s.eps(eps);
            return this;
        }

        /**
         * Whether gamma is applied (default true).
         *
         * @param on true to turn it on
         * @return this builder
         */
        public Builder elementwiseAffine(boolean on) {
            s.elementwiseAffine = on;
            return this;
        }

        /**
         * Applies gamma as (1 + gamma), as in Gemma (default false).
         *
         * @param on true to turn it on
         * @return this builder
         */
        public Builder zeroCenteredGamma(boolean on) {
            s.zeroCentered = on;
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
         * Builds the configured object.
         *
         * @return the configured object
         */
        public RMSNorm build() {
            return new RMSNorm(new NormCore(s, true));
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
     * Whether gamma is applied as (1 + gamma).
     *
     * @return whether gamma is applied as (1 + gamma)
     */
    public boolean zeroCenteredGamma() {
        return core.zeroCentered;
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
     * Shape of rstd for x: x's shape without the normalized dims.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return x's shape without the normalized dims
     */
    public long[] statsShape(Tensor x) {
        return core.statsShape(x);
    }

    @Override
    public String toString() {
        return core.toString();
    }

    // ---- results and outputs ----------------------------------------------------------------------------------

    /**
     * The tensors of an RMS forward: {@link #output()} y, {@link #rstd()} and, after {@link #forwardWithResidual},
     * {@link #residualOut()} s = x + residual. {@link #close()} closes every tensor it holds, even when one close
     * throws.
     */
    public static final class Forward implements AutoCloseable {
        private final Tensor output, rstd, residualOut;

        private Forward(Tensor output, Tensor rstd, Tensor residualOut) {
            this.output = output;
            this.rstd = rstd;
            this.residualOut = residualOut;
        }

        /**
         * A builder of forward outputs over your own tensors (y required; rstd and residualOut optional).
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
         * Per-row rstd = 1/sqrt(mean(x^2) + eps), or null when these outputs do not keep it.
         *
         * @return the per-row rstd, or null
         */
        public Tensor rstd() {
            return rstd;
        }

        /**
         * s = x + residual of {@link RMSNorm#forwardWithResidual}; else null.
         *
         * @return s = x + residual, or null
         */
        public Tensor residualOut() {
            return residualOut;
        }

        /** Closes every tensor held, even when one close throws (the first failure is rethrown). */
        @Override
        public void close() {
            NormCore.closeAll(output, rstd, residualOut);
        }

        /** Forward outputs over tensors you own: y required; rstd (null: not written), residualOut optional. */
        public static final class Builder {
            private Tensor output, rstd, residualOut;

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
                return new Forward(output, rstd, residualOut);
            }
        }
    }

    /** The gradients of an RMS backward: {@link #dx()} and {@link #dgamma()}; close() closes both. */
    public static final class Gradients implements AutoCloseable {
        private final Tensor dx, dgamma;

        private Gradients(Tensor dx, Tensor dgamma) {
            this.dx = dx;
            this.dgamma = dgamma;
        }

        /**
         * A builder of gradient outputs over your own tensors (dx required; dgamma null when not wanted).
         *
         * @return a new builder
         */
        public static Builder builder() {
            return new Builder();
        }

        /**
         * The gradient with respect to x (x and residual after {@link RMSNorm#backwardWithResidual}).
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

        /** Closes every tensor held, even when one close throws (the first failure is rethrown). */
        @Override
        public void close() {
            NormCore.closeAll(dx, dgamma);
        }

        /** Gradient outputs over tensors you own; checked by the call that writes them. */
        public static final class Builder {
            private Tensor dx, dgamma;

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
             * Builds the configured object.
             *
             * @return the outputs
             */
            public Gradients build() {
                if (dx == null) throw new NullPointerException("dx must not be null");
                return new Gradients(dx, dgamma);
            }
        }
    }

    /**
     * New outputs for {@link #forward(Tensor, Tensor, Forward)} on x: y and rstd (close them).
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return new outputs (close them)
     */
    public Forward newForwardOutputs(Tensor x) {
        NormCore.ForwardTensors t = core.newForwardTensors(x, false);
        return new Forward(t.y(), t.rstd(), null);
    }

    /**
     * New outputs for {@link #forwardWithResidual} on x: y, rstd and residualOut (close them).
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @return new outputs (close them)
     */
    public Forward newForwardWithResidualOutputs(Tensor x) {
        NormCore.ForwardTensors t = core.newForwardTensors(x, true);
        return new Forward(t.y(), t.rstd(), t.residualOut());
    }

    /**
     * New outputs for every backward on x: dx, and dgamma in gamma's dtype with elementwiseAffine. Close them.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @return new gradient outputs (close them)
     */
    public Gradients newBackwardOutputs(Tensor x, Tensor gamma) {
        NormCore.GradientTensors t = core.newGradientTensors(x, gamma);
        return new Gradients(t.dx(), t.dgamma());
    }

    // ---- forward ----------------------------------------------------------------------------------------------

    /**
     * Forward into new tensors y and rstd.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @return the new y and statistics (close them)
     */
    public Forward forward(Tensor x, Tensor gamma) {
        return NormCore.allocating(newForwardOutputs(x), out -> forward(x, gamma, out));
    }

    /**
     * Forward into {@code out} (y required, rstd written when present). Allocates nothing.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param out outputs to write: from newForwardOutputs / newForwardWithResidualOutputs, or Forward.builder()
     */
    public void forward(Tensor x, Tensor gamma, Forward out) {
        NormCore.requireOut(out);
        core.forward(x, null, gamma, null, out.output, out.residualOut, null, out.rstd);
    }

    /**
     * Fused residual forward into {@code out}: normalizes s = x + residual and writes s to out.residualOut() when
     * present. Its backward is {@link #backwardWithResidual}. Allocates nothing.
     *
     * @param x the input: shape [..., normalizedShape], any dtype
     * @param residual added to x before normalizing; x's shape and dtype
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param out outputs to write: from newForwardOutputs / newForwardWithResidualOutputs, or Forward.builder()
     */
    public void forwardWithResidual(Tensor x, Tensor residual, Tensor gamma, Forward out) {
        if (residual == null) throw new NullPointerException("residual must not be null (use forward(x, gamma, out))");
        NormCore.requireOut(out);
        core.forward(x, residual, gamma, null, out.output, out.residualOut, null, out.rstd);
    }

    // ---- backward ---------------------------------------------------------------------------------------------

    /**
     * Backward of {@link #forward} into new tensors dx and dgamma (with elementwiseAffine), reading saved.rstd().
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
     * Backward of {@link #forward} into {@code out} (dgamma written when present). Allocates nothing.
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
        core.backward(0, "x", dy, null, x, null, saved.rstd, gamma, null, out.dx, out.dgamma, null);
    }

    /**
     * Backward of {@link #forwardWithResidual} into {@code out}: reads s = saved.residualOut(); dResidualOut (may be
     * null) is added to dx, so out.dx() is d(x) = d(residual). Allocates nothing.
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
        core.backward(0, "saved.residualOut()", dy, dResidualOut, saved.residualOut, null, saved.rstd, gamma, null,
                out.dx, out.dgamma, null);
    }

    /**
     * Memory-saving backward from y = saved.output() (xhat = y / g') into {@code out}: x need not be kept. Zero-gamma
     * rule: an applied gamma of exactly 0 throws IllegalArgumentException naming gamma and the first such column.
     *
     * @param dy the gradient of y: x's shape and dtype
     * @param saved the result of the forward (its statistics are read)
     * @param gamma the scale, shape normalizedShape (null without elementwiseAffine)
     * @param out gradient outputs to write: from newBackwardOutputs, or Gradients.builder()
     */
    public void backwardFromOutput(Tensor dy, Forward saved, Tensor gamma, Gradients out) {
        NormCore.requireSaved(saved);
        NormCore.requireOut(out);
        core.backward(NormCore.FLAG_BACKWARD_FROM_OUTPUT, "saved.output()", dy, null, saved.output, null, saved.rstd,
                gamma, null, out.dx, out.dgamma, null);
    }
}

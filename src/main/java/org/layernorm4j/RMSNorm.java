package org.layernorm4j;

/**
 * RMS normalization (Zhang and Sennrich 2019) over the trailing {@code normalizedShape} dims of x: for each row of
 * {@code cols = prod(normalizedShape)} elements,
 * <pre>
 *   rstd = 1 / sqrt(mean(x^2) + eps),   y = x * rstd * gamma       (gamma, or 1 + gamma with zeroCenteredGamma)
 * </pre>
 * No mean is subtracted and there is no beta. The forward returns y and rstd ({@link LayerNorm.Forward#mean()} is
 * null); the backward returns dx and dgamma ({@link LayerNorm.Gradients#beta()} is null).
 *
 * <p>Same calls, checks, dtypes, devices and determinism as {@link LayerNorm} (it is a LayerNorm configured for the
 * RMS statistics): allocating forms returning {@link LayerNorm.Forward} / {@link LayerNorm.Gradients}, into-outputs
 * forms that allocate nothing, the fused residual forward {@code forward(x, residual, gamma)} with its backward,
 * and the memory-saving {@code backwardFromOutput} (xhat = y / g'; the same zero-gamma rule: an applied gamma of
 * exactly 0 throws IllegalArgumentException naming the column).
 *
 * <pre>
 * RMSNorm rms = RMSNorm.builder(4096).eps(1e-6).zeroCenteredGamma(true).build();
 * try (LayerNorm.Forward f = rms.forward(x, gamma);                  // f.output(), f.rstd()
 *      LayerNorm.Gradients g = rms.backward(dy, x, f, gamma)) {      // g.input() = dx, g.gamma() = dgamma
 *     ...
 * }
 * </pre>
 */
public final class RMSNorm {
    private final LayerNorm ln;

    private RMSNorm(LayerNorm ln) {
        this.ln = ln;
    }

    /** A builder for an RMS norm over trailing dims {@code normalizedShape} (at least one dim, each >= 1). */
    public static Builder builder(long... normalizedShape) {
        return new Builder(normalizedShape);
    }

    /** Builder of {@link RMSNorm}; defaults eps 1e-5, elementwiseAffine true, zeroCenteredGamma false, cpuThreads 0. */
    public static final class Builder {
        private final LayerNorm.Builder b;

        private Builder(long[] normalizedShape) {
            b = LayerNorm.builder(normalizedShape).bias(false);
            b.rms = true;
        }

        /** Added to the mean square; must be finite and > 0 (default 1e-5). */
        public Builder eps(double eps) {
            b.eps(eps);
            return this;
        }

        /** Whether gamma is applied (default true). */
        public Builder elementwiseAffine(boolean on) {
            b.elementwiseAffine(on);
            return this;
        }

        /** Applies gamma as (1 + gamma), as in Gemma (default false). */
        public Builder zeroCenteredGamma(boolean on) {
            b.zeroCenteredGamma(on);
            return this;
        }

        /** Most threads a CPU call uses; 0 (default) = the pool default. */
        public Builder cpuThreads(int threads) {
            b.cpuThreads(threads);
            return this;
        }

        public RMSNorm build() {
            return new RMSNorm(b.build());
        }
    }

    public long[] normalizedShape() {
        return ln.normalizedShape();
    }

    public long cols() {
        return ln.cols();
    }

    public double eps() {
        return ln.eps();
    }

    public boolean elementwiseAffine() {
        return ln.elementwiseAffine();
    }

    public boolean zeroCenteredGamma() {
        return ln.zeroCenteredGamma();
    }

    /** Shape of rstd for x: x's shape without the normalized dims. */
    public long[] statsShape(Tensor x) {
        return ln.statsShape(x);
    }

    @Override
    public String toString() {
        return ln.toString();
    }

    /** Forward into new tensors y and rstd. */
    public LayerNorm.Forward forward(Tensor x, Tensor gamma) {
        return ln.forwardAllocating(x, null, gamma, null);
    }

    /** Fused residual forward: normalizes s = x + residual; s comes back as {@link LayerNorm.Forward#residualOut()}. */
    public LayerNorm.Forward forward(Tensor x, Tensor residual, Tensor gamma) {
        if (residual == null) throw new NullPointerException("residual must not be null (use forward(x, gamma))");
        return ln.forwardAllocating(x, residual, gamma, null);
    }

    /** Forward into caller tensors: y (x's shape), rstd (stats shape; may be null for inference). */
    public void forward(Tensor x, Tensor gamma, Tensor y, Tensor rstd) {
        ln.forward(x, null, gamma, null, y, null, null, rstd);
    }

    /** Fused residual forward into caller tensors; residualOut (may be null) receives s = x + residual. */
    public void forward(Tensor x, Tensor residual, Tensor gamma, Tensor y, Tensor residualOut, Tensor rstd) {
        if (residual == null) throw new NullPointerException("residual must not be null (use forward(x, gamma, y, rstd))");
        ln.forward(x, residual, gamma, null, y, residualOut, null, rstd);
    }

    /** Backward into new tensors dx and dgamma (when affine), from the forward's rstd. */
    public LayerNorm.Gradients backward(Tensor dy, Tensor x, LayerNorm.Forward saved, Tensor gamma) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return ln.backwardAllocating(dy, null, x, null, saved.rstd(), gamma, null, 0);
    }

    /** Backward of the fused residual forward: s = saved.residualOut(); dResidualOut (may be null) is added to dx. */
    public LayerNorm.Gradients backward(Tensor dy, Tensor dResidualOut, Tensor s, LayerNorm.Forward saved, Tensor gamma) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return ln.backwardAllocating(dy, dResidualOut, s, null, saved.rstd(), gamma, null, 0);
    }

    /** Backward into caller tensors (dgamma may be null when not wanted). */
    public void backward(Tensor dy, Tensor x, Tensor rstd, Tensor gamma, Tensor dx, Tensor dgamma) {
        ln.backwardInto(dy, null, x, null, rstd, gamma, null, dx, dgamma, null, 0);
    }

    /** Backward of the fused residual forward into caller tensors. */
    public void backward(Tensor dy, Tensor dResidualOut, Tensor s, Tensor rstd, Tensor gamma, Tensor dx, Tensor dgamma) {
        ln.backwardInto(dy, dResidualOut, s, null, rstd, gamma, null, dx, dgamma, null, 0);
    }

    /**
     * Memory-saving backward from the forward's output y (xhat = y / g'): x need not be kept. Zero-gamma rule: an
     * applied gamma of exactly 0 throws IllegalArgumentException naming gamma and the first such column.
     */
    public LayerNorm.Gradients backwardFromOutput(Tensor dy, Tensor y, LayerNorm.Forward saved, Tensor gamma) {
        if (saved == null) throw new NullPointerException("saved must not be null");
        return ln.backwardAllocating(dy, null, y, null, saved.rstd(), gamma, null, LayerNorm.FLAG_BACKWARD_FROM_OUTPUT);
    }

    /** Memory-saving backward into caller tensors. */
    public void backwardFromOutput(Tensor dy, Tensor y, Tensor rstd, Tensor gamma, Tensor dx, Tensor dgamma) {
        ln.backwardInto(dy, null, y, null, rstd, gamma, null, dx, dgamma, null, LayerNorm.FLAG_BACKWARD_FROM_OUTPUT);
    }
}

package org.layernorm4j.internal;

/**
 * The CUDA backend of one device ordinal. Until CUDA memory is wired in through the JavaCPP CUDA presets
 * (issue 3), every method throws {@link IllegalStateException}: with the probe's one-line reason ("built without
 * CUDA", "no NVIDIA driver", "no CUDA device") when CUDA is unavailable, with the ordinal range when the ordinal
 * is too large, and "CUDA memory is not wired in yet" otherwise. The kernels themselves are bound in
 * {@link NativeCuda}; the presets may only be loaded when {@link CudaProbe#deviceCount()} is positive.
 */
public final class CudaBackend implements Backend {
    private final int ordinal;

    public CudaBackend(int ordinal) {
        this.ordinal = ordinal;
    }

    /** Throws IllegalStateException unless device {@code ordinal} is usable. */
    public static void requireUsable(int ordinal) {
        if (CudaProbe.deviceCount() == 0) {
            throw new IllegalStateException("cuda:" + ordinal + " is unavailable: " + CudaProbe.reason());
        }
        if (ordinal >= CudaProbe.deviceCount()) {
            throw new IllegalStateException("cuda:" + ordinal + " does not exist: this machine has "
                    + CudaProbe.deviceCount() + " CUDA device(s), ordinals 0.." + (CudaProbe.deviceCount() - 1));
        }
    }

    private IllegalStateException notWired() {
        requireUsable(ordinal);
        return new IllegalStateException("cuda:" + ordinal + ": CUDA memory is not wired in yet in this build "
                + "(device memory through the JavaCPP CUDA presets comes with issue 3)");
    }

    @Override
    public long allocate(long bytes) {
        throw notWired();
    }

    @Override
    public void free(long address) {
        throw notWired();
    }

    @Override
    public void copyFromHost(long host, long device, long bytes) {
        throw notWired();
    }

    @Override
    public void copyToHost(long device, long host, long bytes) {
        throw notWired();
    }

    @Override
    public void copyWithin(long src, long dst, long bytes) {
        throw notWired();
    }

    @Override
    public int forward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols,
            double eps, long x, long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd) {
        requireUsable(ordinal);
        return NativeCuda.ln4j_cuda_forward(ordinal, 0L, norm, flags, xDtype, paramDtype, rows, cols, eps, x,
                residual, gamma, beta, y, residualOut, mean, rstd);
    }

    @Override
    public int backward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols,
            long dy, long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma,
            long dbeta) {
        // needs a device workspace: wired in with the memory (issue 3)
        throw notWired();
    }

    @Override
    public String lastError() {
        return NativeCuda.ln4j_cuda_last_error();
    }
}

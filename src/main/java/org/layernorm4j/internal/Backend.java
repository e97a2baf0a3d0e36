package org.layernorm4j.internal;

/**
 * What a device must provide to LayerNorm4j: memory (allocate, free, copies between host memory and device
 * memory) and the two kernels. Every address is a raw {@code long}; every argument has been checked by the Java
 * API before a backend sees it. {@link CpuBackend} implements it fully; {@link CudaBackend} refuses with the
 * probe's reason until CUDA memory is wired in (issue 3).
 *
 * <p>Kernel methods return the native status ({@code LN4J_OK} = 0) and {@link #lastError()} gives the message.
 */
public interface Backend {
    /** Allocates {@code bytes} (at least 1) of device memory aligned to 64 bytes; throws on failure. */
    long allocate(long bytes);

    /** Frees memory returned by {@link #allocate}. */
    void free(long address);

    /** Copies {@code bytes} from host memory at {@code host} into device memory at {@code device}. */
    void copyFromHost(long host, long device, long bytes);

    /** Copies {@code bytes} from device memory at {@code device} into host memory at {@code host}. */
    void copyToHost(long device, long host, long bytes);

    /** Copies {@code bytes} between two buffers of this device. */
    void copyWithin(long src, long dst, long bytes);

    /**
     * ln4j_*_forward of the C header, argument for argument (norm: LN4J_NORM_*, flags: LN4J_FLAG_*; absent
     * optional tensors are 0). {@code threads} is the CPU thread count (ignored by other devices).
     */
    int forward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols, double eps,
            long x, long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd);

    /** ln4j_*_backward of the C header, argument for argument (workspace, where a device needs one, is its own). */
    int backward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols, long dy,
            long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma, long dbeta);

    /** Message of the last failed kernel call on this thread. */
    String lastError();
}

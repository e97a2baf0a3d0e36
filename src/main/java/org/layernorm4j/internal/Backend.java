package org.layernorm4j.internal;

/**
 * What a device must provide to LayerNorm4j: memory (allocate, free, copies between host memory and device
 * memory) and the two kernels. Every address is a raw {@code long}; every argument has been checked by the Java
 * API before a backend sees it. {@link CpuBackend} serves host memory; {@link CudaBackend} serves device memory
 * through the CUDA presets and refuses with the probe's reason where no usable device exists.
 *
 * <p>The kernel methods take the call the API described in a {@link NormCall}; the backend adds where it runs
 * (device, ISA, stream, workspace) and returns the native status ({@code LN4J_OK} = 0); {@link #lastError()} gives
 * the message and {@link NormCall#failure} the exception. The API calls the flat forms ({@link #forward(int, int,
 * int, int, long, long, double, long, long, long, long, long, long, long, long, int)} and its backward), which by
 * default describe the call in a NormCall; {@link CpuBackend} passes them straight to native code instead.
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

    /** ln4j_*_forward of the C header for a call started with {@link NormCall#forward}. */
    int forward(NormCall call);

    /** The forward with its arguments flat (addresses, 0 = none), as {@link NormCall#forward} takes them. */
    default int forward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, double eps, long x,
            long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd, int threads) {
        return forward(NormCall.forward(norm, flags, xDtype, paramDtype, rows, cols, eps, x, residual, gamma, beta, y,
                residualOut, mean, rstd, threads));
    }

    /** The backward with its arguments flat (addresses, 0 = none), as {@link NormCall#backward} takes them. */
    default int backward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, long dy,
            long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma, long dbeta,
            int threads) {
        return backward(NormCall.backward(norm, flags, xDtype, paramDtype, rows, cols, dy, dresidualOut, x, mean, rstd,
                gamma, beta, dx, dgamma, dbeta, threads));
    }

    /** ln4j_*_backward of the C header for a call started with {@link NormCall#backward}. */
    int backward(NormCall call);

    /** Message of the last failed kernel call on this thread. */
    String lastError();
}

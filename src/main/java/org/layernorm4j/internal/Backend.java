package org.layernorm4j.internal;

/**
 * What a device must provide to LayerNorm4j: memory (allocate, free, copies between host memory and device
 * memory) and the two kernels. Every address is a raw {@code long}; every argument has been checked by the Java
 * API before a backend sees it. {@link CpuBackend} serves host memory; {@link CudaBackend} serves device memory
 * through the CUDA presets and refuses with the probe's reason where no usable device exists.
 *
 * <p>The kernel methods take the call the API described in a {@link NormCall}; the backend adds where it runs
 * (device, ISA, stream, workspace) and returns the native status ({@code LN4J_OK} = 0); {@link #lastError()} gives
 * the message and {@link NormCall#failure} the exception.
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

    /** ln4j_*_backward of the C header for a call started with {@link NormCall#backward}. */
    int backward(NormCall call);

    /** Message of the last failed kernel call on this thread. */
    String lastError();
}

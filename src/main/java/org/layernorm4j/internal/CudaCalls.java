package org.layernorm4j.internal;

/**
 * The CUDA runtime calls the Java side makes (device memory, copies, streams), as status codes (0 = cudaSuccess,
 * else the cudaError_t value) so that {@link CudaBackend} decides what a failure means. {@link CudaRuntime} makes
 * them through the JavaCPP presets; tests give a fake. Every call selects its device first. Not API.
 */
interface CudaCalls {
    int HOST_TO_DEVICE = 0;
    int DEVICE_TO_HOST = 1;
    int DEVICE_TO_DEVICE = 2;

    /** cudaMalloc; the address goes to {@code out[0]}. */
    int malloc(int device, long bytes, long[] out);

    int free(int device, long address);

    /**
     * cudaMemcpyAsync on {@code stream} (0 = the legacy default stream), then, when host memory is involved,
     * cudaStreamSynchronize of that stream (the host buffer may be read or freed as soon as this returns).
     */
    int copy(int device, long dst, long src, long bytes, int kind, long stream);

    int streamSynchronize(int device, long stream);

    /** cudaStreamCreate (a blocking stream); the handle goes to {@code out[0]}. */
    int streamCreate(int device, long[] out);

    int streamDestroy(int device, long stream);

    /** cudaGetErrorName of a status. */
    String errorName(int status);

    /** The library's backward workspace size for a call struct ({@link NativeCuda}; a fake may answer its own). */
    default long backwardWorkspaceBytes(long args) {
        return NativeCuda.ln4j_cuda_backward_workspace_bytes(args);
    }

    /**
     * Enqueues the library's backward kernels ({@link NativeCuda}): a fake stands in to hold a launch in progress
     * while another thread grows the same stream's workspace.
     */
    default int backwardKernels(long args, long exec) {
        return NativeCuda.ln4j_cuda_backward(args, exec);
    }
}

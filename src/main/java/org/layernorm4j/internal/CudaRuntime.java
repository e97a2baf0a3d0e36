package org.layernorm4j.internal;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * The few CUDA runtime calls LayerNorm4j makes from Java, through the JavaCPP CUDA presets: device memory, copies and
 * streams. This class links org.bytedeco.cuda, whose JNI needs the NVIDIA driver, so only code that has seen
 * {@link CudaProbe#deviceCount()} > 0 may touch it (a GPU-less JVM never loads it). Only long-standing runtime
 * functions are called: the 13.1 presets over a 13.0 runtime lack newer symbols, and calling one kills the JVM.
 *
 * <p>Our kernels (liblayernorm4j_cuda) carry their own static runtime; both runtimes share the device's primary
 * context, so pointers and streams cross between them. The current device and the last error are per runtime:
 * every call here selects its device first and clears this runtime's last error after a failure.
 */
final class CudaRuntime implements CudaCalls {
    static final CudaRuntime INSTANCE = new CudaRuntime();

    private CudaRuntime() {}

    private static int done(int status) {
        if (status != 0) cudart.cudaGetLastError();  // leave nothing behind for the next call
        return status;
    }

    @Override
    public int malloc(int device, long bytes, long[] out) {
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        Pointer p = new Pointer((Pointer) null);
        s = cudart.cudaMalloc(p, bytes);
        out[0] = s == 0 ? p.address() : 0L;
        return done(s);
    }

    @Override
    public int free(int device, long address) {
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        return done(cudart.cudaFree(Memory.view(address, 1)));
    }

    @Override
    public int copy(int device, long dst, long src, long bytes, int kind, long stream) {
        if (bytes == 0) return 0;
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        int k = kind == HOST_TO_DEVICE ? cudart.cudaMemcpyHostToDevice
                : kind == DEVICE_TO_HOST ? cudart.cudaMemcpyDeviceToHost : cudart.cudaMemcpyDeviceToDevice;
        CUstream_st st = new CUstream_st(Memory.view(stream, 1));
        s = cudart.cudaMemcpyAsync(Memory.view(dst, bytes), Memory.view(src, bytes), bytes, k, st);
        if (s == 0 && kind != DEVICE_TO_DEVICE) s = cudart.cudaStreamSynchronize(st);
        return done(s);
    }

    @Override
    public int streamSynchronize(int device, long stream) {
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        return done(cudart.cudaStreamSynchronize(new CUstream_st(Memory.view(stream, 1))));
    }

    @Override
    public int streamCreate(int device, long[] out) {
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        CUstream_st st = new CUstream_st((Pointer) null);
        s = cudart.cudaStreamCreate(st);
        out[0] = s == 0 ? st.address() : 0L;
        return done(s);
    }

    @Override
    public int streamDestroy(int device, long stream) {
        int s = cudart.cudaSetDevice(device);
        if (s != 0) return done(s);
        return done(cudart.cudaStreamDestroy(new CUstream_st(Memory.view(stream, 1))));
    }

    @Override
    public String errorName(int status) {
        return cudart.cudaGetErrorName(status).getString();
    }
}

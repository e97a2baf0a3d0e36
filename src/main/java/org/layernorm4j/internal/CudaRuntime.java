package org.layernorm4j.internal;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.LayerNormException;

/**
 * The few CUDA runtime calls LayerNorm4j makes from Java, through the JavaCPP CUDA presets: device memory, copies and
 * streams. This class links org.bytedeco.cuda, whose JNI needs the NVIDIA driver, so only code that has seen
 * {@link CudaProbe#deviceCount()} > 0 may touch it (a GPU-less JVM never loads it). Only long-standing runtime
 * functions are called: the 13.1 presets over a 13.0 runtime lack newer symbols, and calling one kills the JVM.
 *
 * <p>Our kernels (liblayernorm4j_cuda) carry their own static runtime; both runtimes share the device's primary
 * context, so pointers and streams cross between them. The current device is per runtime: every call here selects
 * its device first.
 */
final class CudaRuntime {
    private CudaRuntime() {}

    static void check(int status, String call) {
        if (status != 0) {
            String name = cudart.cudaGetErrorString(status).getString();
            throw new LayerNormException(LayerNormException.CUDA, call + " failed: " + name + " (cudaError " + status + ")");
        }
    }

    private static void select(int device) {
        check(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    }

    static long malloc(int device, long bytes) {
        select(device);
        Pointer p = new Pointer((Pointer) null);
        check(cudart.cudaMalloc(p, bytes), "cudaMalloc(" + bytes + " bytes) on cuda:" + device);
        return p.address();
    }

    static void free(int device, long address) {
        select(device);
        check(cudart.cudaFree(Memory.view(address, 1)), "cudaFree on cuda:" + device);
    }

    /** Synchronous copy (waits for earlier work on the device's blocking streams). kind: cudart.cudaMemcpy*. */
    static void copy(int device, long dst, long src, long bytes, int kind) {
        if (bytes == 0) return;
        select(device);
        check(cudart.cudaMemcpy(Memory.view(dst, bytes), Memory.view(src, bytes), bytes, kind), "cudaMemcpy on cuda:" + device);
    }

    static int hostToDevice() {
        return cudart.cudaMemcpyHostToDevice;
    }

    static int deviceToHost() {
        return cudart.cudaMemcpyDeviceToHost;
    }

    static int deviceToDevice() {
        return cudart.cudaMemcpyDeviceToDevice;
    }

    static long streamCreate(int device) {
        select(device);
        CUstream_st s = new CUstream_st((Pointer) null);
        check(cudart.cudaStreamCreate(s), "cudaStreamCreate on cuda:" + device);
        return s.address();
    }

    static void streamSynchronize(int device, long stream) {
        select(device);
        check(cudart.cudaStreamSynchronize(new CUstream_st(Memory.view(stream, 1))), "cudaStreamSynchronize on cuda:" + device);
    }

    static void streamDestroy(int device, long stream) {
        select(device);
        check(cudart.cudaStreamDestroy(new CUstream_st(Memory.view(stream, 1))), "cudaStreamDestroy on cuda:" + device);
    }
}

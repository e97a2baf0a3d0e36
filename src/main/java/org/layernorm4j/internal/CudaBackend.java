package org.layernorm4j.internal;

import org.layernorm4j.LayerNormException;

/**
 * The CUDA backend of one device ordinal (one instance per ordinal: {@code Device.cuda(n)} is canonical): device
 * memory, copies and streams through the JavaCPP CUDA presets ({@link CudaRuntime}, loaded only once
 * {@link CudaProbe#deviceCount()} is positive), kernels through {@link NativeCuda}. Without a usable device every
 * method throws IllegalStateException with the probe's one-line reason ("built without CUDA", "no NVIDIA driver, or
 * one too old ...", "no CUDA device"), or the ordinal range when the ordinal is too large.
 *
 * <p>Streams: kernels and copies run on the calling thread's current stream ({@link CudaStreams#current}, set by
 * {@code CudaStream.use()}; 0 = the legacy default stream). Kernels return without waiting; a copy to or from host
 * memory is enqueued on that stream and waits for it, so it is ordered after the thread's earlier calls also on a
 * non-blocking stream (e.g. PyTorch's), and a device-to-device copy is enqueued on it without waiting. Work queued
 * on another stream is not waited for.
 *
 * <p>The backward's workspace is kept per stream ({@link CudaWorkspaces}): held from before the launch until it is
 * enqueued, bounded, freed when its stream is closed ({@link #streamClosed}).
 *
 * <p>A sticky CUDA error (an illegal address, a launch failure, a lost device) leaves the device's context unusable
 * for the rest of the process: the first one is remembered, every later call throws naming it, and freeing memory
 * never throws (the memory went with the context).
 *
 * <p><b>Never run on a GPU</b> so far: it compiles, and the kernels it calls pass the native tests on a CPU emulation
 * of CUDA (native/tests/cuda); see README.
 */
public final class CudaBackend implements Backend {
    private final int ordinal;
    private final CudaCalls injected;  // tests: a fake runtime; null: the presets, loaded on first use
    private final CudaWorkspaces workspaces;
    private volatile String firstFailure;  // the first sticky error: "<call> on cuda:N failed: <name> (...)"

    public CudaBackend(int ordinal) {
        this(ordinal, null);
    }

    CudaBackend(int ordinal, CudaCalls calls) {
        this.ordinal = ordinal;
        this.injected = calls;
        this.workspaces = new CudaWorkspaces(new CudaWorkspaces.Memory() {
            @Override
            public long malloc(long bytes) {
                return CudaBackend.this.malloc(bytes, "cudaMalloc(" + bytes + " bytes, backward workspace)");
            }

            @Override
            public void free(long address) {
                CudaBackend.this.free(address);
            }

            @Override
            public void synchronize(long stream) {
                streamSynchronize(stream);
            }
        });
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

    public int ordinal() {
        return ordinal;
    }

    /** Throws unless the device exists and no sticky error was seen on it. */
    private void checkUsable() {
        if (injected == null) requireUsable(ordinal);
        String first = firstFailure;
        if (first != null) {
            throw new LayerNormException(LayerNormException.CUDA, "cuda:" + ordinal + " is unusable after a sticky CUDA "
                    + "error (the process must restart to use it again); first failure: " + first);
        }
    }

    /** The runtime after {@link #checkUsable()}. */
    private CudaCalls calls() {
        checkUsable();
        return injected != null ? injected : Presets.CALLS;
    }

    /** Loads the presets only when a call needs them (a GPU-less JVM never loads org.bytedeco.cuda). */
    private static final class Presets {
        static final CudaCalls CALLS = CudaRuntime.INSTANCE;
    }

    /** Errors after which the context is unusable (cudaError_t values of CUDA 12/13). */
    static boolean sticky(int status) {
        switch (status) {
            case 214: // cudaErrorECCUncorrectable
            case 700: // cudaErrorIllegalAddress
            case 702: // cudaErrorLaunchTimeout
            case 709: // cudaErrorContextIsDestroyed
            case 710: // cudaErrorAssert
            case 714: // cudaErrorHardwareStackError
            case 715: // cudaErrorIllegalInstruction
            case 716: // cudaErrorMisalignedAddress
            case 717: // cudaErrorInvalidAddressSpace
            case 718: // cudaErrorInvalidPc
            case 719: // cudaErrorLaunchFailure
            case 999: // cudaErrorUnknown
                return true;
            default:
                return false;
        }
    }

    private static final String[] STICKY_NAMES = {"cudaErrorECCUncorrectable", "cudaErrorIllegalAddress",
        "cudaErrorLaunchTimeout", "cudaErrorContextIsDestroyed", "cudaErrorAssert", "cudaErrorHardwareStackError",
        "cudaErrorIllegalInstruction", "cudaErrorMisalignedAddress", "cudaErrorInvalidAddressSpace",
        "cudaErrorInvalidPc", "cudaErrorLaunchFailure", "cudaErrorUnknown"};

    /** Throws for a failed runtime call, remembering the first sticky one. */
    private void check(CudaCalls c, int status, String what) {
        if (status == 0) return;
        String name;
        try {
            name = c.errorName(status);
        } catch (RuntimeException e) {
            name = "cudaError " + status;
        }
        String msg = what + " on cuda:" + ordinal + " failed: " + name + " (cudaError " + status + ")";
        if (sticky(status)) {
            String first = recordSticky(msg);
            if (!first.equals(msg)) msg += "; the device has been unusable since the first failure: " + first;
        }
        throw new LayerNormException(status == 2 ? LayerNormException.OUT_OF_MEMORY : LayerNormException.CUDA, msg);
    }

    private synchronized String recordSticky(String msg) {
        if (firstFailure == null) firstFailure = msg;
        return firstFailure;
    }

    /** The first sticky failure seen on this device, or null. */
    public String firstFailure() {
        return firstFailure;
    }

    private long malloc(long bytes, String what) {
        CudaCalls c = calls();
        long[] out = new long[1];
        check(c, c.malloc(ordinal, bytes, out), what);
        return out[0];
    }

    @Override
    public long allocate(long bytes) {
        long b = Math.max(bytes, 1);
        return malloc(b, "cudaMalloc(" + b + " bytes)");
    }

    /** Never throws: after a sticky error the memory is gone with the context; other failures are remembered. */
    @Override
    public void free(long address) {
        if (address == 0 || firstFailure != null) return;
        try {
            CudaCalls c = calls();
            int s = c.free(ordinal, address);
            if (s != 0 && sticky(s)) recordSticky("cudaFree on cuda:" + ordinal + " failed: " + c.errorName(s));
        } catch (RuntimeException e) {
            // unusable device (probe) or runtime failure: nothing to free into
        }
    }

    private void copy(long dst, long src, long bytes, int kind, String what) {
        if (bytes == 0) return;
        CudaCalls c = calls();
        check(c, c.copy(ordinal, dst, src, bytes, kind, CudaStreams.current(ordinal)), what);
    }

    @Override
    public void copyFromHost(long host, long device, long bytes) {
        copy(device, host, bytes, CudaCalls.HOST_TO_DEVICE, "cudaMemcpyAsync(host to device, " + bytes + " bytes)");
    }

    @Override
    public void copyToHost(long device, long host, long bytes) {
        copy(host, device, bytes, CudaCalls.DEVICE_TO_HOST, "cudaMemcpyAsync(device to host, " + bytes + " bytes)");
    }

    @Override
    public void copyWithin(long src, long dst, long bytes) {
        copy(dst, src, bytes, CudaCalls.DEVICE_TO_DEVICE, "cudaMemcpyAsync(device to device, " + bytes + " bytes)");
    }

    /** A new blocking stream on this device. */
    public long streamCreate() {
        CudaCalls c = calls();
        long[] out = new long[1];
        check(c, c.streamCreate(ordinal, out), "cudaStreamCreate");
        return out[0];
    }

    public void streamSynchronize(long stream) {
        CudaCalls c = calls();
        check(c, c.streamSynchronize(ordinal, stream), "cudaStreamSynchronize");
    }

    /**
     * A stream is closed: its workspace is freed after the work queued on it, and an owned stream is destroyed.
     * Never throws (a stream of a lost device is left to the dead context).
     */
    public void streamClosed(long stream, boolean owned) {
        workspaces.release(stream);
        if (!owned || firstFailure != null) return;
        try {
            CudaCalls c = calls();
            int s = c.streamDestroy(ordinal, stream);
            if (s != 0 && sticky(s)) recordSticky("cudaStreamDestroy on cuda:" + ordinal + " failed: " + c.errorName(s));
        } catch (RuntimeException e) {
            // nothing left to destroy on an unusable device
        }
    }

    /** Bytes of backward workspace held on this device (all streams). */
    public long workspaceBytes() {
        return workspaces.bytesHeld();
    }

    /** After a kernel call: a sticky error in its message makes the device unusable from now on. */
    private int noteKernelStatus(int status) {
        if (status == LayerNormException.CUDA && firstFailure == null) {
            String msg = NativeCuda.ln4j_cuda_last_error();
            for (String n : STICKY_NAMES) {
                if (msg != null && msg.contains(n)) {
                    recordSticky(msg);
                    break;
                }
            }
        }
        return status;
    }

    @Override
    public int forward(NormCall call) {
        checkUsable();
        call.onCuda(ordinal, CudaStreams.current(ordinal), 0L, 0L);
        return noteKernelStatus(NativeCuda.ln4j_cuda_forward(call.argsAddress(), call.execAddress()));
    }

    @Override
    public int backward(NormCall call) {
        checkUsable();
        long stream = CudaStreams.current(ordinal);
        CudaCalls fake = injected;  // the kernel calls go through a fake runtime only in tests
        long need = fake != null ? fake.backwardWorkspaceBytes(call.argsAddress())
                : NativeCuda.ln4j_cuda_backward_workspace_bytes(call.argsAddress());
        // The lease is held until the kernels are enqueued: no other thread frees the block before that.
        try (CudaWorkspaces.Lease ws = workspaces.lease(stream, need)) {
            call.onCuda(ordinal, stream, ws.address(), ws.bytes());
            return noteKernelStatus(fake != null ? fake.backwardKernels(call.argsAddress(), call.execAddress())
                    : NativeCuda.ln4j_cuda_backward(call.argsAddress(), call.execAddress()));
        }
    }

    @Override
    public String lastError() {
        String msg = NativeCuda.ln4j_cuda_last_error();
        String first = firstFailure;
        if (first != null && (msg == null || !msg.contains(first))) {
            msg = msg + " (cuda:" + ordinal + " has been unusable since the first failure: " + first + ")";
        }
        return msg;
    }
}

package org.layernorm4j.internal;

import java.util.HashMap;
import java.util.Map;

/**
 * The CUDA backend of one device ordinal: device memory and copies through the JavaCPP CUDA presets
 * ({@link CudaRuntime}, loaded only once {@link CudaProbe#deviceCount()} is positive), kernels through
 * {@link NativeCuda}. Without a usable device every method throws IllegalStateException with the probe's one-line
 * reason ("built without CUDA", "no NVIDIA driver", "no CUDA device"), or the ordinal range when the ordinal is too
 * large.
 *
 * <p>Kernels run on the calling thread's current stream ({@link CudaStreams#current}, set by
 * {@code CudaStream.use()}; 0 = the legacy default stream) and return without waiting. The backward's workspace (the
 * dgamma/dbeta partials and the zero-gamma flag) is kept per stream and grown when a call needs more: calls on one
 * stream run in order, so they may share it; before a smaller workspace is freed its stream is synchronized. The
 * workspaces live as long as the process (a few MB at most for usual shapes). Copies are synchronous.
 *
 * <p><b>Never run on a GPU</b> so far: it compiles, and the kernels it calls pass the native tests on a CPU emulation
 * of CUDA (native/tests/cuda); see README.
 */
public final class CudaBackend implements Backend {
    private final int ordinal;
    private final Map<Long, long[]> workspaces = new HashMap<>();  // stream -> {address, bytes}

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

    @Override
    public long allocate(long bytes) {
        requireUsable(ordinal);
        return CudaRuntime.malloc(ordinal, Math.max(bytes, 1));
    }

    @Override
    public void free(long address) {
        requireUsable(ordinal);
        CudaRuntime.free(ordinal, address);
    }

    @Override
    public void copyFromHost(long host, long device, long bytes) {
        requireUsable(ordinal);
        CudaRuntime.copy(ordinal, device, host, bytes, CudaRuntime.hostToDevice());
    }

    @Override
    public void copyToHost(long device, long host, long bytes) {
        requireUsable(ordinal);
        CudaRuntime.copy(ordinal, host, device, bytes, CudaRuntime.deviceToHost());
    }

    @Override
    public void copyWithin(long src, long dst, long bytes) {
        requireUsable(ordinal);
        CudaRuntime.copy(ordinal, dst, src, bytes, CudaRuntime.deviceToDevice());
    }

    @Override
    public int forward(NormCall call) {
        requireUsable(ordinal);
        call.onCuda(ordinal, CudaStreams.current(ordinal), 0L, 0L);
        return NativeCuda.ln4j_cuda_forward(call.argsAddress(), call.execAddress());
    }

    @Override
    public int backward(NormCall call) {
        requireUsable(ordinal);
        long stream = CudaStreams.current(ordinal);
        long need = NativeCuda.ln4j_cuda_backward_workspace_bytes(call.argsAddress());
        long[] ws = workspace(stream, need);
        call.onCuda(ordinal, stream, ws[0], ws[1]);
        return NativeCuda.ln4j_cuda_backward(call.argsAddress(), call.execAddress());
    }

    /** The workspace of `stream`, grown to at least `bytes`. */
    private synchronized long[] workspace(long stream, long bytes) {
        long[] ws = workspaces.get(stream);
        if (ws != null && ws[1] >= bytes) return ws;
        if (ws != null) {
            CudaRuntime.streamSynchronize(ordinal, stream);  // earlier calls on this stream may still use it
            CudaRuntime.free(ordinal, ws[0]);
        }
        long grown = Math.max(bytes, ws == null ? 0 : ws[1] * 2);
        ws = new long[] {CudaRuntime.malloc(ordinal, Math.max(grown, 64)), grown};
        workspaces.put(stream, ws);
        return ws;
    }

    @Override
    public String lastError() {
        return NativeCuda.ln4j_cuda_last_error();
    }
}

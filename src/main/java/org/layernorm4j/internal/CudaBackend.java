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
 * <p><b>Not verified on a GPU</b> in the build that introduced it (no device was available): see README.
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
    public int forward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols,
            double eps, long x, long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd) {
        requireUsable(ordinal);
        return NativeCuda.ln4j_cuda_forward(ordinal, CudaStreams.current(ordinal), norm, flags, xDtype, paramDtype,
                rows, cols, eps, x, residual, gamma, beta, y, residualOut, mean, rstd);
    }

    @Override
    public int backward(int threads, int norm, int flags, int xDtype, int paramDtype, long rows, long cols,
            long dy, long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma,
            long dbeta) {
        requireUsable(ordinal);
        long stream = CudaStreams.current(ordinal);
        long need = NativeCuda.ln4j_cuda_backward_workspace_bytes(rows, cols);
        long[] ws = workspace(stream, need);
        return NativeCuda.ln4j_cuda_backward(ordinal, stream, norm, flags, xDtype, paramDtype, rows, cols, dy,
                dresidualOut, x, mean, rstd, gamma, beta, dx, dgamma, dbeta, ws[0], ws[1]);
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

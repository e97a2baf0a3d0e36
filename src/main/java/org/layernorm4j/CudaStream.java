package org.layernorm4j;

import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.internal.CudaBackend;
import org.layernorm4j.internal.CudaStreams;

/**
 * A CUDA stream that LayerNorm4j calls run on. Calls on CUDA tensors are asynchronous with respect to the host: they
 * are queued on the calling thread's current stream — the legacy default stream unless a scope says otherwise — and
 * copies to and from the host ({@code toFloatArray()}, {@code to(Device.cpu())}, {@code to(gpu)}) are enqueued on
 * that same stream and wait for it. Work queued on another stream (yours or a library's) is not waited for:
 * synchronize it, or copy inside its scope.
 *
 * <pre>
 * try (CudaStream stream = CudaStream.create(Device.cuda(0));
 *      CudaStream.Scope on = stream.use()) {          // calls of this thread on cuda:0 now go to `stream`
 *     ln.forward(x, gamma, beta, y, mean, rstd);
 *     stream.synchronize();
 * }
 * </pre>
 * {@link #wrap(Pointer, Device)} adopts a stream made elsewhere (e.g. the presets' {@code cudaStream_t}, a
 * {@code CUstream_st}); a wrapped stream is not destroyed by {@link #close()}. Creating a stream without a usable
 * CUDA device throws IllegalStateException with the reason ("no NVIDIA driver", "no CUDA device", "built without
 * CUDA"). Streams created here are blocking streams: they also order with the legacy default stream. Closing a
 * stream that other threads still use defers its destruction until their scopes end.
 */
public final class CudaStream implements AutoCloseable {
    private final Device device;
    private final long handle;
    private final boolean owned;
    private final CudaStreams.Users users;

    private CudaStream(Device device, long handle, boolean owned) {
        this.device = device;
        this.handle = handle;
        this.owned = owned;
        CudaBackend backend = (CudaBackend) device.backend();
        this.users = new CudaStreams.Users("CudaStream(" + device + ", 0x" + Long.toHexString(handle) + ")", () -> {
            try {
                backend.streamClosed(handle, owned);
            } catch (RuntimeException | Error e) {
                org.layernorm4j.internal.CloseFailures.record(device.toString(), "destroy of stream " + this, e);
            }
        });
    }

    /**
     * A new stream on a CUDA device (a blocking stream: it also orders with the legacy default stream).
     *
     * @param device a CUDA device
     * @return the new stream (close it)
     */
    public static CudaStream create(Device device) {
        requireCuda(device);
        return new CudaStream(device, ((CudaBackend) device.backend()).streamCreate(), true);
    }

    /**
     * Wraps an existing stream handle, blocking or not (e.g. PyTorch's non-blocking streams). Not owned: close()
     * does not destroy it, but frees what LayerNorm4j keeps for it (the backward's workspace).
     *
     * @param stream the cudaStream_t
     * @param device the CUDA device the stream belongs to
     * @return a stream object over it (close it)
     */
    public static CudaStream wrap(Pointer stream, Device device) {
        if (stream == null) throw new NullPointerException("stream must not be null (a cudaStream_t Pointer)");
        requireCuda(device);
        return new CudaStream(device, stream.address(), false);
    }

    private static void requireCuda(Device device) {
        if (device == null) throw new NullPointerException("device must not be null");
        if (device.isCpu()) throw new IllegalArgumentException("device must be a CUDA device, got " + device);
        CudaBackend.requireUsable(device.ordinal());
    }

    /**
     * The device of this stream.
     *
     * @return its CUDA device
     */
    public Device device() {
        return device;
    }

    /**
     * The cudaStream_t as an address (0 is the legacy default stream).
     *
     * @return the handle
     */
    public long handle() {
        return handle;
    }

    /** Waits until everything queued on this stream has run; a CUDA error throws LayerNormException. */
    public void synchronize() {
        users.acquire();
        try {
            ((CudaBackend) device.backend()).streamSynchronize(handle);
        } finally {
            users.release();
        }
    }

    /**
     * Makes this stream the current thread's stream for calls on its device until the scope closes: kernels, and
     * copies to and from the host (which wait for this stream). Throws IllegalStateException once closed.
     *
     * @return the scope (close it to restore the previous stream)
     */
    public Scope use() {
        users.acquire();
        try {
            return new Scope(CudaStreams.enter(device.ordinal(), handle), users);
        } catch (RuntimeException | Error e) {
            users.release();
            throw e;
        }
    }

    /**
     * Closes the stream (idempotent, never throws): no new scope may start. While other threads still hold scopes
     * on it, destroying it is deferred until the last of them closes; then the work queued on it is waited for,
     * its backward workspace freed and (when owned) the stream destroyed.
     */
    @Override
    public void close() {
        users.close();
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return users.isClosed();
    }

    @Override
    public String toString() {
        return "CudaStream(" + device + ", 0x" + Long.toHexString(handle) + (owned ? "" : ", wrapped")
                + (users.isClosed() ? ", closed" : "") + ")";
    }

    /** Restores the thread's previous stream on close. */
    public static final class Scope implements AutoCloseable {
        private final long[] previous;
        private final CudaStreams.Users users;
        private boolean closed;

        private Scope(long[] previous, CudaStreams.Users users) {
            this.previous = previous;
            this.users = users;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            CudaStreams.restore(previous);
            users.release();
        }
    }
}

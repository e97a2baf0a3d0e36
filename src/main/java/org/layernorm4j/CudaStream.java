package org.layernorm4j;

import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.internal.CudaStreams;

/**
 * A CUDA stream that LayerNorm4j calls run on. Calls on CUDA tensors are asynchronous with respect to the host: they
 * are queued on the calling thread's current stream — the legacy default stream unless a scope says otherwise — and
 * reading a tensor back to the host ({@code toFloatArray()}, {@code to(Device.cpu())}) waits for them.
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
 * CUDA"). Streams created here are blocking streams: they also order with the legacy default stream.
 */
public final class CudaStream implements AutoCloseable {
    private final Device device;
    private final long handle;
    private final boolean owned;
    private volatile boolean closed;

    private CudaStream(Device device, long handle, boolean owned) {
        this.device = device;
        this.handle = handle;
        this.owned = owned;
    }

    /** A new stream on a CUDA device. */
    public static CudaStream create(Device device) {
        requireCuda(device);
        return new CudaStream(device, CudaStreams.create(device.ordinal()), true);
    }

    /** Wraps an existing stream handle (not owned: close() does not destroy it). */
    public static CudaStream wrap(Pointer stream, Device device) {
        if (stream == null) throw new NullPointerException("stream must not be null (a cudaStream_t Pointer)");
        requireCuda(device);
        return new CudaStream(device, stream.address(), false);
    }

    private static void requireCuda(Device device) {
        if (device == null) throw new NullPointerException("device must not be null");
        if (device.isCpu()) throw new IllegalArgumentException("device must be a CUDA device, got " + device);
        org.layernorm4j.internal.CudaBackend.requireUsable(device.ordinal());
    }

    /** The CUDA device this stream belongs to. */
    public Device device() {
        return device;
    }

    /** The cudaStream_t as an address (0 is the legacy default stream). */
    public long handle() {
        return handle;
    }

    /** Waits until everything queued on this stream has run; a CUDA error throws LayerNormException. */
    public void synchronize() {
        checkOpen();
        CudaStreams.synchronize(device.ordinal(), handle);
    }

    /** Makes this stream the current thread's stream for calls on its device until the scope closes. */
    public Scope use() {
        checkOpen();
        return new Scope(CudaStreams.enter(device.ordinal(), handle));
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("CudaStream " + this + " is closed");
    }

    /**
     * Destroys an owned stream (after the work queued on it); idempotent, thread-safe, and never throws (a failed
     * destroy, e.g. on a lost device, is recorded and logged as Tensor.close() does).
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        if (!owned) return;
        try {
            CudaStreams.destroy(device.ordinal(), handle);
        } catch (RuntimeException | Error e) {
            org.layernorm4j.internal.CloseFailures.record(device.toString(), "destroy of stream " + this, e);
        }
    }

    @Override
    public String toString() {
        return "CudaStream(" + device + ", 0x" + Long.toHexString(handle) + (owned ? "" : ", wrapped") + ")";
    }

    /** Restores the thread's previous stream on close. */
    public static final class Scope implements AutoCloseable {
        private final long[] previous;
        private boolean closed;

        private Scope(long[] previous) {
            this.previous = previous;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            CudaStreams.restore(previous);
        }
    }
}

package org.layernorm4j.internal;

/**
 * The stream that CUDA calls of the current thread run on (set by {@code CudaStream.use()}, 0 = the legacy default
 * stream), and the presets' stream calls for {@code CudaStream}. Not API.
 */
public final class CudaStreams {
    private static final ThreadLocal<long[]> CURRENT = new ThreadLocal<>();  // {device, handle}

    private CudaStreams() {}

    /** The handle for calls on {@code device} from this thread: the scoped stream when it is on that device, else 0. */
    public static long current(int device) {
        long[] c = CURRENT.get();
        return c != null && c[0] == device ? c[1] : 0L;
    }

    /** Sets this thread's stream and returns the previous setting (null = none) for {@link #restore}. */
    public static long[] enter(int device, long handle) {
        long[] prev = CURRENT.get();
        CURRENT.set(new long[] {device, handle});
        return prev;
    }

    public static void restore(long[] prev) {
        if (prev == null) CURRENT.remove();
        else CURRENT.set(prev);
    }

    public static long create(int device) {
        CudaBackend.requireUsable(device);
        return CudaRuntime.streamCreate(device);
    }

    public static void synchronize(int device, long handle) {
        CudaBackend.requireUsable(device);
        CudaRuntime.streamSynchronize(device, handle);
    }

    public static void destroy(int device, long handle) {
        CudaBackend.requireUsable(device);
        CudaRuntime.streamDestroy(device, handle);
    }
}

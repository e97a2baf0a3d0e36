package org.layernorm4j.internal;

/**
 * The stream that CUDA calls of the current thread run on (set by {@code CudaStream.use()}, 0 = the legacy default
 * stream), and the users of a stream ({@link Users}): a stream closed while other threads still hold scopes on it is
 * destroyed when the last of them ends. Not API.
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

    /**
     * Who is using a stream (scopes, a synchronize in progress). {@link #close()} marks it closed; the release
     * action (free the workspace, destroy the stream) runs exactly once, when the stream is closed and unused:
     * at close() if nobody uses it, else when the last user leaves. Using a closed stream throws.
     */
    public static final class Users {
        private final String name;
        private final Runnable onRelease;
        private int users;
        private boolean closed;
        private boolean released;

        public Users(String name, Runnable onRelease) {
            this.name = name;
            this.onRelease = onRelease;
        }

        /** One more user; throws IllegalStateException if the stream is closed. */
        public synchronized void acquire() {
            if (closed) throw new IllegalStateException(name + " is closed");
            users++;
        }

        /** One user fewer; the last one after close() runs the release action. */
        public void release() {
            boolean run;
            synchronized (this) {
                if (users <= 0) throw new IllegalStateException(name + ": release without acquire");
                users--;
                run = closed && users == 0 && !released;
                if (run) released = true;
            }
            if (run) onRelease.run();
        }

        /** Marks closed (idempotent); returns the number of users still holding it (release deferred until 0). */
        public int close() {
            boolean run;
            int left;
            synchronized (this) {
                if (closed) return users;
                closed = true;
                left = users;
                run = users == 0 && !released;
                if (run) released = true;
            }
            if (run) onRelease.run();
            return left;
        }

        public synchronized boolean isClosed() {
            return closed;
        }

        public synchronized boolean isReleased() {
            return released;
        }

        public synchronized int users() {
            return users;
        }
    }
}

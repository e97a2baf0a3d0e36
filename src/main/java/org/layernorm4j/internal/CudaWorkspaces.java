package org.layernorm4j.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The CUDA backward's workspaces (dgamma/dbeta partials and the zero-gamma flag of the backward from y), one per
 * stream: calls on one stream run in order, so they may share it. Not API.
 *
 * <p>A {@link Lease} holds its stream's workspace from before the launch until the launch is enqueued: a thread
 * that must grow the workspace waits for it, then synchronizes the stream (the enqueued work may still read the
 * old block) before freeing it. So growing and launching are safe together, also on the legacy default stream that
 * every thread shares. A workspace never exceeds {@link #CAP} (the largest
 * {@code ln4j_cuda_backward_workspace_bytes}) and is freed with its stream ({@link #release}).
 */
final class CudaWorkspaces {
    /** Two arrays of at most 2^23 doubles (the partials bound of backward.cu) and the 16-byte flag. */
    static final long CAP = 2L * (1L << 23) * 8 + 16;

    /** Device memory and stream order, as the backend provides them. */
    interface Memory {
        long malloc(long bytes);

        /** Must not throw. */
        void free(long address);

        void synchronize(long stream);
    }

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        long address;
        long bytes;
        boolean dead;  // released: a lease that raced the release retries with a new entry
    }

    /** The workspace of one stream, locked until {@link #close()} (after the launch is enqueued). */
    static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean closed;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        long address() {
            return entry.address;
        }

        long bytes() {
            return entry.bytes;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            entry.lock.unlock();
        }
    }

    private final Memory memory;
    private final Map<Long, Entry> entries = new HashMap<>();

    CudaWorkspaces(Memory memory) {
        this.memory = memory;
    }

    /** The workspace of {@code stream}, at least {@code need} bytes (at most CAP), locked for the caller. */
    Lease lease(long stream, long need) {
        if (need > CAP) throw new IllegalStateException("workspace of " + need + " bytes exceeds the bound " + CAP);
        while (true) {
            Entry e;
            synchronized (entries) {
                e = entries.computeIfAbsent(stream, k -> new Entry());
            }
            e.lock.lock();
            if (e.dead) {
                e.lock.unlock();
                continue;
            }
            try {
                if (e.bytes < need) {
                    long grown = Math.min(CAP, Math.max(need, 2 * e.bytes));
                    if (e.address != 0) {
                        memory.synchronize(stream);  // work enqueued with the old block may still run
                        memory.free(e.address);
                        e.address = 0;
                        e.bytes = 0;
                    }
                    e.address = memory.malloc(Math.max(grown, 64));
                    e.bytes = grown;
                }
                return new Lease(e);
            } catch (RuntimeException | Error ex) {
                e.lock.unlock();
                throw ex;
            }
        }
    }

    /**
     * Frees the workspace of {@code stream} (a stream being closed) after the work enqueued on it; waits for a lease
     * in progress. Never throws (a failure to synchronize leaves the block to the dying stream's context).
     */
    void release(long stream) {
        Entry e;
        synchronized (entries) {
            e = entries.remove(stream);
        }
        if (e == null) return;
        e.lock.lock();
        try {
            e.dead = true;
            if (e.address != 0) {
                boolean synced = true;
                try {
                    memory.synchronize(stream);
                } catch (RuntimeException ex) {
                    synced = false;
                }
                if (synced) memory.free(e.address);
                e.address = 0;
                e.bytes = 0;
            }
        } finally {
            e.lock.unlock();
        }
    }

    /** Bytes held over all streams (for tests and diagnostics). */
    long bytesHeld() {
        synchronized (entries) {
            long n = 0;
            for (Entry e : entries.values()) n += e.bytes;
            return n;
        }
    }

    /** Streams with a workspace. */
    int streams() {
        synchronized (entries) {
            return entries.size();
        }
    }
}

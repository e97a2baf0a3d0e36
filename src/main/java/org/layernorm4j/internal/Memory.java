package org.layernorm4j.internal;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Host memory helpers: aligned malloc/free with a live-bytes counter, buffer views of raw addresses, and the
 * accounting behind the safety net for unclosed tensors.
 *
 * <p><b>Safety net.</b> Owned tensors are freed by a {@link java.lang.ref.Cleaner} once unreachable, but native
 * memory is invisible to the garbage collector: a program that drops tensors without closing them could fill the
 * machine long before the Java heap asks for a collection. {@link #reserve} counts the bytes of owned tensors (all
 * devices) and, when the count passes a threshold, asks for a collection and waits briefly for the cleaner (as
 * direct NIO buffers do). The threshold is the system property {@value #GC_BYTES_PROPERTY} (bytes, default 256 MiB,
 * read once) and doubles while the live tensors keep more than half of it, so a program that really holds a lot is
 * not slowed by collections.
 */
public final class Memory {
    /** Alignment of every allocation (one AVX-512 vector / cache line). */
    public static final int ALIGNMENT = 64;
    /**
     * Host allocations of at least this many bytes start at one of four offsets within their 4 KiB page (0, 1, 2 or 3
     * KiB, in turn), not all at the same one: see {@link #allocateHost}.
     */
    public static final long COLOR_MIN_BYTES = 64 << 10;
    /** The page size and the step between the offsets of {@link #COLOR_MIN_BYTES} allocations. */
    static final int PAGE = 4096, COLOR_STEP = 1024;
    /** System property: bytes of owned tensors after which a garbage collection is requested. */
    public static final String GC_BYTES_PROPERTY = "layernorm4j.gc.bytes";

    private static final AtomicLong LIVE = new AtomicLong();
    private static final AtomicInteger COLOR = new AtomicInteger();
    private static final java.util.concurrent.ConcurrentHashMap<Long, long[]> BLOCKS =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final AtomicLong OWNED = new AtomicLong();
    private static final long GC_BYTES = gcBytes();
    private static volatile long gcAt = GC_BYTES;

    static {
        // Pointer.malloc/free/memcpy are JavaCPP natives (jnijavacpp): load them with our own libraries, so a
        // program whose first call is Tensor.of works.
        Natives.loadCpu();
    }

    private Memory() {}

    private static long gcBytes() {
        String p = System.getProperty(GC_BYTES_PROPERTY);
        if (p == null || p.trim().isEmpty()) return 256L << 20;
        try {
            long v = Long.parseLong(p.trim());
            if (v > 0) return v;
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException("system property " + GC_BYTES_PROPERTY + "='" + p
                + "' must be a positive number of bytes");
    }

    /** A non-owning JavaCPP view of {@code bytes} at {@code address}; capacity and limit in bytes. */
    public static BytePointer view(long address, long bytes) {
        return new Raw(address, bytes);
    }

    private static final class Raw extends BytePointer {
        Raw(long address, long bytes) {
            super((Pointer) null);
            this.address = address;
            this.position = 0;
            this.limit = bytes;
            this.capacity = bytes;
        }

        static long bufferAddress(Buffer b) {
            return getDirectBufferAddress(b);
        }
    }

    /** Native address of element 0 of a direct buffer (not of its position). */
    public static long address(Buffer directBuffer) {
        long a = Raw.bufferAddress(directBuffer);
        if (a == 0) throw new IllegalArgumentException("buffer has no native address: " + directBuffer);
        return a;
    }

    /** A native-order ByteBuffer over {@code bytes} (at most 2^31-1) at {@code address}. */
    public static ByteBuffer buffer(long address, long bytes) {
        if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer of " + bytes + " bytes exceeds 2^31-1");
        return view(address, bytes).capacity(bytes).limit(bytes).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /**
     * malloc(bytes + alignment) aligned up; throws OutOfMemoryError when malloc fails. Allocations of at least
     * {@link #COLOR_MIN_BYTES} take a page more and start at 0, 1, 2 or 3 KiB into a page, in turn ("page colours"):
     * large mallocs all start at the same offset in their pages, so the tensors of one call (x, residual, y,
     * residual_out) would too, and with streaming stores the fused residual forward then ran at about half its speed
     * (AMD EPYC Zen 3, 1024 x 4096, 1 thread, C driver: 16 GB/s at the same offset, 30 GB/s 1 KiB apart; 2 threads
     * 29 and 63 GB/s; the plain forward 23 and 29 GB/s with x and y apart; the backward unchanged). Always 64-byte
     * aligned.
     */
    public static long allocateHost(long bytes) {
        boolean color = bytes >= COLOR_MIN_BYTES;
        long n = Math.max(bytes, 1) + (color ? PAGE : ALIGNMENT);
        Pointer p = Pointer.malloc(n);
        if (p == null || p.isNull()) throw new OutOfMemoryError("native malloc of " + n + " bytes failed");
        long base = p.address();
        long aligned;
        if (color) {
            long offset = (long) (COLOR.getAndIncrement() & 3) * COLOR_STEP;  // the wanted offset in the page
            aligned = base + ((offset - base) & (PAGE - 1));
        } else {
            aligned = (base + ALIGNMENT - 1) & -ALIGNMENT;
        }
        BLOCKS.put(aligned, new long[] {base, n});
        LIVE.addAndGet(n);
        return aligned;
    }

    /** Frees an address returned by {@link #allocateHost}. */
    public static void freeHost(long aligned) {
        long[] b = BLOCKS.remove(aligned);
        if (b == null) throw new IllegalStateException("free of an unknown address 0x" + Long.toHexString(aligned));
        Pointer.free(new Raw(b[0], b[1]));
        LIVE.addAndGet(-b[1]);
    }

    /** Bytes of host memory currently allocated by LayerNorm4j tensors (padding included). */
    public static long liveHostBytes() {
        return LIVE.get();
    }

    /** Bytes held by owned tensors on every device, closed or collected ones excluded. */
    public static long ownedBytes() {
        return OWNED.get();
    }

    /** Counts {@code bytes} about to be allocated for an owned tensor; may first ask for a garbage collection. */
    public static void reserve(long bytes) {
        if (OWNED.addAndGet(bytes) > gcAt) collect(false);
    }

    /** Uncounts {@code bytes} of an owned tensor that was freed (or never allocated). */
    public static void unreserve(long bytes) {
        long now = OWNED.addAndGet(-bytes);
        long at = gcAt;
        if (at > GC_BYTES && now < at / 4) gcAt = Math.max(GC_BYTES, 2 * now);
    }

    /**
     * Asks for a garbage collection, so that the cleaner frees unclosed, unreachable tensors, and waits until the
     * freeing stops (at most about 100 ms); then moves the threshold to twice what is still held. Called when an
     * allocation failed, before its one retry.
     */
    public static void collect() {
        collect(true);
    }

    private static synchronized void collect(boolean force) {
        if (!force && OWNED.get() <= gcAt) return;  // another thread collected while this one waited for the lock
        System.gc();
        long deadline = System.nanoTime() + 100_000_000L;
        long last = Long.MAX_VALUE;
        int still = 0;
        // the cleaner thread frees what the collection found; on a busy machine it may start late, so wait until
        // the count is well under the base threshold or has stopped falling for 10 ms
        while (System.nanoTime() < deadline && still < 10 && last > GC_BYTES / 2) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long now = OWNED.get();
            still = now < last ? 0 : still + 1;
            last = now;
        }
        gcAt = Math.max(GC_BYTES, 2 * OWNED.get());
    }

    /** memcpy. */
    public static void copy(long src, long dst, long bytes) {
        if (bytes > 0) Pointer.memcpy(new Raw(dst, bytes), new Raw(src, bytes), bytes);
    }
}

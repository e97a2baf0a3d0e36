package org.layernorm4j.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/** Host memory helpers: aligned malloc/free with a live-bytes counter, and buffer views of raw addresses. */
public final class Memory {
    /** Alignment of every allocation (one AVX-512 vector / cache line). */
    public static final int ALIGNMENT = 64;
    private static final AtomicLong LIVE = new AtomicLong();
    private static final java.util.concurrent.ConcurrentHashMap<Long, long[]> BLOCKS =
            new java.util.concurrent.ConcurrentHashMap<>();

    static {
        // Pointer.malloc/free/memcpy are JavaCPP natives (jnijavacpp): load them with our own libraries, so a
        // program whose first call is Tensor.of works.
        Natives.loadCpu();
    }

    private Memory() {}

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
    }

    /** A native-order ByteBuffer over {@code bytes} (at most 2^31-1) at {@code address}. */
    public static ByteBuffer buffer(long address, long bytes) {
        if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer of " + bytes + " bytes exceeds 2^31-1");
        return view(address, bytes).capacity(bytes).limit(bytes).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** malloc(bytes + alignment) aligned up; throws OutOfMemoryError when malloc fails. */
    public static long allocateHost(long bytes) {
        long n = Math.max(bytes, 1) + ALIGNMENT;
        Pointer p = Pointer.malloc(n);
        if (p == null || p.isNull()) throw new OutOfMemoryError("native malloc of " + n + " bytes failed");
        long base = p.address();
        long aligned = (base + ALIGNMENT - 1) & -ALIGNMENT;
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

    /** memcpy. */
    public static void copy(long src, long dst, long bytes) {
        if (bytes > 0) Pointer.memcpy(new Raw(dst, bytes), new Raw(src, bytes), bytes);
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.internal.Memory;

/** No native memory growth over 10^5 calls, and every allocating call's results free what they took. */
class MemoryTest {
    @Test
    void noGrowthOver100kCalls() {
        LayerNorm ln = LayerNorm.builder(768).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 1, 768), 1, 768); Tensor g = Tensor.of(Data.gamma(2, 768), 768);
                Tensor b = Tensor.of(Data.beta(3, 768), 768); Tensor dy = Tensor.of(Data.offCentre(4, 1, 768), 1, 768);
                Tensor y = Data.poisoned(DType.FLOAT32, 1, 768); Tensor mean = Data.poisoned(DType.FLOAT32, 1);
                Tensor rstd = Data.poisoned(DType.FLOAT32, 1); Tensor dx = Data.poisoned(DType.FLOAT32, 1, 768);
                Tensor dg = Data.poisoned(DType.FLOAT32, 768); Tensor db = Data.poisoned(DType.FLOAT32, 768)) {
            LayerNorm.Forward f0 = Data.fwd(y, mean, rstd);
            LayerNorm.Gradients g0 = Data.grads(dx, dg, db);
            for (int i = 0; i < 10_000; i++) ln.forward(x, g, b, f0); // warm-up (JIT, thread pool)
            settle();
            long live0 = Memory.liveHostBytes();
            long rss0 = Pointer.physicalBytes();
            for (int i = 0; i < 100_000; i++) {
                ln.forward(x, g, b, f0);
                ln.backward(dy, f0, x, g, g0);
            }
            long rss1 = Pointer.physicalBytes();
            assertEquals(live0, Memory.liveHostBytes(), "live tensor bytes after 10^5 into-output calls");
            // A leak of even 8 bytes per call would show as >= 1.6 MB; allow 8 MB of RSS noise (JIT, GC, malloc).
            assertTrue(rss1 - rss0 < 8 << 20, "resident memory grew by " + (rss1 - rss0) + " bytes over 10^5 calls");
            long before = Memory.liveHostBytes();
            for (int i = 0; i < 20_000; i++) {
                try (LayerNorm.Forward f = ln.forward(x, g, b); LayerNorm.Gradients gr = ln.backward(dy, f, x, g)) {
                    assertEquals(1, f.mean().numel());
                }
            }
            assertEquals(before, Memory.liveHostBytes(), "live tensor bytes after 2x10^4 allocating calls, closed");
        }
    }

    /**
     * Lets the safety net free what earlier tests dropped without closing (a collection, then the cleaner), so that
     * exact live-byte comparisons see only this test's tensors.
     */
    static void settle() {
        long last = -1;
        for (int i = 0; i < 50 && Memory.ownedBytes() != last; i++) {
            last = Memory.ownedBytes();
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Large host blocks start at 0, 1, 2 or 3 KiB into a page, in turn (Memory.allocateHost); all 64-byte aligned. */
    @Test
    void largeHostBlocksTakeTurnsAtFourPageOffsets() {
        long bytes = Memory.COLOR_MIN_BYTES + 100;
        long[] a = new long[8];
        java.util.Set<Long> offsets = new java.util.HashSet<>();
        long live = Memory.liveHostBytes();
        for (int i = 0; i < a.length; i++) {
            a[i] = Memory.allocateHost(bytes);
            assertEquals(0, a[i] % 64, "64-byte aligned");
            assertEquals(0, (a[i] & 4095) % 1024, "at a multiple of 1 KiB into its page: 0x" + Long.toHexString(a[i]));
            offsets.add(a[i] & 4095);
            java.nio.ByteBuffer first = Memory.buffer(a[i], 1), last = Memory.buffer(a[i] + bytes - 1, 1);
            first.put(0, (byte) 1);  // both ends are inside the block
            last.put(0, (byte) 2);
        }
        // Eight in a row take every offset twice; other threads allocating meanwhile can only shift the turns.
        assertTrue(offsets.size() >= 2, "page offsets of 8 large blocks: " + offsets);
        long small = Memory.allocateHost(1000);
        assertEquals(0, small % 64, "small blocks 64-byte aligned");
        Memory.freeHost(small);
        for (long x : a) Memory.freeHost(x);
        assertEquals(live, Memory.liveHostBytes(), "every block freed");
    }

    @Test
    void closeIsIdempotentAndFrees() {
        settle();
        long before = Memory.liveHostBytes();
        Tensor t = Tensor.empty(DType.FLOAT64, Device.cpu(), 1000);
        assertTrue(Memory.liveHostBytes() >= before + 8000);
        t.close();
        t.close();
        assertEquals(before, Memory.liveHostBytes());
    }
}

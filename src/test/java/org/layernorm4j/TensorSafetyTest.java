package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Random;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.layernorm4j.internal.Backend;
import org.layernorm4j.internal.CloseFailures;
import org.layernorm4j.internal.Halfs;
import org.layernorm4j.internal.Memory;

/**
 * What wrap checks (freed owner Pointer, unknown or wrong sizes, misaligned addresses, NIO buffers, raw addresses),
 * copies into existing arrays and tensors, chunked copies, and that close never throws.
 */
class TensorSafetyTest {
    static <T extends Throwable> T expect(Class<T> type, Executable call, String... parts) {
        T e = assertThrows(type, call);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
        return e;
    }

    @Test
    void wrappedPointerClosedByItsOwnerIsRefused() {
        LayerNorm ln = LayerNorm.builder(4).elementwiseAffine(false).build();
        FloatPointer xs = new FloatPointer(1f, 2f, 3f, 4f);
        try (Tensor x = Tensor.wrap(xs, DType.FLOAT32, Device.cpu(), 4); Tensor y = Tensor.empty(DType.FLOAT32, Device.cpu(), 4)) {
            ln.forward(x, null, null, Data.fwd(y, null, null));
            xs.close();  // the owner frees the memory the tensor views
            expect(IllegalStateException.class, () -> ln.forward(x, null, null, Data.fwd(y, null, null)), "x", "owner has freed");
            expect(IllegalStateException.class, x::toFloatArray, "owner has freed");
            expect(IllegalStateException.class, () -> x.copyFrom(new float[4]), "owner has freed");
            expect(IllegalStateException.class, () -> x.to(Device.cpu()), "owner has freed");
            expect(IllegalStateException.class, () -> x.fill(0), "owner has freed");
            assertFalse(x.isClosed(), "the tensor itself was not closed");
        }
    }

    @Test
    void wrapOfUnknownOrWrongSizeIsRefused() {
        Pointer m = Pointer.malloc(16);  // capacity 0: the size is unknown
        try {
            assertEquals(0, m.capacity());
            expect(IllegalArgumentException.class, () -> Tensor.wrap(m, DType.FLOAT32, Device.cpu(), 1024),
                    "size is unknown", "Tensor.wrap(memory, bytes");
            expect(IllegalArgumentException.class, () -> Tensor.wrap(m, DType.FLOAT32, Device.cpu(), 4),
                    "size is unknown");
            expect(IllegalArgumentException.class, () -> Tensor.wrap(m, 16, DType.FLOAT32, Device.cpu(), 1024),
                    "holds 16 bytes", "4096");
            try (Tensor t = Tensor.wrap(m, 16, DType.FLOAT32, Device.cpu(), 4)) {
                t.copyFrom(new float[] {1, 2, 3, 4});
                assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
            }
            expect(IllegalArgumentException.class, () -> Tensor.wrap(m, -1, DType.FLOAT32, Device.cpu(), 1), "bytes", "-1");
        } finally {
            Pointer.free(m);
        }
        try (FloatPointer p = new FloatPointer(4)) {
            p.limit(1000);  // limit beyond capacity: the size is inconsistent
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p, DType.FLOAT32, Device.cpu(), 1000),
                    "limit 1000 exceeds its capacity 4");
            p.limit(4);
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p, 17, DType.FLOAT32, Device.cpu(), 4),
                    "bytes 17 exceed the 16 bytes");
            p.position(5);
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p, DType.FLOAT32, Device.cpu(), 0), "position 5");
        }
    }

    @Test
    void misalignedAddressesAreRefused() {
        try (BytePointer p = new BytePointer(64)) {
            for (DType dt : DType.values()) {
                if (dt.size() == 1) continue;
                expect(IllegalArgumentException.class, () -> Tensor.wrap(p.position(1), dt, Device.cpu(), 2),
                        "not aligned to " + dt.size() + " bytes", dt.toString());
                expect(IllegalArgumentException.class, () -> Tensor.wrap(p.address() + 1, 32, dt, Device.cpu(), 2),
                        "not aligned");
                // device memory too: refused before anything reaches CUDA
                expect(IllegalArgumentException.class, () -> Tensor.wrap(p.address() + 1, 32, dt, Device.cuda(0), 2),
                        "not aligned");
            }
            try (Tensor ok = Tensor.wrap(p.position(8), DType.FLOAT64, Device.cpu(), 2)) {
                assertEquals(p.address() + 8, ok.address());
            }
        }
    }

    @Test
    void rawAddressWrap() {
        try (FloatPointer p = new FloatPointer(1f, 2f, 3f, 4f)) {
            expect(IllegalArgumentException.class, () -> Tensor.wrap(0L, 16, DType.FLOAT32, Device.cpu(), 4), "address is 0");
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p.address(), 15, DType.FLOAT32, Device.cpu(), 4),
                    "bytes is 15", "needs 16");
            try (Tensor t = Tensor.wrap(p.address(), 16, DType.FLOAT32, Device.cpu(), 2, 2)) {
                assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
                assertFalse(t.ownsMemory());
            }
        }
    }

    @Test
    void directBuffersWrapWithoutCopy() {
        LayerNorm ln = LayerNorm.builder(4).elementwiseAffine(false).build();
        FloatBuffer xb = ByteBuffer.allocateDirect(4 * 6).order(ByteOrder.nativeOrder()).asFloatBuffer();
        xb.put(new float[] {9, 1, 2, 3, 4, 9}).position(1).limit(5);
        FloatBuffer yb = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try (Tensor x = Tensor.wrap(xb, 4); Tensor y = Tensor.wrap(yb, 4)) {
            ln.forward(x, null, null, Data.fwd(y, null, null));
            double rstd = 1 / Math.sqrt(1.25 + 1e-5);
            assertEquals(-1.5 * rstd, yb.get(0), 1e-6, "the kernel wrote into the buffer");
            assertEquals(1.5 * rstd, yb.get(3), 1e-6);
            assertEquals(1f, x.toFloatArray()[0], "wrap starts at the buffer's position");
        }
        ByteBuffer bb = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
        try (Tensor t = Tensor.wrap(bb, DType.BFLOAT16, 4, 8)) {
            t.copyFrom(new short[32]);
            assertEquals(DType.BFLOAT16, t.dtype());
        }
        try (Tensor t = Tensor.wrap(bb.asDoubleBuffer(), DType.FLOAT64, 8)) {
            t.fill(2.5);
            assertEquals(2.5, bb.getDouble(56));
        }
        ShortBuffer sb = bb.asShortBuffer();
        try (Tensor t = Tensor.wrap(sb, DType.FLOAT16, 32)) {
            assertEquals(32, t.numel());
        }
        expect(IllegalArgumentException.class, () -> Tensor.wrap(FloatBuffer.allocate(4), 4), "direct buffer", "heap");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(ByteBuffer.allocateDirect(16), DType.FLOAT32, 4),
                "byte order is BIG_ENDIAN", "nativeOrder");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(bb.asReadOnlyBuffer(), DType.FLOAT32, 4), "read-only");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(bb.asFloatBuffer(), 17), "64 bytes remaining", "68");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(bb.asFloatBuffer(), DType.FLOAT64, 2), "FloatBuffer holds FLOAT32");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(bb.position(1), DType.FLOAT32, 2), "not aligned");
        expect(NullPointerException.class, () -> Tensor.wrap((FloatBuffer) null, 4), "buffer");
    }

    @Test
    void directBufferStaysReachableWhileWrapped() throws Exception {
        // the tensor alone must keep the buffer's memory alive across collections
        Tensor t = Tensor.wrap(ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.nativeOrder()).asFloatBuffer(), 1 << 18);
        t.fill(3);
        for (int i = 0; i < 3; i++) {
            System.gc();
            byte[][] churn = new byte[64][];
            for (int k = 0; k < churn.length; k++) churn[k] = new byte[1 << 16];
            Thread.sleep(10);
        }
        float[] v = t.toFloatArray();
        assertEquals(3f, v[0]);
        assertEquals(3f, v[v.length - 1]);
        t.close();
    }

    @Test
    void copiesIntoExistingArraysAndTensors() {
        Random rnd = new Random(5);
        float[] f = new float[777];
        double[] d = new double[777];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (rnd.nextGaussian() * 100);
            d[i] = rnd.nextGaussian() * 1e5;
        }
        for (DType dt : DType.values()) {
            try (Tensor t = Tensor.empty(dt, Device.cpu(), 7, 111)) {
                assertSame(t, t.copyFrom(f));
                float[] back = new float[777];
                assertSame(back, t.copyTo(back));
                try (Tensor ref = Tensor.of(f, dt, 7, 111)) {
                    assertArrayEquals(ref.toFloatArray(), back, dt + ": copyFrom(float[]) = Tensor.of");
                }
                t.copyFrom(d);
                double[] db = t.copyTo(new double[777]);
                for (int i = 0; i < d.length; i++) {
                    double want;
                    switch (dt) {
                        case FLOAT64: want = d[i]; break;
                        case FLOAT32: want = (float) d[i]; break;
                        default: want = Halfs.toFloat(Halfs.fromDouble(d[i], dt == DType.BFLOAT16), dt == DType.BFLOAT16);
                    }
                    assertEquals(want, db[i], dt + " element " + i);
                }
                expect(IllegalArgumentException.class, () -> t.copyFrom(new float[776]), "src has 776 elements", "777");
                expect(IllegalArgumentException.class, () -> t.copyTo(new double[778]), "dst has 778 elements");
                expect(NullPointerException.class, () -> t.copyFrom((float[]) null), "src");
                if (dt.size() == 2) {
                    short[] bits = t.copyTo(new short[777]);
                    try (Tensor u = Tensor.empty(dt, Device.cpu(), 777).copyFrom(bits)) {
                        assertArrayEquals(bits, u.toBits());
                    }
                } else {
                    expect(IllegalStateException.class, () -> t.copyFrom(new short[777]), "BFLOAT16 or FLOAT16");
                    expect(IllegalStateException.class, () -> t.copyTo(new short[777]), "BFLOAT16 or FLOAT16");
                }
            }
        }
        Tensor closed = Tensor.empty(DType.FLOAT32, Device.cpu(), 3);
        closed.close();
        expect(IllegalStateException.class, () -> closed.copyFrom(new float[3]), "closed");
        expect(IllegalStateException.class, () -> closed.copyTo(new float[3]), "closed");
    }

    @Test
    void doubleToHalfRoundsOnce() {
        // 1 + 2^-8 + 2^-30 is just above a bfloat16 tie: rounding via float32 (1 + 2^-8, a tie) would go down to 1
        double d = 1 + 0x1p-8 + 0x1p-30;
        assertEquals(Halfs.floatToBf16(1f + 0x1p-7f), Halfs.fromDouble(d, true));
        assertEquals(Halfs.floatToBf16(1f), Halfs.fromDouble(1 + 0x1p-8, true), "an exact tie still goes to even");
        assertEquals((short) 0x7f80, Halfs.fromDouble(1e300, true));
        // just above half the smallest bfloat16 subnormal (2^-133): float32 would drop the 2^-160 and make a tie
        assertEquals((short) 0x0001, Halfs.fromDouble(0x1p-134 + 0x1p-160, true), "tiny values keep their sticky bit");
        assertEquals((short) 0x0000, Halfs.fromDouble(0x1p-134, true), "the exact tie goes to even (zero)");
    }

    @Test
    void chunkedCopiesAndFill() {
        int saved = Tensor.chunkBytes;
        Tensor.chunkBytes = 64;  // many chunks, a short last one
        try {
            float[] f = new float[1000];
            for (int i = 0; i < f.length; i++) f[i] = i * 0.5f - 7;
            for (DType dt : DType.values()) {
                try (Tensor t = Tensor.of(f, dt, 1000)) {
                    float[] back = t.toFloatArray();
                    try (Tensor one = Tensor.empty(dt, Device.cpu(), 1000)) {
                        Tensor.chunkBytes = 1 << 24;
                        one.copyFrom(f);
                        assertArrayEquals(one.toFloatArray(), back, dt + ": chunked = single copy");
                        Tensor.chunkBytes = 64;
                    }
                    t.fill(-3.25);
                    for (float v : t.toFloatArray()) assertEquals(-3.25f, v, dt.toString());
                    double[] dd = t.toDoubleArray();
                    assertEquals(-3.25, dd[999]);
                }
            }
        } finally {
            Tensor.chunkBytes = saved;
        }
    }

    /** A stand-in "CUDA" device whose memory is host memory: runs the device code paths without a GPU. */
    static class HostBackedDevice implements Backend {
        @Override public long allocate(long bytes) { return Memory.allocateHost(bytes); }
        @Override public void free(long address) { Memory.freeHost(address); }
        @Override public void copyFromHost(long h, long d, long b) { Memory.copy(h, d, b); }
        @Override public void copyToHost(long d, long h, long b) { Memory.copy(d, h, b); }
        @Override public void copyWithin(long s, long d, long b) { Memory.copy(s, d, b); }
        @Override public int forward(int t, int n, int f, int xd, int pd, long r, long c, double e, long x, long res,
                long g, long b, long y, long ro, long m, long rs) { return 0; }
        @Override public int backward(int t, int n, int f, int xd, int pd, long r, long c, long dy, long dro, long x,
                long m, long rs, long g, long b, long dx, long dg, long db) { return 0; }
        @Override public String lastError() { return ""; }

        Device device(int ordinal) throws Exception {
            Constructor<Device> make = Device.class.getDeclaredConstructor(Device.Kind.class, int.class, Backend.class);
            make.setAccessible(true);
            return make.newInstance(Device.Kind.CUDA, ordinal, this);
        }
    }

    @Test
    void deviceTensorsAreStagedInChunks() throws Exception {
        Device dev = new HostBackedDevice().device(78), other = new HostBackedDevice().device(79);
        int saved = Tensor.chunkBytes;
        Tensor.chunkBytes = 96;  // several stage-sized chunks and a short last one
        try {
            float[] f = new float[1001];
            for (int i = 0; i < f.length; i++) f[i] = i * 0.25f - 50;
            for (DType dt : DType.values()) {
                try (Tensor host = Tensor.of(f, dt, 7, 143); Tensor d = Tensor.empty(dt, dev, 7, 143)) {
                    d.copyFrom(f);
                    assertArrayEquals(host.toFloatArray(), d.toFloatArray(), dt + ": copyFrom/copyTo through the stage");
                    assertArrayEquals(host.toDoubleArray(), d.copyTo(new double[1001]), dt.toString());
                    try (Tensor back = d.to(Device.cpu()); Tensor again = back.to(dev); Tensor twin = again.to(dev);
                            Tensor moved = twin.to(other)) {
                        assertArrayEquals(Data.bytes(host), Data.bytes(back), dt + ": to(cpu)");
                        assertArrayEquals(host.toFloatArray(), twin.toFloatArray(), dt + ": to(device)");
                        assertArrayEquals(host.toFloatArray(), moved.toFloatArray(), dt + ": to(another device)");
                    }
                    d.fill(6.5);
                    for (float v : d.toFloatArray()) assertEquals(6.5f, v, dt + ": fill reaches every chunk");
                }
            }
        } finally {
            Tensor.chunkBytes = saved;
        }
    }

    @Test
    void closeNeverThrowsAndRecordsTheFailure() throws Exception {
        // a device whose free fails, as a lost CUDA context does: close must not throw, and the failure is kept
        Device lost = new HostBackedDevice() {
            @Override public void free(long address) {
                throw new LayerNormException(LayerNormException.CUDA, "cudaFree failed: an illegal memory access was encountered");
            }
        }.device(77);
        long owned = Memory.ownedBytes();
        Tensor t = Tensor.empty(DType.FLOAT32, lost, 16);
        t.close();  // must not throw
        t.close();
        assertTrue(t.isClosed());
        String first = CloseFailures.first("cuda:77");
        assertNotNull(first, "the failed free is recorded");
        assertTrue(first.contains("illegal memory access"), first);
        assertEquals(owned, Memory.ownedBytes(), "the block is no longer counted");
    }

    @Test
    void closeFromManyThreadsFreesOnce() throws Exception {
        long live = Memory.liveHostBytes();
        for (int k = 0; k < 200; k++) {
            Tensor t = Tensor.empty(DType.FLOAT32, Device.cpu(), 256);
            Thread[] ts = new Thread[4];
            for (int i = 0; i < ts.length; i++) (ts[i] = new Thread(t::close)).start();
            for (Thread th : ts) th.join();
        }
        assertEquals(live, Memory.liveHostBytes());
    }
}

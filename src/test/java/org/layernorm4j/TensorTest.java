package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.internal.Halfs;
import org.layernorm4j.internal.Memory;

/** Tensor creation, copies, conversions, wrapping and ownership; Device values. */
class TensorTest {
    @Test
    void roundTrips() {
        float[] f = {1.5f, -2f, 3.25f, 1e-3f, 7f, 8f};
        try (Tensor t = Tensor.of(f, 2, 3); Tensor c = t.to(Device.cpu())) {
            assertArrayEquals(f, t.toFloatArray());
            assertArrayEquals(f, c.toFloatArray());
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(DType.FLOAT32, t.dtype());
            assertSame(Device.cpu(), t.device());
            assertEquals(0, t.address() % Memory.ALIGNMENT, "64-byte aligned");
            long[] s = t.shape();
            s[0] = 99;
            assertArrayEquals(new long[] {2, 3}, t.shape(), "shape() returns a copy");
        }
        double[] d = {Math.PI, -Math.E, 1e300};
        try (Tensor t = Tensor.of(d, 3)) {
            assertArrayEquals(d, t.toDoubleArray());
        }
        try (Tensor scalar = Tensor.of(new float[] {4f})) {
            assertEquals(0, scalar.rank());
            assertEquals(1, scalar.numel());
        }
    }

    @Test
    void sixteenBitBitsAndConversions() {
        short[] bits = {0x3f80, (short) 0xbf80, 0x4049, 0x7f80};
        try (Tensor t = Tensor.ofBits(bits, DType.BFLOAT16, 4)) {
            assertArrayEquals(bits, t.toBits());
            assertArrayEquals(new float[] {1f, -1f, 3.140625f, Float.POSITIVE_INFINITY}, t.toFloatArray());
        }
        try (Tensor t = Tensor.of(new float[] {1f, 0.5f, -65504f, 1e-7f}, DType.FLOAT16, 4)) {
            assertArrayEquals(new short[] {0x3c00, 0x3800, (short) 0xfbff, 0x0002}, t.toBits());
        }
        // round to nearest even, exhaustively against the widening conversion
        for (int h = 0; h < 0x10000; h++) {
            short s = (short) h;
            float f = Halfs.f16ToFloat(s);
            if (!Float.isNaN(f)) assertEquals(s, Halfs.floatToF16(f), "f16 " + Integer.toHexString(h));
            float g = Halfs.bf16ToFloat(s);
            if (!Float.isNaN(g)) assertEquals(s, Halfs.floatToBf16(g), "bf16 " + Integer.toHexString(h));
        }
        assertEquals((short) 0x3f80, Halfs.floatToBf16(Float.intBitsToFloat(0x3f808000))); // tie to even (down)
        assertEquals((short) 0x3f82, Halfs.floatToBf16(Float.intBitsToFloat(0x3f818000))); // tie to even (up)
    }

    @Test
    void wrapDoesNotOwn() {
        try (FloatPointer p = new FloatPointer(1f, 2f, 3f, 4f)) {
            long live = Memory.liveHostBytes();
            Tensor t = Tensor.wrap(p, DType.FLOAT32, Device.cpu(), 2, 2);
            assertFalse(t.ownsMemory());
            assertEquals(live, Memory.liveHostBytes());
            assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
            t.close();
            t.close();
            assertTrue(t.isClosed());
            assertEquals(2f, p.get(1), "memory still alive after closing the wrapper");
            try (Tensor v = Tensor.wrap(p.position(2), DType.FLOAT32, Device.cpu(), 2)) {
                assertArrayEquals(new float[] {3, 4}, v.toFloatArray(), "wrap starts at the Pointer's position");
            }
        }
    }

    @Test
    void layerNormWritesIntoWrappedMemory() {
        try (FloatPointer xs = new FloatPointer(1f, 2f, 3f, 4f); FloatPointer ys = new FloatPointer(4);
                Tensor x = Tensor.wrap(xs, DType.FLOAT32, Device.cpu(), 4);
                Tensor y = Tensor.wrap(ys, DType.FLOAT32, Device.cpu(), 4)) {
            LayerNorm.builder(4).elementwiseAffine(false).build().forward(x, null, null, Data.fwd(y, null, null));
            double rstd = 1 / Math.sqrt(1.25 + 1e-5);
            assertEquals(-1.5 * rstd, ys.get(0), 1e-6);
            assertEquals(1.5 * rstd, ys.get(3), 1e-6);
        }
    }

    @Test
    void devices() {
        assertEquals(Device.cuda(1), Device.cuda(1));
        assertEquals("cuda:1", Device.cuda(1).toString());
        assertEquals("cpu", Device.cpu().toString());
        assertEquals(Device.cudaAvailable() ? Device.cuda(0) : Device.cpu(), Device.best());
        assertEquals(Device.cudaAvailable(), Device.cudaUnavailableReason().isEmpty());
    }
}

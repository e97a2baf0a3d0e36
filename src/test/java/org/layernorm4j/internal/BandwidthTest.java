package org.layernorm4j.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNormException;
import org.layernorm4j.Tensor;

/** The bandwidth probes the CLI's bench and JMH time their ceilings with: they move the bytes, and say what is wrong. */
class BandwidthTest {
    @Test
    void everyKindMovesTheSharesOfAShape() {
        Bandwidth.Shares sh = new Bandwidth.Shares(3, 100);
        assertEquals(4 * (300 + 3), sh.fwdSet);
        assertEquals(4 * (3 * 300 + 2 * 3) / 12 * 4, sh.bwdSet);
        assertEquals(400, sh.fwdHot);
        float[] av = new float[(int) sh.setFloats], bv = new float[(int) sh.setFloats];
        for (int i = 0; i < av.length; i++) {
            av[i] = i * 0.5f - 7;
            bv[i] = 3 - i * 0.25f;
        }
        try (Tensor a = Tensor.of(av, av.length); Tensor b = Tensor.of(bv, bv.length);
                Tensor d = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats);
                Tensor hot = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.hotFloats).fill(1)) {
            for (Bandwidth.Kind kind : Bandwidth.Kind.values()) {
                for (int threads : new int[] {1, 2}) {
                    d.fill(Double.NaN);
                    sh.forward(kind, a.address(), d.address(), hot.address(), threads);
                    float[] got = d.toFloatArray();
                    int n = (int) (sh.fwdSet / 4);
                    for (int i = 0; i < n; i++) assertEquals(av[i], got[i], kind + " forward " + i);
                    assertTrue(Float.isNaN(got[n]), kind + ": forward wrote past its share");
                    d.fill(Double.NaN);
                    sh.backward(kind, a.address(), b.address(), d.address(), hot.address(), threads);
                    got = d.toFloatArray();
                    n = (int) (sh.bwdSet / 4);
                    int m = kind == Bandwidth.Kind.MEMCPY ? n * 3 / 2 : n;
                    for (int i = 0; i < m; i++) {
                        assertEquals(kind == Bandwidth.Kind.MEMCPY ? av[i] : av[i] + bv[i], got[i], kind + " backward " + i);
                    }
                    assertTrue(Float.isNaN(got[m]), kind + ": backward wrote past its share");
                }
            }
            assertTrue(Bandwidth.Kind.STREAM.label().contains("non-temporal"), Bandwidth.Kind.STREAM.label());
        }
    }

    @Test
    void badArgumentsAreRefusedWithTheirName() {
        try (Tensor a = Tensor.empty(DType.FLOAT32, Device.cpu(), 16).fill(1);
                Tensor d = Tensor.empty(DType.FLOAT32, Device.cpu(), 16).fill(0)) {
            LayerNormException e = assertThrows(LayerNormException.class,
                    () -> Bandwidth.copy(Bandwidth.Kind.ORDINARY, d.address(), a.address(), 6, 1));
            assertTrue(e.getMessage().contains("bytes must be a multiple of 4") && e.getMessage().contains("got 6"),
                    e.getMessage());
            e = assertThrows(LayerNormException.class,
                    () -> Bandwidth.r2w1(Bandwidth.Kind.STREAM, d.address(), a.address(), 0, 16, 1));
            assertTrue(e.getMessage().contains("b must not be NULL"), e.getMessage());
            e = assertThrows(LayerNormException.class,
                    () -> Bandwidth.copy(Bandwidth.Kind.STREAM, d.address(), a.address(), 16, -1));
            assertTrue(e.getMessage().contains("threads must be >= 0"), e.getMessage());
            assertArrayEquals(new float[16], d.toFloatArray(), "a refused probe leaves dst untouched");
        }
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/** Shared shape arrays (Shapes): equal shapes share one array, no caller's array is shared, the table is bounded. */
class ShapesTest {
    @Test
    void equalShapesShareOneArrayThatNoCallerHolds() {
        long[] mine = {3, 40};
        try (Tensor a = Tensor.of(Data.offCentre(1, 3, 40), mine);
                Tensor b = Tensor.empty(DType.FLOAT32, Device.cpu(), 3, 40);
                Tensor c = Tensor.empty(DType.FLOAT32, Device.cpu(), 40, 3)) {
            assertSame(a.shapeRef(), b.shapeRef(), "equal shapes: one array");
            assertNotSame(mine, a.shapeRef(), "the caller's array is copied, not shared");
            assertArrayEquals(new long[] {40, 3}, c.shape());
            mine[0] = 7;  // the caller writes its own array after the fact
            long[] copy = a.shape();
            copy[1] = 9;  // and the copy shape() returned
            assertArrayEquals(new long[] {3, 40}, a.shape());
            assertArrayEquals(new long[] {3, 40}, b.shape());
            assertEquals(120, b.numel());
        }
    }

    @Test
    void fullTableKeepsNewShapesApartAndTheChecksStillCompareContents() {
        Shapes t = new Shapes(2);
        long[] a = {1, 2}, a2 = {1, 2}, b = {3}, c = {4, 5}, c2 = {4, 5};
        assertSame(a, t.get(a));
        assertSame(a, t.get(a2), "an equal shape gets the first array");
        assertSame(b, t.get(b));
        assertEquals(2, t.size());
        assertSame(c, t.get(c), "full: a new shape keeps its own array");
        assertSame(c2, t.get(c2));
        assertEquals(2, t.size(), "the table does not grow past its capacity");
        assertSame(a, t.get(new long[] {1, 2}), "shapes held before stay shared");
    }
}

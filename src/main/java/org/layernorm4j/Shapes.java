package org.layernorm4j;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One shared array per distinct tensor shape. A tensor's shape array is read by every call's argument checks; when
 * each tensor had its own, a call over tensors that are not in cache (a model cycling through many activations)
 * waited for one more memory round trip per tensor after loading the tensor itself (Tensor, then its shape array),
 * in a dependent chain. With one array per shape, those arrays stay in cache, and equal shapes are the same array
 * (Arrays.equals returns at its identity test).
 *
 * <p>Shape arrays are never written after a tensor is created (every factory clones the caller's array), so sharing
 * them is safe. The table is bounded: past its capacity (4096 distinct shapes for tensors), new shapes keep their own
 * arrays (the checks compare contents then, as before), so a program cycling through ever new shapes cannot grow it
 * without bound.
 */
final class Shapes {
    /** The table tensors use. */
    static final Shapes SHARED = new Shapes(4096);

    private final ConcurrentHashMap<Key, long[]> table = new ConcurrentHashMap<>();
    private final int capacity;

    Shapes(int capacity) {
        this.capacity = capacity;
    }

    /** The shared array equal to {@code shape} (which the caller owns and never writes again), or shape itself. */
    static long[] intern(long[] shape) {
        return SHARED.get(shape);
    }

    long[] get(long[] shape) {
        Key k = new Key(shape);
        long[] s = table.get(k);
        if (s != null) return s;
        if (table.size() >= capacity) return shape;  // full: this shape keeps its own array
        s = table.putIfAbsent(k, shape);
        return s != null ? s : shape;
    }

    /** Distinct shapes held. */
    int size() {
        return table.size();
    }

    private static final class Key {
        final long[] dims;
        final int hash;

        Key(long[] dims) {
            this.dims = dims;
            this.hash = Arrays.hashCode(dims);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key && Arrays.equals(dims, ((Key) o).dims);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}

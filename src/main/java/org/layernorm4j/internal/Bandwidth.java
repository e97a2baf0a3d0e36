package org.layernorm4j.internal;

import org.layernorm4j.LayerNormException;

/**
 * The library's memory-bandwidth probes ({@code ln4j_cpu_bandwidth_*}, native/src/cpu/bandwidth.cpp): the loops the
 * CLI's {@code bench}, JMH and native/bench time their ceilings with, on the threads the kernels run on. Raw
 * addresses: the caller owns the buffers and keeps them open for the call (benchmark code only).
 */
public final class Bandwidth {
    /** The five ways to move the bytes ({@code LN4J_BANDWIDTH_*}, same order); an honest ceiling is the fastest. */
    public enum Kind {
        ORDINARY, STREAM, PREFETCHED, STREAM_PREFETCHED, MEMCPY;

        /** "ordinary-store loop", "non-temporal-store loop", ... (the native name). */
        public String label() {
            return NativeCpu.ln4j_cpu_bandwidth_kind_name(ordinal());
        }
    }

    private Bandwidth() {}

    /** Copies {@code bytes} (a multiple of 4) from {@code src} to {@code dst} at {@code threads} (0 = default). */
    public static void copy(Kind kind, long dst, long src, long bytes, int threads) {
        check(NativeCpu.ln4j_cpu_bandwidth_copy(kind.ordinal(), dst, src, bytes, threads));
    }

    /**
     * {@code dst = a + b} over {@code bytes} of floats each; {@link Kind#MEMCPY} copies 1.5 x {@code bytes} from
     * {@code a} to {@code dst} instead (the same total), so {@code a} and {@code dst} must then hold that much.
     */
    public static void r2w1(Kind kind, long dst, long a, long b, long bytes, int threads) {
        check(NativeCpu.ln4j_cpu_bandwidth_r2w1(kind.ordinal(), dst, a, b, bytes, threads));
    }

    /**
     * The bytes a float32 layer-norm call of {@code rows x cols} moves, cut as native/bench cuts its ceilings' bytes:
     * the per-set share (x, y, dy, dx and the statistics: cold when buffer sets rotate) moves between a set's probe
     * buffers, the parameters' share (gamma, beta, dgamma, dbeta: one copy every call uses) within one hot region.
     * Forward (4 (2 n + 2 rows + 2 cols) bytes): a copy of each share; backward (4 (3 n + 2 rows + 3 cols)): read
     * two, write one of a third of each.
     */
    public static final class Shares {
        /** Bytes given to the probes: forward per set / hot, backward per set / hot. */
        public final long fwdSet, fwdHot, bwdSet, bwdHot;
        /** Floats each of a set's three probe buffers (a, b, dst) must hold; of the hot region. */
        public final long setFloats, hotFloats;
        private final long area;

        public Shares(long rows, long cols) {
            long n = rows * cols;
            fwdSet = 4 * (n + rows);
            fwdHot = 4 * cols;
            bwdSet = 4 * (3 * n + 2 * rows) / 12 * 4;
            bwdHot = 4 * cols;
            setFloats = Math.max(bwdSet * 3 / 2, fwdSet) / 4 + 16;  // 1.5 x: r2w1's memcpy kind
            area = (fwdHot * 3 / 2 + 63) / 64 * 16;
            hotFloats = 3 * area;
        }

        /** The forward's bytes moved once with {@code kind}: set buffers a -> dst, hot region area 0 -> 1. */
        public void forward(Kind kind, long a, long dst, long hot, int threads) {
            copy(kind, dst, a, fwdSet, threads);
            copy(kind, hot + 4 * area, hot, fwdHot, threads);
        }

        /** The backward's bytes moved once with {@code kind}: dst = a + b, hot area 2 = area 0 + area 1. */
        public void backward(Kind kind, long a, long b, long dst, long hot, int threads) {
            r2w1(kind, dst, a, b, bwdSet, threads);
            r2w1(kind, hot + 8 * area, hot, hot + 4 * area, bwdHot, threads);
        }
    }

    private static void check(int s) {
        if (s != 0) throw new LayerNormException(s, NativeCpu.ln4j_last_error());
    }
}

package org.layernorm4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.cli.Reference;

/**
 * Seeded random calls through the public API — shapes, dtypes, nulls, wrong arguments, wrapped memory, closes from
 * the calling thread and from a second thread — asserting for each: a clear exception (NullPointerException,
 * IllegalArgumentException, IllegalStateException, LayerNormException, with a message) or a result within the
 * float64 reference's bounds; never a crash; never a write outside the declared tensors (guard bytes around every
 * wrapped block are checked after every call). Runs in a child JVM, so a crash fails the test, not the build.
 */
class FuzzTest {
    @Test
    void randomCallsSeed1() throws Exception {
        run("1", "3000");
    }

    @Test
    void randomCallsSeed2() throws Exception {
        run("20261201", "3000");
    }

    static void run(String seed, String calls) throws Exception {
        Forked.run(FuzzTest.class, List.of("-Xmx512m"), 240, seed, calls).assertOk("fuzz seed " + seed).output.lines()
                .forEach(System.out::println);
    }

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        int calls = Integer.parseInt(args[1]);
        Fuzzer f = new Fuzzer(seed);
        AtomicBoolean stop = new AtomicBoolean();
        Random other = new Random(seed ^ 0x5DEECE66DL);
        Thread closer = new Thread(() -> {
            while (!stop.get()) {
                Tensor t = null;
                synchronized (f.pool) {
                    if (!f.pool.isEmpty()) t = f.pool.get(other.nextInt(f.pool.size()));
                }
                if (t != null && other.nextInt(4) == 0) t.close();
                long until = System.nanoTime() + other.nextInt(400_000);
                while (System.nanoTime() < until) Thread.onSpinWait();
            }
        }, "fuzz-closer");
        closer.start();
        String failure = null;
        int i = 0;
        try {
            for (; i < calls && failure == null; i++) failure = f.step();
        } catch (Throwable e) {
            failure = "step threw " + e;
            e.printStackTrace(System.out);
        }
        stop.set(true);
        closer.join();
        if (failure == null) failure = f.checkGuards(true);
        System.out.printf("seed %d: %d calls; %d results checked against the reference, %d other successes, %d clear "
                + "exceptions; steps by kind (forward, backward, io, wrap, close) %s%n", seed, i, f.checked, f.ok,
                f.clear, Arrays.toString(f.kinds));
        if (failure != null) {
            System.out.println("FAIL at call " + i + ": " + failure);
            System.exit(1);
        }
        System.exit(0);
    }

    /** The random caller: a pool of tensors, guarded arenas for wrapped ones, counters. */
    static final class Fuzzer {
        static final int[] COLS = {1, 2, 3, 8, 17, 64, 129};
        static final byte GUARD = (byte) 0xA5;

        final Random rnd;
        final List<Tensor> pool = new ArrayList<>();  // guarded by itself
        final List<long[]> guards = new ArrayList<>();  // {arena index, offset, length}
        final List<ByteBuffer> arenas = new ArrayList<>();
        ByteBuffer arena;
        int arenaUsed;
        int ok, clear, checked;
        final int[] kinds = new int[5];

        Fuzzer(long seed) {
            rnd = new Random(seed);
        }

        // ---- tensors ----------------------------------------------------------------------------------------------

        float[] values(int n) {
            float[] v = new float[n];
            double m = rnd.nextInt(10) - 3, s = 0.5 + 3 * rnd.nextDouble();
            for (int i = 0; i < n; i++) v[i] = (float) (m + s * rnd.nextGaussian());
            return v;
        }

        DType dtype() {
            return DType.values()[rnd.nextInt(4)];
        }

        /** A new tensor (owned, or wrapped in guarded memory) holding finite values. */
        Tensor make(DType dt, long... shape) {
            long n = Tensor.numel("shape", shape);
            Tensor t = rnd.nextInt(3) == 0 ? wrapped(dt, shape, n) : Tensor.empty(dt, Device.cpu(), shape);
            t.copyFrom(values((int) n));
            synchronized (pool) {
                pool.add(t);
                if (pool.size() > 48) pool.remove(0).close();
            }
            return t;
        }

        Tensor wrapped(DType dt, long[] shape, long n) {
            int bytes = (int) n * dt.size();
            if (arena == null || arenaUsed + bytes + 128 > arena.capacity()) {
                arena = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.nativeOrder());
                for (int i = 0; i < arena.capacity(); i++) arena.put(i, GUARD);
                arenas.add(arena);
                arenaUsed = 64;
            }
            int off = arenaUsed;
            arenaUsed += (bytes + 63) / 64 * 64 + 64;  // 64..127 guard bytes after the block
            guards.add(new long[] {arenas.size() - 1, off + bytes, arenaUsed - off - bytes});
            if (off == 64) guards.add(new long[] {arenas.size() - 1, 0, 64});
            ByteBuffer slice = arena.duplicate().position(off).limit(off + bytes).slice().order(ByteOrder.nativeOrder());
            switch (rnd.nextInt(3)) {
                case 0: return Tensor.wrap(slice, dt, shape);
                case 1: return Tensor.wrap(org.layernorm4j.internal.Memory.address(slice), bytes, dt, Device.cpu(), shape);
                default: return Tensor.wrap(new Pointer(slice), dt, Device.cpu(), shape);
            }
        }

        /** A pool tensor of this shape and dtype when there is one (maybe closed), else a new one; rarely a wrong one. */
        Tensor pick(DType dt, long... shape) {
            if (rnd.nextInt(40) == 0) return null;
            if (rnd.nextInt(30) == 0) return make(dtype(), shape);  // maybe the wrong dtype
            if (rnd.nextInt(30) == 0) return make(dt, shape.length == 0 ? new long[] {2} : new long[] {shape[0] + 1});
            if (rnd.nextInt(3) == 0) {
                synchronized (pool) {
                    for (Tensor t : pool) {
                        if (t.dtype() == dt && Arrays.equals(t.shapeRef(), shape)) return t;
                    }
                }
            }
            return make(dt, shape);
        }

        String checkGuards(boolean all) {
            int from = all ? 0 : Math.max(0, guards.size() - 64);
            for (int k = from; k < guards.size(); k++) {
                long[] g = guards.get(k);
                ByteBuffer a = arenas.get((int) g[0]);
                for (long i = g[1]; i < g[1] + g[2]; i++) {
                    if (a.get((int) i) != GUARD) return "guard byte " + i + " of arena " + g[0] + " overwritten";
                }
            }
            return null;
        }

        // ---- one random call --------------------------------------------------------------------------------------

        String step() {
            int kind = rnd.nextInt(10);
            kind = kind < 4 ? 0 : kind < 6 ? 1 : kind < 8 ? 2 : kind < 9 ? 3 : 4;
            kinds[kind]++;
            String r;
            try {
                switch (kind) {
                    case 0: r = forward(false); break;
                    case 1: r = forward(true); break;
                    case 2: r = io(); break;
                    case 3: r = wrapCase(); break;
                    default: {
                        synchronized (pool) {
                            if (!pool.isEmpty()) pool.get(rnd.nextInt(pool.size())).close();
                        }
                        r = null;
                    }
                }
            } catch (NullPointerException | IllegalArgumentException | IllegalStateException | LayerNormException e) {
                if (e.getMessage() == null || e.getMessage().isEmpty()) return "exception without a message: " + e;
                clear++;
                r = null;
            } catch (RuntimeException e) {
                return "unexpected exception " + e;
            }
            if (r != null) return r;
            return checkGuards(false);
        }

        String forward(boolean alsoBackward) {
            int cols = COLS[rnd.nextInt(COLS.length)];
            int rows = rnd.nextInt(5);
            DType dt = dtype();
            DType pd = dt.size() == 2 && rnd.nextBoolean() ? DType.FLOAT32 : dt;
            boolean affine = rnd.nextInt(4) != 0, bias = affine && rnd.nextBoolean();
            LayerNorm ln = LayerNorm.builder(cols).elementwiseAffine(affine).bias(bias).build();
            long[] shape = rnd.nextInt(20) == 0 ? new long[] {rows, cols + 1} : new long[] {rows, cols};
            Tensor x = pick(dt, shape);
            Tensor g = affine ? pick(pd, cols) : null;
            Tensor b = bias ? pick(pd, cols) : null;
            Tensor y = rnd.nextInt(15) == 0 ? x : pick(dt, shape);
            Tensor mean = rnd.nextInt(5) == 0 && !alsoBackward ? null : pick(dt.statsDType(), rows);
            Tensor rstd = rnd.nextInt(5) == 0 && !alsoBackward ? null : pick(dt.statsDType(), rows);
            double[] xs = x == null ? null : x.toDoubleArray();  // throws when another thread closed it: a clear outcome
            double[] gs = g == null ? null : g.toDoubleArray(), bs = b == null ? null : b.toDoubleArray();
            ln.forward(x, g, b, Data.fwd(y, mean, rstd));
            if (y.isClosed() || aliased(y == x ? null : x, g, b, y, mean, rstd)) {  // aliasing args: no reference to check
                ok++;
                return null;
            }
            DType xd = x.dtype();  // pick may have handed out another dtype that the call accepted
            Reference ref = new Reference(xs, gs, bs, rows, cols, ln.eps(), Data.uAcc(xd), xd.unitRoundoff(),
                    xd.statsDType().unitRoundoff());
            String e = within("y", y.toDoubleArray(), ref.y, ref.boundY, xd);
            if (e != null) return e;
            checked++;
            if (!alsoBackward) return null;
            Tensor dy = pick(dt, shape);
            Tensor dx = pick(dt, shape);
            Tensor dg = affine && rnd.nextBoolean() ? pick(pd, cols) : null;
            Tensor db = bias && rnd.nextBoolean() ? pick(pd, cols) : null;
            if (y == x) return null;  // x was overwritten in place: no backward from it
            double[] dys = dy == null ? null : dy.toDoubleArray();
            ln.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, dg, db));
            if (aliased(dy, x, mean, rstd, g, dx, dg, db)) {
                ok++;
                return null;
            }
            Reference.Backward bw = ref.new Backward(dys, xd.unitRoundoff(), (g != null ? g.dtype() : xd).unitRoundoff());
            if (!dx.isClosed()) {
                e = within("dx", dx.toDoubleArray(), bw.dx, bw.boundDx, xd);
                if (e != null) return e;
                checked++;
            }
            if (dg != null && !dg.isClosed()) {
                e = within("dgamma", dg.toDoubleArray(), bw.dgamma, bw.boundDgamma, dg.dtype());
                if (e != null) return e;
            }
            if (db != null && !db.isClosed()) {
                e = within("dbeta", db.toDoubleArray(), bw.dbeta, bw.boundDbeta, db.dtype());
                if (e != null) return e;
            }
            return null;
        }

        /** Whether two of the non-null tensors are the same object. */
        static boolean aliased(Tensor... ts) {
            for (int i = 0; i < ts.length; i++) {
                for (int j = i + 1; j < ts.length; j++) if (ts[i] != null && ts[i] == ts[j]) return true;
            }
            return false;
        }

        /**
         * As AccuracyTest's check, plus half the spacing of {@code out}'s subnormals: the reference's bound is relative
         * and misses the absolute rounding of outputs in float16's subnormal range (|y| < 2^-14).
         */
        static String within(String what, double[] got, double[] ref, double[] bound, DType out) {
            double tiny = out == DType.FLOAT16 ? 0x1p-25 : out == DType.BFLOAT16 ? 0x1p-134 : 0;
            for (int i = 0; i < ref.length; i++) {
                double e = Math.abs(got[i] - ref[i]);
                if (!(e <= bound[i] + tiny)) {
                    return what + "[" + i + "] = " + got[i] + ", reference " + ref[i] + ", |error| " + e + " > bound " + bound[i];
                }
            }
            return null;
        }

        String io() {
            Tensor t;
            synchronized (pool) {
                t = pool.isEmpty() ? null : pool.get(rnd.nextInt(pool.size()));
            }
            if (t == null) t = make(dtype(), rnd.nextInt(4), COLS[rnd.nextInt(COLS.length)]);
            int n = (int) t.numel() + (rnd.nextInt(20) == 0 ? 1 : 0);
            switch (rnd.nextInt(6)) {
                case 0: {
                    float[] v = values(n);
                    t.copyFrom(v);
                    float[] back = t.toFloatArray();
                    if (t.dtype() == DType.FLOAT32 && !Arrays.equals(v, back)) return "copyFrom/toFloatArray round trip differs";
                    break;
                }
                case 1: {
                    double[] v = new double[n];
                    t.copyFrom(v);
                    for (double d : t.copyTo(new double[n])) if (d != 0) return "copyFrom(zeros) read back " + d;
                    break;
                }
                case 2: {
                    double v = rnd.nextInt(100) / 4.0;
                    t.fill(v);
                    for (double d : t.toDoubleArray()) if (d != v) return "fill(" + v + ") read back " + d;
                    break;
                }
                case 3: {
                    try (Tensor c = t.to(Device.cpu())) {
                        if (!Arrays.equals(c.toDoubleArray(), t.toDoubleArray())) return "to(cpu) differs from the tensor";
                    }
                    break;
                }
                case 4:
                    t.copyFrom(new short[n]);
                    break;
                default:
                    t.toBits();
            }
            ok++;
            return null;
        }

        String wrapCase() {
            DType dt = dtype();
            switch (rnd.nextInt(4)) {
                case 0: {  // a Pointer of unknown size
                    Pointer m = Pointer.malloc(16);
                    try {
                        Tensor.wrap(m, dt, Device.cpu(), 1024);
                        return "wrap of a Pointer of unknown size was accepted";
                    } catch (IllegalArgumentException expected) {
                        clear++;
                    } finally {
                        Pointer.free(m);
                    }
                    return null;
                }
                case 1: {  // misaligned
                    ByteBuffer bb = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
                    if (dt.size() > 1) {
                        try {
                            Tensor.wrap(bb.position(1), dt, 4);
                            return "misaligned wrap accepted";
                        } catch (IllegalArgumentException expected) {
                            clear++;
                        }
                    }
                    return null;
                }
                case 2: {  // too small
                    try {
                        Tensor.wrap(ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()), dt, 16);
                        return "wrap of too little memory accepted";
                    } catch (IllegalArgumentException expected) {
                        clear++;
                    }
                    return null;
                }
                default:
                    make(dt, rnd.nextInt(4), COLS[rnd.nextInt(COLS.length)]);
                    ok++;
                    return null;
            }
        }
    }
}

package org.layernorm4j.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.IntSupplier;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.Tensor;
import org.layernorm4j.internal.Bandwidth;

/**
 * The CLI's {@code bench}: native/bench's model sweep run through the Java API (fp32, CPU tensors allocated once,
 * the into-outputs forward/backward), with the same table: median, p10, p90 (us), GB/s by the fixed byte rule and
 * the ratio to an honest ceiling measured in the same run.
 *
 * <p>Shapes: cols 64 .. 65536 (and the odd 1000, 4097) at a fixed element count (rows = elements / cols), then the
 * latency shapes 1 x 768 and 32 x 768. Like native/bench, calls rotate over buffer sets (~960 MiB in all by default) so that
 * the last-level cache does not flatter the numbers ({@code --warm}: one set, as a user measures). Byte rule (4-byte
 * elements): forward = x read + y written + mean/rstd written + gamma/beta read once = 4 (2 n + 2 rows + 2 cols);
 * backward = x, dy read + dx written + mean/rstd read + gamma read + dgamma/dbeta written once = 4 (3 n + 2 rows +
 * 3 cols).
 *
 * <p>Ceiling, by native/bench's rule (its README, "Ceilings"): the fastest of the library's five bandwidth probes
 * ({@link Bandwidth}: ordinary-store loop, non-temporal-store loop, each prefetched, memcpy) moving the same bytes --
 * forward a copy, backward read two, write one -- at the same native threads, the per-set share through the set's
 * buffers (cold when the sets rotate) and the parameters' share through one region of its own. It is timed before
 * and after ours and the faster kept; when the two differ by more than {@link #DRIFT_LIMIT} the machine's speed moved
 * under the shape, and the shape is timed again (up to {@link #RETRIES} times, the least-moved attempt kept, still
 * moving: marked {@code ~}). A result above 105% of it means the ceiling is wrong (marked {@code *}, with a note).
 */
public final class BenchSweep {
    /** A ceiling that moved by more than this between its two timings: the shape is timed again (native/bench's rule). */
    static final double DRIFT_LIMIT = 0.20;
    /** Attempts after the first for a shape whose ceiling moved. */
    static final int RETRIES = 3;
    /** Above this share of its ceiling a result says the ceiling is wrong (100% plus 5% noise). */
    static final double WRONG_ABOVE = 105.0;
    /**
     * Ours warms up at least this many calls: the native kernels learn their prefetch policy over the first 29 calls
     * of a kind past the streaming threshold (ln4j_cpu_set_prefetch_policy); the samples time the policy they keep.
     */
    static final int OURS_WARM_CALLS = 32;
    static final long[] DEFAULT_COLS = {64, 128, 256, 512, 768, 1000, 1024, 2048, 4096, 4097, 8192, 12288, 16384,
        65536};

    private BenchSweep() {
    }

    /** The bench options, all checked by {@link #parse}. */
    static final class Options {
        long elements = 4_194_304L;
        long[] cols = DEFAULT_COLS;
        int[] threads;
        int samples = 21;
        boolean latency = true;
        long rotateMib = 960;

        Options() {
            int maxThreads = Runtime.getRuntime().availableProcessors();
            threads = maxThreads > 1 ? new int[] {1, maxThreads} : new int[] {1};
        }
    }

    /** Parses and checks every option (nothing runs); a bad one is a one-line {@link Main.UsageException}. */
    static Options parse(String[] args) throws Main.UsageException {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--elements": o.elements = number(a, need(args, ++i, a), 1, 1L << 30); break;
                case "--cols": o.cols = list(a, need(args, ++i, a), 1, 1L << 24); break;
                case "--threads":
                    o.threads = Arrays.stream(list(a, need(args, ++i, a), 1, 4096)).mapToInt(v -> (int) v).toArray();
                    break;
                case "--samples": o.samples = (int) number(a, need(args, ++i, a), 3, 100_000); break;
                case "--no-latency": o.latency = false; break;
                case "--rotate-mib": o.rotateMib = number(a, need(args, ++i, a), 0, 1L << 20); break;
                case "--warm": o.rotateMib = 0; break;
                case "--quick":
                    o.elements = 1_048_576L;
                    o.cols = new long[] {128, 768, 1000, 4096, 4097, 65536};
                    o.samples = 7;
                    break;
                default:
                    throw new Main.UsageException("bench: unknown option '" + a + "'"
                            + (a.equals("info") || a.equals("check") ? " (bench must be the last command)" : ""));
            }
        }
        return o;
    }

    private static long number(String opt, String v, long min, long max) throws Main.UsageException {
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new Main.UsageException("bench: " + opt + ": '" + v + "' is not an integer (expected " + min + " .. "
                    + max + ")");
        }
        if (n < min || n > max) {
            throw new Main.UsageException("bench: " + opt + ": " + n + " is out of range (expected " + min + " .. " + max + ")");
        }
        return n;
    }

    private static long[] list(String opt, String v, long min, long max) throws Main.UsageException {
        String[] parts = v.split(",", -1);
        long[] out = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (parts[i].trim().isEmpty()) {
                throw new Main.UsageException("bench: " + opt + ": '" + v + "' has an empty entry (expected a comma-separated"
                        + " list of integers in " + min + " .. " + max + ", e.g. " + (opt.equals("--cols") ? "768,4096" : "1,8") + ")");
            }
            out[i] = number(opt, parts[i], min, max);
        }
        return out;
    }

    /** Parses the options, runs the sweep and prints the table to {@code out}; returns 0, or 2 on a usage error. */
    public static int run(String[] args, PrintStream out) {
        Options o;
        try {
            o = parse(args);
        } catch (Main.UsageException e) {
            System.err.println("layernorm4j: " + e.getMessage() + " (see --help)");
            return Main.EXIT_USAGE;
        }
        run(o, out);
        return 0;
    }

    /** Runs the sweep with checked options, printing each row as soon as it is measured. */
    static void run(Options o, PrintStream out) {
        long elements = o.elements;
        long[] cols = o.cols;
        int[] threads = o.threads;
        int samples = o.samples;
        boolean latency = o.latency;
        long rotateMib = o.rotateMib;
        List<long[]> shapes = new ArrayList<>();
        for (long c : cols) shapes.add(new long[] {Math.max(1, elements / c), c});
        if (latency) {
            shapes.add(new long[] {1, 768});
            shapes.add(new long[] {32, 768});
        }
        out.println("== bench: the model sweep through the Java API (fp32, CPU, isa " + LayerNorm.cpuIsa()
                + ", " + samples + " samples after warm-up, each sample >= 200 us of calls; "
                + (rotateMib > 0 ? "rotating over ~" + rotateMib + " MiB of buffer sets)" : "--warm: one buffer set)"));
        out.println("cpu: " + LayerNorm.cpuModel());
        out.println("GB/s rule: forward = 4 (2 n + 2 rows + 2 cols) bytes; backward = 4 (3 n + 2 rows + 3 cols)");
        out.println("ceiling: the fastest of the library's bandwidth probes (ordinary-store loop, non-temporal-store loop,"
                + " each prefetched, memcpy) moving the same bytes (forward: a copy; backward: read two, write one) on the"
                + " same native threads, timed before and after ours, the faster kept (the kind that won is named);"
                + " '~': it moved by more than " + Math.round(DRIFT_LIMIT * 100) + "% between the two timings after "
                + RETRIES + " retries of the shape (not a measurement)");
        out.printf(Locale.ROOT, "%-14s %-8s %-8s %3s %11s %11s %11s %8s %7s%n", "shape", "dir", "impl", "thr",
                "median_us", "p10_us", "p90_us", "GB/s", "%ceil");
        for (long[] s : shapes) runShape(out, (int) s[0], (int) s[1], threads, samples, rotateMib << 20);
    }

    /** A ceiling: {median, p10, p90} of the fastest kind, and that kind. */
    record Ceiling(double[] t, Bandwidth.Kind kind) {
        Ceiling faster(Ceiling o) {
            return o.t[0] < t[0] ? o : this;
        }
    }

    /** One timing of a shape at one thread count: both ceilings (the faster of before and after), ours, the drift. */
    static final class Attempt {
        Ceiling ceilFwd, ceilBwd;
        double[] fwd, bwd;
        double drift;
    }

    private static void runShape(PrintStream out, int rows, int cols, int[] threads, int samples, long rotateBytes) {
        long n = (long) rows * cols;
        double fwdBytes = 4.0 * (2 * n + 2L * rows + 2L * cols);
        double bwdBytes = 4.0 * (3 * n + 2L * rows + 3L * cols);
        Random rnd = new Random(1);
        Bandwidth.Shares sh = new Bandwidth.Shares(rows, cols);
        // Rotating buffer sets (as in native/bench): each timed call works on the next set, so calls read data
        // that the previous calls did not just bring into cache. A set: x, dy, y, dx, mean, rstd, the probes' a, b, dst.
        long setBytes = 4 * (4 * n + 2L * rows) + 3 * 4 * sh.setFloats;
        int sets = (int) Math.max(1, Math.min(4096, rotateBytes / setBytes));
        float[] hx = Main.offCentre(rnd, rows, cols), hdy = Main.offCentre(rnd, rows, cols);
        List<AutoCloseable> owned = new ArrayList<>();
        Tensor[] x = new Tensor[sets], dy = new Tensor[sets], y = new Tensor[sets], dx = new Tensor[sets];
        LayerNorm.Forward[] fwd = new LayerNorm.Forward[sets];
        LayerNorm.Gradients[] grads = new LayerNorm.Gradients[sets];
        long[] pa = new long[sets], pb = new long[sets], pd = new long[sets];
        try {
            Tensor gamma = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(1.5));
            Tensor beta = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(0.25));
            Tensor dgamma = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), cols));
            Tensor dbeta = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), cols));
            long h = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), sh.hotFloats).fill(1)).address();
            for (int k = 0; k < sets; k++) {
                x[k] = keep(owned, Tensor.of(hx, rows, cols));
                dy[k] = keep(owned, Tensor.of(hdy, rows, cols));
                y[k] = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols).fill(0));
                dx[k] = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols).fill(0));
                fwd[k] = LayerNorm.Forward.builder().output(y[k])
                        .mean(keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), rows)))
                        .rstd(keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), rows))).build();
                grads[k] = LayerNorm.Gradients.builder().dx(dx[k]).dgamma(dgamma).dbeta(dbeta).build();
                pa[k] = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(1)).address();
                pb[k] = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(2)).address();
                pd[k] = keep(owned, Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(0)).address();
            }
            String shape = rows + "x" + cols;
            int[] next = {0};
            IntSupplier set = () -> next[0] = (next[0] + 1) % sets;
            for (int t : threads) {
                LayerNorm ln = LayerNorm.builder(cols).cpuThreads(t).build();
                Probe fwdProbe = (kind, k) -> sh.forward(kind, pa[k], pd[k], h, t);
                Probe bwdProbe = (kind, k) -> sh.backward(kind, pa[k], pb[k], pd[k], h, t);
                Attempt best = null;
                for (int a = 0; a <= RETRIES; a++) {
                    Attempt at = new Attempt();
                    Ceiling cf = ceiling(samples, fwdProbe, set), cb = ceiling(samples, bwdProbe, set);
                    at.fwd = time(samples, OURS_WARM_CALLS, 500_000, 1000, () -> {
                        int k = set.getAsInt();
                        ln.forward(x[k], gamma, beta, fwd[k]);
                    });
                    at.bwd = time(samples, OURS_WARM_CALLS, 500_000, 1000, () -> {
                        int k = set.getAsInt();
                        ln.backward(dy[k], fwd[k], x[k], gamma, grads[k]);
                    });
                    Ceiling cf2 = ceiling(samples, fwdProbe, set), cb2 = ceiling(samples, bwdProbe, set);
                    at.ceilFwd = cf.faster(cf2);
                    at.ceilBwd = cb.faster(cb2);
                    at.drift = Math.max(drift(cf.t()[0], cf2.t()[0]), drift(cb.t()[0], cb2.t()[0]));
                    if (best == null || at.drift < best.drift) best = at;
                    if (best.drift <= DRIFT_LIMIT) break;
                }
                String moved = best.drift > DRIFT_LIMIT
                        ? String.format(Locale.ROOT, " ~ ceiling moved %.0f%%", 100 * best.drift) : "";
                double[] cft = best.ceilFwd.t(), cbt = best.ceilBwd.t();
                row(out, shape, "forward", "ceiling", t, cft, fwdBytes, cft[0],
                        "  won: " + best.ceilFwd.kind().label() + moved);
                row(out, shape, "forward", "ours", t, best.fwd, fwdBytes, cft[0], moved);
                row(out, shape, "backward", "ceiling", t, cbt, bwdBytes, cbt[0],
                        "  won: " + best.ceilBwd.kind().label() + moved);
                row(out, shape, "backward", "ours", t, best.bwd, bwdBytes, cbt[0], moved);
            }
        } finally {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    /** 1 - slower / faster of a ceiling's two timings (ns per call). */
    static double drift(double a, double b) {
        return a > 0 && b > 0 ? 1 - Math.min(a, b) / Math.max(a, b) : 0;
    }

    /** One probe call of a kind on buffer set k. */
    interface Probe {
        void run(Bandwidth.Kind kind, int k);
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> owned, T t) {
        owned.add(t);
        return t;
    }

    static boolean aboveNoted;

    static void row(PrintStream out, String shape, String dir, String impl, int threads, double[] t,
            double bytes, double ceilMedian, String suffix) {
        double pct = 100.0 * ceilMedian / t[0];
        boolean above = pct > WRONG_ABOVE && !impl.equals("ceiling");
        out.printf(Locale.ROOT, "%-14s %-8s %-8s %3d %11.3f %11.3f %11.3f %8.2f %6.1f%%%s%s%n", shape, dir, impl,
                threads, t[0] / 1e3, t[1] / 1e3, t[2] / 1e3, bytes / t[0], pct, above ? " *" : "", suffix);
        if (above && !aboveNoted) {
            aboveNoted = true;
            out.println("  * CEILING WRONG: above 105% of the fastest way this run found to move the same bytes; the"
                    + " ceiling is not the machine's limit here (or the machine's speed moved between the timings)");
        }
    }

    /** The ceiling: each of the five {@link Bandwidth.Kind}s timed over the sets, the fastest (by median) kept. */
    private static Ceiling ceiling(int samples, Probe probe, IntSupplier set) {
        Ceiling best = null;
        for (Bandwidth.Kind kind : Bandwidth.Kind.values()) {
            Ceiling c = new Ceiling(time(samples, 3, 50_000, 100, () -> probe.run(kind, set.getAsInt())), kind);
            best = best == null ? c : best.faster(c);
        }
        return best;
    }

    /**
     * {median, p10, p90} in ns per call; tiny calls are batched so a sample lasts at least 200 us. Warm-up: at least
     * {@code minWarm} calls and 50 ms, then up to {@code jitCalls} calls or {@code jitMs}: the Java side of a call
     * must be JIT-compiled before it is timed (warm-up had stopped at 2000 calls, and a warm 1 x 768 forward read
     * 1.1-1.4 us here against JMH's 0.4).
     */
    static double[] time(int samples, int minWarm, int jitCalls, long jitMs, Runnable r) {
        long t0 = System.nanoTime();
        int warm = 0;
        for (long el = 0; warm < minWarm || el < 50_000_000L || (warm < jitCalls && el < jitMs * 1_000_000L);
                el = System.nanoTime() - t0) {
            r.run();
            warm++;
        }
        long a = System.nanoTime();
        r.run();
        long one = Math.max(1, System.nanoTime() - a);
        int batch = (int) Math.max(1, Math.min(100_000, 200_000 / one));
        double[] t = new double[samples];
        for (int s = 0; s < samples; s++) {
            long b = System.nanoTime();
            for (int i = 0; i < batch; i++) r.run();
            t[s] = (System.nanoTime() - b) / (double) batch;
        }
        Arrays.sort(t);
        return new double[] {pct(t, 0.5), pct(t, 0.1), pct(t, 0.9)};
    }

    private static double pct(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos), hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    private static String need(String[] args, int i, String opt) throws Main.UsageException {
        if (i >= args.length || args[i].startsWith("--")) throw new Main.UsageException("bench: " + opt + " needs a value");
        return args[i];
    }

    static void usage(PrintStream out) {
        out.println("  --elements N     element count of the cols sweep, 1 .. 2^30 (default 4194304; rows = N / cols)");
        out.println("  --cols a,b,...   row widths, each 1 .. 2^24 (default 64,128,256,512,768,1000,1024,2048,4096,4097,");
        out.println("                   8192,12288,16384,65536)");
        out.println("  --threads a,b    native threads for ours and for the ceiling's probes, each 1 .. 4096");
        out.println("                   (default 1 and all processors)");
        out.println("  --samples N      timed samples per row, 3 .. 100000 (default 21)");
        out.println("  --no-latency     drop the latency shapes 1x768 and 32x768");
        out.println("  --rotate-mib N   rotate over buffer sets of about N MiB in all, 0 .. 2^20 (default 960, as native/bench)");
        out.println("  --warm           one buffer set (same as --rotate-mib 0)");
        out.println("  --quick          1048576 elements, cols 128,768,1000,4096,4097,65536, 7 samples");
    }
}

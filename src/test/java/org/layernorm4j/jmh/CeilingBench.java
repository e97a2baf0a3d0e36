package org.layernorm4j.jmh;

import java.util.concurrent.TimeUnit;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.Tensor;
import org.layernorm4j.internal.Bandwidth;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The memory-bandwidth ceiling of {@link LayerNormBench}'s shapes, by native/bench's rule: the library's bandwidth
 * probes ({@link Bandwidth}, each {@code kind}) moving the bytes a float32 call of the shape moves ({@link
 * Bandwidth.Shares}: {@code forward} a copy, {@code backward} read two, write one), at {@code threads} native threads,
 * in the same two regimes (cold: the sets rotate over at least 2 x the last-level cache, as LayerNormBench's do). The
 * ceiling of a shape, threads and regime is the fastest kind; scripts/bench-tables.py puts ours against it. Run it
 * after LayerNormBench in the same script run (scripts/bench-all.sh does), e.g.
 * {@code org.openjdk.jmh.Main CeilingBench -p shape=1x768 -p threads=1}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 300, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 300, timeUnit = TimeUnit.MILLISECONDS)
public class CeilingBench {
    /** rows x cols, as in LayerNormBench. */
    @Param({"1x768", "32x768", "16384x256", "5461x768", "1024x4096", "256x16384"})
    public String shape;

    /** Native threads of the probes. */
    @Param({"1"})
    public int threads;

    /** "warm": one buffer set; "cold": rotating sets, as in LayerNormBench. */
    @Param({"warm", "cold"})
    public String regime;

    /** The way the bytes move ({@link Bandwidth.Kind}). */
    @Param({"ORDINARY", "STREAM", "PREFETCHED", "STREAM_PREFETCHED", "MEMCPY"})
    public String kind;

    private Bandwidth.Kind k;
    private Bandwidth.Shares sh;
    private Tensor hot;
    private Tensor[] a, b, dst;
    private long hotAddr;
    private long[] pa, pb, pd;
    private int sets, i;

    @Setup(Level.Trial)
    public void setup() {
        String[] rc = shape.split("x");
        long rows = Long.parseLong(rc[0]), cols = Long.parseLong(rc[1]);
        k = Bandwidth.Kind.valueOf(kind);
        sh = new Bandwidth.Shares(rows, cols);
        // LayerNormBench's cold rule over the same per-set bytes (its x, dy, y, dx, statistics): at least 2 x the LLC
        long setBytes = 4L * (4L * rows * cols + 2L * rows);
        sets = regime.equals("cold") ? LayerNormBench.coldSets(setBytes) : 1;
        hot = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.hotFloats).fill(1);
        hotAddr = hot.address();
        a = new Tensor[sets];
        b = new Tensor[sets];
        dst = new Tensor[sets];
        pa = new long[sets];
        pb = new long[sets];
        pd = new long[sets];
        for (int s = 0; s < sets; s++) {
            a[s] = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(1);
            b[s] = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(2);
            dst[s] = Tensor.empty(DType.FLOAT32, Device.cpu(), sh.setFloats).fill(0);
            pa[s] = a[s].address();
            pb[s] = b[s].address();
            pd[s] = dst[s].address();
        }
    }

    private int next() {
        i = i + 1 == sets ? 0 : i + 1;
        return i;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        hot.close();
        for (Tensor[] ts : new Tensor[][] {a, b, dst})
            for (Tensor t : ts) t.close();
    }

    /** The forward's bytes, once. */
    @Benchmark
    public void forward() {
        int s = next();
        sh.forward(k, pa[s], pd[s], hotAddr, threads);
    }

    /** The backward's bytes, once. */
    @Benchmark
    public void backward() {
        int s = next();
        sh.backward(k, pa[s], pb[s], pd[s], hotAddr, threads);
    }
}

package org.layernorm4j.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.Tensor;
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
 * JMH benchmarks of the Java API end to end (CPU tensors allocated once, the into-outputs forward/backward, fp32)
 * next to the pure-Java JDK Vector API bar ({@link VectorLayerNorm}, one thread, heap float[]), at the shapes of
 * the performance targets' sweep: cols 64 .. 65536 (and the odd 1000, 4097) at 4,194,304 elements, plus 1 x 768 and 32 x 768. "ours" runs at {@code threads}
 * native threads (1 compares like with like against the single-threaded Vector version).
 *
 * <p>Two regimes, as in native/bench ({@code regime}): "warm" times one buffer set, as a user measures without
 * rotation (a 16 MiB tensor then partly comes from the last-level cache); "cold" rotates every call over buffer
 * sets that together hold at least twice the last-level cache (as the OS reports it: sysfs), for ours and for the
 * Vector bar alike, so each call reads data the previous calls did not bring into cache.
 *
 * <p>Run (from the repository root; {@code mvn verify} never runs these, only the JUnit check of the Vector bar):
 * <pre>
 * mvn -B -q -f layernorm4j.pom.xml test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/jmh.cp \
 *   &amp;&amp; java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/jmh.cp) \
 *      org.openjdk.jmh.Main LayerNormBench -f 1 -wi 2 -i 3 -r 200ms -w 200ms
 * </pre>
 * JMH options narrow it: {@code -p shape=32x768,1024x4096 -p threads=1,2}, a regex on the method name
 * ({@code 'LayerNormBench.(ours|vector)Forward'}), {@code -rf json -rff target/jmh.json}; on a GPU machine
 * {@code -p device=cuda 'LayerNormBench.ours'} times the same calls on CUDA tensors; {@code -p regime=cold,warm}.
 * Scores are average time per call in microseconds.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
public class LayerNormBench {
    /** rows x cols. */
    @Param({"1x768", "32x768", "65536x64", "32768x128", "16384x256", "8192x512", "5461x768", "4194x1000", "4096x1024",
        "2048x2048", "1024x4096", "1023x4097", "512x8192", "341x12288", "256x16384", "64x65536"})
    public String shape;

    /** Native CPU threads for ours. */
    @Param({"1"})
    public int threads;

    /** "warm": one buffer set; "cold": calls rotate over sets holding at least 2 x the last-level cache. */
    @Param({"warm", "cold"})
    public String regime;

    /**
     * Where ours runs: "cpu", or "cuda" (device 0: tensors moved there once, each call followed by a stream
     * synchronize so the score is the whole call; needs a CUDA device, else the setup fails with the reason).
     */
    @Param({"cpu"})
    public String device;

    private org.layernorm4j.CudaStream stream;
    private org.layernorm4j.CudaStream.Scope streamScope;

    private int rows, cols;
    private LayerNorm ln;
    private Tensor gamma, beta, dgamma, dbeta;
    private float[] hg, hb, hdg, hdb;
    // Buffer sets (one in the warm regime); set k is used by the call after set k - 1.
    private int sets, k;
    private Tensor[] x, dy, y, mean, rstd, dx;
    private LayerNorm.Forward[] fwd;
    private LayerNorm.Gradients[] grads;
    private float[][] hx, hdy, hy, hm, hr, hdx;

    @Setup(Level.Trial)
    public void setup() {
        String[] rc = shape.split("x");
        rows = Integer.parseInt(rc[0]);
        cols = Integer.parseInt(rc[1]);
        Random rnd = new Random(1);
        float[] ax = VectorLayerNormTest.offCentre(rnd, rows, cols);
        float[] ady = VectorLayerNormTest.offCentre(rnd, rows, cols);
        hg = new float[cols];
        hb = new float[cols];
        for (int j = 0; j < cols; j++) {
            hg[j] = (float) (0.5 + rnd.nextDouble());
            hb[j] = (float) (rnd.nextDouble() - 0.5);
        }
        hdg = new float[cols];
        hdb = new float[cols];
        // a set: x, dy, y, dx and the two statistics, for ours (off-heap) and for the Vector bar (heap)
        long setBytes = 4L * (4L * rows * cols + 2L * rows);
        sets = regime.equals("cold") ? coldSets(setBytes) : 1;
        ln = LayerNorm.builder(cols).cpuThreads(threads).build();
        Device dev = device.equals("cuda") ? Device.cuda(0) : Device.cpu();
        gamma = on(dev, Tensor.of(hg, cols));
        beta = on(dev, Tensor.of(hb, cols));
        dgamma = Tensor.empty(DType.FLOAT32, dev, cols);
        dbeta = Tensor.empty(DType.FLOAT32, dev, cols);
        x = new Tensor[sets];
        dy = new Tensor[sets];
        y = new Tensor[sets];
        dx = new Tensor[sets];
        mean = new Tensor[sets];
        rstd = new Tensor[sets];
        fwd = new LayerNorm.Forward[sets];
        grads = new LayerNorm.Gradients[sets];
        hx = new float[sets][];
        hdy = new float[sets][];
        hy = new float[sets][];
        hdx = new float[sets][];
        hm = new float[sets][];
        hr = new float[sets][];
        if (!dev.isCpu()) {
            stream = org.layernorm4j.CudaStream.create(dev);
            streamScope = stream.use();  // JMH runs setup and the benchmark on the same thread (Scope.Thread)
        }
        for (int i = 0; i < sets; i++) {
            x[i] = on(dev, Tensor.of(ax, rows, cols));
            dy[i] = on(dev, Tensor.of(ady, rows, cols));
            y[i] = Tensor.empty(DType.FLOAT32, dev, rows, cols);
            dx[i] = Tensor.empty(DType.FLOAT32, dev, rows, cols);
            mean[i] = Tensor.empty(DType.FLOAT32, dev, rows);
            rstd[i] = Tensor.empty(DType.FLOAT32, dev, rows);
            fwd[i] = LayerNorm.Forward.builder().output(y[i]).mean(mean[i]).rstd(rstd[i]).build();
            grads[i] = LayerNorm.Gradients.builder().dx(dx[i]).dgamma(dgamma).dbeta(dbeta).build();
            ln.forward(x[i], gamma, beta, fwd[i]);
            hx[i] = ax.clone();
            hdy[i] = ady.clone();
            hy[i] = new float[rows * cols];
            hdx[i] = new float[rows * cols];
            hm[i] = new float[rows];
            hr[i] = new float[rows];
            VectorLayerNorm.forward(hx[i], hg, hb, hy[i], hm[i], hr[i], rows, cols, 1e-5f);
        }
    }

    /** The cold regime's buffer sets of {@code setBytes} each: together at least 2 x the last-level cache, 2 to 4096. */
    static int coldSets(long setBytes) {
        return (int) Math.max(2, Math.min(4096, (2 * lastLevelCacheBytes() + setBytes - 1) / setBytes));
    }

    /** The last-level cache as the OS reports it (the highest level under cpu0's sysfs cache folder); 32 MiB if unknown. */
    static long lastLevelCacheBytes() {
        long best = 0;
        int bestLevel = 0;
        for (int i = 0; i < 16; i++) {
            Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i);
            try {
                String type = Files.readString(dir.resolve("type")).trim();
                if (type.equals("Instruction")) continue;
                int level = Integer.parseInt(Files.readString(dir.resolve("level")).trim());
                String size = Files.readString(dir.resolve("size")).trim();
                long mult = size.endsWith("K") ? 1L << 10 : size.endsWith("M") ? 1L << 20 : 1;
                long bytes = Long.parseLong(size.replaceAll("[^0-9]", "")) * mult;
                if (level >= bestLevel) {
                    bestLevel = level;
                    best = bytes;
                }
            } catch (IOException | RuntimeException e) {
                // no such index (or unreadable): keep what was found
            }
        }
        return best > 0 ? best : 32L << 20;
    }

    private int next() {
        k = k + 1 == sets ? 0 : k + 1;
        return k;
    }

    private static Tensor on(Device dev, Tensor t) {
        if (dev.isCpu()) return t;
        try (Tensor host = t) {
            return host.to(dev);
        }
    }

    private void sync() {
        if (stream != null) stream.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (streamScope != null) streamScope.close();
        if (stream != null) stream.close();
        for (Tensor t : new Tensor[] {gamma, beta, dgamma, dbeta}) t.close();
        for (Tensor[] ts : new Tensor[][] {x, dy, y, mean, rstd, dx})
            for (Tensor t : ts) t.close();
    }

    @Benchmark
    public Tensor oursForward() {
        int i = next();
        ln.forward(x[i], gamma, beta, fwd[i]);
        sync();
        return y[i];
    }

    @Benchmark
    public Tensor oursBackward() {
        int i = next();
        ln.backward(dy[i], fwd[i], x[i], gamma, grads[i]);
        sync();
        return dx[i];
    }

    @Benchmark
    public float[] vectorForward() {
        int i = next();
        VectorLayerNorm.forward(hx[i], hg, hb, hy[i], hm[i], hr[i], rows, cols, 1e-5f);
        return hy[i];
    }

    @Benchmark
    public float[] vectorBackward() {
        int i = next();
        VectorLayerNorm.backward(hdy[i], hx[i], hm[i], hr[i], hg, hdx[i], hdg, hdb, rows, cols);
        return hdx[i];
    }
}

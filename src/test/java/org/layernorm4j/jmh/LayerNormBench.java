package org.layernorm4j.jmh;

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
 * issue 4's sweep: cols 64 .. 65536 (and the odd 1000, 4097) at 4,194,304 elements, plus 1 x 768 and 32 x 768. "ours" runs at {@code threads}
 * native threads (1 compares like with like against the single-threaded Vector version).
 *
 * <p>Run (from the repository root; {@code mvn verify} never runs these, only the JUnit check of the Vector bar):
 * <pre>
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/jmh.cp \
 *   &amp;&amp; java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/jmh.cp) \
 *      org.openjdk.jmh.Main LayerNormBench -f 1 -wi 2 -i 3 -r 200ms -w 200ms
 * </pre>
 * JMH options narrow it: {@code -p shape=32x768,1024x4096 -p threads=1,2}, a regex on the method name
 * ({@code 'LayerNormBench.(ours|vector)Forward'}), {@code -rf json -rff target/jmh.json}; on a GPU machine
 * {@code -p device=cuda 'LayerNormBench.ours'} times the same calls on CUDA tensors.
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
    private Tensor x, dy, gamma, beta, y, mean, rstd, dx, dgamma, dbeta;
    private LayerNorm.Forward fwd;
    private LayerNorm.Gradients grads;
    private float[] hx, hdy, hg, hb, hy, hm, hr, hdx, hdg, hdb;

    @Setup(Level.Trial)
    public void setup() {
        String[] rc = shape.split("x");
        rows = Integer.parseInt(rc[0]);
        cols = Integer.parseInt(rc[1]);
        Random rnd = new Random(1);
        hx = VectorLayerNormTest.offCentre(rnd, rows, cols);
        hdy = VectorLayerNormTest.offCentre(rnd, rows, cols);
        hg = new float[cols];
        hb = new float[cols];
        for (int j = 0; j < cols; j++) {
            hg[j] = (float) (0.5 + rnd.nextDouble());
            hb[j] = (float) (rnd.nextDouble() - 0.5);
        }
        hy = new float[rows * cols];
        hdx = new float[rows * cols];
        hm = new float[rows];
        hr = new float[rows];
        hdg = new float[cols];
        hdb = new float[cols];
        ln = LayerNorm.builder(cols).cpuThreads(threads).build();
        Device dev = device.equals("cuda") ? Device.cuda(0) : Device.cpu();
        x = on(dev, Tensor.of(hx, rows, cols));
        dy = on(dev, Tensor.of(hdy, rows, cols));
        gamma = on(dev, Tensor.of(hg, cols));
        beta = on(dev, Tensor.of(hb, cols));
        y = Tensor.empty(DType.FLOAT32, dev, rows, cols);
        dx = Tensor.empty(DType.FLOAT32, dev, rows, cols);
        mean = Tensor.empty(DType.FLOAT32, dev, rows);
        rstd = Tensor.empty(DType.FLOAT32, dev, rows);
        dgamma = Tensor.empty(DType.FLOAT32, dev, cols);
        dbeta = Tensor.empty(DType.FLOAT32, dev, cols);
        if (!dev.isCpu()) {
            stream = org.layernorm4j.CudaStream.create(dev);
            streamScope = stream.use();  // JMH runs setup and the benchmark on the same thread (Scope.Thread)
        }
        fwd = LayerNorm.Forward.builder().output(y).mean(mean).rstd(rstd).build();
        grads = LayerNorm.Gradients.builder().dx(dx).dgamma(dgamma).dbeta(dbeta).build();
        ln.forward(x, gamma, beta, fwd);
        VectorLayerNorm.forward(hx, hg, hb, hy, hm, hr, rows, cols, 1e-5f);
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
        for (Tensor t : new Tensor[] {x, dy, gamma, beta, y, mean, rstd, dx, dgamma, dbeta}) t.close();
    }

    @Benchmark
    public Tensor oursForward() {
        ln.forward(x, gamma, beta, fwd);
        sync();
        return y;
    }

    @Benchmark
    public Tensor oursBackward() {
        ln.backward(dy, fwd, x, gamma, grads);
        sync();
        return dx;
    }

    @Benchmark
    public float[] vectorForward() {
        VectorLayerNorm.forward(hx, hg, hb, hy, hm, hr, rows, cols, 1e-5f);
        return hy;
    }

    @Benchmark
    public float[] vectorBackward() {
        VectorLayerNorm.backward(hdy, hx, hm, hr, hg, hdx, hdg, hdb, rows, cols);
        return hdx;
    }
}

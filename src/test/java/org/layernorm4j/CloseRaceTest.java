package org.layernorm4j;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A tensor closed by one thread while another thread's forward, backward, read, copy or fill uses it: the call
 * must finish on valid memory (its result bitwise equal to an undisturbed call) or throw IllegalStateException; the
 * JVM must never crash. Each case runs in a child JVM (a crash fails the test, not the build), with many
 * iterations on small tensors (tight races) and a few on 64 MiB tensors (wide windows).
 */
class CloseRaceTest {
    static final String[] OPS = {"forward", "backward", "read", "copy", "fill", "copyFrom"};

    @Test
    void smallTensors() throws Exception {
        Forked.run(CloseRaceTest.class, List.of("-Xmx512m"), 240, "small", "1500", "42").assertOk("close races, 4x768")
                .output.lines().forEach(System.out::println);
    }

    @Test
    void largeTensors() throws Exception {
        Forked.run(CloseRaceTest.class, List.of("-Xmx1g"), 240, "large", "8", "7").assertOk("close races, 4096x4096")
                .output.lines().forEach(System.out::println);
    }

    /** args: small|large, iterations per op, seed. Exit 0 when every call finished right or threw "closed". */
    public static void main(String[] args) throws Exception {
        boolean large = args[0].equals("large");
        int iterations = Integer.parseInt(args[1]);
        Random rnd = new Random(Long.parseLong(args[2]));
        int rows = large ? 4096 : 4, cols = large ? 4096 : 768;
        Case c = new Case(rows, cols, rnd.nextLong());
        int failures = 0;
        for (String op : OPS) {
            int done = 0, threw = 0;
            for (int i = 0; i < iterations; i++) {
                String outcome = c.once(op, rnd, large ? 20_000_000 : 20_000);
                if (outcome.equals("done")) done++;
                else if (outcome.equals("threw")) threw++;
                else {
                    failures++;
                    System.out.println("FAIL " + op + " iteration " + i + ": " + outcome);
                    if (failures > 20) System.exit(1);
                }
            }
            System.out.printf("%-8s %dx%d: %d finished, %d threw IllegalStateException%n", op, rows, cols, done, threw);
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    /** One shape's data, the undisturbed results, and one raced call per {@link #once}. */
    static final class Case {
        final int rows, cols;
        final float[] x, dy, g, b;
        final byte[] y, dx;
        final LayerNorm ln;
        final Tensor gamma, beta;

        Case(int rows, int cols, long seed) {
            this.rows = rows;
            this.cols = cols;
            ln = LayerNorm.builder(cols).build();
            x = Data.offCentre(seed, rows, cols);
            dy = Data.offCentre(seed + 1, rows, cols);
            g = Data.gamma(seed + 2, cols);
            b = Data.beta(seed + 3, cols);
            gamma = Tensor.of(g, cols);
            beta = Tensor.of(b, cols);
            try (Tensor xt = Tensor.of(x, rows, cols); Tensor dyt = Tensor.of(dy, rows, cols);
                    LayerNorm.Forward f = ln.forward(xt, gamma, beta); LayerNorm.Gradients gr = ln.backward(dyt, f, xt, gamma)) {
                y = Data.bytes(f.output());
                dx = Data.bytes(gr.dx());
            }
        }

        /** "done" (right result), "threw" (IllegalStateException naming a closed tensor) or a failure message. */
        String once(String op, Random rnd, int maxSpinNanos) throws InterruptedException {
            Tensor xt = Tensor.of(x, rows, cols);
            Tensor dyt = op.equals("backward") ? Tensor.of(dy, rows, cols) : null;
            Tensor yt = Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols);
            Tensor mean = Tensor.empty(DType.FLOAT32, Device.cpu(), rows);
            Tensor rstd = Tensor.empty(DType.FLOAT32, Device.cpu(), rows);
            Tensor dxt = op.equals("backward") ? Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols) : null;
            Tensor dg = op.equals("backward") ? Tensor.empty(DType.FLOAT32, Device.cpu(), cols) : null;
            Tensor db = op.equals("backward") ? Tensor.empty(DType.FLOAT32, Device.cpu(), cols) : null;
            LayerNorm.Forward out = Data.fwd(yt, mean, rstd);
            if (op.equals("backward")) ln.forward(xt, gamma, beta, out);
            Tensor target;
            boolean checkOutput;
            switch (op) {
                case "forward": {
                    Tensor[] ts = {xt, yt, mean, rstd};
                    target = ts[rnd.nextInt(ts.length)];
                    checkOutput = target != yt;
                    break;
                }
                case "backward": {
                    Tensor[] ts = {dyt, xt, mean, rstd, dxt, dg};
                    target = ts[rnd.nextInt(ts.length)];
                    checkOutput = target != dxt;
                    break;
                }
                default:
                    target = xt;
                    checkOutput = true;
            }
            long spin = rnd.nextInt(maxSpinNanos);
            CountDownLatch go = new CountDownLatch(1);
            AtomicReference<Throwable> closeError = new AtomicReference<>();
            Thread closer = new Thread(() -> {
                try {
                    go.await();
                    long until = System.nanoTime() + spin;
                    while (System.nanoTime() < until) Thread.onSpinWait();
                    target.close();
                } catch (Throwable e) {
                    closeError.set(e);
                }
            });
            closer.start();
            String outcome;
            float[] got = null;
            Tensor copy = null;
            float[] into = new float[rows * cols];
            go.countDown();
            try {
                switch (op) {
                    case "forward": ln.forward(xt, gamma, beta, out); break;
                    case "backward": ln.backward(dyt, out, xt, gamma, Data.grads(dxt, dg, db)); break;
                    case "read": got = xt.toFloatArray(); break;
                    case "copy": copy = xt.to(Device.cpu()); break;
                    case "fill": xt.fill(1.5); break;
                    case "copyFrom": xt.copyFrom(x); break;
                    default: throw new AssertionError(op);
                }
                outcome = "done";
            } catch (IllegalStateException e) {
                outcome = e.getMessage() != null && e.getMessage().contains("closed") ? "threw" : "unexpected " + e;
            } catch (Throwable e) {
                outcome = "unexpected " + e;
            }
            closer.join();
            if (closeError.get() != null) outcome = "close threw " + closeError.get();
            if (outcome.equals("done") && checkOutput) {
                switch (op) {
                    case "forward":
                        if (!Arrays.equals(y, Data.bytes(yt))) outcome = "y differs from the undisturbed forward";
                        break;
                    case "backward":
                        if (!Arrays.equals(dx, Data.bytes(dxt))) outcome = "dx differs from the undisturbed backward";
                        break;
                    case "read":
                        if (!Arrays.equals(x, got)) outcome = "toFloatArray differs from the data";
                        break;
                    case "copy":
                        if (!Arrays.equals(x, copy.copyTo(into))) outcome = "to(cpu) differs from the data";
                        break;
                    default:
                        break;  // fill / copyFrom wrote into the closed tensor: nothing left to compare
                }
            }
            for (Tensor t : new Tensor[] {xt, dyt, yt, mean, rstd, dxt, dg, db, copy}) if (t != null) t.close();
            return outcome;
        }
    }
}

package org.layernorm4j.cli;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.LayerNormException;
import org.layernorm4j.Tensor;
import org.layernorm4j.internal.CpuBackend;
import org.layernorm4j.internal.NativeCpu;
import org.layernorm4j.internal.Reference;

/**
 * The LayerNorm4j command line: {@code java -jar layernorm4j-<v>-cli.jar [info|check|bench]...}.
 * <ul>
 *   <li>{@code info}: version, OS/arch, CPU model, ISA path chosen and available, thread count, CUDA status.
 *   <li>{@code check}: forward and backward on random off-centre data for every backend, ISA path and dtype,
 *       against a float64 reference with rounding-derived bounds; prints max errors; exit status 1 on a failure.
 *   <li>{@code bench}: median time and GB/s of forward and backward through the Java API for a few shapes.
 * </ul>
 * No argument runs info, check and a short bench. System properties {@code layernorm4j.cpu.isa} and
 * {@code layernorm4j.cpu.threads} apply as in {@link LayerNorm}.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        List<String> cmds = args.length == 0 ? List.of("info", "check", "bench") : Arrays.asList(args);
        boolean ok = true;
        for (String c : cmds) {
            switch (c) {
                case "info": info(); break;
                case "check": ok &= check(); break;
                case "bench": bench(args.length == 0); break;
                case "-h": case "--help": case "help":
                    System.out.println("usage: java -jar layernorm4j-cli.jar [info] [check] [bench]");
                    break;
                default:
                    System.err.println("unknown command '" + c + "': expected info, check or bench");
                    System.exit(2);
            }
        }
        System.exit(ok ? 0 : 1);
    }

    static void info() {
        System.out.println("== info");
        System.out.println("layernorm4j " + NativeCpu.ln4j_version());
        System.out.println("os/arch     " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", java " + System.getProperty("java.version"));
        System.out.println("cpu         " + NativeCpu.ln4j_cpu_model() + ", " + Runtime.getRuntime().availableProcessors()
                + " processors");
        String forced = System.getProperty(CpuBackend.ISA_PROPERTY);
        System.out.println("isa         " + CpuBackend.activeIsaName() + (forced == null ? " (best of this CPU)"
                : " (forced by -D" + CpuBackend.ISA_PROPERTY + ")") + "; available: " + CpuBackend.supportedIsaNames());
        System.out.println("threads     " + LayerNorm.defaultCpuThreads());
        System.out.println("cuda        " + (Device.cudaAvailable() ? "available, " + Device.cudaDeviceCount()
                + " device(s)" : "unavailable: " + Device.cudaUnavailableReason()));
    }

    // ---- check ----------------------------------------------------------------------------------------------

    private static final int[][] CHECK_SHAPES = {{1, 768}, {7, 33}, {13, 1000}, {3, 4097}, {64, 256}};

    static boolean check() {
        System.out.println("== check (error / bound, bound derived from rounding; <= 1 passes)");
        String saved = System.getProperty(CpuBackend.ISA_PROPERTY);
        int fails = 0, passes = 0;
        try {
            List<String> isas = CpuBackend.supportedIsaNames();
            for (String isa : isas) {
                System.setProperty(CpuBackend.ISA_PROPERTY, isa);
                for (DType dt : DType.values()) {
                    for (int[] sh : CHECK_SHAPES) {
                        String label = String.format(Locale.ROOT, "cpu %-6s %-8s %5d x %-5d", isa, dt, sh[0], sh[1]);
                        try {
                            String r = checkOne(Device.cpu(), dt, sh[0], sh[1]);
                            boolean pass = r.startsWith("PASS");
                            if (pass) passes++;
                            else fails++;
                            System.out.println(label + " " + r);
                        } catch (LayerNormException e) {
                            // The CPU backend implements every dtype on every ISA: UNSUPPORTED is a failure too.
                            fails++;
                            System.out.println(label + " FAIL " + e.getMessage());
                        }
                    }
                }
            }
            if (Device.cudaAvailable()) {
                System.out.println("cuda: not checked (CUDA memory is not wired in yet)");
            } else {
                System.out.println("cuda: skipped: " + Device.cudaUnavailableReason());
            }
        } finally {
            if (saved == null) System.clearProperty(CpuBackend.ISA_PROPERTY);
            else System.setProperty(CpuBackend.ISA_PROPERTY, saved);
        }
        System.out.println("check: " + passes + " passed, " + fails + " failed");
        return fails == 0;
    }

    /** Random off-centre data: mean in [-5, 5] + 3 per row, scale in [0.5, 4]. */
    static float[] offCentre(Random rnd, int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double m = 3 + 10 * (rnd.nextDouble() - 0.5), s = 0.5 + 3.5 * rnd.nextDouble();
            for (int j = 0; j < cols; j++) a[r * cols + j] = (float) (m + s * rnd.nextGaussian());
        }
        return a;
    }

    static String checkOne(Device dev, DType dt, int rows, int cols) {
        Random rnd = new Random(rows * 31L + cols);
        DType pdt = dt.size() == 2 ? DType.FLOAT32 : dt;
        float[] g = new float[cols], b = new float[cols];
        for (int j = 0; j < cols; j++) {
            g[j] = (float) (0.5 + rnd.nextDouble());
            b[j] = (float) (rnd.nextDouble() - 0.5);
        }
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(offCentre(rnd, rows, cols), dt, rows, cols);
                Tensor dy = Tensor.of(offCentre(rnd, rows, cols), dt, rows, cols);
                Tensor gamma = Tensor.of(g, pdt, cols);
                Tensor beta = Tensor.of(b, pdt, cols);
                Tensor y = Tensor.empty(dt, dev, rows, cols).fill(Double.NaN);
                Tensor mean = Tensor.empty(dt.statsDType(), dev, rows).fill(Double.NaN);
                Tensor rstd = Tensor.empty(dt.statsDType(), dev, rows).fill(Double.NaN);
                Tensor dx = Tensor.empty(dt, dev, rows, cols).fill(Double.NaN);
                Tensor dgamma = Tensor.empty(pdt, dev, cols).fill(Double.NaN);
                Tensor dbeta = Tensor.empty(pdt, dev, cols).fill(Double.NaN)) {
            double uAcc = dt == DType.FLOAT64 ? 0x1p-53 : 0x1p-24;
            Reference ref = new Reference(x.toDoubleArray(), gamma.toDoubleArray(), beta.toDoubleArray(), rows, cols,
                    ln.eps(), uAcc, dt.unitRoundoff(), dt.statsDType().unitRoundoff());
            ln.forward(x, gamma, beta, y, mean, rstd);
            ln.backward(dy, x, mean, rstd, gamma, dx, dgamma, dbeta);
            Reference.Backward bw = ref.new Backward(dy.toDoubleArray(), dt.unitRoundoff(), pdt.unitRoundoff());
            double[] yv = y.toDoubleArray(), dxv = dx.toDoubleArray(), dgv = dgamma.toDoubleArray(),
                    dbv = dbeta.toDoubleArray();
            double worst = Math.max(Reference.worstRatio(yv, ref.y, ref.boundY),
                    Math.max(Reference.worstRatio(mean.toDoubleArray(), ref.mean, ref.boundMean),
                            Reference.worstRatio(rstd.toDoubleArray(), ref.rstd, ref.boundRstd)));
            worst = Math.max(worst, Math.max(Reference.worstRatio(dxv, bw.dx, bw.boundDx),
                    Math.max(Reference.worstRatio(dgv, bw.dgamma, bw.boundDgamma),
                            Reference.worstRatio(dbv, bw.dbeta, bw.boundDbeta))));
            return String.format(Locale.ROOT, "%s max|err| y %.2e dx %.2e dgamma %.2e dbeta %.2e  worst err/bound %.3f",
                    worst <= 1 ? "PASS" : "FAIL", Reference.maxAbsError(yv, ref.y), Reference.maxAbsError(dxv, bw.dx),
                    Reference.maxAbsError(dgv, bw.dgamma), Reference.maxAbsError(dbv, bw.dbeta), worst);
        }
    }

    // ---- bench ----------------------------------------------------------------------------------------------

    static void bench(boolean quick) {
        System.out.println("== bench (fp32, CPU, isa " + CpuBackend.activeIsaName() + ", threads "
                + LayerNorm.defaultCpuThreads() + "; median of timed calls after warm-up)");
        System.out.println("GB/s rule: forward = bytes of x read + y written + gamma/beta read + mean/rstd written;");
        System.out.println("           backward = dy, x read + dx written + mean/rstd/gamma read + dgamma/dbeta written");
        long[][] shapes = quick ? new long[][] {{1, 768}, {5461, 768}, {1024, 4096}}
                : new long[][] {{1, 768}, {5461, 768}, {1024, 4096}, {256, 16384}};
        for (long[] s : shapes) {
            int rows = (int) s[0], cols = (int) s[1];
            LayerNorm ln = LayerNorm.builder(cols).build();
            Random rnd = new Random(1);
            try (Tensor x = Tensor.of(offCentre(rnd, rows, cols), rows, cols);
                    Tensor dy = Tensor.of(offCentre(rnd, rows, cols), rows, cols);
                    Tensor gamma = Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(1.5);
                    Tensor beta = Tensor.empty(DType.FLOAT32, Device.cpu(), cols).fill(0.25);
                    Tensor y = Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols);
                    Tensor mean = Tensor.empty(DType.FLOAT32, Device.cpu(), rows);
                    Tensor rstd = Tensor.empty(DType.FLOAT32, Device.cpu(), rows);
                    Tensor dx = Tensor.empty(DType.FLOAT32, Device.cpu(), rows, cols);
                    Tensor dgamma = Tensor.empty(DType.FLOAT32, Device.cpu(), cols);
                    Tensor dbeta = Tensor.empty(DType.FLOAT32, Device.cpu(), cols)) {
                long n = (long) rows * cols;
                double fwdBytes = 4.0 * (2 * n + 2 * cols + 2 * rows);
                double bwdBytes = 4.0 * (3 * n + 2 * rows + 3 * cols);
                int reps = (int) Math.max(5, Math.min(quick ? 2000 : 20000, 2e7 / n));
                double tf = medianNanos(reps, () -> ln.forward(x, gamma, beta, y, mean, rstd));
                double tb = medianNanos(reps, () -> ln.backward(dy, x, mean, rstd, gamma, dx, dgamma, dbeta));
                System.out.printf(Locale.ROOT, "%6d x %-6d forward %10.3f us %7.2f GB/s   backward %10.3f us %7.2f GB/s%n",
                        rows, cols, tf / 1e3, fwdBytes / tf, tb / 1e3, bwdBytes / tb);
            }
        }
    }

    /** Median of per-call times; calls are timed in batches so that tiny calls are measured above timer noise. */
    static double medianNanos(int reps, Runnable r) {
        for (int i = 0; i < Math.min(reps, 200); i++) r.run();
        int batch = 1;
        long t0 = System.nanoTime();
        r.run();
        long one = System.nanoTime() - t0;
        if (one < 20_000) batch = (int) Math.max(1, 20_000 / Math.max(one, 1));
        int samples = Math.max(5, reps / batch);
        samples = Math.min(samples, 101);
        double[] t = new double[samples];
        for (int s = 0; s < samples; s++) {
            long a = System.nanoTime();
            for (int i = 0; i < batch; i++) r.run();
            t[s] = (System.nanoTime() - a) / (double) batch;
        }
        Arrays.sort(t);
        return t[samples / 2];
    }

}

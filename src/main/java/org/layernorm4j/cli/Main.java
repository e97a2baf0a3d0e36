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

/**
 * The LayerNorm4j command line: {@code java -jar layernorm4j-<v>-cli.jar [info|check|bench]...}.
 * <ul>
 *   <li>{@code info}: version, OS/arch, CPU model, ISA path chosen and available, thread count, CUDA status.
 *   <li>{@code check}: forward and backward on random off-centre data for every backend, ISA path and dtype,
 *       against a float64 reference with rounding-derived bounds; prints max errors; exit status 1 on a failure.
 *   <li>{@code bench [options]}: the native harness's model sweep through the Java API ({@link BenchSweep}): median,
 *       p10, p90, GB/s and the ratio to a copy ceiling measured in the same run; {@code bench --help} lists options.
 * </ul>
 * No argument runs info, check and {@code bench --quick}. System properties {@code layernorm4j.cpu.isa} and
 * {@code layernorm4j.cpu.threads} apply as in {@link LayerNorm}.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        List<String> cmds = args.length == 0 ? List.of("info", "check", "bench", "--quick") : Arrays.asList(args);
        boolean ok = true;
        for (int i = 0; i < cmds.size(); i++) {
            String c = cmds.get(i);
            switch (c) {
                case "info": info(); break;
                case "check": ok &= check(); break;
                case "bench": {
                    // Everything after `bench` is its options (--cols 768,4096 --quick ...): see BenchSweep's usage.
                    List<String> opts = cmds.subList(i + 1, cmds.size());
                    int rc = BenchSweep.run(opts.toArray(new String[0]), System.out);
                    System.exit(rc != 0 ? rc : ok ? 0 : 1);
                    break;
                }
                case "-h": case "--help": case "help":
                    System.out.println("usage: java -jar layernorm4j-cli.jar [info] [check] [bench [bench options]] (bench last)");
                    BenchSweep.run(new String[] {"--help"}, System.out);
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
        System.out.println("layernorm4j " + LayerNorm.version());
        System.out.println("os/arch     " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", java " + System.getProperty("java.version"));
        System.out.println("cpu         " + LayerNorm.cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " processors");
        String forced = System.getProperty(LayerNorm.CPU_ISA_PROPERTY);
        System.out.println("isa         " + LayerNorm.cpuIsa() + (forced == null ? " (best of this CPU)"
                : " (forced by -D" + LayerNorm.CPU_ISA_PROPERTY + ")") + "; available: " + LayerNorm.supportedCpuIsas());
        System.out.println("threads     " + LayerNorm.defaultCpuThreads());
        System.out.println("cuda        " + (Device.cudaAvailable() ? "available, " + Device.cudaDeviceCount()
                + " device(s)" : "unavailable: " + Device.cudaUnavailableReason()));
    }

    // ---- check ----------------------------------------------------------------------------------------------

    private static final int[][] CHECK_SHAPES = {{1, 768}, {7, 33}, {13, 1000}, {3, 4097}, {64, 256}};

    static boolean check() {
        System.out.println("== check (error / bound, bound derived from rounding; <= 1 passes)");
        String saved = System.getProperty(LayerNorm.CPU_ISA_PROPERTY);
        int fails = 0, passes = 0;
        try {
            List<String> isas = LayerNorm.supportedCpuIsas();
            for (String isa : isas) {
                System.setProperty(LayerNorm.CPU_ISA_PROPERTY, isa);
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
                for (int d = 0; d < Device.cudaDeviceCount(); d++) {
                    for (DType dt : DType.values()) {
                        for (int[] sh : CHECK_SHAPES) {
                            String label = String.format(Locale.ROOT, "cuda:%d  %-8s %5d x %-5d", d, dt, sh[0], sh[1]);
                            try {
                                String r = checkOne(Device.cuda(d), dt, sh[0], sh[1]);
                                boolean pass = r.startsWith("PASS");
                                if (pass) passes++;
                                else fails++;
                                System.out.println(label + " " + r);
                            } catch (LayerNormException e) {
                                fails++;
                                System.out.println(label + " FAIL " + e.getMessage());
                            }
                        }
                    }
                }
            } else {
                System.out.println("cuda: skipped: " + Device.cudaUnavailableReason());
            }
        } finally {
            if (saved == null) System.clearProperty(LayerNorm.CPU_ISA_PROPERTY);
            else System.setProperty(LayerNorm.CPU_ISA_PROPERTY, saved);
        }
        System.out.println("check: " + passes + " passed, " + fails + " failed");
        return fails == 0;
    }

    /** t itself on the CPU; else a copy on dev, and t is closed. */
    private static Tensor on(Device dev, Tensor t) {
        if (dev.isCpu()) return t;
        try (Tensor host = t) {
            return host.to(dev);
        }
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
        Device cpu = Device.cpu();
        // Inputs made on the host, then moved to `dev` (the same tensor on the CPU; close() is idempotent); outputs
        // poisoned with NaN on the host first.
        try (Tensor x = on(dev, Tensor.of(offCentre(rnd, rows, cols), dt, rows, cols));
                Tensor dy = on(dev, Tensor.of(offCentre(rnd, rows, cols), dt, rows, cols));
                Tensor gamma = on(dev, Tensor.of(g, pdt, cols));
                Tensor beta = on(dev, Tensor.of(b, pdt, cols));
                Tensor y = on(dev, Tensor.empty(dt, cpu, rows, cols).fill(Double.NaN));
                Tensor mean = on(dev, Tensor.empty(dt.statsDType(), cpu, rows).fill(Double.NaN));
                Tensor rstd = on(dev, Tensor.empty(dt.statsDType(), cpu, rows).fill(Double.NaN));
                Tensor dx = on(dev, Tensor.empty(dt, cpu, rows, cols).fill(Double.NaN));
                Tensor dgamma = on(dev, Tensor.empty(pdt, cpu, cols).fill(Double.NaN));
                Tensor dbeta = on(dev, Tensor.empty(pdt, cpu, cols).fill(Double.NaN))) {
            double uAcc = dt == DType.FLOAT64 ? 0x1p-53 : 0x1p-24;
            Reference ref = new Reference(x.toDoubleArray(), gamma.toDoubleArray(), beta.toDoubleArray(), rows, cols,
                    ln.eps(), uAcc, dt.unitRoundoff(), dt.statsDType().unitRoundoff());
            LayerNorm.Forward f = LayerNorm.Forward.builder().output(y).mean(mean).rstd(rstd).build();
            ln.forward(x, gamma, beta, f);
            ln.backward(dy, f, x, gamma, LayerNorm.Gradients.builder().dx(dx).dgamma(dgamma).dbeta(dbeta).build());
            Reference.Backward bw = ref.new Backward(dy.toDoubleArray(), dt.unitRoundoff(), pdt.unitRoundoff());
            double[] yv = y.toDoubleArray(), dxv = dx.toDoubleArray(), dgv = dgamma.toDoubleArray(),
                    dbv = dbeta.toDoubleArray();
            double worst = Math.max(Reference.worstRatio(yv, ref.y, ref.boundY),
                    Math.max(Reference.worstRatio(mean.toDoubleArray(), ref.mean, ref.boundMean),
                            Reference.worstRatio(rstd.toDoubleArray(), ref.rstd, ref.boundRstd)));
            worst = Math.max(worst, Math.max(Reference.worstRatio(dxv, bw.dx, bw.boundDx),
                    Math.max(Reference.worstRatio(dgv, bw.dgamma, bw.boundDgamma),
                            Reference.worstRatio(dbv, bw.dbeta, bw.boundDbeta))));
            // The GPU sums in another order (same error class): its bound is doubled.
            if (!dev.isCpu()) worst /= 2;
            return String.format(Locale.ROOT, "%s max|err| y %.2e dx %.2e dgamma %.2e dbeta %.2e  worst err/bound %.3f",
                    worst <= 1 ? "PASS" : "FAIL", Reference.maxAbsError(yv, ref.y), Reference.maxAbsError(dxv, bw.dx),
                    Reference.maxAbsError(dgv, bw.dgamma), Reference.maxAbsError(dbv, bw.dbeta), worst);
        }
    }
}

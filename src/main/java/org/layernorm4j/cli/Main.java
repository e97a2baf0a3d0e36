package org.layernorm4j.cli;

import java.io.PrintStream;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.LayerNormException;
import org.layernorm4j.Tensor;
import org.layernorm4j.internal.Natives;

/**
 * The LayerNorm4j command line: {@code java -jar layernorm4j-<v>-cli.jar [info] [check] [bench [options]]};
 * {@code --help} lists every command, option, system property and exit code.
 *
 * <p>The whole command line (and the {@code layernorm4j.cpu.*} properties) is checked before any work; errors go to
 * stderr as one line, with exit status {@value #EXIT_USAGE} (bad command line), {@value #EXIT_FAILED} (a check
 * failed) or {@value #EXIT_ENVIRONMENT} (this machine or JVM cannot run it: natives, platform, CPU, memory).
 */
public final class Main {
    /** Everything ran and every check passed. */
    public static final int EXIT_OK = 0;
    /** {@code check} found a result outside its bound. */
    public static final int EXIT_FAILED = 1;
    /** A bad command line or system property value. */
    public static final int EXIT_USAGE = 2;
    /** The environment cannot run it: natives missing or unloadable, unsupported platform or CPU, out of memory. */
    public static final int EXIT_ENVIRONMENT = 3;
    /** An unexpected internal error (a bug: please report it with the output of -Dlayernorm4j.cli.trace=true). */
    public static final int EXIT_INTERNAL = 4;

    private static final String TRACE_PROPERTY = "layernorm4j.cli.trace";

    private Main() {}

    /** A usage error: one line for stderr, exit status 2. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command line; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        List<String> cmds = new ArrayList<>();
        BenchSweep.Options bench = null;
        try {
            // 1. the whole command line, before any work
            for (String a : args) {
                if (a.equals("-h") || a.equals("--help") || a.equals("help")) {
                    usage(out);
                    return EXIT_OK;
                }
            }
            if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
                out.println(versionLine());
                return EXIT_OK;
            }
            if (args.length == 0) {
                cmds.add("info");
                cmds.add("check");
                bench = BenchSweep.parse(new String[] {"--quick"});
            }
            for (int i = 0; i < args.length; i++) {
                String c = args[i];
                switch (c) {
                    case "info":
                    case "check":
                        if (cmds.contains(c)) throw new UsageException("'" + c + "' given twice");
                        cmds.add(c);
                        break;
                    case "bench":
                        bench = BenchSweep.parse(java.util.Arrays.copyOfRange(args, i + 1, args.length));
                        i = args.length;
                        break;
                    case "--version":
                    case "-V":
                        throw new UsageException("--version takes no command with it");
                    default:
                        throw new UsageException(c.startsWith("-") ? "unknown option '" + c + "' (options go after 'bench')"
                                : "unknown command '" + c + "': expected info, check or bench");
                }
            }
            // 2. the environment: natives, then the system properties that need them
            checkProperties();
        } catch (UsageException e) {
            err.println(programName() + ": " + e.getMessage() + " (see --help)");
            return EXIT_USAGE;
        } catch (EnvironmentException e) {
            err.println(programName() + ": " + e.getMessage());
            return EXIT_ENVIRONMENT;
        } catch (LinkageError e) {
            err.println(programName() + ": " + linkageMessage(e));
            return EXIT_ENVIRONMENT;
        }
        // 3. the work
        try {
            int[] checked = null;
            if (cmds.contains("info")) info(out);
            if (cmds.contains("check")) checked = check(out);
            if (bench != null) BenchSweep.run(bench, out);
            if (checked != null && checked[1] > 0) {
                err.println(programName() + ": check failed: " + checked[1] + " of " + (checked[0] + checked[1])
                        + " cases outside their bound (the FAIL rows on stdout say which)");
                return EXIT_FAILED;
            }
            return EXIT_OK;
        } catch (LinkageError e) {
            err.println(programName() + ": " + linkageMessage(e));
            return EXIT_ENVIRONMENT;
        } catch (OutOfMemoryError e) {
            err.println(programName() + ": out of memory (" + Natives.oneLine(String.valueOf(e.getMessage()))
                    + "): give the JVM more (-Xmx) or use a smaller bench (--elements, --rotate-mib)");
            return EXIT_ENVIRONMENT;
        } catch (RuntimeException e) {
            err.println(programName() + ": internal error: " + Natives.oneLine(String.valueOf(e))
                    + " (run with -D" + TRACE_PROPERTY + "=true for the stack trace)");
            if (Boolean.getBoolean(TRACE_PROPERTY)) e.printStackTrace(err);
            return EXIT_INTERNAL;
        }
    }

    /** An environment error found before the work: one line for stderr, exit status 3. */
    static final class EnvironmentException extends Exception {
        private static final long serialVersionUID = 1L;

        EnvironmentException(String message) {
            super(message);
        }
    }

    private static String linkageMessage(LinkageError e) {
        // NoClassDefFoundError after a failed static initializer: the first failure (its cause) says why
        Throwable t = e;
        while (t instanceof NoClassDefFoundError && t.getCause() != null) t = t.getCause();
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        m = m.replaceFirst("^Exception java\\.lang\\.\\w+: ", "").replaceFirst(" \\[in thread \"[^\"]*\"\\]$", "");
        return Natives.oneLine(m);
    }

    /** The natives load and the layernorm4j.cpu.* properties are valid; otherwise a one-line exception. */
    static void checkProperties() throws UsageException, EnvironmentException {
        try {
            LayerNorm.version();
        } catch (LinkageError e) {
            throw new EnvironmentException(linkageMessage(e));
        }
        try {
            LayerNorm.cpuIsa();
        } catch (IllegalArgumentException e) {
            throw new UsageException(Natives.oneLine(e.getMessage()));
        } catch (IllegalStateException e) {
            throw new EnvironmentException(Natives.oneLine(e.getMessage()));
        }
        try {
            LayerNorm.defaultCpuThreads();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UsageException(Natives.oneLine(e.getMessage()));
        }
    }

    /** How this program was started: "java -jar <jar name>" or "java -cp ... org.layernorm4j.cli.Main". */
    static String programName() {
        return "layernorm4j";
    }

    static String invocation() {
        try {
            String loc = Paths.get(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getFileName()
                    .toString();
            if (loc.endsWith(".jar")) return "java -jar " + loc;
        } catch (Exception | Error e) {
            // no code source (unusual class loader): the generic form below
        }
        return "java -cp <class path> " + Main.class.getName();
    }

    static String versionLine() {
        return "layernorm4j " + Natives.version() + " (Java " + System.getProperty("java.version") + ", "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ")";
    }

    static void usage(PrintStream out) {
        String me = invocation();
        out.println("usage: " + me + " [info] [check] [bench [bench options]]");
        out.println("       " + me + " --help | --version");
        out.println();
        out.println("LayerNorm4j " + Natives.version() + ": layer normalization kernels for the CPU (scalar, AVX2, AVX-512)");
        out.println("and CUDA, from Java. With no command: info, check, then bench --quick.");
        out.println();
        out.println("commands (run in this order; bench last, its options after it):");
        out.println("  info          version, OS/arch, CPU model, ISA path (chosen and available), threads, CUDA status");
        out.println("  check         forward and backward of every backend, ISA path and dtype on random off-centre data");
        out.println("                against a float64 reference with rounding-derived bounds, one row per case");
        out.println("  bench         the model sweep through the Java API: median, p10, p90, GB/s and % of the honest ceiling");
        out.println();
        out.println("bench options:");
        BenchSweep.usage(out);
        out.println();
        out.println("options:");
        out.println("  -h, --help    this text (anywhere on the command line; nothing runs)");
        out.println("  -V, --version the version, then exit");
        out.println();
        out.println("system properties (java -D<name>=<value> " + me.substring("java ".length()) + " ...):");
        String[][] props = {
            {LayerNorm.CPU_ISA_PROPERTY + "=scalar|avx2|avx512|auto", "force a CPU ISA path (default auto: the best this CPU runs)"},
            {"layernorm4j.cpu.threads" + "=N", "CPU threads (default 0: available processors)"},
            {"org.bytedeco.javacpp.cachedir=DIR", "where the natives are extracted (default ~/.javacpp/cache)"},
            {"org.bytedeco.javacpp.logger.debug=true", "log every native library load"},
            {TRACE_PROPERTY + "=true", "print the stack trace of an internal error"}};
        for (String[] p : props) out.printf(Locale.ROOT, "  %-44s %s%n", p[0], p[1]);
        out.println();
        out.println("exit status:");
        out.println("  " + EXIT_OK + "  success");
        out.println("  " + EXIT_FAILED + "  check: a result outside its bound (its FAIL row on stdout, one line on stderr)");
        out.println("  " + EXIT_USAGE + "  bad command line or system property value (one line on stderr)");
        out.println("  " + EXIT_ENVIRONMENT + "  this machine cannot run it: natives missing or not loadable, unsupported platform,");
        out.println("     a forced ISA path the CPU lacks, out of memory (one line on stderr)");
        out.println("  " + EXIT_INTERNAL + "  internal error (a bug; -D" + TRACE_PROPERTY + "=true shows where)");
    }

    static void info(PrintStream out) {
        out.println("== info");
        out.println("layernorm4j " + LayerNorm.version());
        out.println("os/arch     " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + " (natives: " + Natives.platform() + "), java " + System.getProperty("java.version"));
        out.println("cpu         " + LayerNorm.cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " processors");
        String forced = System.getProperty(LayerNorm.CPU_ISA_PROPERTY);
        out.println("isa         " + LayerNorm.cpuIsa() + (forced == null ? " (best of this CPU)"
                : " (forced by -D" + LayerNorm.CPU_ISA_PROPERTY + ")") + "; available: " + LayerNorm.supportedCpuIsas());
        out.println("threads     " + LayerNorm.defaultCpuThreads());
        out.println("cuda        " + (Device.cudaAvailable() ? "available, " + Device.cudaDeviceCount()
                + " device(s)" : "unavailable: " + Device.cudaUnavailableReason()));
    }

    // ---- check ----------------------------------------------------------------------------------------------

    private static final int[][] CHECK_SHAPES = {{1, 768}, {7, 33}, {13, 1000}, {3, 4097}, {64, 256}};

    /**
     * Test-only fault injection, not part of the command line's interface (not in --help): with
     * {@code -Dlayernorm4j.internal.cli.corruptCheck=true} the first check case adds 1 to the first element of the
     * forward output it read back, before the comparison with the reference, so that CliIT can see a real comparison
     * fail and the command exit with {@value #EXIT_FAILED} and one line on stderr.
     */
    static final String CORRUPT_CHECK_PROPERTY = "layernorm4j.internal.cli.corruptCheck";

    /** Runs every check case, one row each; returns {passed, failed}. */
    static int[] check(PrintStream out) {
        boolean corrupt = Boolean.getBoolean(CORRUPT_CHECK_PROPERTY);
        out.println("== check (error / bound, bound derived from rounding; <= 1 passes)");
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
                            String r = checkOne(Device.cpu(), dt, sh[0], sh[1], corrupt && passes + fails == 0);
                            boolean pass = r.startsWith("PASS");
                            if (pass) passes++;
                            else fails++;
                            out.println(label + " " + r);
                        } catch (LayerNormException e) {
                            // The CPU backend implements every dtype on every ISA: UNSUPPORTED is a failure too.
                            fails++;
                            out.println(label + " FAIL " + e.getMessage());
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
                                String r = checkOne(Device.cuda(d), dt, sh[0], sh[1], false);
                                boolean pass = r.startsWith("PASS");
                                if (pass) passes++;
                                else fails++;
                                out.println(label + " " + r);
                            } catch (LayerNormException e) {
                                fails++;
                                out.println(label + " FAIL " + e.getMessage());
                            }
                        }
                    }
                }
            } else {
                out.println("cuda: skipped: " + Device.cudaUnavailableReason());
            }
        } finally {
            if (saved == null) System.clearProperty(LayerNorm.CPU_ISA_PROPERTY);
            else System.setProperty(LayerNorm.CPU_ISA_PROPERTY, saved);
        }
        out.println("check: " + passes + " passed, " + fails + " failed");
        return new int[] {passes, fails};
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

    /** One case's row text, "PASS ..." or "FAIL ..."; {@code corrupt}: see {@link #CORRUPT_CHECK_PROPERTY}. */
    static String checkOne(Device dev, DType dt, int rows, int cols, boolean corrupt) {
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
            if (corrupt) yv[0] += 1;
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

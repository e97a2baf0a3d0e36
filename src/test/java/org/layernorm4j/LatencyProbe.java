package org.layernorm4j;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.layernorm4j.internal.NativeCpu;
import org.layernorm4j.internal.NormCall;

/**
 * Not a test: {@code java -cp ... org.layernorm4j.LatencyProbe [cols]} times 10^6 into-outputs forward calls
 * (1 x cols fp32, default 768) through the Java API and the same call straight into the JNI binding, in batches of
 * 10^4, and prints the medians; their difference is what the Java layer (checks, call guard, dispatch) costs per
 * call. It also times the round trip of a Java user without copies of new arrays: {@code x.copyFrom(float[])},
 * the forward, {@code y.copyTo(float[])}, next to the kernel alone.
 *
 * <p>{@code LatencyProbe --guard-cost [cols] [pairs]} (what {@code scripts/guard-cost.sh} runs) measures what the
 * call guard adds to the into-outputs forward: it starts {@code pairs} (default 8) pairs of child JVMs of the same
 * build, one with the guard and one with {@code -Dlayernorm4j.unsafe.noCallGuard=true} (closed-flag checks only),
 * in alternating order, and prints each child's best per-call median, the pairwise differences and their median.
 * Only meaningful on a quiet machine.
 */
public final class LatencyProbe {
    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length > 0 && args[0].equals("--guard-cost")) {
            guardCost(args.length > 1 ? Integer.parseInt(args[1]) : 768, args.length > 2 ? Integer.parseInt(args[2]) : 8);
            return;
        }
        if (args.length > 0 && args[0].equals("--child")) {
            child(Integer.parseInt(args[1]));
            return;
        }
        int cols = args.length > 0 ? Integer.parseInt(args[0]) : 768;
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 1, cols), 1, cols); Tensor g = Tensor.of(Data.gamma(2, cols), cols);
                Tensor b = Tensor.of(Data.beta(3, cols), cols); Tensor y = Data.poisoned(DType.FLOAT32, 1, cols);
                Tensor m = Data.poisoned(DType.FLOAT32, 1); Tensor r = Data.poisoned(DType.FLOAT32, 1)) {
            long xa = x.address(), ga = g.address(), ba = b.address(), ya = y.address(), ma = m.address(), ra = r.address();
            for (int round = 0; round < 3; round++) {
                LayerNorm.Forward out = Data.fwd(y, m, r);
                double api = median(() -> ln.forward(x, g, b, out));
                NormCall call = NormCall.forward(0, 0, 0, 0, 1, cols, 1e-5).x(xa).gamma(ga).beta(ba).y(ya).mean(ma)
                        .rstd(ra).onCpu(-1);
                long argsAt = call.argsAddress(), execAt = call.execAddress();  // structs filled once
                double raw = median(() -> NativeCpu.ln4j_cpu_forward(argsAt, execAt));
                float[] in = Data.offCentre(4, 1, cols), outs = new float[cols];
                double trip = median(() -> {
                    x.copyFrom(in);
                    ln.forward(x, g, b, out);
                    y.copyTo(outs);
                });
                double copies = median(() -> {
                    x.copyFrom(in);
                    y.copyTo(outs);
                });
                String[] names = {"x", null, "g", "b", "y", null, "m", "r", null, null};
                double guard = median(() -> CallGuard.exit(CallGuard.enter(names, x, null, g, b, y, null, m, r, null, null),
                        x, null, g, b, y, null, m, r, null, null));
                System.out.printf("call guard alone (enter + exit, 6 tensors): %.1f ns%n", guard);
                System.out.printf("1 x %d fp32 forward: Java API %.1f ns, direct JNI %.1f ns, Java layer %.1f ns; "
                        + "round trip copyFrom + forward + copyTo %.1f ns (the two copies alone %.1f ns)%n", cols, api, raw,
                        api - raw, trip, copies);
            }
        }
    }

    /** One child JVM: the best of 5 medians of the API forward and of the direct JNI call, on one line. */
    private static void child(int cols) {
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 1, cols), 1, cols); Tensor g = Tensor.of(Data.gamma(2, cols), cols);
                Tensor b = Tensor.of(Data.beta(3, cols), cols); Tensor y = Data.poisoned(DType.FLOAT32, 1, cols);
                Tensor m = Data.poisoned(DType.FLOAT32, 1); Tensor r = Data.poisoned(DType.FLOAT32, 1)) {
            LayerNorm.Forward out = Data.fwd(y, m, r);
            NormCall call = NormCall.forward(0, 0, 0, 0, 1, cols, 1e-5).x(x.address()).gamma(g.address())
                    .beta(b.address()).y(y.address()).mean(m.address()).rstd(r.address()).onCpu(-1);
            long argsAt = call.argsAddress(), execAt = call.execAddress();
            double api = Double.MAX_VALUE, raw = Double.MAX_VALUE;
            for (int round = 0; round < 5; round++) {
                api = Math.min(api, median(() -> ln.forward(x, g, b, out)));
                raw = Math.min(raw, median(() -> NativeCpu.ln4j_cpu_forward(argsAt, execAt)));
            }
            System.out.printf("RESULT %.2f %.2f%n", api, raw);
        }
    }

    /** Alternates child JVMs with and without the guard; prints each and the median pairwise difference. */
    private static void guardCost(int cols, int pairs) throws IOException, InterruptedException {
        System.out.printf("call guard cost, 1 x %d fp32 into-outputs forward through the API: %d pairs of child JVMs "
                + "(guard on / -Dlayernorm4j.unsafe.noCallGuard=true), best of 5 medians of 10^6 calls each%n", cols,
                pairs);
        double[] on = new double[pairs], off = new double[pairs], diff = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            boolean onFirst = i % 2 == 0;  // alternate the order so that drift does not favour one side
            double[] a = runChild(cols, !onFirst);
            double[] b = runChild(cols, onFirst);
            double[] withGuard = onFirst ? a : b, without = onFirst ? b : a;
            on[i] = withGuard[0];
            off[i] = without[0];
            diff[i] = on[i] - off[i];
            System.out.printf("pair %d: API with guard %.1f ns, without %.1f ns, difference %+.1f ns (direct JNI %.1f / "
                    + "%.1f ns)%n", i + 1, on[i], off[i], diff[i], withGuard[1], without[1]);
        }
        double[] sd = diff.clone();
        Arrays.sort(sd);
        double med = pairs % 2 == 1 ? sd[pairs / 2] : (sd[pairs / 2 - 1] + sd[pairs / 2]) / 2;
        double bestOn = Arrays.stream(on).min().orElse(0), bestOff = Arrays.stream(off).min().orElse(0);
        System.out.printf("guard cost: median pairwise difference %+.1f ns (range %+.1f .. %+.1f); best with %.1f ns, "
                + "best without %.1f ns (%+.1f ns); budget 10 ns%n", med, sd[0], sd[pairs - 1], bestOn, bestOff,
                bestOn - bestOff);
    }

    /** Runs one child JVM on this class path; returns {api ns, jni ns}. */
    private static double[] runChild(int cols, boolean disableGuard) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        for (String k : System.getProperties().stringPropertyNames()) {
            if (k.startsWith("org.bytedeco.") || (k.startsWith("layernorm4j.") && !k.equals("layernorm4j.unsafe.noCallGuard"))) {
                cmd.add("-D" + k + "=" + System.getProperty(k));
            }
        }
        if (disableGuard) cmd.add("-Dlayernorm4j.unsafe.noCallGuard=true");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), LatencyProbe.class.getName(), "--child",
                Integer.toString(cols)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        StringBuilder all = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                all.append(line).append('\n');
                if (line.startsWith("RESULT ")) result = line;
            }
        }
        int rc = p.waitFor();
        if (rc != 0 || result == null) throw new IllegalStateException("child JVM failed (exit " + rc + "):\n" + all);
        String[] f = result.split(" ");
        return new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[2])};
    }

    static double median(Runnable call) {
        int batches = 100, per = 10_000; // 10^6 calls
        double[] t = new double[batches];
        for (int i = 0; i < per * 10; i++) call.run();
        for (int k = 0; k < batches; k++) {
            long a = System.nanoTime();
            for (int i = 0; i < per; i++) call.run();
            t[k] = (System.nanoTime() - a) / (double) per;
        }
        Arrays.sort(t);
        return t[batches / 2];
    }
}

package org.layernorm4j;

import java.util.Arrays;
import org.layernorm4j.internal.NativeCpu;

/**
 * Not a test: {@code java -cp ... org.layernorm4j.LatencyProbe [cols]} times 10^6 into-outputs forward calls
 * (1 x cols fp32, default 768) through the Java API and the same call straight into the JNI binding, in batches of
 * 10^4, and prints the medians; their difference is what the Java layer (checks, call guard, dispatch) costs per
 * call. It also times the round trip of a Java user without copies of new arrays: {@code x.copyFrom(float[])},
 * the forward, {@code y.copyTo(float[])}, next to the kernel alone.
 */
public final class LatencyProbe {
    public static void main(String[] args) {
        int cols = args.length > 0 ? Integer.parseInt(args[0]) : 768;
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 1, cols), 1, cols); Tensor g = Tensor.of(Data.gamma(2, cols), cols);
                Tensor b = Tensor.of(Data.beta(3, cols), cols); Tensor y = Data.poisoned(DType.FLOAT32, 1, cols);
                Tensor m = Data.poisoned(DType.FLOAT32, 1); Tensor r = Data.poisoned(DType.FLOAT32, 1)) {
            long xa = x.address(), ga = g.address(), ba = b.address(), ya = y.address(), ma = m.address(), ra = r.address();
            for (int round = 0; round < 3; round++) {
                LayerNorm.Forward out = Data.fwd(y, m, r);
                double api = median(() -> ln.forward(x, g, b, out));
                double raw = median(() -> NativeCpu.ln4j_cpu_forward(-1, 0, 0, 0, 0, 0, 1, cols, 1e-5, xa, 0, ga, ba, ya,
                        0, ma, ra));
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

package org.layernorm4j.internal;

/**
 * The CPU backend: host memory from {@link Memory}, kernels from liblayernorm4j through {@link NativeCpu}.
 *
 * <p>The ISA path comes from the system property {@value #ISA_PROPERTY} ({@code scalar}, {@code avx2},
 * {@code avx512}, or unset / {@code auto} = the best this CPU runs), read on every call and resolved through a
 * one-entry cache keyed by the property string, so tests can switch it. The pool's default thread count comes from
 * {@value #THREADS_PROPERTY} (read once, at first use) or {@link #setDefaultThreads}.
 */
public final class CpuBackend implements Backend {
    /** System property that forces an ISA path. */
    public static final String ISA_PROPERTY = "layernorm4j.cpu.isa";
    /** System property with the default thread count (0 = available processors). */
    public static final String THREADS_PROPERTY = "layernorm4j.cpu.threads";

    public static final CpuBackend INSTANCE = new CpuBackend();

    private static final String[] ISA_NAMES = {"scalar", "avx2", "avx512"};

    /** Cache of the last property value resolved: (string identity, isa). */
    private record IsaChoice(String property, int isa) {}

    private static volatile IsaChoice cached = new IsaChoice(null, -1);
    private static volatile boolean threadsPropertyRead;

    private CpuBackend() {}

    /** The ISA code ({@code LN4J_ISA_*}, -1 = auto) the property asks for; throws for a bad value. */
    public static int isa() {
        String p = System.getProperty(ISA_PROPERTY);
        IsaChoice c = cached;
        if (c.property() == p) return c.isa();
        int isa = resolve(p);
        cached = new IsaChoice(p, isa);
        return isa;
    }

    private static int resolve(String p) {
        if (p == null || p.isEmpty() || p.trim().equalsIgnoreCase("auto")) return -1;
        String v = p.trim().toLowerCase(java.util.Locale.ROOT);
        for (int i = 0; i < ISA_NAMES.length; i++) {
            if (ISA_NAMES[i].equals(v)) {
                if (NativeCpu.ln4j_cpu_isa_supported(i) == 0) {
                    throw new IllegalStateException("system property " + ISA_PROPERTY + "=" + p
                            + " asks for an ISA path this CPU (" + NativeCpu.ln4j_cpu_model()
                            + ") does not run; the best available is " + bestIsaName());
                }
                return i;
            }
        }
        throw new IllegalArgumentException("system property " + ISA_PROPERTY + "='" + p
                + "' is not a known ISA path: allowed values are scalar, avx2, avx512 (or auto / unset)");
    }

    /** Name of the best ISA path of this CPU. */
    public static String bestIsaName() {
        return NativeCpu.ln4j_cpu_isa_name(NativeCpu.ln4j_cpu_isa_best());
    }

    /** Name of the ISA path calls use now (property or best). */
    public static String activeIsaName() {
        int isa = isa();
        return NativeCpu.ln4j_cpu_isa_name(isa < 0 ? NativeCpu.ln4j_cpu_isa_best() : isa);
    }

    /** Names of the ISA paths this CPU runs, in increasing order. */
    public static java.util.List<String> supportedIsaNames() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < ISA_NAMES.length; i++) if (NativeCpu.ln4j_cpu_isa_supported(i) != 0) out.add(ISA_NAMES[i]);
        return out;
    }

    private static void readThreadsProperty() {
        if (threadsPropertyRead) return;
        synchronized (CpuBackend.class) {
            if (threadsPropertyRead) return;
            String p = System.getProperty(THREADS_PROPERTY);
            if (p != null && !p.trim().isEmpty()) {
                int n;
                try {
                    n = Integer.parseInt(p.trim());
                } catch (NumberFormatException e) {
                    n = -1;
                }
                if (n < 0) {
                    throw new IllegalArgumentException("system property " + THREADS_PROPERTY + "='" + p
                            + "' must be an integer >= 0 (0 = available processors)");
                }
                setDefaultThreadsNative(n);
            }
            threadsPropertyRead = true;
        }
    }

    /** Sets the pool's default thread count (0 = available processors). */
    public static void setDefaultThreads(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = available processors), got " + threads);
        synchronized (CpuBackend.class) {
            threadsPropertyRead = true;
            setDefaultThreadsNative(threads);
        }
    }

    private static void setDefaultThreadsNative(int threads) {
        int s = NativeCpu.ln4j_cpu_set_default_threads(threads);
        if (s != 0) throw new org.layernorm4j.LayerNormException(s, NativeCpu.ln4j_last_error());
    }

    /** Threads a call with threads = 0 uses. */
    public static int defaultThreads() {
        readThreadsProperty();
        return NativeCpu.ln4j_cpu_default_threads();
    }

    @Override
    public long allocate(long bytes) {
        return Memory.allocateHost(bytes);
    }

    @Override
    public void free(long address) {
        Memory.freeHost(address);
    }

    @Override
    public void copyFromHost(long host, long device, long bytes) {
        Memory.copy(host, device, bytes);
    }

    @Override
    public void copyToHost(long device, long host, long bytes) {
        Memory.copy(device, host, bytes);
    }

    @Override
    public void copyWithin(long src, long dst, long bytes) {
        Memory.copy(src, dst, bytes);
    }

    @Override
    public int forward(NormCall call) {
        if (!threadsPropertyRead) readThreadsProperty();
        call.onCpu(isa());
        return NativeCpu.ln4j_cpu_forward(call.argsAddress(), call.execAddress());
    }

    @Override
    public int backward(NormCall call) {
        if (!threadsPropertyRead) readThreadsProperty();
        call.onCpu(isa());
        return NativeCpu.ln4j_cpu_backward(call.argsAddress(), call.execAddress());
    }

    // The API's calls: the arguments go to native code in the JNI call itself (native/jni/ln4j_jni_calls.h)
    @Override
    public int forward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, double eps, long x,
            long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd, int threads) {
        if (!threadsPropertyRead) readThreadsProperty();
        return NativeCpu.ln4j_jni_cpu_forward(norm, flags, xDtype, paramDtype, rows, cols, eps, x, residual, gamma, beta,
                y, residualOut, mean, rstd, isa(), threads);
    }

    @Override
    public int backward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, long dy,
            long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma, long dbeta,
            int threads) {
        if (!threadsPropertyRead) readThreadsProperty();
        return NativeCpu.ln4j_jni_cpu_backward(norm, flags, xDtype, paramDtype, rows, cols, dy, dresidualOut, x, mean,
                rstd, gamma, beta, dx, dgamma, dbeta, isa(), threads);
    }

    @Override
    public String lastError() {
        return NativeCpu.ln4j_last_error();
    }
}

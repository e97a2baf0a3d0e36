package org.layernorm4j.internal;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CPU half of {@code native/include/layernorm4j/layernorm4j.h} (liblayernorm4j).
 * Data pointers travel as raw addresses ({@code long}) so a call allocates no Java objects. Users never
 * call this class: {@link org.layernorm4j.LayerNorm} checks every argument first.
 */
@Platform(include = "layernorm4j/layernorm4j.h", link = "layernorm4j")
public final class NativeCpu {
    static {
        Natives.loadCpu();
    }

    private NativeCpu() {}

    public static native @Cast("const char*") String ln4j_version();

    public static native @Cast("const char*") String ln4j_last_error();

    public static native int ln4j_dtype_size(int dtype);

    public static native int ln4j_stats_dtype(int xDtype);

    public static native int ln4j_cpu_isa_best();

    public static native int ln4j_cpu_isa_supported(int isa);

    public static native @Cast("const char*") String ln4j_cpu_isa_name(int isa);

    public static native @Cast("const char*") String ln4j_cpu_model();

    public static native int ln4j_cpu_default_threads();

    public static native int ln4j_cpu_set_default_threads(int threads);

    public static native @Cast("int64_t") long ln4j_cpu_stream_threshold();

    public static native int ln4j_cpu_set_stream_threshold(@Cast("int64_t") long bytes);

    public static native int ln4j_cpu_forward(int isa, int threads, int norm, int flags, int xDtype, int paramDtype,
            @Cast("int64_t") long rows, @Cast("int64_t") long cols, double eps,
            @Cast("const void*") long x, @Cast("const void*") long residual,
            @Cast("const void*") long gamma, @Cast("const void*") long beta,
            @Cast("void*") long y, @Cast("void*") long residualOut,
            @Cast("void*") long mean, @Cast("void*") long rstd);

    public static native int ln4j_cpu_backward(int isa, int threads, int norm, int flags, int xDtype, int paramDtype,
            @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("const void*") long dy, @Cast("const void*") long dresidualOut,
            @Cast("const void*") long x, @Cast("const void*") long mean, @Cast("const void*") long rstd,
            @Cast("const void*") long gamma, @Cast("const void*") long beta,
            @Cast("void*") long dx, @Cast("void*") long dgamma, @Cast("void*") long dbeta);
}

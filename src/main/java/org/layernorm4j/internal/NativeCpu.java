package org.layernorm4j.internal;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.MemberGetter;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CPU half of {@code native/include/layernorm4j/layernorm4j.h} (liblayernorm4j).
 * The API's calls pass their arguments flat ({@link #ln4j_jni_cpu_forward}, {@link #ln4j_jni_cpu_backward}: the C
 * structs are built on the native stack, native/jni/ln4j_jni_calls.h); the struct-address forms take the addresses
 * of two structs ({@code ln4j_forward_args} or {@code ln4j_backward_args}, and {@code ln4j_exec}) that
 * {@link NormCall} fills in per-thread memory. Neither allocates Java objects. The
 * nested struct classes exist so that JavaCPP reports the C layout ({@link Loader#offsetof}, {@link Loader#sizeof});
 * {@link NormCall} writes the fields at those offsets. Users never call this class: {@link org.layernorm4j.LayerNorm}
 * checks every argument first.
 */
@Platform(include = {"layernorm4j/layernorm4j.h", "ln4j_jni_calls.h"}, link = "layernorm4j")
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

    /** Memory-bandwidth probe (benchmarks' ceilings): {@code bytes} from {@code src} to {@code dst}. */
    public static native int ln4j_cpu_bandwidth_copy(int kind, @Cast("void*") long dst, @Cast("const void*") long src,
            @Cast("int64_t") long bytes, int threads);

    /** Memory-bandwidth probe: {@code dst = a + b} over {@code bytes} of floats each (read two, write one). */
    public static native int ln4j_cpu_bandwidth_r2w1(int kind, @Cast("void*") long dst, @Cast("const void*") long a,
            @Cast("const void*") long b, @Cast("int64_t") long bytes, int threads);

    public static native @Cast("const char*") String ln4j_cpu_bandwidth_kind_name(int kind);

    /** {@code args}: address of an {@code ln4j_forward_args}; {@code exec}: of an {@code ln4j_exec}. */
    public static native int ln4j_cpu_forward(@Cast("const ln4j_forward_args*") long args,
            @Cast("const ln4j_exec*") long exec);

    /** {@code args}: address of an {@code ln4j_backward_args}; {@code exec}: of an {@code ln4j_exec}. */
    public static native int ln4j_cpu_backward(@Cast("const ln4j_backward_args*") long args,
            @Cast("const ln4j_exec*") long exec);

    /**
     * {@code ln4j_cpu_forward} with the arguments passed flat (native/jni/ln4j_jni_calls.h builds the structs on the
     * native stack): what the Java API calls. Addresses as longs, 0 = NULL; isa: LN4J_ISA_*, threads: 0 = default.
     */
    public static native int ln4j_jni_cpu_forward(int norm, int flags, int xDtype, int paramDtype,
            @Cast("int64_t") long rows, @Cast("int64_t") long cols, double eps, @Cast("int64_t") long x,
            @Cast("int64_t") long residual, @Cast("int64_t") long gamma, @Cast("int64_t") long beta,
            @Cast("int64_t") long y, @Cast("int64_t") long residualOut, @Cast("int64_t") long mean,
            @Cast("int64_t") long rstd, int isa, int threads);

    /** {@code ln4j_cpu_backward} with the arguments passed flat, as {@link #ln4j_jni_cpu_forward}. */
    public static native int ln4j_jni_cpu_backward(int norm, int flags, int xDtype, int paramDtype,
            @Cast("int64_t") long rows, @Cast("int64_t") long cols, @Cast("int64_t") long dy,
            @Cast("int64_t") long dresidualOut, @Cast("int64_t") long x, @Cast("int64_t") long mean,
            @Cast("int64_t") long rstd, @Cast("int64_t") long gamma, @Cast("int64_t") long beta,
            @Cast("int64_t") long dx, @Cast("int64_t") long dgamma, @Cast("int64_t") long dbeta, int isa,
            int threads);

    /** {@code ln4j_forward_args}: its layout (and field reads, for tests). */
    @Name("ln4j_forward_args")
    public static final class ForwardArgs extends Pointer {
        static {
            Natives.loadCpu();
        }

        /** Views the struct at {@code address}. */
        public ForwardArgs(long address) {
            this.address = address;
        }

        /** Allocates one zeroed struct (native memory, freed by JavaCPP's deallocator). */
        public ForwardArgs() {
            allocate();
        }

        private native void allocate();

        public native @MemberGetter int struct_size();
        public native @MemberGetter int norm();
        public native @MemberGetter int flags();
        public native @MemberGetter int x_dtype();
        public native @MemberGetter int param_dtype();
        public native @MemberGetter @Cast("int64_t") long rows();
        public native @MemberGetter @Cast("int64_t") long cols();
        public native @MemberGetter double eps();
        public native @MemberGetter @Cast("void*") Pointer x();
        public native @MemberGetter @Cast("void*") Pointer residual();
        public native @MemberGetter @Cast("void*") Pointer gamma();
        public native @MemberGetter @Cast("void*") Pointer beta();
        public native @MemberGetter @Cast("void*") Pointer y();
        public native @MemberGetter @Cast("void*") Pointer residual_out();
        public native @MemberGetter @Cast("void*") Pointer mean();
        public native @MemberGetter @Cast("void*") Pointer rstd();
    }

    /** {@code ln4j_backward_args}: its layout (and field reads, for tests). */
    @Name("ln4j_backward_args")
    public static final class BackwardArgs extends Pointer {
        static {
            Natives.loadCpu();
        }

        public BackwardArgs(long address) {
            this.address = address;
        }

        /** Allocates one zeroed struct (native memory, freed by JavaCPP's deallocator). */
        public BackwardArgs() {
            allocate();
        }

        private native void allocate();

        public native @MemberGetter int struct_size();
        public native @MemberGetter int norm();
        public native @MemberGetter int flags();
        public native @MemberGetter int x_dtype();
        public native @MemberGetter int param_dtype();
        public native @MemberGetter @Cast("int64_t") long rows();
        public native @MemberGetter @Cast("int64_t") long cols();
        public native @MemberGetter @Cast("void*") Pointer dy();
        public native @MemberGetter @Cast("void*") Pointer dresidual_out();
        public native @MemberGetter @Cast("void*") Pointer x();
        public native @MemberGetter @Cast("void*") Pointer mean();
        public native @MemberGetter @Cast("void*") Pointer rstd();
        public native @MemberGetter @Cast("void*") Pointer gamma();
        public native @MemberGetter @Cast("void*") Pointer beta();
        public native @MemberGetter @Cast("void*") Pointer dx();
        public native @MemberGetter @Cast("void*") Pointer dgamma();
        public native @MemberGetter @Cast("void*") Pointer dbeta();
    }

    /** {@code ln4j_exec}: its layout (and field reads, for tests). */
    @Name("ln4j_exec")
    public static final class Exec extends Pointer {
        static {
            Natives.loadCpu();
        }

        public Exec(long address) {
            this.address = address;
        }

        /** Allocates one zeroed struct (native memory, freed by JavaCPP's deallocator). */
        public Exec() {
            allocate();
        }

        private native void allocate();

        public native @MemberGetter int struct_size();
        public native @MemberGetter int device();
        public native @MemberGetter int isa();
        public native @MemberGetter int threads();
        public native @MemberGetter Pointer stream();
        public native @MemberGetter Pointer workspace();
        public native @MemberGetter @Cast("int64_t") long workspace_bytes();
    }
}

package org.layernorm4j.internal;

import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CUDA half of {@code layernorm4j.h} (liblayernorm4j_cuda, statically linked to the
 * CUDA runtime, or a stub "built without CUDA"). It loads on machines without a driver; only when
 * {@link #ln4j_cuda_device_count} reports a device may the JavaCPP CUDA presets be touched.
 */
@Platform(include = "layernorm4j/layernorm4j.h", link = "layernorm4j_cuda")
public final class NativeCuda {
    static {
        Natives.loadCuda();
    }

    private NativeCuda() {}

    public static native @Cast("const char*") String ln4j_cuda_last_error();

    public static native int ln4j_cuda_built();

    /** {@code reason} receives a {@code const char*} (may be null). */
    public static native int ln4j_cuda_device_count(@Cast("const char**") PointerPointer<?> reason);

    public static native @Cast("int64_t") long ln4j_cuda_backward_workspace_bytes(@Cast("int64_t") long rows,
            @Cast("int64_t") long cols);

    public static native int ln4j_cuda_forward(int device, @Cast("void*") long stream, int norm, int flags,
            int xDtype, int paramDtype, @Cast("int64_t") long rows, @Cast("int64_t") long cols, double eps,
            @Cast("const void*") long x, @Cast("const void*") long residual,
            @Cast("const void*") long gamma, @Cast("const void*") long beta,
            @Cast("void*") long y, @Cast("void*") long residualOut,
            @Cast("void*") long mean, @Cast("void*") long rstd);

    public static native int ln4j_cuda_backward(int device, @Cast("void*") long stream, int norm, int flags,
            int xDtype, int paramDtype, @Cast("int64_t") long rows, @Cast("int64_t") long cols,
            @Cast("const void*") long dy, @Cast("const void*") long dresidualOut,
            @Cast("const void*") long x, @Cast("const void*") long mean, @Cast("const void*") long rstd,
            @Cast("const void*") long gamma, @Cast("const void*") long beta,
            @Cast("void*") long dx, @Cast("void*") long dgamma, @Cast("void*") long dbeta,
            @Cast("void*") long workspace, @Cast("int64_t") long workspaceBytes);
}

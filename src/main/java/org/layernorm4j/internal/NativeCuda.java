package org.layernorm4j.internal;

import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CUDA half of {@code layernorm4j.h} (liblayernorm4j_cuda, statically linked to the
 * CUDA runtime, or a stub "built without CUDA"). It loads on machines without a driver; only when
 * {@link #ln4j_cuda_device_count} reports a device may the JavaCPP CUDA presets be touched. Calls take the same
 * structs as {@link NativeCpu} (addresses filled by {@link NormCall}).
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

    /** Workspace bytes the backward described by the {@code ln4j_backward_args} at {@code args} needs. */
    public static native @Cast("int64_t") long ln4j_cuda_backward_workspace_bytes(
            @Cast("const ln4j_backward_args*") long args);

    public static native int ln4j_cuda_forward(@Cast("const ln4j_forward_args*") long args,
            @Cast("const ln4j_exec*") long exec);

    public static native int ln4j_cuda_backward(@Cast("const ln4j_backward_args*") long args,
            @Cast("const ln4j_exec*") long exec);
}

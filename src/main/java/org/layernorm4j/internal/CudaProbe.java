package org.layernorm4j.internal;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Asks liblayernorm4j_cuda once whether CUDA devices are usable and caches the answer. No exception escapes
 * (a failing load is an answer: "CUDA library failed to load: ..."), nothing is logged, and nothing CUDA-ish
 * other than {@link NativeCuda} is loaded.
 */
public final class CudaProbe {
    private static final int COUNT;
    private static final String REASON;

    static {
        int count = 0;
        String reason;
        try {
            Natives.loadCuda(); // first: its one-line error, before JavaCPP's Pointer needs any native library
            try (PointerPointer<BytePointer> out = new PointerPointer<>(1)) {
                count = NativeCuda.ln4j_cuda_device_count(out);
                BytePointer p = out.get(BytePointer.class, 0);
                reason = count > 0 ? "" : (p == null || p.isNull() ? "no CUDA device" : oneLine(p.getString()));
            }
        } catch (Throwable t) {
            count = 0;
            // Natives' errors are already one line for the user (unsupported platform, CUDA jar not on the class path)
            reason = t instanceof UnsatisfiedLinkError && t.getCause() == null && t.getMessage() != null
                    ? oneLine(t.getMessage()) : "CUDA library failed to load: " + oneLine(String.valueOf(t));
        }
        COUNT = Math.max(count, 0);
        REASON = COUNT > 0 ? "" : (reason.isEmpty() ? "no CUDA device" : reason);
    }

    private CudaProbe() {}

    private static String oneLine(String s) {
        int nl = s.indexOf('\n');
        return (nl >= 0 ? s.substring(0, nl) : s).trim();
    }

    /** Usable CUDA devices (0 when none or when the library could not load). */
    public static int deviceCount() {
        return COUNT;
    }

    /** One-line reason why CUDA is unavailable, "" when it is available. */
    public static String reason() {
        return REASON;
    }
}

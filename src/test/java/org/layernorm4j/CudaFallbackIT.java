package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * On a machine without a usable CUDA device (CI): every CUDA entry point fails cleanly with the probe's one-line
 * reason, Device.best() is the CPU, and the JavaCPP CUDA presets are never loaded (their JNI needs the NVIDIA driver:
 * loading them there would fail). Checked in a fresh JVM with -verbose:class.
 */
@EnabledIf("noCuda")
class CudaFallbackIT {
    static boolean noCuda() {
        return !Device.cudaAvailable();
    }

    public static void main(String[] args) {
        String reason = Device.cudaUnavailableReason();
        System.out.println("reason=" + reason);
        System.out.println("best=" + Device.best());
        expectFailure("empty", () -> Tensor.empty(DType.FLOAT32, Device.cuda(0), 4).close(), reason);
        expectFailure("stream", () -> CudaStream.create(Device.cuda(0)).close(), reason);
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4)) {
            expectFailure("to", () -> t.to(Device.cuda(0)).close(), reason);
        }
        System.out.println("done");
    }

    private static void expectFailure(String what, Runnable r, String reason) {
        try {
            r.run();
            System.out.println(what + "=no exception");
        } catch (IllegalStateException e) {
            System.out.println(what + "=" + (e.getMessage().contains(reason) ? "reason" : "other: " + e.getMessage()));
        }
    }

    @Test
    void everyCudaEntryPointFailsWithTheReasonAndThePresetsStayUnloaded() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-verbose:class", "-cp", System.getProperty("java.class.path"),
                CudaFallbackIT.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        String reason = Device.cudaUnavailableReason();
        assertTrue(!reason.isEmpty() && !reason.contains("\n"), "one-line reason, got '" + reason + "'");
        assertTrue(out.contains("reason=" + reason), out);
        assertTrue(out.contains("best=" + Device.cpu()), out);
        for (String what : new String[] {"empty", "stream", "to"}) {
            assertTrue(out.contains(what + "=reason"), what + " should fail with the reason: " + out);
        }
        assertTrue(out.contains("done"), out);
        assertFalse(out.contains("org.bytedeco.cuda"), "the CUDA presets were loaded in a GPU-less JVM");
    }
}

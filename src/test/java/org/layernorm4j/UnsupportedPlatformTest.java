package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * On a platform without natives the first call fails with one line naming the supported platforms (no cause chain),
 * and Device.cudaUnavailableReason() says the same. A fresh JVM with JavaCPP's platform overridden to linux-arm64.
 */
class UnsupportedPlatformTest {
    public static void main(String[] args) {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4)) {
            System.out.println("first=no error " + t);
        } catch (Throwable t) {
            System.out.println("first=" + t.getClass().getName() + ": " + t.getMessage());
            System.out.println("cause=" + t.getCause());
        }
        System.out.println("reason=" + Device.cudaUnavailableReason());
        System.out.println("best=" + Device.best());
    }

    @Test
    void firstCallNamesTheSupportedPlatformsInOneLine() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Dorg.bytedeco.javacpp.platform=linux-arm64", "-cp",
                System.getProperty("java.class.path"), UnsupportedPlatformTest.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        String expected = "LayerNorm4j has no native libraries for platform linux-arm64"
                + " (-Dorg.bytedeco.javacpp.platform=linux-arm64); supported platforms: linux-x86_64";
        assertTrue(out.contains("first=java.lang.UnsatisfiedLinkError: " + expected + "\n"), out);
        assertTrue(out.contains("cause=null\n"), "no cause chain: " + out);
        assertTrue(out.contains("reason=" + expected + "\n"), "Device.cudaUnavailableReason() says the same: " + out);
        assertTrue(out.contains("best=cpu\n"), out);
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A fresh JVM whose very first LayerNorm4j call is Tensor.of (nothing loaded the natives before). */
class FreshJvmIT {
    public static void main(String[] args) {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4); LayerNorm.Forward f =
                LayerNorm.builder(4).elementwiseAffine(false).build().forward(t, null, null)) {
            System.out.println("ok " + f.output().toFloatArray()[0]);
        }
    }

    @Test
    void tensorOfAsFirstCall() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), FreshJvmIT.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals(true, out.startsWith("ok -1.34"), out);
    }
}

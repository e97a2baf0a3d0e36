package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar works alone: {@code java -jar target/layernorm4j-<v>-cli.jar info check} in a fresh JVM, with
 * only the jar on the class path, no LD_LIBRARY_PATH, and JavaCPP's cache in an empty temp dir (so the natives
 * must come out of the jar, not out of target/classes or an old cache).
 */
class JarAloneIT {
    @Test
    void cliJarRunsCheck(@TempDir Path cache) throws IOException, InterruptedException {
        String jar = System.getProperty("ln4j.cliJar", "target/layernorm4j-0.1.0-cli.jar");
        assertTrue(Files.isRegularFile(Paths.get(jar)), "cli jar missing: " + jar);
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-Dorg.bytedeco.javacpp.cachedir=" + cache,
                "-jar", jar, "info", "check"));
        pb.environment().remove("LD_LIBRARY_PATH");
        pb.redirectErrorStream(true);
        pb.directory(cache.toFile());
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "cli did not finish");
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.println(text);
        assertEquals(0, p.exitValue(), "exit status of `java -jar " + jar + " info check`:\n" + text);
        assertTrue(text.contains("layernorm4j 0.1.0"), "info printed the version");
        assertTrue(text.contains(" 0 failed"), "check reported no failure");
        try (var files = Files.walk(cache)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("liblayernorm4j")),
                    "natives were extracted into the fresh cache dir");
        }
    }
}

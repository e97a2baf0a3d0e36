package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuilt jar of the same name never runs the previous build's natives: JavaCPP reuses a cached library whose size
 * and time stamp match the jar entry's, and this build's jars are reproducible (fixed time stamps), so a library
 * that kept its size would be reused stale. Here the first run extracts the natives into a fresh cache, the cached
 * JNI library is then overwritten with other bytes of the same size and time stamp (what a previous build leaves),
 * and the second run must replace it with the jar's bytes and work.
 */
class StaleCacheIT {
    @Test
    void staleSameSizeCopyIsReplaced(@TempDir Path cache) throws IOException, InterruptedException {
        String jar = System.getProperty("ln4j.cliJar", "target/layernorm4j-0.1.0-cli.jar");
        assertTrue(Files.isRegularFile(Paths.get(jar)), "cli jar missing: " + jar);
        String entry = "org/layernorm4j/internal/linux-x86_64/libjniNativeCpu.so";
        run(jar, cache);
        Path cached = cache.resolve(Paths.get(jar).getFileName().toString()).resolve(entry);
        assertTrue(Files.isRegularFile(cached), "the first run extracted " + cached);
        long want;
        try (ZipFile z = new ZipFile(jar)) {
            want = z.getEntry(entry).getCrc();
        }
        assertEquals(want, crc(cached), "the first run's copy is the jar's");
        // the previous build's copy: same size and time stamp, other bytes
        FileTime stamp = Files.getLastModifiedTime(cached);
        byte[] b = Files.readAllBytes(cached);
        for (int i = b.length / 2; i < b.length / 2 + 4096 && i < b.length; i++) b[i] ^= 0x5a;
        Files.write(cached, b);
        Files.setLastModifiedTime(cached, stamp);
        assertNotEquals(want, crc(cached));
        String text = run(jar, cache);
        assertEquals(want, crc(cached), "the second run replaced the stale copy with the jar's:\n" + text);
    }

    private static String run(String jar, Path cache) throws IOException, InterruptedException {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-Dorg.bytedeco.javacpp.cachedir=" + cache,
                "-jar", Paths.get(jar).toAbsolutePath().toString(), "info"));
        pb.environment().remove("LD_LIBRARY_PATH");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "cli did not finish");
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "exit status of `java -jar " + jar + " info`:\n" + text);
        return text;
    }

    private static long crc(Path f) throws IOException {
        CRC32 c = new CRC32();
        c.update(Files.readAllBytes(f));
        return c.getValue();
    }
}

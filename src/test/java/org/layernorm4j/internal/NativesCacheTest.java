package org.layernorm4j.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Natives.dropIfStale: a cached copy is deleted only when it has the jar entry's size but not its CRC-32. */
class NativesCacheTest {
    private static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    @Test
    void deletesOnlySameSizeCopiesWithOtherBytes(@TempDir Path dir) throws IOException {
        byte[] jarBytes = new byte[100_000];
        for (int i = 0; i < jarBytes.length; i++) jarBytes[i] = (byte) (i * 31 + 7);
        byte[] other = jarBytes.clone();
        other[50_000] ^= 1;
        File lock = dir.resolve(".lock").toFile();
        long size = jarBytes.length, crc = crc(jarBytes);

        File same = dir.resolve("same.so").toFile();
        Files.write(same.toPath(), jarBytes);
        assertFalse(Natives.dropIfStale(same, size, crc, lock), "the jar's own bytes are kept");
        assertTrue(same.isFile());

        File stale = dir.resolve("stale.so").toFile();
        Files.write(stale.toPath(), other);
        assertTrue(Natives.dropIfStale(stale, size, crc, lock), "same size, other bytes: deleted");
        assertFalse(stale.exists());

        File shorter = dir.resolve("shorter.so").toFile();
        Files.write(shorter.toPath(), java.util.Arrays.copyOf(other, 99_999));
        assertFalse(Natives.dropIfStale(shorter, size, crc, lock), "another size: JavaCPP re-extracts it itself");
        assertTrue(shorter.isFile());

        assertFalse(Natives.dropIfStale(dir.resolve("absent.so").toFile(), size, crc, lock), "no copy: nothing to do");
        assertFalse(Natives.dropIfStale(same, -1, crc, lock), "unknown size (entry without one): left alone");
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.internal.Memory;

/**
 * The safety net for tensors that are never closed (memory stays bounded), and tensors over 2 GiB made from and
 * read into Java arrays (chunked copies, nothing leaked). Both run in child JVMs with their own heap limits.
 */
class SafetyNetTest {
    @Test
    void unclosedTensorsAreFreedAfterCollection() throws Exception {
        Forked.run(SafetyNetTest.class, List.of("-Xmx128m", "-D" + Memory.GC_BYTES_PROPERTY + "=" + (32 << 20)), 240,
                "leak", "250000").assertOk("250000 allocating forwards without close").output.lines()
                .forEach(System.out::println);
    }

    @Test
    void arraysOver2GiB() throws Exception {
        long available = availableBytes();
        assumeTrue(available >= 7L << 30, "needs about 5 GiB (2 GiB heap array + 2 GiB tensor); "
                + (available >> 20) + " MiB available");
        Forked.run(SafetyNetTest.class, List.of("-Xmx2400m"), 300, "large").assertOk("Tensor.of(float[2^29 + 1000])")
                .output.lines().forEach(System.out::println);
    }

    /** fill() and the pointer views of a tensor over 2 GiB (native memory only: runs wherever 3 GiB are free). */
    @Test
    void fillOver2GiB() throws Exception {
        long available = availableBytes();
        assumeTrue(available >= 3L << 30, "needs about 2 GiB of native memory; " + (available >> 20) + " MiB available");
        long n = (1L << 29) + 16;  // 2 GiB + 64 bytes of FLOAT32
        long live = Memory.liveHostBytes();
        try (Tensor t = Tensor.empty(DType.FLOAT32, Device.cpu(), n)) {
            t.fill(-1.25);
            BytePointer p = t.pointer();
            for (long i : new long[] {0, (1L << 29) - 1, 1L << 29, n - 1}) {
                org.junit.jupiter.api.Assertions.assertEquals(-1.25f, p.getFloat(i * 4), "element " + i);
            }
        }
        org.junit.jupiter.api.Assertions.assertEquals(live, Memory.liveHostBytes(), "freed on close");
    }

    static long availableBytes() throws Exception {
        for (String line : Files.readAllLines(Paths.get("/proc/meminfo"))) {
            if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
        }
        return 0;
    }

    static long rssBytes() throws Exception {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("leak")) leak(Integer.parseInt(args[1]));
        else large();
    }

    /** Allocating forwards whose results are dropped: owned bytes and RSS must stay bounded. */
    static void leak(int calls) throws Exception {
        int cols = 768;
        LayerNorm ln = LayerNorm.builder(cols).build();
        Tensor x = Tensor.of(Data.offCentre(1, 1, cols), 1, cols), g = Tensor.of(Data.gamma(2, cols), cols),
                b = Tensor.of(Data.beta(3, cols), cols);
        for (int i = 0; i < 5000; i++) ln.forward(x, g, b);  // warm-up, not closed either
        long rss0 = rssBytes(), maxOwned = 0, maxRss = 0;
        for (int i = 0; i < calls; i++) {
            ln.forward(x, g, b);  // never closed
            if ((i & 1023) == 0) {
                maxOwned = Math.max(maxOwned, Memory.ownedBytes());
                maxRss = Math.max(maxRss, rssBytes());
            }
        }
        long bytesPerCall = 3L * Memory.ALIGNMENT + (cols + 2) * 4L;
        System.out.printf("%d calls leaving about %d MiB unclosed: max owned %d MiB, RSS growth %d MiB%n", calls,
                calls * bytesPerCall >> 20, maxOwned >> 20, (maxRss - rss0) >> 20);
        boolean ok = maxOwned < 160L << 20 && maxRss - rss0 < 384L << 20;  // without the net: 780 MiB and more
        System.exit(ok ? 0 : 1);
    }

    /** Tensor.of / copyTo / fill of 2^29 + 1000 floats (2 GiB + 4000 bytes). */
    static void large() {
        int n = (1 << 29) + 1000;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (i % 1021) - 510;
        long live = Memory.liveHostBytes();
        try (Tensor t = Tensor.of(a, n)) {
            BytePointer p = t.pointer();
            for (long i : new long[] {0, (1L << 29) - 1, 1L << 29, n - 1}) {
                if (p.getFloat(i * 4) != (i % 1021) - 510) fail("element " + i + " after Tensor.of: " + p.getFloat(i * 4));
            }
            java.util.Arrays.fill(a, 0f);
            t.copyTo(a);
            for (int i = 0; i < n; i++) if (a[i] != (i % 1021) - 510) fail("element " + i + " after copyTo: " + a[i]);
            t.fill(2.5);
            for (long i : new long[] {0, (1L << 29) - 1, 1L << 29, n - 1}) {
                if (p.getFloat(i * 4) != 2.5f) fail("element " + i + " after fill: " + p.getFloat(i * 4));
            }
        }
        if (Memory.liveHostBytes() != live) fail("live bytes " + Memory.liveHostBytes() + " != " + live + " after close");
        System.out.println("2^29 + 1000 floats: Tensor.of, copyTo and fill right; memory freed");
        System.exit(0);
    }

    static void fail(String message) {
        System.out.println("FAIL " + message);
        System.exit(1);
    }
}

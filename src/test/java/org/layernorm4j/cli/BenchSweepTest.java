package org.layernorm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bench's option checks and its table rows (no timing runs here). */
class BenchSweepTest {
    /** Four rows against a ceiling of 1000 ns: 200%, 50%, 104% (within the 5% noise), 250% (the last one drifted). */
    private static String rows() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(b, true, StandardCharsets.UTF_8);
        BenchSweep.aboveNoted = false;
        BenchSweep.row(out, "1x768", "forward", "ours", 1, new double[] {500, 400, 600}, 6144, 1000, "");
        BenchSweep.row(out, "1x768", "forward", "ours", 1, new double[] {2000, 1900, 2100}, 6144, 1000, "");
        BenchSweep.row(out, "1x768", "forward", "ours", 1, new double[] {962, 950, 980}, 6144, 1000, "");
        BenchSweep.row(out, "1x768", "backward", "ours", 1, new double[] {400, 300, 500}, 6144, 1000,
                " ~ ceiling moved 31%");
        return b.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aRatioAbove105PercentIsMarkedAndExplainedOnce() {
        String[] lines = rows().split("\n");
        assertEquals(5, lines.length, String.join("\n", lines));
        assertTrue(lines[0].endsWith("200.0% *"), lines[0]);
        assertTrue(lines[1].startsWith("  * CEILING WRONG: above 105% ") && !lines[1].contains("\n"), lines[1]);
        assertTrue(lines[2].endsWith(" 50.0%"), "a row within the ceiling has no mark: " + lines[2]);
        assertTrue(lines[3].endsWith(" 104.0%"), "within 100% + 5% noise: no mark: " + lines[3]);
        assertTrue(lines[4].endsWith("250.0% * ~ ceiling moved 31%"), "marked, the note is not repeated: " + lines[4]);
    }

    @Test
    void driftIsOneMinusSlowerOverFaster() {
        assertEquals(0.2, BenchSweep.drift(800, 1000), 1e-12);
        assertEquals(0.2, BenchSweep.drift(1000, 800), 1e-12);
        assertEquals(0.0, BenchSweep.drift(0, 800), 0.0);
    }

    @Test
    void optionsAreCheckedWithTheirNameAndRange() throws Exception {
        BenchSweep.Options o = BenchSweep.parse(new String[] {"--cols", "768, 4096", "--threads", "1,2", "--samples", "5",
            "--warm"});
        assertArrayEquals(new long[] {768, 4096}, o.cols);
        assertArrayEquals(new int[] {1, 2}, o.threads);
        assertEquals(5, o.samples);
        assertEquals(0, o.rotateMib);
        String m = assertThrows(Main.UsageException.class, () -> BenchSweep.parse(new String[] {"--cols", "abc"}))
                .getMessage();
        assertTrue(m.contains("--cols") && m.contains("'abc' is not an integer"), m);
        m = assertThrows(Main.UsageException.class, () -> BenchSweep.parse(new String[] {"--samples", "2"})).getMessage();
        assertTrue(m.contains("--samples") && m.contains("out of range (expected 3 .. 100000)"), m);
        m = assertThrows(Main.UsageException.class, () -> BenchSweep.parse(new String[] {"--elements"})).getMessage();
        assertTrue(m.contains("--elements needs a value"), m);
        m = assertThrows(Main.UsageException.class, () -> BenchSweep.parse(new String[] {"--fast"})).getMessage();
        assertTrue(m.contains("unknown option '--fast'"), m);
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line as a user meets it: {@code java -jar layernorm4j-<v>-cli.jar ...} in a fresh JVM. Checks the help
 * text, the version, that a bad command line is refused before any work with one line on stderr and exit status 2,
 * that an environment error (unsupported platform, natives missing) is one line with exit status 3, that a failed
 * check is one line with exit status 1, and that check rows arrive one by one.
 */
class CliIT {
    @TempDir
    static Path cache;

    static final String JAR = System.getProperty("ln4j.cliJar", "target/layernorm4j-0.1.0-cli.jar");
    static final String VERSION = System.getProperty("ln4j.version", "0.1.0");

    /** Exit status, stdout, stderr, and the arrival time (ms since start) of each stdout line. */
    record Result(int exit, String out, String err, List<Long> times) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static Result run(List<String> jvmArgs, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        cmd.addAll(jvmArgs);
        if (!jvmArgs.contains("-cp")) {
            cmd.add("-jar");
            cmd.add(JAR);
        }
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("LD_LIBRARY_PATH");
        long t0 = System.nanoTime();
        Process p = pb.start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        StringBuilder out = new StringBuilder();
        List<Long> times = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null;) {
                times.add((System.nanoTime() - t0) / 1_000_000);
                out.append(line).append('\n');
            }
        }
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "cli did not finish: " + cmd);
        return new Result(p.exitValue(), out.toString(), err.join(), times);
    }

    static Result run(String... args) throws IOException, InterruptedException {
        return run(List.of(), List.of(args));
    }

    /** One line on stderr, no stack trace, nothing on stdout (no work was done). */
    static void refusedBeforeWork(Result r, int exit, String... fragments) {
        assertEquals(exit, r.exit(), r.toString());
        assertEquals("", r.out(), "nothing runs before the command line is checked: " + r);
        assertEquals(1, r.err().lines().count(), "one line on stderr: " + r);
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r.toString());
        for (String f : fragments) assertTrue(r.err().contains(f), "stderr should say '" + f + "': " + r);
    }

    @Test
    void helpNamesTheJarAndListsEverything() throws Exception {
        Result r = run("--help");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("", r.err());
        String jarName = Paths.get(JAR).getFileName().toString();
        assertTrue(r.out().startsWith("usage: java -jar " + jarName + " "), r.out());
        for (String s : new String[] {"info", "check", "bench", "--help", "--version", "--elements", "--cols", "--threads",
            "--samples", "--no-latency", "--rotate-mib", "--warm", "--quick", "layernorm4j.cpu.isa",
            "layernorm4j.cpu.threads", "org.bytedeco.javacpp.cachedir", "exit status", "  0  ", "  1  ", "  2  ", "  3  ",
            "  4  "}) {
            assertTrue(r.out().contains(s), "--help should mention " + s + ":\n" + r.out());
        }
        Result sub = run("info", "--help");
        assertEquals(r.out(), sub.out(), "'info --help' prints the help and runs nothing");
        assertEquals(0, sub.exit());
    }

    @Test
    void version() throws Exception {
        Result r = run("--version");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("layernorm4j " + VERSION + " "), r.out());
        assertEquals(1, r.out().lines().count());
    }

    @Test
    void badCommandLinesAreRefusedBeforeAnyWork() throws Exception {
        refusedBeforeWork(run("check", "extra"), 2, "unknown command 'extra'");
        refusedBeforeWork(run("info", "info"), 2, "'info' given twice");
        refusedBeforeWork(run("--frobnicate"), 2, "unknown option '--frobnicate'");
        refusedBeforeWork(run("bench", "--cols", "abc"), 2, "--cols", "'abc' is not an integer");
        refusedBeforeWork(run("bench", "--cols", "768,,4096"), 2, "--cols", "empty entry");
        refusedBeforeWork(run("bench", "--threads", "0"), 2, "--threads", "out of range");
        refusedBeforeWork(run("bench", "--samples"), 2, "--samples needs a value");
        refusedBeforeWork(run("bench", "--quick", "check"), 2, "bench must be the last command");
        refusedBeforeWork(run("check", "bench", "--elements", "-5"), 2, "--elements");
    }

    @Test
    void badSystemPropertiesAreOneLine() throws Exception {
        refusedBeforeWork(run(List.of("-Dlayernorm4j.cpu.isa=avx9000"), List.of("info")), 2, "layernorm4j.cpu.isa",
                "avx9000");
        Result t = run(List.of("-Dlayernorm4j.cpu.threads=many"), List.of("info"));
        refusedBeforeWork(t, 2, "layernorm4j.cpu.threads");
    }

    @Test
    void unsupportedPlatformIsAnEnvironmentError() throws Exception {
        refusedBeforeWork(run(List.of("-Dorg.bytedeco.javacpp.platform=linux-arm64"), List.of("info")), 3,
                "no native libraries for platform linux-arm64", "supported platforms: linux-x86_64");
    }

    @Test
    void missingNativesAreAnEnvironmentError() throws Exception {
        // the plain jar and JavaCPP, without the linux-x86_64 classifier jar
        Path plain = Paths.get(JAR).resolveSibling("layernorm4j-" + VERSION + ".jar");
        assertTrue(Files.isRegularFile(plain), plain.toString());
        String javacpp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> e.contains("javacpp")).collect(Collectors.joining(File.pathSeparator));
        Result r = run(List.of("-cp", plain + File.pathSeparator + javacpp, "org.layernorm4j.cli.Main"), List.of("info"));
        refusedBeforeWork(r, 3, "not on the class path", "layernorm4j-platform");
    }

    @Test
    void checkRowsArriveOneByOne() throws Exception {
        Result r = run("check");
        assertEquals(0, r.exit(), r.toString());
        List<Long> rowTimes = new ArrayList<>();
        String[] lines = r.out().split("\n");
        for (int i = 0; i < lines.length; i++) if (lines[i].startsWith("cpu ")) rowTimes.add(r.times().get(i));
        assertTrue(rowTimes.size() >= 10, r.out());
        long first = rowTimes.get(0), last = rowTimes.get(rowTimes.size() - 1);
        // streamed: the rows span the run instead of arriving together at the end
        assertTrue(last - first > 50, "check rows arrived together (first " + first + " ms, last " + last + " ms)");
    }

    @Test
    void aFailedCheckExitsWithOneAndOneLineOnStderr() throws Exception {
        // Main's test-only fault injection: the first case's forward output is altered after the kernel ran, so the
        // comparison with the float64 reference really fails (the property is internal, not in --help).
        Result r = run(List.of("-Dlayernorm4j.internal.cli.corruptCheck=true"), List.of("check"));
        assertEquals(1, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), "one line on stderr: " + r);
        assertTrue(r.err().startsWith("layernorm4j: check failed: 1 of "), r.toString());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.toString());
        List<String> failRows = r.out().lines().filter(l -> l.contains(" FAIL ")).collect(Collectors.toList());
        assertEquals(1, failRows.size(), "only the altered case fails: " + r);
        assertTrue(r.out().contains(" passed, 1 failed"), r.toString());
        assertFalse(run("--help").out().contains("corruptCheck"), "the fault injection is not part of the interface");
    }

    @Test
    void tinyBenchRunsAndMarksRowsAboveTheCeiling() throws Exception {
        Result r = run("bench", "--elements", "4096", "--cols", "64,4096", "--threads", "1", "--samples", "3",
                "--no-latency", "--warm");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("", r.err());
        long rows = r.out().lines().filter(l -> l.matches("\\d+x\\d+ .*")).count();
        assertEquals(8, rows, r.out());
        // every ceiling row names the probe that won; a row above 105% of its ceiling carries a mark, and the note
        // that explains it follows the first such row
        List<String> ls = r.out().lines().collect(Collectors.toList());
        for (int i = 0; i < ls.size(); i++) {
            String l = ls.get(i);
            if (!l.matches("\\d+x\\d+ .*")) continue;
            double pct = Double.parseDouble(l.replaceAll(".*\\s(\\d+\\.\\d)%.*", "$1"));
            if (pct > 105 && l.contains(" ours ")) assertTrue(l.contains("% *"), "unmarked row above 105%: " + l);
            if (l.contains(" ceiling ")) assertTrue(l.matches(".* 100\\.0%  won: (ordinary-store loop|non-temporal-store"
                    + " loop|prefetched ordinary-store loop|prefetched non-temporal-store loop|memcpy)( ~ .*)?"), l);
        }
        assertTrue(r.out().lines().anyMatch(l -> l.matches("cpu: \\S.*")), "the CPU model is printed: " + r.out());
        if (r.out().contains("% *")) assertTrue(r.out().contains("* CEILING WRONG: above 105%"), r.out());
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a test's {@code main} in a child JVM with the test classpath, so that a JVM crash (SIGSEGV, glibc abort)
 * fails the one test instead of killing the surefire JVM and the build.
 */
final class Forked {
    private Forked() {}

    /** Exit status and combined output of a finished child. */
    static final class Result {
        final int exit;
        final String output;

        Result(int exit, String output) {
            this.exit = exit;
            this.output = output;
        }

        /** Fails with the child's output unless it exited with 0. */
        Result assertOk(String what) {
            if (exit != 0) {
                String kind = exit >= 128 ? " (killed by signal " + (exit - 128) + ": a crash)" : "";
                fail(what + ": child JVM exited with " + exit + kind + "\n--- child output ---\n" + tail(output));
            }
            return this;
        }
    }

    static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isEmpty() ? cp : System.getProperty("java.class.path");
    }

    /** Runs {@code main.main(args)} in a child JVM with {@code jvmArgs}; kills it after {@code timeoutSeconds}. */
    static Result run(Class<?> main, List<String> jvmArgs, long timeoutSeconds, String... args) throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmArgs);
        cmd.add("-XX:-CreateCoredumpOnCrash");
        Path errorFile = Files.createTempFile("ln4j-child-crash", ".log");
        Files.delete(errorFile);
        cmd.add("-XX:ErrorFile=" + errorFile);
        cmd.add("-cp");
        cmd.add(classpath());
        cmd.add(main.getName());
        cmd.addAll(Arrays.asList(args));
        Path out = Files.createTempFile("ln4j-child", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                return new Result(-1, "TIMEOUT after " + timeoutSeconds + " s\n" + Files.readString(out));
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            File err = errorFile.toFile();
            if (err.exists()) {
                text += "\n--- hs_err (first lines) ---\n" + String.join("\n",
                        Files.readAllLines(errorFile).subList(0, Math.min(40, Files.readAllLines(errorFile).size())));
                err.delete();
            }
            return new Result(p.exitValue(), text);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static String tail(String s) {
        return s.length() <= 8000 ? s : "..." + s.substring(s.length() - 8000);
    }
}

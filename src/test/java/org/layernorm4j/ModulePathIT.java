package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library jar as a named module ({@code org.layernorm4j} on the module path, JavaCPP loading its natives from
 * the jar) and as a plain jar on the class path, each in a fresh JVM with an empty JavaCPP cache: the README's first
 * example runs both ways; on the module path the API package is exported and {@code internal} is not.
 */
class ModulePathIT {
    /** The natives jars' automatic modules: on the module path they are resolved only when added (README). */
    static final String NATIVE_MODULES = "org.layernorm4j.natives.linux.x86_64,org.layernorm4j.natives.linux.x86_64.cuda";
    static final Path JAR = Path.of(System.getProperty("ln4j.jar", "target/layernorm4j-0.1.0.jar"));

    /** The JavaCPP and CUDA-presets jars (and their platform jars) of this build's class path. */
    static List<String> dependencyJars() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String n = Path.of(e).getFileName().toString();
            // and the natives jars (layernorm4j-<v>-linux-x86_64[-cuda].jar, put there by the Failsafe configuration)
            if (n.startsWith("javacpp-") || n.startsWith("cuda-") || n.matches("layernorm4j-.*-linux-.*\\.jar")) out.add(e);
        }
        assertTrue(out.size() >= 2, "JavaCPP jars not on the test class path: " + System.getProperty("java.class.path"));
        return out;
    }

    static String run(Path cache, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        cmd.addAll(args);
        cmd.add("org.layernorm4j.modcheck.ModuleCheck");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("LD_LIBRARY_PATH");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "did not finish: " + cmd);
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.println(String.join(" ", cmd) + "\n" + text);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + "\n" + text);
        assertTrue(text.contains("dbeta [6.0, 6.0, 6.0, 6.0]"), "the example ran:\n" + text);
        return text;
    }

    @Test
    void namedModuleOnTheModulePath(@TempDir Path cache) throws Exception {
        assertTrue(Files.isRegularFile(JAR), "library jar missing: " + JAR);
        List<String> mp = new ArrayList<>(List.of(JAR.toString()));
        mp.addAll(dependencyJars());
        // the check and the examples stay on the class path (a consumer in the unnamed module)
        String text = run(cache, List.of("--module-path", String.join(File.pathSeparator, mp), "--add-modules",
                "org.layernorm4j," + NATIVE_MODULES, "-cp", "target/test-classes"));
        assertTrue(text.contains("module org.layernorm4j"), text);
        assertTrue(text.contains("exports api true"), text);
        assertTrue(text.contains("exports internal false"), text);
        assertTrue(text.contains("internal hidden"), text);
    }

    @Test
    void plainJarOnTheClassPath(@TempDir Path cache) throws Exception {
        List<String> cp = new ArrayList<>(List.of(JAR.toString(), "target/test-classes"));
        cp.addAll(dependencyJars());
        String text = run(cache, List.of("-cp", String.join(File.pathSeparator, cp)));
        assertTrue(text.contains("module unnamed"), text);
    }
}

package org.layernorm4j.consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The build's own guards, run as `mvn validate` on the library's pom (seconds, nothing is built): a release build
 * states the CUDA choice (-Prelease refuses AUTO), a bad ln4j.cuda value and a platform other than linux-x86_64 are
 * refused with a message saying so.
 */
class BuildOptionsIT {
    private static final Path ROOT = Paths.get(System.getProperty("ln4j.root", "..")).toAbsolutePath().normalize();

    private static String validate(String... args) throws IOException, InterruptedException {
        String mvn = Paths.get(System.getProperty("ln4j.mavenHome", "/usr/share/maven"), "bin", "mvn").toString();
        List<String> cmd = new ArrayList<>(List.of(mvn, "-B", "-q", "-o", "-f",
                ROOT.resolve("layernorm4j.pom.xml").toString()));
        cmd.addAll(List.of(args));
        cmd.add("validate");
        Process p = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "mvn validate did not finish");
        return "exit " + p.exitValue() + "\n" + new String(out, StandardCharsets.UTF_8);
    }

    @Test
    void releaseBuildsStateTheCudaChoice() throws Exception {
        String auto = validate("-Prelease");
        assertTrue(auto.startsWith("exit 1\n") && auto.contains("a release build needs -Dln4j.cuda=ON or -Dln4j.cuda=OFF"),
                auto);
        assertEquals("exit 0\n", validate("-Prelease", "-Dln4j.cuda=OFF").replace("\u001b[0m", ""));
    }

    @Test
    void badBuildPropertiesAreRefused() throws Exception {
        String cuda = validate("-Dln4j.cuda=maybe");
        assertTrue(cuda.startsWith("exit 1\n") && cuda.contains("-Dln4j.cuda must be AUTO, ON or OFF"), cuda);
        String platform = validate("-Djavacpp.platform=linux-arm64");
        assertTrue(platform.startsWith("exit 1\n") && platform.contains("builds natives for linux-x86_64 only"), platform);
    }
}

package org.layernorm4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layernorm4j.Device;

/**
 * The README's Java examples are this folder's code: each ```java block of README.md is preceded by
 * {@code <!-- example: File#region ... -->} and must equal those marked regions ({@code // tag::region[]} ..
 * {@code // end::region[]}, indentation removed, regions joined by a blank line), or by {@code <!-- not compiled:
 * reason -->}. Every region is quoted. The examples run here (this package sees only the exported API).
 */
class ExamplesTest {
    static final Path ROOT = Path.of(System.getProperty("basedir", "."));
    static final Path DIR = ROOT.resolve("src/test/java/org/layernorm4j/examples");
    static final Pattern TAG = Pattern.compile("^\\s*// tag::([\\w-]+)\\[\\]\\s*$");
    static final Pattern END = Pattern.compile("^\\s*// end::([\\w-]+)\\[\\]\\s*$");

    /** "File#region" -> the region's lines, common indentation removed. */
    static Map<String, String> regions() throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (var files = Files.list(DIR)) {
            for (Path p : (Iterable<Path>) files.sorted()::iterator) {
                String file = p.getFileName().toString();
                if (!file.endsWith(".java")) continue;
                List<String> lines = Files.readAllLines(p);
                for (int i = 0; i < lines.size(); i++) {
                    Matcher m = TAG.matcher(lines.get(i));
                    if (!m.matches()) continue;
                    String name = m.group(1);
                    List<String> body = new ArrayList<>();
                    int j = i + 1;
                    for (; j < lines.size(); j++) {
                        Matcher e = END.matcher(lines.get(j));
                        if (e.matches() && e.group(1).equals(name)) break;
                        body.add(lines.get(j));
                    }
                    assertTrue(j < lines.size(), file + ": region " + name + " has no end marker");
                    out.put(file.replace(".java", "") + "#" + name, dedent(body));
                }
            }
        }
        return out;
    }

    static String dedent(List<String> lines) {
        int indent = Integer.MAX_VALUE;
        for (String l : lines) {
            if (l.isBlank()) continue;
            int k = 0;
            while (k < l.length() && l.charAt(k) == ' ') k++;
            indent = Math.min(indent, k);
        }
        StringBuilder sb = new StringBuilder();
        for (String l : lines) sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        return sb.toString();
    }

    @Test
    void readmeJavaBlocksAreTheExamples() throws IOException {
        Map<String, String> regions = regions();
        assertTrue(regions.size() >= 7, "examples found: " + regions.keySet());
        List<String> readme = Files.readAllLines(ROOT.resolve("README.md"));
        Set<String> quoted = new TreeSet<>();
        int blocks = 0;
        for (int i = 0; i < readme.size(); i++) {
            if (!readme.get(i).equals("```java")) continue;
            blocks++;
            String marker = i > 0 ? readme.get(i - 1).trim() : "";
            StringBuilder block = new StringBuilder();
            int j = i + 1;
            for (; j < readme.size() && !readme.get(j).equals("```"); j++) block.append(readme.get(j)).append('\n');
            if (marker.startsWith("<!-- not compiled:") && marker.length() > "<!-- not compiled: -->".length()) continue;
            assertTrue(marker.startsWith("<!-- example: ") && marker.endsWith("-->"), "README.md line " + (i + 1)
                    + ": a ```java block must be an example (<!-- example: File#region -->) or say why it is not"
                    + " compiled (<!-- not compiled: reason -->); the line before it is '" + marker + "'");
            String[] names = marker.substring("<!-- example: ".length(), marker.length() - 3).trim().split("\\s+");
            StringBuilder want = new StringBuilder();
            for (String n : names) {
                assertTrue(regions.containsKey(n), "README.md line " + i + " quotes unknown example " + n);
                if (want.length() > 0) want.append('\n');
                want.append(regions.get(n));
                quoted.add(n);
            }
            assertEquals(want.toString(), block.toString(), "README.md block at line " + (i + 1) + " differs from "
                    + String.join(" + ", names) + " in " + DIR);
        }
        assertTrue(blocks > 0, "README.md has no ```java block");
        Set<String> unquoted = new TreeSet<>(regions.keySet());
        unquoted.removeAll(quoted);
        assertTrue(unquoted.isEmpty(), "example regions the README does not quote: " + unquoted);
    }

    /**
     * Each example block of the README compiles alone, pasted into an empty method with only
     * {@code import org.layernorm4j.*;} (no name from the example files' surroundings leaks in).
     */
    @Test
    void readmeSnippetsCompileAlone(@TempDir Path tmp) throws IOException, InterruptedException {
        List<String> readme = Files.readAllLines(ROOT.resolve("README.md"));
        List<Path> sources = new ArrayList<>();
        for (int i = 1; i < readme.size(); i++) {
            if (!readme.get(i).equals("```java") || !readme.get(i - 1).startsWith("<!-- example: ")) continue;
            StringBuilder body = new StringBuilder();
            for (int j = i + 1; j < readme.size() && !readme.get(j).equals("```"); j++) {
                if (!readme.get(j).startsWith("import ")) body.append("        ").append(readme.get(j)).append('\n');
            }
            String name = "Snippet" + (i + 1);
            Path src = tmp.resolve(name + ".java");
            Files.writeString(src, "import org.layernorm4j.*;\n\nclass " + name + " {\n    static void run() throws Exception {\n"
                    + body + "    }\n}\n");
            sources.add(src);
        }
        assertTrue(sources.size() >= 7, "README example blocks: " + sources.size());
        // the JDK's javac in its own process (the test classes may be patched into the named module, which does
        // not read java.compiler)
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "javac").toString(),
                "-d", tmp.resolve("classes").toString(), "-cp", System.getProperty("java.class.path")));
        for (Path p : sources) cmd.add(p.toString());
        Process javac = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String err = new String(javac.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, javac.waitFor(), "README snippets do not compile alone:\n" + err);
    }

    static String run(Runnable example) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            example.run();
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertFalse(out.contains("NaN") || out.contains("Infinity"), out);
        return out;
    }

    @Test
    void quickStartRuns() {
        String out = run(QuickStart::run);
        assertTrue(out.contains("dbeta [6.0, 6.0, 6.0, 6.0]"), out);
        // the first row sin(0..3) + 3 normalized, gamma {1, 1, 2, 2}, beta {0, 0, 0, 1}
        double[] row = {3, Math.sin(1) + 3, Math.sin(2) + 3, Math.sin(3) + 3};
        double mean = (row[0] + row[1] + row[2] + row[3]) / 4, var = 0;
        for (double v : row) var += (v - mean) * (v - mean) / 4;
        double y0 = (row[0] - mean) / Math.sqrt(var + 1e-5);
        String first = out.lines().filter(l -> l.startsWith("y[0..3] ")).findFirst().orElseThrow();
        assertEquals(y0, Double.parseDouble(first.split(" ")[1]), 1e-5, out);
    }

    @Test
    void trainingLoopRuns() {
        assertTrue(run(TrainingLoop::run).contains("dbeta[0] 32.0"));
    }

    @Test
    void variantsRun() {
        String out = run(() -> Variants.main(new String[0]));
        for (String k : new String[] {"rms dgamma[0] ", "zero-centred y[0] -1.34", "residual s[0] 2.5 dx[0] ",
            "from y dgamma[0] "}) {
            assertTrue(out.contains(k), "missing '" + k + "' in\n" + out);
        }
    }

    @Test
    void cudaExampleRunsWhereThereIsADevice() {
        Assumptions.assumeTrue(Device.cudaAvailable(), "no CUDA device: " + Device.cudaUnavailableReason());
        assertTrue(run(OnCuda::run).contains("cuda y[0] "));
    }
}

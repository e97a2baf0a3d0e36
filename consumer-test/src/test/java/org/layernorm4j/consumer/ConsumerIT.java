package org.layernorm4j.consumer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A user's view of the published artifacts: they are installed into a throw-away local repository, a separate
 * Maven project declares the dependencies exactly as the README's dependency blocks do, and the README's first Java
 * example is compiled and run there (a fresh JVM, a fresh JavaCPP cache: the natives must come out of the
 * classifier jars). Everything else the consumer build needs is linked from the user's local repository, so this
 * runs offline ({@code -o}; online only if the offline build misses something).
 */
class ConsumerIT {
    private static Path root;
    private static Path work;
    private static Path repo;
    private static String version;
    private static String readme;

    @BeforeAll
    static void installIntoThrowAwayRepository() throws IOException {
        root = Paths.get(System.getProperty("ln4j.root", "..")).toAbsolutePath().normalize();
        work = Paths.get(System.getProperty("ln4j.work", "target")).toAbsolutePath();
        version = System.getProperty("ln4j.version", "0.1.0");
        readme = Files.readString(root.resolve("README.md"));
        repo = work.resolve("consumer-repo");
        deleteTree(repo);
        Files.createDirectories(repo);
        // third-party artifacts and plugins: links into the user's repository (never its org/layernorm4j)
        Path user = Paths.get(System.getProperty("ln4j.userRepo", System.getProperty("user.home") + "/.m2/repository"));
        try (Stream<Path> top = Files.list(user)) {
            for (Path p : (Iterable<Path>) top::iterator) {
                if (!p.getFileName().toString().equals("org")) {
                    Files.createSymbolicLink(repo.resolve(p.getFileName().toString()), p);
                }
            }
        }
        Files.createDirectories(repo.resolve("org"));
        try (Stream<Path> org = Files.list(user.resolve("org"))) {
            for (Path p : (Iterable<Path>) org::iterator) {
                if (!p.getFileName().toString().equals("layernorm4j")) {
                    Files.createSymbolicLink(repo.resolve("org").resolve(p.getFileName().toString()), p);
                }
            }
        }
        // ours, in the repository layout `mvn install` writes
        String platform = System.getProperty("ln4j.platform", "linux-x86_64");
        install("layernorm4j-parent", root.resolve("pom.xml"), null, null);
        install("layernorm4j", root.resolve("layernorm4j.pom.xml"), root.resolve("target/layernorm4j-" + version + ".jar"), null);
        install("layernorm4j", null, root.resolve("target/layernorm4j-" + version + "-" + platform + ".jar"), platform);
        install("layernorm4j", null, root.resolve("target/layernorm4j-" + version + "-" + platform + "-cuda.jar"),
                platform + "-cuda");
        for (String m : new String[] {"platform", "cuda-platform"}) {
            String a = "layernorm4j-" + m;
            install(a, root.resolve(m).resolve("pom.xml"), root.resolve(m).resolve("target/" + a + "-" + version + ".jar"), null);
        }
    }

    private static void install(String artifact, Path pom, Path jar, String classifier) throws IOException {
        Path dir = repo.resolve("org/layernorm4j").resolve(artifact).resolve(version);
        Files.createDirectories(dir);
        String base = artifact + "-" + version;
        if (pom != null) Files.copy(pom, dir.resolve(base + ".pom"), StandardCopyOption.REPLACE_EXISTING);
        if (jar != null) {
            assertTrue(Files.isRegularFile(jar), "artifact missing: " + jar);
            Files.copy(jar, dir.resolve(base + (classifier != null ? "-" + classifier : "") + ".jar"),
                    StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The README's ```xml blocks that declare {@code artifactId}, as dependency elements. */
    static String readmeDependencies(String artifactId) {
        Matcher m = Pattern.compile("```xml\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        while (m.find()) {
            String block = m.group(1);
            if (block.contains("<artifactId>" + artifactId + "</artifactId>")) return block;
        }
        throw new AssertionError("the README has no ```xml block with <artifactId>" + artifactId + "</artifactId>");
    }

    /** The README's first ```java block, as a class: its imports on top, its statements in main. */
    static String readmeExample() {
        int from = readme.indexOf("## Using it from Java");
        assertTrue(from >= 0, "README section 'Using it from Java' not found");
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(from), "no ```java block after 'Using it from Java'");
        StringBuilder imports = new StringBuilder(), body = new StringBuilder();
        for (String line : m.group(1).split("\n", -1)) {
            (line.startsWith("import ") ? imports : body).append(line.startsWith("import ") ? line : "        " + line)
                    .append('\n');
        }
        return "package example;\n\n" + imports + "\npublic final class ReadmeExample {\n"
                + "    public static void main(String[] args) throws Exception {\n" + body + "    }\n}\n";
    }

    /** The README's ND4J / PyTorch presets recipe block, as a method of a class with its imports. */
    static String readmeRecipes() {
        int from = readme.indexOf("<!-- not compiled: by ExamplesTest (needs ND4J and the PyTorch presets)");
        assertTrue(from >= 0, "README: the ND4J / PyTorch recipes block (its marker line) not found");
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(from), "no ```java block after the recipes marker");
        return "package example;\n\nimport org.bytedeco.pytorch.global.torch;\nimport org.layernorm4j.*;\n"
                + "import org.nd4j.linalg.api.buffer.DataType;\nimport org.nd4j.linalg.api.ndarray.INDArray;\n"
                + "import org.nd4j.linalg.factory.Nd4j;\n\npublic final class Recipes {\n"
                + "    static void recipes(LayerNorm ln, Tensor gamma, Tensor beta, Tensor y) {\n" + m.group(1)
                + "    }\n}\n";
    }

    /** The libraries of the recipes, API jars only (nothing of theirs runs): about 9.5 MB. */
    private static final String RECIPE_DEPENDENCIES = recipeDependency("org.nd4j", "nd4j-api", "1.0.0-M2.1")
            + recipeDependency("org.nd4j", "nd4j-common", "1.0.0-M2.1")
            + recipeDependency("org.bytedeco", "pytorch", "2.10.0-1.5.13");

    private static String recipeDependency(String group, String artifact, String version) {
        return "<dependency><groupId>" + group + "</groupId><artifactId>" + artifact + "</artifactId><version>" + version
                + "</version><exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>"
                + "</exclusions></dependency>\n";
    }

    private static String buildAndRun(String name, String dependencies) throws IOException, InterruptedException {
        String text = build(name, dependencies, true);
        assertTrue(text.startsWith("exit 0\n"), "the consumer project (" + name + ") failed:\n" + text);
        assertTrue(text.contains("readme-example: ok"), text);
        return text;
    }

    /** Writes the consumer project and runs `mvn package` (plus extra arguments) in it: "exit N" and the output. */
    private static String build(String name, String dependencies, boolean onlineIfNeeded, String... extra)
            throws IOException, InterruptedException {
        return build(name, dependencies, "package", null, onlineIfNeeded, extra);
    }

    /** The same with another goal, and `recipes` (if not null) as example/Recipes.java. */
    private static String build(String name, String dependencies, String goal, String recipes, boolean onlineIfNeeded,
            String... extra) throws IOException, InterruptedException {
        Path project = work.resolve("consumer-" + name);
        deleteTree(project);
        copyTree(root.resolve("consumer-test/project"), project);
        Path pom = project.resolve("pom.xml");
        Files.writeString(pom, Files.readString(pom).replace("<!--DEPENDENCIES-->", dependencies));
        Files.writeString(project.resolve("src/main/java/example/ReadmeExample.java"), readmeExample());
        if (recipes != null) Files.writeString(project.resolve("src/main/java/example/Recipes.java"), recipes);
        String mvn = Paths.get(System.getProperty("ln4j.mavenHome", "/usr/share/maven"), "bin", "mvn").toString();
        // offline first: everything the consumer needs is what this build itself used; online only if that fails
        List<String> cmd = new ArrayList<>(List.of(mvn, "-B", "-q", "-o", "-Dmaven.repo.local=" + repo));
        cmd.addAll(List.of(extra));
        cmd.add(goal);
        String text = run(cmd, project);
        if (onlineIfNeeded && text.contains("in offline mode")) {
            cmd.remove("-o");
            text = run(cmd, project);
        }
        System.out.println("== consumer (" + name + "): " + String.join(" ", cmd) + "\n" + text);
        return text;
    }

    /** "exit N" and the command's output. */
    private static String run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().remove("MAVEN_OPTS");
        pb.environment().remove("LD_LIBRARY_PATH");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "consumer build did not finish");
        return "exit " + p.exitValue() + "\n" + new String(out, StandardCharsets.UTF_8);
    }

    private static long value(String text, String key) {
        Matcher m = Pattern.compile("^" + Pattern.quote(key) + ": (\\d+)$", Pattern.MULTILINE).matcher(text);
        assertTrue(m.find(), key + " missing in:\n" + text);
        return Long.parseLong(m.group(1));
    }

    @Test
    void cpuUserGetsSmallJarsAndTheExampleRuns() throws Exception {
        String text = buildAndRun("cpu", readmeDependencies("layernorm4j-platform"));
        assertTrue(text.contains("cuda-presets-on-classpath: false"), "a CPU user must not get the CUDA presets:\n" + text);
        assertFalse(text.contains("layernorm4j-" + version + "-linux-x86_64-cuda.jar"), text);
        long bytes = value(text, "classpath-bytes");
        // measured 1,358,066 bytes: the natives jar 0.65 MB (liblayernorm4j.so 2.3 MB unpacked), JavaCPP 0.57 MB
        assertTrue(bytes < 2_000_000, "a CPU user's class path should stay under 2 MB (1.42 MB measured), is "
                + bytes + " bytes:\n" + text);
        assertTrue(text.contains("cuda-reason: LayerNorm4j's CUDA native libraries for linux-x86_64 are not on the class path")
                && text.contains("layernorm4j-cuda-platform"), "the reason names the dependency to add:\n" + text);
    }

    @Test
    void gpuUserAddsOneDependencyAndTheExampleRuns() throws Exception {
        String text = buildAndRun("cuda", readmeDependencies("layernorm4j-platform")
                + readmeDependencies("layernorm4j-cuda-platform"));
        assertTrue(text.contains("cuda-presets-on-classpath: true"), text);
        assertTrue(text.contains("layernorm4j-" + version + "-linux-x86_64-cuda.jar"), text);
        assertFalse(text.contains("not on the class path"), "with the CUDA dependency the CUDA natives load:\n" + text);
    }

    @Test
    void readmeRecipesCompileAgainstNd4jAndThePyTorchPresets() throws Exception {
        // compiled only: running needs an ND4J backend and libtorch. The first run downloads the API jars (online).
        String text = build("recipes", readmeDependencies("layernorm4j-platform") + RECIPE_DEPENDENCIES, "compile",
                readmeRecipes(), true);
        assertTrue(text.startsWith("exit 0\n"), "the README's ND4J / PyTorch recipes do not compile:\n" + text);
        assertTrue(Files.isRegularFile(work.resolve("consumer-recipes/target/classes/example/Recipes.class")), text);
    }

    @Test
    void javacppPlatformPicksTheNativesClassifier() throws Exception {
        // as with the JavaCPP presets: -Djavacpp.platform=X makes the -platform artifacts ask for X's natives (which
        // LayerNorm4j does not ship for linux-arm64: the build names the missing classifier jar)
        String text = build("arm64", readmeDependencies("layernorm4j-platform"), false, "-Djavacpp.platform=linux-arm64");
        assertFalse(text.startsWith("exit 0\n"), text);
        assertTrue(text.contains("org.layernorm4j:layernorm4j:jar:linux-arm64:" + version), text);
        assertFalse(text.contains("layernorm4j:jar:linux-x86_64"), "only the requested platform is asked for:\n" + text);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(dir)) { // walk does not follow links: the user's repository is safe
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.delete(p);
        }
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jars as a user gets them: the plain jar holds no native code, the platform jar the CPU libraries, the
 * -cuda jar the CUDA ones; every library is stripped, has no RUNPATH but $ORIGIN and no build-folder path inside,
 * links libstdc++/libgcc in (no GLIBCXX, CXXABI or GCC symbol versions, no libstdc++/libgcc_s NEEDED), and the
 * newest glibc symbol version they need is exactly the minimum the README states. Uses objdump (binutils); without
 * it the test is skipped with that reason.
 */
class NativeLibrariesIT {
    private static final String PLATFORM = "linux-x86_64";

    private static Path jar(String classifier) {
        Path dir = Paths.get(System.getProperty("ln4j.targetDir", "target"));
        String v = System.getProperty("ln4j.version", "0.1.0");
        return dir.resolve("layernorm4j-" + v + (classifier.isEmpty() ? "" : "-" + classifier) + ".jar");
    }

    private static List<String> natives(Path jar) throws IOException {
        List<String> out = new ArrayList<>();
        try (ZipFile z = new ZipFile(jar.toFile())) {
            z.stream().map(ZipEntry::getName).filter(n -> n.endsWith(".so")).forEach(out::add);
        }
        return out;
    }

    @Test
    void eachJarHoldsItsPartOfTheNatives() throws IOException {
        String dir = "org/layernorm4j/internal/" + PLATFORM + "/";
        assertEquals(List.of(), natives(jar("")), "the plain jar holds classes only");
        assertEquals(Set.of(dir + "libjniNativeCpu.so", dir + "liblayernorm4j.so"), Set.copyOf(natives(jar(PLATFORM))));
        assertEquals(Set.of(dir + "libjniNativeCuda.so", dir + "liblayernorm4j_cuda.so"),
                Set.copyOf(natives(jar(PLATFORM + "-cuda"))));
    }

    /** "2.35" from the README's "glibc 2.35 or newer". */
    static String readmeGlibc() throws IOException {
        Path readme = Paths.get(System.getProperty("ln4j.targetDir", "target")).resolve("../README.md");
        Matcher m = Pattern.compile("glibc (\\d+\\.\\d+) or newer").matcher(Files.readString(readme));
        assertTrue(m.find(), "the README states no minimum glibc ('glibc X.Y or newer')");
        return m.group(1);
    }

    private static String objdump(String flag, Path lib) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("objdump", flag, lib.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(1, TimeUnit.MINUTES));
        return out;
    }

    private static boolean haveObjdump() {
        try {
            Process p = new ProcessBuilder("objdump", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    static int[] version(String v) {
        String[] p = v.split("\\.");
        return new int[] {Integer.parseInt(p[0]), p.length > 1 ? Integer.parseInt(p[1]) : 0};
    }

    static int compare(String a, String b) {
        int[] x = version(a), y = version(b);
        return x[0] != y[0] ? Integer.compare(x[0], y[0]) : Integer.compare(x[1], y[1]);
    }

    @Test
    void librariesAreStrippedSelfContainedAndNeedTheReadmeGlibc(@TempDir Path tmp) throws Exception {
        assumeTrue(haveObjdump(), "objdump (binutils) not found: the packaged libraries are not inspected");
        String allowed = readmeGlibc();
        String buildRoot = Paths.get(System.getProperty("ln4j.targetDir", "target")).toAbsolutePath().normalize()
                .getParent().toString();
        String worst = "0.0";
        StringBuilder report = new StringBuilder();
        for (String classifier : new String[] {PLATFORM, PLATFORM + "-cuda"}) {
            try (ZipFile z = new ZipFile(jar(classifier).toFile())) {
                List<ZipEntry> libs = new ArrayList<>();
                z.stream().filter(x -> x.getName().endsWith(".so")).forEach(libs::add);
                for (ZipEntry e : libs) {
                    Path lib = tmp.resolve(Paths.get(e.getName()).getFileName());
                    try (InputStream in = z.getInputStream(e)) {
                        Files.copy(in, lib);
                    }
                    String dyn = objdump("-T", lib), priv = objdump("-p", lib), syms = objdump("-t", lib);
                    Set<String> glibc = new TreeSet<>();
                    Matcher m = Pattern.compile("GLIBC_(\\d+\\.\\d+)").matcher(dyn);
                    while (m.find()) glibc.add(m.group(1));
                    String max = glibc.stream().max(NativeLibrariesIT::compare).orElse("0.0");
                    if (compare(max, worst) > 0) worst = max;
                    report.append(e.getName()).append(": GLIBC ").append(max).append('\n');
                    String name = lib.getFileName().toString();
                    assertTrue(compare(max, allowed) <= 0, name + " needs GLIBC_" + max + ", the README says " + allowed);
                    assertFalse(Pattern.compile("\\((GLIBCXX|CXXABI|GCC)_").matcher(dyn).find(),
                            name + " needs the system libstdc++/libgcc:\n" + dyn);
                    assertFalse(priv.contains("libstdc++") || priv.contains("libgcc_s"), name + ":\n" + priv);
                    Matcher rp = Pattern.compile("(RUNPATH|RPATH)\\s+(\\S+)").matcher(priv);
                    while (rp.find()) {
                        assertEquals("$ORIGIN/", rp.group(2), name + " has a build-machine path in " + rp.group(1));
                    }
                    assertTrue(syms.contains("no symbols"), name + " is not stripped");
                    String bytes = new String(Files.readAllBytes(lib), StandardCharsets.ISO_8859_1);
                    assertFalse(bytes.contains(buildRoot), name + " contains the build folder " + buildRoot);
                }
            }
        }
        System.out.println("NativeLibrariesIT: highest glibc needed " + worst + " (README: " + allowed + ")\n" + report);
        // the README states the real minimum, not just an upper bound of it
        assertEquals(allowed, worst, "the README says glibc " + allowed + " or newer, the packaged libraries need "
                + worst + ":\n" + report);
    }
}

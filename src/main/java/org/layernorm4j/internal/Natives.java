package org.layernorm4j.internal;

import java.util.List;
import org.bytedeco.javacpp.Loader;

/**
 * Loads LayerNorm4j's native libraries through JavaCPP, with one-line errors a user can act on. The natives come
 * from the platform-classifier jars ({@code layernorm4j-<v>-linux-x86_64.jar}, and
 * {@code layernorm4j-<v>-linux-x86_64-cuda.jar} for the CUDA kernels), which {@code layernorm4j-platform} and
 * {@code layernorm4j-cuda-platform} bring.
 *
 * <p>A failure is an {@link UnsatisfiedLinkError} with a one-line message and no cause: thrown from a static
 * initializer, an {@code Error} reaches the caller as it is (not wrapped in {@code ExceptionInInitializerError}).
 */
public final class Natives {
    /** The platforms (JavaCPP names) LayerNorm4j ships natives for. */
    public static final List<String> SUPPORTED_PLATFORMS = List.of("linux-x86_64");

    private static final String PACKAGE_DIR = "org/layernorm4j/internal/";

    private Natives() {}

    /** The platform JavaCPP loads natives for: {@code -Dorg.bytedeco.javacpp.platform}, else os.name/os.arch. */
    public static String platform() {
        return Loader.getPlatform();
    }

    /** Why this platform cannot run LayerNorm4j (one line), or null when it is supported. */
    public static String unsupportedReason() {
        String p = platform();
        if (SUPPORTED_PLATFORMS.contains(p)) return null;
        String forced = System.getProperty("org.bytedeco.javacpp.platform");
        return "LayerNorm4j has no native libraries for platform " + p + " ("
                + (forced != null ? "-Dorg.bytedeco.javacpp.platform=" + forced
                        : "os.name=" + System.getProperty("os.name") + ", os.arch=" + System.getProperty("os.arch"))
                + "); supported platforms: " + String.join(", ", SUPPORTED_PLATFORMS);
    }

    /** Loads the CPU library (liblayernorm4j) and its JNI library; throws a one-line UnsatisfiedLinkError. */
    public static void loadCpu() {
        load(NativeCpu.class, "jniNativeCpu", "org.layernorm4j:layernorm4j-platform (or org.layernorm4j:layernorm4j:"
                + version() + ":" + platform() + ")");
    }

    /** Loads the CUDA library (liblayernorm4j_cuda) and its JNI library; throws a one-line UnsatisfiedLinkError. */
    public static void loadCuda() {
        load(NativeCuda.class, "jniNativeCuda", "org.layernorm4j:layernorm4j-cuda-platform (or org.layernorm4j:layernorm4j:"
                + version() + ":" + platform() + "-cuda)");
    }

    private static void load(Class<?> cls, String jniName, String artifact) {
        String why = unsupportedReason();
        if (why != null) throw new UnsatisfiedLinkError(why);
        String resource = PACKAGE_DIR + platform() + "/" + System.mapLibraryName(jniName);
        boolean cuda = jniName.endsWith("Cuda");
        // through the class loader: the natives' folder is not a package, so it is found in any jar (or module)
        ClassLoader cl = Natives.class.getClassLoader();
        if ((cl != null ? cl.getResource(resource) : ClassLoader.getSystemResource(resource)) == null) {
            // on the module path the natives jars are automatic modules, resolved only when something adds them
            String module = "org.layernorm4j.natives." + platform().replace('-', '.') + (cuda ? ".cuda" : "");
            throw new UnsatisfiedLinkError("LayerNorm4j's " + (cuda ? "CUDA " : "") + "native libraries for "
                    + platform() + " are not on the class path (" + resource + "): add the dependency " + artifact
                    + (Natives.class.getModule().isNamed() ? "; on the module path also --add-modules " + module : ""));
        }
        dropStaleCachedCopies(cl, PACKAGE_DIR + platform() + "/", System.mapLibraryName(jniName),
                System.mapLibraryName(cuda ? "layernorm4j_cuda" : "layernorm4j"));
        try {
            Loader.load(cls);
        } catch (UnsatisfiedLinkError e) {
            // JavaCPP's own message is "no jniX in java.library.path"; the real reason is the innermost cause
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            throw new UnsatisfiedLinkError("LayerNorm4j's native library " + jniName + " for " + platform()
                    + " failed to load: " + oneLine(String.valueOf(root.getMessage())));
        }
    }

    /** The first line of {@code s}, trimmed. */
    /**
     * JavaCPP extracts a jar's native libraries once into its cache (~/.javacpp/cache/&lt;jar name&gt;/...) and reuses a
     * cached copy whose size and time stamp match the jar entry's. This build's jars are reproducible (every entry
     * carries the same fixed time stamp), so a rebuilt jar of the same name whose library kept its size (the linker
     * pads sections to pages) would load the previous build's code: a missing JNI method, or silently the old
     * kernels. Before loading, each of these libraries' cached copy of the same size is compared with the jar entry
     * by CRC-32 and deleted when it differs, so that JavaCPP extracts the current one. Under JavaCPP's cache lock
     * (another JVM extracting meanwhile); skipped when the lock is not free within a second, or the library does not
     * come from a jar. Costs a CRC of the cached copies (a few milliseconds), once per process.
     */
    private static void dropStaleCachedCopies(ClassLoader cl, String dir, String... names) {
        if (Boolean.parseBoolean(System.getProperty("org.bytedeco.javacpp.cachedir.nosubdir", "false"))) return;
        java.io.File cacheDir;
        try {
            cacheDir = Loader.getCacheDir();
        } catch (java.io.IOException | RuntimeException e) {
            return;  // no cache: JavaCPP extracts to a temporary folder
        }
        for (String name : names) {
            java.net.URL url = cl != null ? cl.getResource(dir + name) : ClassLoader.getSystemResource(dir + name);
            if (url == null || !"jar".equals(url.getProtocol())) continue;
            try {
                java.net.JarURLConnection c = (java.net.JarURLConnection) url.openConnection();
                java.util.jar.JarEntry entry = c.getJarEntry();
                String jarPath = c.getJarFileURL().getPath();
                String jarName = jarPath.substring(jarPath.lastIndexOf('/') + 1);
                dropIfStale(new java.io.File(new java.io.File(cacheDir, jarName), dir + name), entry.getSize(),
                        entry.getCrc(), new java.io.File(cacheDir, ".lock"));
            } catch (java.io.IOException | RuntimeException e) {
                // unreadable entry or cache: leave it to JavaCPP
            }
        }
    }

    /**
     * Deletes {@code cached} when it has {@code size} bytes but not the CRC-32 {@code crc} (a stale copy JavaCPP would
     * reuse), holding the lock file JavaCPP holds while it extracts. Returns whether it deleted the file.
     */
    static boolean dropIfStale(java.io.File cached, long size, long crc, java.io.File lockFile) throws java.io.IOException {
        if (size < 0 || crc < 0 || !cached.isFile() || cached.length() != size) return false;
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(lockFile, "rw");
                java.nio.channels.FileChannel ch = raf.getChannel()) {
            java.nio.channels.FileLock lock = null;
            for (int i = 0; i < 100 && lock == null; i++) {
                try {
                    lock = ch.tryLock();
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    lock = null;  // JavaCPP holds it in this JVM (loading another library): wait
                }
                if (lock == null) {
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }
            }
            if (lock == null) return false;
            try {
                if (!cached.isFile() || cached.length() != size || crc32(cached) == crc) return false;
                boolean deleted = cached.delete();
                if (deleted) {
                    System.getLogger("org.layernorm4j").log(System.Logger.Level.INFO, "layernorm4j: deleted a stale "
                            + "cached native library (another build's, same size) so that JavaCPP extracts this jar's: "
                            + cached);
                }
                return deleted;
            } finally {
                lock.release();
            }
        }
    }

    private static long crc32(java.io.File f) throws java.io.IOException {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        byte[] buf = new byte[1 << 16];
        try (java.io.InputStream in = new java.io.FileInputStream(f)) {
            for (int n; (n = in.read(buf)) > 0; ) crc.update(buf, 0, n);
        }
        return crc.getValue();
    }

    public static String oneLine(String s) {
        int nl = s.indexOf('\n');
        return (nl >= 0 ? s.substring(0, nl) : s).trim();
    }

    /** This library's version (written into a resource by the build). */
    public static String version() {
        try (java.io.InputStream in = Natives.class.getResourceAsStream("/org/layernorm4j/layernorm4j.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}

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
        // through the class loader: the natives' folder is not a package, so it is found in any jar (or module)
        ClassLoader cl = Natives.class.getClassLoader();
        if ((cl != null ? cl.getResource(resource) : ClassLoader.getSystemResource(resource)) == null) {
            boolean cuda = jniName.endsWith("Cuda");
            // on the module path the natives jars are automatic modules, resolved only when something adds them
            String module = "org.layernorm4j.natives." + platform().replace('-', '.') + (cuda ? ".cuda" : "");
            throw new UnsatisfiedLinkError("LayerNorm4j's " + (cuda ? "CUDA " : "") + "native libraries for "
                    + platform() + " are not on the class path (" + resource + "): add the dependency " + artifact
                    + (Natives.class.getModule().isNamed() ? "; on the module path also --add-modules " + module : ""));
        }
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

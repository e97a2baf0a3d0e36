package example;

import java.io.File;
import org.layernorm4j.Device;

/** Runs the README's example, then reports what the consumer's class path holds. */
public final class Consumer {
    private Consumer() {}

    public static void main(String[] args) throws Exception {
        ReadmeExample.main(args);
        System.out.println("readme-example: ok");
        long bytes = 0;
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            File f = new File(e);
            if (f.isFile()) {
                bytes += f.length();
                System.out.println("classpath-jar: " + f.getName() + " " + f.length());
            }
        }
        System.out.println("classpath-bytes: " + bytes);
        boolean presets;
        try {
            Class.forName("org.bytedeco.cuda.global.cudart", false, Consumer.class.getClassLoader());
            presets = true;
        } catch (ClassNotFoundException e) {
            presets = false;
        }
        System.out.println("cuda-presets-on-classpath: " + presets);
        System.out.println("cuda-available: " + Device.cudaAvailable());
        System.out.println("cuda-reason: " + Device.cudaUnavailableReason());
    }
}

package org.layernorm4j;

import java.util.List;
import java.util.function.Supplier;
import org.layernorm4j.internal.CpuBackend;

/** Runs code with {@code layernorm4j.cpu.isa} set, restoring the previous value. */
final class Isa {
    private Isa() {}

    static List<String> supported() {
        return CpuBackend.supportedIsaNames();
    }

    static synchronized <T> T with(String isa, Supplier<T> body) {
        String old = System.getProperty(CpuBackend.ISA_PROPERTY);
        try {
            if (isa == null) System.clearProperty(CpuBackend.ISA_PROPERTY);
            else System.setProperty(CpuBackend.ISA_PROPERTY, isa);
            return body.get();
        } finally {
            if (old == null) System.clearProperty(CpuBackend.ISA_PROPERTY);
            else System.setProperty(CpuBackend.ISA_PROPERTY, old);
        }
    }

    static void run(String isa, Runnable body) {
        with(isa, () -> {
            body.run();
            return null;
        });
    }
}

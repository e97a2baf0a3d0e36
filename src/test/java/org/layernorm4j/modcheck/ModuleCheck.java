package org.layernorm4j.modcheck;

import org.layernorm4j.LayerNorm;
import org.layernorm4j.examples.QuickStart;

/**
 * Run by ModulePathIT in a fresh JVM: prints the module LayerNorm4j was loaded as, whether its internals are
 * reachable from outside, and runs the README's first example (so the natives load through JavaCPP).
 */
public final class ModuleCheck {
    private ModuleCheck() {}

    public static void main(String[] args) throws Exception {
        Module m = LayerNorm.class.getModule();
        System.out.println("module " + (m.isNamed() ? m.getName() : "unnamed"));
        System.out.println("exports api " + m.isExported("org.layernorm4j"));
        System.out.println("exports internal " + m.isExported("org.layernorm4j.internal"));
        Class<?> internal = Class.forName("org.layernorm4j.internal.CpuBackend");
        try {
            internal.getMethod("defaultThreads").invoke(null);
            System.out.println("internal reachable");
        } catch (IllegalAccessException e) {
            System.out.println("internal hidden");
        }
        QuickStart.run();
    }
}

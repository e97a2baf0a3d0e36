package org.layernorm4j.cli;

import org.layernorm4j.internal.NativeCpu;
import org.layernorm4j.internal.NativeCuda;

/** Bootstrap CLI (to be replaced): prints versions. */
public final class Main {
    public static void main(String[] args) {
        System.out.println("layernorm4j " + NativeCpu.ln4j_version() + " isa=" + NativeCpu.ln4j_cpu_isa_name(NativeCpu.ln4j_cpu_isa_best()));
        System.out.println("cuda built=" + NativeCuda.ln4j_cuda_built());
    }
}

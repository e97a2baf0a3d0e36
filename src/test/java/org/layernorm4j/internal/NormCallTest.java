package org.layernorm4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.LayerNormException;
import org.layernorm4j.Tensor;

/**
 * The call builder against the C structs: what NormCall writes is what the C compiler reads (JavaCPP's getters
 * read the fields through the compiled struct), a new call clears every tensor of the last one, status codes map
 * to the right exception, and threads = 0 means the available processors everywhere.
 */
class NormCallTest {
    private static long addr(Pointer p) {
        return p == null ? 0L : p.address();
    }

    /** The forward struct's header and pointer fields (x, residual, gamma, beta, y, residual_out, mean, rstd). */
    private static void assertForward(NormCall c, int norm, int flags, int xd, int pd, long rows, long cols, double eps,
            long[] pointers) {
        NativeCpu.ForwardArgs a = new NativeCpu.ForwardArgs(c.argsAddress());
        assertEquals(NormCall.FORWARD_SIZE, a.struct_size());
        assertEquals(norm, a.norm());
        assertEquals(flags, a.flags());
        assertEquals(xd, a.x_dtype());
        assertEquals(pd, a.param_dtype());
        assertEquals(rows, a.rows());
        assertEquals(cols, a.cols());
        assertEquals(eps, a.eps());
        long[] got = {addr(a.x()), addr(a.residual()), addr(a.gamma()), addr(a.beta()), addr(a.y()),
                addr(a.residual_out()), addr(a.mean()), addr(a.rstd())};
        for (int i = 0; i < pointers.length; i++) assertEquals(pointers[i], got[i], "forward pointer field " + i);
    }

    /** The backward struct's header and pointer fields (dy, dresidual_out, x, mean, rstd, gamma, beta, dx, dgamma, dbeta). */
    private static void assertBackward(NormCall c, int norm, int flags, int xd, int pd, long rows, long cols,
            long[] pointers) {
        NativeCpu.BackwardArgs a = new NativeCpu.BackwardArgs(c.argsAddress());
        assertEquals(NormCall.BACKWARD_SIZE, a.struct_size());
        assertEquals(norm, a.norm());
        assertEquals(flags, a.flags());
        assertEquals(xd, a.x_dtype());
        assertEquals(pd, a.param_dtype());
        assertEquals(rows, a.rows());
        assertEquals(cols, a.cols());
        long[] got = {addr(a.dy()), addr(a.dresidual_out()), addr(a.x()), addr(a.mean()), addr(a.rstd()),
                addr(a.gamma()), addr(a.beta()), addr(a.dx()), addr(a.dgamma()), addr(a.dbeta())};
        for (int i = 0; i < pointers.length; i++) assertEquals(pointers[i], got[i], "backward pointer field " + i);
    }

    @Test
    void forwardFieldsReachTheCStruct() {
        NormCall c = NormCall.forward(1, 1, 2, 0, 123_456_789_012L, 768, 1e-5).x(0x1000).residual(0x2000)
                .gamma(0x3000).beta(0x4000).y(0x5000).residualOut(0x6000).mean(0x7000).rstd(0x8000).threads(5)
                .onCpu(2);
        assertForward(c, 1, 1, 2, 0, 123_456_789_012L, 768, 1e-5,
                new long[] {0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000});
        NativeCpu.Exec e = new NativeCpu.Exec(c.execAddress());
        assertEquals(NormCall.EXEC_SIZE, e.struct_size());
        assertEquals(NormCall.DEVICE_CPU, e.device());
        assertEquals(2, e.isa());
        assertEquals(5, e.threads());
    }

    @Test
    void backwardFieldsReachTheCStruct() {
        NormCall c = NormCall.backward(0, 2, 3, 3, 7, 9).dy(0x10).dresidualOut(0x20).x(0x30).mean(0x40).rstd(0x50)
                .gamma(0x60).beta(0x70).dx(0x80).dgamma(0x90).dbeta(0xa0);
        c.onCuda(3, 0xbeef, 0xcafe, 4096);
        assertBackward(c, 0, 2, 3, 3, 7, 9, new long[] {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0});
        NativeCpu.Exec e = new NativeCpu.Exec(c.execAddress());
        assertEquals(3, e.device());
        assertEquals(0xbeef, addr(e.stream()));
        assertEquals(0xcafe, addr(e.workspace()));
        assertEquals(4096, e.workspace_bytes());
        assertEquals(0, e.threads(), "a new call starts with threads 0");
    }

    @Test
    void oneShotFormsWriteEveryFieldAndReplaceTheLastCall() {
        // a builder-style call leaves addresses behind; the one-shot form (the public API's path) overwrites each
        NormCall.forward(0, 0, 0, 0, 1, 8, 1e-5).x(9).residual(9).gamma(9).beta(9).y(9).residualOut(9).mean(9)
                .rstd(9).threads(9);
        NormCall f = NormCall.forward(1, 1, 2, 0, 123_456_789_012L, 768, 1e-5, 0x1000, 0, 0x3000, 0x4000, 0x5000, 0,
                0x7000, 0x8000, 5);
        assertForward(f, 1, 1, 2, 0, 123_456_789_012L, 768, 1e-5, new long[] {0x1000, 0, 0x3000, 0x4000, 0x5000, 0,
                0x7000, 0x8000});
        assertEquals(5, new NativeCpu.Exec(f.execAddress()).threads());

        NormCall.backward(0, 0, 0, 0, 1, 8).dy(9).dresidualOut(9).x(9).mean(9).rstd(9).gamma(9).beta(9).dx(9)
                .dgamma(9).dbeta(9).threads(9);
        NormCall b = NormCall.backward(1, 2, 3, 3, 7, 9, 0x10, 0, 0x30, 0, 0x50, 0x60, 0, 0x80, 0x90, 0, 2);
        assertBackward(b, 1, 2, 3, 3, 7, 9, new long[] {0x10, 0, 0x30, 0, 0x50, 0x60, 0, 0x80, 0x90, 0});
        assertEquals(2, new NativeCpu.Exec(b.execAddress()).threads());
        assertThrows(IllegalStateException.class, () -> b.y(1), "a backward call refuses forward-only fields");
    }

    @Test
    void aNewCallClearsTheLastCallsTensors() {
        NormCall first = NormCall.forward(0, 0, 0, 0, 1, 8, 1e-5).x(1).residual(2).gamma(3).beta(4).y(5)
                .residualOut(6).mean(7).rstd(8).threads(3);
        NormCall second = NormCall.forward(0, 0, 0, 0, 1, 8, 1e-5);
        assertSame(first, second, "one reusable call per thread");
        NativeCpu.ForwardArgs a = new NativeCpu.ForwardArgs(second.argsAddress());
        long sum = addr(a.x()) | addr(a.residual()) | addr(a.gamma()) | addr(a.beta()) | addr(a.y())
                | addr(a.residual_out()) | addr(a.mean()) | addr(a.rstd());
        assertEquals(0, sum);
        assertEquals(0, new NativeCpu.Exec(second.execAddress()).threads());
        NormCall.backward(0, 0, 0, 0, 1, 8).dy(1).x(2).mean(3).rstd(4).dx(5).dgamma(6).dbeta(7).gamma(8).beta(9)
                .dresidualOut(10);
        NativeCpu.BackwardArgs b = new NativeCpu.BackwardArgs(NormCall.backward(0, 0, 0, 0, 1, 8).argsAddress());
        long bsum = addr(b.dy()) | addr(b.x()) | addr(b.mean()) | addr(b.rstd()) | addr(b.dx()) | addr(b.dgamma())
                | addr(b.dbeta()) | addr(b.gamma()) | addr(b.beta()) | addr(b.dresidual_out());
        assertEquals(0, bsum);
        assertThrows(IllegalStateException.class, () -> NormCall.backward(0, 0, 0, 0, 1, 8).y(1));
        assertThrows(IllegalStateException.class, () -> NormCall.forward(0, 0, 0, 0, 1, 8, 1e-5).dx(1));
    }

    @Test
    void statusCodesMapToExceptions() {
        RuntimeException z = NormCall.failure(NormCall.ERR_ZERO_GAMMA, "ln4j_cpu_backward: ... column 9 (gamma = 0)");
        assertInstanceOf(IllegalArgumentException.class, z);
        assertTrue(z.getMessage().startsWith("gamma: ") && z.getMessage().contains("column 9"), z.getMessage());
        RuntimeException u = NormCall.failure(LayerNormException.UNSUPPORTED, "built without CUDA");
        assertInstanceOf(LayerNormException.class, u);
        assertEquals(LayerNormException.UNSUPPORTED, ((LayerNormException) u).status());
        // INVALID_ARGUMENT is no longer read as the zero-gamma rule
        assertInstanceOf(LayerNormException.class, NormCall.failure(LayerNormException.INVALID_ARGUMENT, "x"));
    }

    @Test
    void zeroThreadsMeansTheAvailableProcessors() {
        int online = NativeCpu.ln4j_cpu_default_threads();
        try {
            LayerNorm.setDefaultCpuThreads(3);
            assertEquals(3, CpuBackend.defaultThreads());
            LayerNorm.setDefaultCpuThreads(0);
            int n = CpuBackend.defaultThreads();
            assertTrue(n >= 1, "default threads after 0: " + n);
            assertEquals(Math.min(256, Runtime.getRuntime().availableProcessors()) > 1, n > 1,
                    "0 gives every processor back: " + n);
            // a call that is large enough for the pool runs with the default of 0
            LayerNorm ln = LayerNorm.builder(1024).elementwiseAffine(false).build();
            float[] x = new float[256 * 1024];
            for (int i = 0; i < x.length; i++) x[i] = (i * 7919 % 1000) / 100f + 3f;
            try (Tensor t = Tensor.of(x, 256, 1024); LayerNorm.Forward f = ln.forward(t, null, null)) {
                assertTrue(Float.isFinite(f.output().toFloatArray()[0]));
            }
        } finally {
            LayerNorm.setDefaultCpuThreads(0);
        }
        assertTrue(online >= 1);
    }

    /** Entry point of the forked JVM below: one call, then the default thread count. */
    public static void main(String[] args) {
        LayerNorm ln = LayerNorm.builder(4).elementwiseAffine(false).build();
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4); LayerNorm.Forward f = ln.forward(t, null, null)) {
            System.out.println("ok " + CpuBackend.defaultThreads() + " " + f.output().toFloatArray()[0]);
        }
    }

    @Test
    void zeroThreadsPropertyIsAccepted() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Dlayernorm4j.cpu.threads=0", "-cp",
                System.getProperty("java.class.path"), NormCallTest.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.startsWith("ok "), out);
        int threads = Integer.parseInt(out.split(" ")[1]);
        assertTrue(threads >= 1, out);
    }
}

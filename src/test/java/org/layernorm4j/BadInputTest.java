package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.layernorm4j.internal.CpuBackend;

/**
 * Every bad input gets NullPointerException / IllegalArgumentException / IllegalStateException whose
 * message names the argument, the expected and the actual value, and the caller's buffers are left untouched
 * (outputs are filled with 42 before the call and compared byte for byte after it, inputs too).
 */
class BadInputTest {
    static final int R = 2, C = 8;
    final LayerNorm ln = LayerNorm.builder(C).build();
    Tensor x, dy, g, b, y, mean, rstd, dx, dg, db;
    Tensor[] all;
    byte[][] before;

    @BeforeEach
    void setUp() {
        x = Tensor.of(Data.offCentre(1, R, C), R, C);
        dy = Tensor.of(Data.offCentre(2, R, C), R, C);
        g = Tensor.of(Data.gamma(3, C), C);
        b = Tensor.of(Data.beta(4, C), C);
        y = Tensor.empty(DType.FLOAT32, Device.cpu(), R, C).fill(42);
        mean = Tensor.empty(DType.FLOAT32, Device.cpu(), R).fill(42);
        rstd = Tensor.empty(DType.FLOAT32, Device.cpu(), R).fill(42);
        dx = Tensor.empty(DType.FLOAT32, Device.cpu(), R, C).fill(42);
        dg = Tensor.empty(DType.FLOAT32, Device.cpu(), C).fill(42);
        db = Tensor.empty(DType.FLOAT32, Device.cpu(), C).fill(42);
        all = new Tensor[] {x, dy, g, b, y, mean, rstd, dx, dg, db};
        before = new byte[all.length][];
        for (int i = 0; i < all.length; i++) before[i] = Data.bytes(all[i]);
    }

    @AfterEach
    void tearDown() {
        for (int i = 0; i < all.length; i++) {
            if (!all[i].isClosed()) assertArrayEquals(before[i], Data.bytes(all[i]), "buffer " + i + " was touched");
            all[i].close();
        }
    }

    static <T extends Throwable> void expect(Class<T> type, Executable call, String... fragments) {
        T e = assertThrows(type, call);
        String m = e.getMessage();
        for (String f : fragments) {
            assertTrue(m != null && m.contains(f), "message '" + m + "' should contain '" + f + "'");
        }
    }

    Tensor f32(long... shape) {
        Tensor t = Tensor.empty(DType.FLOAT32, Device.cpu(), shape).fill(42);
        return t;
    }

    // ---- nulls ----------------------------------------------------------------------------------------------

    @Test
    void nullTensors() {
        expect(NullPointerException.class, () -> ln.forward(null, g, b, Data.fwd(y, mean, rstd)), "x must not be null");
        expect(NullPointerException.class, () -> ln.forward(x, null, b, Data.fwd(y, mean, rstd)), "gamma", "elementwiseAffine");
        expect(NullPointerException.class, () -> ln.forward(x, g, null, Data.fwd(y, mean, rstd)), "beta", "bias");
        expect(NullPointerException.class, () -> ln.forward(x, g, b, Data.fwd(null, mean, rstd)), "output (y) must not be null");
        expect(NullPointerException.class, () -> ln.forward(x, g, b, null), "out must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, Data.fwd(y, mean, rstd), x, g, null), "out must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, null, x, g, Data.grads(dx, dg, db)), "saved must not be null");
        expect(NullPointerException.class, () -> ln.backward(null, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, dg, db)), "dy must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, Data.fwd(y, null, rstd), x, g, Data.grads(dx, dg, db)), "saved.mean() must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, Data.fwd(y, mean, null), x, g, Data.grads(dx, dg, db)), "saved.rstd() must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(null, dg, db)), "dx must not be null");
        expect(NullPointerException.class, () -> ln.forward(null, g, b), "x must not be null");
        expect(NullPointerException.class, () -> ln.backward(dy, null, x, g), "saved must not be null");
        expect(NullPointerException.class, () -> Tensor.of((float[]) null, 2), "data");
    }

    // ---- shapes ---------------------------------------------------------------------------------------------

    @Test
    void xTrailingDimsDiffer() {
        try (Tensor bad = f32(R, C - 1); Tensor small = f32(C)) {
            expect(IllegalArgumentException.class, () -> ln.forward(bad, g, b, Data.fwd(y, mean, rstd)), "x", "[2, 7]", "[8]");
            LayerNorm two = LayerNorm.builder(2, C).build();
            expect(IllegalArgumentException.class, () -> two.forward(small, null, null), "x", "[8]", "[2, 8]");
        }
    }

    @Test
    void paramsWrongShapeOrPresentWhenOff() {
        try (Tensor g7 = f32(C - 1); Tensor b9 = f32(C + 1)) {
            expect(IllegalArgumentException.class, () -> ln.forward(x, g7, b, Data.fwd(y, mean, rstd)), "gamma", "[8]", "[7]");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b9, Data.fwd(y, mean, rstd)), "beta", "[8]", "[9]");
            expect(IllegalArgumentException.class, () -> ln.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, g7, db)), "dgamma", "[8]", "[7]");
        }
        LayerNorm off = LayerNorm.builder(C).elementwiseAffine(false).build();
        expect(IllegalArgumentException.class, () -> off.forward(x, g, null, Data.fwd(y, mean, rstd)), "gamma must be null",
                "elementwiseAffine is false");
        expect(IllegalArgumentException.class, () -> off.forward(x, null, b, Data.fwd(y, mean, rstd)), "beta must be null");
        expect(IllegalArgumentException.class, () -> off.backward(dy, Data.fwd(y, mean, rstd), x, null, Data.grads(dx, dg, null)),
                "dgamma must be null");
        LayerNorm noBias = LayerNorm.builder(C).bias(false).build();
        expect(IllegalArgumentException.class, () -> noBias.forward(x, g, b, Data.fwd(y, mean, rstd)), "beta must be null",
                "bias is false");
        expect(IllegalArgumentException.class, () -> noBias.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, dg, db)), "dbeta must be null");
    }

    @Test
    void outputsWrongShape() {
        try (Tensor y9 = f32(R, C + 1); Tensor m3 = f32(3); Tensor dx3 = f32(3, C); Tensor m0 = f32()) {
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y9, mean, rstd)), "y shape", "[2, 8]", "[2, 9]");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y, m3, rstd)), "mean shape", "[2]", "[3]");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y, mean, m0)), "rstd shape", "[2]", "[]");
            expect(IllegalArgumentException.class, () -> ln.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(dx3, dg, db)), "dx shape",
                    "[2, 8]", "[3, 8]");
            expect(IllegalArgumentException.class, () -> ln.backward(dx3, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, dg, db)), "dy shape");
        }
    }

    // ---- dtypes and devices ---------------------------------------------------------------------------------

    @Test
    void dtypeMismatches() {
        try (Tensor y64 = Tensor.empty(DType.FLOAT64, Device.cpu(), R, C).fill(42);
                Tensor g64 = Tensor.empty(DType.FLOAT64, Device.cpu(), C).fill(42);
                Tensor m64 = Tensor.empty(DType.FLOAT64, Device.cpu(), R).fill(42);
                Tensor gbf = Tensor.empty(DType.BFLOAT16, Device.cpu(), C).fill(1)) {
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y64, mean, rstd)), "y dtype", "FLOAT32", "FLOAT64");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g64, b, Data.fwd(y, mean, rstd)), "gamma dtype", "FLOAT32",
                    "FLOAT64");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, g64, Data.fwd(y, mean, rstd)), "beta dtype", "FLOAT64");
            expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y, m64, rstd)), "mean dtype", "FLOAT32",
                    "FLOAT64");
            expect(IllegalArgumentException.class, () -> ln.forward(x, gbf, b, Data.fwd(y, mean, rstd)), "gamma dtype", "BFLOAT16");
            expect(IllegalArgumentException.class, () -> ln.backward(dy, Data.fwd(y, mean, rstd), x, g, Data.grads(dx, dg, g64)), "dbeta dtype");
        }
    }

    @Test
    void tensorsOnDifferentDevices() {
        try (FloatPointer mem = new FloatPointer(C); Tensor gCuda = Tensor.wrap(mem, DType.FLOAT32, Device.cuda(0), C)) {
            expect(IllegalArgumentException.class, () -> ln.forward(x, gCuda, b, Data.fwd(y, mean, rstd)), "gamma", "cuda:0", "cpu");
        }
    }

    // ---- configuration --------------------------------------------------------------------------------------

    @Test
    void badEps() {
        for (double eps : new double[] {0, -1e-5, Double.NaN, Double.POSITIVE_INFINITY}) {
            expect(IllegalArgumentException.class, () -> LayerNorm.builder(C).eps(eps), "eps", "> 0", String.valueOf(eps));
        }
    }

    @Test
    void badNormalizedShape() {
        expect(IllegalArgumentException.class, () -> LayerNorm.builder(), "normalizedShape", "[]");
        expect(IllegalArgumentException.class, () -> LayerNorm.builder(4, 0), "normalizedShape", ">= 1", "[4, 0]");
        expect(IllegalArgumentException.class, () -> LayerNorm.builder(-3), "normalizedShape", "[-3]");
        expect(IllegalArgumentException.class, () -> LayerNorm.builder(1L << 32, 1L << 32), "normalizedShape", "overflow");
        expect(NullPointerException.class, () -> LayerNorm.builder((long[]) null), "normalizedShape");
        expect(IllegalArgumentException.class, () -> LayerNorm.builder(C).cpuThreads(-1), "cpuThreads", "-1");
    }

    @Test
    void elementCountsThatOverflow() {
        expect(IllegalArgumentException.class, () -> Tensor.empty(DType.FLOAT32, Device.cpu(), 1L << 40, 1L << 40),
                "overflow", "[1099511627776, 1099511627776]");
        expect(IllegalArgumentException.class, () -> Tensor.empty(DType.FLOAT64, Device.cpu(), 1L << 61), "byte count",
                "overflow");
        expect(IllegalArgumentException.class, () -> Tensor.of(new float[3], 2, 2), "3", "[2, 2]", "4");
        expect(IllegalArgumentException.class, () -> Tensor.empty(DType.FLOAT32, Device.cpu(), 2, -1), "negative");
    }

    // ---- lifetime -------------------------------------------------------------------------------------------

    @Test
    void closedTensors() {
        Tensor closedX = Tensor.of(Data.offCentre(1, R, C), R, C);
        closedX.close();
        expect(IllegalStateException.class, () -> ln.forward(closedX, g, b, Data.fwd(y, mean, rstd)), "x is closed", "[2, 8]");
        y.close();
        expect(IllegalStateException.class, () -> ln.forward(x, g, b, Data.fwd(y, mean, rstd)), "y is closed");
        expect(IllegalStateException.class, () -> y.toFloatArray(), "closed");
        expect(IllegalStateException.class, () -> y.to(Device.cpu()), "closed");
    }

    @Test
    void wrappedPointerNullOrTooSmall() {
        expect(NullPointerException.class, () -> Tensor.wrap(null, DType.FLOAT32, Device.cpu(), 4), "memory");
        expect(IllegalArgumentException.class, () -> Tensor.wrap(new Pointer(), DType.FLOAT32, Device.cpu(), 4),
                "null pointer");
        try (FloatPointer p = new FloatPointer(10)) {
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p, DType.FLOAT32, Device.cpu(), 11), "40 bytes",
                    "[11]", "44");
            expect(IllegalArgumentException.class, () -> Tensor.wrap(p.position(3), DType.FLOAT32, Device.cpu(), 8),
                    "28 bytes", "32");
        }
    }

    @Test
    void unknownIsaProperty() {
        Isa.run("sse9", () -> expect(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y, mean, rstd)),
                CpuBackend.ISA_PROPERTY, "sse9", "scalar, avx2, avx512"));
    }

    @Test
    void isaTheCpuLacks() {
        java.util.List<String> have = Isa.supported();
        org.junit.jupiter.api.Assumptions.assumeTrue(have.size() < 3,
                "this CPU runs every ISA path (" + have + "): no unsupported one to ask for");
        Isa.run("avx512", () -> expect(IllegalStateException.class, () -> ln.forward(x, g, b, Data.fwd(y, mean, rstd)),
                "avx512", "best available is " + have.get(have.size() - 1)));
    }

    @Test
    void cudaWhileUnavailable() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Device.cudaAvailable(), "CUDA is available here");
        String reason = Device.cudaUnavailableReason();
        assertTrue(!reason.isEmpty() && !reason.contains("\n"), "one-line reason, got '" + reason + "'");
        expect(IllegalStateException.class, () -> Tensor.empty(DType.FLOAT32, Device.cuda(0), 4), "cuda:0", reason);
        expect(IllegalStateException.class, () -> x.to(Device.cuda(1)), "cuda:1", reason);
        expect(IllegalArgumentException.class, () -> Device.cuda(-1), "-1");
    }
}

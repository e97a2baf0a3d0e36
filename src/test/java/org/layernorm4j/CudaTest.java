package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.layernorm4j.cli.Reference;

/**
 * The CUDA path through the Java API (runs only where a CUDA device is usable; elsewhere each test is reported as
 * skipped with the probe's reason, see {@link GpuTest}). Against the float64 reference with the rounding-derived
 * bounds of AccuracyTest, doubled because the GPU's reduction tree differs from the CPU's (same error class, other
 * order); outputs poisoned with NaN first; CPU-vs-GPU agreement; bitwise determinism; wrapped device pointers;
 * streams; device mix-ups.
 */
@GpuTest
class CudaTest {
    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> s = Stream.builder();
        int[] widths = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 768, 1000, 1023,
            1024, 1025, 4096, 4097, 65537, 1_000_000};
        int k = 0;
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16})
            for (int cols : widths) {
                int rows = (k++ % 3 == 0) ? 1 : cols >= 65537 ? 3 : cols >= 4096 ? 37 : 1001;
                s.add(Arguments.of(dt, rows, cols));
            }
        return s.build();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @MethodSource("cases")
    void forwardAndBackwardMatchReferenceAndCpu(DType dt, int rows, int cols) {
        Device gpu = Device.cuda(0);
        DType pdt = Data.paramDType(dt);
        LayerNorm ln = LayerNorm.builder(cols).build();
        long seed = rows * 7919L + cols;
        try (Tensor x = Tensor.of(Data.offCentre(seed, rows, cols), dt, rows, cols);
                Tensor dy = Tensor.of(Data.offCentre(seed + 1, rows, cols), dt, rows, cols);
                Tensor g = Tensor.of(Data.gamma(seed + 2, cols), pdt, cols); Tensor b = Tensor.of(Data.beta(seed + 3, cols), pdt, cols);
                Tensor xg = x.to(gpu); Tensor dyg = dy.to(gpu); Tensor gg = g.to(gpu); Tensor bg = b.to(gpu);
                Tensor y = Data.poisoned(dt, rows, cols).to(gpu); Tensor mean = Data.poisoned(DType.FLOAT32, rows).to(gpu);
                Tensor rstd = Data.poisoned(DType.FLOAT32, rows).to(gpu); Tensor dx = Data.poisoned(dt, rows, cols).to(gpu);
                Tensor dg = Data.poisoned(pdt, cols).to(gpu); Tensor db = Data.poisoned(pdt, cols).to(gpu)) {
            Reference ref = new Reference(x.toDoubleArray(), g.toDoubleArray(), b.toDoubleArray(), rows, cols, ln.eps(),
                    Data.uAcc(dt), dt.unitRoundoff(), DType.FLOAT32.unitRoundoff());
            LayerNorm.Forward f = Data.fwd(y, mean, rstd);
            ln.forward(xg, gg, bg, f);
            within("y", y.toDoubleArray(), ref.y, ref.boundY);
            within("mean", mean.toDoubleArray(), ref.mean, ref.boundMean);
            within("rstd", rstd.toDoubleArray(), ref.rstd, ref.boundRstd);
            ln.backward(dyg, f, xg, gg, Data.grads(dx, dg, db));
            Reference.Backward bw = ref.new Backward(dy.toDoubleArray(), dt.unitRoundoff(), pdt.unitRoundoff());
            within("dx", dx.toDoubleArray(), bw.dx, bw.boundDx);
            within("dgamma", dg.toDoubleArray(), bw.dgamma, bw.boundDgamma);
            within("dbeta", db.toDoubleArray(), bw.dbeta, bw.boundDbeta);
            // bitwise determinism: the same call again gives the same bits
            byte[] first = Data.bytes(dg.to(Device.cpu()));
            ln.backward(dyg, f, xg, gg, Data.grads(dx, dg, db));
            assertArrayEquals(first, Data.bytes(dg.to(Device.cpu())), "dgamma bits differ between two runs");
        }
    }

    private static void within(String what, double[] got, double[] ref, double[] bound) {
        double[] b2 = bound.clone();
        for (int i = 0; i < b2.length; i++) b2[i] *= 2;
        AccuracyTest.within("cuda " + what, got, ref, b2);
    }

    @Test
    void streamsWrappedPointersAndRoundTrips() {
        Device gpu = Device.cuda(0);
        int rows = 64, cols = 768;
        LayerNorm ln = LayerNorm.builder(cols).build();
        float[] xs = Data.offCentre(5, rows, cols);
        try (Tensor x = Tensor.of(xs, rows, cols); Tensor g = Tensor.of(Data.gamma(6, cols), cols);
                Tensor b = Tensor.of(Data.beta(7, cols), cols); Tensor xg = x.to(gpu); Tensor gg = g.to(gpu);
                Tensor bg = b.to(gpu); LayerNorm.Forward cpu = ln.forward(x, g, b);
                CudaStream stream = CudaStream.create(gpu)) {
            assertArrayEquals(xs, xg.toFloatArray(), "host -> device -> host round trip");
            try (Tensor y = Tensor.empty(DType.FLOAT32, gpu, rows, cols);
                    Tensor mean = Tensor.empty(DType.FLOAT32, gpu, rows); Tensor rstd = Tensor.empty(DType.FLOAT32, gpu, rows)) {
                try (CudaStream.Scope on = stream.use()) {
                    ln.forward(xg, gg, bg, Data.fwd(y, mean, rstd));
                }
                stream.synchronize();
                double[] yc = cpu.output().toDoubleArray(), yg = y.toDoubleArray();
                for (int i = 0; i < yc.length; i++) {
                    assertTrue(Math.abs(yc[i] - yg[i]) <= 1e-5 * (Math.abs(yc[i]) + 1), "y[" + i + "] cpu " + yc[i] + " cuda " + yg[i]);
                }
                // a wrapped device pointer: no copy, not owned
                Pointer raw = new Pointer((Pointer) null) {
                    {
                        address = y.rawAddress();
                        limit = capacity = (long) rows * cols * 4;
                    }
                };
                try (Tensor view = Tensor.wrap(raw, DType.FLOAT32, gpu, rows, cols)) {
                    assertArrayEquals(y.toFloatArray(), view.toFloatArray(), "wrapped view reads the same memory");
                }
            }
            // device mix-ups
            assertThrows(IllegalArgumentException.class, () -> ln.forward(xg, g, b));
            assertThrows(IllegalArgumentException.class, () -> ln.forward(x, gg, bg));
        }
    }
}

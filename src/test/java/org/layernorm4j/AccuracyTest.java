package org.layernorm4j;

import org.layernorm4j.cli.Reference;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Forward and backward against the float64 reference ({@link Reference}) with rounding-derived bounds, outputs poisoned
 * with NaN before each call, for every ISA path this CPU runs (forced with layernorm4j.cpu.isa), every dtype, the
 * issue's cols list, and rows 1 and 7 (7 is not a multiple of 2, 3 or 8 threads).
 */
class AccuracyTest {
    static final int[] COLS = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 768,
        1000, 1023, 1024, 1025, 4096, 4097, 65537};

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String isa : Isa.supported())
            for (DType dt : DType.values())
                for (int cols : COLS)
                    for (int rows : new int[] {1, 7}) out.add(Arguments.of(isa, dt, rows, cols));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}x{3}")
    @MethodSource("cases")
    void forwardAndBackwardMatchReference(String isa, DType dt, int rows, int cols) {
        Isa.run(isa, () -> runCase(dt, rows, cols, true, true, 0));
    }

    static Stream<Arguments> configs() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : DType.values()) {
            out.add(Arguments.of(dt, false, false));
            out.add(Arguments.of(dt, true, false));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} affine={1} bias={2}")
    @MethodSource("configs")
    void affineAndBiasOff(DType dt, boolean affine, boolean bias) {
        runCase(dt, 5, 257, affine, bias, 0);
    }

    /** Shape [2,3,2,4] normalized over [2,4]: 6 rows of 8, mean shape [2,3]. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dtypes")
    void multiDimShape(DType dt) {
        LayerNorm ln = LayerNorm.builder(2, 4).build();
        float[] xs = Data.offCentre(11, 6, 8);
        try (Tensor x = Tensor.of(xs, dt, 2, 3, 2, 4);
                Tensor g = Tensor.of(Data.gamma(1, 8), Data.paramDType(dt), 2, 4);
                Tensor b = Tensor.of(Data.beta(2, 8), Data.paramDType(dt), 2, 4);
                LayerNorm.Forward f = ln.forward(x, g, b)) {
            assertTrue(java.util.Arrays.equals(new long[] {2, 3}, f.mean().shape()), "mean shape");
            Reference ref = new Reference(x.toDoubleArray(), g.toDoubleArray(), b.toDoubleArray(), 6, 8, 1e-5, Data.uAcc(dt),
                    dt.unitRoundoff(), dt.statsDType().unitRoundoff());
            within("y", f.output().toDoubleArray(), ref.y, ref.boundY);
        }
    }

    static Stream<DType> dtypes() {
        return Stream.of(DType.values());
    }

    static void runCase(DType dt, int rows, int cols, boolean affine, boolean bias, int threads) {
        DType pdt = Data.paramDType(dt);
        LayerNorm ln = LayerNorm.builder(cols).elementwiseAffine(affine).bias(bias).cpuThreads(threads).build();
        long seed = rows * 1_000_003L + cols;
        try (Tensor x = Tensor.of(Data.offCentre(seed, rows, cols), dt, rows, cols);
                Tensor dy = Tensor.of(Data.offCentre(seed + 1, rows, cols), dt, rows, cols);
                Tensor g = affine ? Tensor.of(Data.gamma(seed + 2, cols), pdt, cols) : null;
                Tensor b = affine && bias ? Tensor.of(Data.beta(seed + 3, cols), pdt, cols) : null;
                Tensor y = Data.poisoned(dt, rows, cols);
                Tensor mean = Data.poisoned(dt.statsDType(), rows);
                Tensor rstd = Data.poisoned(dt.statsDType(), rows);
                Tensor dx = Data.poisoned(dt, rows, cols);
                Tensor dg = affine ? Data.poisoned(pdt, cols) : null;
                Tensor db = affine && bias ? Data.poisoned(pdt, cols) : null) {
            Reference ref = new Reference(x.toDoubleArray(), g == null ? null : g.toDoubleArray(),
                    b == null ? null : b.toDoubleArray(), rows, cols, ln.eps(), Data.uAcc(dt), dt.unitRoundoff(),
                    dt.statsDType().unitRoundoff());
            LayerNorm.Forward f = Data.fwd(y, mean, rstd);
            ln.forward(x, g, b, f);
            within("y", y.toDoubleArray(), ref.y, ref.boundY);
            within("mean", mean.toDoubleArray(), ref.mean, ref.boundMean);
            within("rstd", rstd.toDoubleArray(), ref.rstd, ref.boundRstd);
            ln.backward(dy, f, x, g, Data.grads(dx, dg, db));
            Reference.Backward bw = ref.new Backward(dy.toDoubleArray(), dt.unitRoundoff(), pdt.unitRoundoff());
            within("dx", dx.toDoubleArray(), bw.dx, bw.boundDx);
            if (dg != null) within("dgamma", dg.toDoubleArray(), bw.dgamma, bw.boundDgamma);
            if (db != null) within("dbeta", db.toDoubleArray(), bw.dbeta, bw.boundDbeta);
        }
    }

    static void within(String what, double[] got, double[] ref, double[] bound) {
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(got[i] - ref[i]);
            if (!(e <= bound[i])) {
                fail(what + "[" + i + "] = " + got[i] + ", reference " + ref[i] + ", |error| " + e + " > bound "
                        + bound[i] + " (of " + ref.length + " elements)");
            }
        }
    }
}

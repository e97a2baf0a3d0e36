package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.layernorm4j.internal.NativeCpu;

/**
 * Streaming (non-temporal) output stores, forced on and forced off through the native threshold, give the same
 * bits for y, mean, rstd, dx, dgamma and dbeta, on every ISA path this CPU runs, at 1 and 3 threads. Tensors are
 * allocated aligned and rows of 1000 columns keep every row on the vector store alignment, so the streamed path
 * runs (rows that are not aligned take ordinary stores: native/tests cover both).
 */
class StreamingStoresTest {
    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void forcedOnAndOffGiveTheSameBits(DType dt) {
        long saved = NativeCpu.ln4j_cpu_stream_threshold();
        assertTrue(saved > 0, "default threshold is derived from the LLC: " + saved);
        DType pdt = Data.paramDType(dt);
        int rows = DeterminismTest.ROWS, cols = DeterminismTest.COLS;
        try (Tensor x = Tensor.of(Data.offCentre(5, rows, cols), dt, rows, cols);
                Tensor dy = Tensor.of(Data.offCentre(6, rows, cols), dt, rows, cols);
                Tensor g = Tensor.of(Data.gamma(7, cols), pdt, cols); Tensor b = Tensor.of(Data.beta(8, cols), pdt, cols)) {
            for (String isa : Isa.supported()) {
                for (int threads : new int[] {1, 3}) {
                    byte[][] off = Isa.with(isa, () -> {
                        assertEquals(0, NativeCpu.ln4j_cpu_set_stream_threshold(Long.MAX_VALUE));
                        return DeterminismTest.run(dt, threads, x, dy, g, b);
                    });
                    byte[][] on = Isa.with(isa, () -> {
                        assertEquals(0, NativeCpu.ln4j_cpu_set_stream_threshold(0));
                        return DeterminismTest.run(dt, threads, x, dy, g, b);
                    });
                    DeterminismTest.same(off, on, dt + " isa " + isa + " threads " + threads + ": streamed vs ordinary");
                }
            }
        } finally {
            NativeCpu.ln4j_cpu_set_stream_threshold(-1);
        }
        assertEquals(saved, NativeCpu.ln4j_cpu_stream_threshold(), "default restored");
    }
}

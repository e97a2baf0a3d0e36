package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Same inputs, same bits: across repeated calls, thread counts 1, 2, 3, 8, and 8 Java threads at once. */
class DeterminismTest {
    static final int ROWS = 37, COLS = 1000; // 37 rows: not a multiple of 2, 3 or 8

    /** y, mean, rstd, dx, dgamma, dbeta as raw bytes. */
    static byte[][] run(DType dt, int threads, Tensor x, Tensor dy, Tensor g, Tensor b) {
        LayerNorm ln = LayerNorm.builder(COLS).cpuThreads(threads).build();
        try (LayerNorm.Forward f = ln.forward(x, g, b); LayerNorm.Gradients gr = ln.backward(dy, f, x, g)) {
            return new byte[][] {Data.bytes(f.output()), Data.bytes(f.mean()), Data.bytes(f.rstd()),
                Data.bytes(gr.dx()), Data.bytes(gr.dgamma()), Data.bytes(gr.dbeta())};
        }
    }

    static void same(byte[][] want, byte[][] got, String what) {
        String[] names = {"y", "mean", "rstd", "dx", "dgamma", "dbeta"};
        for (int i = 0; i < want.length; i++) assertArrayEquals(want[i], got[i], names[i] + " differs: " + what);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void repeatedCallsAndThreadCounts(DType dt) {
        {
            DType pdt = Data.paramDType(dt);
            try (Tensor x = Tensor.of(Data.offCentre(1, ROWS, COLS), dt, ROWS, COLS);
                    Tensor dy = Tensor.of(Data.offCentre(2, ROWS, COLS), dt, ROWS, COLS);
                    Tensor g = Tensor.of(Data.gamma(3, COLS), pdt, COLS); Tensor b = Tensor.of(Data.beta(4, COLS), pdt, COLS)) {
                byte[][] want = run(dt, 1, x, dy, g, b);
                for (int rep = 0; rep < 3; rep++) same(want, run(dt, 1, x, dy, g, b), dt + " repeat " + rep);
                for (int t : new int[] {2, 3, 8, 0}) same(want, run(dt, t, x, dy, g, b), dt + " threads " + t);
            }
        }
    }

    @Test
    void eightJavaThreadsAtOnce() throws Exception {
        DType dt = DType.FLOAT32;
        try (Tensor x = Tensor.of(Data.offCentre(1, ROWS, COLS), ROWS, COLS);
                Tensor dy = Tensor.of(Data.offCentre(2, ROWS, COLS), ROWS, COLS);
                Tensor g = Tensor.of(Data.gamma(3, COLS), COLS); Tensor b = Tensor.of(Data.beta(4, COLS), COLS)) {
            byte[][] want = run(dt, 1, x, dy, g, b);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<byte[][]>> fs = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    final int threads = i % 4;
                    fs.add(pool.submit(() -> {
                        byte[][] last = null;
                        for (int k = 0; k < 20; k++) last = run(dt, threads, x, dy, g, b);
                        return last;
                    }));
                }
                for (int i = 0; i < fs.size(); i++) same(want, fs.get(i).get(), "java thread " + i);
            } finally {
                pool.shutdownNow();
            }
        }
    }
}

package org.layernorm4j;

import org.layernorm4j.cli.Reference;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** CPU and CUDA forward agree (within the rounding bound of the float64 reference) on the same data. */
@GpuTest
class CudaAgreementTest {
    @Test
    void forwardAgreesWithCpu() {
        int rows = 33, cols = 1000;
        LayerNorm ln = LayerNorm.builder(cols).build();
        Device gpu = Device.cuda(0);
        try (Tensor x = Tensor.of(Data.offCentre(1, rows, cols), rows, cols); Tensor g = Tensor.of(Data.gamma(2, cols), cols);
                Tensor b = Tensor.of(Data.beta(3, cols), cols); Tensor xg = x.to(gpu); Tensor gg = g.to(gpu);
                Tensor bg = b.to(gpu); LayerNorm.Forward cpu = ln.forward(x, g, b);
                LayerNorm.Forward cuda = ln.forward(xg, gg, bg)) {
            Reference ref = new Reference(x.toDoubleArray(), g.toDoubleArray(), b.toDoubleArray(), rows, cols, ln.eps(), 0x1p-24,
                    0x1p-24, 0x1p-24);
            double[] yc = cpu.output().toDoubleArray(), yg = cuda.output().toDoubleArray();
            for (int i = 0; i < yc.length; i++) {
                double bound = 2 * ref.boundY[i];
                assertTrue(Math.abs(yc[i] - yg[i]) <= bound, "y[" + i + "]: cpu " + yc[i] + ", cuda " + yg[i]);
            }
            AccuracyTest.within("cuda mean", cuda.mean().toDoubleArray(), ref.mean, ref.boundMean);
            AccuracyTest.within("cuda rstd", cuda.rstd().toDoubleArray(), ref.rstd, ref.boundRstd);
        }
    }
}

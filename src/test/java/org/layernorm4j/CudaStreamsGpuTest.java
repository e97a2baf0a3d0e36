package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.layernorm4j.internal.CudaBackend;

/**
 * Streams, workspaces and devices on a real GPU (skipped elsewhere with the probe's reason): copies ordered on a
 * non-blocking stream, a stream closed while another thread uses it, workspaces freed with their stream, canonical
 * devices.
 */
@GpuTest
class CudaStreamsGpuTest {
    private static final int ROWS = 257, COLS = 4097;

    @Test
    void copiesAreOrderedOnANonBlockingStream() {
        Device gpu = Device.cuda(0);
        LayerNorm ln = LayerNorm.builder(COLS).build();
        CUstream_st raw = new CUstream_st((Pointer) null);
        assertEquals(0, cudart.cudaStreamCreateWithFlags(raw, cudart.cudaStreamNonBlocking));
        float[] xs = Data.offCentre(11, ROWS, COLS);
        try (CudaStream s = CudaStream.wrap(raw, gpu); Tensor x = Tensor.of(xs, ROWS, COLS);
                Tensor g = Tensor.of(Data.gamma(12, COLS), COLS); Tensor b = Tensor.of(Data.beta(13, COLS), COLS);
                LayerNorm.Forward cpu = ln.forward(x, g, b)) {
            for (int rep = 0; rep < 5; rep++) {
                try (CudaStream.Scope on = s.use(); Tensor xg = x.to(gpu); Tensor gg = g.to(gpu); Tensor bg = b.to(gpu);
                        Tensor y = Tensor.empty(DType.FLOAT32, gpu, ROWS, COLS);
                        Tensor mean = Tensor.empty(DType.FLOAT32, gpu, ROWS);
                        Tensor rstd = Tensor.empty(DType.FLOAT32, gpu, ROWS)) {
                    ln.forward(xg, gg, bg, Data.fwd(y, mean, rstd));
                    double[] yc = cpu.output().toDoubleArray(), yg = y.toDoubleArray();  // no explicit synchronize
                    for (int i = 0; i < yc.length; i++)
                        assertTrue(Math.abs(yc[i] - yg[i]) <= 1e-4 * (Math.abs(yc[i]) + 1), "y[" + i + "]: " + yg[i]);
                }
            }
        } finally {
            cudart.cudaStreamDestroy(raw);
        }
    }

    @Test
    void closingAStreamInUseDefersItsDestructionAndFreesItsWorkspace() throws Exception {
        Device gpu = Device.cuda(0);
        CudaBackend be = (CudaBackend) gpu.backend();
        LayerNorm ln = LayerNorm.builder(COLS).build();
        CudaStream s = CudaStream.create(gpu);
        long before = be.workspaceBytes();
        CountDownLatch inScope = new CountDownLatch(1), closed = new CountDownLatch(1);
        AtomicReference<Throwable> err = new AtomicReference<>();
        float[] xs = Data.offCentre(21, ROWS, COLS);
        Thread worker = new Thread(() -> {
            try (CudaStream.Scope on = s.use(); Tensor x = Tensor.of(xs, ROWS, COLS).to(gpu);
                    Tensor g = Tensor.of(Data.gamma(22, COLS), COLS).to(gpu);
                    Tensor bt = Tensor.of(Data.beta(24, COLS), COLS).to(gpu);
                    Tensor dy = Tensor.of(Data.offCentre(23, ROWS, COLS), ROWS, COLS).to(gpu)) {
                inScope.countDown();
                closed.await(10, TimeUnit.SECONDS);
                for (int i = 0; i < 3; i++) {  // launches after the owner closed the stream still run on it
                    try (LayerNorm.Forward f = ln.forward(x, g, bt);
                            LayerNorm.Gradients gr = ln.backward(dy, f, x, g)) {
                        assertEquals(ROWS * COLS, gr.dx().toFloatArray().length);
                    }
                }
            } catch (Throwable t) {
                err.set(t);
            }
        });
        worker.start();
        assertTrue(inScope.await(10, TimeUnit.SECONDS));
        s.close();  // returns at once; destruction waits for the worker's scope
        assertTrue(s.isClosed());
        assertThrows(IllegalStateException.class, s::use);
        closed.countDown();
        worker.join(30_000);
        if (err.get() != null) throw new AssertionError(err.get());
        assertEquals(before, be.workspaceBytes(), "the stream's workspace is freed with it");
        s.close();
    }

    @Test
    void devicesAreCanonical() {
        assertSame(Device.cuda(0), Device.cuda(0));
        assertSame(Device.cuda(0), Device.best());
    }
}

package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.layernorm4j.internal.Memory;

/**
 * The shape of the public API (a few compute calls per norm, few tensors per call, statistics never by position),
 * results that close everything, empty batches, eps that vanishes in the compute type, and preallocated outputs
 * that give the same bits as the allocating calls.
 */
class ApiTest {
    static final Class<?>[] PUBLIC_TYPES = {LayerNorm.class, RMSNorm.class, LayerNorm.Forward.class,
        LayerNorm.Gradients.class, RMSNorm.Forward.class, RMSNorm.Gradients.class, LayerNorm.Builder.class,
        RMSNorm.Builder.class, LayerNorm.Forward.Builder.class, LayerNorm.Gradients.Builder.class,
        RMSNorm.Forward.Builder.class, RMSNorm.Gradients.Builder.class, Tensor.class, Device.class, CudaStream.class,
        DType.class, LayerNormException.class};

    static List<Method> computeMethods(Class<?> c) {
        List<Method> out = new ArrayList<>();
        for (Method m : c.getDeclaredMethods()) {
            if (Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers())
                    && (m.getName().startsWith("forward") || m.getName().startsWith("backward"))) {
                out.add(m);
            }
        }
        return out;
    }

    @Test
    void eachNormHasAtMostEightComputeMethods() {
        for (Class<?> c : new Class<?>[] {LayerNorm.class, RMSNorm.class}) {
            List<Method> ms = computeMethods(c);
            assertTrue(ms.size() <= 8, c.getSimpleName() + " has " + ms.size() + " compute methods: " + ms);
            List<String> names = new ArrayList<>();
            for (Method m : ms) names.add(m.getName());
            for (String n : new String[] {"forward", "forwardWithResidual", "backward", "backwardWithResidual",
                "backwardFromOutput"}) {
                assertTrue(names.contains(n), c.getSimpleName() + " lacks " + n);
            }
        }
    }

    @Test
    void noPublicMethodTakesMoreThanFiveTensors() {
        for (Class<?> c : PUBLIC_TYPES) {
            for (Method m : c.getDeclaredMethods()) {
                if (!Modifier.isPublic(m.getModifiers())) continue;
                long n = Arrays.stream(m.getParameterTypes()).filter(t -> t == Tensor.class).count();
                assertTrue(n <= 5, m + " takes " + n + " tensors");
            }
        }
    }

    @Test
    void rmsNormReturnsItsOwnTypes() {
        for (Method m : computeMethods(RMSNorm.class)) {
            for (Class<?> p : m.getParameterTypes()) {
                assertFalse(p.getName().startsWith(LayerNorm.class.getName()), m + " takes a LayerNorm type");
            }
            assertFalse(m.getReturnType().getName().startsWith(LayerNorm.class.getName()), m + " returns a LayerNorm type");
        }
    }

    /** The compute calls, pinned: statistics come only from a saved forward, outputs only from an outputs object. */
    @Test
    void computeSignaturesArePinned() {
        assertEquals(new TreeSet<>(List.of(
                "Forward forward(Tensor, Tensor, Tensor)",
                "void forward(Tensor, Tensor, Tensor, Forward)",
                "void forwardWithResidual(Tensor, Tensor, Tensor, Tensor, Forward)",
                "Gradients backward(Tensor, Forward, Tensor, Tensor)",
                "void backward(Tensor, Forward, Tensor, Tensor, Gradients)",
                "void backwardWithResidual(Tensor, Tensor, Forward, Tensor, Gradients)",
                "void backwardFromOutput(Tensor, Forward, Tensor, Tensor, Gradients)")), signatures(LayerNorm.class));
        assertEquals(new TreeSet<>(List.of(
                "Forward forward(Tensor, Tensor)",
                "void forward(Tensor, Tensor, Forward)",
                "void forwardWithResidual(Tensor, Tensor, Tensor, Forward)",
                "Gradients backward(Tensor, Forward, Tensor, Tensor)",
                "void backward(Tensor, Forward, Tensor, Tensor, Gradients)",
                "void backwardWithResidual(Tensor, Tensor, Forward, Tensor, Gradients)",
                "void backwardFromOutput(Tensor, Forward, Tensor, Gradients)")), signatures(RMSNorm.class));
        // each face's Forward/Gradients are its own nested types
        for (Class<?> c : new Class<?>[] {LayerNorm.class, RMSNorm.class}) {
            for (Method m : computeMethods(c)) {
                for (Class<?> t : m.getParameterTypes()) {
                    assertTrue(t == Tensor.class || t.getEnclosingClass() == c, m + " takes " + t);
                }
            }
        }
    }

    static Set<String> signatures(Class<?> c) {
        Set<String> out = new TreeSet<>();
        for (Method m : computeMethods(c)) {
            StringBuilder sb = new StringBuilder(m.getReturnType().getSimpleName()).append(' ').append(m.getName()).append('(');
            Class<?>[] ps = m.getParameterTypes();
            for (int i = 0; i < ps.length; i++) sb.append(i > 0 ? ", " : "").append(ps[i].getSimpleName());
            out.add(sb.append(')').toString());
        }
        return out;
    }

    // ---- close ------------------------------------------------------------------------------------------------

    @Test
    void closeAllClosesEveryResourceWhenOneThrows() {
        AtomicInteger closed = new AtomicInteger();
        AutoCloseable ok = closed::incrementAndGet;
        AutoCloseable bad1 = () -> {
            closed.incrementAndGet();
            throw new IllegalStateException("first");
        };
        AutoCloseable bad2 = () -> {
            closed.incrementAndGet();
            throw new IllegalArgumentException("second");
        };
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NormCore.closeAll(ok, bad1, null, ok, bad2, ok));
        assertEquals(5, closed.get(), "every non-null resource was closed");
        assertEquals("first", e.getMessage());
        assertEquals(1, e.getSuppressed().length);
        assertEquals("second", e.getSuppressed()[0].getMessage());
        Error err = assertThrows(Error.class, () -> NormCore.closeAll(() -> {
            throw new AssertionError("boom");
        }, ok));
        assertEquals("boom", err.getMessage());
        assertEquals(6, closed.get());
    }

    @Test
    void resultsCloseEveryTensor() {
        LayerNorm ln = LayerNorm.builder(8).build();
        RMSNorm rms = RMSNorm.builder(8).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 2, 8), 2, 8); Tensor r = Tensor.of(Data.offCentre(2, 2, 8), 2, 8);
                Tensor g = Tensor.of(Data.gamma(3, 8), 8); Tensor b = Tensor.of(Data.beta(4, 8), 8)) {
            LayerNorm.Forward f = ln.newForwardWithResidualOutputs(x);
            ln.forwardWithResidual(x, r, g, b, f);
            LayerNorm.Gradients gr = ln.backward(x, f, f.residualOut(), g);
            Tensor[] all = {f.output(), f.mean(), f.rstd(), f.residualOut(), gr.dx(), gr.dgamma(), gr.dbeta()};
            // a tensor closed by hand first: close() still closes the rest
            f.mean().close();
            f.close();
            gr.close();
            for (Tensor t : all) assertTrue(t.isClosed(), t + " left open");
            RMSNorm.Forward rf = rms.forward(x, g);
            RMSNorm.Gradients rg = rms.backward(x, rf, x, g);
            Tensor[] rall = {rf.output(), rf.rstd(), rg.dx(), rg.dgamma()};
            rf.close();
            rg.close();
            for (Tensor t : rall) assertTrue(t.isClosed(), t + " left open");
        }
    }

    @Test
    void failedAllocatingCallsFreeWhatTheyAllocated() {
        LayerNorm ln = LayerNorm.builder(8).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 2, 8), 2, 8); Tensor g = Tensor.of(Data.gamma(3, 8), 8);
                Tensor g7 = Tensor.of(new float[7], 7); Tensor b = Tensor.of(Data.beta(4, 8), 8);
                LayerNorm.Forward f = ln.forward(x, g, b)) {
            long live = Memory.liveHostBytes();
            assertThrows(IllegalArgumentException.class, () -> ln.forward(x, g, g7));
            assertThrows(NullPointerException.class, () -> ln.backward(null, f, x, g));
            assertEquals(live, Memory.liveHostBytes(), "bytes left allocated by refused calls");
        }
    }

    // ---- preallocated outputs ----------------------------------------------------------------------------------

    @Test
    void preallocatedOutputsGiveTheAllocatingCallsBits() {
        int rows = 9, cols = 100;
        LayerNorm ln = LayerNorm.builder(cols).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, rows, cols), rows, cols);
                Tensor dy = Tensor.of(Data.offCentre(2, rows, cols), rows, cols);
                Tensor g = Tensor.of(Data.gamma(3, cols), cols); Tensor b = Tensor.of(Data.beta(4, cols), cols);
                LayerNorm.Forward f = ln.forward(x, g, b); LayerNorm.Gradients gr = ln.backward(dy, f, x, g);
                LayerNorm.Forward out = ln.newForwardOutputs(x); LayerNorm.Gradients gout = ln.newBackwardOutputs(x, g)) {
            for (int round = 0; round < 2; round++) {  // reused: the second round overwrites the first
                ln.forward(x, g, b, out);
                ln.backward(dy, out, x, g, gout);
                assertArrayEquals(Data.bytes(f.output()), Data.bytes(out.output()));
                assertArrayEquals(Data.bytes(f.mean()), Data.bytes(out.mean()));
                assertArrayEquals(Data.bytes(f.rstd()), Data.bytes(out.rstd()));
                assertArrayEquals(Data.bytes(gr.dx()), Data.bytes(gout.dx()));
                assertArrayEquals(Data.bytes(gr.dgamma()), Data.bytes(gout.dgamma()));
                assertArrayEquals(Data.bytes(gr.dbeta()), Data.bytes(gout.dbeta()));
            }
            assertArrayEquals(new long[] {rows, cols}, out.output().shape());
            assertArrayEquals(new long[] {rows}, out.rstd().shape());
            assertSame(null, out.residualOut());
        }
    }

    @Test
    void inferenceOutputsWriteOnlyY() {
        LayerNorm ln = LayerNorm.builder(8).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 2, 8), 2, 8); Tensor g = Tensor.of(Data.gamma(3, 8), 8);
                Tensor b = Tensor.of(Data.beta(4, 8), 8); Tensor y = Data.poisoned(DType.FLOAT32, 2, 8);
                LayerNorm.Forward f = ln.forward(x, g, b)) {
            LayerNorm.Forward yOnly = LayerNorm.Forward.builder().output(y).build();
            ln.forward(x, g, b, yOnly);
            assertArrayEquals(Data.bytes(f.output()), Data.bytes(y));
            // the backward needs the statistics the inference forward did not keep
            NullPointerException e = assertThrows(NullPointerException.class, () -> ln.backward(x, yOnly, x, g));
            assertTrue(e.getMessage().contains("saved.mean()"), e.getMessage());
        }
    }

    // ---- misuse ----------------------------------------------------------------------------------------------------

    static void names(Class<? extends RuntimeException> type, String needle, Runnable call) {
        RuntimeException e = assertThrows(type, call::run);
        assertTrue(e.getMessage().contains(needle), "message should name " + needle + ": " + e.getMessage());
    }

    @Test
    void misuseOfSavedAndOutputsNamesTheArgument() {
        LayerNorm ln = LayerNorm.builder(8).build();
        RMSNorm rms = RMSNorm.builder(8).build();
        try (Tensor x = Tensor.of(Data.offCentre(1, 2, 8), 2, 8); Tensor x3 = Tensor.of(Data.offCentre(2, 3, 8), 3, 8);
                Tensor g = Tensor.of(Data.gamma(3, 8), 8); Tensor b = Tensor.of(Data.beta(4, 8), 8);
                LayerNorm.Forward f3 = ln.forward(x3, g, b); RMSNorm.Forward r3 = rms.forward(x3, g);
                LayerNorm.Gradients out = ln.newBackwardOutputs(x, g); RMSNorm.Gradients rout = rms.newBackwardOutputs(x, g);
                LayerNorm.Forward f = ln.newForwardOutputs(x)) {
            long live = Memory.liveHostBytes();
            // the statistics of another batch
            names(IllegalArgumentException.class, "saved.mean() shape", () -> ln.backward(x, f3, x, g, out));
            names(IllegalArgumentException.class, "saved.rstd() shape", () -> rms.backward(x, r3, x, g, rout));
            names(IllegalArgumentException.class, "dy shape must be [3, 8] (the shape of saved.output())",
                    () -> ln.backwardFromOutput(x, f3, g, b, out));
            // outputs of another batch
            names(IllegalArgumentException.class, "y shape", () -> ln.forward(x3, g, b, f));
            names(IllegalArgumentException.class, "dx shape", () -> ln.backward(x3, f3, x3, g, out));
            // outputs made without what a call needs
            names(NullPointerException.class, "output (y)", () -> RMSNorm.Forward.builder().rstd(x).build());
            names(NullPointerException.class, "dx", () -> LayerNorm.Gradients.builder().dgamma(g).build());
            names(NullPointerException.class, "dx", () -> RMSNorm.Gradients.builder().build());
            names(NullPointerException.class, "gamma", () -> ln.newBackwardOutputs(x, null));
            names(IllegalArgumentException.class, "gamma must be null",
                    () -> LayerNorm.builder(8).elementwiseAffine(false).build().newBackwardOutputs(x, g));
            names(NullPointerException.class, "saved", () -> rms.backwardFromOutput(x, null, g, rout));
            names(NullPointerException.class, "out", () -> rms.forwardWithResidual(x, x, g, null));
            assertEquals(live, Memory.liveHostBytes(), "refused calls allocated");
        }
    }

    // ---- empty batch --------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void emptyBatchBackwardGivesZeroParameterGradients(DType dt) {
        DType pd = Data.paramDType(dt);
        LayerNorm ln = LayerNorm.builder(8).build();
        RMSNorm rms = RMSNorm.builder(8).build();
        try (Tensor x = Tensor.empty(dt, Device.cpu(), 0, 8); Tensor dy = Tensor.empty(dt, Device.cpu(), 0, 8);
                Tensor g = Tensor.of(Data.gamma(3, 8), pd, 8); Tensor b = Tensor.of(Data.beta(4, 8), pd, 8);
                LayerNorm.Forward f = ln.forward(x, g, b); LayerNorm.Gradients gr = ln.backward(dy, f, x, g);
                RMSNorm.Forward rf = rms.forward(x, g); RMSNorm.Gradients rg = rms.backward(dy, rf, x, g);
                Tensor dg = Data.poisoned(pd, 8); Tensor db = Data.poisoned(pd, 8)) {
            assertEquals(0, gr.dx().numel());
            assertArrayEquals(new long[] {0}, f.mean().shape());
            assertArrayEquals(new double[8], gr.dgamma().toDoubleArray(), 0, "dgamma over no rows");
            assertArrayEquals(new double[8], gr.dbeta().toDoubleArray(), 0, "dbeta over no rows");
            assertArrayEquals(new double[8], rg.dgamma().toDoubleArray(), 0, "RMS dgamma over no rows");
            // into preallocated (poisoned) outputs, and from y
            ln.backward(dy, f, x, g, Data.grads(gr.dx(), dg, db));
            assertArrayEquals(new double[8], dg.toDoubleArray(), 0);
            assertArrayEquals(new double[8], db.toDoubleArray(), 0);
            dg.fill(Double.NaN);
            ln.backwardFromOutput(dy, f, g, b, Data.grads(gr.dx(), dg, null));
            assertArrayEquals(new double[8], dg.toDoubleArray(), 0);
        }
    }

    // ---- eps in the compute type ----------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void epsThatVanishesInFloat32IsRefused(DType dt) {
        DType pd = Data.paramDType(dt);
        for (double eps : new double[] {1e-46, 1.4e-45, 1e-40, Float.MIN_NORMAL / 2}) {
            LayerNorm ln = LayerNorm.builder(4).eps(eps).build();  // the builder cannot know the dtype
            RMSNorm rms = RMSNorm.builder(4).eps(eps).build();
            try (Tensor x = Tensor.of(new float[] {2, 2, 2, 2}, dt, 1, 4); Tensor g = Tensor.of(new float[] {1, 1, 1, 1}, pd, 4);
                    Tensor b = Tensor.of(new float[] {0.5f, -1, 2, 0}, pd, 4); Tensor y = Data.poisoned(dt, 1, 4)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ln.forward(x, g, b));
                assertTrue(e.getMessage().contains("eps " + eps) && e.getMessage().contains("FLOAT32")
                        && e.getMessage().contains(String.valueOf(Float.MIN_NORMAL)), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> rms.forward(x, g));
                assertThrows(IllegalArgumentException.class, () -> ln.forward(x, g, b, Data.fwd(y, null, null)));
                for (double v : y.toDoubleArray()) assertTrue(Double.isNaN(v), "y written by a refused call");
            }
        }
    }

    /** The smallest accepted eps: a constant row gives exactly beta (LayerNorm) and 0 (RMSNorm of zeros). */
    @ParameterizedTest(name = "{0}")
    @EnumSource(DType.class)
    void smallestAcceptedEpsGivesBetaOnAConstantRow(DType dt) {
        DType pd = Data.paramDType(dt);
        double eps = dt == DType.FLOAT64 ? Double.MIN_NORMAL : Float.MIN_NORMAL;
        LayerNorm ln = LayerNorm.builder(4).eps(eps).build();
        RMSNorm rms = RMSNorm.builder(4).eps(eps).build();
        try (Tensor x = Tensor.of(new float[] {2, 2, 2, 2, -3, -3, -3, -3}, dt, 2, 4);
                Tensor z = Tensor.of(new float[8], dt, 2, 4);
                Tensor g = Tensor.of(new float[] {1, 3, 1, 1}, pd, 4); Tensor b = Tensor.of(new float[] {0.5f, -1, 2, 0}, pd, 4);
                LayerNorm.Forward f = ln.forward(x, g, b); RMSNorm.Forward rf = rms.forward(z, g)) {
            assertArrayEquals(new double[] {0.5, -1, 2, 0, 0.5, -1, 2, 0}, f.output().toDoubleArray(), 0);
            assertArrayEquals(new double[8], rf.output().toDoubleArray(), 0);
            for (double v : f.rstd().toDoubleArray()) assertTrue(Double.isFinite(v), "rstd " + v);
        }
    }

    @Test
    void float64TakesAnEpsFloat32CannotHold() {
        LayerNorm ln = LayerNorm.builder(4).eps(1e-45).build();
        try (Tensor x = Tensor.of(new double[] {2, 2, 2, 2}, 1, 4); Tensor g = Tensor.of(new double[] {1, 1, 1, 1}, 4);
                Tensor b = Tensor.of(new double[] {0.5, -1, 2, 0}, 4); LayerNorm.Forward f = ln.forward(x, g, b)) {
            assertArrayEquals(new double[] {0.5, -1, 2, 0}, f.output().toDoubleArray(), 0);
        }
        LayerNorm sub = LayerNorm.builder(4).eps(Double.MIN_VALUE).build();
        try (Tensor x = Tensor.of(new double[] {2, 2, 2, 2}, 1, 4); Tensor g = Tensor.of(new double[4], 4);
                Tensor b = Tensor.of(new double[4], 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sub.forward(x, g, b));
            assertTrue(e.getMessage().contains("eps") && e.getMessage().contains("FLOAT64"), e.getMessage());
        }
    }
}

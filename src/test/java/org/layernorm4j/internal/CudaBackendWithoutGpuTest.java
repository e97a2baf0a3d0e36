package org.layernorm4j.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.layernorm4j.LayerNormException;

/**
 * The CUDA backend's memory, stream and error handling over a fake runtime (no GPU needed): workspaces bounded,
 * freed with their stream and never freed under a launch in progress; copies on the thread's stream; a sticky
 * error remembered and named by every later call, while freeing never throws.
 */
class CudaBackendWithoutGpuTest {
    /** Records every call; memory is fake addresses; {@link #failNext} makes the next call return a status. */
    static class FakeCalls implements CudaCalls {
        final List<String> log = Collections.synchronizedList(new ArrayList<>());
        volatile int failNext;
        long next = 0x10000;

        private int status() {
            int s = failNext;
            failNext = 0;
            return s;
        }

        @Override
        public synchronized int malloc(int device, long bytes, long[] out) {
            int s = status();
            if (s != 0) return s;
            out[0] = next;
            next += (bytes + 255) / 256 * 256 + 256;
            log.add("malloc " + Long.toHexString(out[0]) + " " + bytes);
            return 0;
        }

        @Override
        public int free(int device, long address) {
            log.add("free " + Long.toHexString(address));
            return status();
        }

        @Override
        public int copy(int device, long dst, long src, long bytes, int kind, long stream) {
            log.add("copy kind=" + kind + " stream=" + Long.toHexString(stream) + " " + bytes);
            return status();
        }

        @Override
        public int streamSynchronize(int device, long stream) {
            log.add("sync " + Long.toHexString(stream));
            return status();
        }

        @Override
        public int streamCreate(int device, long[] out) {
            out[0] = 0xabc0;
            log.add("create");
            return status();
        }

        @Override
        public int streamDestroy(int device, long stream) {
            log.add("destroy " + Long.toHexString(stream));
            return status();
        }

        @Override
        public String errorName(int status) {
            return status == 700 ? "cudaErrorIllegalAddress" : status == 2 ? "cudaErrorMemoryAllocation" : "cudaError" + status;
        }
    }

    @Test
    void workspaceGrowsBoundedAndIsFreedWithItsStream() {
        FakeCalls f = new FakeCalls();
        CudaBackend be = new CudaBackend(0, f);
        CudaWorkspaces ws = workspaces(be);
        try (CudaWorkspaces.Lease l = ws.lease(0x77, 1000)) {
            assertEquals(1000, l.bytes());
        }
        try (CudaWorkspaces.Lease l = ws.lease(0x77, 500)) {
            assertEquals(1000, l.bytes(), "a smaller need reuses the block");
        }
        f.log.clear();
        try (CudaWorkspaces.Lease l = ws.lease(0x77, 1500)) {
            assertEquals(2000, l.bytes());
        }
        assertEquals(List.of("sync 77", "free 10000", "malloc 10500 2000"), f.log,
                "the old block is freed only after its stream is synchronized");
        try (CudaWorkspaces.Lease l = ws.lease(0x77, CudaWorkspaces.CAP - 5)) {
            assertEquals(CudaWorkspaces.CAP - 5, l.bytes(), "never past the largest workspace a call can need");
        }
        assertThrows(IllegalStateException.class, () -> ws.lease(0x77, CudaWorkspaces.CAP + 1));
        f.log.clear();
        be.streamClosed(0x77, true);
        assertEquals(0, be.workspaceBytes());
        assertEquals("sync 77", f.log.get(0));
        assertTrue(f.log.get(1).startsWith("free "), f.log.toString());
        assertEquals("destroy 77", f.log.get(2));
        f.log.clear();
        be.streamClosed(0x78, false);  // a wrapped stream without a workspace: nothing to free, not destroyed
        assertEquals(List.of(), f.log);
    }

    @Test
    void growingWaitsForALaunchInProgressOnTheSameStream() throws Exception {
        FakeCalls f = new FakeCalls();
        CudaBackend be = new CudaBackend(0, f);
        CudaWorkspaces ws = workspaces(be);
        CountDownLatch leased = new CountDownLatch(1), enqueue = new CountDownLatch(1);
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread a = new Thread(() -> {
            try (CudaWorkspaces.Lease l = ws.lease(0, 4096)) {  // thread A: between taking the pointer and enqueueing
                leased.countDown();
                enqueue.await();
                f.log.add("A enqueued with " + Long.toHexString(l.address()));
            } catch (Throwable t) {
                err.set(t);
            }
        });
        a.start();
        assertTrue(leased.await(10, TimeUnit.SECONDS));
        Thread b = new Thread(() -> {
            try (CudaWorkspaces.Lease l = ws.lease(0, 1 << 20)) {  // thread B grows the same stream's workspace
                f.log.add("B enqueued with " + Long.toHexString(l.address()));
            } catch (Throwable t) {
                err.set(t);
            }
        });
        b.start();
        b.join(300);
        assertTrue(b.isAlive(), "B must wait while A's launch is not enqueued");
        assertFalse(f.log.contains("free 10000"), "A's block freed under its launch: " + f.log);
        enqueue.countDown();
        a.join(10_000);
        b.join(10_000);
        if (err.get() != null) throw new AssertionError(err.get());
        int aAt = f.log.indexOf("A enqueued with 10000"), sync = f.log.indexOf("sync 0"), free = f.log.indexOf("free 10000");
        assertTrue(aAt >= 0 && aAt < sync && sync < free, "A enqueues, then the stream is synchronized, then freed: " + f.log);
    }

    @Test
    void aBackwardHoldsItsWorkspaceUntilItsKernelsAreEnqueued() throws Exception {
        CountDownLatch inLaunch = new CountDownLatch(1), finish = new CountDownLatch(1);
        FakeCalls f = new FakeCalls() {
            @Override
            public long backwardWorkspaceBytes(long args) {
                return Thread.currentThread().getName().equals("A") ? 4096 : 1 << 20;
            }

            @Override
            public int backwardKernels(long args, long exec) {
                String me = Thread.currentThread().getName();
                if (me.equals("A")) {
                    inLaunch.countDown();
                    try {
                        assertTrue(finish.await(10, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                }
                log.add(me + " enqueued");
                return 0;
            }
        };
        CudaBackend be = new CudaBackend(0, f);
        AtomicReference<Throwable> err = new AtomicReference<>();
        Runnable backward = () -> {  // a 4 x 768 float32 backward on the thread's stream (0: no scope)
            try {
                assertEquals(0, be.backward(NormCall.backward(0, 0, 0, 0, 4, 768)));
            } catch (Throwable t) {
                err.set(t);
            }
        };
        Thread a = new Thread(backward, "A");
        a.start();
        assertTrue(inLaunch.await(10, TimeUnit.SECONDS));
        Thread b = new Thread(backward, "B");  // needs a larger workspace on the same stream
        b.start();
        b.join(300);
        assertTrue(b.isAlive(), "B must wait while A's kernels are being enqueued: " + f.log);
        assertFalse(f.log.contains("free 10000"), "A's workspace freed under its launch: " + f.log);
        finish.countDown();
        a.join(10_000);
        b.join(10_000);
        if (err.get() != null) throw new AssertionError(err.get());
        int aAt = f.log.indexOf("A enqueued"), sync = f.log.indexOf("sync 0"), free = f.log.indexOf("free 10000"),
                bAt = f.log.indexOf("B enqueued");
        assertTrue(aAt >= 0 && aAt < sync && sync < free && free < bAt,
                "A enqueues, the stream is synchronized, A's block freed, then B enqueues: " + f.log);
    }

    @Test
    void copiesRunOnTheThreadsStream() {
        FakeCalls f = new FakeCalls();
        CudaBackend be = new CudaBackend(3, f);
        be.copyToHost(1, 2, 64);
        long[] prev = CudaStreams.enter(3, 0x5150);
        try {
            be.copyFromHost(1, 2, 64);
            be.copyToHost(1, 2, 64);
            be.copyWithin(1, 2, 64);
        } finally {
            CudaStreams.restore(prev);
        }
        long[] other = CudaStreams.enter(4, 0x9999);  // a scope on another device does not apply to cuda:3
        try {
            be.copyToHost(1, 2, 8);
        } finally {
            CudaStreams.restore(other);
        }
        assertEquals(List.of("copy kind=1 stream=0 64", "copy kind=0 stream=5150 64", "copy kind=1 stream=5150 64",
                "copy kind=2 stream=5150 64", "copy kind=1 stream=0 8"), f.log);
    }

    @Test
    void aStickyErrorIsNamedByEveryLaterCallAndFreeNeverThrows() {
        FakeCalls f = new FakeCalls();
        CudaBackend be = new CudaBackend(0, f);
        long a = be.allocate(100);
        f.failNext = 2;  // out of memory: not sticky
        LayerNormException oom = assertThrows(LayerNormException.class, () -> be.allocate(1 << 30));
        assertEquals(LayerNormException.OUT_OF_MEMORY, oom.status());
        assertEquals(a + 0x200, be.allocate(10) - 0x0, "the device is still usable after an out-of-memory");
        f.failNext = 700;
        LayerNormException first = assertThrows(LayerNormException.class, () -> be.copyToHost(a, 0x1000, 64));
        assertTrue(first.getMessage().contains("cudaErrorIllegalAddress"), first.getMessage());
        assertTrue(be.firstFailure().contains("device to host"), be.firstFailure());
        for (Runnable r : new Runnable[] {() -> be.allocate(8), () -> be.copyFromHost(1, 2, 3), () -> be.streamCreate(),
            () -> be.streamSynchronize(0)}) {
            LayerNormException e = assertThrows(LayerNormException.class, r::run);
            assertTrue(e.getMessage().contains("first failure") && e.getMessage().contains("cudaErrorIllegalAddress")
                    && e.getMessage().contains("device to host"), e.getMessage());
        }
        f.log.clear();
        assertDoesNotThrow(() -> be.free(a));
        assertDoesNotThrow(() -> be.streamClosed(0x55, true));
        assertEquals(List.of(), f.log, "nothing is called on a lost device");
    }

    @Test
    void freeDoesNotThrowWhenTheRuntimeFails() {
        FakeCalls f = new FakeCalls();
        CudaBackend be = new CudaBackend(0, f);
        long a = be.allocate(100);
        f.failNext = 700;
        assertDoesNotThrow(() -> be.free(a));
        assertTrue(be.firstFailure().contains("cudaFree"), be.firstFailure());
    }

    @Test
    void aStreamClosedWhileInUseIsReleasedByItsLastUser() throws Exception {
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        CudaStreams.Users u = new CudaStreams.Users("CudaStream(test)", () -> log.add("released"));
        u.acquire();  // another thread's scope
        CountDownLatch closed = new CountDownLatch(1);
        Thread other = new Thread(() -> {
            try {
                closed.await();
            } catch (InterruptedException e) {
                return;
            }
            log.add("last launch");
            u.release();
        });
        other.start();
        assertEquals(1, u.close(), "close returns at once, one user left");
        assertTrue(u.isClosed());
        assertFalse(u.isReleased(), "not destroyed while a scope holds it");
        IllegalStateException e = assertThrows(IllegalStateException.class, u::acquire);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        closed.countDown();
        other.join(10_000);
        assertEquals(List.of("last launch", "released"), log);
        assertEquals(0, u.close(), "idempotent");
        assertEquals(List.of("last launch", "released"), log, "released once");
        CudaStreams.Users idle = new CudaStreams.Users("idle", () -> log.add("idle released"));
        idle.close();
        assertTrue(log.contains("idle released"), "an unused stream is released at close");
    }

    private static CudaWorkspaces workspaces(CudaBackend be) {
        try {
            java.lang.reflect.Field f = CudaBackend.class.getDeclaredField("workspaces");
            f.setAccessible(true);
            return (CudaWorkspaces) f.get(be);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}

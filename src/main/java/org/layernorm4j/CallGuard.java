package org.layernorm4j;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a tensor's memory alive while a native call or a copy uses it, so that {@link Tensor#close()} (or the
 * garbage-collection safety net) racing that call waits for it instead of freeing memory under it.
 *
 * <p>A hazard-pointer protocol, chosen because atomic reference counts cost one lock-prefixed instruction per
 * tensor per call (6 to 10 per forward/backward), which is more than a 1x768 kernel can afford:
 * <ul>
 *   <li><b>Caller</b> ({@link #enter}): writes the start addresses of the tensors it is about to use into its
 *       thread's slot (plain stores), publishes the count, issues one full fence, then re-reads every tensor's
 *       closed flag; a closed one ends the call with IllegalStateException before any memory is touched (whether a
 *       wrapped Pointer's owner freed it is checked by the callers' argument checks, not again here). After the
 *       call, {@link #exit} restores the count with a release store.</li>
 *   <li><b>Closer</b> ({@link #awaitUnused}, called by the free after {@code closed} was set): one full fence, then
 *       scans every thread's slot and waits (spin, yield, then short parks) until no slot names an address inside
 *       the block being freed.</li>
 * </ul>
 * The two fences make it impossible for both sides to miss each other: either the caller sees the closed flag, or
 * the closer sees the published address. Slots nest (a copy inside a read), and a thread never waits for its own
 * slot. The cost per call is a thread-local lookup, a few plain stores and one fence.
 *
 * <p>Not API. Only code of this package enters the guard: the LayerNorm/RMSNorm call sites and Tensor's copies.
 *
 * <p>{@code -Dlayernorm4j.unsafe.noCallGuard=true} turns the guard into the closed-flag checks alone (no slot, no
 * fence, no wait in close), so that LatencyProbe can time the same build with and without it in one run
 * ({@code scripts/guard-cost.sh}). It reopens the close-during-call race (a JVM crash): for measurements only; a
 * warning is logged when it is on. Read once into a constant, so the guarded path the JIT compiles is unchanged.
 */
final class CallGuard {
    /** Measurement switch (see the class comment); false in any ordinary run. */
    static final boolean DISABLED = Boolean.getBoolean("layernorm4j.unsafe.noCallGuard");
    /** Most addresses a thread may hold at once (a backward names 10 tensors; nested copies add a few). */
    private static final int SLOT_CAPACITY = 32;
    private static final int MAX_DEPTH = 8;

    private static final VarHandle KEYS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle COUNT;

    static {
        if (DISABLED) {
            System.getLogger("org.layernorm4j").log(System.Logger.Level.WARNING, "layernorm4j: call guard OFF "
                    + "(-Dlayernorm4j.unsafe.noCallGuard=true): closing a tensor during a call can crash the JVM; "
                    + "for measuring the guard's cost only");
        }
        try {
            COUNT = MethodHandles.lookup().findVarHandle(Slot.class, "count", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One thread's published addresses: keys[0, count) are in use. */
    static final class Slot {
        final long[] keys = new long[SLOT_CAPACITY];
        @SuppressWarnings("unused") // accessed through COUNT
        private int count;
        private final int[] bases = new int[MAX_DEPTH];
        private int depth;
        private final WeakReference<Thread> owner;
        /** The owner's thread id (ids are never reused), for the lookup cache. */
        final long tid;

        Slot(Thread owner) {
            this.owner = new WeakReference<>(owner);
            this.tid = owner.getId();
        }

        boolean dead() {
            Thread t = owner.get();
            return t == null || !t.isAlive();
        }
    }

    private static volatile Slot[] slots = new Slot[0];
    private static final ThreadLocal<Slot> MINE = ThreadLocal.withInitial(CallGuard::register);
    /**
     * Direct-mapped cache thread id -> slot, cheaper than the ThreadLocal lookup on every call; a miss (two threads
     * whose ids collide) falls back to the ThreadLocal. Racy on purpose: a Slot is immutable but for the fields only
     * its own thread writes, and the id check rejects another thread's entry.
     */
    private static final int CACHE_SIZE = 1024;
    private static final Slot[] CACHE = new Slot[CACHE_SIZE];

    private static Slot mine() {
        long id = Thread.currentThread().getId();
        int i = (int) id & (CACHE_SIZE - 1);
        Slot s = CACHE[i];
        if (s != null && s.tid == id) return s;
        s = MINE.get();
        CACHE[i] = s;
        return s;
    }

    private CallGuard() {}

    private static synchronized Slot register() {
        Slot mine = new Slot(Thread.currentThread());
        Slot[] old = slots;
        int live = 0;
        for (Slot s : old) if (!s.dead()) live++;
        Slot[] next = new Slot[live + 1];
        int i = 0;
        for (Slot s : old) if (!s.dead()) next[i++] = s;  // slots of ended threads are dropped here
        next[i] = mine;
        slots = next;
        return mine;
    }

    private static int put(long[] keys, int n, Tensor t) {
        if (t == null) return n;
        keys[n] = t.rawAddress();  // plain: the fence in publish() orders it before the closed checks
        return n + 1;
    }

    /** Guards one tensor (a copy or a read); {@code name} names it in the exception when it is closed. */
    static Slot enter(String name, Tensor a) {
        if (DISABLED) {
            if (a.isClosed()) a.checkOpen(name);
            return null;
        }
        Slot s = mine();
        int base = (int) COUNT.get(s);
        int n = put(s.keys, base, a);
        publish(s, base, n);
        if (a.isClosed()) fail(s, name, a);
        return s;
    }

    /** Guards two tensors (a copy from a to b). */
    static Slot enter(String nameA, Tensor a, String nameB, Tensor b) {
        if (DISABLED) {
            if (a.isClosed()) a.checkOpen(nameA);
            if (b.isClosed()) b.checkOpen(nameB);
            return null;
        }
        Slot s = mine();
        int base = (int) COUNT.get(s);
        int n = put(s.keys, base, a);
        n = put(s.keys, n, b);
        publish(s, base, n);
        if (a.isClosed()) fail(s, nameA, a);
        if (b.isClosed()) fail(s, nameB, b);
        return s;
    }

    /**
     * Guards the tensors of one kernel call (null ones are skipped); {@code names[i]} names the i-th in the exception.
     * Ten slots cover the widest call (backward with a residual).
     */
    static Slot enter(String[] names, Tensor t0, Tensor t1, Tensor t2, Tensor t3, Tensor t4, Tensor t5, Tensor t6,
            Tensor t7, Tensor t8, Tensor t9) {
        if (DISABLED) {
            checkOpen(names, t0, t1, t2, t3, t4, t5, t6, t7, t8, t9);
            return null;
        }
        Slot s = mine();
        long[] k = s.keys;
        int base = (int) COUNT.get(s);
        int n = put(k, base, t0);
        n = put(k, n, t1);
        n = put(k, n, t2);
        n = put(k, n, t3);
        n = put(k, n, t4);
        n = put(k, n, t5);
        n = put(k, n, t6);
        n = put(k, n, t7);
        n = put(k, n, t8);
        n = put(k, n, t9);
        publish(s, base, n);
        if (t0 != null && t0.isClosed()) fail(s, names[0], t0);
        if (t1 != null && t1.isClosed()) fail(s, names[1], t1);
        if (t2 != null && t2.isClosed()) fail(s, names[2], t2);
        if (t3 != null && t3.isClosed()) fail(s, names[3], t3);
        if (t4 != null && t4.isClosed()) fail(s, names[4], t4);
        if (t5 != null && t5.isClosed()) fail(s, names[5], t5);
        if (t6 != null && t6.isClosed()) fail(s, names[6], t6);
        if (t7 != null && t7.isClosed()) fail(s, names[7], t7);
        if (t8 != null && t8.isClosed()) fail(s, names[8], t8);
        if (t9 != null && t9.isClosed()) fail(s, names[9], t9);
        return s;
    }

    /** The closed-flag checks alone (what the guard re-checks), for the disabled guard. */
    private static void checkOpen(String[] names, Tensor t0, Tensor t1, Tensor t2, Tensor t3, Tensor t4, Tensor t5,
            Tensor t6, Tensor t7, Tensor t8, Tensor t9) {
        if (t0 != null && t0.isClosed()) t0.checkOpen(names[0]);
        if (t1 != null && t1.isClosed()) t1.checkOpen(names[1]);
        if (t2 != null && t2.isClosed()) t2.checkOpen(names[2]);
        if (t3 != null && t3.isClosed()) t3.checkOpen(names[3]);
        if (t4 != null && t4.isClosed()) t4.checkOpen(names[4]);
        if (t5 != null && t5.isClosed()) t5.checkOpen(names[5]);
        if (t6 != null && t6.isClosed()) t6.checkOpen(names[6]);
        if (t7 != null && t7.isClosed()) t7.checkOpen(names[7]);
        if (t8 != null && t8.isClosed()) t8.checkOpen(names[8]);
        if (t9 != null && t9.isClosed()) t9.checkOpen(names[9]);
    }

    private static void publish(Slot s, int base, int n) {
        int d = s.depth;
        s.bases[d] = base;  // deeper than MAX_DEPTH: ArrayIndexOutOfBoundsException before anything is published
        s.depth = d + 1;
        COUNT.setOpaque(s, n);
        VarHandle.fullFence();
    }

    private static void fail(Slot s, String name, Tensor t) {
        exit(s);
        t.checkOpen(name);  // throws the usual message
        throw new IllegalStateException(name + " is closed: " + t);
    }

    /** Ends the innermost guard of this thread (in a finally block after the call). */
    static void exit(Slot s) {
        if (DISABLED) return;
        COUNT.setRelease(s, s.bases[--s.depth]);
    }

    /**
     * Ends the innermost guard and keeps the call's tensors reachable until here: a wrapped NIO buffer or JavaCPP
     * Pointer is freed by its own cleaner once its tensor is unreachable, which the guard cannot see.
     */
    static void exit(Slot s, Tensor t0, Tensor t1, Tensor t2, Tensor t3, Tensor t4, Tensor t5, Tensor t6, Tensor t7,
            Tensor t8, Tensor t9) {
        if (!DISABLED) COUNT.setRelease(s, s.bases[--s.depth]);
        Reference.reachabilityFence(t0);
        Reference.reachabilityFence(t1);
        Reference.reachabilityFence(t2);
        Reference.reachabilityFence(t3);
        Reference.reachabilityFence(t4);
        Reference.reachabilityFence(t5);
        Reference.reachabilityFence(t6);
        Reference.reachabilityFence(t7);
        Reference.reachabilityFence(t8);
        Reference.reachabilityFence(t9);
    }

    /**
     * Returns once no other thread's guard names an address in {@code [address, address + bytes)}. The caller has
     * already made the memory unreachable for new calls (closed flag set, or the tensor collected).
     */
    static void awaitUnused(long address, long bytes) {
        if (DISABLED) return;
        VarHandle.fullFence();
        long end = address + Math.max(bytes, 1);
        Slot mine = mine();
        for (int round = 0; inUse(address, end, mine); round++) {
            if (round < 64) Thread.onSpinWait();
            else if (round < 128) Thread.yield();
            else LockSupport.parkNanos(20_000L);
        }
    }

    private static boolean inUse(long address, long end, Slot mine) {
        for (Slot s : slots) {
            if (s == mine) continue;
            int n = (int) COUNT.getAcquire(s);
            for (int i = 0; i < n; i++) {
                long k = (long) KEYS.getAcquire(s.keys, i);
                if (k >= address && k < end) return true;
            }
        }
        return false;
    }
}

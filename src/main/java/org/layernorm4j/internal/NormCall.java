package org.layernorm4j.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.LayerNormException;

/**
 * One native call, spelled once: the Java side of {@code ln4j_forward_args}, {@code ln4j_backward_args} and
 * {@code ln4j_exec} of {@code layernorm4j.h}. The public API fills what to compute ({@link #forward} or
 * {@link #backward}, then the tensors and {@link #threads}); the {@link Backend} fills where it runs (device, ISA,
 * stream, workspace) and passes the structs' addresses to the native entry point. Adding an option means a field
 * in the header, a setter here, and the kernels that use it.
 *
 * <p>Each thread reuses one instance ({@link #forward} and {@link #backward} return it), whose structs live in a
 * direct buffer laid out as the C compiler lays them out: the offsets come from JavaCPP ({@link Loader#offsetof}
 * over the struct classes of {@link NativeCpu}), so a call writes a few fields and allocates nothing. Starting a
 * call clears every pointer, so no tensor of an earlier call can leak into a later one. An instance must not be
 * handed to another thread.
 */
public final class NormCall {
    // ---- the C layout (JavaCPP reads offsetof and sizeof from the compiled binding) ----------------------------
    private static final Class<NativeCpu.ForwardArgs> FA = NativeCpu.ForwardArgs.class;
    private static final Class<NativeCpu.BackwardArgs> BA = NativeCpu.BackwardArgs.class;
    private static final Class<NativeCpu.Exec> EX = NativeCpu.Exec.class;

    static {
        Natives.loadCpu();  // registers the struct layouts with Loader
    }

    static final int FORWARD_SIZE = Loader.sizeof(FA);
    static final int BACKWARD_SIZE = Loader.sizeof(BA);
    static final int EXEC_SIZE = Loader.sizeof(EX);

    private static final int F_SIZE = Loader.offsetof(FA, "struct_size");
    private static final int F_NORM = Loader.offsetof(FA, "norm");
    private static final int F_FLAGS = Loader.offsetof(FA, "flags");
    private static final int F_XDTYPE = Loader.offsetof(FA, "x_dtype");
    private static final int F_PDTYPE = Loader.offsetof(FA, "param_dtype");
    private static final int F_ROWS = Loader.offsetof(FA, "rows");
    private static final int F_COLS = Loader.offsetof(FA, "cols");
    private static final int F_EPS = Loader.offsetof(FA, "eps");
    private static final int F_X = Loader.offsetof(FA, "x");
    private static final int F_RESIDUAL = Loader.offsetof(FA, "residual");
    private static final int F_GAMMA = Loader.offsetof(FA, "gamma");
    private static final int F_BETA = Loader.offsetof(FA, "beta");
    private static final int F_Y = Loader.offsetof(FA, "y");
    private static final int F_RESIDUAL_OUT = Loader.offsetof(FA, "residual_out");
    private static final int F_MEAN = Loader.offsetof(FA, "mean");
    private static final int F_RSTD = Loader.offsetof(FA, "rstd");

    private static final int B_SIZE = Loader.offsetof(BA, "struct_size");
    private static final int B_NORM = Loader.offsetof(BA, "norm");
    private static final int B_FLAGS = Loader.offsetof(BA, "flags");
    private static final int B_XDTYPE = Loader.offsetof(BA, "x_dtype");
    private static final int B_PDTYPE = Loader.offsetof(BA, "param_dtype");
    private static final int B_ROWS = Loader.offsetof(BA, "rows");
    private static final int B_COLS = Loader.offsetof(BA, "cols");
    private static final int B_DY = Loader.offsetof(BA, "dy");
    private static final int B_DRESIDUAL_OUT = Loader.offsetof(BA, "dresidual_out");
    private static final int B_X = Loader.offsetof(BA, "x");
    private static final int B_MEAN = Loader.offsetof(BA, "mean");
    private static final int B_RSTD = Loader.offsetof(BA, "rstd");
    private static final int B_GAMMA = Loader.offsetof(BA, "gamma");
    private static final int B_BETA = Loader.offsetof(BA, "beta");
    private static final int B_DX = Loader.offsetof(BA, "dx");
    private static final int B_DGAMMA = Loader.offsetof(BA, "dgamma");
    private static final int B_DBETA = Loader.offsetof(BA, "dbeta");

    private static final int E_SIZE = Loader.offsetof(EX, "struct_size");
    private static final int E_DEVICE = Loader.offsetof(EX, "device");
    private static final int E_ISA = Loader.offsetof(EX, "isa");
    private static final int E_THREADS = Loader.offsetof(EX, "threads");
    private static final int E_STREAM = Loader.offsetof(EX, "stream");
    private static final int E_WORKSPACE = Loader.offsetof(EX, "workspace");
    private static final int E_WORKSPACE_BYTES = Loader.offsetof(EX, "workspace_bytes");

    /** {@code LN4J_DEVICE_CPU}. */
    public static final int DEVICE_CPU = -1;
    /** {@code LN4J_ERR_ZERO_GAMMA}: the backward from y met an applied gamma of 0 (the message names the column). */
    public static final int ERR_ZERO_GAMMA = LayerNormException.ZERO_GAMMA;

    private static final ThreadLocal<NormCall> PER_THREAD = ThreadLocal.withInitial(NormCall::new);

    // The three structs, each at an 8-byte aligned offset of one direct buffer (freed with the thread's instance).
    private final ByteBuffer mem;
    private final int fwd, bwd, exec;
    private final long base;
    private boolean isBackward;

    private NormCall() {
        int f = 0, b = align8(FORWARD_SIZE), e = b + align8(BACKWARD_SIZE);
        ByteBuffer raw = ByteBuffer.allocateDirect(e + align8(EXEC_SIZE) + 8);
        mem = raw.alignedSlice(8).order(ByteOrder.nativeOrder());
        fwd = f;
        bwd = b;
        exec = e;
        base = new Pointer(mem).address();
        mem.putInt(fwd + F_SIZE, FORWARD_SIZE);
        mem.putInt(bwd + B_SIZE, BACKWARD_SIZE);
        mem.putInt(exec + E_SIZE, EXEC_SIZE);
        mem.putInt(exec + E_DEVICE, DEVICE_CPU);
        mem.putInt(exec + E_ISA, -1);
    }

    private static int align8(int n) {
        return (n + 7) & ~7;
    }

    /**
     * Starts this thread's forward call: norm ({@code LN4J_NORM_*}), flags ({@code LN4J_FLAG_*}), dtypes (DType
     * ordinals), shape and eps; every tensor address is 0 until set, threads 0.
     */
    public static NormCall forward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, double eps) {
        return forward(norm, flags, xDtype, paramDtype, rows, cols, eps, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /** Starts this thread's backward call (see {@link #forward}); every tensor address is 0 until set, threads 0. */
    public static NormCall backward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols) {
        return backward(norm, flags, xDtype, paramDtype, rows, cols, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /**
     * Starts this thread's forward call with every tensor address given (0 = absent) and the thread count: each field
     * written once (the public API's path: the step-by-step form writes every address twice, which a 1 x 768 call
     * notices).
     */
    public static NormCall forward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, double eps,
            long x, long residual, long gamma, long beta, long y, long residualOut, long mean, long rstd, int threads) {
        NormCall c = PER_THREAD.get();
        ByteBuffer m = c.mem;
        int f = c.fwd;
        c.isBackward = false;
        m.putInt(f + F_NORM, norm);
        m.putInt(f + F_FLAGS, flags);
        m.putInt(f + F_XDTYPE, xDtype);
        m.putInt(f + F_PDTYPE, paramDtype);
        m.putLong(f + F_ROWS, rows);
        m.putLong(f + F_COLS, cols);
        m.putDouble(f + F_EPS, eps);
        m.putLong(f + F_X, x);
        m.putLong(f + F_RESIDUAL, residual);
        m.putLong(f + F_GAMMA, gamma);
        m.putLong(f + F_BETA, beta);
        m.putLong(f + F_Y, y);
        m.putLong(f + F_RESIDUAL_OUT, residualOut);
        m.putLong(f + F_MEAN, mean);
        m.putLong(f + F_RSTD, rstd);
        m.putInt(c.exec + E_THREADS, threads);
        return c;
    }

    /** Starts this thread's backward call with every tensor address given (0 = absent): see the forward's. */
    public static NormCall backward(int norm, int flags, int xDtype, int paramDtype, long rows, long cols, long dy,
            long dresidualOut, long x, long mean, long rstd, long gamma, long beta, long dx, long dgamma, long dbeta,
            int threads) {
        NormCall c = PER_THREAD.get();
        ByteBuffer m = c.mem;
        int b = c.bwd;
        c.isBackward = true;
        m.putInt(b + B_NORM, norm);
        m.putInt(b + B_FLAGS, flags);
        m.putInt(b + B_XDTYPE, xDtype);
        m.putInt(b + B_PDTYPE, paramDtype);
        m.putLong(b + B_ROWS, rows);
        m.putLong(b + B_COLS, cols);
        m.putLong(b + B_DY, dy);
        m.putLong(b + B_DRESIDUAL_OUT, dresidualOut);
        m.putLong(b + B_X, x);
        m.putLong(b + B_MEAN, mean);
        m.putLong(b + B_RSTD, rstd);
        m.putLong(b + B_GAMMA, gamma);
        m.putLong(b + B_BETA, beta);
        m.putLong(b + B_DX, dx);
        m.putLong(b + B_DGAMMA, dgamma);
        m.putLong(b + B_DBETA, dbeta);
        m.putInt(c.exec + E_THREADS, threads);
        return c;
    }

    // ---- tensors (raw addresses; 0 = absent) ---------------------------------------------------------------
    /** x (forward and backward; the backward from y takes y here). */
    public NormCall x(long address) {
        mem.putLong(isBackward ? bwd + B_X : fwd + F_X, address);
        return this;
    }

    public NormCall gamma(long address) {
        mem.putLong(isBackward ? bwd + B_GAMMA : fwd + F_GAMMA, address);
        return this;
    }

    public NormCall beta(long address) {
        mem.putLong(isBackward ? bwd + B_BETA : fwd + F_BETA, address);
        return this;
    }

    public NormCall mean(long address) {
        mem.putLong(isBackward ? bwd + B_MEAN : fwd + F_MEAN, address);
        return this;
    }

    public NormCall rstd(long address) {
        mem.putLong(isBackward ? bwd + B_RSTD : fwd + F_RSTD, address);
        return this;
    }

    /** Forward: the residual added to x. */
    public NormCall residual(long address) {
        mem.putLong(forwardOnly("residual") + F_RESIDUAL, address);
        return this;
    }

    public NormCall y(long address) {
        mem.putLong(forwardOnly("y") + F_Y, address);
        return this;
    }

    /** Forward: where s = x + residual is written. */
    public NormCall residualOut(long address) {
        mem.putLong(forwardOnly("residualOut") + F_RESIDUAL_OUT, address);
        return this;
    }

    public NormCall dy(long address) {
        mem.putLong(backwardOnly("dy") + B_DY, address);
        return this;
    }

    /** Backward: the gradient flowing into s from later blocks, added to dx. */
    public NormCall dresidualOut(long address) {
        mem.putLong(backwardOnly("dresidualOut") + B_DRESIDUAL_OUT, address);
        return this;
    }

    public NormCall dx(long address) {
        mem.putLong(backwardOnly("dx") + B_DX, address);
        return this;
    }

    public NormCall dgamma(long address) {
        mem.putLong(backwardOnly("dgamma") + B_DGAMMA, address);
        return this;
    }

    public NormCall dbeta(long address) {
        mem.putLong(backwardOnly("dbeta") + B_DBETA, address);
        return this;
    }

    /** Most CPU threads this call uses; 0 = the pool default (other devices ignore it). */
    public NormCall threads(int threads) {
        mem.putInt(exec + E_THREADS, threads);
        return this;
    }

    private int forwardOnly(String what) {
        if (isBackward) throw new IllegalStateException(what + " belongs to a forward call");
        return fwd;
    }

    private int backwardOnly(String what) {
        if (!isBackward) throw new IllegalStateException(what + " belongs to a backward call");
        return bwd;
    }

    // ---- execution (set by the backend) ---------------------------------------------------------------------
    /** Runs on the CPU with ISA path {@code isa} ({@code LN4J_ISA_*}, -1 = best). */
    public NormCall onCpu(int isa) {
        mem.putInt(exec + E_DEVICE, DEVICE_CPU);
        mem.putInt(exec + E_ISA, isa);
        return this;
    }

    /** Runs on CUDA device {@code ordinal}, on {@code stream} (0 = legacy default), with a backward workspace. */
    NormCall onCuda(int ordinal, long stream, long workspace, long workspaceBytes) {
        mem.putInt(exec + E_DEVICE, ordinal);
        mem.putLong(exec + E_STREAM, stream);
        mem.putLong(exec + E_WORKSPACE, workspace);
        mem.putLong(exec + E_WORKSPACE_BYTES, workspaceBytes);
        return this;
    }

    boolean isBackward() {
        return isBackward;
    }

    /** Address of this call's {@code ln4j_forward_args} or {@code ln4j_backward_args}. */
    public long argsAddress() {
        return base + (isBackward ? bwd : fwd);
    }

    /** Address of this call's {@code ln4j_exec}. */
    public long execAddress() {
        return base + exec;
    }

    /**
     * The exception for a failed call's status and native message: the zero-gamma rule is a bad argument (gamma)
     * the caller can fix; every other status is a {@link LayerNormException} carrying the code.
     */
    public static RuntimeException failure(int status, String message) {
        if (status == ERR_ZERO_GAMMA) return new IllegalArgumentException("gamma: " + message);
        return new LayerNormException(status, message);
    }
}

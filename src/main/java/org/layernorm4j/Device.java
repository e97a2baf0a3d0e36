package org.layernorm4j;

import java.util.concurrent.ConcurrentHashMap;
import org.layernorm4j.internal.Backend;
import org.layernorm4j.internal.CpuBackend;
import org.layernorm4j.internal.CudaBackend;
import org.layernorm4j.internal.CudaProbe;

/**
 * Where a {@link Tensor}'s memory lives and where {@link LayerNorm} runs: the CPU, or one CUDA device.
 *
 * <p>{@link #cpu()} is always usable. {@link #cuda(int)} always returns a Device object, but allocating or
 * running on it throws {@link IllegalStateException} with a one-line reason while {@link #cudaAvailable()} is
 * false ("built without CUDA", "no NVIDIA driver, or one too old ...", "no CUDA device"). The CUDA probe runs once (on first use)
 * and its answer is cached; it never throws and never logs. {@link #best()} picks CUDA device 0 when usable,
 * else the CPU.
 *
 * <p>Devices are canonical: {@code Device.cuda(0) == Device.cuda(0)}, and {@code Device.best()} returns that same
 * object, so calling them in a loop allocates nothing.
 */
public final class Device {
    /** Kind of device. */
    public enum Kind {
        /** The host CPU. */
        CPU,
        /** An NVIDIA GPU through CUDA. */
        CUDA
    }

    private static final Device CPU = new Device(Kind.CPU, 0, CpuBackend.INSTANCE);
    // One Device (and one CudaBackend, with its workspaces) per ordinal for the life of the process.
    private static final ConcurrentHashMap<Integer, Device> CUDA = new ConcurrentHashMap<>();

    private final Kind kind;
    private final int ordinal;
    private final Backend backend;

    private Device(Kind kind, int ordinal, Backend backend) {
        this.kind = kind;
        this.ordinal = ordinal;
        this.backend = backend;
    }

    /**
     * The CPU.
     *
     * @return the CPU device
     */
    public static Device cpu() {
        return CPU;
    }

    /**
     * CUDA device {@code ordinal} (>= 0), the same object on every call. The object is returned even where CUDA is
     * unavailable; using it then throws IllegalStateException with the reason.
     *
     * @param ordinal the CUDA device number
     * @return that device
     */
    public static Device cuda(int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("CUDA ordinal must be >= 0, got " + ordinal);
        return CUDA.computeIfAbsent(ordinal, n -> new Device(Kind.CUDA, n, new CudaBackend(n)));
    }

    /**
     * A usable CUDA device (ordinal 0) if there is one, else the CPU.
     *
     * @return cuda:0 or the CPU
     */
    public static Device best() {
        return cudaAvailable() ? cuda(0) : CPU;
    }

    /**
     * Whether at least one CUDA device is usable (probed once, cached).
     *
     * @return true when CUDA is usable
     */
    public static boolean cudaAvailable() {
        return CudaProbe.deviceCount() > 0;
    }

    /**
     * Number of usable CUDA devices (0 when unavailable).
     *
     * @return the device count
     */
    public static int cudaDeviceCount() {
        return CudaProbe.deviceCount();
    }

    /**
     * One-line reason why CUDA is unavailable, or "" when it is available.
     *
     * @return the reason
     */
    public static String cudaUnavailableReason() {
        return CudaProbe.reason();
    }

    /**
     * CPU or CUDA.
     *
     * @return the kind
     */
    public Kind kind() {
        return kind;
    }

    /**
     * The CUDA ordinal (0 for the CPU).
     *
     * @return the ordinal
     */
    public int ordinal() {
        return ordinal;
    }

    /**
     * Whether this is the CPU.
     *
     * @return true for the CPU
     */
    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    Backend backend() {
        return backend;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device && ((Device) o).kind == kind && ((Device) o).ordinal == ordinal;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + ordinal;
    }

    /** {@code "cpu"} or {@code "cuda:N"}. */
    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + ordinal;
    }
}

package org.layernorm4j;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.internal.Backend;
import org.layernorm4j.internal.Halfs;
import org.layernorm4j.internal.Memory;

/**
 * A dense, row-major, contiguous array in native memory: address, {@link DType}, shape and {@link Device}.
 *
 * <p><b>Creating.</b> {@link #of(float[], long...)} and {@link #of(double[], long...)} copy Java arrays into new
 * CPU memory; {@link #of(float[], DType, long...)} converts to any dtype; {@link #ofBits} copies raw
 * bfloat16/float16 bits; {@link #empty} allocates uninitialized memory; {@link #wrap} views memory the caller owns
 * (no copy). A shape may be empty ({@code []}, a scalar of one element) and its dims must be >= 0.
 *
 * <p><b>Ownership.</b> A tensor made by {@code of}, {@code ofBits}, {@code empty} or {@link #to} owns its memory:
 * {@link #close()} frees it. Close is idempotent; there is no finalizer, so an unclosed tensor leaks until the
 * process ends. A wrapped tensor does not own its memory: close only marks it closed. Any use after close throws
 * {@link IllegalStateException} naming the tensor.
 *
 * <p><b>Reading.</b> {@link #toFloatArray()}, {@link #toDoubleArray()} convert from any dtype; {@link #toBits()}
 * returns the raw 16-bit patterns of a bfloat16/float16 tensor. Tensors are not synchronized: do not close a tensor
 * while another thread uses it. Reading and using one tensor from several threads at once is fine.
 */
public final class Tensor implements AutoCloseable {
    private final long address;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final Device device;
    private final boolean owned;
    private final Pointer keepAlive;
    private volatile boolean closed;

    private Tensor(long address, DType dtype, long[] shape, long numel, Device device, boolean owned,
            Pointer keepAlive) {
        this.address = address;
        this.dtype = dtype;
        this.shape = shape;
        this.numel = numel;
        this.device = device;
        this.owned = owned;
        this.keepAlive = keepAlive;
    }

    // ---- creation -----------------------------------------------------------------------------------------

    /** Element count of {@code shape}; throws for null, a negative dim or an overflowing product. */
    static long numel(String what, long[] shape) {
        Objects.requireNonNull(shape, () -> what + " must not be null");
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException(what + " " + Arrays.toString(shape) + " has a negative dim " + d);
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(what + " " + Arrays.toString(shape)
                        + ": element count overflows a long (more than " + Long.MAX_VALUE + ")");
            }
        }
        return n;
    }

    private static long bytes(String what, long[] shape, long numel, DType dtype) {
        try {
            return Math.multiplyExact(numel, (long) dtype.size());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(what + " " + Arrays.toString(shape) + " of " + dtype
                    + ": byte count overflows a long");
        }
    }

    private static void checkLength(long length, long[] shape, long numel) {
        if (length != numel) {
            throw new IllegalArgumentException("data has " + length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + numel);
        }
    }

    /** A new FLOAT32 CPU tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, long... shape) {
        Objects.requireNonNull(data, "data must not be null");
        long[] s = shape.clone();
        long n = numel("shape", s);
        checkLength(data.length, s, n);
        Tensor t = allocate(DType.FLOAT32, Device.cpu(), s, n);
        if (n > 0) t.hostBuffer().asFloatBuffer().put(data);
        return t;
    }

    /** A new FLOAT64 CPU tensor holding a copy of {@code data}. */
    public static Tensor of(double[] data, long... shape) {
        Objects.requireNonNull(data, "data must not be null");
        long[] s = shape.clone();
        long n = numel("shape", s);
        checkLength(data.length, s, n);
        Tensor t = allocate(DType.FLOAT64, Device.cpu(), s, n);
        if (n > 0) t.hostBuffer().asDoubleBuffer().put(data);
        return t;
    }

    /** A new CPU tensor of {@code dtype} holding {@code data} rounded to nearest even. */
    public static Tensor of(float[] data, DType dtype, long... shape) {
        Objects.requireNonNull(dtype, "dtype must not be null");
        if (dtype == DType.FLOAT32) return of(data, shape);
        Objects.requireNonNull(data, "data must not be null");
        if (dtype == DType.FLOAT64) {
            double[] d = new double[data.length];
            for (int i = 0; i < d.length; i++) d[i] = data[i];
            return of(d, shape);
        }
        boolean bf = dtype == DType.BFLOAT16;
        short[] bits = new short[data.length];
        for (int i = 0; i < bits.length; i++) bits[i] = Halfs.fromFloat(data[i], bf);
        return ofBits(bits, dtype, shape);
    }

    /** A new BFLOAT16 or FLOAT16 CPU tensor holding a copy of the raw 16-bit patterns {@code bits}. */
    public static Tensor ofBits(short[] bits, DType dtype, long... shape) {
        Objects.requireNonNull(bits, "bits must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        if (dtype.size() != 2) {
            throw new IllegalArgumentException("dtype must be BFLOAT16 or FLOAT16 for raw bits, got " + dtype);
        }
        long[] s = shape.clone();
        long n = numel("shape", s);
        checkLength(bits.length, s, n);
        Tensor t = allocate(dtype, Device.cpu(), s, n);
        if (n > 0) t.hostBuffer().asShortBuffer().put(bits);
        return t;
    }

    /** A new tensor of uninitialized memory on {@code device}. */
    public static Tensor empty(DType dtype, Device device, long... shape) {
        Objects.requireNonNull(dtype, "dtype must not be null");
        Objects.requireNonNull(device, "device must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        return allocate(dtype, device, s, numel("shape", s));
    }

    private static Tensor allocate(DType dtype, Device device, long[] shape, long numel) {
        long bytes = bytes("shape", shape, numel, dtype);
        long address = device.backend().allocate(bytes);
        return new Tensor(address, dtype, shape, numel, device, true, null);
    }

    /**
     * A tensor viewing {@code memory} (from its current position) without copying; the tensor does not own the
     * memory and keeps {@code memory} reachable. Throws NullPointerException for a null Pointer, and
     * IllegalArgumentException for a Pointer whose address is 0 or whose known size (limit, else capacity, minus
     * position, in bytes) is smaller than the shape needs. A Pointer of unknown size (capacity 0) is trusted.
     */
    public static Tensor wrap(Pointer memory, DType dtype, Device device, long... shape) {
        Objects.requireNonNull(memory, "memory must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        Objects.requireNonNull(device, "device must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        long need = bytes("shape", s, n, dtype);
        if (memory.isNull()) throw new IllegalArgumentException("memory is a null pointer (address 0)");
        long elem = Math.max(memory.sizeof(), 1);
        long end = memory.limit() > 0 ? memory.limit() : memory.capacity();
        if (end > 0) {
            long have = (end - memory.position()) * elem;
            if (have < need) {
                throw new IllegalArgumentException("memory holds " + have + " bytes but shape " + Arrays.toString(s)
                        + " of " + dtype + " needs " + need);
            }
        }
        long address = memory.address() + memory.position() * elem;
        return new Tensor(address, dtype, s, n, device, false, memory);
    }

    // ---- accessors ----------------------------------------------------------------------------------------

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dims. */
    public int rank() {
        return shape.length;
    }

    /** Size of dim {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements (1 for shape []). */
    public long numel() {
        return numel;
    }

    /** Bytes of data ({@code numel * dtype.size()}). */
    public long byteSize() {
        return numel * dtype.size();
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return device;
    }

    /** Whether close() frees the memory (false for wrapped tensors). */
    public boolean ownsMemory() {
        return owned;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Address of the first element (for interop); throws if closed. */
    public long address() {
        checkOpen("tensor");
        return address;
    }

    /** A non-owning JavaCPP view of the data ({@link #byteSize()} bytes); valid while this tensor is open. */
    public BytePointer pointer() {
        checkOpen("tensor");
        return Memory.view(address, byteSize());
    }

    /** Raw address without the closed check (the caller has checked). */
    long rawAddress() {
        return address;
    }

    long[] shapeRef() {
        return shape;
    }

    void checkOpen(String name) {
        if (closed) throw new IllegalStateException(name + " is closed: " + this);
    }

    // ---- copies -------------------------------------------------------------------------------------------

    /** A new tensor on {@code device} holding a copy of this one (a copy even when the device is the same). */
    public Tensor to(Device target) {
        Objects.requireNonNull(target, "device must not be null");
        checkOpen("tensor");
        Tensor t = allocate(dtype, target, shape.clone(), numel);
        try {
            long b = byteSize();
            if (device.equals(target)) {
                device.backend().copyWithin(address, t.address, b);
            } else if (device.isCpu()) {
                target.backend().copyFromHost(address, t.address, b);
            } else if (target.isCpu()) {
                device.backend().copyToHost(address, t.address, b);
            } else {
                try (Tensor host = to(Device.cpu())) {
                    target.backend().copyFromHost(host.address, t.address, b);
                }
            }
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    private ByteBuffer hostBuffer() {
        return Memory.buffer(address, byteSize());
    }

    private static void checkArraySize(long numel) {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + numel + " elements does not fit a Java array");
        }
    }

    /** Runs {@code reader} on a host copy (or on this tensor itself when it is on the CPU). */
    private <T> T readHost(java.util.function.Function<ByteBuffer, T> reader) {
        checkOpen("tensor");
        checkArraySize(numel);
        if (device.isCpu()) return reader.apply(hostBuffer());
        try (Tensor host = to(Device.cpu())) {
            return reader.apply(host.hostBuffer());
        }
    }

    /** The elements as floats (float64 rounded to nearest; bfloat16/float16 widened exactly). */
    public float[] toFloatArray() {
        return readHost(b -> {
            float[] out = new float[(int) numel];
            switch (dtype) {
                case FLOAT32: b.asFloatBuffer().get(out); break;
                case FLOAT64: {
                    java.nio.DoubleBuffer d = b.asDoubleBuffer();
                    for (int i = 0; i < out.length; i++) out[i] = (float) d.get(i);
                    break;
                }
                default: {
                    java.nio.ShortBuffer s = b.asShortBuffer();
                    boolean bf = dtype == DType.BFLOAT16;
                    for (int i = 0; i < out.length; i++) out[i] = Halfs.toFloat(s.get(i), bf);
                }
            }
            return out;
        });
    }

    /** The elements as doubles (every dtype widened exactly). */
    public double[] toDoubleArray() {
        return readHost(b -> {
            double[] out = new double[(int) numel];
            switch (dtype) {
                case FLOAT64: b.asDoubleBuffer().get(out); break;
                case FLOAT32: {
                    java.nio.FloatBuffer f = b.asFloatBuffer();
                    for (int i = 0; i < out.length; i++) out[i] = f.get(i);
                    break;
                }
                default: {
                    java.nio.ShortBuffer s = b.asShortBuffer();
                    boolean bf = dtype == DType.BFLOAT16;
                    for (int i = 0; i < out.length; i++) out[i] = Halfs.toFloat(s.get(i), bf);
                }
            }
            return out;
        });
    }

    /** The raw 16-bit patterns of a BFLOAT16 or FLOAT16 tensor. */
    public short[] toBits() {
        if (dtype.size() != 2) {
            throw new IllegalStateException("toBits() needs a BFLOAT16 or FLOAT16 tensor, this one is " + dtype);
        }
        return readHost(b -> {
            short[] out = new short[(int) numel];
            b.asShortBuffer().get(out);
            return out;
        });
    }

    /** Sets every element to {@code value} (converted to the dtype); handy for poisoning outputs with NaN. */
    public Tensor fill(double value) {
        checkOpen("tensor");
        if (!device.isCpu()) {
            throw new UnsupportedOperationException("fill is implemented for CPU tensors only, this one is on " + device);
        }
        ByteBuffer b = hostBuffer();
        long n = numel;
        checkArraySize(n);
        for (int i = 0; i < n; i++) {
            switch (dtype) {
                case FLOAT32: b.putFloat(i * 4, (float) value); break;
                case FLOAT64: b.putDouble(i * 8, value); break;
                default: b.putShort(i * 2, Halfs.fromFloat((float) value, dtype == DType.BFLOAT16));
            }
        }
        return this;
    }

    /** Frees owned memory; idempotent. A wrapped tensor is only marked closed. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        if (owned) device.backend().free(address);
    }

    /** E.g. {@code Tensor[FLOAT32 [2, 768] cpu]} (with {@code closed} when closed). */
    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Arrays.toString(shape) + " " + device + (closed ? " closed" : "")
                + (owned ? "" : " wrapped") + "]";
    }
}

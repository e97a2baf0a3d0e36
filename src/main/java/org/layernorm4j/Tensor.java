package org.layernorm4j;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.layernorm4j.internal.CloseFailures;
import org.layernorm4j.internal.Halfs;
import org.layernorm4j.internal.Memory;

/**
 * A dense, row-major, contiguous array in native memory: address, {@link DType}, shape and {@link Device}.
 *
 * <p><b>Creating.</b> {@link #of(float[], long...)} and {@link #of(double[], long...)} copy Java arrays into new
 * CPU memory; {@link #of(float[], DType, long...)} converts to any dtype; {@link #ofBits} copies raw
 * bfloat16/float16 bits; {@link #empty} allocates uninitialized memory. A shape may be empty ({@code []}, a scalar
 * of one element) and its dims must be >= 0. Arrays of any length a Java array can have are copied in chunks, so
 * tensors over 2 GiB work.
 *
 * <p><b>Without copies.</b> {@code wrap} views memory the caller owns: a JavaCPP {@link Pointer} (its size taken
 * from the Pointer's capacity and limit, or stated in bytes), a direct NIO buffer (kept reachable by the tensor),
 * or a raw address with its byte size. Every wrap checks what it can: address not 0, aligned to the dtype's size,
 * at least as many bytes as the shape needs. What wrap cannot check: memory freed behind its back by anything but
 * the wrapped Pointer's own {@code close()}/{@code deallocate()} (a JavaCPP Pointer that was closed is seen at the
 * next use and refused; memory freed by {@code Pointer.free}, by native code, or during a call in progress is not
 * seen), and a stated byte size larger than the real block. {@link #copyFrom(float[])} and {@link
 * #copyTo(float[])} (and their double/short forms) move data between existing arrays and existing tensors.
 *
 * <p><b>Ownership.</b> A tensor made by {@code of}, {@code ofBits}, {@code empty} or {@link #to} owns its memory:
 * {@link #close()} frees it. Close is idempotent, thread-safe and never throws (a failing free, e.g. on a lost CUDA
 * device, is recorded, logged as a warning and the memory given up). Close the tensors you make: as a safety net
 * only, an owned tensor that becomes unreachable without close is freed after the garbage collector finds it, and
 * the library asks for a collection when native memory held by tensors grows past {@code
 * layernorm4j.gc.bytes} (default 256 MiB, doubled while live tensors keep more). A wrapped tensor does not own its
 * memory: close only marks it closed. Any use after close throws {@link IllegalStateException} naming the tensor.
 *
 * <p><b>Threads.</b> Reading and using one tensor from several threads at once is fine. Closing a tensor while
 * other threads use it is safe: a call that started before the close finishes on valid memory (the close waits
 * for it before freeing), a call that starts after it throws IllegalStateException. Only {@link #address()} and
 * {@link #pointer()} hand out the raw memory unguarded: keep the tensor open while you use them. Memory of CUDA
 * tensors is freed with {@code cudaFree}, which waits for the device's queued work.
 *
 * <p><b>Reading.</b> {@link #toFloatArray()}, {@link #toDoubleArray()} convert from any dtype; {@link #toBits()}
 * returns the raw 16-bit patterns of a bfloat16/float16 tensor.
 */
public final class Tensor implements AutoCloseable {
    /**
     * Largest block converted or staged at once (bounds buffer views, which stop at 2^31-1 bytes, and the host
     * staging of device copies). Not final so that tests can make it small.
     */
    static int chunkBytes = 1 << 24;
    /** Longest Java array HotSpot allocates. */
    static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "layernorm4j-cleaner");
        t.setDaemon(true);
        return t;
    });

    private final long address;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final Device device;
    private final boolean owned;
    /** What a wrapped tensor keeps reachable: the Pointer or the NIO buffer (null otherwise). */
    private final Object keepAlive;
    /** The wrapped JavaCPP Pointer: once its owner closes it, isNull() is true and the tensor refuses to be used. */
    private final Pointer owner;
    /** Frees owned memory exactly once: from close(), or from the Cleaner after the tensor became unreachable. */
    private final Cleaner.Cleanable release;
    private volatile boolean closed;
    /** Cached native-order view of a small CPU tensor (no JNI call per copy). */
    private volatile ByteBuffer view;

    private Tensor(long address, DType dtype, long[] shape, long numel, Device device, Object keepAlive,
            Pointer owner, Release release) {
        this.address = address;
        this.dtype = dtype;
        this.shape = Shapes.intern(shape);  // one array per distinct shape, kept in cache (Shapes)
        this.numel = numel;
        this.device = device;
        this.owned = release != null;
        this.keepAlive = keepAlive;
        this.owner = owner;
        this.release = release == null ? null : CLEANER.register(this, release);
    }

    /** Frees one owned block once no call uses it; must not refer to the Tensor (or it is never collected). */
    private static final class Release implements Runnable {
        private final Device device;
        private final long address;
        private final long bytes;

        Release(Device device, long address, long bytes) {
            this.device = device;
            this.address = address;
            this.bytes = bytes;
        }

        @Override
        public void run() {
            CallGuard.awaitUnused(address, bytes);
            try {
                device.backend().free(address);
            } catch (Throwable e) {
                CloseFailures.record(device.toString(), "free of " + bytes + " bytes at 0x" + Long.toHexString(address), e);
            } finally {
                Memory.unreserve(bytes);
            }
        }
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

    private static void checkLength(String what, long length, long[] shape, long numel) {
        if (length != numel) {
            throw new IllegalArgumentException(what + " has " + length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + numel);
        }
    }

    /**
     * A new FLOAT32 CPU tensor holding a copy of {@code data}.
     *
     * @param data the values, {@code numel(shape)} of them, row-major
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new tensor
     */
    public static Tensor of(float[] data, long... shape) {
        return of(data, DType.FLOAT32, shape);
    }

    /**
     * A new FLOAT64 CPU tensor holding a copy of {@code data}.
     *
     * @param data the values, {@code numel(shape)} of them, row-major
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new tensor
     */
    public static Tensor of(double[] data, long... shape) {
        Objects.requireNonNull(data, "data must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        checkLength("data", data.length, s, n);
        Tensor t = allocate(DType.FLOAT64, Device.cpu(), s, n);
        try {
            return t.copyFrom(data);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    /**
     * A new CPU tensor of {@code dtype} holding {@code data} (rounded to nearest even, or widened exactly).
     *
     * @param data the values, {@code numel(shape)} of them, row-major
     * @param dtype the element type
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new tensor
     */
    public static Tensor of(float[] data, DType dtype, long... shape) {
        Objects.requireNonNull(data, "data must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        checkLength("data", data.length, s, n);
        Tensor t = allocate(dtype, Device.cpu(), s, n);
        try {
            return t.copyFrom(data);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    /**
     * A new BFLOAT16 or FLOAT16 CPU tensor holding a copy of the raw 16-bit patterns {@code bits}.
     *
     * @param bits the raw 16-bit patterns, {@code numel(shape)} of them
     * @param dtype the element type
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new tensor
     */
    public static Tensor ofBits(short[] bits, DType dtype, long... shape) {
        Objects.requireNonNull(bits, "bits must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        require16(dtype, "dtype must be BFLOAT16 or FLOAT16 for raw bits, got " + dtype);
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        checkLength("bits", bits.length, s, n);
        Tensor t = allocate(dtype, Device.cpu(), s, n);
        try {
            return t.copyFrom(bits);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    private static void require16(DType dtype, String message) {
        if (dtype.size() != 2) throw new IllegalArgumentException(message);
    }

    /**
     * A new tensor of uninitialized memory on {@code device}.
     *
     * @param dtype the element type
     * @param device where the memory lives
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new tensor
     */
    public static Tensor empty(DType dtype, Device device, long... shape) {
        Objects.requireNonNull(dtype, "dtype must not be null");
        Objects.requireNonNull(device, "device must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        return allocate(dtype, device, s, numel("shape", s));
    }

    private static Tensor allocate(DType dtype, Device device, long[] shape, long numel) {
        long bytes = bytes("shape", shape, numel, dtype);
        long b = Math.max(bytes, 1);
        Memory.reserve(b);
        long address;
        try {
            address = allocateOnce(device, b);
        } catch (OutOfMemoryError | LayerNormException e) {
            // unreachable tensors may still hold memory the safety net has not freed yet: collect, then retry once
            Memory.collect();
            try {
                address = allocateOnce(device, b);
            } catch (RuntimeException | Error e2) {
                Memory.unreserve(b);
                throw e2;
            }
        } catch (RuntimeException | Error e) {
            Memory.unreserve(b);
            throw e;
        }
        return new Tensor(address, dtype, shape, numel, device, null, null, new Release(device, address, b));
    }

    private static long allocateOnce(Device device, long bytes) {
        return device.backend().allocate(bytes);
    }

    /**
     * A tensor viewing {@code memory} from its current position, without copying; the tensor does not own the memory
     * and keeps {@code memory} reachable. The size comes from the Pointer: (limit, else capacity, minus position)
     * elements of the Pointer's type. A Pointer that does not know its size (capacity 0, as {@code Pointer.malloc}
     * and most native functions return) is refused: state the size with {@link #wrap(Pointer, long, DType, Device,
     * long...)}. Throws NullPointerException for a null argument and IllegalArgumentException for a Pointer whose
     * address is 0, whose limit exceeds its capacity, whose address is not a multiple of the dtype's size, or that
     * holds fewer bytes than the shape needs.
     *
     * @param memory the memory to view, from its position
     * @param dtype the element type
     * @param device where the memory lives
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new (non-owning) tensor
     */
    public static Tensor wrap(Pointer memory, DType dtype, Device device, long... shape) {
        return wrapPointer(memory, -1, dtype, device, shape);
    }

    /**
     * As {@link #wrap(Pointer, DType, Device, long...)} with the size stated: {@code bytes} bytes are usable from
     * the Pointer's position. When the Pointer knows its size too, {@code bytes} may not exceed it.
     *
     * @param memory the memory to view, from its position
     * @param bytes usable bytes from the start of the view
     * @param dtype the element type
     * @param device where the memory lives
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new (non-owning) tensor
     */
    public static Tensor wrap(Pointer memory, long bytes, DType dtype, Device device, long... shape) {
        if (bytes < 0) throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
        return wrapPointer(memory, bytes, dtype, device, shape);
    }

    private static Tensor wrapPointer(Pointer memory, long stated, DType dtype, Device device, long[] shape) {
        Objects.requireNonNull(memory, "memory must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        Objects.requireNonNull(device, "device must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        long need = bytes("shape", s, n, dtype);
        if (memory.isNull()) throw new IllegalArgumentException("memory is a null pointer (address 0)");
        long elem = Math.max(memory.sizeof(), 1);
        long pos = memory.position(), limit = memory.limit(), capacity = memory.capacity();
        if (pos < 0) throw new IllegalArgumentException("memory has a negative position " + pos);
        if (capacity > 0 && limit > capacity) {
            throw new IllegalArgumentException("memory's limit " + limit + " exceeds its capacity " + capacity
                    + ": its size is inconsistent");
        }
        long known = -1;
        if (capacity > 0) {
            long end = limit > 0 ? limit : capacity;
            if (end < pos) {
                throw new IllegalArgumentException("memory's position " + pos + " is past its limit " + end);
            }
            known = (end - pos) * elem;
        }
        long have;
        if (stated >= 0) {
            if (known >= 0 && stated > known) {
                throw new IllegalArgumentException("bytes " + stated + " exceed the " + known
                        + " bytes memory holds from its position");
            }
            have = stated;
        } else if (known >= 0) {
            have = known;
        } else {
            throw new IllegalArgumentException("memory's size is unknown (capacity 0, e.g. from Pointer.malloc or a "
                    + "native function): pass its byte size, Tensor.wrap(memory, bytes, dtype, device, shape)");
        }
        if (have < need) {
            throw new IllegalArgumentException("memory holds " + have + " bytes but shape " + Arrays.toString(s)
                    + " of " + dtype + " needs " + need);
        }
        long address = memory.address() + pos * elem;
        checkAligned("memory", address, dtype);
        return new Tensor(address, dtype, s, n, device, memory, memory, null);
    }

    /**
     * A tensor viewing {@code bytes} bytes of memory at {@code address} (host memory for {@link Device#cpu()}, device
     * memory for a CUDA device), without copying and without owning it. Nothing can keep raw memory alive or notice
     * when it is freed: the caller keeps it valid until the tensor is closed. Refused: address 0, an address not a
     * multiple of the dtype's size, fewer bytes than the shape needs.
     *
     * @param address the address of the first element
     * @param bytes usable bytes from the start of the view
     * @param dtype the element type
     * @param device where the memory lives
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new (non-owning) tensor
     */
    public static Tensor wrap(long address, long bytes, DType dtype, Device device, long... shape) {
        Objects.requireNonNull(dtype, "dtype must not be null");
        Objects.requireNonNull(device, "device must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        long need = bytes("shape", s, n, dtype);
        if (address == 0) throw new IllegalArgumentException("address is 0 (a null pointer)");
        if (bytes < need) {
            throw new IllegalArgumentException("bytes is " + bytes + " but shape " + Arrays.toString(s) + " of " + dtype
                    + " needs " + need);
        }
        checkAligned("address", address, dtype);
        return new Tensor(address, dtype, s, n, device, null, null, null);
    }

    /**
     * A FLOAT32 CPU tensor viewing a direct {@link FloatBuffer} from its position (no copy; the buffer stays reachable
     * while the tensor is). See {@link #wrap(Buffer, DType, long...)}.
     *
     * @param buffer a direct, writable, native-order buffer, viewed from its position
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new (non-owning) tensor
     */
    public static Tensor wrap(FloatBuffer buffer, long... shape) {
        return wrap(buffer, DType.FLOAT32, shape);
    }

    /**
     * A CPU tensor viewing a direct NIO buffer's remaining elements (position to limit) without copying; the tensor
     * keeps the buffer reachable, so its memory lives at least as long as the tensor. FloatBuffer goes with FLOAT32,
     * DoubleBuffer with FLOAT64, ShortBuffer with BFLOAT16/FLOAT16, ByteBuffer with any dtype. Refused: a heap
     * buffer (no fixed native address: use {@link #of} or {@link #copyFrom}), a read-only buffer (LayerNorm may write
     * into the tensor), a byte order other than {@link ByteOrder#nativeOrder()}, an address not a multiple of the
     * dtype's size, and fewer remaining bytes than the shape needs.
     *
     * @param buffer a direct, writable, native-order buffer, viewed from its position
     * @param dtype the element type
     * @param shape the dims (each >= 0; none for a scalar)
     * @return the new (non-owning) tensor
     */
    public static Tensor wrap(Buffer buffer, DType dtype, long... shape) {
        Objects.requireNonNull(buffer, "buffer must not be null");
        Objects.requireNonNull(dtype, "dtype must not be null");
        long[] s = Objects.requireNonNull(shape, "shape must not be null").clone();
        long n = numel("shape", s);
        long need = bytes("shape", s, n, dtype);
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("buffer must be a direct buffer (a heap buffer has no fixed native "
                    + "address; use Tensor.of or copyFrom), got " + buffer);
        }
        if (buffer.isReadOnly()) {
            throw new IllegalArgumentException("buffer must be writable (LayerNorm may write into the tensor), got a "
                    + "read-only " + buffer);
        }
        int elem;
        ByteOrder order;
        if (buffer instanceof ByteBuffer) {
            elem = 1;
            order = ((ByteBuffer) buffer).order();
        } else if (buffer instanceof FloatBuffer) {
            elem = 4;
            order = ((FloatBuffer) buffer).order();
            if (dtype != DType.FLOAT32) throw new IllegalArgumentException("a FloatBuffer holds FLOAT32, not " + dtype);
        } else if (buffer instanceof DoubleBuffer) {
            elem = 8;
            order = ((DoubleBuffer) buffer).order();
            if (dtype != DType.FLOAT64) throw new IllegalArgumentException("a DoubleBuffer holds FLOAT64, not " + dtype);
        } else if (buffer instanceof ShortBuffer) {
            elem = 2;
            order = ((ShortBuffer) buffer).order();
            require16(dtype, "a ShortBuffer holds BFLOAT16 or FLOAT16 bits, not " + dtype);
        } else {
            throw new IllegalArgumentException("buffer must be a ByteBuffer, FloatBuffer, DoubleBuffer or ShortBuffer, got "
                    + buffer.getClass().getName());
        }
        if (order != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("buffer's byte order is " + order + " but the kernels read "
                    + ByteOrder.nativeOrder() + ": set buffer.order(ByteOrder.nativeOrder()) before writing to it");
        }
        long have = (long) buffer.remaining() * elem;
        if (have < need) {
            throw new IllegalArgumentException("buffer has " + have + " bytes remaining but shape " + Arrays.toString(s)
                    + " of " + dtype + " needs " + need);
        }
        long address = Memory.address(buffer) + (long) buffer.position() * elem;
        checkAligned("buffer", address, dtype);
        return new Tensor(address, dtype, s, n, Device.cpu(), buffer, null, null);
    }

    private static void checkAligned(String what, long address, DType dtype) {
        if (address % dtype.size() != 0) {
            throw new IllegalArgumentException(what + " address 0x" + Long.toHexString(address) + " is not aligned to "
                    + dtype.size() + " bytes, the size of " + dtype + " (misaligned device accesses fault)");
        }
    }

    // ---- accessors ----------------------------------------------------------------------------------------

    /**
     * A copy of the shape.
     *
     * @return a copy of the shape
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Number of dims.
     *
     * @return the number of dims
     */
    public int rank() {
        return shape.length;
    }

    /**
     * Size of dim {@code i}.
     *
     * @param i the dim index, 0 to {@code rank() - 1}
     * @return the size of dim {@code i}
     */
    public long dim(int i) {
        return shape[i];
    }

    /**
     * Number of elements (1 for shape []).
     *
     * @return the element count
     */
    public long numel() {
        return numel;
    }

    /**
     * Bytes of data ({@code numel * dtype.size()}).
     *
     * @return the byte count
     */
    public long byteSize() {
        return numel * dtype.size();
    }

    /**
     * The element type.
     *
     * @return the element type
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The device of the memory.
     *
     * @return the device of the memory
     */
    public Device device() {
        return device;
    }

    /**
     * Whether close() frees the memory (false for wrapped tensors).
     *
     * @return true when close() frees the memory
     */
    public boolean ownsMemory() {
        return owned;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once close() was called
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Address of the first element (for interop); throws if closed. Not guarded: keep the tensor open while used.
     *
     * @return the address
     */
    public long address() {
        checkOpen("tensor");
        return address;
    }

    /**
     * A non-owning JavaCPP view of the data ({@link #byteSize()} bytes); valid while this tensor is open (not
     * guarded: keep the tensor open while the view is used).
     *
     * @return the view
     */
    public BytePointer pointer() {
        checkOpen("tensor");
        return Memory.view(address, byteSize());
    }

    /** Raw address without the closed check (the caller holds a guard or has checked). */
    long rawAddress() {
        return address;
    }

    long[] shapeRef() {
        return shape;
    }

    /** Closed, or the wrapped Pointer was freed by its owner. */
    boolean unusable() {
        return closed || (owner != null && owner.isNull());
    }

    void checkOpen(String name) {
        if (closed) throw new IllegalStateException(name + " is closed: " + this);
        if (owner != null && owner.isNull()) {
            throw new IllegalStateException(name + " wraps memory its owner has freed (the JavaCPP Pointer was closed"
                    + " or deallocated): " + this);
        }
    }

    // ---- copies -------------------------------------------------------------------------------------------

    /**
     * A new tensor on {@code device} holding a copy of this one (a copy even when the device is the same).
     *
     * @param target the device of the copy
     * @return the new tensor
     */
    public Tensor to(Device target) {
        Objects.requireNonNull(target, "device must not be null");
        checkOpen("tensor");
        Tensor t = allocate(dtype, target, shape.clone(), numel);
        try {
            CallGuard.Slot g = CallGuard.enter("tensor", this, "copy", t);
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
            } finally {
                CallGuard.exit(g);
                Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
            }
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** A native-order view of bytes [offset, offset + bytes) of this host tensor (bytes <= chunkBytes). */
    private ByteBuffer span(long offset, int bytes) {
        if (offset == 0 && bytes == byteSize()) {
            ByteBuffer v = view;
            if (v == null) view = v = Memory.buffer(address, bytes);
            return v;
        }
        return Memory.buffer(address + offset, bytes);
    }

    /** Elements per chunk for this dtype. */
    private int chunkElems() {
        return chunkBytes / dtype.size();
    }

    /** Writes one chunk of host bytes: elements [first, first + count) of the source into {@code b}. */
    private interface Encoder {
        void encode(ByteBuffer b, int first, int count);
    }

    /** Reads one chunk of host bytes into elements [first, first + count) of the destination. */
    private interface Decoder {
        void decode(ByteBuffer b, int first, int count);
    }

    /** Runs {@code enc} over every chunk of this tensor (staged through host memory for device tensors). */
    private void write(String name, Encoder enc) {
        CallGuard.Slot g = CallGuard.enter(name, this);
        try {
            int size = dtype.size(), per = chunkElems();
            if (device.isCpu()) {
                for (long e = 0; e < numel; e += per) {
                    int n = (int) Math.min(per, numel - e);
                    enc.encode(span(e * size, n * size), (int) e, n);
                }
            } else {
                try (Tensor stage = empty(dtype, Device.cpu(), Math.min(per, numel))) {
                    for (long e = 0; e < numel; e += per) {
                        int n = (int) Math.min(per, numel - e);
                        enc.encode(stage.span(0, n * size), (int) e, n);
                        device.backend().copyFromHost(stage.address, address + e * size, (long) n * size);
                    }
                }
            }
        } finally {
            CallGuard.exit(g);
            Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
        }
    }

    /** Runs {@code dec} over every chunk of this tensor (staged through host memory for device tensors). */
    private void read(String name, Decoder dec) {
        CallGuard.Slot g = CallGuard.enter(name, this);
        try {
            int size = dtype.size(), per = chunkElems();
            if (device.isCpu()) {
                for (long e = 0; e < numel; e += per) {
                    int n = (int) Math.min(per, numel - e);
                    dec.decode(span(e * size, n * size), (int) e, n);
                }
            } else {
                try (Tensor stage = empty(dtype, Device.cpu(), Math.min(per, numel))) {
                    for (long e = 0; e < numel; e += per) {
                        int n = (int) Math.min(per, numel - e);
                        device.backend().copyToHost(address + e * size, stage.address, (long) n * size);
                        dec.decode(stage.span(0, n * size), (int) e, n);
                    }
                }
            }
        } finally {
            CallGuard.exit(g);
            Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
        }
    }

    private void checkArray(String what, int length) {
        checkOpen("tensor");
        if (length != numel) {
            throw new IllegalArgumentException(what + " has " + length + " elements but tensor " + this + " has "
                    + numel);
        }
    }

    /**
     * Copies {@code src} into this tensor's memory (any device), converting to the dtype: FLOAT64 widens exactly,
     * BFLOAT16/FLOAT16 round to nearest even. {@code src.length} must equal {@link #numel()}. Returns this tensor.
     *
     * @param src the source, {@code numel()} elements long
     * @return this tensor
     */
    public Tensor copyFrom(float[] src) {
        Objects.requireNonNull(src, "src must not be null");
        checkArray("src", src.length);
        if (numel == 0) return this;
        final DType dt = dtype;
        if (dt == DType.FLOAT32 && device.isCpu() && byteSize() <= chunkBytes) {
            CallGuard.Slot g = CallGuard.enter("tensor", this);
            try {
                span(0, (int) byteSize()).asFloatBuffer().put(0, src, 0, src.length);
            } finally {
                CallGuard.exit(g);
                Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
            }
            return this;
        }
        write("tensor", (b, first, n) -> {
            switch (dt) {
                case FLOAT32: b.asFloatBuffer().put(0, src, first, n); break;
                case FLOAT64: {
                    DoubleBuffer d = b.asDoubleBuffer();
                    for (int i = 0; i < n; i++) d.put(i, src[first + i]);
                    break;
                }
                default: {
                    ShortBuffer s = b.asShortBuffer();
                    boolean bf = dt == DType.BFLOAT16;
                    for (int i = 0; i < n; i++) s.put(i, Halfs.fromFloat(src[first + i], bf));
                }
            }
        });
        return this;
    }

    /**
     * Copies {@code src} into this tensor's memory, converting to the dtype (rounded once to nearest even for
     * FLOAT32, BFLOAT16, FLOAT16). {@code src.length} must equal {@link #numel()}. Returns this tensor.
     *
     * @param src the source, {@code numel()} elements long
     * @return this tensor
     */
    public Tensor copyFrom(double[] src) {
        Objects.requireNonNull(src, "src must not be null");
        checkArray("src", src.length);
        if (numel == 0) return this;
        final DType dt = dtype;
        write("tensor", (b, first, n) -> {
            switch (dt) {
                case FLOAT64: b.asDoubleBuffer().put(0, src, first, n); break;
                case FLOAT32: {
                    FloatBuffer f = b.asFloatBuffer();
                    for (int i = 0; i < n; i++) f.put(i, (float) src[first + i]);
                    break;
                }
                default: {
                    ShortBuffer s = b.asShortBuffer();
                    boolean bf = dt == DType.BFLOAT16;
                    for (int i = 0; i < n; i++) s.put(i, Halfs.fromDouble(src[first + i], bf));
                }
            }
        });
        return this;
    }

    /**
     * Copies raw 16-bit patterns into a BFLOAT16 or FLOAT16 tensor. Returns this tensor.
     *
     * @param src the source, {@code numel()} elements long
     * @return this tensor
     */
    public Tensor copyFrom(short[] src) {
        Objects.requireNonNull(src, "src must not be null");
        if (dtype.size() != 2) {
            throw new IllegalStateException("copyFrom(short[]) needs a BFLOAT16 or FLOAT16 tensor, this one is " + dtype);
        }
        checkArray("src", src.length);
        if (numel == 0) return this;
        write("tensor", (b, first, n) -> b.asShortBuffer().put(0, src, first, n));
        return this;
    }

    /**
     * Copies this tensor into {@code dst} (length {@link #numel()}) as floats: FLOAT64 rounded to nearest,
     * BFLOAT16/FLOAT16 widened exactly. Returns {@code dst}.
     *
     * @param dst the destination, {@code numel()} elements long
     * @return {@code dst}
     */
    public float[] copyTo(float[] dst) {
        Objects.requireNonNull(dst, "dst must not be null");
        checkArray("dst", dst.length);
        if (numel == 0) return dst;
        final DType dt = dtype;
        if (dt == DType.FLOAT32 && device.isCpu() && byteSize() <= chunkBytes) {
            CallGuard.Slot g = CallGuard.enter("tensor", this);
            try {
                span(0, (int) byteSize()).asFloatBuffer().get(0, dst, 0, dst.length);
            } finally {
                CallGuard.exit(g);
                Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
            }
            return dst;
        }
        read("tensor", (b, first, n) -> {
            switch (dt) {
                case FLOAT32: b.asFloatBuffer().get(0, dst, first, n); break;
                case FLOAT64: {
                    DoubleBuffer d = b.asDoubleBuffer();
                    for (int i = 0; i < n; i++) dst[first + i] = (float) d.get(i);
                    break;
                }
                default: {
                    ShortBuffer s = b.asShortBuffer();
                    boolean bf = dt == DType.BFLOAT16;
                    for (int i = 0; i < n; i++) dst[first + i] = Halfs.toFloat(s.get(i), bf);
                }
            }
        });
        return dst;
    }

    /**
     * Copies this tensor into {@code dst} (length {@link #numel()}), every dtype widened exactly. Returns dst.
     *
     * @param dst the destination, {@code numel()} elements long
     * @return {@code dst}
     */
    public double[] copyTo(double[] dst) {
        Objects.requireNonNull(dst, "dst must not be null");
        checkArray("dst", dst.length);
        if (numel == 0) return dst;
        final DType dt = dtype;
        read("tensor", (b, first, n) -> {
            switch (dt) {
                case FLOAT64: b.asDoubleBuffer().get(0, dst, first, n); break;
                case FLOAT32: {
                    FloatBuffer f = b.asFloatBuffer();
                    for (int i = 0; i < n; i++) dst[first + i] = f.get(i);
                    break;
                }
                default: {
                    ShortBuffer s = b.asShortBuffer();
                    boolean bf = dt == DType.BFLOAT16;
                    for (int i = 0; i < n; i++) dst[first + i] = Halfs.toFloat(s.get(i), bf);
                }
            }
        });
        return dst;
    }

    /**
     * Copies the raw 16-bit patterns of a BFLOAT16 or FLOAT16 tensor into {@code dst}. Returns dst.
     *
     * @param dst the destination, {@code numel()} elements long
     * @return {@code dst}
     */
    public short[] copyTo(short[] dst) {
        Objects.requireNonNull(dst, "dst must not be null");
        if (dtype.size() != 2) {
            throw new IllegalStateException("copyTo(short[]) needs a BFLOAT16 or FLOAT16 tensor, this one is " + dtype);
        }
        checkArray("dst", dst.length);
        if (numel == 0) return dst;
        read("tensor", (b, first, n) -> b.asShortBuffer().get(0, dst, first, n));
        return dst;
    }

    private int arrayLength() {
        checkOpen("tensor");
        if (numel > MAX_ARRAY) {
            throw new IllegalStateException("tensor " + this + " has " + numel + " elements, more than a Java array holds ("
                    + MAX_ARRAY + "); read it in parts through wrap/pointer, or copy a smaller tensor");
        }
        return (int) numel;
    }

    /**
     * The elements as floats (float64 rounded to nearest; bfloat16/float16 widened exactly).
     *
     * @return a new array of the elements
     */
    public float[] toFloatArray() {
        return copyTo(new float[arrayLength()]);
    }

    /**
     * The elements as doubles (every dtype widened exactly).
     *
     * @return a new array of the elements
     */
    public double[] toDoubleArray() {
        return copyTo(new double[arrayLength()]);
    }

    /**
     * The raw 16-bit patterns of a BFLOAT16 or FLOAT16 tensor.
     *
     * @return a new array of the bit patterns
     */
    public short[] toBits() {
        if (dtype.size() != 2) {
            throw new IllegalStateException("toBits() needs a BFLOAT16 or FLOAT16 tensor, this one is " + dtype);
        }
        return copyTo(new short[arrayLength()]);
    }

    /**
     * Sets every element to {@code value} (converted to the dtype); handy for poisoning outputs with NaN.
     *
     * @param value the value, converted to the dtype
     * @return this tensor
     */
    public Tensor fill(double value) {
        checkOpen("tensor");
        if (numel == 0) return this;
        CallGuard.Slot g = CallGuard.enter("tensor", this);
        try {
            int size = dtype.size();
            int first = (int) Math.min(numel, chunkElems());
            Tensor stage = device.isCpu() ? null : empty(dtype, Device.cpu(), first);
            try {
                ByteBuffer b = device.isCpu() ? span(0, first * size) : stage.span(0, first * size);
                switch (dtype) {
                    case FLOAT32: for (int i = 0; i < first; i++) b.putFloat(i * 4, (float) value); break;
                    case FLOAT64: for (int i = 0; i < first; i++) b.putDouble(i * 8, value); break;
                    default: {
                        short bits = Halfs.fromDouble(value, dtype == DType.BFLOAT16);
                        for (int i = 0; i < first; i++) b.putShort(i * 2, bits);
                    }
                }
                long done = device.isCpu() ? first : 0, total = numel;  // a device tensor gets every chunk from the stage
                long src = device.isCpu() ? address : stage.address;
                while (done < total) {
                    long n = Math.min(first, total - done);
                    if (device.isCpu()) Memory.copy(src, address + done * size, n * size);
                    else device.backend().copyFromHost(src, address + done * size, n * size);
                    done += n;
                }
            } finally {
                if (stage != null) stage.close();
            }
        } finally {
            CallGuard.exit(g);
            Reference.reachabilityFence(this);  // a wrapped buffer/Pointer must outlive the copy
        }
        return this;
    }

    /**
     * Frees owned memory (a wrapped tensor is only marked closed); idempotent and thread-safe. A call using this
     * tensor on another thread at that moment finishes first: close waits for it. Never throws: a failed free is
     * recorded and logged.
     */
    @Override
    public void close() {
        if (closed) return;
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        if (release != null) release.clean();
    }

    /** E.g. {@code Tensor[FLOAT32 [2, 768] cpu]} (with {@code closed} when closed). */
    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Arrays.toString(shape) + " " + device + (closed ? " closed" : "")
                + (owned ? "" : " wrapped") + "]";
    }
}

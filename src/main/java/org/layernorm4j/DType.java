package org.layernorm4j;

/**
 * Element type of a {@link Tensor}.
 *
 * <p>The ordinals equal the {@code LN4J_FLOAT32 ..} constants of the C header {@code layernorm4j.h}, so a dtype
 * travels to native code as {@link #ordinal()}. {@link #BFLOAT16} and {@link #FLOAT16} hold raw 16-bit patterns
 * (see {@link Tensor#ofBits} and {@link Tensor#toBits}); their parameters (gamma, beta and their gradients) may be
 * {@link #FLOAT32}, and their statistics (mean, rstd) are always {@link #FLOAT32}.
 */
public enum DType {
    /** IEEE 754 binary32. */
    FLOAT32(4),
    /** IEEE 754 binary64; statistics and accumulation are float64 too. */
    FLOAT64(8),
    /** bfloat16 (8 exponent bits, 7 mantissa bits); accumulation is float32. */
    BFLOAT16(2),
    /** IEEE 754 binary16; accumulation is float32. */
    FLOAT16(2);

    private final int size;

    DType(int size) {
        this.size = size;
    }

    /**
     * Size of one element in bytes.
     *
     * @return 4, 8, 2 or 2
     */
    public int size() {
        return size;
    }

    /**
     * Dtype of mean and rstd for data of this dtype: FLOAT64 for FLOAT64, FLOAT32 otherwise.
     *
     * @return the statistics' dtype
     */
    public DType statsDType() {
        return this == FLOAT64 ? FLOAT64 : FLOAT32;
    }

    /**
     * Whether {@code param} may be the dtype of gamma/beta for data of this dtype.
     *
     * @param param a candidate dtype of gamma/beta
     * @return true for this dtype, and for FLOAT32 when this is BFLOAT16 or FLOAT16
     */
    public boolean acceptsParamDType(DType param) {
        return param == this || (size == 2 && param == FLOAT32);
    }

    /**
     * Unit roundoff (half an ulp of 1): 2^-24, 2^-53, 2^-8, 2^-11.
     *
     * @return the unit roundoff
     */
    public double unitRoundoff() {
        switch (this) {
            case FLOAT32: return 0x1p-24;
            case FLOAT64: return 0x1p-53;
            case BFLOAT16: return 0x1p-8;
            default: return 0x1p-11;
        }
    }
}

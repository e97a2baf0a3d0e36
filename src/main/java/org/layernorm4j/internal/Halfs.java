package org.layernorm4j.internal;

/** Conversions between float and the raw bits of bfloat16 / float16, rounding to nearest even. */
public final class Halfs {
    private Halfs() {}

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    public static short floatToBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((b >>> 16) | 0x40);
        int lsb = (b >>> 16) & 1;
        return (short) ((b + 0x7fff + lsb) >>> 16);
    }

    public static float f16ToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short floatToF16(float f) {
        int b = Float.floatToRawIntBits(f);
        int sign = (b >>> 16) & 0x8000;
        float a = Math.abs(f);
        if (Float.isNaN(f)) return (short) (sign | 0x7e00);
        if (a >= 65520f) return (short) (sign | 0x7c00); // rounds to infinity
        if (a < 0x1p-14f) {
            // subnormal: multiples of 2^-24, round to nearest even
            int m = (int) Math.rint(a * 0x1p24f);
            return (short) (sign | m);
        }
        int e = (Float.floatToRawIntBits(a) >>> 23) - 127;
        int mant = Float.floatToRawIntBits(a) & 0x7fffff;
        int h = ((e + 15) << 10) | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++;
        return (short) (sign | h);
    }

    public static float toFloat(short bits, boolean bf16) {
        return bf16 ? bf16ToFloat(bits) : f16ToFloat(bits);
    }

    public static short fromFloat(float f, boolean bf16) {
        return bf16 ? floatToBf16(f) : floatToF16(f);
    }

    /**
     * {@code d} rounded once to nearest even in bfloat16/float16: first to float32 rounding to odd (so no tie of the
     * final rounding is invented or lost), then to 16 bits.
     */
    public static short fromDouble(double d, boolean bf16) {
        float f = (float) d;
        if ((double) f != d && !Double.isNaN(d)) {
            int bits = Float.floatToRawIntBits(f);
            if ((bits & 1) == 0) {
                bits += Math.abs((double) f) > Math.abs(d) ? -1 : 1;  // the odd neighbour on d's side
                f = Float.intBitsToFloat(bits);
            }
        }
        return fromFloat(f, bf16);
    }
}

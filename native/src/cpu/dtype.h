// Element types of the CPU kernels and their scalar conversions (round to nearest even, NaN kept NaN).
// bfloat16 and float16 travel as 16-bit patterns; the kernels accumulate them in float32.
#pragma once
#include <cstdint>
#include <cstring>

namespace ln4j::cpu {

struct bf16_t {
  uint16_t bits;
};
struct f16_t {
  uint16_t bits;
};

inline uint32_t f32_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float bits_f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline float bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t b = f32_bits(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return uint16_t((b >> 16) | 0x40u);  // NaN: quiet, keep sign/payload
  b += 0x7fffu + ((b >> 16) & 1u);                                          // round to nearest even
  return uint16_t(b >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));  // Inf, quiet NaN
  if (e == 0) return bits_f32(sign | f32_bits(float(m) * 5.9604644775390625e-8f));       // m * 2^-24, exact
  return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

inline uint16_t f32_to_f16(float f) {
  uint32_t b = f32_bits(f);
  uint16_t sign = uint16_t((b >> 16) & 0x8000u);
  uint32_t a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN: quiet
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 (halfway to 2^16) rounds to Inf
  if (a >= 0x38800000u) {                                  // normal half: rebias exponent 127 -> 15
    a -= 112u << 23;
    return uint16_t(sign | ((a + 0xfffu + ((a >> 13) & 1u)) >> 13));
  }
  // Subnormal half (or zero): value = m * 2^(e-150); in units of 2^-24 that is m >> (126 - e).
  uint32_t e = a >> 23;
  uint32_t shift = 126u - e;  // >= 14
  if (shift > 24) return sign;
  uint32_t m = (a & 0x7fffffu) | (e ? 0x800000u : 0u);
  uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;
  return uint16_t(sign | r);
}

}  // namespace ln4j::cpu

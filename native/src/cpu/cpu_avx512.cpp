// AVX-512 (F, BW, VL, DQ) path: 16 float / 8 double lanes, masked tails. Compiled alone with -mavx512*
// (cmake/Ln4jIsa.cmake); run only when CPUID reports them. The kernels are in row_kernels.inl.
//
// Compiled twice (cpu_kernels.h): as itself, the float32 kernels (the hot path, with the library's flags), and
// through cpu_avx512_more.cpp (LN4J_CPU_MORE_DTYPES) the float64, bfloat16 and float16 kernels, with the size flags
// of cmake/Ln4jIsa.cmake. The two units share everything but kUnit and the name of their table.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "../common/stats.h"
#include "cache_info.h"
#include "prefetch_tuner.h"
#include "cpu_kernels.h"
#include "dtype.h"

namespace ln4j::cpu {
namespace {

// float32 -> bfloat16, round to nearest even, NaN kept NaN (quiet), 16 lanes.
inline __m256i cvt_f32_bf16(__m512 v) {
  __m512i b = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), 16);
  __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff)),
                                          _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

inline __m512 cvt_bf16_f32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

struct VF {
  using A = float;
  using R = __m512;
  static constexpr int W = 16;
  static __mmask16 mask(int n) { return __mmask16((1u << n) - 1u); }
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(A v) { return _mm512_set1_ps(v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static A hsum(R v) {
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static R keep(R v, int n) { return _mm512_maskz_mov_ps(mask(n), v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static R load(const bf16_t* p) { return cvt_bf16_f32(_mm256_loadu_si256((const __m256i*)p)); }
  static R load(const f16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
  static R load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static R load_tail(const bf16_t* p, int n) { return cvt_bf16_f32(_mm256_maskz_loadu_epi16(mask(n), p)); }
  static R load_tail(const f16_t* p, int n) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask(n), p)); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static void store(bf16_t* p, R v) { _mm256_storeu_si256((__m256i*)p, cvt_f32_bf16(v)); }
  static void store(f16_t* p, R v) {
    _mm256_storeu_si256((__m256i*)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // Non-temporal stores: p aligned to W elements (stream_aligned in row_kernels.inl checks it).
  static constexpr bool kCanStream = true;
  static void stream(float* p, R v) { _mm512_stream_ps(p, v); }
  static void stream(bf16_t* p, R v) { _mm256_stream_si256((__m256i*)p, cvt_f32_bf16(v)); }
  static void stream(f16_t* p, R v) {
    _mm256_stream_si256((__m256i*)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void stream_fence() { _mm_sfence(); }
  static void store_tail(float* p, R v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static void store_tail(bf16_t* p, R v, int n) { _mm256_mask_storeu_epi16(p, mask(n), cvt_f32_bf16(v)); }
  static void store_tail(f16_t* p, R v, int n) {
    _mm256_mask_storeu_epi16(p, mask(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

struct VD {
  using A = double;
  using R = __m512d;
  static constexpr int W = 8;
  static __mmask8 mask(int n) { return __mmask8((1u << n) - 1u); }
  static R zero() { return _mm512_setzero_pd(); }
  static R set1(A v) { return _mm512_set1_pd(v); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static R sub(R a, R b) { return _mm512_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static A hsum(R v) {
    __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static R keep(R v, int n) { return _mm512_maskz_mov_pd(mask(n), v); }
  static R load(const double* p) { return _mm512_loadu_pd(p); }
  static R load_tail(const double* p, int n) { return _mm512_maskz_loadu_pd(mask(n), p); }
  static void store(double* p, R v) { _mm512_storeu_pd(p, v); }
  static constexpr bool kCanStream = true;
  static void stream(double* p, R v) { _mm512_stream_pd(p, v); }
  static void stream_fence() { _mm_sfence(); }
  static void store_tail(double* p, R v, int n) { _mm512_mask_storeu_pd(p, mask(n), v); }
};

#ifdef LN4J_CPU_MORE_DTYPES
constexpr DtypeUnit kUnit = DtypeUnit::kMore;
#else
constexpr DtypeUnit kUnit = DtypeUnit::kFloat32;
#endif

#include "row_kernels.inl"

}  // namespace

#ifdef LN4J_CPU_MORE_DTYPES
const CpuKernels& kernels_avx512_more() {
#else
const CpuKernels& kernels_avx512() {
#endif
  static const CpuKernels k{forward_entry, backward_entry, finalize_entry};
  return k;
}

}  // namespace ln4j::cpu

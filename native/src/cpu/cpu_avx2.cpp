// AVX2 + FMA + F16C path (8 float / 4 double lanes). Compiled alone with -mavx2 -mfma -mf16c
// (cmake/Ln4jIsa.cmake); run only when CPUID reports them. The kernels are in row_kernels.inl.
//
// Compiled twice (cpu_kernels.h): as itself, the float32 kernels (the hot path, with the library's flags), and
// through cpu_avx2_more.cpp (LN4J_CPU_MORE_DTYPES) the float64, bfloat16 and float16 kernels, with the size flags
// of cmake/Ln4jIsa.cmake. The two units share everything but kUnit and the name of their table.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../common/stats.h"
#include "cache_info.h"
#include "prefetch_tuner.h"
#include "cpu_kernels.h"
#include "dtype.h"

namespace ln4j::cpu {
namespace {

// float32 -> bfloat16, round to nearest even, NaN kept NaN (quiet), 8 lanes.
inline __m128i cvt_f32_bf16(__m256 v) {
  __m256i b = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
  __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)),
                                   _mm256_set1_epi32(0x7f800000));
  __m256i q = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
  r = _mm256_blendv_epi8(r, q, nan);
  __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
  return _mm256_castsi256_si128(packed);
}

struct VF {
  using A = float;
  using R = __m256;
  static constexpr int W = 8;
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(A v) { return _mm256_set1_ps(v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static A hsum(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static R keep(R v, int n) {
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_and_ps(v, _mm256_castsi256_ps(m));
  }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R load(const bf16_t* p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static R load(const f16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void store(bf16_t* p, R v) { _mm_storeu_si128((__m128i*)p, cvt_f32_bf16(v)); }
  static void store(f16_t* p, R v) { _mm_storeu_si128((__m128i*)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
  // Non-temporal stores: p aligned to W elements (stream_aligned in row_kernels.inl checks it).
  static constexpr bool kCanStream = true;
  static void stream(float* p, R v) { _mm256_stream_ps(p, v); }
  static void stream(bf16_t* p, R v) { _mm_stream_si128((__m128i*)p, cvt_f32_bf16(v)); }
  static void stream(f16_t* p, R v) { _mm_stream_si128((__m128i*)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
  static void stream_fence() { _mm_sfence(); }
  // Tails go through a zeroed stack buffer (n < W).
  template <class E>
  static R load_tail(const E* p, int n) {
    E tmp[W];
    std::memset(tmp, 0, sizeof tmp);
    std::memcpy(tmp, p, sizeof(E) * n);
    return load(tmp);
  }
  template <class E>
  static void store_tail(E* p, R v, int n) {
    E tmp[W];
    store(tmp, v);
    std::memcpy(p, tmp, sizeof(E) * n);
  }
};

struct VD {
  using A = double;
  using R = __m256d;
  static constexpr int W = 4;
  static R zero() { return _mm256_setzero_pd(); }
  static R set1(A v) { return _mm256_set1_pd(v); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R sub(R a, R b) { return _mm256_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static A hsum(R v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static R keep(R v, int n) {
    __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    return _mm256_and_pd(v, _mm256_castsi256_pd(m));
  }
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, R v) { _mm256_storeu_pd(p, v); }
  static constexpr bool kCanStream = true;
  static void stream(double* p, R v) { _mm256_stream_pd(p, v); }
  static void stream_fence() { _mm_sfence(); }
  static R load_tail(const double* p, int n) {
    double tmp[W] = {0, 0, 0, 0};
    std::memcpy(tmp, p, sizeof(double) * n);
    return load(tmp);
  }
  static void store_tail(double* p, R v, int n) {
    double tmp[W];
    store(tmp, v);
    std::memcpy(p, tmp, sizeof(double) * n);
  }
};

#ifdef LN4J_CPU_MORE_DTYPES
constexpr DtypeUnit kUnit = DtypeUnit::kMore;
#else
constexpr DtypeUnit kUnit = DtypeUnit::kFloat32;
#endif

#include "row_kernels.inl"

}  // namespace

#ifdef LN4J_CPU_MORE_DTYPES
const CpuKernels& kernels_avx2_more() {
#else
const CpuKernels& kernels_avx2() {
#endif
  static const CpuKernels k{forward_entry, backward_entry, finalize_entry};
  return k;
}

}  // namespace ln4j::cpu

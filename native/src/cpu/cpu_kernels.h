// What each ISA translation unit (cpu_scalar.cpp, cpu_avx2.cpp, cpu_avx512.cpp, and the *_more.cpp units) exports:
// row-range kernels that the dispatcher (cpu_dispatch.cpp) runs on blocks of rows, plus the column-range finalize
// of dgamma/dbeta.
#pragma once
#include <cstdint>

#include <type_traits>

#include "../common/args.h"
#include "../common/dtype_visit.h"
#include "dtype.h"

namespace ln4j::cpu {

struct CpuKernels {
  // Forward for rows [r0, r1).
  void (*forward)(const ForwardArgs& a, int64_t r0, int64_t r1);
  // Backward dx for rows [r0, r1); when partial_dgamma is not NULL also adds sum over those rows of dy*xhat and
  // dy into partial_dgamma / partial_dbeta ([cols] each, accumulation type: double for FLOAT64, else float);
  // the partials are overwritten (not added to) by the range's first row.
  void (*backward)(const BackwardArgs& a, int64_t r0, int64_t r1, void* partial_dgamma, void* partial_dbeta);
  // dgamma[c] = sum over b in 0..nblocks-1 (in this order) of partials[b * stride + c], for c in [c0, c1);
  // same for dbeta. Either output may be NULL.
  void (*finalize)(const BackwardArgs& a, const void* partial_dgamma, const void* partial_dbeta, int64_t nblocks,
                   int64_t stride, int64_t c0, int64_t c1);
};

// The CPU element type of a dtype code (see common/dtype_visit.h): float, double, bf16_t, f16_t.
template <int32_t D>
using CpuType = std::conditional_t<
    D == LN4J_FLOAT64, double,
    std::conditional_t<D == LN4J_BFLOAT16, bf16_t, std::conditional_t<D == LN4J_FLOAT16, f16_t, float>>>;

// The kernels of a SIMD ISA come in two units, compiled apart so that each has its own optimisation flags
// (cmake/Ln4jIsa.cmake): float32 data (the hot path: kernels_avx2 / kernels_avx512, from cpu_avx2.cpp /
// cpu_avx512.cpp) and float64, bfloat16 and float16 data (kernels_*_more, the same source compiled again through
// cpu_avx2_more.cpp / cpu_avx512_more.cpp). The scalar path is one unit. Each unit's forward and backward serve
// only its own x dtypes (kernels_for in cpu_dispatch.cpp picks the unit); finalize serves every param dtype.
enum class DtypeUnit { kFloat32, kMore, kAll };

template <DtypeUnit U, class X>
constexpr bool unit_has = U == DtypeUnit::kAll || (U == DtypeUnit::kFloat32) == std::is_same_v<X, float>;

const CpuKernels& kernels_scalar();
const CpuKernels& kernels_avx2();
const CpuKernels& kernels_avx2_more();
const CpuKernels& kernels_avx512();
const CpuKernels& kernels_avx512_more();

}  // namespace ln4j::cpu

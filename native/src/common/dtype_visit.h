// One dtype visitor for every backend: turns the runtime (x_dtype, param_dtype) pair of a call into compile-time
// tags, so each backend instantiates its kernels from one list of the pairs the contract allows (x_dtype with
// param_dtype equal to it, or FLOAT32 for the 16-bit types) instead of a switch of its own.
//
//   visit_dtypes(a.x_dtype, a.param_dtype, [&](auto x, auto p) { run<CpuType<x.value>, CpuType<p.value>>(a); },
//                [&] { /* a pair the checks let through: a bug */ });
//
// Each backend maps a tag's value to its element type (CPU: float, double, bf16_t, f16_t; CUDA: float, double,
// __nv_bfloat16, __half). Plain C++ that nvcc also compiles.
#pragma once
#include <cstdint>
#include <type_traits>

#include "layernorm4j/layernorm4j.h"

namespace ln4j {

template <int32_t D>
using DtypeTag = std::integral_constant<int32_t, D>;

// Calls f(DtypeTag<x_dtype>, DtypeTag<param_dtype>) for an allowed pair, else unknown(); returns what they return.
template <class F, class U>
decltype(auto) visit_dtypes(int32_t x_dtype, int32_t param_dtype, F&& f, U&& unknown) {
  const bool f32_params = param_dtype == LN4J_FLOAT32;
  if (x_dtype == LN4J_FLOAT32 && f32_params) return f(DtypeTag<LN4J_FLOAT32>{}, DtypeTag<LN4J_FLOAT32>{});
  if (x_dtype == LN4J_FLOAT64 && param_dtype == LN4J_FLOAT64)
    return f(DtypeTag<LN4J_FLOAT64>{}, DtypeTag<LN4J_FLOAT64>{});
  if (x_dtype == LN4J_BFLOAT16 && f32_params) return f(DtypeTag<LN4J_BFLOAT16>{}, DtypeTag<LN4J_FLOAT32>{});
  if (x_dtype == LN4J_BFLOAT16 && param_dtype == LN4J_BFLOAT16)
    return f(DtypeTag<LN4J_BFLOAT16>{}, DtypeTag<LN4J_BFLOAT16>{});
  if (x_dtype == LN4J_FLOAT16 && f32_params) return f(DtypeTag<LN4J_FLOAT16>{}, DtypeTag<LN4J_FLOAT32>{});
  if (x_dtype == LN4J_FLOAT16 && param_dtype == LN4J_FLOAT16)
    return f(DtypeTag<LN4J_FLOAT16>{}, DtypeTag<LN4J_FLOAT16>{});
  return unknown();
}

// Calls f(DtypeTag<dtype>) for a known dtype, else unknown().
template <class F, class U>
decltype(auto) visit_dtype(int32_t dtype, F&& f, U&& unknown) {
  switch (dtype) {
    case LN4J_FLOAT32: return f(DtypeTag<LN4J_FLOAT32>{});
    case LN4J_FLOAT64: return f(DtypeTag<LN4J_FLOAT64>{});
    case LN4J_BFLOAT16: return f(DtypeTag<LN4J_BFLOAT16>{});
    case LN4J_FLOAT16: return f(DtypeTag<LN4J_FLOAT16>{});
    default: return unknown();
  }
}

}  // namespace ln4j

// Scalar path: one lane per "register"; runs on any CPU. The kernels are in row_kernels.inl.
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

template <class T>
struct ScalarLanes {
  using A = T;
  using R = T;
  static constexpr int W = 1;
  static R zero() { return R(0); }
  static R set1(A v) { return v; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static A hsum(R v) { return v; }
  static R keep(R v, int n) { return n > 0 ? v : R(0); }
  static R load(const T* p) { return *p; }
  static R load(const bf16_t* p) { return R(bf16_to_f32(p->bits)); }
  static R load(const f16_t* p) { return R(f16_to_f32(p->bits)); }
  static void store(T* p, R v) { *p = v; }
  static void store(bf16_t* p, R v) { p->bits = f32_to_bf16(float(v)); }
  static void store(f16_t* p, R v) { p->bits = f32_to_f16(float(v)); }
  // No streaming stores on this path (the portable fallback): stream() is never reached.
  static constexpr bool kCanStream = false;
  template <class E>
  static void stream(E* p, R v) { store(p, v); }
  static void stream_fence() {}
  // W = 1: a tail has no element (never called), kept for the shared kernels.
  template <class E>
  static R load_tail(const E* p, int n) { return n > 0 ? load(p) : R(0); }
  template <class E>
  static void store_tail(E* p, R v, int n) { if (n > 0) store(p, v); }
};

using VF = ScalarLanes<float>;
using VD = ScalarLanes<double>;
constexpr DtypeUnit kUnit = DtypeUnit::kAll;

#define LN4J_CPU_SCALAR_UNIT 1  // built for size (row_kernels.inl: kSpecialisedLoops)
#include "row_kernels.inl"

}  // namespace

const CpuKernels& kernels_scalar() {
  static const CpuKernels k{forward_entry, backward_entry, finalize_entry};
  return k;
}

}  // namespace ln4j::cpu

// Device helpers shared by the CUDA kernels: dtype conversion (load/store), 16-byte packs, and deterministic
// warp/block reductions (sums and Welford/Chan merges in a fixed order, no atomics).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/stats.h"

// Kernel launches and dynamic shared memory go through these two macros, so that the kernels also compile with a
// host compiler for the CPU emulation test (tests/cuda/emu, where LN4J_CUDA_EMULATED is defined). The kernel
// comes last because a template-id has commas: LN4J_LAUNCH(grid, block, smem, stream, kernel<T, P>)(args).
#if defined(LN4J_CUDA_EMULATED)
#define LN4J_LAUNCH(grid, block, smem, stream, ...) ::emu::launcher(grid, block, smem, stream, __VA_ARGS__)
#define LN4J_DYNAMIC_SMEM(type, name) type* name = reinterpret_cast<type*>(::emu::dyn_smem())
#else
#define LN4J_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define LN4J_DYNAMIC_SMEM(type, name) extern __shared__ __align__(16) type name[]
#endif

namespace ln4j {
namespace cuda {

// Accumulation type: float for FLOAT32/BFLOAT16/FLOAT16 data, double for FLOAT64.
template <class T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};

// Conversion between a storage dtype and its accumulation type (round to nearest even on store).
template <class T>
struct Conv;
template <>
struct Conv<float> {
  static __device__ __forceinline__ float load(float v) { return v; }
  static __device__ __forceinline__ float store(float a) { return a; }
};
template <>
struct Conv<double> {
  static __device__ __forceinline__ double load(double v) { return v; }
  static __device__ __forceinline__ double store(double a) { return a; }
};
template <>
struct Conv<__nv_bfloat16> {
  static __device__ __forceinline__ float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 store(float a) { return __float2bfloat16_rn(a); }
};
template <>
struct Conv<__half> {
  static __device__ __forceinline__ float load(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half store(float a) { return __float2half_rn(a); }
};

// V elements of T moved as one 16-byte load or store.
template <class T>
struct Pack {
  static constexpr int V = 16 / sizeof(T);
  struct alignas(16) type {
    T v[V];
  };
};

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// The gamma actually applied at column j, g_eff: 1 when gamma is absent (affine off), gamma[j], or 1 + gamma[j]
// with LN4J_FLAG_ZERO_CENTERED_GAMMA (zc). beta (0 when absent). Both in the accumulation type.
template <class P, class A>
__device__ __forceinline__ A gamma_at(const P* gamma, int64_t j, bool zc) {
  if (!gamma) return A(1);
  const A g = A(Conv<P>::load(gamma[j]));
  return zc ? A(1) + g : g;
}
template <class P, class A>
__device__ __forceinline__ A beta_at(const P* beta, int64_t j) {
  return beta ? A(Conv<P>::load(beta[j])) : A(0);
}

// Sum over groups of `width` lanes (a power of two <= 32); every lane of the group gets the same bits
// (the xor butterfly adds the same two values in every lane, and IEEE addition commutes).
// All 32 lanes of the warp must call it.
template <class A>
__device__ __forceinline__ A group_sum(A v, int width) {
  for (int o = width / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o, width);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024) in a fixed order; every thread gets the result.
// Every thread of the block must call it.
template <class A>
__device__ __forceinline__ A block_sum(A v) {
  __shared__ A shared[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = group_sum(v, 32);
  __syncthreads();  // the previous call's readers are done with `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  A t = lane < warps ? shared[lane] : A(0);
  t = group_sum(t, 32);
  return t;
}

// Two sums at once (one pair of barriers), same contract as block_sum.
template <class A>
__device__ __forceinline__ void block_sum2(A& a, A& b) {
  __shared__ A shared[2][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  a = group_sum(a, 32);
  b = group_sum(b, 32);
  __syncthreads();
  if (lane == 0) {
    shared[0][warp] = a;
    shared[1][warp] = b;
  }
  __syncthreads();
  A ta = lane < warps ? shared[0][lane] : A(0);
  A tb = lane < warps ? shared[1][lane] : A(0);
  a = group_sum(ta, 32);
  b = group_sum(tb, 32);
}

template <class A>
__device__ __forceinline__ Welford<A> shfl_down_welford(const Welford<A>& w, int o) {
  Welford<A> r;
  r.count = __shfl_down_sync(0xffffffffu, w.count, o);
  r.mean = __shfl_down_sync(0xffffffffu, w.mean, o);
  r.m2 = __shfl_down_sync(0xffffffffu, w.m2, o);
  return r;
}

// Chan merge of every thread's Welford state over the block, in a fixed tree order (a merge is not exactly
// commutative, so lane 0 merges and broadcasts: every thread gets the same bits). All threads must call it.
template <class A>
__device__ __forceinline__ Welford<A> block_welford(Welford<A> w) {
  __shared__ A shared[3][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o /= 2) {
    Welford<A> other = shfl_down_welford(w, o);
    welford_merge(w, other);
  }
  __syncthreads();
  if (lane == 0) {
    shared[0][warp] = w.count;
    shared[1][warp] = w.mean;
    shared[2][warp] = w.m2;
  }
  __syncthreads();
  if (warp == 0) {
    Welford<A> t{A(0), A(0), A(0)};
    if (lane < warps) t = Welford<A>{shared[0][lane], shared[1][lane], shared[2][lane]};
    for (int o = 16; o > 0; o /= 2) {
      Welford<A> other = shfl_down_welford(t, o);
      welford_merge(t, other);
    }
    if (lane == 0) {
      shared[0][0] = t.count;
      shared[1][0] = t.mean;
      shared[2][0] = t.m2;
    }
  }
  __syncthreads();
  Welford<A> r{shared[0][0], shared[1][0], shared[2][0]};
  return r;
}

}  // namespace cuda
}  // namespace ln4j

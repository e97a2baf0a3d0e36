// Device helpers shared by the CUDA kernels: dtype conversion (load/store), 16-byte packs, and deterministic
// warp/block reductions (sums in a fixed order, no atomics), explicitly rounded arithmetic, and the CUDA side of
// the shared-memory opt-in (the rule itself: common/smem_optin.h).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/smem_optin.h"
#include "cuda_internal.h"


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

// Arithmetic with an explicit rounding (round to nearest even) for every operation whose result is kept: ptxas
// never contracts these into an FMA, whatever the architecture or the driver's JIT of the PTX, so a kernel gives
// the same bits on every GPU (and the host emulation in tests/cuda/emu, whose plain IEEE operations round the
// same way, gives those bits too). Division and sqrt are IEEE-rounded by default (no --use_fast_math).
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// Block reductions take their scratch from the kernel's dynamic shared memory (kScratchBytes at its start), so
// a kernel has no static shared memory and its whole shared-memory footprint is the launch's dynamic size.
constexpr int kScratchBytes = 2 * 32 * 8;

// Sum over groups of `width` lanes (a power of two <= 32); every lane of the group gets the same bits
// (the xor butterfly adds the same two values in every lane, and IEEE addition commutes).
// All 32 lanes of the warp must call it.
template <class A>
__device__ __forceinline__ A group_sum(A v, int width) {
  for (int o = width / 2; o > 0; o /= 2) v = add_rn(v, __shfl_xor_sync(0xffffffffu, v, o, width));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024) in a fixed order; every thread gets the result.
// Every thread of the block must call it. scratch: 32 A of shared memory.
template <class A>
__device__ __forceinline__ A block_sum(A v, A* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = group_sum(v, 32);
  __syncthreads();  // the previous call's readers are done with the scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  A t = lane < warps ? scratch[lane] : A(0);
  t = group_sum(t, 32);
  return t;
}

// Two sums at once (one pair of barriers), same contract as block_sum. scratch: 64 A of shared memory.
template <class A>
__device__ __forceinline__ void block_sum2(A& a, A& b, A* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  a = group_sum(a, 32);
  b = group_sum(b, 32);
  __syncthreads();
  if (lane == 0) {
    scratch[warp] = a;
    scratch[32 + warp] = b;
  }
  __syncthreads();
  A ta = lane < warps ? scratch[lane] : A(0);
  A tb = lane < warps ? scratch[32 + lane] : A(0);
  a = group_sum(ta, 32);
  b = group_sum(tb, 32);
}

// Dynamic shared memory beyond the default, by the rule of common/smem_optin.h: the most `kernel` may be launched
// with on `device` is the device's opt-in maximum less the kernel's static shared memory, set with
// cudaFuncSetAttribute once per device and kernel.
template <class Kernel>
int dynamic_smem_limit(Kernel* kernel, int device, int64_t* out, const char* fn, const char* kernel_name) {
  return SmemOptIn::process().limit(reinterpret_cast<const void*>(kernel), device, out, [&](int64_t* raised) {
    int optin = 0;
    if (int st = cuda_status(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), fn,
                             "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"))
      return st;
    cudaFuncAttributes fa{};
    if (int st = cuda_status(cudaFuncGetAttributes(&fa, kernel), fn, kernel_name)) return st;
    const int dyn = optin - int(fa.sharedSizeBytes);
    if (dyn <= 0)
      return fail(LN4J_ERR_CUDA, "%s: %s: no dynamic shared memory left (opt-in %d bytes, static %d)", fn,
                  kernel_name, optin, int(fa.sharedSizeBytes));
    if (int st = cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, dyn), fn,
                             "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"))
      return st;
    *raised = dyn;
    return LN4J_OK;
  });
}

// Whether `kernel` may be launched with `bytes` of dynamic shared memory on the current device (no runtime call
// up to the default).
template <class Kernel>
int smem_fits(Kernel* kernel, int64_t bytes, bool* fits, const char* fn, const char* kernel_name) {
  return dynamic_smem_fits(
      bytes, fits, [&](int* device) { return cuda_status(cudaGetDevice(device), fn, "cudaGetDevice"); },
      [&](int device, int64_t* limit) { return dynamic_smem_limit(kernel, device, limit, fn, kernel_name); });
}

// Errors left by earlier runtime calls of this thread (another library's failed launch, a failed copy) must not
// be reported against the next launch: clear them on entry. A sticky error (a lost context) cannot be cleared and
// fails the first checked call, before anything is launched.
inline void clear_stale_error() { (void)cudaGetLastError(); }

}  // namespace cuda
}  // namespace ln4j

// Test-only stand-in for <cuda_runtime.h>: lets a host C++ compiler build the CUDA kernels of src/cuda (with
// LN4J_CUDA_EMULATED defined) and run them on the CPU, so that the kernel logic (indexing, regimes, reductions,
// shuffles, barriers, the issue 5 variants) is executed by ctest on machines without a GPU.
// Model: one block at a time; its threads are coroutines switched only at __syncthreads and warp shuffles (each a
// barrier); "device" memory is host memory. It checks logic, not races, timing or the memory model.
// Types and host API declarations come from the toolkit's cuda_runtime_api.h; emu.cpp defines the functions used.
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <tuple>
#include <utility>

#ifndef __global__
#define __global__
#endif
#ifndef __device__
#define __device__
#endif
#ifndef __host__
#define __host__
#endif
#ifndef __forceinline__
#define __forceinline__ inline
#endif
#undef __shared__
#define __shared__ static  // one block runs at a time: a static is that block's shared memory
#define __launch_bounds__(...)
#undef __align__
#define __align__(n)
using std::max;
using std::min;
using std::sqrt;

namespace emu {
struct Idx {
  unsigned x, y, z;
};
extern Idx g_block, g_grid, g_bdim;
const Idx& thread_idx();
void syncthreads();
// Warp exchange: every lane of the warp offers `in`; lane gets the value of lane ^ arg (kind 0, xor) or
// lane + arg within its group of `width` lanes (kind 1, down; its own value past the group's end).
void warp_exchange(const void* in, void* out, int size, int kind, int arg, int width);
unsigned char* dyn_smem();
void launch(unsigned grid, unsigned block, size_t smem, std::function<void()> body);

template <class... P>
struct Launcher {
  unsigned grid, block;
  size_t smem;
  void (*kernel)(P...);
  template <class... A>
  void operator()(A&&... a) const {
    std::tuple<P...> args(std::forward<A>(a)...);
    auto k = kernel;
    launch(grid, block, smem, [k, args]() { std::apply(k, args); });
  }
};
template <class... P>
Launcher<P...> launcher(unsigned grid, unsigned block, size_t smem, cudaStream_t, void (*kernel)(P...)) {
  return Launcher<P...>{grid, block, smem, kernel};
}
}  // namespace emu

#define threadIdx (::emu::thread_idx())
#define blockIdx (::emu::g_block)
#define blockDim (::emu::g_bdim)
#define gridDim (::emu::g_grid)

inline void __syncthreads() { emu::syncthreads(); }
template <class T>
T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = 32) {
  T r;
  emu::warp_exchange(&v, &r, sizeof(T), 0, lane_mask, width);
  return r;
}
template <class T>
T __shfl_down_sync(unsigned, T v, int delta, int width = 32) {
  T r;
  emu::warp_exchange(&v, &r, sizeof(T), 1, delta, width);
  return r;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;
  if (v < old) *p = v;
  return old;
}
template <class F>
cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int) {
  return cudaSuccess;
}

// Test-only stand-in for <cuda_runtime.h>: lets a host C++ compiler build the CUDA kernels of src/cuda (with
// LN4J_CUDA_EMULATED defined) and run them on the CPU, so that the kernel logic (indexing, regimes, reductions,
// shuffles, barriers, the norm variants) is executed by ctest on machines without a GPU.
// Model: one block at a time (blocks in reverse order); its threads are coroutines switched only at
// __syncthreads and warp shuffles (each a barrier); "device" memory is host memory, allocated at its exact size
// (AddressSanitizer sees any access past the end). It checks logic, not races, timing or the memory model.
// What it enforces like a GPU (see emu.cpp): two device profiles (device 0: H100/H200-class, 227 KiB opt-in
// shared memory, 132 SMs; device 1: T4/sm_75-class, 64 KiB opt-in, 40 SMs), the 48 KiB default dynamic
// shared-memory limit and the per-kernel, per-device cudaFuncAttributeMaxDynamicSharedMemorySize, launch
// configuration errors (reported by cudaGetLastError, the kernel does not run), a per-thread last error and a
// sticky error per device, shared memory filled with fresh garbage for every block, and shuffle masks (every lane
// a mask names must arrive at the same shuffle; reading a lane outside the mask is reported). Static __shared__
// variables are not modelled and do not compile here: kernels take all shared memory from the dynamic block.
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
#define __shared__ static_shared_memory_is_not_modelled_by_the_emulation_use_LN4J_DYNAMIC_SMEM
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
// lane + arg within its group of `width` lanes (kind 1, down; its own value past the group's end). mask, file and
// line identify the call for the mask check.
void warp_exchange(unsigned mask, const void* in, void* out, int size, int kind, int arg, int width, const char* file,
                   int line);
unsigned char* dyn_smem();
// Runs the kernel body on every block, or records a launch-configuration error (cudaGetLastError) and runs nothing.
void launch(const void* kernel, unsigned grid, unsigned block, size_t smem, std::function<void()> body);
cudaError_t func_set_attribute(const void* kernel, cudaFuncAttribute attr, int value);
cudaError_t func_get_attributes(cudaFuncAttributes* out, const void* kernel);

// ---- test controls (tests/cuda/test_cuda.cpp under LN4J_CUDA_EMULATED) ----
struct Profile {
  const char* name;
  int sms;
  int smem_default;  // dynamic shared memory per block without the attribute
  int smem_optin;    // cudaDevAttrMaxSharedMemoryPerBlockOptin
  int major, minor;
};
int profile_count();
const Profile& profile(int device);
// The next call of the runtime function `api` (e.g. "cudaMemsetAsync", "launch") fails with `e` (once).
void inject_failure(const char* api, cudaError_t e);
// Every later call on `device` fails with `e` (a lost context); clear with cudaSuccess.
void set_sticky(int device, cudaError_t e);
// Sets this thread's last error as a failed call of someone else would.
void set_last_error(cudaError_t e);
// cudaGetDeviceCount answers `e` (e.g. cudaErrorInsufficientDriver) until reset with cudaSuccess.
void set_device_count_error(cudaError_t e);
// Counters: cudaFuncSetAttribute calls, kernel launches that ran.
long attribute_sets();
long launches();
// Kernel-model violations seen (bad shuffle masks, shuffles with exited lanes); each is printed once.
long violations();

template <class... P>
struct Launcher {
  unsigned grid, block;
  size_t smem;
  void (*kernel)(P...);
  template <class... A>
  void operator()(A&&... a) const {
    std::tuple<P...> args(std::forward<A>(a)...);
    auto k = kernel;
    launch(reinterpret_cast<const void*>(k), grid, block, smem, [k, args]() { std::apply(k, args); });
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
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  T r;
  emu::warp_exchange(mask, &v, &r, sizeof(T), 0, lane_mask, width, file, line);
  return r;
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, int delta, int width = 32, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  T r;
  emu::warp_exchange(mask, &v, &r, sizeof(T), 1, delta, width, file, line);
  return r;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;
  if (v < old) *p = v;
  return old;
}
// Explicitly rounded arithmetic: the host's IEEE operations round to nearest even as these do (x86-64 SSE, no
// excess precision; the emulation is not built with FMA contraction).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  return emu::func_set_attribute(reinterpret_cast<const void*>(kernel), attr, value);
}
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* out, F* kernel) {
  return emu::func_get_attributes(out, reinterpret_cast<const void*>(kernel));
}

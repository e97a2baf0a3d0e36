// CPU emulation of the CUDA subset the kernels use (see cuda_runtime.h here). Threads of a block are coroutines
// with their own stacks, switched by a minimal x86-64 System V context switch (callee-saved registers + stack
// pointer); a waiting thread yields to the scheduler, which runs the block's threads round-robin.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

extern "C" void ln4j_emu_switch(void** save_sp, void* new_sp);
asm(R"(
.text
.globl ln4j_emu_switch
.type ln4j_emu_switch,@function
ln4j_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.section .note.GNU-stack,"",@progbits
.text
)");

namespace emu {
Idx g_block, g_grid, g_bdim;
namespace {

// Device 0 stands for an H100/H200 (sm_90), device 1 for a T4 (sm_75): their shared-memory limits decide the
// regimes, so both kinds of GPU's choices run in ctest.
const Profile kProfiles[] = {
    {"H200-class sm_90 (227 KiB opt-in shared memory, 132 SMs)", 132, 48 * 1024, 227 * 1024, 9, 0},
    {"T4-class sm_75 (64 KiB opt-in shared memory, 40 SMs)", 40, 48 * 1024, 64 * 1024, 7, 5},
};
constexpr int kDevices = int(sizeof kProfiles / sizeof kProfiles[0]);

struct Thread {
  Idx tid;
  void* sp = nullptr;
  bool done = false;
  const unsigned long* wait = nullptr;  // the generation counter of the barrier it waits at (nullptr: runnable)
  unsigned long wait_gen = 0;           // ... while it still holds this value
};
struct Warp {
  int arrived = 0;
  unsigned long gen = 0;
  int alive = 32;
  unsigned char buf[32][8];
  unsigned mask[32];
  const char* file[32];
  int line[32];
};

std::vector<Thread> threads;
std::vector<std::vector<char>> stacks;
std::vector<Warp> warps;
void* sched_sp = nullptr;
int current = 0;
int alive = 0;
int block_arrived = 0;
unsigned long block_gen = 0;
unsigned long events = 0;  // arrivals, releases and exits: a scheduler round without any is a deadlock
std::function<void()> body;
unsigned char* smem = nullptr;  // this block's dynamic shared memory, exactly the launch's size

thread_local int current_device = 0;
thread_local cudaError_t last_error = cudaSuccess;
cudaError_t sticky[kDevices] = {};
cudaError_t device_count_error = cudaSuccess;
std::map<std::string, cudaError_t> injected;
std::map<std::pair<const void*, int>, int> max_dynamic;  // (kernel, device) -> attribute
long n_attribute_sets = 0, n_launches = 0, n_violations = 0;
unsigned long long launch_serial = 0;

void violation(const char* fmt, const char* a, int b, unsigned c) {
  if (n_violations++ < 10) {
    std::fprintf(stderr, "emu: kernel-model violation: ");
    std::fprintf(stderr, fmt, a, b, c);
    std::fprintf(stderr, "\n");
  }
}

// The bookkeeping of every emulated runtime call: a sticky error of the current device fails it; an injected
// failure fails it once; a failure becomes the thread's last error.
cudaError_t enter(const char* api) {
  if (sticky[current_device] != cudaSuccess) return last_error = sticky[current_device];
  auto it = injected.find(api);
  if (it != injected.end()) {
    const cudaError_t e = it->second;
    injected.erase(it);
    return last_error = e;
  }
  return cudaSuccess;
}
cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

void yield() { ln4j_emu_switch(&threads[current].sp, sched_sp); }

void release_if_complete() {
  if (block_arrived > 0 && block_arrived == alive) {
    block_arrived = 0;
    ++block_gen;
    ++events;
  }
  Warp& w = warps[current / 32];
  if (w.arrived > 0 && w.arrived == w.alive) {
    w.arrived = 0;
    ++w.gen;
    ++events;
  }
}

void entry() {
  body();
  threads[current].done = true;  // an exited thread no longer counts at barriers (as on Volta and newer)
  --alive;
  --warps[current / 32].alive;
  ++events;
  release_if_complete();
  ln4j_emu_switch(&threads[current].sp, sched_sp);
  std::abort();  // never resumed
}

// Waits until *gen moves past g; the scheduler does not switch to the thread before that.
void wait_for(const unsigned long* gen, unsigned long g) {
  threads[current].wait = gen;
  threads[current].wait_gen = g;
  while (*gen == g) yield();
  threads[current].wait = nullptr;
}

void warp_barrier() {
  Warp& w = warps[current / 32];
  const unsigned long g = w.gen;
  ++w.arrived;
  ++events;
  release_if_complete();
  wait_for(&w.gen, g);
}

// Fresh garbage for every block (xorshift of the launch and block numbers): a kernel that reads shared memory it
// did not write in this block sees noise, not zeros or the previous block's data.
void fill_garbage(unsigned char* p, size_t n, unsigned long long seed) {
  unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    p[i] = static_cast<unsigned char>(s >> 32);
  }
}

}  // namespace

int profile_count() { return kDevices; }
const Profile& profile(int device) { return kProfiles[device]; }
void inject_failure(const char* api, cudaError_t e) { injected[api] = e; }
void set_sticky(int device, cudaError_t e) { sticky[device] = e; }
void set_last_error(cudaError_t e) { last_error = e; }
void set_device_count_error(cudaError_t e) { device_count_error = e; }
long attribute_sets() { return n_attribute_sets; }
long launches() { return n_launches; }
long violations() { return n_violations; }

const Idx& thread_idx() { return threads[current].tid; }

void syncthreads() {
  const unsigned long g = block_gen;
  ++block_arrived;
  ++events;
  release_if_complete();
  wait_for(&block_gen, g);
}

void warp_exchange(unsigned mask, const void* in, void* out, int size, int kind, int arg, int width, const char* file,
                   int line) {
  Warp& w = warps[current / 32];
  const int lane = current % 32, group = lane / width * width;
  std::memcpy(w.buf[lane], in, size_t(size));
  w.mask[lane] = mask;
  w.file[lane] = file;
  w.line[lane] = line;
  warp_barrier();
  // Every lane the mask names must be at this same shuffle with the same mask; each lane must be in its own mask.
  // Checked once per warp and shuffle (by lane 0), with the call site compared by its line and file pointer.
  if (lane == 0) {
    if (w.alive != 32) violation("shuffle at %s:%d in a warp with exited lanes (mask 0x%x)", file, line, mask);
    bool uniform = true;
    for (int l = 1; l < 32 && uniform; ++l)
      uniform = w.mask[l] == w.mask[0] && w.line[l] == w.line[0] && w.file[l] == w.file[0];
    if (uniform && w.mask[0] == 0xffffffffu) {
      // the usual case: the whole warp at one shuffle with the full mask
    } else for (int l = 0; l < 32; ++l) {
      if (!(w.mask[l] >> l & 1u))
        violation("shuffle at %s:%d: a calling lane is not in its own mask 0x%x", w.file[l], w.line[l], w.mask[l]);
      for (int m = 0; m < 32; ++m)
        if ((w.mask[l] >> m & 1u) && (w.mask[m] != w.mask[l] || w.line[m] != w.line[l] || w.file[m] != w.file[l]))
          violation("shuffle at %s:%d: a lane named by mask 0x%x is at another shuffle or has another mask",
                    w.file[l], w.line[l], w.mask[l]);
    }
  }
  int src = kind == 0 ? (lane ^ arg) : lane + arg;
  if (kind == 1 && src >= group + width) src = lane;
  if (src < 0 || src > 31) src = lane;
  if (!(mask >> src & 1u)) violation("shuffle at %s:%d reads a lane outside its mask 0x%x", file, line, mask);
  std::memcpy(out, w.buf[src], size_t(size));
  warp_barrier();
}

unsigned char* dyn_smem() { return smem; }

cudaError_t func_set_attribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (cudaError_t e = enter("cudaFuncSetAttribute")) return e;
  ++n_attribute_sets;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || value > kProfiles[current_device].smem_optin) return set_error(cudaErrorInvalidValue);
  max_dynamic[{kernel, current_device}] = value;
  return cudaSuccess;
}

cudaError_t func_get_attributes(cudaFuncAttributes* out, const void* kernel) {
  if (cudaError_t e = enter("cudaFuncGetAttributes")) return e;
  std::memset(out, 0, sizeof *out);
  out->sharedSizeBytes = 0;  // no static shared memory in the emulation (see cuda_runtime.h)
  out->maxThreadsPerBlock = 1024;
  const auto it = max_dynamic.find({kernel, current_device});
  out->maxDynamicSharedSizeBytes = it != max_dynamic.end() ? it->second : kProfiles[current_device].smem_default;
  return cudaSuccess;
}

void launch(const void* kernel, unsigned grid, unsigned block, size_t sm, std::function<void()> b) {
  if (enter("launch") != cudaSuccess) return;
  if (grid == 0 || grid > 0x7fffffffu || block == 0 || block > 1024) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  const auto it = max_dynamic.find({kernel, current_device});
  const size_t limit = size_t(it != max_dynamic.end() ? it->second : kProfiles[current_device].smem_default);
  if (sm > limit) {  // what a GPU answers for more dynamic shared memory than the kernel's attribute allows
    last_error = cudaErrorInvalidValue;
    return;
  }
  if (block % 32 != 0) {
    std::fprintf(stderr, "emu: block=%u is not a multiple of 32 (not modelled)\n", block);
    std::abort();
  }
  ++n_launches;
  ++launch_serial;
  body = std::move(b);
  g_grid = {grid, 1, 1};
  g_bdim = {block, 1, 1};
  threads.assign(block, Thread{});
  if (stacks.size() < block) stacks.resize(block, std::vector<char>(128 * 1024));
  std::unique_ptr<unsigned char[]> shared(new unsigned char[sm > 0 ? sm : 1]);
  smem = sm > 0 ? shared.get() : nullptr;
  for (unsigned i = 0; i < grid; ++i) {
    const unsigned bx = grid - 1 - i;  // reverse order: no block may rely on running after another
    g_block = {bx, 0, 0};
    if (sm > 0) fill_garbage(smem, sm, launch_serial * 1000003ull + bx);
    warps.assign(block / 32, Warp{});
    alive = int(block);
    block_arrived = 0;
    for (unsigned t = 0; t < block; ++t) {
      Thread& th = threads[t];
      th.done = false;
      th.wait = nullptr;
      th.tid = {t, 0, 0};
      // Initial frame: 6 callee-saved registers (0), then the return address `entry`, 16-byte aligned so that
      // entry starts with the stack alignment of a normal call.
      const uintptr_t top = (reinterpret_cast<uintptr_t>(stacks[t].data()) + stacks[t].size()) & ~uintptr_t(15);
      void** ret = reinterpret_cast<void**>(top - 16);
      ret[0] = reinterpret_cast<void*>(&entry);
      for (int r = 1; r <= 6; ++r) ret[-r] = nullptr;
      th.sp = reinterpret_cast<void*>(ret - 6);
    }
    for (int left = int(block); left > 0;) {
      const unsigned long before = events;
      left = 0;
      for (unsigned t = 0; t < block; ++t) {
        if (threads[t].done) continue;
        if (threads[t].wait && *threads[t].wait == threads[t].wait_gen) {  // still blocked: no switch
          ++left;
          continue;
        }
        current = int(t);
        ln4j_emu_switch(&sched_sp, threads[t].sp);
        if (!threads[t].done) ++left;
      }
      if (left > 0 && events == before) {
        std::fprintf(stderr,
                     "emu: deadlock in block %u: threads wait at different barriers (divergent __syncthreads or "
                     "shuffle)\n",
                     bx);
        std::abort();
      }
    }
  }
  smem = nullptr;
}

}  // namespace emu

// ---- the runtime API on host memory ----
extern "C" {
cudaError_t cudaMalloc(void** p, size_t n) {
  if (cudaError_t e = emu::enter("cudaMalloc")) return e;
  *p = nullptr;
  if (n > (size_t(1) << 30)) return emu::set_error(cudaErrorMemoryAllocation);  // > 2^31-element case skipped
  // Exact size, 256-byte aligned as cudaMalloc's blocks are: AddressSanitizer reports any access past the end.
  void* q = nullptr;
  if (posix_memalign(&q, 256, n ? n : 1) != 0) return emu::set_error(cudaErrorMemoryAllocation);
  *p = q;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (cudaError_t e = emu::enter("cudaFree")) return e;
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  if (cudaError_t e = emu::enter("cudaMemset")) return e;
  if (!p && n) return emu::set_error(cudaErrorInvalidValue);
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) {
  if (cudaError_t e = emu::enter("cudaMemsetAsync")) return e;
  if (!p && n) return emu::set_error(cudaErrorInvalidValue);
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (cudaError_t e = emu::enter("cudaMemcpy")) return e;
  if ((!d || !s) && n) return emu::set_error(cudaErrorInvalidValue);
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  if (cudaError_t e = emu::enter("cudaMemcpyAsync")) return e;
  if ((!d || !s) && n) return emu::set_error(cudaErrorInvalidValue);
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return emu::enter("cudaDeviceSynchronize"); }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return emu::enter("cudaStreamSynchronize"); }
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = emu::last_error;
  if (emu::sticky[emu::current_device] == cudaSuccess) emu::last_error = cudaSuccess;  // a sticky error stays
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return emu::last_error; }
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorEmulated";
  }
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    default: return "emulated error";
  }
}
cudaError_t cudaGetDeviceCount(int* n) {
  *n = 0;
  if (emu::device_count_error != cudaSuccess) return emu::set_error(emu::device_count_error);
  *n = emu::kDevices;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= emu::kDevices) return emu::set_error(cudaErrorInvalidDevice);
  emu::current_device = d;
  return emu::enter("cudaSetDevice");
}
cudaError_t cudaGetDevice(int* d) {
  if (cudaError_t e = emu::enter("cudaGetDevice")) return e;
  *d = emu::current_device;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int d) {
  if (cudaError_t e = emu::enter("cudaDeviceGetAttribute")) return e;
  if (d < 0 || d >= emu::kDevices) return emu::set_error(cudaErrorInvalidDevice);
  const emu::Profile& p = emu::kProfiles[d];
  switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = p.smem_optin; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = p.smem_default; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *v = p.sms; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *v = p.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *v = p.minor; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock: *v = 1024; return cudaSuccess;
    default: return emu::set_error(cudaErrorInvalidValue);
  }
}
}

// CPU emulation of the CUDA subset the kernels use (see cuda_runtime.h here). Threads of a block are coroutines
// with their own stacks, switched by a minimal x86-64 System V context switch (callee-saved registers + stack
// pointer); a waiting thread yields to the scheduler, which runs the block's threads round-robin.
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

struct Thread {
  Idx tid;
  void* sp = nullptr;
  bool done = false;
};
struct Warp {
  int arrived = 0;
  unsigned long gen = 0;
  int alive = 32;
  unsigned char buf[32][8];
};

std::vector<Thread> threads;
std::vector<std::vector<char>> stacks;
std::vector<Warp> warps;
void* sched_sp = nullptr;
int current = 0;
int alive = 0;
int block_arrived = 0;
unsigned long block_gen = 0;
std::function<void()> body;
std::vector<unsigned char> smem(256 * 1024);

void yield() { ln4j_emu_switch(&threads[current].sp, sched_sp); }

void release_if_complete() {
  if (block_arrived > 0 && block_arrived == alive) {
    block_arrived = 0;
    ++block_gen;
  }
  Warp& w = warps[current / 32];
  if (w.arrived > 0 && w.arrived == w.alive) {
    w.arrived = 0;
    ++w.gen;
  }
}

void entry() {
  body();
  threads[current].done = true;  // an exited thread no longer counts at barriers (as on Volta and newer)
  --alive;
  --warps[current / 32].alive;
  release_if_complete();
  ln4j_emu_switch(&threads[current].sp, sched_sp);
  std::abort();  // never resumed
}

void warp_barrier() {
  Warp& w = warps[current / 32];
  const unsigned long g = w.gen;
  ++w.arrived;
  release_if_complete();
  while (w.gen == g) yield();
}

}  // namespace

const Idx& thread_idx() { return threads[current].tid; }

void syncthreads() {
  const unsigned long g = block_gen;
  ++block_arrived;
  release_if_complete();
  while (block_gen == g) yield();
}

void warp_exchange(const void* in, void* out, int size, int kind, int arg, int width) {
  Warp& w = warps[current / 32];
  const int lane = current % 32, group = lane / width * width;
  std::memcpy(w.buf[lane], in, size_t(size));
  warp_barrier();
  int src = kind == 0 ? (lane ^ arg) : lane + arg;
  if (kind == 1 && src >= group + width) src = lane;
  if (w.alive != 32) {
    std::fprintf(stderr, "emu: shuffle in a warp with exited lanes\n");
    std::abort();
  }
  std::memcpy(out, w.buf[src], size_t(size));
  warp_barrier();
}

unsigned char* dyn_smem() { return smem.data(); }

void launch(unsigned grid, unsigned block, size_t sm, std::function<void()> b) {
  if (grid == 0 || block == 0 || block % 32 != 0 || block > 1024 || sm > smem.size()) {
    std::fprintf(stderr, "emu: bad launch grid=%u block=%u smem=%zu\n", grid, block, sm);
    std::abort();
  }
  body = std::move(b);
  g_grid = {grid, 1, 1};
  g_bdim = {block, 1, 1};
  threads.assign(block, Thread{});
  if (stacks.size() < block) stacks.resize(block, std::vector<char>(128 * 1024));
  for (unsigned bx = 0; bx < grid; ++bx) {
    g_block = {bx, 0, 0};
    std::memset(smem.data(), 0xA5, std::min(smem.size(), sm + 64));  // garbage, as real shared memory holds
    warps.assign(block / 32, Warp{});
    alive = int(block);
    block_arrived = 0;
    for (unsigned i = 0; i < block; ++i) {
      Thread& t = threads[i];
      t.done = false;
      t.tid = {i, 0, 0};
      // Initial frame: 6 callee-saved registers (0), then the return address `entry`, 16-byte aligned so that
      // entry starts with the stack alignment of a normal call.
      const uintptr_t top = (reinterpret_cast<uintptr_t>(stacks[i].data()) + stacks[i].size()) & ~uintptr_t(15);
      void** ret = reinterpret_cast<void**>(top - 16);
      ret[0] = reinterpret_cast<void*>(&entry);
      for (int r = 1; r <= 6; ++r) ret[-r] = nullptr;
      t.sp = reinterpret_cast<void*>(ret - 6);
    }
    for (int left = int(block); left > 0;) {
      left = 0;
      for (unsigned i = 0; i < block; ++i) {
        if (threads[i].done) continue;
        current = int(i);
        ln4j_emu_switch(&sched_sp, threads[i].sp);
        if (!threads[i].done) ++left;
      }
    }
  }
}

}  // namespace emu

// ---- the runtime API on host memory (one emulated device, 227 KiB of opt-in shared memory per block) ----
extern "C" {
cudaError_t cudaMalloc(void** p, size_t n) {
  if (n > (size_t(1) << 30)) return cudaErrorMemoryAllocation;  // the > 2^31-element case is skipped
#if defined(__SANITIZE_ADDRESS__)
  *p = std::malloc(n ? n : 1);  // exact size: AddressSanitizer then reports any access past the end
#else
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256);
#endif
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) {
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
const char* cudaGetErrorString(cudaError_t) { return "emulated"; }
cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = 227 * 1024;
  return cudaSuccess;
}
}

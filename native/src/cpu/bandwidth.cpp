// Memory-bandwidth probes (C API: ln4j_cpu_bandwidth_*): the loops a benchmark's ceiling is timed with -- native/bench's
// ln4j_bench, the CLI's bench and JMH -- so that every harness measures the same ceiling, on the threads the kernels
// run on (this library's pool, the same hand-out of blocks to the caller and its helpers, the same inline rule):
//   copy:  bytes from src to dst (the forward's read one, write one)
//   r2w1:  dst = a + b over the same bytes of floats in each (the backward's read two, write one)
// each in five kinds (LN4J_BANDWIDTH_*): a loop with ordinary stores, the same loop with non-temporal (streaming)
// stores, each of those two with software prefetches ahead of it, and the C library's memcpy moving the same bytes
// (which picks its own stores). A harness takes the fastest: on some CPUs an ordinary store first reads the line it
// writes, and streaming stores move the same bytes up to twice as fast from DRAM; in cache, ordinary stores win.
// The loops are plain C++; GCC vectorizes them for each ISA (target_clones picks the widest this CPU has) and CMake
// compiles this file with -fno-tree-loop-distribute-patterns so the copy stays our loop, not memcpy.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bandwidth.h"
#include "cpu_backend.h"
#include "thread_pool.h"

namespace ln4j::cpu {
namespace {

__attribute__((target_clones("avx512f", "avx2", "default"))) void copy_floats(float* __restrict d,
                                                                              const float* __restrict s, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = s[i];
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void add_floats(float* __restrict d,
                                                                             const float* __restrict a,
                                                                             const float* __restrict b, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = a[i] + b[i];
}

// The ordinary-store loops again, asking for their lines ahead: PREFETCHT0 for the sources and PREFETCHW (a NOP on
// x86 processors without it) for the destination, kAheadFloats ahead, the first kAheadFloats at once. A copy too
// short for the hardware prefetchers to ramp up (a cold 1 x 768 row: 48 lines each way) moves faster when every
// line is asked for at once, as the kernels do for their output rows; without this kind the library beat the
// "ceiling" there (137% at 1 x 768, cold).
constexpr size_t kAheadFloats = 32 * 16;  // 32 lines of 64 bytes
inline void ask_line(const float* p) { __builtin_prefetch(p, 0, 3); }
inline void ask_line_for_write(float* p) { asm("prefetchw %0" ::"m"(*(const char*)p)); }

__attribute__((target_clones("avx512f", "avx2", "default"))) void copy_prefetched(float* __restrict d,
                                                                                  const float* __restrict s, size_t n) {
  for (size_t p = 0; p < n && p < kAheadFloats; p += 16) {
    ask_line(s + p);
    ask_line_for_write(d + p);
  }
  for (size_t i = 0; i < n; i += 16) {
    if (i + kAheadFloats < n) {
      ask_line(s + i + kAheadFloats);
      ask_line_for_write(d + i + kAheadFloats);
    }
    const size_t e = std::min(n, i + 16);
    for (size_t k = i; k < e; ++k) d[k] = s[k];
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void add_prefetched(float* __restrict d,
                                                                                 const float* __restrict a,
                                                                                 const float* __restrict b, size_t n) {
  for (size_t p = 0; p < n && p < kAheadFloats; p += 16) {
    ask_line(a + p);
    ask_line(b + p);
    ask_line_for_write(d + p);
  }
  for (size_t i = 0; i < n; i += 16) {
    if (i + kAheadFloats < n) {
      ask_line(a + i + kAheadFloats);
      ask_line(b + i + kAheadFloats);
      ask_line_for_write(d + i + kAheadFloats);
    }
    const size_t e = std::min(n, i + 16);
    for (size_t k = i; k < e; ++k) d[k] = a[k] + b[k];
  }
}

// Streaming-store loops: AVX (32-byte stores) where the CPU has it, else SSE2 (16-byte, every x86-64). The
// destination is first brought to the store's alignment with ordinary stores. Ahead: the loop also asks for its
// source lines kAheadFloats ahead into L2 (PREFETCHT1), as the kernels ask for the rows they read next (the
// "prefetched non-temporal-store" kind: with the kernels' own L2 prefetches the cold 5461 x 768 forward had read
// 109% of a ceiling without it, Zen 4, 1 thread).
inline void ask_line_l2(const float* p) { __builtin_prefetch(p, 0, 2); }
template <bool Ahead>
__attribute__((target("avx"))) void copy_stream_avx(float* d, const float* s, size_t n) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(d + i) & 31); ++i) d[i] = s[i];
  for (; i + 16 <= n; i += 16) {
    if (Ahead && i + kAheadFloats < n) ask_line_l2(s + i + kAheadFloats);
    _mm256_stream_ps(d + i, _mm256_loadu_ps(s + i));
    _mm256_stream_ps(d + i + 8, _mm256_loadu_ps(s + i + 8));
  }
  for (; i < n; ++i) d[i] = s[i];
  _mm_sfence();
}
template <bool Ahead>
void copy_stream_sse(float* d, const float* s, size_t n) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(d + i) & 15); ++i) d[i] = s[i];
  for (; i + 16 <= n; i += 16) {
    if (Ahead && i + kAheadFloats < n) ask_line_l2(s + i + kAheadFloats);
    for (size_t k = i; k < i + 16; k += 4) _mm_stream_ps(d + k, _mm_loadu_ps(s + k));
  }
  for (; i < n; ++i) d[i] = s[i];
  _mm_sfence();
}
template <bool Ahead>
__attribute__((target("avx"))) void add_stream_avx(float* d, const float* a, const float* b, size_t n) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(d + i) & 31); ++i) d[i] = a[i] + b[i];
  for (; i + 16 <= n; i += 16) {
    if (Ahead && i + kAheadFloats < n) {
      ask_line_l2(a + i + kAheadFloats);
      ask_line_l2(b + i + kAheadFloats);
    }
    _mm256_stream_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    _mm256_stream_ps(d + i + 8, _mm256_add_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8)));
  }
  for (; i < n; ++i) d[i] = a[i] + b[i];
  _mm_sfence();
}
template <bool Ahead>
void add_stream_sse(float* d, const float* a, const float* b, size_t n) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(d + i) & 15); ++i) d[i] = a[i] + b[i];
  for (; i + 16 <= n; i += 16) {
    if (Ahead && i + kAheadFloats < n) {
      ask_line_l2(a + i + kAheadFloats);
      ask_line_l2(b + i + kAheadFloats);
    }
    for (size_t k = i; k < i + 16; k += 4) _mm_stream_ps(d + k, _mm_add_ps(_mm_loadu_ps(a + k), _mm_loadu_ps(b + k)));
  }
  for (; i < n; ++i) d[i] = a[i] + b[i];
  _mm_sfence();
}
bool have_avx() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") != 0;
  }();
  return yes;
}

struct Probe {
  int32_t kind;
  float* dst;
  const float* a;
  const float* b;        // nullptr: a copy
  int64_t n;             // floats each block range is cut from
  int64_t block;         // floats per block (a multiple of 16: blocks start on 64-byte lines)

  static void run(void* ctx, int64_t blk) {
    const Probe& p = *static_cast<const Probe*>(ctx);
    const int64_t lo = blk * p.block, hi = std::min(p.n, lo + p.block);
    float* d = p.dst + lo;
    const float* x = p.a + lo;
    const size_t m = size_t(hi - lo);
    if (!p.b) {
      switch (p.kind) {
        case LN4J_BANDWIDTH_ORDINARY: copy_floats(d, x, m); break;
        case LN4J_BANDWIDTH_STREAM: have_avx() ? copy_stream_avx<false>(d, x, m) : copy_stream_sse<false>(d, x, m); break;
        case LN4J_BANDWIDTH_PREFETCHED: copy_prefetched(d, x, m); break;
        case LN4J_BANDWIDTH_STREAM_PREFETCHED:
          have_avx() ? copy_stream_avx<true>(d, x, m) : copy_stream_sse<true>(d, x, m);
          break;
        default: std::memcpy(d, x, m * sizeof(float)); break;
      }
      return;
    }
    const float* y = p.b + lo;
    switch (p.kind) {
      case LN4J_BANDWIDTH_ORDINARY: add_floats(d, x, y, m); break;
      case LN4J_BANDWIDTH_STREAM: have_avx() ? add_stream_avx<false>(d, x, y, m) : add_stream_sse<false>(d, x, y, m); break;
      case LN4J_BANDWIDTH_PREFETCHED: add_prefetched(d, x, y, m); break;
      case LN4J_BANDWIDTH_STREAM_PREFETCHED:
        have_avx() ? add_stream_avx<true>(d, x, y, m) : add_stream_sse<true>(d, x, y, m);
        break;
      default: std::memcpy(d, x, m * sizeof(float)); break;
    }
  }
};

// Blocks as the forward kernels cut theirs (cpu_dispatch.cpp): up to 1 MiB of the destination, at least ~16 of
// them so that medium sizes still spread over the threads; helpers as for a kernel call reading `read_bytes`.
void run_probe(Probe p, int64_t read_bytes, int32_t threads) {
  if (p.n <= 0) return;
  const int64_t bytes = p.n * int64_t(sizeof(float));
  const int64_t block_bytes = std::min<int64_t>(1 << 20, std::max<int64_t>(32 << 10, bytes / 16));
  p.block = std::max<int64_t>(16, block_bytes / int64_t(sizeof(float)) / 16 * 16);
  const int64_t nblocks = (p.n + p.block - 1) / p.block;
  run_parallel(&Probe::run, &p, nblocks, helpers_for(threads, nblocks, read_bytes));
}

}  // namespace

const char* bandwidth_kind_name(int32_t kind) {
  switch (kind) {
    case LN4J_BANDWIDTH_ORDINARY: return "ordinary-store loop";
    case LN4J_BANDWIDTH_STREAM: return "non-temporal-store loop";
    case LN4J_BANDWIDTH_PREFETCHED: return "prefetched ordinary-store loop";
    case LN4J_BANDWIDTH_STREAM_PREFETCHED: return "prefetched non-temporal-store loop";
    case LN4J_BANDWIDTH_MEMCPY: return "memcpy";
    default: return "unknown";
  }
}

void bandwidth_copy(int32_t kind, void* dst, const void* src, int64_t bytes, int32_t threads) {
  run_probe({kind, static_cast<float*>(dst), static_cast<const float*>(src), nullptr, bytes / 4, 0}, bytes, threads);
}

// The memcpy kind moves the same total bytes (3 x bytes: read 1.5 x, write 1.5 x) from a to dst.
void bandwidth_r2w1(int32_t kind, void* dst, const void* a, const void* b, int64_t bytes, int32_t threads) {
  const int64_t n = bytes / 4;
  if (kind == LN4J_BANDWIDTH_MEMCPY) {
    run_probe({kind, static_cast<float*>(dst), static_cast<const float*>(a), nullptr, n * 3 / 2, 0}, 3 * bytes / 2,
              threads);
    return;
  }
  run_probe({kind, static_cast<float*>(dst), static_cast<const float*>(a), static_cast<const float*>(b), n, 0},
            2 * bytes, threads);
}

}  // namespace ln4j::cpu

// Bandwidth ceilings measured in the same run as the kernels, on the same number of threads:
//   forward:  a copy of the same bytes (read n, write n)
//   backward: dst = a + b (read two, write one)
// each in five kinds (CeilKind): a loop with ordinary stores, the same loop with non-temporal (streaming) stores, each
// of those two with software prefetches ahead of it, and glibc's memcpy moving the same bytes (which picks its
// own stores). The harness takes the fastest: on some
// CPUs an ordinary store first reads the line it writes, and streaming stores move the same bytes up to twice as
// fast from DRAM; in cache, ordinary stores win.
// Threads: our own small pool of std::thread workers (not OpenMP; they spin briefly between calls, then sleep,
// as OpenMP runtimes do); the caller works too, so
// `threads` threads split the buffer into contiguous 64-byte-aligned chunks. Buffers below kSerialBytes run on
// the calling thread alone (waking workers would cost more than the copy).
// The loops are plain C++; GCC vectorizes them for each ISA (target_clones picks the widest this CPU has) and
// CMake compiles this file with -fno-tree-loop-distribute-patterns so the copy stays our loop, not memcpy.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bench.h"

namespace bench {
namespace {

constexpr size_t kSerialBytes = 256 * 1024;

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  // Runs f(tid, n) for tid in [0, n), tid 0 on the caller.
  void run(int n, const std::function<void(int, int)>& f) {
    if (n <= 1) {
      f(0, 1);
      return;
    }
    while ((int)workers_.size() < n - 1) {
      int id = (int)workers_.size() + 1;
      workers_.emplace_back([this, id] { loop(id); });
    }
    job_ = &f;
    n_ = n;
    pending_.store(n - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> l(m_);  // pairs with the sleepers' predicate check: no lost wake-up
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    f(0, n);
    while (pending_.load(std::memory_order_acquire) != 0) pause();
  }

 private:
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // Workers spin for a while after each job (as OpenMP runtimes do), so back-to-back calls do not pay a
  // futex wake-up each; then they sleep on the condition variable.
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = gen_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < kSpin; ++spin) {
        pause();
        g = gen_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return gen_.load(std::memory_order_acquire) != seen; });
        g = gen_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_) return;
      if (id < n_) {
        (*job_)(id, n_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }
  static constexpr int kSpin = 50000;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  int n_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> gen_{0};
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

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

// [begin, end) in floats of chunk tid out of n, on 16-float (64-byte) boundaries.
void chunk(size_t total, int tid, int n, size_t& begin, size_t& end) {
  size_t lines = (total + 15) / 16;
  begin = std::min(total, lines * (size_t)tid / (size_t)n * 16);
  end = std::min(total, lines * (size_t)(tid + 1) / (size_t)n * 16);
}

}  // namespace

const char* ceil_kind_name(CeilKind k) {
  switch (k) {
    case CeilKind::Ordinary: return "ordinary-store loop";
    case CeilKind::Stream: return "non-temporal-store loop";
    case CeilKind::Prefetched: return "prefetched ordinary-store loop";
    case CeilKind::StreamPrefetched: return "prefetched non-temporal-store loop";
    default: return "memcpy";
  }
}

void ceiling_copy(int threads, CeilKind kind, void* dst, const void* src, size_t bytes) {
  const size_t n = bytes / sizeof(float);
  if (bytes < kSerialBytes) threads = 1;
  pool().run(threads, [&](int tid, int nt) {
    size_t b, e;
    chunk(n, tid, nt, b, e);
    float* d = (float*)dst + b;
    const float* s = (const float*)src + b;
    switch (kind) {
      case CeilKind::Ordinary: copy_floats(d, s, e - b); break;
      case CeilKind::Stream:
        have_avx() ? copy_stream_avx<false>(d, s, e - b) : copy_stream_sse<false>(d, s, e - b);
        break;
      case CeilKind::Prefetched: copy_prefetched(d, s, e - b); break;
      case CeilKind::StreamPrefetched:
        have_avx() ? copy_stream_avx<true>(d, s, e - b) : copy_stream_sse<true>(d, s, e - b);
        break;
      case CeilKind::Memcpy: std::memcpy(d, s, (e - b) * sizeof(float)); break;
    }
  });
}

// Memcpy kind: glibc's memcpy moving the same total bytes (3n: read 1.5n, write 1.5n) from a to dst, which must
// then both hold 1.5n bytes.
void ceiling_r2w1(int threads, CeilKind kind, void* dst, const void* a, const void* b, size_t bytes) {
  const size_t n = bytes / sizeof(float);
  if (3 * bytes < kSerialBytes) threads = 1;
  const size_t total = kind == CeilKind::Memcpy ? n * 3 / 2 : n;
  pool().run(threads, [&](int tid, int nt) {
    size_t lo, hi;
    chunk(total, tid, nt, lo, hi);
    float* d = (float*)dst + lo;
    const float* x = (const float*)a + lo;
    const float* y = (const float*)b + lo;
    switch (kind) {
      case CeilKind::Ordinary: add_floats(d, x, y, hi - lo); break;
      case CeilKind::Stream:
        have_avx() ? add_stream_avx<false>(d, x, y, hi - lo) : add_stream_sse<false>(d, x, y, hi - lo);
        break;
      case CeilKind::Prefetched: add_prefetched(d, x, y, hi - lo); break;
      case CeilKind::StreamPrefetched:
        have_avx() ? add_stream_avx<true>(d, x, y, hi - lo) : add_stream_sse<true>(d, x, y, hi - lo);
        break;
      case CeilKind::Memcpy: std::memcpy(d, x, (hi - lo) * sizeof(float)); break;
    }
  });
}

}  // namespace bench

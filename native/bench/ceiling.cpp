// Bandwidth ceilings measured in the same run as the kernels, on the same number of threads:
//   forward:  a copy of the same bytes (read n, write n)
//   backward: dst = a + b (read two, write one)
// Threads: our own small pool of std::thread workers (not OpenMP; they spin briefly between calls, then sleep,
// as OpenMP runtimes do); the caller works too, so
// `threads` threads split the buffer into contiguous 64-byte-aligned chunks. Buffers below kSerialBytes run on
// the calling thread alone (waking workers would cost more than the copy).
// The loops are plain C++; GCC vectorizes them for each ISA (target_clones picks the widest this CPU has) and
// CMake compiles this file with -fno-tree-loop-distribute-patterns so the copy stays our loop, not memcpy.
#include <atomic>
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

// [begin, end) in floats of chunk tid out of n, on 16-float (64-byte) boundaries.
void chunk(size_t total, int tid, int n, size_t& begin, size_t& end) {
  size_t lines = (total + 15) / 16;
  begin = std::min(total, lines * (size_t)tid / (size_t)n * 16);
  end = std::min(total, lines * (size_t)(tid + 1) / (size_t)n * 16);
}

}  // namespace

void ceiling_copy(int threads, void* dst, const void* src, size_t bytes) {
  const size_t n = bytes / sizeof(float);
  if (bytes < kSerialBytes) threads = 1;
  pool().run(threads, [&](int tid, int nt) {
    size_t b, e;
    chunk(n, tid, nt, b, e);
    copy_floats((float*)dst + b, (const float*)src + b, e - b);
  });
}

void ceiling_r2w1(int threads, void* dst, const void* a, const void* b, size_t bytes) {
  const size_t n = bytes / sizeof(float);
  if (3 * bytes < kSerialBytes) threads = 1;
  pool().run(threads, [&](int tid, int nt) {
    size_t lo, hi;
    chunk(n, tid, nt, lo, hi);
    add_floats((float*)dst + lo, (const float*)a + lo, (const float*)b + lo, hi - lo);
  });
}

}  // namespace bench

// A persistent pool of worker threads that help callers run "jobs": a job is `nblocks` independent blocks
// claimed one at a time through an atomic counter. The calling thread always works on its own job too, and
// only waits for blocks that were claimed, so a call completes even when every worker is busy elsewhere
// (no deadlock with many concurrent callers). Helper tasks hold the job by shared_ptr: a helper that starts
// after the job is over finds no block left and just drops its reference.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ln4j::cpu {

struct Job {
  void (*fn)(void* ctx, int64_t block) = nullptr;  // must not throw
  void* ctx = nullptr;
  int64_t nblocks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
};

// Runs `fn(ctx, b)` for b in [0, nblocks) on the calling thread plus up to helpers extra pool threads, and
// returns when every block has run. Allocates one Job (a call that is worth a hand-off).
void run_parallel(void (*fn)(void*, int64_t), void* ctx, int64_t nblocks, int helpers);

}  // namespace ln4j::cpu

#include "thread_pool.h"

#include <deque>
#include <thread>

namespace ln4j::cpu {
namespace {

// Claims and runs blocks until none is left; the thread that completes the last block wakes the caller.
void work_on(Job& j) {
  int64_t mine = 0, b;
  while ((b = j.next.fetch_add(1, std::memory_order_relaxed)) < j.nblocks) {
    j.fn(j.ctx, b);
    ++mine;
  }
  if (mine && j.done.fetch_add(mine, std::memory_order_acq_rel) + mine == j.nblocks) {
    std::lock_guard<std::mutex> lk(j.m);
    j.finished = true;
    j.cv.notify_all();
  }
}

class Pool {
 public:
  // Queues `copies` helper tasks for the job, starting workers so that at least `copies` exist.
  void submit(const std::shared_ptr<Job>& job, int copies) {
    {
      std::lock_guard<std::mutex> lk(m_);
      while (workers_ < copies && workers_ < kMaxWorkers) {
        std::thread(&Pool::loop, this).detach();
        ++workers_;
      }
      for (int i = 0; i < copies; ++i) queue_.push_back(job);
      queued_.store(int64_t(queue_.size()), std::memory_order_release);
    }
    if (copies == 1) cv_.notify_one();
    else cv_.notify_all();
  }

 private:
  static constexpr int kMaxWorkers = 255;
  // A worker that just finished spins a little (about 0.1 ms) before sleeping: back-to-back calls then find it
  // awake instead of paying a futex wake-up on every call.
  static constexpr int kSpin = 4096;
  void loop() {
    for (;;) {
      for (int i = 0; i < kSpin && queued_.load(std::memory_order_acquire) == 0; ++i) __builtin_ia32_pause();
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
        queued_.store(int64_t(queue_.size()), std::memory_order_release);
      }
      work_on(*job);
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<int64_t> queued_{0};  // queue_.size(), readable without the lock
  int workers_ = 0;
};

// Never destroyed: detached workers may still wait on it while the process exits.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void run_parallel(void (*fn)(void*, int64_t), void* ctx, int64_t nblocks, int helpers) {
  if (helpers <= 0 || nblocks <= 1) {
    for (int64_t b = 0; b < nblocks; ++b) fn(ctx, b);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = fn;
  job->ctx = ctx;
  job->nblocks = nblocks;
  pool().submit(job, helpers);
  work_on(*job);
  std::unique_lock<std::mutex> lk(job->m);
  job->cv.wait(lk, [&] { return job->finished; });
}

}  // namespace ln4j::cpu

// The run-time choice of software-prefetch policy (prefetch_tuner.h). Lock-free: every key is a fixed slot of a
// static table, and concurrent calls of one key share its trial slots through atomic counters.
#include "prefetch_tuner.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ln4j::cpu {
namespace {

constexpr int kRounds = 7;  // medians of 7: single calls on a shared VM jump by 10-20%
constexpr int kTrials = 1 + kRounds * kPfPolicies;  // slot 0: warm-up (page faults, first touches), not compared
constexpr int kRowBuckets = 48;                     // bit length of the row's bytes
constexpr int kSizeBuckets = 4;                     // element size 1, 2, 4, 8
constexpr int kWorkerBuckets = 8;                   // bit length of the worker count, capped
constexpr int kKinds = 2;
constexpr int kIsas = 3;                            // scalar, AVX2, AVX-512

struct Entry {
  std::atomic<int32_t> next{0};     // trial slots handed out
  std::atomic<int32_t> done{0};     // trial slots reported
  std::atomic<int32_t> chosen{-1};  // the learned policy, -1 while learning
  std::atomic<float> ns_per_byte[kTrials];
};

Entry g_table[kKinds * kIsas * kRowBuckets * kSizeBuckets * kWorkerBuckets];

// -3: the environment not read yet; -1: auto; >= 0: fixed.
std::atomic<int32_t> g_setting{-3};

int bit_length(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

int key_of(PfKind kind, int32_t isa, int64_t row_bytes, int32_t esize, int32_t workers) {
  const int ib = std::min(kIsas - 1, std::max(0, int(isa)));
  const int rb = std::min(kRowBuckets - 1, bit_length(uint64_t(std::max<int64_t>(row_bytes, 0))));
  const int sb = std::min(kSizeBuckets - 1, bit_length(uint64_t(std::max(esize, 1))) - 1);
  const int wb = std::min(kWorkerBuckets - 1, bit_length(uint64_t(std::max(workers, 1))));
  return (((int(kind) * kIsas + ib) * kRowBuckets + rb) * kSizeBuckets + sb) * kWorkerBuckets + wb;
}

// Trial slot s >= 1 runs policy (s - 1) % kPfPolicies: the rounds interleave the policies, so a drift of the
// machine's speed over the trials reaches each policy alike.
int32_t policy_of_slot(int s) { return s == 0 ? kPfDefault : (s - 1) % kPfPolicies; }

int32_t from_env() {
  const char* e = std::getenv("LN4J_PREFETCH");
  if (!e || !*e || std::strcmp(e, "auto") == 0) return -1;
  char* end = nullptr;
  long v = std::strtol(e, &end, 10);
  return (end && *end == 0 && v >= 0 && v < kPfPolicies) ? int32_t(v) : -1;  // unparsable: auto
}

// Each policy against the default in the same round (paired: a slow phase of the machine reaches both sides of
// a ratio), median over the rounds; a policy other than the default is kept only when that median is at least
// kMargin below 1 (single calls on a shared VM vary by 10-20%; a tie keeps what the kernels did before).
constexpr float kMargin = 0.03f;

void choose(Entry& e) {
  int32_t best = kPfDefault;
  float best_score = 1.0f - kMargin;
  for (int32_t p = 0; p < kPfPolicies; ++p) {
    if (p == kPfDefault) continue;
    float ratio[kRounds];
    for (int r = 0; r < kRounds; ++r) {
      const float t = e.ns_per_byte[1 + r * kPfPolicies + p].load(std::memory_order_relaxed);
      const float d = e.ns_per_byte[1 + r * kPfPolicies + kPfDefault].load(std::memory_order_relaxed);
      ratio[r] = !std::isfinite(d) ? 1.0f : std::isfinite(t) && d > 0 ? t / d : 1e30f;  // a failed call loses
    }
    std::sort(ratio, ratio + kRounds);
    if (ratio[kRounds / 2] < best_score) {
      best = p;
      best_score = ratio[kRounds / 2];
    }
  }
  e.chosen.store(best, std::memory_order_release);
}

}  // namespace

int32_t prefetch_setting() {
  int32_t s = g_setting.load(std::memory_order_relaxed);
  if (s == -3) {
    int32_t want = from_env();
    g_setting.compare_exchange_strong(s, want, std::memory_order_relaxed);
    s = g_setting.load(std::memory_order_relaxed);
  }
  return s;
}

void set_prefetch_setting(int32_t policy) {
  g_setting.store(policy >= -1 && policy < kPfPolicies ? policy : -3, std::memory_order_relaxed);
}

PfTrial prefetch_begin(PfKind kind, int32_t isa, int64_t row_bytes, int32_t esize, int32_t workers) {
  const int32_t s = prefetch_setting();
  if (s >= 0) return {s, -1, -1};
  const int key = key_of(kind, isa, row_bytes, esize, workers);
  Entry& e = g_table[key];
  const int32_t c = e.chosen.load(std::memory_order_acquire);
  if (c >= 0) return {c, -1, -1};
  // Concurrent calls may each take a slot; once all are taken, calls run the default until the last reports.
  if (e.next.load(std::memory_order_relaxed) >= kTrials) return {kPfDefault, -1, -1};
  const int32_t slot = e.next.fetch_add(1, std::memory_order_relaxed);
  if (slot >= kTrials) return {kPfDefault, -1, -1};
  return {policy_of_slot(slot), slot, key};
}

void prefetch_end(const PfTrial& t, double ns_per_byte) {
  if (t.slot < 0) return;
  Entry& e = g_table[t.key];
  e.ns_per_byte[t.slot].store(float(ns_per_byte), std::memory_order_relaxed);
  if (e.done.fetch_add(1, std::memory_order_acq_rel) + 1 == kTrials) choose(e);
}

int32_t prefetch_choice(PfKind kind, int32_t isa, int64_t row_bytes, int32_t esize, int32_t workers) {
  const int32_t s = prefetch_setting();
  if (s >= 0) return s;
  return g_table[key_of(kind, isa, row_bytes, esize, workers)].chosen.load(std::memory_order_acquire);
}

}  // namespace ln4j::cpu

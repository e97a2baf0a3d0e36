// Validate-then-time helper shared by every backend of the harness: warm-up, batching of short calls so one
// sample lasts at least plan.min_sample_us, rotation over the buffer sets, and a per-series time budget.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench.h"

namespace bench {

// call(set) runs one call on buffer set `set` and returns false on failure.
template <class Call>
bool time_series_once(Call&& call, int sets, const TimingPlan& plan, Timing& out) {
  int idx = 0;
  auto next = [&] {
    idx = (idx + 1) % sets;
    return idx;
  };
  for (int i = 0; i < std::max(plan.warmup, 0); ++i)
    if (!call(next())) return false;
  double t0 = now_s();
  if (!call(next())) return false;
  const double one_us = std::max((now_s() - t0) * 1e6, 0.01);
  const int batch = one_us >= plan.min_sample_us ? 1 : (int)std::min(100000.0, std::ceil(plan.min_sample_us / one_us));
  std::vector<double> samples;
  const double start = now_s();
  while ((int)samples.size() < plan.reps) {
    if ((int)samples.size() >= plan.min_reps && now_s() - start > plan.budget_s) break;
    const double a = now_s();
    for (int b = 0; b < batch; ++b)
      if (!call(next())) return false;
    samples.push_back((now_s() - a) * 1e6 / batch);
  }
  out = summarize(samples, batch);
  return true;
}

// time_series_once, checked for disturbance: when other processes kept more than kDisturbedCpus busy during the
// series, it runs again (up to plan.retries times); the least disturbed series is kept, and marked `disturbed`
// when even that one was above the limit.
template <class Call>
bool time_series(Call&& call, int sets, const TimingPlan& plan, Timing& out) {
  Timing best;
  bool have = false;
  for (int attempt = 0; attempt <= std::max(0, plan.retries); ++attempt) {
    Timing t;
    const CpuClock a = cpu_clock_now();
    if (!time_series_once(call, sets, plan, t)) return false;
    t.others_cpus = others_cpus(a, cpu_clock_now());
    t.tries = attempt + 1;
    t.disturbed = plan.retries > 0 && t.others_cpus > kDisturbedCpus;
    if (!have || t.others_cpus < best.others_cpus) best = t;
    have = true;
    best.tries = attempt + 1;
    if (!t.disturbed) break;
  }
  out = best;
  return true;
}

// The ceiling of one result: run(kind, set) moves the bytes once with that kind (CeilKind); all five kinds are
// timed in the same run and the fastest is kept. r.note says which won and what each moved.
template <class Run>
void best_ceiling(Run&& run, int sets, const TimingPlan& plan, Result& r) {
  const CeilKind kinds[] = {CeilKind::Ordinary, CeilKind::Stream, CeilKind::Prefetched, CeilKind::StreamPrefetched,
                            CeilKind::Memcpy};
  const char* shortname[] = {"ordinary", "non-temporal", "prefetched", "prefetched non-temporal", "memcpy"};
  std::string all;
  bool have = false;
  for (int i = 0; i < 5; ++i) {
    Timing t;
    time_series([&](int s) { run(kinds[i], s); return true; }, sets, plan, t);
    const double gbps = t.median_us > 0 ? r.bytes / (t.median_us * 1e-6) / 1e9 : 0;
    char b[96];
    std::snprintf(b, sizeof b, "%s%s %.1f GB/s", all.empty() ? "" : ", ", shortname[i], gbps);
    all += b;
    if (!have || t.median_us < r.t.median_us) {
      r.t = t;
      r.ceiling_kind = ceil_kind_name(kinds[i]);
      have = true;
    }
  }
  if (r.t.median_us > 0) r.gbps = r.bytes / (r.t.median_us * 1e-6) / 1e9;
  r.note = "won: " + r.ceiling_kind + " (" + all + ")";
}

// The ceilings are timed twice, before and after the implementations they bound (same shape, threads and regime), and
// the faster timing is kept: the machine's speed drifts (on the shared 2-vCPU VMs by up to 2x within minutes), and a
// ceiling timed in a slow moment let a kernel timed in a fast one read 108% of it (AMD EPYC family 23, 5461 x 768
// backward, 2 threads, warm). The note says both figures.
inline void keep_faster_ceiling(Result& kept, const Result& again) {
  char b[160];
  std::snprintf(b, sizeof b, "; the faster of two timings (before the implementations %.1f GB/s, after %.1f GB/s)",
                kept.gbps, again.gbps);
  if (kept.gbps > 0 && again.gbps > 0)
    kept.ceiling_drift = 1 - std::min(kept.gbps, again.gbps) / std::max(kept.gbps, again.gbps);
  if (again.gbps > kept.gbps) {
    kept.t = again.t;
    kept.gbps = again.gbps;
    kept.ceiling_kind = again.ceiling_kind;
    kept.note = again.note;
  }
  kept.note += b;
}

// One shape at one thread count: attempt() appends its results (ceilings timed before and after the others, see
// keep_faster_ceiling) to out. When a ceiling moved by more than kDriftLimit between its two timings, the machine's
// speed changed during the shape and the whole shape is timed again, up to `retries` times; the attempt whose
// ceilings moved least is kept, and every result of it carries that drift (marked when still above the limit).
// Returns the attempts made.
template <class Attempt>
int time_shape(std::vector<Result>& out, int retries, Attempt&& attempt) {
  std::vector<Result> best;
  double best_drift = 0;
  int attempts = 0;
  for (int k = 0; k <= std::max(0, retries); ++k) {
    const size_t first = out.size();
    attempt();
    ++attempts;
    double drift = 0;
    for (size_t i = first; i < out.size(); ++i)
      if (out[i].impl == "ceiling") drift = std::max(drift, out[i].ceiling_drift);
    if (k == 0 || drift < best_drift) {
      best.assign(out.begin() + first, out.end());
      best_drift = drift;
    }
    out.resize(first);
    if (best_drift <= kDriftLimit) break;
    if (k < retries)
      std::fprintf(stderr, "  the ceiling moved by %.0f%% between its two timings: the shape again\n", 100 * drift);
  }
  for (Result& r : best) r.ceiling_drift = best_drift;
  out.insert(out.end(), best.begin(), best.end());
  return attempts;
}

// A peer's verdict after its one checked call (r.check filled): WRONG (never timed), VALIDATED (--validate-only), or
// timed over the sets.
template <class Call>
void judge_then_time(Result& r, bool validate_only, Call&& call, int sets, const TimingPlan& plan) {
  if (!r.check.ok) {
    r.status = Status::WRONG;
    r.note = r.check.where;
  } else if (validate_only) {
    r.status = Status::VALIDATED;
  } else if (time_series(call, sets, plan, r.t)) {
    r.gbps = r.bytes / (r.t.median_us * 1e-6) / 1e9;
  }
}

// A peer library threw: both results get the status and message, except a forward already timed.
inline void peer_failed(Result& fwd, Result& bwd, Status s, const std::string& msg) {
  if (fwd.status == Status::OK && fwd.t.samples == 0) {
    fwd.status = s;
    fwd.note = msg;
  }
  bwd.status = s;
  bwd.note = msg;
}

}  // namespace bench

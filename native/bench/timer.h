// Validate-then-time helper shared by every backend of the harness: warm-up, batching of short calls so one
// sample lasts at least plan.min_sample_us, rotation over the buffer sets, and a per-series time budget.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "bench.h"

namespace bench {

// call(set) runs one call on buffer set `set` and returns false on failure.
template <class Call>
bool time_series(Call&& call, int sets, const TimingPlan& plan, Timing& out) {
  int idx = 0;
  auto next = [&] {
    idx = (idx + 1) % sets;
    return idx;
  };
  for (int i = 0; i < 2; ++i)
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

}  // namespace bench

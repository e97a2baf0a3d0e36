// The rule for dynamic shared memory beyond the default, written once for every kernel that asks for more.
//
// Every kernel may be launched with up to kDefaultDynamicSmem bytes of dynamic shared memory without any setting.
// Beyond that the kernel's maximum must be raised with a per-kernel attribute, and that attribute is process-wide:
// setting it per call to the call's size would let a concurrent smaller setting make another thread's launch fail.
// So it is raised once per (kernel, device) to the device's opt-in maximum less the kernel's static shared memory,
// remembered, and every launch up to that limit is then valid from any thread. A failed raise is not remembered
// (the next call tries again).
//
// The backend supplies the device query and the raise itself (cuda/cuda_util.cuh); this header holds the rule.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "layernorm4j/layernorm4j.h"

namespace ln4j {

constexpr int64_t kDefaultDynamicSmem = 48 * 1024;

// The limits raised so far in this process, per (kernel, device).
class SmemOptIn {
 public:
  static SmemOptIn& process() {
    static SmemOptIn s;
    return s;
  }
  // *out = the dynamic shared memory `kernel` may use on `device`. The first call for a key runs
  // raise(int64_t* limit) -> status (under the lock, so the attribute is set once however many threads ask).
  template <class Raise>
  int limit(const void* kernel, int device, int64_t* out, Raise&& raise) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::pair<const void*, int> key(kernel, device);
    const auto it = limit_.find(key);
    if (it != limit_.end()) {
      *out = it->second;
      return LN4J_OK;
    }
    int64_t raised = 0;
    if (int st = raise(&raised)) return st;
    limit_.emplace(key, raised);
    *out = raised;
    return LN4J_OK;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<const void*, int>, int64_t> limit_;
};

// Whether `bytes` of dynamic shared memory fit: yes up to the default with no query at all; beyond it, the
// current device (device(int* d) -> status) and its raised limit (limit(int d, int64_t* out) -> status) decide.
template <class Device, class Limit>
int dynamic_smem_fits(int64_t bytes, bool* fits, Device&& device, Limit&& limit) {
  int64_t lim = kDefaultDynamicSmem;
  if (bytes > lim) {
    int d = 0;
    if (int st = device(&d)) return st;
    if (int st = limit(d, &lim)) return st;
  }
  *fits = bytes <= lim;
  return LN4J_OK;
}

}  // namespace ln4j

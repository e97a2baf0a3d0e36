// What the CPU backend knows about this machine's caches, as the OS reports them, and the streaming-store
// threshold derived from it. Nothing here is chosen by vendor or model name.
#pragma once
#include <cstdint>

namespace ln4j::cpu {

struct CacheInfo {
  int64_t l1d = 0;         // bytes of L1 data cache per core (0 = unknown)
  int64_t l2 = 0;          // bytes of L2 per core (0 = unknown)
  int64_t llc = 0;         // bytes of the last level: ONE shared instance (a socket's or a core complex's), not summed
  int32_t llc_level = 0;   // its level (2 or 3 ...)
  int32_t llc_sharing = 0; // logical CPUs sharing that instance (0 = unknown)
  const char* source = "";  // "sysfs", "sysconf" or "default (unknown)"
};

// Detected once: /sys/devices/system/cpu/cpu0/cache/index*/ (level, type, size, shared_cpu_list), else
// sysconf(_SC_LEVEL*_CACHE_SIZE), else a 32 MiB guess flagged as such.
const CacheInfo& cache_info();

// Output stores stream past the caches (non-temporal stores) when a call's footprint -- every byte it reads and
// writes -- is at least this many bytes; below, ordinary stores keep the output in cache for the next layer.
// Default: 3/4 of the LLC (glibc's memcpy rule for its non-temporal threshold), so a call that cannot leave its
// output in the LLC anyway saves the read-for-ownership of every output line. Overridable with the environment
// variable LN4J_NT_THRESHOLD (bytes, K/M/G suffixes, "always" = 0, "never") read at first use, and at run time
// with set_stream_threshold. The choice never changes a result bit: it only picks the store instruction.
int64_t stream_threshold();
int64_t stream_threshold_default();
// bytes >= 0 sets the threshold (0 = always stream; INT64_MAX = never); bytes < 0 restores the default
// (LN4J_NT_THRESHOLD when set, else 3/4 of the LLC).
void set_stream_threshold(int64_t bytes);

// Whether a call with this footprint streams its output stores.
inline bool stream_stores(int64_t footprint_bytes) { return footprint_bytes >= stream_threshold(); }

}  // namespace ln4j::cpu

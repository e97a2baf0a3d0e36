#include "cache_info.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ln4j::cpu {
namespace {

bool read_line(const std::string& path, std::string& out) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  char buf[256];
  bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  if (!ok) return false;
  out = buf;
  while (!out.empty() && std::isspace((unsigned char)out.back())) out.pop_back();
  return true;
}

// "32K", "512K", "32768K", "1M", "1024" -> bytes; -1 when unparsable.
int64_t parse_size(const std::string& s) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (!end || end == s.c_str() || v < 0) return -1;
  switch (std::toupper((unsigned char)*end)) {
    case 'K': return int64_t(v) << 10;
    case 'M': return int64_t(v) << 20;
    case 'G': return int64_t(v) << 30;
    case 0: return v;
    default: return -1;
  }
}

// "0-1", "0,8", "0-3,8-11" -> number of CPUs listed.
int32_t count_cpus(const std::string& list) {
  int32_t n = 0;
  size_t i = 0;
  while (i < list.size()) {
    char* end = nullptr;
    long a = std::strtol(list.c_str() + i, &end, 10);
    if (end == list.c_str() + i) break;
    long b = a;
    i = size_t(end - list.c_str());
    if (i < list.size() && list[i] == '-') {
      b = std::strtol(list.c_str() + i + 1, &end, 10);
      i = size_t(end - list.c_str());
    }
    n += int32_t(b - a + 1);
    if (i < list.size() && list[i] == ',') ++i;
  }
  return n;
}

CacheInfo detect() {
  CacheInfo c;
  const std::string base = "/sys/devices/system/cpu/cpu0/cache/index";
  for (int i = 0; i < 16; ++i) {
    std::string dir = base + std::to_string(i) + "/", level, type, size, shared;
    if (!read_line(dir + "level", level) || !read_line(dir + "type", type) || !read_line(dir + "size", size)) {
      if (i > 4) break;
      continue;
    }
    const int lv = std::atoi(level.c_str());
    const int64_t bytes = parse_size(size);
    if (bytes <= 0 || type == "Instruction") continue;
    if (lv == 1) c.l1d = bytes;
    if (lv == 2) c.l2 = bytes;
    if (lv >= c.llc_level) {
      c.llc_level = lv;
      c.llc = bytes;
      c.llc_sharing = read_line(dir + "shared_cpu_list", shared) ? count_cpus(shared) : 0;
    }
  }
  if (c.llc > 0) {
    c.source = "sysfs";
    return c;
  }
  // sysconf: glibc's figures (on some CPUs it reports the L3 of a whole package, or a multiple of it).
  long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  c.l1d = l1 > 0 ? l1 : 0;
  c.l2 = l2 > 0 ? l2 : 0;
  if (l3 > 0) {
    c.llc = l3;
    c.llc_level = 3;
  } else if (l2 > 0) {
    c.llc = l2;
    c.llc_level = 2;
  }
  if (c.llc > 0) {
    c.source = "sysconf";
    return c;
  }
  c.llc = int64_t(32) << 20;
  c.llc_level = 3;
  c.source = "default (unknown)";
  return c;
}

// The threshold in bytes; -2: not resolved yet (set_stream_threshold with a negative value goes back to it).
std::atomic<int64_t> g_threshold{-2};

int64_t from_env() {
  const char* e = std::getenv("LN4J_NT_THRESHOLD");
  if (!e || !*e) return -1;
  std::string s(e);
  if (s == "always") return 0;
  if (s == "never") return INT64_MAX;
  int64_t v = parse_size(s);
  return v >= 0 ? v : -1;  // unparsable: the default
}

}  // namespace

const CacheInfo& cache_info() {
  static const CacheInfo c = detect();
  return c;
}

int64_t stream_threshold_default() { return cache_info().llc / 4 * 3; }

// Resolved once (the environment variable, else the LLC rule) and kept, so that every call after the first reads one
// atomic (it had cost ~50 instructions per read, twice per backward call).
int64_t stream_threshold() {
  int64_t t = g_threshold.load(std::memory_order_relaxed);
  if (t >= 0) return t;
  const int64_t e = from_env();
  const int64_t want = e >= 0 ? e : stream_threshold_default();
  g_threshold.compare_exchange_strong(t, want, std::memory_order_relaxed);  // a set_stream_threshold meanwhile wins
  t = g_threshold.load(std::memory_order_relaxed);
  return t >= 0 ? t : want;
}

// A negative value goes back to 'not read yet': the environment variable, else the LLC rule.
void set_stream_threshold(int64_t bytes) { g_threshold.store(bytes >= 0 ? bytes : -2, std::memory_order_relaxed); }

}  // namespace ln4j::cpu

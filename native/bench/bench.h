// ln4j_bench: shared types of the benchmark harness (see README.md in this folder for the rules it follows).
//
// The harness talks to the library only through the C API in layernorm4j/layernorm4j.h. It validates every
// implementation against a float64 reference before timing it, times with rotating buffer sets so the cache
// does not flatter small shapes, and reports effective GB/s next to a bandwidth ceiling measured in the same run.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "layernorm4j/layernorm4j.h"

namespace bench {

// ---- dtypes ---------------------------------------------------------------------------------------------
double unit_roundoff(int32_t dtype);   // 2^-24 float32, 2^-53 float64, 2^-8 bfloat16, 2^-11 float16
const char* dtype_label(int32_t dtype);  // "float32", ...
int32_t param_dtype_for(int32_t x_dtype);  // x_dtype for float32/float64, FLOAT32 for the 16-bit types
double load(int32_t dtype, const void* p, int64_t i);      // element i as double
void store(int32_t dtype, void* p, int64_t i, double v);  // round to nearest even

// ---- a problem: one shape, its float64 reference, its host inputs in the data dtype ----------------------
struct Shape {
  int64_t rows, cols;
  bool sweep;  // part of the model sweep (fixed element count): these go on the chart
};

struct Problem {
  int32_t dtype, pdtype, sdtype;  // data, parameter, statistics dtypes
  int64_t rows, cols;
  double eps;
  // Inputs in their storage dtypes (what every implementation reads).
  std::vector<unsigned char> x, dy, gamma, beta;
  std::vector<unsigned char> mean, rstd;  // reference statistics rounded to sdtype: the backward's inputs
  // float64 reference, computed from the stored (rounded) inputs.
  std::vector<double> ref_y, ref_mean, ref_rstd, ref_dx, ref_dgamma, ref_dbeta;
  std::vector<double> tol_y, tol_dx, tol_dgamma, tol_dbeta;  // per-element tolerances (README: "Validation")
  double tol_mean_abs = 0, tol_rstd_rel = 0;                 // per-row stat tolerances (scaled per row)
  std::vector<double> tol_mean;                              // per row
  size_t xbytes() const;    // rows*cols elements of dtype
  size_t sbytes() const;    // rows stats
  size_t pbytes() const;    // cols params
};

// Builds inputs (off-centre random data, fixed seed) and the reference with its tolerances.
void make_problem(Problem& p, int32_t dtype, int64_t rows, int64_t cols, uint64_t seed);

// Outcome of comparing one implementation's outputs with the reference.
struct Check {
  bool ok = true;
  double max_ratio = 0;    // max over elements of |got - ref| / tolerance (<= 1 passes; NaN counts as infinite)
  double max_abs = 0;      // max |got - ref|
  std::string where;       // the first failing output ("y[12,7]") when not ok
};
// Outputs given in their storage dtypes; mean/rstd may be null (not checked). rstd_is_var: oneDNN's variance.
Check check_forward(const Problem& p, const void* y, const void* mean, const void* rstd, bool rstd_is_var = false);
Check check_backward(const Problem& p, const void* dx, const void* dgamma, const void* dbeta);

// ---- bytes moved (the ONE fixed rule, README "Effective bandwidth") -------------------------------------
double forward_bytes(const Problem& p);   // read x + write y + write mean,rstd + read gamma,beta
double backward_bytes(const Problem& p);  // read x,dy + write dx + read mean,rstd + read gamma + write dgamma,dbeta

// ---- timing ---------------------------------------------------------------------------------------------
struct Timing {
  double median_us = 0, p10_us = 0, p90_us = 0;
  int samples = 0, batch = 1;
  // Disturbance check (CPU series): CPU time other processes used while the kept series ran, in CPUs (0.5 = half
  // of one CPU on average), from /proc/stat minus this process's own time; tries = series run to get it.
  double others_cpus = 0;
  int tries = 1;
  bool disturbed = false;  // still above the limit after every retry
};
struct TimingPlan {
  int reps;             // samples wanted
  int min_reps;         // samples always taken
  double budget_s;      // stop adding samples after this much time (once min_reps are in)
  double min_sample_us; // calls are batched until one sample lasts at least this long
  int retries = 3;      // a series that others disturbed is run again up to this many times (0: no check)
  int warmup = 2;       // untimed calls before the samples (see kOursWarmup)
};

// Warm-up calls before timing this library: its kernels learn their prefetch policy over the first 29 calls of a
// kind past the streaming threshold (ln4j_cpu_set_prefetch_policy), so the samples time the policy it keeps, as
// any program that calls it more than a few dozen times runs it; the learning calls are not timed.
constexpr int kOursWarmup = 32;

// `plan` with this library's warm-up.
inline TimingPlan with_ours_warmup(TimingPlan plan) {
  plan.warmup = kOursWarmup;
  return plan;
}

// Other processes' CPU use, from /proc/stat (all CPUs' busy time) minus /proc/self/stat (ours, every thread).
struct CpuClock {
  double wall = 0;
  long long busy = -1, self = -1;  // clock ticks; -1 when /proc is not readable
};
CpuClock cpu_clock_now();
// CPU time (clock ticks) of every thread of this process, by thread id, from /proc/self/task/*/stat.
std::vector<std::pair<long, long long>> thread_ticks();
// Average number of CPUs other processes kept busy between a and b (0 when /proc is not readable).
double others_cpus(const CpuClock& a, const CpuClock& b);
// Above this many CPUs (and at least 3 clock ticks of others' time) a series counts as disturbed.
constexpr double kDisturbedCpus = 0.10;
// A shape whose ceiling moved by more than this between its two timings is timed again (time_shape): the machine's
// speed changed under the measurement. Other processes' CPU time does not show it (a neighbour VM's memory traffic).
constexpr double kDriftLimit = 0.20;
double now_s();
Timing summarize(std::vector<double> samples_us, int batch);

// ---- results --------------------------------------------------------------------------------------------
enum class Status { OK, WRONG, UNSUPPORTED, ERROR, VALIDATED };
const char* status_name(Status s);

struct Result {
  std::string backend;  // "cpu" or "cuda"
  std::string dir;      // "forward" / "backward"
  std::string impl;     // "ceiling", "ln4j-avx2", "oneDNN", "cuda", ...
  int32_t dtype;
  int threads;          // CPU threads (0 for cuda)
  int64_t rows, cols;
  bool sweep;
  Status status;
  std::string note;     // error message / where it went wrong
  std::string ceiling_kind;      // ceilings: which of the five kinds won (ceil_kind_name)
  std::string regime = "cold";  // "cold": rotating buffer sets; "warm": one set, as a user times without rotation
  Timing t;
  double bytes = 0, gbps = 0;
  double ceiling_gbps = 0, pct_ceiling = 0;  // 0 when no ceiling in this run
  double vs_onednn = 0;  // oneDNN median / ours median (>1: ours faster); 0 when not applicable
  double vs_pytorch = 0; // PyTorch median / ours median, likewise
  // How far this shape's ceiling moved between its two timings (before and after the implementations): 1 - slower
  // / faster, 0 with one timing. Every result of the shape carries it; above kDriftLimit its ratios are not a
  // measurement.
  double ceiling_drift = 0;
  Check check;
};

// ---- options --------------------------------------------------------------------------------------------
struct Options {
  int64_t cpu_elements = 4194304, gpu_elements = 67108864;
  std::vector<int64_t> cols;           // model sweep widths
  std::vector<Shape> extra;            // latency and odd shapes (rows x cols)
  bool extra_set = false, cols_set = false, gpu_elements_set = false;
  int32_t dtype = LN4J_FLOAT32;
  std::vector<int> threads;            // empty: {1, all}
  std::vector<int32_t> isas;           // empty: every supported
  int reps = 31;
  double budget_s = 0.25;              // per series (one impl, one shape, one direction, one thread count)
  double rotate_mib = 0;               // 0: automatic (README "Regimes")
  bool quick = false, validate_only = false, self_test = false;
  std::string regime = "both";         // cold | warm | both (README "Regimes")
  int retries = 3;                     // reruns of a disturbed series (0: no check)
  bool busy = true;                    // per-thread busy time of ours at > 1 thread (sweep shapes; off with --quick)
  bool no_cpu = false, no_cuda = false, no_onednn = false, no_pytorch = false;
  bool fused = false;                  // --fused: the fused-vs-unfused section instead of the sweep
  std::string csv, json, svg;
  uint64_t seed = 42;
};

// ---- ceiling kernels: the library's bandwidth probes (ln4j_cpu_bandwidth_*, native/src/cpu/bandwidth.cpp), on
// the library's own thread pool at the same thread count as the kernels ------------------------------------
// copy n bytes src -> dst; and dst = a + b over n bytes of floats (read two, write one); n rounded down to whole floats. Each in five kinds; the
// harness's ceiling is the fastest of them in the same run (README "Ceilings"). CeilKind::Memcpy for r2w1 copies
// 1.5n bytes from a to dst (the same total bytes), so a and dst must hold 1.5n bytes.
enum class CeilKind {
  Ordinary = LN4J_BANDWIDTH_ORDINARY,
  Stream = LN4J_BANDWIDTH_STREAM,
  Prefetched = LN4J_BANDWIDTH_PREFETCHED,
  StreamPrefetched = LN4J_BANDWIDTH_STREAM_PREFETCHED,
  Memcpy = LN4J_BANDWIDTH_MEMCPY
};
inline const char* ceil_kind_name(CeilKind k) { return ln4j_cpu_bandwidth_kind_name(int32_t(k)); }
// The harness's arguments are its own (valid by construction): a refusal is a harness bug, reported loudly.
inline void ceiling_check(int status) {
  if (status != LN4J_OK) {
    std::fprintf(stderr, "ln4j_bench: bandwidth probe refused: %s\n", ln4j_last_error());
    std::abort();
  }
}
inline void ceiling_copy(int threads, CeilKind kind, void* dst, const void* src, size_t n) {
  ceiling_check(ln4j_cpu_bandwidth_copy(int32_t(kind), dst, src, int64_t(n / 4 * 4), threads));
}
inline void ceiling_r2w1(int threads, CeilKind kind, void* dst, const void* a, const void* b, size_t n) {
  ceiling_check(ln4j_cpu_bandwidth_r2w1(int32_t(kind), dst, a, b, int64_t(n / 4 * 4), threads));
}

// --self-test (selftest.cpp): the validator on known-good and known-bad outputs; 0 when every verdict is right.
int self_test();

// ---- reports (report.cpp) -------------------------------------------------------------------------------
// The machine line of every report: CPU model, CPUs, caches as detected (main.cpp).
std::string machine_name();
void print_table(const std::vector<Result>& rs, const std::string& machine);
bool write_csv(const std::string& path, const std::vector<Result>& rs, const std::string& machine);
bool write_json(const std::string& path, const std::vector<Result>& rs, const Options& o, const std::string& machine);
bool write_svg(const std::string& path, const std::vector<Result>& rs, const std::string& title);

// ---- peers and other backends ---------------------------------------------------------------------------
// oneDNN (peer_onednn.cpp; stubs answer "not built" when CMake did not find oneDNN).
bool onednn_available(std::string* why);
// Validates then times oneDNN forward and backward on p; rotates over `sets` buffer sets in `arena`.
struct Arena;
void onednn_run(const Problem& p, int threads, Arena& arena, const TimingPlan& plan, bool validate_only,
                Result& fwd, Result& bwd);

// --fused (fused.cpp): fused residual add and memory-saving backward against the unfused sequences, CPU fp32.
void run_fused(const Options& o, std::vector<Result>& out);

// PyTorch's CPU kernels (peer_torch.cpp: at::native_layer_norm and its backward through libtorch; stubs when CMake
// did not find libtorch).
bool pytorch_available(std::string* why);
void pytorch_run(const Problem& p, int threads, Arena& arena, const TimingPlan& plan, bool validate_only, Result& fwd,
                 Result& bwd);

// CUDA (cuda_bench.cpp; a stub says why it is skipped when CMake had no CUDA).
void cuda_run_all(const Options& o, std::vector<Result>& out);

// ---- rotating buffer sets on the host (main.cpp) ----------------------------------------------------------
// One big allocation, cut into `count` sets of the same layout; calls walk through the sets in turn, so each
// timed call reads data that the previous calls did not just bring into cache.
// The default arena: 2 x the LLC, clamped to 64..1024 MiB.
size_t auto_arena_bytes(size_t llc);
// Bytes of the cold regime's arena for buffer sets of `set_bytes` whose calls each move at least `moved` bytes: at
// least `auto_bytes`, and enough sets that between two uses of a set the other sets' calls move twice the LLC (so
// none of its data is still cached; at most a quarter of the machine's memory), two sets at the least. Without the
// second rule the 4M-element sweep shapes (~97 MiB per set with the ceilings' slack) got ONE set on every machine
// with an LLC under 48 MiB: their "cold" regime was the warm one, partly served by a 32 MiB L3 (a ceiling read
// 62 GB/s at 2 threads on a VM whose DRAM gives ~40).
size_t cold_arena_bytes(size_t auto_bytes, size_t llc, size_t set_bytes, size_t moved);

struct Arena {
  unsigned char* base = nullptr;
  size_t bytes = 0;
  // layout for the current problem
  size_t set_bytes = 0, off_x = 0, off_y = 0, off_dy = 0, off_dx = 0, off_mean = 0, off_rstd = 0;
  int count = 1;
  unsigned char* set(int i) const { return base + (size_t)i * set_bytes; }
  void* x(int i) const { return set(i) + off_x; }
  void* y(int i) const { return set(i) + off_y; }
  void* dy(int i) const { return set(i) + off_dy; }
  void* dx(int i) const { return set(i) + off_dx; }
  void* mean(int i) const { return set(i) + off_mean; }
  void* rstd(int i) const { return set(i) + off_rstd; }
};

}  // namespace bench

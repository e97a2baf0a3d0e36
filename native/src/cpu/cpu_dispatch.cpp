// CPU backend: ISA detection, the CPU model string, and the driver that splits a call into blocks of rows and
// runs them on the thread pool with the kernels of the chosen ISA (cpu_scalar/avx2/avx512.cpp, cpu_kernels.h).
//
// Determinism: block boundaries depend only on (rows, cols, dtype), never on the thread count. Each block of
// the backward adds its rows' dy*xhat and dy into its own partial row (float32, float64 for FLOAT64 data);
// dgamma/dbeta[c] = sum of the partials over blocks 0, 1, 2, ... in that order. So every output is the same
// bits for any thread count and any schedule.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <cpuid.h>
#include <cstring>
#include <string>
#include <vector>

#include "../common/status.h"
#include "cache_info.h"
#include "cpu_backend.h"
#include "cpu_kernels.h"
#include "dtype.h"
#include "prefetch_tuner.h"
#include "thread_pool.h"

namespace ln4j::cpu {

// ---- ISA and machine ---------------------------------------------------------------------------------------
int32_t isa_best() {
  static const int32_t best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return LN4J_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
      return LN4J_ISA_AVX2;
    return LN4J_ISA_SCALAR;
  }();
  return best;
}

bool isa_supported(int32_t isa) { return isa >= LN4J_ISA_SCALAR && isa <= isa_best(); }

const char* isa_name(int32_t isa) {
  switch (isa) {
    case LN4J_ISA_SCALAR: return "scalar";
    case LN4J_ISA_AVX2: return "avx2";
    case LN4J_ISA_AVX512: return "avx512";
    default: return "unknown";
  }
}

const char* cpu_model() {
  static const std::string model = [] {
    unsigned r[12] = {0};
    unsigned maxext = __get_cpuid_max(0x80000000u, nullptr);
    if (maxext < 0x80000004u) return std::string("unknown");
    for (unsigned i = 0; i < 3; ++i) __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char s[49];
    std::memcpy(s, r, 48);
    s[48] = 0;
    std::string m(s);
    size_t b = m.find_first_not_of(' ');
    if (b == std::string::npos) return std::string("unknown");
    size_t e = m.find_last_not_of(' ');
    return m.substr(b, e - b + 1);
  }();
  return model.c_str();
}

// ---- threads -----------------------------------------------------------------------------------------------
static std::atomic<int32_t> g_default_threads{0};

int32_t default_threads() {
  int32_t t = g_default_threads.load(std::memory_order_relaxed);
  if (t > 0) return t;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int32_t(std::min<long>(n, 256)) : 1;
}

int set_default_threads(int32_t threads) {
  g_default_threads.store(std::min<int32_t>(threads, 256), std::memory_order_relaxed);
  return LN4J_OK;
}

namespace {

// The kernel unit of the ISA that serves data of x_dtype (cpu_kernels.h: float32 and the other dtypes are apart).
int32_t resolved_isa(int32_t isa) { return isa == LN4J_ISA_AUTO ? isa_best() : isa; }

const CpuKernels& kernels_for(int32_t isa, int32_t x_dtype) {
  isa = resolved_isa(isa);
  const bool f32 = x_dtype == LN4J_FLOAT32;
  switch (isa) {
    case LN4J_ISA_AVX512: return f32 ? kernels_avx512() : kernels_avx512_more();
    case LN4J_ISA_AVX2: return f32 ? kernels_avx2() : kernels_avx2_more();
    default: return kernels_scalar();
  }
}

// Below this many bytes of x a call runs on the calling thread: a hand-off (waking a worker) costs more
// than the work.
constexpr int64_t kInlineBytes = 96 << 10;
// Bytes of x per block (at most; see forward()); backward blocks are large so that the per-block
// dgamma/dbeta partials stay a small fraction of the traffic.
constexpr int64_t kForwardBlockBytes = 1 << 20;
constexpr int64_t kBackwardBlockBytes = 512 << 10;
// Bound of the per-thread scratch holding the backward partials (one block is always allowed).
constexpr int64_t kPartialBudgetBytes = 8 << 20;

struct BlockPlan {
  int64_t rows_per_block;
  int64_t nblocks;
};

BlockPlan plan(int64_t rows, int64_t cols, int64_t elem_bytes, int64_t block_bytes, int64_t max_blocks,
               int64_t min_rows = 1) {
  int64_t row_bytes = cols * elem_bytes;
  int64_t rpb = std::max<int64_t>(min_rows, block_bytes / row_bytes);
  rpb = std::min(rpb, rows);
  int64_t nb = (rows + rpb - 1) / rpb;
  if (nb > max_blocks) {
    rpb = (rows + max_blocks - 1) / max_blocks;
    nb = (rows + rpb - 1) / rpb;
  }
  return {rpb, nb};
}


// Parameter element j as the accumulation type A.
template <class A>
A to_acc(float v) { return A(v); }
template <class A>
A to_acc(double v) { return A(v); }
template <class A>
A to_acc(bf16_t v) { return A(bf16_to_f32(v.bits)); }
template <class A>
A to_acc(f16_t v) { return A(f16_to_f32(v.bits)); }

// The backward from y: xhat = (y - beta) * (1 / g') per column. Fills shift = beta (0 without) and scale = 1 / g'
// (1 without gamma) in the accumulation type A, from parameters of type P. A g' of 0 breaks the zero-gamma rule
// (common/args.h): the call is refused, naming the first such column, before anything is written.
template <class A, class P>
int from_y_columns(const BackwardArgs& a, std::vector<unsigned char>& buf, const char* fn) {
  const int64_t n = a.cols;
  buf.resize(size_t(2 * n) * sizeof(A));  // std::bad_alloc -> LN4J_ERR_OUT_OF_MEMORY in the API layer
  A* shift = reinterpret_cast<A*>(buf.data());
  A* scale = shift + n;
  const P* gamma = static_cast<const P*>(a.gamma);
  const P* beta = static_cast<const P*>(a.beta);
  const bool zc = (a.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  for (int64_t j = 0; j < n; ++j) {
    shift[j] = beta ? to_acc<A>(beta[j]) : A(0);
    if (!gamma) {
      scale[j] = A(1);
      continue;
    }
    A g = to_acc<A>(gamma[j]);
    if (zc) g = A(1) + g;
    if (g == A(0)) return fail_zero_gamma(fn, (long long)j, zc);
    scale[j] = A(1) / g;
  }
  return LN4J_OK;
}

// Per-thread scratch for backward partials: grows to the largest size this thread needed, never per call.
std::vector<unsigned char>& scratch() {
  thread_local std::vector<unsigned char> s;
  return s;
}

struct ForwardJob {
  const CpuKernels* k;
  const ForwardArgs* a;
  int64_t rpb;
  static void run(void* ctx, int64_t b) {
    auto* j = static_cast<ForwardJob*>(ctx);
    int64_t r0 = b * j->rpb, r1 = std::min(j->a->rows, r0 + j->rpb);
    j->k->forward(*j->a, r0, r1);
  }
};

struct BackwardJob {
  const CpuKernels* k;
  const BackwardArgs* a;
  int64_t rpb, nblocks, part_bytes;  // part_bytes: stride of the partial rows (cols * accumulation size,
                                    // rounded up to whole cache lines), 0 = none
  unsigned char* part;              // 64-byte aligned [2][nblocks][stride]: dgamma partials, then dbeta
  static void run(void* ctx, int64_t b) {
    auto* j = static_cast<BackwardJob*>(ctx);
    int64_t r0 = b * j->rpb, r1 = std::min(j->a->rows, r0 + j->rpb);
    void *pdg = nullptr, *pdb = nullptr;
    if (j->part_bytes) {
      pdg = j->part + b * j->part_bytes;
      pdb = j->part + (j->nblocks + b) * j->part_bytes;
    }
    j->k->backward(*j->a, r0, r1, pdg, pdb);
  }
};

constexpr int64_t kFinalizeCols = 2048;  // columns per finalize block (a multiple of every lane count)

struct FinalizeJob {
  const CpuKernels* k;
  const BackwardArgs* a;
  int64_t nblocks, part_bytes, acc;
  const unsigned char* part;
  static void run(void* ctx, int64_t b) {
    auto* j = static_cast<FinalizeJob*>(ctx);
    int64_t c0 = b * kFinalizeCols, c1 = std::min(j->a->cols, c0 + kFinalizeCols);
    j->k->finalize(*j->a, j->part, j->part + j->nblocks * j->part_bytes, j->nblocks, j->part_bytes / j->acc, c0, c1);
  }
};

}  // namespace

int helpers_for(int32_t threads, int64_t nblocks, int64_t bytes) {
  if (bytes < kInlineBytes) return 0;
  int64_t t = threads > 0 ? threads : default_threads();
  return int(std::max<int64_t>(0, std::min<int64_t>(std::min<int64_t>(t, 256), nblocks) - 1));
}

// Times a call past the streaming threshold while its key is learning its prefetch policy (prefetch_tuner.h),
// and reports it when the call ends (as not finished when it throws).
class PrefetchTiming {
 public:
  PrefetchTiming(PfTrial t, int64_t bytes) : t_(t), bytes_(bytes) {
    if (t_.slot >= 0) start_ = std::chrono::steady_clock::now();
  }
  void finished() {
    if (t_.slot < 0) return;
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
    prefetch_end(t_, ns / double(std::max<int64_t>(bytes_, 1)));
    t_.slot = -1;
  }
  ~PrefetchTiming() {
    if (t_.slot >= 0) prefetch_end(t_, std::numeric_limits<double>::infinity());
  }
  PrefetchTiming(const PrefetchTiming&) = delete;
  PrefetchTiming& operator=(const PrefetchTiming&) = delete;

 private:
  PfTrial t_;
  int64_t bytes_;
  std::chrono::steady_clock::time_point start_{};
};

int forward(const ForwardArgs& args, const Exec& exec) {
  const CpuKernels& k = kernels_for(exec.isa, args.x_dtype);
  const int64_t esize = dtype_size(args.x_dtype), bytes = args.rows * args.cols * esize;
  if (bytes < kInlineBytes) {  // latency path: no hand-off, no allocation, no timing; a fixed policy still holds
    const int32_t fixed = prefetch_setting();
    if (fixed < 0 || fixed == args.prefetch) {
      k.forward(args, 0, args.rows);
    } else {
      ForwardArgs a = args;
      a.prefetch = fixed;
      k.forward(a, 0, a.rows);
    }
    return LN4J_OK;
  }
  ForwardArgs a = args;
  // The kernels' footprint rule for streaming (row_kernels.inl: x, y, and residual, residual_out when given); past
  // it, the prefetch policy of this kind of call (learned at run time, prefetch_tuner.h). Never changes a bit.
  const int64_t footprint = bytes * (a.residual ? (a.residual_out ? 4 : 3) : 2);
  const int64_t row_bytes = a.cols * esize * (a.residual ? 2 : 1);
  // Large blocks (the first row of a block cannot overlap its read with a previous row's write), but at least
  // ~16 of them so that medium problems still spread over the threads. Forward bits never depend on the plan.
  const int64_t block_bytes = std::min<int64_t>(kForwardBlockBytes, std::max<int64_t>(32 << 10, bytes / 16));
  BlockPlan bp = plan(a.rows, a.cols, esize, block_bytes, INT64_MAX);
  const int helpers = helpers_for(exec.threads, bp.nblocks, bytes);
  const PfTrial trial =
      stream_stores(footprint)
          ? prefetch_begin(PfKind::kForward, resolved_isa(exec.isa), row_bytes, int32_t(esize), helpers + 1)
          : PfTrial{kPfDefault, -1, -1};
  a.prefetch = trial.policy;
  PrefetchTiming timing(trial, footprint);
  ForwardJob job{&k, &a, bp.rows_per_block};
  run_parallel(&ForwardJob::run, &job, bp.nblocks, helpers);
  timing.finished();
  return LN4J_OK;
}

int backward(const BackwardArgs& args, const Exec& exec) {
  BackwardArgs a = args;
  if (a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) {
    // from-y column vectors; grows, never per call. Declared here: a thread_local is initialized (and its guard
    // tested through the TLS lookup) wherever control passes its declaration, so the backward from x never pays it.
    thread_local std::vector<unsigned char> columns;
    const char* fn = "ln4j_cpu_backward";
    const int s = visit_dtypes(
        a.x_dtype, a.param_dtype,
        [&](auto x, auto p) {
          using A = std::conditional_t<x.value == LN4J_FLOAT64, double, float>;
          return from_y_columns<A, CpuType<p.value>>(a, columns, fn);
        },
        [&] { return fail(LN4J_ERR_INTERNAL, "%s: unexpected dtypes %d/%d", fn, a.x_dtype, a.param_dtype); });
    if (s) return s;
    a.xhat_shift = columns.data();
    a.xhat_scale = columns.data() + size_t(a.cols) * (a.x_dtype == LN4J_FLOAT64 ? 8 : 4);
  }
  const CpuKernels& k = kernels_for(exec.isa, a.x_dtype);
  const int32_t threads = exec.threads;
  const int64_t esize = dtype_size(a.x_dtype), bytes = a.rows * a.cols * esize;
  const int64_t acc = a.x_dtype == LN4J_FLOAT64 ? 8 : 4;
  const bool partials = a.dgamma || a.dbeta;
  // Partial rows start on their own cache lines: blocks run on different cores and must not share a line.
  const int64_t part_bytes = partials ? (a.cols * acc + 63) / 64 * 64 : 0;
  const int64_t max_blocks = partials ? std::max<int64_t>(1, kPartialBudgetBytes / (2 * part_bytes)) : INT64_MAX;
  // The plan depends on (rows, cols, dtype, partials wanted) only. With partials, a block has at least
  // 16 * acc / esize rows, so that writing and summing its two partial rows costs under ~4% of its traffic.
  BlockPlan bp = plan(a.rows, a.cols, esize, kBackwardBlockBytes, max_blocks, partials ? 16 * acc / esize : 1);
  const int helpers = helpers_for(threads, bp.nblocks, bytes);
  // The kernels' footprint rule for streaming dx (row_kernels.inl: x, dy, dx and dresidual_out); past it, the
  // prefetch policy of this kind of call (learned at run time, prefetch_tuner.h). Never changes a result bit.
  const int64_t footprint = bytes * (a.dresidual_out ? 4 : 3);
  const bool from_memory = stream_stores(footprint);
  const PfTrial trial =
      from_memory
          ? prefetch_begin(PfKind::kBackward, resolved_isa(exec.isa), a.cols * esize, int32_t(esize), helpers + 1)
          : PfTrial{kPfDefault, -1, -1};
  a.prefetch = trial.policy;
  PrefetchTiming timing(trial, footprint);
  // A single block whose partials are already in the parameter dtype is its own result: the kernel accumulates
  // straight into dgamma and dbeta (the same bits as summing one partial row), with no scratch and no finalize
  // (a third of a 1 x 768 backward's time). Only when dgamma and dbeta share no byte with any other tensor of the
  // call: the kernel writes them while it still reads the others.
  if (partials && bp.nblocks == 1 && a.dgamma && a.dbeta && dtype_size(a.param_dtype) == acc) {
    const int64_t pbytes = a.cols * acc, tbytes = a.rows * a.cols * esize, sbytes = a.rows * acc;
    auto disjoint = [](const void* p, int64_t pn, const void* q, int64_t qn) {
      auto u = reinterpret_cast<uintptr_t>(p), v = reinterpret_cast<uintptr_t>(q);
      return !p || !q || u + uintptr_t(pn) <= v || v + uintptr_t(qn) <= u;
    };
    auto apart = [&](const void* p, int64_t pn) {  // [p, p + pn) misses dgamma and dbeta
      return disjoint(p, pn, a.dgamma, pbytes) && disjoint(p, pn, a.dbeta, pbytes);
    };
    if (disjoint(a.dgamma, pbytes, a.dbeta, pbytes) && apart(a.x, tbytes) && apart(a.dy, tbytes) &&
        apart(a.dx, tbytes) && apart(a.dresidual_out, tbytes) && apart(a.mean, sbytes) && apart(a.rstd, sbytes) &&
        apart(a.gamma, pbytes) && apart(a.xhat_shift, pbytes) && apart(a.xhat_scale, pbytes)) {
      k.backward(a, 0, a.rows, a.dgamma, a.dbeta);
      timing.finished();
      return LN4J_OK;
    }
  }
  unsigned char* part = nullptr;
  if (partials) {
    auto& s = scratch();
    size_t need = size_t(2 * bp.nblocks * part_bytes) + 64;
    if (s.size() < need) {
      s.clear();
      s.shrink_to_fit();
      s.resize(need);  // std::bad_alloc -> LN4J_ERR_OUT_OF_MEMORY in the API layer
    }
    part = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(s.data()) + 63) & ~uintptr_t(63));
  }
  BackwardJob job{&k, &a, bp.rows_per_block, bp.nblocks, part_bytes, part};
  run_parallel(&BackwardJob::run, &job, bp.nblocks, helpers);
  if (partials) {
    FinalizeJob fj{&k, &a, bp.nblocks, part_bytes, acc, part};
    int64_t nchunks = (a.cols + kFinalizeCols - 1) / kFinalizeCols;
    run_parallel(&FinalizeJob::run, &fj, nchunks, helpers_for(threads, nchunks, 2 * bp.nblocks * part_bytes));
  }
  timing.finished();
  return LN4J_OK;
}

}  // namespace ln4j::cpu

// ln4j_bench --fused: the fused pre-norm calls against the unfused sequences they replace (float32, CPU, the best
// ISA path), each validated before it is timed, next to a ceiling moving the fused call's bytes in the same run.
//
//   forward   fused      ln4j_cpu_forward(x, residual) -> y, s = x + residual     reads x, r; writes y, s   (4n)
//             add+norm   s = x + r (a tuned add), then ln4j_cpu_forward(s) -> y    reads 3n, writes 2n       (5n)
//   backward  fused      ln4j_cpu_backward(dy, dresidual_out, s) -> dx             reads dy, dres, s; writes dx (4n)
//             norm+add   ln4j_cpu_backward(dy, s) -> t, then dx = t + dres          reads 4n, writes 2n       (6n)
//             from-y     the memory-saving backward (x slot = the forward's y)     reads dy, y; writes dx     (3n)
//             from-x     the ordinary backward, for comparison                     reads dy, s; writes dx     (3n)
// GB/s is always "fused bytes / time" (from-x and from-y: the ordinary backward's bytes), so a faster row is a
// higher number and the unfused rows show what the extra pass costs. Ceilings: a copy of the same bytes (forward),
// a read-two-write-one pass over the same bytes (backward). Inputs: x = r = (problem's x) / 2, exact in binary, so
// s equals the reference problem's x bit for bit and the float64 reference applies unchanged.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench.h"
#include "cpu/cache_info.h"
#include "timer.h"

namespace bench {
namespace {

size_t up64(size_t n) { return (n + 63) / 64 * 64; }

struct Sets {
  // One set: [x r] [y s] [dy dres] [dx t] [mean rstd] [slack]; pairs are adjacent so a ceiling pass can span both.
  // The ceilings move the fused call's bytes, stats and parameters included, so their passes run past a pair by up
  // to those bytes; the slack (set_size's last term) keeps the memcpy kind of the backward's ceiling, which writes
  // 1.5 x its third of the bytes from dx, inside the set.
  unsigned char* base = nullptr;
  size_t xb = 0, set_bytes = 0, stats = 0;
  int count = 1;
  unsigned char* at(int i, int slot) const { return base + (size_t)i * set_bytes + (size_t)slot * xb; }
  float* x(int i) const { return (float*)at(i, 0); }
  float* r(int i) const { return (float*)at(i, 1); }
  float* y(int i) const { return (float*)at(i, 2); }
  float* s(int i) const { return (float*)at(i, 3); }
  float* dy(int i) const { return (float*)at(i, 4); }
  float* dres(int i) const { return (float*)at(i, 5); }
  float* dx(int i) const { return (float*)at(i, 6); }
  float* t(int i) const { return (float*)at(i, 7); }
  float* mean(int i) const { return (float*)at(i, 8); }
  float* rstd(int i) const { return (float*)(at(i, 8) + up64(stats)); }
  // bytes of one set for a problem: 8 tensors, the stats, and the slack (the stats and parameters the ceilings count)
  static size_t set_size(const Problem& p) {
    return 8 * up64(p.xbytes()) + 2 * up64(p.sbytes()) + up64(2 * p.sbytes() + 3 * p.pbytes());
  }
};

struct Fused {
  const Options& o;
  Sets S;
  TimingPlan plan;
  std::vector<Result>& out;

  Result base(const Problem& p, const char* dir, const char* impl, int threads, double bytes) {
    Result r{};
    r.backend = "cpu-fused";
    r.regime = o.regime == "warm" ? "warm" : "cold";  // warm: one buffer set (a 4M-element set is larger than caches)
    r.dir = dir;
    r.impl = impl;
    r.dtype = p.dtype;
    r.threads = threads;
    r.rows = p.rows;
    r.cols = p.cols;
    r.sweep = false;
    r.status = Status::OK;
    r.bytes = bytes;
    return r;
  }

  // Validates with `check` (called after one poisoned call on set 0), then times `call` over every set.
  template <class Call, class Judge>
  void run(Result r, Call&& call, Judge&& check) {
    int st = call(0);
    if (st != LN4J_OK) {
      r.status = st == LN4J_ERR_UNSUPPORTED ? Status::UNSUPPORTED : Status::ERROR;
      r.note = ln4j_last_error();
    } else {
      r.check = check();
      if (!r.check.ok) {
        r.status = Status::WRONG;
        r.note = r.check.where;
      } else if (o.validate_only) {
        r.status = Status::VALIDATED;
      } else if (time_series([&](int s) { return call(s) == LN4J_OK; }, S.count, with_ours_warmup(plan), r.t)) {
        r.gbps = r.bytes / (r.t.median_us * 1e-6) / 1e9;
      } else {
        r.status = Status::ERROR;
        r.note = ln4j_last_error();
      }
    }
    out.push_back(r);
  }

  void poison(void* p, size_t n) { std::memset(p, 0xff, n); }

  // dx against reference dx + dres (the fused add rounds once more: 1 ulp of the sum on top of the tolerance).
  Check check_dx_plus(const Problem& p, const float* dx, const float* dres) {
    Check c;
    for (int64_t i = 0; i < p.rows * p.cols; ++i) {
      double want = p.ref_dx[i] + dres[i], tol = p.tol_dx[i] + std::ldexp(std::fabs(want), -23);
      double err = std::fabs((double)dx[i] - want), ratio = err / tol;
      if (!(ratio <= 1)) ratio = std::isnan(ratio) ? INFINITY : ratio;
      if (ratio > c.max_ratio) c.max_ratio = ratio;
      if (err > c.max_abs || std::isnan(err)) c.max_abs = err;
      if (!(ratio <= 1) && c.ok) {
        c.ok = false;
        c.where = "dx[" + std::to_string(i / p.cols) + "," + std::to_string(i % p.cols) + "]";
      }
    }
    return c;
  }

  void shape(const Problem& p, int threads) {
    const size_t xb = p.xbytes();
    const double fwd_bytes = forward_bytes(p) + 2.0 * xb;  // + read residual, write s
    const double bwd_fused = backward_bytes(p) + xb;       // + read dres
    const double bwd_plain = backward_bytes(p);
    const float* g = (const float*)p.gamma.data();
    const float* b = (const float*)p.beta.data();
    std::vector<float> dgamma(p.cols), dbeta(p.cols);

    // ceilings (same threads, same bytes)
    // (slots are adjacent: the forward's copy spans [x r] -> [dy dres] and a little further, since its byte count
    // includes the stats and parameters; the memcpy kind of the backward's ceiling spans [x r] -> [dx t]. The
    // forward copy must not write into [y s]: its source reaches into y.) Timed again after the implementations, the
    // faster timing kept (keep_faster_ceiling); each timing overwrites inputs, laid out again below and per shape.
    auto time_ceilings = [&](Result& f, Result& b) {
      best_ceiling([&](CeilKind k, int s) { ceiling_copy(threads, k, S.dy(s), S.x(s), (size_t)(fwd_bytes / 2)); },
                   S.count, plan, f);
      best_ceiling([&](CeilKind k, int s) { ceiling_r2w1(threads, k, S.dx(s), S.x(s), S.dy(s), (size_t)(bwd_fused / 3)); },
                   S.count, plan, b);
    };
    const size_t ceil_at = out.size();
    if (!o.validate_only) {
      Result cf = base(p, "forward", "ceiling", threads, fwd_bytes), cb = base(p, "backward", "ceiling", threads, bwd_fused);
      time_ceilings(cf, cb);
      out.push_back(cf);
      out.push_back(cb);
    }
    // the ceiling passes overwrote the inputs: lay them out again
    for (int i = 0; i < S.count; ++i) fill(p, i);

    ln4j_exec ex = ln4j_exec_init();
    ex.threads = threads;
    // One float32 LayerNorm call over set s: x (or s) in, optional residual and its sum out.
    auto forward = [&](const void* x, const void* residual, void* y, void* residual_out, int s) {
      ln4j_forward_args a = ln4j_forward_args_init();
      a.norm = LN4J_NORM_LAYER;
      a.x_dtype = a.param_dtype = LN4J_FLOAT32;
      a.rows = p.rows;
      a.cols = p.cols;
      a.eps = p.eps;
      a.x = x;
      a.residual = residual;
      a.gamma = g;
      a.beta = b;
      a.y = y;
      a.residual_out = residual_out;
      a.mean = S.mean(s);
      a.rstd = S.rstd(s);
      return ln4j_cpu_forward(&a, &ex);
    };
    auto backward = [&](int flags, const void* dres, const void* x, const void* mean, void* dx, int s) {
      ln4j_backward_args a = ln4j_backward_args_init();
      a.norm = LN4J_NORM_LAYER;
      a.flags = flags;
      a.x_dtype = a.param_dtype = LN4J_FLOAT32;
      a.rows = p.rows;
      a.cols = p.cols;
      a.dy = S.dy(s);
      a.dresidual_out = dres;
      a.x = x;
      a.mean = mean;
      a.rstd = S.rstd(s);
      a.gamma = g;
      a.beta = b;
      a.dx = dx;
      a.dgamma = dgamma.data();
      a.dbeta = dbeta.data();
      return ln4j_cpu_backward(&a, &ex);
    };
    auto fused_fwd = [&](int s) { return forward(S.x(s), S.r(s), S.y(s), S.s(s), s); };
    auto unfused_fwd = [&](int s) {
      ceiling_r2w1(threads, CeilKind::Ordinary, S.s(s), S.x(s), S.r(s), xb);
      return forward(S.s(s), nullptr, S.y(s), nullptr, s);
    };
    auto judge_fwd = [&] {
      Check c = check_forward(p, S.y(0), S.mean(0), S.rstd(0));
      if (c.ok && std::memcmp(S.s(0), p.x.data(), xb) != 0) {
        c.ok = false;
        c.where = "s != x + residual";
      }
      return c;
    };
    poison(S.y(0), 2 * xb);
    poison(S.mean(0), 2 * up64(p.sbytes()));
    run(base(p, "forward", "fused", threads, fwd_bytes), fused_fwd, judge_fwd);
    poison(S.y(0), 2 * xb);
    poison(S.mean(0), 2 * up64(p.sbytes()));
    run(base(p, "forward", "add+norm", threads, fwd_bytes), unfused_fwd, judge_fwd);

    // The backward reads s = x (bit for bit) and the reference statistics; from-y reads the validated y.
    for (int i = 0; i < S.count; ++i) fill(p, i);
    auto fused_bwd = [&](int s) { return backward(0, S.dres(s), S.s(s), S.mean(s), S.dx(s), s); };
    auto unfused_bwd = [&](int s) {
      int st = backward(0, nullptr, S.s(s), S.mean(s), S.t(s), s);
      ceiling_r2w1(threads, CeilKind::Ordinary, S.dx(s), S.t(s), S.dres(s), xb);
      return st;
    };
    auto plain_bwd = [&](int s, bool from_y) {
      return backward(from_y ? LN4J_FLAG_BACKWARD_FROM_OUTPUT : 0, nullptr, from_y ? S.y(s) : S.s(s),
                      from_y ? nullptr : S.mean(s), S.dx(s), s);
    };
    auto judge_fused = [&] {
      Check c = check_dx_plus(p, S.dx(0), S.dres(0));
      Check d = check_backward(p, S.t(0), dgamma.data(), dbeta.data());  // t: norm+add's plain dx
      return c.ok ? d : c;
    };
    auto judge_plain = [&] { return check_backward(p, S.dx(0), dgamma.data(), dbeta.data()); };
    // xhat rebuilt from y carries y's rounding divided by gamma: judge from-y with a problem whose dx and dgamma
    // tolerances are widened by the worst |y| / |gamma| ulp ratio of this problem.
    Problem py = p;
    double widen = 1;
    for (int64_t c = 0; c < p.cols; ++c) widen = std::max(widen, 2.0 * (std::fabs(b[c]) + 8 * std::fabs(g[c])) / std::fabs(g[c]));
    for (auto& v : py.tol_dx) v *= widen;
    for (auto& v : py.tol_dgamma) v *= widen;
    auto judge_from_y = [&] { return check_backward(py, S.dx(0), dgamma.data(), dbeta.data()); };

    // judge_fused also checks t, the plain dx that norm+add leaves there: fill it once before the fused run
    poison(S.t(0), xb);
    if (unfused_bwd(0) == LN4J_OK) {
      poison(S.dx(0), xb);
      poison(dgamma.data(), dgamma.size() * 4);
      poison(dbeta.data(), dbeta.size() * 4);
    }
    run(base(p, "backward", "fused", threads, bwd_fused), fused_bwd, judge_fused);
    poison(S.dx(0), xb);
    run(base(p, "backward", "norm+add", threads, bwd_fused), unfused_bwd, judge_fused);
    poison(S.dx(0), xb);
    run(base(p, "backward", "from-x", threads, bwd_plain), [&](int s) { return plain_bwd(s, false); }, judge_plain);
    poison(S.dx(0), xb);
    run(base(p, "backward", "from-y", threads, bwd_plain), [&](int s) { return plain_bwd(s, true); }, judge_from_y);
    if (!o.validate_only) {
      Result cf = base(p, "forward", "ceiling", threads, fwd_bytes), cb = base(p, "backward", "ceiling", threads, bwd_fused);
      time_ceilings(cf, cb);
      keep_faster_ceiling(out[ceil_at], cf);
      keep_faster_ceiling(out[ceil_at + 1], cb);
    }
  }

  // Inputs of set i: x = r = x_ref / 2; s = x_ref; y = the reference y rounded to float; dy; dres; statistics.
  void fill(const Problem& p, int i) {
    const int64_t n = p.rows * p.cols;
    const float* xr = (const float*)p.x.data();
    for (int64_t k = 0; k < n; ++k) {
      S.x(i)[k] = xr[k] * 0.5f;
      S.r(i)[k] = xr[k] * 0.5f;
      S.y(i)[k] = (float)p.ref_y[k];
      S.dres(i)[k] = 0.25f * xr[k] - 1.0f;
    }
    std::memcpy(S.s(i), p.x.data(), p.xbytes());
    std::memcpy(S.dy(i), p.dy.data(), p.xbytes());
    std::memcpy(S.mean(i), p.mean.data(), p.sbytes());
    std::memcpy(S.rstd(i), p.rstd.data(), p.sbytes());
  }
};

}  // namespace

void run_fused(const Options& o, std::vector<Result>& out) {
  if (o.dtype != LN4J_FLOAT32) {
    std::printf("fused: float32 only (the unfused add is the harness's float add); left out for %s\n",
                dtype_label(o.dtype));
    return;
  }
  std::vector<int> threads = o.threads;
  if (threads.empty()) {
    threads.push_back(1);
    if (ln4j_cpu_default_threads() > 1) threads.push_back(ln4j_cpu_default_threads());
  }
  std::vector<int64_t> cols = o.cols_set ? o.cols : std::vector<int64_t>{768, 4096, 16384};
  // The LLC as the sweep detects it (shared last level, per socket), not sysconf's L3 (absent on some machines).
  const size_t llc = (size_t)std::max<int64_t>(ln4j::cpu::cache_info().llc, 0);
  size_t biggest = 0, cold = 0;  // one set of the largest shape; the arena every shape's cold regime needs
  for (int64_t c : cols) {
    int64_t rows = std::max<int64_t>(1, o.cpu_elements / c);
    Problem q;
    q.dtype = q.sdtype = q.pdtype = LN4J_FLOAT32;
    q.rows = rows;
    q.cols = c;
    biggest = std::max(biggest, Sets::set_size(q));
    // the calls that move the least: the memory-saving backwards (x or y, dy in; dx out)
    cold = std::max(cold, cold_arena_bytes(auto_arena_bytes(llc), llc, Sets::set_size(q), 3 * q.xbytes()));
  }
  // --rotate-mib is taken as given (one set at the least); the default holds every shape's cold sets.
  size_t bytes = o.rotate_mib > 0 ? std::max((size_t)(o.rotate_mib * 1048576.0), biggest) : cold;
  if (o.regime == "warm" || o.validate_only) bytes = biggest;
  bytes = (bytes + 4095) / 4096 * 4096;
  Fused F{o, {}, {o.reps, std::min(5, o.reps), o.budget_s, 50.0}, out};
  F.S.base = (unsigned char*)std::aligned_alloc(4096, bytes);
  if (!F.S.base) {
    std::fprintf(stderr, "ln4j_bench: cannot allocate %zu MiB of buffers\n", bytes >> 20);
    std::exit(3);
  }
  std::memset(F.S.base, 0, bytes);  // first touch outside every timing (fill() leaves the t slots alone)
  std::printf("fused: float32, isa %s, rotating over %zu MiB of buffer sets\n", ln4j_cpu_isa_name(ln4j_cpu_isa_best()),
              bytes >> 20);
  std::fflush(stdout);
  for (int64_t c : cols) {
    Problem p;
    make_problem(p, LN4J_FLOAT32, std::max<int64_t>(1, o.cpu_elements / c), c, o.seed);
    F.S.xb = up64(p.xbytes());
    F.S.stats = p.sbytes();
    F.S.set_bytes = Sets::set_size(p);
    F.S.count = (int)std::max<size_t>(1, bytes / F.S.set_bytes);
    for (int i = 0; i < F.S.count; ++i) F.fill(p, i);
    for (int t : threads) {
      const int attempts = time_shape(out, o.validate_only ? 0 : o.retries, [&] { F.shape(p, t); });
      std::fprintf(stderr, "  fused %lldx%lld threads=%d done%s\n", (long long)p.rows, (long long)p.cols, t,
                   attempts > 1 ? (" (" + std::to_string(attempts) + " attempts)").c_str() : "");
    }
  }
  std::free(F.S.base);
}

}  // namespace bench

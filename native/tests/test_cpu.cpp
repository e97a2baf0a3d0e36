// Checks of the CPU kernels through the C API against the float64 reference library (native/reference).
//
// Every case: random off-centre data (mean far from 0, scale far from 1), outputs poisoned with NaN before the
// call, inputs at an odd element offset in half the cases (unaligned), for every ISA path this CPU runs, every
// dtype (16-bit data with FLOAT32 and with 16-bit parameters), the widths of the issue, gamma/beta present or
// absent. Then: hard numerics (rows of 1e4 + N(0, 1e-3), constant rows, NaN/Inf rows), bitwise determinism over
// thread counts 1, 2, 3, 8 and repeated calls, concurrent callers, bad arguments, the scalar dtype conversions.
//
// The reference and the tolerances (derived from rounding) come from the shared reference library
// (native/reference/ln4j_reference.h, which states the model: its known-order constants); the sum growth g is
// the deterministic bound of the blocked sums of each path (growth() below).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/stats.h"
#include "cpu/dtype.h"
#include "layernorm4j/layernorm4j.h"
#include "ln4j_reference.h"

namespace {

int g_failures = 0;
int g_checks = 0;
#define CHECK(cond, ...)                                    \
  do {                                                      \
    ++g_checks;                                             \
    if (!(cond)) {                                          \
      if (++g_failures <= 40) {                             \
        std::printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
        std::printf(__VA_ARGS__);                           \
        std::printf("\n");                                  \
      }                                                     \
    }                                                       \
  } while (0)

// ---- dtype codecs of the reference library (written independently of the kernels' own) ----------------------
namespace ref = ln4j::ref;
int esize(int dt) { return ref::dtype_bytes(dt); }
double dec_f16(uint16_t h) { return ref::f16_to_double(h); }
double dec_bf16(uint16_t h) { return ref::bf16_to_double(h); }
uint16_t enc_bf16(double v) { return ref::double_to_bf16(v); }

// A buffer of n elements of dtype dt, at an odd element offset when `unaligned`.
struct Buf {
  int dt = 0;
  int64_t n = 0;
  std::vector<unsigned char> store;
  unsigned char* p = nullptr;
  Buf() = default;
  // A copy owns its own storage, at the same offset from its start (the default copy kept pointing at the
  // original's storage, so a test comparing a saved copy with a later result compared the result with itself).
  Buf(const Buf& o) : dt(o.dt), n(o.n), store(o.store), p(o.p ? store.data() + (o.p - o.store.data()) : nullptr) {}
  Buf& operator=(const Buf& o) {
    if (this != &o) {
      dt = o.dt;
      n = o.n;
      store = o.store;
      p = o.p ? store.data() + (o.p - o.store.data()) : nullptr;
    }
    return *this;
  }
  Buf(Buf&&) = default;  // a moved vector keeps its buffer, so p stays valid
  Buf& operator=(Buf&&) = default;
  Buf(int dtype, int64_t count, bool unaligned) : dt(dtype), n(count) {
    store.assign(size_t((count + 16) * esize(dt)) + 64, 0);
    uintptr_t base = (reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63);
    p = reinterpret_cast<unsigned char*>(base) + (unaligned ? esize(dt) : 0);
  }
  double get(int64_t i) const { return ref::load(dt, p, i); }
  void set(int64_t i, double v) { ref::store(dt, p, i, v); }
  void poison() {
    for (int64_t i = 0; i < n; ++i) set(i, NAN);
  }
  bool same_bits(const Buf& o) const { return n == o.n && std::memcmp(p, o.p, size_t(n * esize(dt))) == 0; }
};

struct Case {
  int isa, xdt, pdt;
  int64_t rows, cols;
  bool gamma, beta, unaligned;
  int threads;
  int norm = LN4J_NORM_LAYER;
  int flags = 0;
  bool res = false;       // forward: residual given (s = x + residual is normalized); backward: dresidual_out
  bool res_out = false;   // forward: residual_out given (backward then reads s from it)
  bool rms() const { return norm == LN4J_NORM_RMS; }
  double geff(double g) const { return (flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) ? 1.0 + g : g; }
};

const char* dname(int dt) {
  static const char* n[] = {"f32", "f64", "bf16", "f16"};
  return n[dt];
}

struct Data {
  Buf x, g, b, y, mean, rstd, dy, dx, dg, db, res, rout, dres;
};

// Fills x (off-centre), gamma, beta, dy with random values.
void fill(Data& d, const Case& c, std::mt19937_64& rng, double centre, double scale) {
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int64_t i = 0; i < c.rows * c.cols; ++i) d.x.set(i, centre + scale * nd(rng));
  for (int64_t i = 0; i < c.cols; ++i) {
    d.g.set(i, 1.5 + 0.5 * nd(rng));
    d.b.set(i, -2.0 + 0.7 * nd(rng));
  }
  for (int64_t i = 0; i < c.rows * c.cols; ++i) d.dy.set(i, 0.3 + 1.7 * nd(rng));
  if (c.res)
    for (int64_t i = 0; i < c.rows * c.cols; ++i) {
      d.res.set(i, -1.0 + 0.8 * nd(rng));
      d.dres.set(i, 0.5 + 0.9 * nd(rng));
    }
}

Data make(const Case& c) {
  Data d;
  int sdt = c.xdt == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32;
  int64_t n = c.rows * c.cols;
  d.x = Buf(c.xdt, n, c.unaligned);
  d.y = Buf(c.xdt, n, c.unaligned);
  d.dy = Buf(c.xdt, n, c.unaligned);
  d.dx = Buf(c.xdt, n, c.unaligned);
  if (c.res) {
    d.res = Buf(c.xdt, n, c.unaligned);
    d.rout = Buf(c.xdt, n, c.unaligned);
    d.dres = Buf(c.xdt, n, c.unaligned);
  }
  d.g = Buf(c.pdt, c.cols, c.unaligned);
  d.b = Buf(c.pdt, c.cols, c.unaligned);
  d.dg = Buf(c.pdt, c.cols, c.unaligned);
  d.db = Buf(c.pdt, c.cols, c.unaligned);
  d.mean = Buf(sdt, c.rows, c.unaligned);
  d.rstd = Buf(sdt, c.rows, c.unaligned);
  return d;
}

// The execution struct of a case: CPU, its ISA and thread count.
ln4j_exec exec_of(int isa, int threads) {
  ln4j_exec e = ln4j_exec_init();
  e.isa = isa;
  e.threads = threads;
  return e;
}

int run_forward(const Case& c, Data& d, double eps) {
  d.y.poison();
  d.mean.poison();
  d.rstd.poison();
  if (c.res) d.rout.poison();
  ln4j_forward_args a = ln4j_forward_args_init();
  a.norm = c.norm;
  a.flags = c.flags;
  a.x_dtype = c.xdt;
  a.param_dtype = c.pdt;
  a.rows = c.rows;
  a.cols = c.cols;
  a.eps = eps;
  a.x = d.x.p;
  a.residual = c.res ? d.res.p : nullptr;
  a.gamma = c.gamma ? d.g.p : nullptr;
  a.beta = c.beta ? d.b.p : nullptr;
  a.y = d.y.p;
  a.residual_out = c.res && c.res_out ? d.rout.p : nullptr;
  a.mean = c.rms() ? nullptr : d.mean.p;
  a.rstd = d.rstd.p;
  const ln4j_exec e = exec_of(c.isa, c.threads);
  return ln4j_cpu_forward(&a, &e);
}

// The backward's x slot: s when the forward had a residual, y for the backward from y (which also gets beta and
// no mean), else x.
int run_backward(const Case& c, Data& d, bool want_dg, bool want_db) {
  d.dx.poison();
  d.dg.poison();
  d.db.poison();
  const bool fy = (c.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  ln4j_backward_args a = ln4j_backward_args_init();
  a.norm = c.norm;
  a.flags = c.flags;
  a.x_dtype = c.xdt;
  a.param_dtype = c.pdt;
  a.rows = c.rows;
  a.cols = c.cols;
  a.dy = d.dy.p;
  a.dresidual_out = c.res ? d.dres.p : nullptr;
  a.x = fy ? d.y.p : c.res && c.res_out ? d.rout.p : d.x.p;
  a.mean = c.rms() || fy ? nullptr : d.mean.p;
  a.rstd = d.rstd.p;
  a.gamma = c.gamma ? d.g.p : nullptr;
  a.beta = fy && c.beta ? d.b.p : nullptr;
  a.dx = d.dx.p;
  a.dgamma = want_dg ? d.dg.p : nullptr;
  a.dbeta = want_db ? d.db.p : nullptr;
  const ln4j_exec e = exec_of(c.isa, c.threads);
  return ln4j_cpu_backward(&a, &e);
}

// Growth g of the row sums of the path under test (ref::blocked_sum_growth): row sums run in blocks of kSumBlock
// columns, L accumulators per block (2 for the scalar path, 2*W for the SIMD paths: W = 8 / 16 float lanes, half
// for double), block sums added in float64 and rounded once, so the bound does not grow with the row length.
constexpr int64_t kSumBlock = 1024;
double growth(const Case& c, int64_t n) {
  int lanes = c.isa == LN4J_ISA_SCALAR ? 2 : c.isa == LN4J_ISA_AVX2 ? 16 : 32;
  if (c.xdt == LN4J_FLOAT64) lanes = c.isa == LN4J_ISA_SCALAR ? 2 : lanes / 2;
  return ref::blocked_sum_growth(n, lanes, kSumBlock, ref::unit_roundoff(ref::acc_dtype(c.xdt)));
}

// Checks the forward outputs row by row; rows listed in bad_rows must be all-NaN instead.
void check_forward(const Case& c, const Data& d, double eps, const std::vector<int64_t>& bad_rows,
                   const std::string& what) {
  const ref::Tolerance tol = ref::known_order_tolerance(c.xdt, c.pdt, growth(c, c.cols), c.rows);
  const double u = tol.u, uo = tol.uo;
  // The normalized input: x, or s = x + residual (exact here; the kernel's s carries <= u*|s| of rounding,
  // which moves xhat by <= u*|s|*rstd: the extra tolerance term below).
  auto xv = [&](int64_t i) { return c.res ? d.x.get(i) + d.res.get(i) : d.x.get(i); };
  std::vector<double> srow(size_t(c.cols));
  int reported = 0;
  for (int64_t r = 0; r < c.rows; ++r) {
    bool bad = false;
    for (int64_t b : bad_rows) bad |= b == r;
    if (bad) {
      bool all_nan = (c.rms() || std::isnan(d.mean.get(r))) && std::isnan(d.rstd.get(r));
      for (int64_t j = 0; j < c.cols; ++j) all_nan &= std::isnan(d.y.get(r * c.cols + j));
      CHECK(all_nan, "%s: row %lld with NaN/Inf input should give NaN y/mean/rstd", what.c_str(), (long long)r);
      continue;
    }
    for (int64_t j = 0; j < c.cols; ++j) srow[size_t(j)] = xv(r * c.cols + j);
    const ref::RowStats st = ref::row_stats(srow.data(), c.cols, c.rms(), eps);
    const long double meanl = st.mean, rstdl = st.rstd;
    const double mean = double(meanl), rstd = double(rstdl);
    const ref::StatsError se = ref::shifted_stats_error(tol.g, u, st);
    double em = c.rms() ? 0.0 : std::fabs(d.mean.get(r) - mean), tm = tol.tol_mean(se);
    double er = std::fabs(d.rstd.get(r) - rstd), tr = tol.tol_rstd(se, rstd);
    if (reported < 3) {
      CHECK(em <= tm, "%s: row %lld mean %.17g ref %.17g (err %.3g > tol %.3g)", what.c_str(), (long long)r,
            d.mean.get(r), mean, em, tm);
      CHECK(er <= tr, "%s: row %lld rstd %.17g ref %.17g (err %.3g > tol %.3g)", what.c_str(), (long long)r,
            d.rstd.get(r), rstd, er, tr);
      if (!(em <= tm) || !(er <= tr)) ++reported;
    }
    for (int64_t j = 0; j < c.cols; ++j) {
      long double xhatl = (srow[size_t(j)] - meanl) * rstdl;
      double ga = c.gamma ? c.geff(d.g.get(j)) : 1.0, be = c.beta ? d.b.get(j) : 0.0;
      double xhat = double(xhatl), refv = double(xhatl * ga + be);
      if (c.res && c.res_out) {  // residual_out = s rounded to x_dtype
        double sv = srow[size_t(j)], got_s = d.rout.get(r * c.cols + j);
        CHECK(std::fabs(got_s - sv) <= (uo + u) * std::fabs(sv), "%s: residual_out[%lld,%lld] = %.9g, s = %.9g",
              what.c_str(), (long long)r, (long long)j, got_s, sv);
      }
      const double t = tol.tol_y(se, xhat, ga, be, refv, c.res ? u * std::fabs(srow[size_t(j)]) * rstd : 0.0);
      double got = d.y.get(r * c.cols + j), err = std::fabs(got - refv);
      if (!(err <= t) && reported < 3) {
        ++reported;
        CHECK(false, "%s: y[%lld,%lld] = %.9g, ref %.9g (err %.3g > tol %.3g)", what.c_str(), (long long)r,
              (long long)j, got, refv, err, t);
      } else {
        ++g_checks;
      }
    }
  }
}

// Checks dx, dgamma, dbeta against the reference built from the given mean/rstd. nan_rows: rows whose dx
// must be all NaN (and then dgamma too); nan_cols: columns of dy holding NaN (dgamma/dbeta NaN there).
void check_backward(const Case& c, const Data& d, bool want_dg, bool want_db, const std::vector<int64_t>& nan_rows,
                    const std::vector<int64_t>& nan_cols, const std::string& what, bool x_nan = false) {
  const ref::Tolerance tol = ref::known_order_tolerance(c.xdt, c.pdt, growth(c, c.cols), c.rows);
  const double u = tol.u, uo = tol.uo, g = tol.g;
  const int64_t C = c.cols;
  const Buf& xb = c.res && c.res_out ? d.rout : d.x;  // the backward's x is s when the forward had a residual
  std::vector<long double> dg(C, 0.0), db(C, 0.0), xh(C), gdy(C);
  std::vector<double> adg(C, 0.0), adb(C, 0.0);
  // Backward from y (the reference still uses the true x): xhat rebuilt as (y - beta) * (1/g') carries (a) the
  // forward's own xhat error (the shifted statistics error of the reference library), (b) the rounding of y
  // (uo*|y|, or half the fp16 subnormal step) and (c) the subtraction, reciprocal and product (3u*(|y| + |beta|)),
  // (b) and (c) divided by |g'|, and (d) with a residual: the forward normalized the unrounded s while the
  // reference reads s as stored (uo*|s|*rstd). delta_j bounds it per element; it enters c2, dx and dgamma.
  const bool fy = (c.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  std::vector<double> delta(C, 0.0), edg(C, 0.0);
  std::vector<char> row_nan(c.rows, 0);
  for (int64_t r : nan_rows) row_nan[r] = 1;
  int reported = 0;
  for (int64_t r = 0; r < c.rows; ++r) {
    long double mean = c.rms() ? 0.0 : d.mean.get(r), rstd = d.rstd.get(r);  // the saved statistics
    for (int64_t j = 0; j < C; ++j) {
      long double ga = c.gamma ? c.geff(d.g.get(j)) : 1.0, dy = d.dy.get(r * C + j);
      xh[j] = (xb.get(r * C + j) - mean) * rstd;
      gdy[j] = ga * dy;
      if (fy) {
        double yv = std::fabs(d.y.get(r * C + j)), bv = c.beta ? std::fabs(d.b.get(j)) : 0.0;
        const ref::StatsError se = ref::shifted_stats_error(g, u, ref::RowStats{mean, rstd, 0.0, 0.0});
        delta[j] = std::fabs(double(xh[j])) * se.rel + se.abs +
                   (uo * yv + tol.sub + 3 * u * (yv + bv)) / std::fabs(double(ga)) +
                   (c.res ? uo * std::fabs(xb.get(r * C + j)) * double(rstd) : 0.0);
        edg[j] += double(std::fabs(dy)) * delta[j];
      }
      dg[j] += dy * xh[j];
      db[j] += dy;
      adg[j] += double(std::fabs(dy * xh[j]));
      adb[j] += double(std::fabs(dy));
    }
    if (row_nan[r]) {
      bool all_nan = true;
      for (int64_t j = 0; j < C; ++j) all_nan &= std::isnan(d.dx.get(r * C + j));
      CHECK(all_nan, "%s: row %lld should give NaN dx", what.c_str(), (long long)r);
      continue;
    }
    const ref::RowGrad rg = ref::row_grad(xh.data(), gdy.data(), fy ? delta.data() : nullptr, C, c.rms());
    for (int64_t j = 0; j < C; ++j) {
      double dr = c.res ? d.dres.get(r * C + j) : 0.0;  // dresidual_out, added to dx (one more rounding)
      const long double refl = rstd * (gdy[j] - rg.c1 - xh[j] * rg.c2);
      const double refv = double(refl + dr);
      const double t = tol.tol_dx(rg, double(rstd), c.rms(), double(xh[j]), double(gdy[j]), double(refl), dr,
                                  fy ? delta[j] : 0.0);
      double got = d.dx.get(r * C + j), err = std::fabs(got - refv);
      if (!(err <= t) && reported < 3) {
        ++reported;
        CHECK(false, "%s: dx[%lld,%lld] = %.9g, ref %.9g (err %.3g > tol %.3g)", what.c_str(), (long long)r,
              (long long)j, got, refv, err, t);
      } else {
        ++g_checks;
      }
    }
  }
  const bool dgamma_all_nan = x_nan;  // a NaN/Inf in x makes that row's xhat NaN in every column
  std::vector<char> col_nan(C, 0);
  for (int64_t j : nan_cols) col_nan[j] = 1;
  for (int64_t j = 0; j < C && reported < 6; ++j) {
    if (want_dg) {
      double got = d.dg.get(j);
      if (dgamma_all_nan || col_nan[j]) {
        CHECK(std::isnan(got), "%s: dgamma[%lld] = %g should be NaN", what.c_str(), (long long)j, got);
      } else {
        double t = tol.tol_column_sum(adg[j], double(dg[j]), edg[j]);
        double err = double(std::fabs(got - dg[j]));
        if (!(err <= t)) ++reported;
        CHECK(err <= t, "%s: dgamma[%lld] = %.9g ref %.9g (err %.3g > tol %.3g)", what.c_str(), (long long)j, got,
              double(dg[j]), err, t);
      }
    } else {
      CHECK(std::isnan(d.dg.get(j)), "%s: dgamma written though not wanted", what.c_str());
    }
    if (want_db) {
      double got = d.db.get(j);
      if (col_nan[j]) {
        CHECK(std::isnan(got), "%s: dbeta[%lld] = %g should be NaN", what.c_str(), (long long)j, got);
      } else {
        double t = tol.tol_column_sum(adb[j], double(db[j]));
        double err = double(std::fabs(got - db[j]));
        if (!(err <= t)) ++reported;
        CHECK(err <= t, "%s: dbeta[%lld] = %.9g ref %.9g (err %.3g > tol %.3g)", what.c_str(), (long long)j, got,
              double(db[j]), err, t);
      }
    } else {
      CHECK(std::isnan(d.db.get(j)), "%s: dbeta written though not wanted", what.c_str());
    }
  }
}

std::string label(const Case& c, const char* extra = "") {
  char s[256];
  std::snprintf(s, sizeof s, "%s isa=%s x=%s p=%s rows=%lld cols=%lld gamma=%d beta=%d unaligned=%d threads=%d",
                extra, ln4j_cpu_isa_name(c.isa), dname(c.xdt), dname(c.pdt), (long long)c.rows, (long long)c.cols,
                c.gamma, c.beta, c.unaligned, c.threads);
  return s;
}

std::vector<int> isas() {
  std::vector<int> v;
  for (int i : {LN4J_ISA_SCALAR, LN4J_ISA_AVX2, LN4J_ISA_AVX512})
    if (ln4j_cpu_isa_supported(i)) v.push_back(i);
  return v;
}

const int kDtypes[][2] = {{LN4J_FLOAT32, LN4J_FLOAT32}, {LN4J_FLOAT64, LN4J_FLOAT64},
                          {LN4J_BFLOAT16, LN4J_FLOAT32}, {LN4J_BFLOAT16, LN4J_BFLOAT16},
                          {LN4J_FLOAT16, LN4J_FLOAT32}, {LN4J_FLOAT16, LN4J_FLOAT16}};

// ---- the tests ------------------------------------------------------------------------------------------------
void test_widths() {
  const int64_t widths[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255,
                            256, 257, 768, 1000, 1023, 1024, 1025, 4096, 4097, 65537};
  std::mt19937_64 rng(1234);
  int k = 0;
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int64_t cols : widths) {
        ++k;
        // rows: 1, and a count that is not a multiple of the thread count (3); enough rows for a hand-off on
        // the narrow widths.
        int64_t rows = (k % 3 == 0) ? 1 : (cols >= 4096 ? 5 : cols >= 256 ? 37 : 301);
        int mode = k % 3;  // gamma+beta, gamma only, neither
        Case c{isa, dt[0], dt[1], rows, cols, mode != 2, mode == 0, (k & 1) != 0, 3};
        Data d = make(c);
        fill(d, c, rng, 3.5 + 0.01 * double(k % 7), 2.25);
        const double eps = 1e-5;
        int s = run_forward(c, d, eps);
        CHECK(s == LN4J_OK, "%s: forward status %d (%s)", label(c).c_str(), s, ln4j_last_error());
        check_forward(c, d, eps, {}, label(c, "forward"));
        bool wdg = c.gamma, wdb = c.gamma && (k % 4 != 1);
        s = run_backward(c, d, wdg, wdb);
        CHECK(s == LN4J_OK, "%s: backward status %d (%s)", label(c).c_str(), s, ln4j_last_error());
        check_backward(c, d, wdg, wdb, {}, {}, label(c, "backward"));
      }
}

// RMSNorm and zero-centred gamma (LN4J_FLAG_ZERO_CENTERED_GAMMA) against the same reference.
void test_variants() {
  const int64_t widths[] = {1, 7, 16, 17, 33, 257, 1000, 4097};
  std::mt19937_64 rng(77);
  int k = 0;
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int64_t cols : widths)
        for (int v = 0; v < 6; ++v) {
          ++k;
          // v: 0 RMS with gamma, 1 RMS with 1+gamma, 2 RMS without gamma, 3 layer norm with 1+gamma and beta
          Case c{isa, dt[0], dt[1], k % 5 == 0 ? 1 : 37, cols, v != 2, v == 3, (k & 1) != 0, 3};
          // 4 layer norm with residual + residual_out (backward: x = s, dresidual_out), 5 RMS with residual only
          c.norm = (v == 3 || v == 4) ? LN4J_NORM_LAYER : LN4J_NORM_RMS;
          c.flags = (v == 1 || v == 3) ? LN4J_FLAG_ZERO_CENTERED_GAMMA : 0;
          c.beta = v == 3 || v == 4;
          c.res = v >= 4;
          c.res_out = v == 4;
          Data d = make(c);
          fill(d, c, rng, 1.5, 2.0);
          int s = run_forward(c, d, 1e-5);
          CHECK(s == LN4J_OK, "%s: forward status %d (%s)", label(c, "variant").c_str(), s, ln4j_last_error());
          char what[64];
          std::snprintf(what, sizeof what, "norm=%d flags=%d res=%d forward", c.norm, c.flags, int(c.res));
          check_forward(c, d, 1e-5, {}, label(c, what));
          bool wdb = c.gamma && !c.rms();
          if (c.res && !c.res_out) {  // the backward needs s: run the forward again, writing it
            c.res_out = true;
            s = run_forward(c, d, 1e-5);
          }
          s = run_backward(c, d, c.gamma, wdb);
          CHECK(s == LN4J_OK, "%s: backward status %d (%s)", label(c, "variant").c_str(), s, ln4j_last_error());
          std::snprintf(what, sizeof what, "norm=%d flags=%d res=%d backward", c.norm, c.flags, int(c.res));
          check_backward(c, d, c.gamma, wdb, {}, {}, label(c, what));
        }
}

// The memory-saving backward (LN4J_FLAG_BACKWARD_FROM_OUTPUT: the x slot holds the forward's y) against the
// reference built from the true x, with the tolerance widened only by the rounding that rebuilding xhat from y
// adds (check_backward's delta); then the zero-gamma rule and bitwise determinism over thread counts.
void test_from_y() {
  const int64_t widths[] = {1, 7, 16, 17, 33, 768, 1000, 4097};
  std::mt19937_64 rng(4242);
  int k = 0;
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int64_t cols : widths)
        for (int v = 0; v < 6; ++v) {
          ++k;
          // v: 0 gamma+beta, 1 gamma only, 2 no affine, 3 RMS gamma, 4 RMS 1+gamma, 5 1+gamma, beta, residual
          Case c{isa, dt[0], dt[1], k % 5 == 0 ? 1 : 37, cols, v != 2, v == 0 || v == 5, (k & 1) != 0, 3};
          c.norm = (v == 3 || v == 4) ? LN4J_NORM_RMS : LN4J_NORM_LAYER;
          c.flags = (v == 4 || v == 5) ? LN4J_FLAG_ZERO_CENTERED_GAMMA : 0;
          c.res = c.res_out = v == 5;
          Data d = make(c);
          fill(d, c, rng, 1.5, 2.0);
          int s = run_forward(c, d, 1e-5);
          CHECK(s == LN4J_OK, "%s: forward status %d (%s)", label(c, "from-y").c_str(), s, ln4j_last_error());
          c.flags |= LN4J_FLAG_BACKWARD_FROM_OUTPUT;
          bool wdb = c.beta;
          s = run_backward(c, d, c.gamma, wdb);
          CHECK(s == LN4J_OK, "%s: backward status %d (%s)", label(c, "from-y").c_str(), s, ln4j_last_error());
          char what[64];
          std::snprintf(what, sizeof what, "from-y v=%d backward", v);
          check_backward(c, d, c.gamma, wdb, {}, {}, label(c, what));
          if (v == 0 && cols == 1000) {  // same bits for 1, 2, 3 and 8 threads
            Buf dx1 = d.dx, dg1 = d.dg;
            for (int t : {1, 2, 8}) {
              c.threads = t;
              run_backward(c, d, c.gamma, wdb);
              CHECK(d.dx.same_bits(dx1) && d.dg.same_bits(dg1), "%s: bits differ with %d threads",
                    label(c, "from-y").c_str(), t);
            }
          }
        }
  // Zero-gamma rule: an applied gamma of exactly 0 (gamma = 0, or gamma = -1 when zero-centred) makes xhat
  // unrecoverable from y: the call fails naming the first such column, with or without dgamma, writing nothing.
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int zc = 0; zc < 2; ++zc) {
        Case c{isa, dt[0], dt[1], 9, 40, true, true, false, 2};
        c.flags = zc ? LN4J_FLAG_ZERO_CENTERED_GAMMA : 0;
        Data d = make(c);
        fill(d, c, rng, 1.5, 2.0);
        CHECK(run_forward(c, d, 1e-5) == LN4J_OK, "zero-gamma forward");
        d.g.set(23, zc ? -1.0 : 0.0);
        d.g.set(31, zc ? -1.0 : 0.0);
        c.flags |= LN4J_FLAG_BACKWARD_FROM_OUTPUT;
        for (int want_dg = 0; want_dg < 2; ++want_dg) {
          int s = run_backward(c, d, want_dg != 0, true);
          bool untouched = true;
          for (int64_t i = 0; i < c.rows * c.cols; ++i) untouched &= std::isnan(d.dx.get(i));
          for (int64_t j = 0; j < c.cols; ++j) untouched &= std::isnan(d.dg.get(j)) && std::isnan(d.db.get(j));
          CHECK(s == LN4J_ERR_ZERO_GAMMA && std::strstr(ln4j_last_error(), "column 23") && untouched,
                "%s zc=%d dgamma=%d: zero-gamma rule: status %d, message '%s', outputs untouched %d",
                label(c, "from-y").c_str(), zc, want_dg, s, ln4j_last_error(), int(untouched));
          ++g_checks;
        }
      }
}

void test_hard_numerics() {
  std::mt19937_64 rng(99);
  for (int isa : isas())
    for (auto& dt : kDtypes) {
      // Rows of 1e4 + N(0, 1e-3) (16-bit data cannot hold that spread: use 1e2 + N(0, 1e-1) there, which
      // still breaks E[x^2] - E[x]^2 in float32), one constant row, and the rest off-centre.
      bool wide = dt[0] == LN4J_FLOAT32 || dt[0] == LN4J_FLOAT64;
      Case c{isa, dt[0], dt[1], 7, 1000, true, true, false, 2};
      Data d = make(c);
      fill(d, c, rng, wide ? 1e4 : 1e2, wide ? 1e-3 : 1e-1);
      for (int64_t j = 0; j < c.cols; ++j) d.x.set(3 * c.cols + j, 2.75);  // constant row 3
      int s = run_forward(c, d, 1e-5);
      CHECK(s == LN4J_OK, "hard forward status %d", s);
      check_forward(c, d, 1e-5, {}, label(c, "hard-numerics forward"));
      s = run_backward(c, d, true, true);
      CHECK(s == LN4J_OK, "hard backward status %d", s);
      check_backward(c, d, true, true, {}, {}, label(c, "hard-numerics backward"));

      // A NaN in row 1 and an Inf in row 4 of x: those rows NaN, the others exact; in the backward those rows'
      // dx and every dgamma column NaN; dbeta does not involve x and stays exact.
      Case e = c;
      e.rows = 6;
      e.cols = 129;
      Data f = make(e);
      fill(f, e, rng, 3.0, 2.0);
      f.x.set(1 * e.cols + 17, NAN);
      f.x.set(4 * e.cols + 128, INFINITY);
      s = run_forward(e, f, 1e-5);
      CHECK(s == LN4J_OK, "nan forward status %d", s);
      check_forward(e, f, 1e-5, {1, 4}, label(e, "nan/inf forward"));
      s = run_backward(e, f, true, true);
      check_backward(e, f, true, true, {1, 4}, {}, label(e, "nan/inf backward"), true);
      // A NaN in dy[2, 5]: row 2's dx NaN, dgamma[5] and dbeta[5] NaN, everything else exact.
      fill(f, e, rng, 3.0, 2.0);
      run_forward(e, f, 1e-5);
      f.dy.set(2 * e.cols + 5, NAN);
      s = run_backward(e, f, true, true);
      check_backward(e, f, true, true, {2}, {5}, label(e, "nan-dy backward"));
    }
}

void test_determinism() {
  std::mt19937_64 rng(7);
  const int64_t shapes[][2] = {{1000, 257}, {97, 4097}, {3001, 33}, {9, 65537}};
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (auto& sh : shapes) {
        Case c{isa, dt[0], dt[1], sh[0], sh[1], true, true, false, 1};
        Data ref = make(c);
        fill(ref, c, rng, -4.0, 3.0);
        run_forward(c, ref, 1e-5);
        run_backward(c, ref, true, true);
        for (int t : {1, 2, 3, 8, 3}) {
          Case ct = c;
          ct.threads = t;
          Data d = make(ct);
          std::memcpy(d.x.p, ref.x.p, size_t(c.rows * c.cols * esize(c.xdt)));
          std::memcpy(d.dy.p, ref.dy.p, size_t(c.rows * c.cols * esize(c.xdt)));
          std::memcpy(d.g.p, ref.g.p, size_t(c.cols * esize(c.pdt)));
          std::memcpy(d.b.p, ref.b.p, size_t(c.cols * esize(c.pdt)));
          run_forward(ct, d, 1e-5);
          run_backward(ct, d, true, true);
          bool same = d.y.same_bits(ref.y) && d.mean.same_bits(ref.mean) && d.rstd.same_bits(ref.rstd) &&
                      d.dx.same_bits(ref.dx) && d.dg.same_bits(ref.dg) && d.db.same_bits(ref.db);
          CHECK(same, "%s: outputs differ from threads=1", label(ct, "determinism").c_str());
        }
      }
}

// A row's forward outputs do not depend on the rows around it: each row of a 7-row call equals, bit for bit, the
// same row forwarded alone and in a call of two rows. A one-row call runs the pipeline's three sweeps on their own
// (each with a loop of its own in the units built for speed, RowSweep::run), a longer call runs them merged.
void test_rows_alone() {
  std::mt19937_64 rng(29);
  const int64_t widths[] = {5, 33, 768, 1000, 4097, 16384};
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int64_t cols : widths)
        for (int variant = 0; variant < 4; ++variant) {
          Case c{isa, dt[0], dt[1], 7, cols, true, variant != 3, false, 1};
          if (variant == 1) c.res = c.res_out = true;
          if (variant == 2) c.norm = LN4J_NORM_RMS, c.beta = false;
          if (variant == 3) c.flags = LN4J_FLAG_ZERO_CENTERED_GAMMA;
          Data ref = make(c);
          fill(ref, c, rng, 2.5, 1.5);
          int s = run_forward(c, ref, 1e-5);
          CHECK(s == LN4J_OK, "%s: forward status %d", label(c, "rows alone").c_str(), s);
          const size_t xb = size_t(cols * esize(c.xdt)), sb = size_t(esize(c.xdt == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32));
          for (int64_t r = 0; r + 1 < c.rows; ++r)
            for (int64_t k : {int64_t(1), int64_t(2)}) {
              Case ck = c;
              ck.rows = k;
              Data d = make(ck);
              std::memcpy(d.x.p, ref.x.p + r * xb, k * xb);
              if (c.res) std::memcpy(d.res.p, ref.res.p + r * xb, k * xb);
              std::memcpy(d.g.p, ref.g.p, size_t(cols * esize(c.pdt)));
              std::memcpy(d.b.p, ref.b.p, size_t(cols * esize(c.pdt)));
              s = run_forward(ck, d, 1e-5);
              bool same = s == LN4J_OK && std::memcmp(d.y.p, ref.y.p + r * xb, k * xb) == 0 &&
                          std::memcmp(d.rstd.p, ref.rstd.p + r * sb, k * sb) == 0;
              if (!c.rms()) same = same && std::memcmp(d.mean.p, ref.mean.p + r * sb, k * sb) == 0;
              if (c.res_out) same = same && std::memcmp(d.rout.p, ref.rout.p + r * xb, k * xb) == 0;
              CHECK(same, "%s: rows %lld..%lld forwarded alone differ from the 7-row call (variant %d)",
                    label(c, "rows alone").c_str(), (long long)r, (long long)(r + k - 1), variant);
            }
        }
}

// One column: xhat = 0 exactly (the mean is the value itself), so dx = rstd * (g*dy - mean(g*dy)) is exactly 0
// (plus dresidual_out when given) on every path; a fused multiply-add the formula does not have (g*dy kept
// unrounded against its rounded mean) used to leave +-rstd * rounding(g*dy) on the SIMD paths.
void test_one_column() {
  std::mt19937_64 rng(11);
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (int variant = 0; variant < 4; ++variant) {
        Case c{isa, dt[0], dt[1], 37, 1, variant != 1, variant != 1, variant == 2, variant == 3 ? 3 : 1};
        c.flags = variant == 3 ? LN4J_FLAG_ZERO_CENTERED_GAMMA : 0;
        c.res = c.res_out = variant == 2;
        Data d = make(c);
        fill(d, c, rng, 1.3, 0.5);
        int s = run_forward(c, d, 1e-5);
        CHECK(s == LN4J_OK, "%s: forward status %d", label(c, "one column").c_str(), s);
        s = run_backward(c, d, c.gamma, c.beta);
        CHECK(s == LN4J_OK, "%s: backward status %d", label(c, "one column").c_str(), s);
        // With a residual, 16-bit data normalizes the unrounded s = x + residual while residual_out (the backward's
        // x) holds s rounded: xhat is then not 0, and the exact dx is not either.
        if (c.res && esize(c.xdt) == 2) continue;
        int bad = 0;
        for (int64_t r = 0; r < c.rows; ++r) {
          const double want = c.res ? d.dres.get(r) : 0.0;
          if (d.dx.get(r) != want) ++bad;
        }
        CHECK(bad == 0, "%s: %d rows of dx are not exactly %s (first %g)", label(c, "one column").c_str(), bad,
              c.res ? "dresidual_out" : "0", d.dx.get(0));
        if (c.gamma) CHECK(d.dg.get(0) == 0.0, "%s: dgamma %g, want exactly 0", label(c, "one column").c_str(), d.dg.get(0));
      }
}

// Rows of 2^24 values near 1.3 (the row sums' float32 error used to grow with the row length: the scalar path's
// rstd was 0.4% off here) against the float64 reference, with tolerances that do not grow with n.
void test_long_rows() {
  std::mt19937_64 rng(2024);
  const int64_t n = int64_t(1) << 24;
  for (int isa : isas())
    for (int k = 0; k < 2; ++k) {
      const int xdt = k == 0 ? LN4J_FLOAT32 : LN4J_BFLOAT16;
      Case c{isa, xdt, LN4J_FLOAT32, 1, n, true, true, false, 2};
      Data d = make(c);
      fill(d, c, rng, 1.3, 0.5);
      int s = run_forward(c, d, 1e-5);
      CHECK(s == LN4J_OK, "%s: forward status %d", label(c, "long row").c_str(), s);
      check_forward(c, d, 1e-5, {}, label(c, "long row forward"));
      s = run_backward(c, d, true, true);
      CHECK(s == LN4J_OK, "%s: backward status %d", label(c, "long row").c_str(), s);
      check_backward(c, d, true, true, {}, {}, label(c, "long row backward"));
    }
}

// LN4J_NT_THRESHOLD set: the threshold's default is that setting ("always" streams every call).
bool nt_threshold_from_env() {
  const char* e = std::getenv("LN4J_NT_THRESHOLD");
  return e && *e;
}

// Streaming stores forced on and forced off give the same bits (y, residual_out, mean, rstd, dx, dgamma, dbeta)
// for every path, dtype and variant, aligned rows (streamed) and unaligned ones (ordinary stores on those rows),
// at several thread counts; the streamed results also pass the reference checks.
void test_streaming_stores() {
  std::mt19937_64 rng(31);
  // One-row calls too: the forward runs a lone row's sweeps on a path of their own (forward_rows).
  const int64_t shapes[][2] = {{64, 256}, {33, 1000}, {7, 4097}, {3, 65536}, {300, 24}, {1, 768}, {1, 40}};
  const int64_t saved = ln4j_cpu_stream_threshold();
  CHECK(ln4j_cpu_set_stream_threshold(0) == LN4J_OK && ln4j_cpu_stream_threshold() == 0, "threshold 0 (always)");
  // -1 goes back to the default: LN4J_NT_THRESHOLD when set (0 for "always"), else the LLC rule (> 0).
  const bool nt_env_set = nt_threshold_from_env();
  CHECK(ln4j_cpu_set_stream_threshold(-1) == LN4J_OK && ln4j_cpu_stream_threshold() >= (nt_env_set ? 0 : 1),
        "default threshold %lld", (long long)ln4j_cpu_stream_threshold());
  int k = 0;
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (auto& sh : shapes) {
        ++k;
        const int variant = k % 4;  // plain, residual + residual_out, RMS, zero-centred from-y
        Case c{isa, dt[0], dt[1], sh[0], sh[1], true, variant != 2, (k % 3) == 1, 1 + k % 3};
        if (variant == 1) c.res = c.res_out = true;
        if (variant == 2) c.norm = LN4J_NORM_RMS;
        if (variant == 3) c.flags = LN4J_FLAG_ZERO_CENTERED_GAMMA;
        Data off = make(c), on = make(c);
        fill(off, c, rng, -2.5, 1.75);
        std::memcpy(on.x.p, off.x.p, size_t(c.rows * c.cols * esize(c.xdt)));
        std::memcpy(on.dy.p, off.dy.p, size_t(c.rows * c.cols * esize(c.xdt)));
        std::memcpy(on.g.p, off.g.p, size_t(c.cols * esize(c.pdt)));
        std::memcpy(on.b.p, off.b.p, size_t(c.cols * esize(c.pdt)));
        if (c.res) {
          std::memcpy(on.res.p, off.res.p, size_t(c.rows * c.cols * esize(c.xdt)));
          std::memcpy(on.dres.p, off.dres.p, size_t(c.rows * c.cols * esize(c.xdt)));
        }
        ln4j_cpu_set_stream_threshold(INT64_MAX);
        int s1 = run_forward(c, off, 1e-5), s2 = run_backward(c, off, true, c.beta);
        ln4j_cpu_set_stream_threshold(0);
        int s3 = run_forward(c, on, 1e-5), s4 = run_backward(c, on, true, c.beta);
        CHECK(s1 == LN4J_OK && s2 == LN4J_OK && s3 == LN4J_OK && s4 == LN4J_OK, "%s: status %d %d %d %d",
              label(c, "streaming").c_str(), s1, s2, s3, s4);
        check_forward(c, on, 1e-5, {}, label(c, "streaming forward"));
        check_backward(c, on, true, c.beta, {}, {}, label(c, "streaming backward"));
        bool same = on.y.same_bits(off.y) && on.rstd.same_bits(off.rstd) && on.dx.same_bits(off.dx) &&
                    on.dg.same_bits(off.dg) && (!c.beta || on.db.same_bits(off.db)) &&
                    (c.rms() || on.mean.same_bits(off.mean)) && (!c.res || on.rout.same_bits(off.rout));
        CHECK(same, "%s: streamed outputs differ from ordinary stores", label(c, "streaming").c_str());
      }
  ln4j_cpu_set_stream_threshold(saved == ln4j_cpu_stream_threshold() ? -1 : saved);
}

// The software-prefetch policies (cpu/prefetch_tuner.h). Each of the four, forced, gives the same bits as policy
// 0 in the forward and the backward for every path, dtype and variant (rows in pairs and an odd last row, narrow
// and wide rows, 1-3 threads), and passes the reference checks; the setting and its API reject bad values; in auto
// mode a fresh kind of call learns a policy within 31 calls, also with two threads calling at once, and every
// call's results are the same bits as the first one's.
void test_prefetch_policies() {
  std::mt19937_64 rng(41);
  const int64_t saved = ln4j_cpu_stream_threshold();
  ln4j_cpu_set_stream_threshold(0);  // every call "from memory": the policy applies
  const int64_t shapes[][2] = {{9, 256}, {5, 1000}, {3, 4097}, {4, 768}};
  int k = 0;
  for (int isa : isas())
    for (auto& dt : kDtypes)
      for (auto& sh : shapes) {
        ++k;
        const int variant = k % 4;  // plain, dresidual_out, RMS, zero-centred from-y
        Case c{isa, dt[0], dt[1], sh[0], sh[1], true, variant != 2, (k % 3) == 1, 1 + k % 3};
        if (variant == 1) c.res = c.res_out = true;
        if (variant == 2) c.norm = LN4J_NORM_RMS;
        if (variant == 3) c.flags = LN4J_FLAG_ZERO_CENTERED_GAMMA;
        Data d = make(c);
        fill(d, c, rng, -2.5, 1.75);
        CHECK(ln4j_cpu_set_prefetch_policy(0) == LN4J_OK, "policy 0");
        CHECK(run_forward(c, d, 1e-5) == LN4J_OK, "%s: forward", label(c, "prefetch").c_str());
        const Buf y0 = d.y, mean0 = d.mean, rstd0 = d.rstd, rout0 = d.rout;
        for (int32_t pol = 1; pol < 4; ++pol) {  // the forward
          CHECK(ln4j_cpu_set_prefetch_policy(pol) == LN4J_OK && ln4j_cpu_prefetch_policy() == pol, "policy %d", pol);
          char what[64];
          std::snprintf(what, sizeof what, "forward prefetch policy %d", pol);
          CHECK(run_forward(c, d, 1e-5) == LN4J_OK, "%s: status", label(c, what).c_str());
          check_forward(c, d, 1e-5, {}, label(c, what));
          CHECK(d.y.same_bits(y0) && d.rstd.same_bits(rstd0) && (c.rms() || d.mean.same_bits(mean0)) &&
                    (!c.res || d.rout.same_bits(rout0)),
                "%s: bits differ from policy 0", label(c, what).c_str());
        }
        CHECK(ln4j_cpu_set_prefetch_policy(0) == LN4J_OK, "policy 0");
        if (variant == 3) c.flags |= LN4J_FLAG_BACKWARD_FROM_OUTPUT;
        CHECK(run_backward(c, d, true, c.beta) == LN4J_OK, "%s: backward", label(c, "prefetch").c_str());
        const Buf dx0 = d.dx, dg0 = d.dg, db0 = d.db;
        for (int32_t pol = 1; pol < 4; ++pol) {
          CHECK(ln4j_cpu_set_prefetch_policy(pol) == LN4J_OK && ln4j_cpu_prefetch_policy() == pol, "policy %d", pol);
          const int st = run_backward(c, d, true, c.beta);
          char what[64];
          std::snprintf(what, sizeof what, "backward prefetch policy %d", pol);
          CHECK(st == LN4J_OK, "%s: status %d", label(c, what).c_str(), st);
          check_backward(c, d, true, c.beta, {}, {}, label(c, what));
          CHECK(d.dx.same_bits(dx0) && d.dg.same_bits(dg0) && (!c.beta || d.db.same_bits(db0)),
                "%s: bits differ from policy 0", label(c, what).c_str());
        }
      }
  // The setting: fixed values read back, bad ones refused (the setting unchanged), -2 = the environment (auto here).
  CHECK(ln4j_cpu_set_prefetch_policy(2) == LN4J_OK && ln4j_cpu_prefetch_policy() == 2, "policy 2");
  CHECK(ln4j_cpu_prefetch_choice(1, 0, 768, LN4J_FLOAT32, LN4J_ISA_AUTO, 1) == 2, "a fixed policy is the choice");
  CHECK(ln4j_cpu_set_prefetch_policy(4) == LN4J_ERR_INVALID_ARGUMENT && ln4j_cpu_prefetch_policy() == 2,
        "policy 4 refused");
  CHECK(std::strstr(ln4j_last_error(), "policy") != nullptr, "the message names the policy: %s", ln4j_last_error());
  CHECK(ln4j_cpu_set_prefetch_policy(-3) == LN4J_ERR_INVALID_ARGUMENT, "policy -3 refused");
  CHECK(ln4j_cpu_prefetch_choice(2, 0, 768, LN4J_FLOAT32, LN4J_ISA_AUTO, 1) == -2 &&
            ln4j_cpu_prefetch_choice(1, 0, 768, 99, LN4J_ISA_AUTO, 1) == -2 &&
            ln4j_cpu_prefetch_choice(1, 0, -1, LN4J_FLOAT32, LN4J_ISA_AUTO, 1) == -2 &&
            ln4j_cpu_prefetch_choice(1, 0, 768, LN4J_FLOAT32, LN4J_ISA_AUTO, 0) == -2 &&
            ln4j_cpu_prefetch_choice(1, 0, 768, LN4J_FLOAT32, 7, 1) == -2,
        "choice of no kind of call");
  const char* env = std::getenv("LN4J_PREFETCH");
  if (!env || !*env || std::strcmp(env, "auto") == 0) {
    CHECK(ln4j_cpu_set_prefetch_policy(-2) == LN4J_OK && ln4j_cpu_prefetch_policy() == -1, "environment: auto");
    // Learning: kinds of call no other test runs, one from one thread, one from two threads at once: bfloat16 rows
    // of 3000 and 5000 columns (rows of 6000 and 10000 bytes). Kinds are keyed by the bit length of the row's bytes,
    // and when LN4J_NT_THRESHOLD streams every call, other tests' calls learn as they go (4097 bfloat16 columns share
    // 5000's key): then the first two of wider rows (other keys) whose kind is still learning.
    std::vector<int64_t> learning;
    for (int64_t cols : {3000, 5000, 11000, 23000, 47000})
      if (learning.size() < 2 && ln4j_cpu_prefetch_choice(1, 0, cols, LN4J_BFLOAT16, LN4J_ISA_AUTO, 1) == -1)
        learning.push_back(cols);
    CHECK(learning.size() == 2 && (nt_threshold_from_env() || (learning[0] == 3000 && learning[1] == 5000)),
          "kinds of call still learning: %zu (the first %lld)", learning.size(),
          (long long)(learning.empty() ? 0 : learning[0]));
    for (int64_t cols : learning) {
      const bool together = cols == learning.back();
      Case c{LN4J_ISA_AUTO, LN4J_BFLOAT16, LN4J_FLOAT32, 6, cols, true, true, false, 1};
      CHECK(ln4j_cpu_prefetch_choice(1, 0, cols, LN4J_BFLOAT16, LN4J_ISA_AUTO, 1) == -1, "cols %lld: learning at first",
            (long long)cols);
      Data d = make(c);
      fill(d, c, rng, 0.5, 1.0);
      CHECK(run_forward(c, d, 1e-5) == LN4J_OK, "learning forward");
      CHECK(run_backward(c, d, true, true) == LN4J_OK, "learning backward");
      const Buf dx0 = d.dx, dg0 = d.dg, db0 = d.db;
      auto calls = [&](Data& own, int n, int* differ) {
        for (int i = 0; i < n; ++i) {
          if (run_backward(c, own, true, true) != LN4J_OK || !own.dx.same_bits(dx0) || !own.dg.same_bits(dg0) ||
              !own.db.same_bits(db0))
            ++*differ;
        }
      };
      int differ1 = 0, differ2 = 0;
      if (together) {
        Data d2 = make(c);
        d2.x = d.x;
        d2.dy = d.dy;
        d2.g = d.g;
        d2.mean = d.mean;
        d2.rstd = d.rstd;
        std::thread t([&] { calls(d2, 30, &differ2); });
        calls(d, 30, &differ1);
        t.join();
      } else {
        calls(d, 30, &differ1);
      }
      CHECK(differ1 == 0 && differ2 == 0, "cols %lld: %d + %d learning calls failed or differ from the first",
            (long long)cols, differ1, differ2);
      const int32_t ch = ln4j_cpu_prefetch_choice(1, 0, cols, LN4J_BFLOAT16, LN4J_ISA_AUTO, 1);
      CHECK(ch >= 0 && ch < 4, "cols %lld: learned a policy within 31 calls (%d)", (long long)cols, ch);
    }
  }
  ln4j_cpu_set_prefetch_policy(-2);
  ln4j_cpu_set_stream_threshold(saved == ln4j_cpu_stream_threshold() ? -1 : saved);
}

// A one-block backward with parameters in the accumulation dtype accumulates straight into dgamma/dbeta (no
// partial rows, no finalize). Checked against the reference, and against the buffered path, which must still serve
// a call whose dgamma is gamma's own memory (the kernel reads gamma while it writes the gradients).
void test_direct_parameter_gradients() {
  std::mt19937_64 rng(37);
  for (int isa : isas())
    for (int xdt : {LN4J_FLOAT32, LN4J_FLOAT64, LN4J_BFLOAT16})
      for (int64_t cols : {1, 300, 768, 4097}) {
        const int pdt = xdt == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32;
        Case c{isa, xdt, pdt, 3, cols, true, true, false, 2};
        Data d = make(c);
        fill(d, c, rng, -2.5, 1.75);
        CHECK(run_forward(c, d, 1e-5) == LN4J_OK, "%s: forward", label(c, "direct").c_str());
        CHECK(run_backward(c, d, true, true) == LN4J_OK, "%s: backward", label(c, "direct").c_str());
        check_backward(c, d, true, true, {}, {}, label(c, "direct dgamma/dbeta"));
        // dgamma written over gamma: the gradients must be those of the separate call above.
        Buf gamma_copy = d.g;
        gamma_copy.p = gamma_copy.store.data() + (d.g.p - d.g.store.data());
        ln4j_backward_args a = ln4j_backward_args_init();
        a.x_dtype = c.xdt;
        a.param_dtype = c.pdt;
        a.rows = c.rows;
        a.cols = c.cols;
        a.dy = d.dy.p;
        a.x = d.x.p;
        a.mean = d.mean.p;
        a.rstd = d.rstd.p;
        a.gamma = gamma_copy.p;
        a.dgamma = gamma_copy.p;
        Buf dx2 = d.dx, db2 = d.db;
        dx2.p = dx2.store.data() + (d.dx.p - d.dx.store.data());
        db2.p = db2.store.data() + (d.db.p - d.db.store.data());
        dx2.poison();
        db2.poison();
        a.dx = dx2.p;
        a.dbeta = db2.p;
        const ln4j_exec e = exec_of(c.isa, c.threads);
        CHECK(ln4j_cpu_backward(&a, &e) == LN4J_OK, "%s: aliased backward", label(c, "direct").c_str());
        CHECK(gamma_copy.same_bits(d.dg) && db2.same_bits(d.db) && dx2.same_bits(d.dx),
              "%s: dgamma written over gamma differs from the separate call (dgamma %d dbeta %d dx %d)",
              label(c, "direct").c_str(), gamma_copy.same_bits(d.dg), db2.same_bits(d.db), dx2.same_bits(d.dx));
      }
}

// Opt-in (LN4J_TEST_HUGE=1; needs about 8.5 GiB): one bfloat16 row of 2^31 + 1 values 1.3 +- 0.5, forward without
// gamma/beta, mean and rstd against float64 sums and y sampled. Used to give a mean of 0.094 on the scalar path.
void test_huge_row() {
  const char* e = std::getenv("LN4J_TEST_HUGE");
  if (!e || std::strcmp(e, "1") != 0) {
    std::printf("huge row (2^31 + 1 bfloat16 columns): skipped (set LN4J_TEST_HUGE=1; needs ~8.5 GiB)\n");
    return;
  }
  const int64_t n = (int64_t(1) << 31) + 1;
  std::vector<uint16_t> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(1.3, 0.5);
  long double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[size_t(i)] = enc_bf16(nd(rng));
    sum += dec_bf16(x[size_t(i)]);
  }
  const long double mean = sum / n;
  long double ss = 0;
  for (int64_t i = 0; i < n; ++i) {
    long double d = dec_bf16(x[size_t(i)]) - mean;
    ss += d * d;
  }
  const double rstd = double(1.0L / std::sqrt(ss / n + 1e-5L));
  for (int isa : isas()) {
    float m = NAN, r = NAN;
    ln4j_forward_args a = ln4j_forward_args_init();
    a.norm = LN4J_NORM_LAYER;
    a.x_dtype = LN4J_BFLOAT16;
    a.param_dtype = LN4J_FLOAT32;
    a.rows = 1;
    a.cols = n;
    a.eps = 1e-5;
    a.x = x.data();
    a.y = y.data();
    a.mean = &m;
    a.rstd = &r;
    const ln4j_exec ex = exec_of(isa, 2);
    int s = ln4j_cpu_forward(&a, &ex);
    CHECK(s == LN4J_OK, "huge row isa=%s: status %d (%s)", ln4j_cpu_isa_name(isa), s, ln4j_last_error());
    const double em = std::fabs(m - double(mean)), er = std::fabs(r - rstd) / rstd;
    int ybad = 0;
    for (int64_t i = 0; i < n; i += 9973) {
      double want = (dec_bf16(x[size_t(i)]) - double(mean)) * rstd;
      if (std::fabs(dec_bf16(y[size_t(i)]) - want) > 1e-4 + std::ldexp(1.0, -8) * std::fabs(want)) ++ybad;
    }
    std::printf("huge row isa=%s: mean %.9g (float64 %.9g, err %.3g), rstd rel err %.3g, y samples off %d\n",
                ln4j_cpu_isa_name(isa), double(m), double(mean), em, er, ybad);
    CHECK(em < 1e-5 && er < 1e-5 && ybad == 0, "huge row isa=%s: mean err %g, rstd rel err %g, y off %d",
          ln4j_cpu_isa_name(isa), em, er, ybad);
  }
}

// 8 threads call at once, many times, and must get the bits of a single-threaded call.
void test_concurrent_callers() {
  std::mt19937_64 rng(5);
  Case c{LN4J_ISA_AUTO, LN4J_FLOAT32, LN4J_FLOAT32, 513, 768, true, true, false, 0};
  Data ref = make(c);
  fill(ref, c, rng, 2.0, 0.5);
  run_forward(c, ref, 1e-5);
  run_backward(c, ref, true, true);
  std::vector<int> ok(8, 1);
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      Data d = make(c);
      std::memcpy(d.x.p, ref.x.p, size_t(c.rows * c.cols * 4));
      std::memcpy(d.dy.p, ref.dy.p, size_t(c.rows * c.cols * 4));
      std::memcpy(d.g.p, ref.g.p, size_t(c.cols * 4));
      std::memcpy(d.b.p, ref.b.p, size_t(c.cols * 4));
      for (int i = 0; i < 40; ++i) {
        Case ci = c;
        ci.threads = 1 + (i + t) % 4;
        if (run_forward(ci, d, 1e-5) || run_backward(ci, d, true, true)) ok[t] = 0;
        if (!(d.y.same_bits(ref.y) && d.dx.same_bits(ref.dx) && d.dg.same_bits(ref.dg))) ok[t] = 0;
      }
      // small problems (calling-thread path) interleaved
      Case s{LN4J_ISA_AUTO, LN4J_FLOAT32, LN4J_FLOAT32, 1, 768, true, true, false, 0};
      Data e = make(s);
      for (int i = 0; i < 2000; ++i)
        if (run_forward(s, e, 1e-5) != LN4J_OK) ok[t] = 0;
    });
  for (auto& th : ts) th.join();
  for (int t = 0; t < 8; ++t) CHECK(ok[t], "concurrent caller %d got different bits or an error", t);
}

long rss_kb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    std::fclose(f);
  }
  return res * 4;
}

// AddressSanitizer keeps freed blocks in a quarantine and never hands memory back, so resident memory grows with
// any allocation there; the growth check below only means something with the ordinary allocator.
#if defined(__SANITIZE_ADDRESS__)
#define LN4J_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LN4J_TEST_ASAN 1
#endif
#endif

// 10^5 calls (small ones on the calling thread, larger ones through the pool, forward and backward) must not
// grow the process: the pool and the per-thread scratch are reused.
void test_no_growth() {
#ifdef LN4J_TEST_ASAN
  std::printf("no growth over 10^5 calls: skipped under AddressSanitizer (its quarantine keeps freed memory "
              "resident, so RSS measures ASan, not the library)\n");
  return;
#endif
  std::mt19937_64 rng(11);
  Case big{LN4J_ISA_AUTO, LN4J_FLOAT32, LN4J_FLOAT32, 64, 512, true, true, false, 2};
  Case small{LN4J_ISA_AUTO, LN4J_FLOAT32, LN4J_FLOAT32, 1, 768, true, true, false, 0};
  Data db = make(big), ds = make(small);
  fill(db, big, rng, 1.0, 1.0);
  fill(ds, small, rng, 1.0, 1.0);
  auto round = [&](int calls) {
    for (int i = 0; i < calls; ++i) {
      if (i % 10 == 0) {
        run_forward(big, db, 1e-5);
        run_backward(big, db, true, true);
      } else {
        run_forward(small, ds, 1e-5);
      }
    }
  };
  round(10000);  // warm up: pool threads, scratch
  long before = rss_kb();
  round(100000);
  long after = rss_kb();
  CHECK(after - before < 2048, "resident memory grew by %ld KiB over 10^5 calls", after - before);
}

void expect_error(int status, int want, const char* needle, const char* what) {
  const char* msg = ln4j_last_error();
  CHECK(status == want, "%s: status %d, expected %d (%s)", what, status, want, msg);
  CHECK(std::strstr(msg, needle) != nullptr, "%s: message '%s' does not name '%s'", what, msg, needle);
}

void test_bad_arguments() {
  const int I = LN4J_ERR_INVALID_ARGUMENT;
  std::vector<float> x(64, 1.0f), y(64, NAN), g(8, 1.0f), m(8), r(8);
  const int L = LN4J_NORM_LAYER, F = LN4J_FLOAT32;
  const ln4j_exec cpu = exec_of(LN4J_ISA_AUTO, 0);
  // A good forward and backward; each case below changes one thing.
  ln4j_forward_args good = ln4j_forward_args_init();
  good.norm = L;
  good.x_dtype = good.param_dtype = F;
  good.rows = good.cols = 8;
  good.eps = 1e-5;
  good.x = x.data();
  good.y = y.data();
  auto fwd = [&](auto change, const ln4j_exec& e) {
    ln4j_forward_args a = good;
    change(a);
    return ln4j_cpu_forward(&a, &e);
  };
  ln4j_backward_args goodb = ln4j_backward_args_init();
  goodb.norm = L;
  goodb.x_dtype = goodb.param_dtype = F;
  goodb.rows = goodb.cols = 8;
  goodb.dy = x.data();
  goodb.x = x.data();
  goodb.mean = m.data();
  goodb.rstd = r.data();
  goodb.dx = y.data();
  auto bwd = [&](auto change) {
    ln4j_backward_args a = goodb;
    change(a);
    return ln4j_cpu_backward(&a, &cpu);
  };
  using FA = ln4j_forward_args;
  using BA = ln4j_backward_args;
  expect_error(fwd([](FA& a) { a.x = nullptr; }, cpu), I, "x must not be NULL", "x NULL");
  expect_error(fwd([](FA& a) { a.cols = 0; }, cpu), I, "cols", "cols 0");
  expect_error(fwd([](FA& a) { a.rows = -1; }, cpu), I, "rows", "rows -1");
  expect_error(fwd([](FA& a) { a.eps = 0.0; }, cpu), I, "eps", "eps 0");
  expect_error(fwd([](FA& a) { a.eps = NAN; }, cpu), I, "eps", "eps NaN");
  expect_error(fwd([](FA& a) { a.x_dtype = 9; }, cpu), I, "x_dtype", "x_dtype 9");
  expect_error(fwd([&](FA& a) { a.param_dtype = LN4J_FLOAT64, a.gamma = g.data(); }, cpu), I, "param_dtype",
               "param_dtype f64 for f32");
  expect_error(fwd([](FA&) {}, exec_of(7, 0)), I, "isa", "isa 7");
  expect_error(fwd([](FA&) {}, exec_of(LN4J_ISA_AUTO, -1)), I, "threads", "threads -1");
  expect_error(fwd([](FA& a) { a.rows = INT64_MAX / 2; }, cpu), I, "overflows", "rows*cols overflow");
  expect_error(fwd([&](FA& a) { a.beta = g.data(); }, cpu), I, "beta", "beta without gamma");
  expect_error(fwd([&](FA& a) { a.norm = LN4J_NORM_RMS, a.gamma = g.data(), a.beta = g.data(), a.rstd = r.data(); },
                   cpu),
               I, "beta", "RMSNorm with beta");
  expect_error(fwd([&](FA& a) { a.residual_out = y.data(); }, cpu), I, "residual_out",
               "residual_out without residual");
  // The structs themselves: NULL, a struct_size this library does not know, a device that is not the CPU.
  expect_error(ln4j_cpu_forward(nullptr, &cpu), I, "args must not be NULL", "args NULL");
  expect_error(ln4j_cpu_forward(&good, nullptr), I, "exec must not be NULL", "exec NULL");
  expect_error(fwd([](FA& a) { a.struct_size = 8; }, cpu), I, "struct_size", "args struct_size too small");
  expect_error(fwd([](FA& a) { a.struct_size = int32_t(sizeof(FA)) + 8; }, cpu), LN4J_ERR_UNSUPPORTED,
               "newer layernorm4j.h", "args struct_size from a newer header");
  {
    ln4j_exec e = cpu;
    e.struct_size = 4;
    expect_error(ln4j_cpu_forward(&good, &e), I, "exec->struct_size", "exec struct_size too small");
    e = cpu;
    e.device = 0;
    expect_error(ln4j_cpu_forward(&good, &e), I, "LN4J_DEVICE_CPU", "exec device cuda:0 on the CPU");
  }
  bool untouched = true;
  for (float v : y) untouched &= std::isnan(v);
  CHECK(untouched, "a failed forward wrote y");
  expect_error(bwd([](BA& a) { a.mean = nullptr; }), I, "mean", "backward mean NULL");
  expect_error(fwd([](FA& a) { a.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT; }, cpu), I, "backward flag",
               "forward with the from-y flag");

  expect_error(bwd([](BA& a) { a.dy = nullptr; }), I, "dy", "backward dy NULL");
  expect_error(bwd([&](BA& a) { a.dgamma = g.data(); }), I, "dgamma", "dgamma without gamma");
  expect_error(ln4j_cpu_backward(&goodb, nullptr), I, "exec must not be NULL", "backward exec NULL");
  // threads: 0 means the online processors (the default), negative is refused.
  CHECK(ln4j_cpu_set_default_threads(-1) == I && std::strstr(ln4j_last_error(), "threads"),
        "set_default_threads(-1) should fail naming threads");
  CHECK(ln4j_cpu_set_default_threads(3) == LN4J_OK && ln4j_cpu_default_threads() == 3, "set default threads 3");
  CHECK(ln4j_cpu_set_default_threads(0) == LN4J_OK && ln4j_last_error()[0] == 0, "set_default_threads(0): '%s'",
        ln4j_last_error());
  CHECK(ln4j_cpu_default_threads() >= 1, "default threads after set_default_threads(0): %d",
        ln4j_cpu_default_threads());
  int ok = fwd([](FA&) {}, cpu);
  CHECK(ok == LN4J_OK && ln4j_last_error()[0] == 0, "a good call after a failed one: status %d, message '%s'", ok,
        ln4j_last_error());
}

// The scalar conversions against the independent codecs above: every half decodes exactly; every float of a
// dense sweep rounds to the nearest half / bfloat16 (ties to even); NaN stays NaN.
void test_conversions() {
  using namespace ln4j::cpu;
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    double want = dec_f16(uint16_t(h)), got = f16_to_f32(uint16_t(h));
    if (!(got == want || (std::isnan(got) && std::isnan(want)))) ++bad;
  }
  CHECK(bad == 0, "f16_to_f32 wrong for %d of 65536 halves", bad);
  bad = 0;
  int badb = 0;
  // Exact midpoints and their neighbours between consecutive halves, over the whole range (subnormals too).
  for (uint32_t h = 0; h < 0x7bff; ++h) {  // finite neighbours (overflow is checked below)
    double a = dec_f16(uint16_t(h)), b = dec_f16(uint16_t(h + 1));
    double mid = 0.5 * (a + b);
    float fm = float(mid);  // exact: a half midpoint has 12 significant bits
    float below = std::nextafter(fm, 0.0f), above = std::nextafter(fm, INFINITY);
    uint16_t even = (h & 1) ? uint16_t(h + 1) : uint16_t(h);
    if (f32_to_f16(fm) != even && ++bad < 3) std::printf("  f32_to_f16(%a) = 0x%x, want 0x%x\n", fm, f32_to_f16(fm), even);
    if (f32_to_f16(below) != h && below >= a) ++bad;
    if (f32_to_f16(above) != h + 1) ++bad;
    if (f32_to_f16(-fm) != (even | 0x8000)) ++bad;
  }
  CHECK(bad == 0, "f32_to_f16 rounding wrong in %d cases", bad);
  CHECK(f32_to_f16(65520.0f) == 0x7c00 && f32_to_f16(65519.99f) == 0x7bff && f32_to_f16(INFINITY) == 0x7c00,
        "f32_to_f16 overflow");
  CHECK((f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (f32_to_f16(NAN) & 0x3ff) != 0, "f32_to_f16 NaN");
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = rng();
    float f;
    std::memcpy(&f, &b, 4);
    if (std::isnan(f)) {
      if (!std::isnan(bf16_to_f32(f32_to_bf16(f)))) ++badb;
      continue;
    }
    uint16_t want = enc_bf16(f);  // independent nearest-even on the bits
    if ((b & 0x7f800000) == 0x7f800000) want = uint16_t(b >> 16);
    if (f32_to_bf16(f) != want) ++badb;
  }
  CHECK(badb == 0, "f32_to_bf16 wrong in %d cases", badb);
}

// The shared statistics helpers (common/stats.h; the CUDA kernels use the Welford/Chan ones): on rows of
// 1e4 + N(0, 1), float64 Welford pushes merged in uneven pieces must match the long double two-pass
// mean/variance to a few ulps relative to the spread (E[x^2] - E[x]^2 would lose ~8 digits here).
void test_stats_helpers() {
  std::mt19937_64 rng(21);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int t = 0; t < 20; ++t) {
    std::vector<double> v(1000 + 37 * t);
    for (double& e : v) e = 1e4 + nd(rng);
    const ref::RowStats st = ref::row_stats(v.data(), int64_t(v.size()), false, 0.0);  // long double two-pass
    const long double mean = st.mean;
    const double var = st.sd * st.sd;
    ln4j::Welford<double> total{0, 0, 0};
    size_t i = 0, piece = 1;
    while (i < v.size()) {
      ln4j::Welford<double> w{0, 0, 0};
      for (size_t k = 0; k < piece && i < v.size(); ++k, ++i) ln4j::welford_push(w, v[i]);
      ln4j::welford_merge(total, w);
      piece = piece * 3 + 1;
    }
    double wv = total.m2 / total.count;
    CHECK(std::fabs(total.mean - double(mean)) <= 1e-12 * 1e4 && std::fabs(wv - var) <= 1e-9 * var,
          "welford: mean %.17g vs %.17g, var %.17g vs %.17g", total.mean, double(mean), wv, var);
    double c, cv, m0 = v[0];  // corrected two-pass from a poor shift
    double s1 = 0, s2 = 0;
    for (double e : v) {
      s1 += e - m0;
      s2 += (e - m0) * (e - m0);
    }
    ln4j::corrected_two_pass(double(v.size()), s1, s2, &c, &cv);
    CHECK(std::fabs(m0 + c - double(mean)) <= 1e-12 * 1e4 && std::fabs(cv - var) <= 1e-9 * var,
          "corrected two-pass: mean %.17g vs %.17g, var %.17g vs %.17g", m0 + c, double(mean), cv, var);
  }
}

void test_info() {
  const char* model = ln4j_cpu_model();
  CHECK(model && model[0] && std::strcmp(model, "unknown") != 0, "cpu model '%s'", model);
  CHECK(ln4j_cpu_default_threads() >= 1, "default threads");
  CHECK(ln4j_cpu_set_default_threads(3) == LN4J_OK && ln4j_cpu_default_threads() == 3, "set default threads");
  CHECK(ln4j_cpu_isa_supported(ln4j_cpu_isa_best()) == 1, "best isa supported");
  std::printf("cpu: %s, best isa %s, %d threads\n", model, ln4j_cpu_isa_name(ln4j_cpu_isa_best()),
              ln4j_cpu_default_threads());
}

}  // namespace

// The bandwidth probes (ln4j_cpu_bandwidth_*, what every harness's ceiling is timed with): each kind moves exactly
// the bytes it is given -- dst equals src (copy), a + b (r2w1) or 1.5 x bytes of a (r2w1's memcpy kind) -- at any
// alignment, thread count and size (inline, one block, many blocks), never a byte past the end; bad arguments are
// refused with a message naming them.
void test_bandwidth_probes() {
  std::mt19937_64 rng(77);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  const int64_t sizes[] = {0, 4, 60, 68, 4 * 1001, 96 << 10, (3 << 20) + 4 * 37};
  const int64_t guard = 64;  // floats after the end that must keep their poison
  for (int64_t bytes : sizes) {
    const int64_t n = bytes / 4, cap = n * 3 / 2 + 16 + guard;
    std::vector<float> a(cap + 16), b(cap + 16), d(cap + 16);
    for (auto& v : a) v = u(rng);
    for (auto& v : b) v = u(rng);
    for (int shift : {0, 1, 5}) {  // floats off a 64-byte line for dst (the streaming loops align it themselves)
      for (int32_t threads : {1, 2, 0}) {
        for (int32_t kind = 0; kind < LN4J_BANDWIDTH_KINDS; ++kind) {
          for (int r2w1 = 0; r2w1 < 2; ++r2w1) {
            const std::string what = std::string(r2w1 ? "r2w1" : "copy") + " " + ln4j_cpu_bandwidth_kind_name(kind) +
                                     " bytes " + std::to_string(bytes) + " shift " + std::to_string(shift) +
                                     " threads " + std::to_string(threads);
            std::fill(d.begin(), d.end(), std::numeric_limits<float>::quiet_NaN());
            float* dst = d.data() + shift;
            const int s = r2w1 ? ln4j_cpu_bandwidth_r2w1(kind, dst, a.data(), b.data(), bytes, threads)
                               : ln4j_cpu_bandwidth_copy(kind, dst, a.data(), bytes, threads);
            CHECK(s == LN4J_OK, "%s: status %d (%s)", what.c_str(), s, ln4j_last_error());
            const int64_t written = r2w1 && kind == LN4J_BANDWIDTH_MEMCPY ? n * 3 / 2 : n;
            int64_t bad = -1;
            for (int64_t i = 0; i < written && bad < 0; ++i) {
              const float want = r2w1 && kind != LN4J_BANDWIDTH_MEMCPY ? a[i] + b[i] : a[i];
              if (std::memcmp(&dst[i], &want, 4) != 0) bad = i;
            }
            CHECK(bad < 0, "%s: dst[%lld] wrong", what.c_str(), (long long)bad);
            bool poison = true;
            for (int64_t i = written; i < written + guard; ++i) poison = poison && std::isnan(dst[i]);
            for (int i = 0; i < shift; ++i) poison = poison && std::isnan(d[i]);
            CHECK(poison, "%s: a float outside [0, %lld) was written", what.c_str(), (long long)written);
          }
        }
      }
    }
  }
  float one[4] = {1, 2, 3, 4}, out[4] = {};
  auto refused = [](int s, const char* part) {
    return s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_last_error(), part) != nullptr;
  };
  CHECK(refused(ln4j_cpu_bandwidth_copy(5, out, one, 16, 1), "kind must be 0..4"), "kind 5: %s", ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(-1, out, one, 16, 1), "got -1"), "kind -1: %s", ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(0, out, one, 6, 1), "bytes must be a multiple of 4"), "bytes 6: %s",
        ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(0, out, one, -4, 1), "got -4"), "bytes -4: %s", ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(0, out, one, 16, -2), "threads must be >= 0"), "threads -2: %s",
        ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(0, nullptr, one, 16, 1), "dst must not be NULL"), "dst NULL: %s",
        ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_copy(0, out, nullptr, 16, 1), "src must not be NULL"), "src NULL: %s",
        ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_r2w1(1, out, one, nullptr, 16, 1), "b must not be NULL"), "b NULL: %s",
        ln4j_last_error());
  CHECK(refused(ln4j_cpu_bandwidth_r2w1(1, out, nullptr, one, 16, 1), "a must not be NULL"), "a NULL: %s",
        ln4j_last_error());
  CHECK(out[0] == 0 && out[3] == 0, "a refused probe wrote dst");
  CHECK(ln4j_cpu_bandwidth_copy(0, nullptr, nullptr, 0, 1) == LN4J_OK, "zero bytes needs no buffers");
  CHECK(std::strcmp(ln4j_cpu_bandwidth_kind_name(1), "non-temporal-store loop") == 0 &&
            std::strcmp(ln4j_cpu_bandwidth_kind_name(9), "unknown") == 0,
        "kind names");
}

int main() {
  test_info();
  test_conversions();
  test_stats_helpers();
  test_bad_arguments();
  test_widths();
  test_variants();
  test_from_y();
  test_hard_numerics();
  test_determinism();
  test_rows_alone();
  test_one_column();
  test_long_rows();
  test_streaming_stores();
  test_prefetch_policies();
  test_direct_parameter_gradients();
  test_huge_row();
  test_concurrent_callers();
  test_no_growth();
  test_bandwidth_probes();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

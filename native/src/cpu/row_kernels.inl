// Layer-norm row kernels, written once over a small SIMD vocabulary and compiled once per ISA: each ISA file
// defines `VF` (float lanes) and `VD` (double lanes), then includes this file inside an anonymous namespace,
// so every instantiation stays private to its translation unit (and to its compiler flags).
//
// Forward, per row of n values (corrected two-pass, see common/stats.h):
//     m0   = sum(x) / n
//     s1   = sum(x - m0),  s2 = sum((x - m0)^2)
//     c    = s1 / n,  mean = m0 + c,  var = s2 / n - c^2,  rstd = 1 / sqrt(var + eps)
//     xhat = ((x - m0) - c) * rstd
//     y    = xhat * gamma + beta
// Backward, per row, with g = gamma (1 when absent), xhat = (x - mean) * rstd from the saved statistics:
//     c1 = mean(g*dy),  c2 = mean(g*dy*xhat)
//     dx = rstd * (g*dy - c1 - xhat*c2)
//     partial_dgamma += dy * xhat,  partial_dbeta += dy   (per block of rows; summed later in block order)
// RMSNorm (norm = LN4J_NORM_RMS): m0 = c = mean = 0, var = mean(x^2), c1 = 0; no beta.
// LN4J_FLAG_ZERO_CENTERED_GAMMA: g = 1 + gamma wherever gamma is applied (y and g*dy); dgamma is unchanged.
// Residual (fused add): the forward normalizes s = x + residual and writes s to residual_out when given; the
// backward (whose x is then s) adds dresidual_out to dx.
// LN4J_FLAG_BACKWARD_FROM_OUTPUT (FY): the x slot holds y and xhat = (y - beta) * (1 / g') per column, from the
// dispatcher's column vectors a.xhat_shift / a.xhat_scale (it refuses a g' of 0 before any kernel runs).
//
// Kernels reduce; the load/store helpers (V::load / V::store, Affine) convert dtypes and apply gamma/beta.
// Vocabulary of V: A (accumulation type), R (register), W (lanes), zero/set1/add/sub/mul/fma(a,b,c)=a*b+c,
// hsum (fixed order), load/store (W elements of any element type, converted to/from A), load_tail (n < W
// elements, other lanes 0), store_tail (n < W elements), keep(v, n) (lanes >= n set to 0).

// The per-vector helpers below (lambdas and the pass 2 row) run once per W columns: GCC left some of them as calls
// (measured: the backward's pass-1 step as a function whose accumulators lived in memory, 2-4x slower), so they are
// forced inline.
#define LN4J_HOT __attribute__((always_inline))

// ---- load/store helpers ----------------------------------------------------------------------------------
enum class AffineMode { kNone, kScale, kScaleBias };

// The gamma actually applied, g' = gamma, or 1 + gamma with LN4J_FLAG_ZERO_CENTERED_GAMMA (ZC).
template <class V, bool ZC, class P>
typename V::R gamma_eff(const P* gamma, int64_t j) {
  if constexpr (ZC) return V::add(V::set1(typename V::A(1)), V::load(gamma + j));
  else return V::load(gamma + j);
}
template <class V, bool ZC, class P>
typename V::R gamma_eff_tail(const P* gamma, int64_t j, int n) {
  if constexpr (ZC) return V::add(V::set1(typename V::A(1)), V::load_tail(gamma + j, n));
  else return V::load_tail(gamma + j, n);
}

// Applies y = xhat * g' + beta (as the mode says) for the W (or n) columns starting at j.
template <class V, class P, AffineMode M, bool ZC>
struct Affine {
  using R = typename V::R;
  const P* gamma;
  const P* beta;
  LN4J_HOT R apply(R xhat, int64_t j) const {
    if constexpr (M == AffineMode::kNone) return xhat;
    else if constexpr (M == AffineMode::kScale) return V::mul(xhat, gamma_eff<V, ZC>(gamma, j));
    else return V::fma(xhat, gamma_eff<V, ZC>(gamma, j), V::load(beta + j));
  }
  LN4J_HOT R apply_tail(R xhat, int64_t j, int n) const {
    if constexpr (M == AffineMode::kNone) return xhat;
    else if constexpr (M == AffineMode::kScale) return V::mul(xhat, gamma_eff_tail<V, ZC>(gamma, j, n));
    else return V::fma(xhat, gamma_eff_tail<V, ZC>(gamma, j, n), V::load_tail(beta + j, n));
  }
};

// g'*dy for W (or n) columns at j. G: 0 = no gamma (g' = 1), 1 = gamma, 2 = 1 + gamma (zero-centred).
template <class V, class P, int G>
struct ScaleGrad {
  using R = typename V::R;
  const P* gamma;
  LN4J_HOT R apply(R dy, int64_t j) const {
    if constexpr (G == 0) return dy;
    else return V::mul(dy, gamma_eff<V, G == 2>(gamma, j));
  }
  LN4J_HOT R apply_tail(R dy, int64_t j, int n) const {
    if constexpr (G == 0) return dy;
    else return V::mul(dy, gamma_eff_tail<V, G == 2>(gamma, j, n));
  }
};

// ---- forward -----------------------------------------------------------------------------------------------
// Software prefetches of rows read from memory ask for L2 (locality 2: PREFETCHT1), not L1. Measured (AMD EPYC
// Zen 4, 1 thread, A/B in one process over rotating buffers): L1 prefetches (T0) of the next rows were 1.1-1.5x
// slower in the backward at 768-16384 columns and 1.1-1.3x slower in the forward at 256-768 columns, the same at
// 256-column backwards and in cache. L2 is large enough for rows ahead; an L1 prefetch holds one of the few L1
// miss buffers the demand loads need, and evicts lines the current rows still use.
constexpr int kPrefetchLocality = 2;

// The forward's input rows, loaded and converted by the load helper: x, or s = x + residual (kResidual), summed
// in the accumulation type (residual_out receives s rounded to x_dtype; the statistics use the unrounded s).
template <class V, class X, bool RES>
struct Source {
  static constexpr bool kResidual = RES;
  using R = typename V::R;
  const X* x;
  const X* res;
  LN4J_HOT R load(int64_t j) const {
    if constexpr (RES) return V::add(V::load(x + j), V::load(res + j));
    else return V::load(x + j);
  }
  LN4J_HOT R load_tail(int64_t j, int t) const {
    if constexpr (RES) return V::add(V::load_tail(x + j, t), V::load_tail(res + j, t));
    else return V::load_tail(x + j, t);
  }
  // Asks for the cache line holding element j (of every input) ahead of its use, into L2 (PREFETCHT1), see
  // kPrefetchLocality.
  LN4J_HOT void prefetch(int64_t j) const {
    __builtin_prefetch(x + j, 0, kPrefetchLocality);
    if constexpr (RES) __builtin_prefetch(res + j, 0, kPrefetchLocality);
  }
};

// Row sums run in blocks of kSumBlock elements: each block is summed in the accumulation type (L lane
// accumulators, then hsum), and the block sums are added in float64. The float32 error of a row sum is then that of
// one block, whatever the row length (with one running float32 sum per lane a row of 2^24 values drifts: every
// new term is a smaller fraction of the accumulator). The blocks follow the column index only, so the bits do not
// depend on threads or on which pass computes the sum.
constexpr int64_t kSumBlock = 1024;  // a multiple of 4 * W for every ISA

// Whether a sweep of one stream gets a loop of its own (RowSweep::run): yes in the units built for speed (float32
// SIMD), no in those built for size (the scalar path, and the other dtypes' SIMD units: cmake/Ln4jIsa.cmake). Same
// bits either way.
#if defined(LN4J_CPU_MORE_DTYPES) || defined(LN4J_CPU_SCALAR_UNIT)
constexpr bool kSpecialisedLoops = false;
#else
constexpr bool kSpecialisedLoops = true;
#endif

// Asks for the cache line at p in a writable state ahead of ordinary stores to it (PREFETCHW; x86 processors
// without it run it as a NOP). Without it the stores of a row whose lines are not cached wait in the store buffer for
// their lines, and the next call's first stores wait behind them.
LN4J_HOT inline void prefetch_for_write(const void* p) { asm("prefetchw %0" ::"m"(*(const char*)p)); }

// Whether the rows at p can take the ISA's streaming store (aligned to the vector store width).
template <class V, class E>
bool stream_aligned(const E* p) {
  return V::kCanStream && (reinterpret_cast<uintptr_t>(p) % (sizeof(E) * V::W)) == 0;
}

// One sweep over the columns of up to three rows, each optional (the forward's software pipeline, see forward_rows):
//   out: y = affine(((x - m0) - c) * rstd) for row `x` (and s_out = x + residual when fused);
//   c1:  s1 = sum(x1 - m1), s2 = sum((x1 - m1)^2) for the next row (its centred pass);
//   c2:  sum(x2) for the row after (its first pass; the sum of 4 accumulators over 4W columns).
// Each sum's association depends on the column index (and CP) only (the sum: 4 accumulators over 4W columns; centred:
// CP pairs over 4W columns; blocks of kSumBlock; the same remainder and tail handling), whichever other rows the
// sweep carries, so a row's statistics are the same bits whichever sweep computed them. `nt`: y (and s_out) stores
// stream. CP: accumulator pairs of the centred sums, 2, or 4 in the wide rows' sweeps (see forward_rows).
template <class V, class S, class X, class P, AffineMode M, bool ZC, int CP = 2>
struct RowSweep {
  using A = typename V::A;
  using R = typename V::R;
  static constexpr int W = V::W;
  // Default member values, so that a sweep carrying only some rows is `Sweep s; s.x2 = ...;`: value-initializing
  // the whole struct (`Sweep s{}`) compiled to a `rep stos` that cost more than a 1 x 8 forward's arithmetic.
  const S* x = nullptr;  // out row, or NULL
  X* y = nullptr;
  X* s_out = nullptr;
  R vm = V::zero(), vc = V::zero(), vr = V::zero();
  Affine<V, P, M, ZC> affine{nullptr, nullptr};  // by value: two pointers
  bool nt = false;
  const S* x1 = nullptr;  // centred row, or NULL
  R m1 = V::zero();
  const S* x2 = nullptr;  // summed row, or NULL
  const S* x3 = nullptr;  // the row after x2, prefetched (narrow rows only, see forward_rows), or NULL
  X* yw = nullptr;  // a y row written by a later sweep, prefetched for writing (ordinary stores only), or NULL

  // NT: 1 streaming stores, 0 ordinary stores, -1 as `nt` says (tested at run time).
  template <int NT = -1>
  LN4J_HOT void put(X* p, R v) const {
    if (NT == 1 || (NT < 0 && nt)) V::stream(p, v);
    else V::store(p, v);
  }
  LN4J_HOT R xhat(R sv) const { return V::mul(V::sub(V::sub(sv, vm), vc), vr); }
  // Two vectors (a cache line of float32) at j, both loaded before either is stored: the loads of a line's second
  // half had waited behind the stores to the first half of the same line offset in y (and s_out), every row being
  // a 4 KiB multiple apart (AMD EPYC Zen 3, A/B in one process, cold, 1 thread: 0.83-0.89x the time of the fused
  // residual forward at 256-16384 columns, 0.92-0.99x the plain forward; 2 threads and in cache unchanged within
  // the noise). Same operations, same bits.
  template <int NT>
  LN4J_HOT void out2(const S& xr, int64_t j) const {
    R s0 = xr.load(j), s1 = xr.load(j + W);
    if constexpr (S::kResidual) {
      if (s_out) {
        put<NT>(s_out + j, s0);
        put<NT>(s_out + j + W, s1);
      }
    }
    const R h0 = xhat(s0), h1 = xhat(s1);
    put<NT>(y + j, affine.apply(h0, j));
    put<NT>(y + j + W, affine.apply(h1, j + W));
  }
  template <int NT>
  LN4J_HOT void out(const S& xr, int64_t j) const {
    R sv = xr.load(j);
    if constexpr (S::kResidual) {
      if (s_out) put<NT>(s_out + j, sv);
    }
    put<NT>(y + j, affine.apply(xhat(sv), j));
  }
  LN4J_HOT void out_tail(const S& xr, int64_t j, int t) const {
    R sv = xr.load_tail(j, t);
    if constexpr (S::kResidual) {
      if (s_out) V::store_tail(s_out + j, sv, t);
    }
    V::store_tail(y + j, affine.apply_tail(xhat(sv), j, t), t);
  }

  // Stream sets, the bits of the `K` of run_streams: the row written, the centred row, the summed row, the
  // prefetched row.
  static constexpr int kOut = 1, kCentred = 2, kSummed = 4, kPrefetched = 8, kAny = 16;
  // Further bits of K: the y row prefetched for writing (yw), and the store kind known (kStream: streaming, else
  // ordinary stores) rather than tested at every store. The narrow forward's steady rows use them (see
  // forward_rows; the wide rows' centred sweeps kKnownStores too): in their loop the tests of the streams had been a
  // sixth of the instructions.
  static constexpr int kWrite = 32, kKnownStores = 64, kStream = 128;

  // Returns the centred sums of x1 (s1, s2) and the sum of x2; each 0 when its row is absent.
  void run(int64_t n, A* s1, A* s2, A* sum2) const {
    // A sweep of one row (the prologue's and a one-row call's three sweeps) runs a loop compiled for that stream
    // alone: through the general loop, which tests for each stream, a 1 x 768 forward took a quarter longer.
    // Only in the units built for speed (the float32 SIMD kernels): the size-built ones keep one loop.
    if constexpr (!kSpecialisedLoops) {
      run_streams<kAny>(n, s1, s2, sum2);
    } else if constexpr (CP == 4) {  // the wide rows' centred sweeps: a centred row (or none), maybe a prefetched one
      if (!x1) {
        *s1 = *s2 = *sum2 = A(0);
        return;
      }
      if (x3) return run_streams<kCentred | kPrefetched | kKnownStores>(n, s1, s2, sum2);
      return run_streams<kCentred>(n, s1, s2, sum2);
    } else {
      switch ((x ? kOut : 0) | (x1 ? kCentred : 0) | (x2 ? kSummed : 0) | (x3 ? kPrefetched : 0)) {
        case kOut: return run_streams<kOut>(n, s1, s2, sum2);
        case kCentred: return run_streams<kCentred>(n, s1, s2, sum2);
        case kSummed: return run_streams<kSummed>(n, s1, s2, sum2);
        default: break;
      }
      // The narrow forward's steady rows, which carry every stream, run their sweeps from forward_rows with the
      // streams and store kind fixed (run_streams<K> there); the rows that come here are the pipeline's ends, the
      // wide rows' sweeps and streamed rows whose alignment varies: the general loop.
      return run_streams<kAny>(n, s1, s2, sum2);
    }
  }

  // K: the streams this sweep carries (kAny: whichever are non-NULL, tested at run time). The association of each
  // sum is the same in every instantiation: the same loops, only the absent streams' code compiled out.
  template <int K>
  LN4J_HOT void run_streams(int64_t n, A* s1, A* s2, A* sum2) const {
    // Work on a local copy: the y stores could alias `*this` as far as the compiler knows, which made it reload
    // every field (pointers, broadcast constants, flags) after each store.
    const RowSweep self = *this;
    const S none{};
    const S xr = x ? *x : none, r1 = x1 ? *x1 : none, r2 = x2 ? *x2 : none, r3 = x3 ? *x3 : none;
    const bool has_x = K == kAny ? x != nullptr : (K & kOut) != 0;
    const bool has_1 = K == kAny ? x1 != nullptr : (K & kCentred) != 0;
    const bool has_2 = K == kAny ? x2 != nullptr : (K & kSummed) != 0;
    const bool has_3 = K == kAny ? x3 != nullptr : (K & kPrefetched) != 0;
    const bool has_w = (K & kKnownStores) ? (K & kWrite) != 0 : yw != nullptr;
    constexpr int NT = (K & kKnownStores) ? ((K & kStream) ? 1 : 0) : -1;
    constexpr int64_t kLineElems = 64 / int64_t(sizeof(X));
    const R m = m1;
    double t1 = 0, t2 = 0, ts = 0;
    for (int64_t b = 0; b < n; b += kSumBlock) {
      const int64_t e = std::min(n, b + kSumBlock);
      R p0 = V::zero(), p1 = V::zero(), q0 = V::zero(), q1 = V::zero();
      R p2 = V::zero(), p3 = V::zero(), q2 = V::zero(), q3 = V::zero();  // CP == 4 only
      R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
      int64_t j = b;
      // The common part: whole 4W steps of all three loops. The summed rows' loads come before the out row's
      // stores of the same columns: rows whose length is a multiple of 4 KiB put them at the same page offsets, and
      // loads issued after streaming stores to such an offset waited for those stores (AMD EPYC Zen 3, fused
      // residual forward, 4096 and 16384 columns, cold, A/B in one process: 0.35-0.42x the time with this order,
      // at 1 and 2 threads; the plain forward and the narrow rows unchanged). Same operations, same bits.
      for (; j + 4 * W <= e; j += 4 * W) {
        if (has_3) {
          for (int64_t o = 0; o < 4 * W; o += kLineElems) r3.prefetch(j + o);
        }
        if (has_w) {
          for (int64_t o = 0; o < 4 * W; o += kLineElems) prefetch_for_write(self.yw + j + o);
        }
        if (has_1) {  // two steps of the centred loop (2W each)
          R d0 = V::sub(r1.load(j), m), d1 = V::sub(r1.load(j + W), m);
          p0 = V::add(p0, d0);
          q0 = V::fma(d0, d0, q0);
          p1 = V::add(p1, d1);
          q1 = V::fma(d1, d1, q1);
          R d2 = V::sub(r1.load(j + 2 * W), m), d3 = V::sub(r1.load(j + 3 * W), m);
          if constexpr (CP == 4) {
            p2 = V::add(p2, d2);
            q2 = V::fma(d2, d2, q2);
            p3 = V::add(p3, d3);
            q3 = V::fma(d3, d3, q3);
          } else {
            p0 = V::add(p0, d2);
            q0 = V::fma(d2, d2, q0);
            p1 = V::add(p1, d3);
            q1 = V::fma(d3, d3, q1);
          }
        }
        if (has_2) {
          a0 = V::add(a0, r2.load(j));
          a1 = V::add(a1, r2.load(j + W));
          a2 = V::add(a2, r2.load(j + 2 * W));
          a3 = V::add(a3, r2.load(j + 3 * W));
        }
        if (has_x) {
          self.template out2<NT>(xr, j);
          self.template out2<NT>(xr, j + 2 * W);
        }
      }
      // What is left of the block (< 4W columns), each loop as it would have continued on its own.
      if (has_1) {
        int64_t i = j;
        for (; i + 2 * W <= e; i += 2 * W) {
          R d0 = V::sub(r1.load(i), m), d1 = V::sub(r1.load(i + W), m);
          p0 = V::add(p0, d0);
          q0 = V::fma(d0, d0, q0);
          p1 = V::add(p1, d1);
          q1 = V::fma(d1, d1, q1);
        }
        for (; i + W <= e; i += W) {
          R d = V::sub(r1.load(i), m);
          p0 = V::add(p0, d);
          q0 = V::fma(d, d, q0);
        }
        if (i < e) {
          R d = V::keep(V::sub(r1.load_tail(i, int(e - i)), m), int(e - i));
          p1 = V::add(p1, d);
          q1 = V::fma(d, d, q1);
        }
        if constexpr (CP == 4) {
          t1 += double(V::hsum(V::add(V::add(p0, p1), V::add(p2, p3))));
          t2 += double(V::hsum(V::add(V::add(q0, q1), V::add(q2, q3))));
        } else {
          t1 += double(V::hsum(V::add(p0, p1)));
          t2 += double(V::hsum(V::add(q0, q1)));
        }
      }
      if (has_2) {
        int64_t i = j;
        for (; i + W <= e; i += W) a0 = V::add(a0, r2.load(i));
        if (i < e) a1 = V::add(a1, r2.load_tail(i, int(e - i)));
        ts += double(V::hsum(V::add(V::add(a0, a1), V::add(a2, a3))));
      }
      if (has_x) {
        int64_t i = j;
        for (; i + W <= e; i += W) self.template out<NT>(xr, i);
        if (i < e) self.out_tail(xr, i, int(e - i));
      }
    }
    *s1 = A(t1);
    *s2 = A(t2);
    *sum2 = A(ts);
  }
};

constexpr int64_t kPrefetchRowBytes = 8192;

// Forward over rows r0..r1-1 as a software pipeline of three passes per row: row r+2's sum (its mean estimate m0),
// row r+1's centred sums about its m0 (corrected two-pass, common/stats.h), row r's output, all in one sweep per row
// (RowSweep). Only row r+2 comes from memory; rows r+1 and r are in cache from the sweeps before, so the compute of
// the cache passes overlaps the reads, and a row costs one sweep (two on wide rows, see below) instead of three loops.
// RMS (RMSNorm): no centring, m0 = c = 0 and var is the mean square: rstd = 1 / sqrt(mean(x^2) + eps).
template <class V, class X, class P, AffineMode M, bool ZC, bool RMS, bool RES>
void forward_rows(const ForwardArgs& a, int64_t r0, int64_t r1) {
  using A = typename V::A;
  using S = Source<V, X, RES>;
  using Sweep = RowSweep<V, S, X, P, M, ZC>;
  // The wide rows' centred sums run in 4 accumulator pairs: their sweep carries no other row, and with 2 pairs it
  // waited on the add and FMA latencies (2 dependent updates per pair per 4 vectors). The narrow rows' sweeps carry
  // three rows and keep 2 pairs (4 spilled registers there). A row's statistics use one of them, whichever sweep
  // computes them: the choice follows the row length only, so the bits do not depend on rows or threads.
  // Only in the units built for speed (kSpecialisedLoops); the others keep one loop, and 2 pairs.
  using SweepW = RowSweep<V, S, X, P, M, ZC, kSpecialisedLoops ? 4 : 2>;
  const int64_t n = a.cols;
  const A nA = A(n), eps = A(a.eps);
  const Affine<V, P, M, ZC> affine{(const P*)a.gamma, (const P*)a.beta};
  auto src = [&](int64_t r) { return S{(const X*)a.x + r * n, RES ? (const X*)a.residual + r * n : nullptr}; };
  // Rows up to kPrefetchRowBytes run one sweep per row and prefetch the row after the one they read from memory:
  // measured (ln4j_bench, Zen 3) the demand reads alone leave short rows waiting on memory. Wider rows: see below.
  const bool prefetch = n * int64_t(sizeof(X)) * (RES ? 2 : 1) <= kPrefetchRowBytes;
  // Streaming stores when the whole call's footprint (reads and writes) passes the threshold (cache_info.h); the
  // rows then come from memory, and the prefetches further ahead below pay. The fused residual forward on wide rows
  // streams too: Zen 4, ln4j_bench --fused, cold, 4096 and 16384 columns, 43-52% -> 59-76% of the ceiling at 1
  // thread, 41-59% -> 65-88% at 2. On Zen 3 it streamed at under half the speed of ordinary stores until the sweep
  // loaded its summed rows before storing the same columns (RowSweep::run_streams); since then streaming is the
  // faster there too (A/B in one process, cold: 0.74-0.89x the time of ordinary stores, 1 and 2 threads).
  const int64_t streams = RES ? (a.residual_out ? 4 : 3) : 2;
  const bool nt = stream_stores(a.rows * n * int64_t(sizeof(X)) * streams);
  // The row a sweep prefetches: the row after the first one it reads from memory (RMS needs no sum), and when the
  // call's rows come from memory (footprint past the streaming threshold) up to 4 rows / ~12 KiB further: Zen 4,
  // 1 thread, cold, 0.84-0.89x the time at 256 columns and 0.83-0.85x at 768 (4 rows further); 8 rows further was
  // slower at 768, and exactly 4 KiB further slower at 256.
  const int64_t row_bytes = n * int64_t(sizeof(X)) * (RES ? 2 : 1);
  // Which of the prefetches that pay only from memory run: the dispatcher's run-time choice past the threshold
  // (cpu/prefetch_tuner.h: machines disagree), none below it.
  const int32_t policy = nt ? a.prefetch : 0;
  const int64_t further = (policy & kPfFwdAhead) ? std::min<int64_t>(4, std::max<int64_t>(1, 12288 / row_bytes)) : 0;
  const int64_t ahead = (RMS ? 2 : 3) + further;
  // A narrow y row taking ordinary stores is prefetched for writing by the sweep that reads its x from memory, so
  // that its stores find their lines (cold 1 x 768 forwards over rotating buffers, Zen 3: 1.28x -> 1.11x the time of
  // a plain three-loop kernel; the same time when warm). Streamed rows need no lines. Wide rows' neither: their
  // PREFETCHWs cost more than they saved (AMD EPYC Zen 3, C driver, alternating in one build: in cache 0.85-0.95x
  // the time without them at 3000-16384 columns, 8-32 rows; cold over rotating buffers 0.93-1.00x).
  auto y_ahead = [&](int64_t r) -> X* { return !nt && prefetch && r < r1 ? (X*)a.y + r * n : nullptr; };
  // Except a lone row's (a one-row call or block, narrow rows): its y lines are asked for by its centred sweep, which
  // reads only cache, not by its sum sweep, where they took miss buffers from the x lines that sweep waits for. Cold
  // 1 x 768 forwards over rotating buffers (C driver, AMD EPYC Zen 3, 6 alternations): 1.24-1.32x -> 1.01-1.09x the
  // time of a plain three-loop kernel. Rows of longer calls keep theirs a row ahead (4 x 768 cold: 0.91-1.01x with
  // it, 1.06-1.12x without).
  const bool lone = prefetch && r1 - r0 == 1;
  // The first statistics' lines too: a cold line there held the stores behind it (the sweep set-up's) until it came,
  // cold 1 x 768: 1.15x -> 0.96x the time of the plain kernel (which stores its statistics to cold lines too).
  if (!RMS && a.mean) prefetch_for_write((A*)a.mean + r0);
  if (a.rstd) prefetch_for_write((A*)a.rstd + r0);
  // Row r's statistics from its centred sums about m0 (s1, s2): stores mean and rstd, returns c and rstd.
  auto stats = [&](int64_t r, A m0, A s1, A s2, A* c, A* rstd) LN4J_HOT {
    A var;
    if constexpr (RMS) {
      *c = A(0);
      var = s2 / nA;
    } else {
      corrected_two_pass(nA, s1, s2, c, &var);
    }
    *rstd = A(1) / std::sqrt(var + eps);
    if (!RMS && a.mean) ((A*)a.mean)[r] = m0 + *c;
    if (a.rstd) ((A*)a.rstd)[r] = *rstd;
  };
  if constexpr (kSpecialisedLoops) {
    // A lone narrow row (a one-row call or block: a decode step) runs the sweeps the pipeline below would run for it
    // (its sum; its centred sums, asking for its y lines; its output), each with its streams and store kind fixed at
    // compile time, without the pipeline's set-up: the same loops, so the same bits. AMD EPYC Zen 3, C driver,
    // alternating builds: a whole 1 x 8 forward call 1,048 -> 657 instructions (callgrind), 94 -> 69 ns; 1 x 768 in
    // cache 232-243 -> 209-212 ns; cold (rotating buffers) 1.04-1.08x -> 0.94-1.01x the time of a plain kernel.
    if (lone) {
      const S x0 = src(r0);
      A m0 = A(0), s1, s2, sum = 0;
      if constexpr (!RMS) {
        Sweep sw;
        sw.x2 = &x0;
        sw.template run_streams<Sweep::kSummed | Sweep::kKnownStores>(n, &s1, &s2, &sum);
        m0 = sum / nA;
      }
      {
        Sweep sw;
        sw.x1 = &x0;
        sw.m1 = V::set1(m0);
        sw.yw = y_ahead(r0);
        sw.template run_streams<Sweep::kCentred>(n, &s1, &s2, &sum);
      }
      A c, rstd;
      stats(r0, m0, s1, s2, &c, &rstd);
      X* y = (X*)a.y + r0 * n;
      X* s_out = RES && a.residual_out ? (X*)a.residual_out + r0 * n : nullptr;
      Sweep sw{&x0, y, s_out, V::set1(m0), V::set1(c), V::set1(rstd), affine, false};
      if (nt && stream_aligned<V>(y) && (!s_out || stream_aligned<V>(s_out))) {
        sw.template run_streams<Sweep::kOut | Sweep::kKnownStores | Sweep::kStream>(n, &s1, &s2, &sum);
      } else {
        sw.template run_streams<Sweep::kOut | Sweep::kKnownStores>(n, &s1, &s2, &sum);
      }
      if (nt) V::stream_fence();
      return;
    }
  }
  // Prologue: row r0's sum, then its centred sums and row r0+1's sum. (A lone row comes here only in the units built
  // for size, without the path above: its y lines are asked for by its centred sweep here too.)
  A m0 = A(0), s1, s2, next_sum = 0;  // m0: of the row whose centred sums come next
  if constexpr (!RMS) {
    const S x0 = src(r0);
    Sweep sum;
    sum.x2 = &x0;
    sum.yw = lone ? nullptr : y_ahead(r0);
    sum.run(n, &s1, &s2, &next_sum);
    m0 = next_sum / nA;
  }
  {
    const S x1 = src(r0), x2 = src(r0 + 1 < r1 ? r0 + 1 : r0);
    if (prefetch) {
      Sweep sw;
      sw.x1 = &x1;
      sw.m1 = V::set1(m0);
      sw.x2 = !RMS && r0 + 1 < r1 ? &x2 : nullptr;
      sw.yw = y_ahead(RMS || lone ? r0 : r0 + 1);
      sw.run(n, &s1, &s2, &next_sum);
    } else {  // wide rows: the centred sums in a sweep of their own (SweepW), then the next row's sum
      SweepW centred;
      centred.x1 = &x1;
      centred.m1 = V::set1(m0);
      A unused;
      centred.run(n, &s1, &s2, &unused);
      next_sum = 0;
      if (!RMS && r0 + 1 < r1) {
        Sweep sum;
        sum.x2 = &x2;
        A u1, u2;
        sum.run(n, &u1, &u2, &next_sum);
      }
    }
  }
  // One row of the pipeline: its statistics from the sums the sweeps before it left, then its sweep(s). kc: the
  // streams of the narrow sweep fixed at compile time (a K of RowSweep::run_streams, for the steady rows below), or
  // -1 (RowSweep::run tests which streams the sweep carries).
  auto row = [&](int64_t r, auto kc) LN4J_HOT {
    constexpr int K = decltype(kc)::value;
    A c, rstd;
    stats(r, m0, s1, s2, &c, &rstd);
    constexpr bool kSteady = K >= 0;  // rows r+1, r+2 and r+ahead exist, y is aligned for streaming (see below)
    auto has = [&](int64_t k) { return kSteady || k < r1; };
    const S x = src(r), x1 = src(has(r + 1) ? r + 1 : r), x2 = src(has(r + 2) ? r + 2 : r),
            x3 = src(has(r + ahead) ? r + ahead : r);
    X* y = (X*)a.y + r * n;
    X* s_out = RES && a.residual_out ? (X*)a.residual_out + r * n : nullptr;
    const A m1 = RMS ? A(0) : next_sum / nA;  // row r+1's m0
    const bool nt_row =
        kSteady ? (K & Sweep::kStream) != 0 : nt && stream_aligned<V>(y) && (!s_out || stream_aligned<V>(s_out));
    if (prefetch) {
      Sweep sw{&x, y, s_out, V::set1(m0), V::set1(c), V::set1(rstd), affine, nt_row,
               has(r + 1) ? &x1 : nullptr, V::set1(m1), !RMS && has(r + 2) ? &x2 : nullptr,
               has(r + ahead) ? &x3 : nullptr, y_ahead(r + ahead - 1)};
      if constexpr (K < 0) sw.run(n, &s1, &s2, &next_sum);
      else sw.template run_streams<K>(n, &s1, &s2, &next_sum);
    } else if constexpr (K < 0) {
      // Wide rows: two sweeps of at most two rows each. One sweep over three rows (six streams with a residual)
      // put them all in the same L1 sets when the row length is a multiple of 4 KiB, and the fused residual
      // forward fell to a quarter of its speed (ln4j_bench --fused, 4096 and 16384 columns, Zen 3).
      // With the rows from memory, the write sweep also asks for row r+3 (into L2, see kPrefetchLocality): Zen 4,
      // 1 thread, cold, 0.88-0.95x the time at 4096 and 16384 columns.
      const S x3w = src(r + 3 < r1 ? r + 3 : r);
      SweepW centred;
      centred.x1 = r + 1 < r1 ? &x1 : nullptr;
      // When the rows come from memory (footprint past the streaming threshold), the centred sweep, which reads only
      // cache, asks for row r+2 (into L2) ahead of the write sweep that reads it: memory stays busy during both
      // sweeps. Zen 4, cold: 0.71-0.75x the time at 4096 and 16384 columns (1 thread, AVX-512), 0.82-0.91x
      // (2 threads, AVX2); in cache the prefetches only cost time (up to 8%), so they are left out there.
      centred.x3 = (policy & kPfFwdCentred) && r + 2 < r1 ? &x2 : nullptr;
      centred.m1 = V::set1(m1);
      A unused;
      centred.run(n, &s1, &s2, &unused);
      Sweep write{&x, y, s_out, V::set1(m0), V::set1(c), V::set1(rstd), affine, nt_row, nullptr, V::zero(),
                  !RMS && r + 2 < r1 ? &x2 : nullptr, (policy & kPfFwdAhead) && r + 3 < r1 ? &x3w : nullptr};
      A u1, u2;
      write.run(n, &u1, &u2, &next_sum);
    }
    m0 = m1;
  };
  int64_t r = r0;
  if constexpr (kSpecialisedLoops) {
    // The narrow forward's steady rows, those whose sweep carries every stream (rows r+1, r+2 and r+ahead exist):
    // their loop runs here with the sweep's streams and store kind fixed at compile time (streaming stores come
    // without the y prefetch, ordinary stores with it) and the sweep inlined, so nothing is tested, copied or called
    // per row. AMD EPYC Zen 3: the streams and store kind fixed, 0.91-0.92x the time at 256 and 768 columns (1
    // thread, cold and warm); the loop here on top, cold 0.76-0.91x, in cache 0.86x at 256 columns (about 170 of a
    // 256-column row's ~800 instructions were RowSweep::run's choice, the struct's copies and the call). The wide
    // forward's sweeps compiled the same way were slower at 16384 columns (1.06-1.11x): they run the general loop.
    // Streaming stores need every row's y (and s_out) aligned: else every row runs RowSweep::run's general loop.
    const int64_t steady_end = r1 - ahead;
    auto aligned_rows = [&](const void* base) {
      return stream_aligned<V>((const X*)base + r0 * n) && n % V::W == 0;
    };
    constexpr int kAll = Sweep::kOut | Sweep::kCentred | (RMS ? 0 : Sweep::kSummed) | Sweep::kPrefetched;
    if (prefetch && !nt) {
      for (; r < steady_end; ++r) row(r, std::integral_constant<int, kAll | Sweep::kWrite | Sweep::kKnownStores>{});
    } else if (prefetch && aligned_rows(a.y) && (!(RES && a.residual_out) || aligned_rows(a.residual_out))) {
      for (; r < steady_end; ++r) row(r, std::integral_constant<int, kAll | Sweep::kKnownStores | Sweep::kStream>{});
    }
  }
  for (; r < r1; ++r) row(r, std::integral_constant<int, -1>{});
  if (nt) V::stream_fence();  // streamed lines reach memory before the call reports completion
}

// ---- backward ----------------------------------------------------------------------------------------------
// Pass 1 for NR (1 or 2) consecutive rows in one sweep: c1 = mean(g*dy), c2 = mean(g*dy*xhat) of each row, and
// (when the next NR rows end at or before prefetch_until) asks for the first `ahead_rows` of them (x and dy, into
// L2) as it goes;
// the dgamma/dbeta partials updated row after row (partial = fma(dy_r, xhat_r, partial), then the next row):
// the same operations in the same order as one row at a time, so the same bits, with half the partial traffic.
// MODE: -1 (first, prefetch_dx and the prefetch of the next rows as the arguments say), or those flags fixed at
// compile time (kP1First | kP1PrefetchDx | kP1Ahead, the bits that hold; see pair_pass1 in backward_rows).
constexpr int kP1First = 1, kP1PrefetchDx = 2, kP1Ahead = 4;
template <class V, class X, class P, int G, bool PARTIALS, bool RMS, bool FY, int NR, int MODE = -1>
void backward_pass1(const BackwardArgs& a, int64_t r, const ScaleGrad<V, P, G>& scale_in, typename V::A* pdg,
                    typename V::A* pdb, bool first_in, typename V::A* c1, typename V::A* c2, bool prefetch_dx_in,
                    int64_t prefetch_until, int ahead_rows) {
  using A = typename V::A;
  using R = typename V::R;
  constexpr int W = V::W;
  // A local copy: the partial stores could alias the caller's object as far as the compiler knows, which made it
  // reload the gamma pointer after every store.
  const ScaleGrad<V, P, G> scale = scale_in;
  const bool first = MODE < 0 ? first_in : (MODE & kP1First) != 0;
  const bool prefetch_dx = MODE < 0 ? prefetch_dx_in : (MODE & kP1PrefetchDx) != 0;
  const int64_t n = a.cols;
  const X* x[NR];
  const X* dy[NR];
  X* dx[NR];  // prefetched for writing when dx takes ordinary stores (prefetch_dx): pass 2 writes these rows
  R vm[NR], vr[NR], s1[NR][2], s2[NR][2];
  for (int i = 0; i < NR; ++i) {
    x[i] = (const X*)a.x + (r + i) * n;
    dx[i] = (X*)a.dx + (r + i) * n;
    dy[i] = (const X*)a.dy + (r + i) * n;
    vm[i] = V::set1(RMS || FY ? A(0) : ((const A*)a.mean)[r + i]);
    vr[i] = V::set1(((const A*)a.rstd)[r + i]);
    s1[i][0] = s1[i][1] = s2[i][0] = s2[i][1] = V::zero();
  }
  const A* xs = (const A*)a.xhat_shift;
  const A* xk = (const A*)a.xhat_scale;
  constexpr int64_t kLineElems = 64 / int64_t(sizeof(X));
  auto xhat_at = [&](int i, int64_t j) LN4J_HOT -> R {
    if constexpr (FY) return V::mul(V::sub(V::load(x[i] + j), V::load(xs + j)), V::load(xk + j));
    else return V::mul(V::sub(V::load(x[i] + j), vm[i]), vr[i]);
  };
  auto xhat_tail = [&](int i, int64_t j, int t) LN4J_HOT -> R {
    if constexpr (FY) return V::mul(V::sub(V::load_tail(x[i] + j, t), V::load_tail(xs + j, t)), V::load_tail(xk + j, t));
    else return V::mul(V::sub(V::load_tail(x[i] + j, t), vm[i]), vr[i]);
  };
  auto step = [&](int64_t j, auto kc) LN4J_HOT {  // kc: which accumulator pair (compile time)
    constexpr int k = decltype(kc)::value;
    R pg, pb;
    if constexpr (PARTIALS) {  // the block's first rows start the partials (no separate zeroing pass)
      pg = first ? V::zero() : V::load(pdg + j);
      pb = first ? V::zero() : V::load(pdb + j);
    }
    for (int i = 0; i < NR; ++i) {
      R dyv = V::load(dy[i] + j);
      R xhat = xhat_at(i, j);
      R gdy = scale.apply(dyv, j);
      s1[i][k] = V::add(s1[i][k], gdy);
      s2[i][k] = V::fma(gdy, xhat, s2[i][k]);
      if constexpr (PARTIALS) {
        pg = V::fma(dyv, xhat, pg);
        pb = V::add(dyv, pb);
      }
    }
    if constexpr (PARTIALS) {
      V::store(pdg + j, pg);
      V::store(pdb + j, pb);
    }
  };
  auto flush = [&](double* t1, double* t2) LN4J_HOT {  // a block's row sums join the float64 totals
    for (int i = 0; i < NR; ++i) {
      t1[i] += double(V::hsum(V::add(s1[i][0], s1[i][1])));
      t2[i] += double(V::hsum(V::add(s2[i][0], s2[i][1])));
      s1[i][0] = s1[i][1] = s2[i][0] = s2[i][1] = V::zero();
    }
  };
  double t1[NR] = {}, t2[NR] = {};
  const bool ahead = MODE < 0 ? r + 2 * NR <= prefetch_until : (MODE & kP1Ahead) != 0;
  for (int64_t b = 0; b < n; b += kSumBlock) {  // blocks as the forward's row sums: they do not drift with n
    const int64_t e = std::min(n, b + kSumBlock);
    int64_t j = b;
    for (; j + 2 * W <= e; j += 2 * W) {
      if (prefetch_dx) {
        for (int i = 0; i < NR; ++i)
          for (int64_t o = 0; o < 2 * W; o += kLineElems) prefetch_for_write(dx[i] + j + o);
      }
      if (ahead) {
        for (int i = 0; i < ahead_rows; ++i)
          for (int64_t o = 0; o < 2 * W; o += kLineElems) {
            __builtin_prefetch(x[i] + NR * n + j + o, 0, kPrefetchLocality);
            __builtin_prefetch(dy[i] + NR * n + j + o, 0, kPrefetchLocality);
          }
      }
      step(j, std::integral_constant<int, 0>{});
      step(j + W, std::integral_constant<int, 1>{});
    }
    for (; j + W <= e; j += W) step(j, std::integral_constant<int, 0>{});
    if (j < e) {
      const int t = int(e - j);
      R pg, pb;
      if constexpr (PARTIALS) {
        pg = first ? V::zero() : V::load_tail(pdg + j, t);
        pb = first ? V::zero() : V::load_tail(pdb + j, t);
      }
      for (int i = 0; i < NR; ++i) {
        R dyv = V::load_tail(dy[i] + j, t);  // lanes >= t are 0, so they add nothing below
        R xhat = V::keep(xhat_tail(i, j, t), t);
        R gdy = scale.apply_tail(dyv, j, t);
        s1[i][1] = V::add(s1[i][1], gdy);
        s2[i][1] = V::fma(gdy, xhat, s2[i][1]);
        if constexpr (PARTIALS) {
          pg = V::fma(dyv, xhat, pg);
          pb = V::add(dyv, pb);
        }
      }
      if constexpr (PARTIALS) {
        V::store_tail(pdg + j, pg, t);
        V::store_tail(pdb + j, pb, t);
      }
    }
    flush(t1, t2);
  }
  for (int i = 0; i < NR; ++i) {
    c1[i] = RMS ? A(0) : A(t1[i] / double(n));
    c2[i] = A(t2[i] / double(n));
  }
}

// Pass 2 for one row: dx = rstd * (g*dy - (c1 + xhat*c2)); x and dy are hot in cache from pass 1. Each column
// is computed on its own, so running it in chunks (at / tail) or in one loop (run) gives the same bits.
template <class V, class X, class P, int G, bool RMS, bool DRES, bool FY>
struct Pass2Row {
  using A = typename V::A;
  using R = typename V::R;
  static constexpr int W = V::W;
  const X* x;
  const X* dy;
  X* dx;
  const X* dres;  // added to dx (DRES)
  const A* xs;
  const A* xk;
  const ScaleGrad<V, P, G>* scale;
  R vm, vr, vc1, vc2;
  bool nt_row;
  Pass2Row() = default;
  Pass2Row(const BackwardArgs& a, int64_t r, const ScaleGrad<V, P, G>& sc, A c1, A c2, bool nt) {
    const int64_t n = a.cols;
    x = (const X*)a.x + r * n;
    dy = (const X*)a.dy + r * n;
    dx = (X*)a.dx + r * n;
    dres = DRES ? (const X*)a.dresidual_out + r * n : nullptr;
    xs = (const A*)a.xhat_shift;
    xk = (const A*)a.xhat_scale;
    scale = &sc;
    vm = V::set1(RMS || FY ? A(0) : ((const A*)a.mean)[r]);
    vr = V::set1(((const A*)a.rstd)[r]);
    vc1 = V::set1(c1);
    vc2 = V::set1(c2);
    nt_row = nt && stream_aligned<V>(dx);
  }
  LN4J_HOT void at(int64_t j) const {
    R xhat;
    if constexpr (FY) xhat = V::mul(V::sub(V::load(x + j), V::load(xs + j)), V::load(xk + j));
    else xhat = V::mul(V::sub(V::load(x + j), vm), vr);
    R gdy = scale->apply(V::load(dy + j), j);
    R d = V::mul(V::sub(gdy, V::fma(xhat, vc2, vc1)), vr);
    if constexpr (DRES) d = V::add(d, V::load(dres + j));
    if (nt_row) V::stream(dx + j, d);
    else V::store(dx + j, d);
  }
  LN4J_HOT void tail(int64_t j, int t) const {
    R xhat;
    if constexpr (FY) xhat = V::mul(V::sub(V::load_tail(x + j, t), V::load_tail(xs + j, t)), V::load_tail(xk + j, t));
    else xhat = V::mul(V::sub(V::load_tail(x + j, t), vm), vr);
    R gdy = scale->apply_tail(V::load_tail(dy + j, t), j, t);
    R d = V::mul(V::sub(gdy, V::fma(xhat, vc2, vc1)), vr);
    if constexpr (DRES) d = V::add(d, V::load_tail(dres + j, t));
    V::store_tail(dx + j, d, t);
  }
  // The whole row; asks for the cache lines of rows `px` and `pdy` (the next rows' pass 1 inputs, or NULL) one line
  // per line of this row, so that their reads from memory overlap this cache-only pass and its dx stores.
  void run(int64_t n, const X* px, const X* pdy) const {
    constexpr int64_t L = std::max<int64_t>(W, 64 / int64_t(sizeof(X)));  // elements per iteration, one line or more
    int64_t j = 0;
    if (px) {
      for (; j + L <= n; j += L) {
        __builtin_prefetch(px + j, 0, kPrefetchLocality);
        __builtin_prefetch(pdy + j, 0, kPrefetchLocality);
        for (int64_t h = 0; h < L; h += W) at(j + h);
      }
    }
    for (; j + W <= n; j += W) at(j);
    if (j < n) tail(j, int(n - j));
  }
};

// RMS: mean = 0 and c1 = 0, so dx = rstd * (g'*dy - xhat*mean(g'*dy*xhat)) with xhat = x * rstd.
template <class V, class X, class P, int G, bool PARTIALS, bool RMS, bool DRES, bool FY>
void backward_rows(const BackwardArgs& a, int64_t r0, int64_t r1, typename V::A* pdg, typename V::A* pdb) {
  using A = typename V::A;
  const ScaleGrad<V, P, G> scale{(const P*)a.gamma};
  // Streaming dx stores when the call's footprint (x, dy, dx, dresidual_out) passes the threshold (cache_info.h).
  const bool nt = stream_stores(a.rows * a.cols * int64_t(sizeof(X)) * (DRES ? 4 : 3));
  using Row = Pass2Row<V, X, P, G, RMS, DRES, FY>;
  const int64_t n = a.cols;
  const X* x = (const X*)a.x;
  const X* dy = (const X*)a.dy;
  // Rows in pairs (one partial update per two rows). Pass 2 of a pair reads its rows from cache and prefetches the
  // next pair, so the next pass 1 finds its inputs in cache and the memory system is busy during both passes.
  // (Measured on the AMD EPYC Zen 3 of this project, ln4j_bench, fp32 1 thread: 1.3-1.9x faster than without the
  // prefetch; running pass 2 of a pair inside the pass 1 loop of the next pair instead was 2-4x slower than this
  // at 4096 and 16384 columns with streaming stores.)
  // Which of the two prefetches of the next pair run when the rows come from memory: the dispatcher's run-time
  // choice (cpu/prefetch_tuner.h: they help on some machines and widths and cost time on others); below the
  // threshold pass 2's only.
  // With both (policy 3) the requests for the next pair are spread over the pair's two passes: pass 1 asks for its
  // first row, pass 2 of this pair's first row for its second row (A/B in one process, AMD EPYC Zen 3, cold, 1
  // thread: 0.72x the time of asking for both rows in both passes at 256 columns, 0.91x at 768 and 16384, 0.99x at
  // 4096; 2 threads 0.84-1.05x). Alone, each asks for both rows.
  const int32_t policy = nt ? a.prefetch : kPfBwdNext;
  const bool next_pf = (policy & kPfBwdNext) != 0;
  const bool spread = next_pf && (policy & kPfBwdAhead) != 0;
  A c1[2], c2[2];
  // split: pass 1 asked for the next pair's first row, so this pass asks for its second row only (from row 0).
  auto pass2 = [&](int64_t row, int count, bool split) {
    for (int i = 0; i < count; ++i) {
      const int64_t next = row + count + (split ? 1 : i);  // the same row of the next pair, or its second row
      const bool pf = (split ? i == 0 : next_pf) && next < r1;
      Row(a, row + i, scale, c1[i], c2[i], nt).run(n, pf ? x + next * n : nullptr, pf ? dy + next * n : nullptr);
    }
  };
  // When the call's footprint passes the streaming threshold (its rows come from memory), pass 1 may also ask for
  // the next pair's x and dy (into L2, policy bit kPfBwdAhead), so that they are requested during both passes, not
  // only during pass 2: Zen 4, cold, 0.75-0.84x the time at 1 thread (256-16384 columns), 0.86-0.98x at 2; Zen 3
  // the opposite at 256 columns (see prefetch_tuner.h). Below the threshold (rows likely in cache) those
  // instructions only cost time (6-11% in cache), so they are left out there.
  // Pass 1 prefetches its rows' dx lines for writing when dx takes ordinary stores (see prefetch_for_write):
  // cold 1 x 768 backwards over rotating buffers, Zen 3, 2.05 -> 1.75 us; warm ones ~25 ns (10%) slower, the cost
  // of the PREFETCHW instructions in a load-bound loop.
  const int64_t ahead_until = (policy & kPfBwdAhead) ? r1 : 0;
  // The pairs' pass 1 with its flags fixed at compile time, in the units built for speed and for the common
  // backward (from x, with dgamma or dbeta): with the flags' tests in its loop GCC also stored the second row's
  // accumulators to the stack at every step. AMD EPYC Zen 3, 16 MiB tensors (4 Mi elements, from L3 and memory),
  // fixed prefetch policy, alternating processes: 0.83-0.89x the time at 256 columns, 0.85-0.94x at 768,
  // 0.89-1.00x at 4096, 1 and 2 threads; in L2 0.95x (256, 768) and 0.98x (4096). Same operations, same bits.
  constexpr bool kFixedPass1 = kSpecialisedLoops && PARTIALS && !FY;  // pass 1 compiled per flag set (below)
  auto pair_pass1 = [&](int64_t r) {
    const bool first = r == r0, ahead = r + 4 <= ahead_until;
    const int rows_ahead = spread ? 1 : 2;
    if constexpr (kFixedPass1) {
      if (!first && nt && ahead)
        return backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 2, kP1Ahead>(a, r, scale, pdg, pdb, first, c1, c2, !nt,
                                                                          ahead_until, rows_ahead);
      if (!first && nt && !ahead)
        return backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 2, 0>(a, r, scale, pdg, pdb, first, c1, c2, !nt,
                                                                   ahead_until, rows_ahead);
      if (!first && !nt && !ahead)
        return backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 2, kP1PrefetchDx>(a, r, scale, pdg, pdb, first, c1, c2,
                                                                               !nt, ahead_until, rows_ahead);
    }
    backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 2>(a, r, scale, pdg, pdb, first, c1, c2, !nt, ahead_until,
                                                     rows_ahead);
  };
  int64_t r = r0;
  for (; r + 2 <= r1; r += 2) {
    pair_pass1(r);
    pass2(r, 2, spread && r + 4 <= ahead_until);  // pass 1 asked for row r+2 exactly when the next pair is whole
  }
  for (; r < r1; ++r) {
    if constexpr (kFixedPass1) {
      if (r == r0 && !nt) {  // a one-row call (a transformer's decode step): its flags fixed at compile time too
        backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 1, kP1First | kP1PrefetchDx>(a, r, scale, pdg, pdb, true, c1, c2,
                                                                                  true, ahead_until, 1);
        pass2(r, 1, false);
        continue;
      }
    }
    backward_pass1<V, X, P, G, PARTIALS, RMS, FY, 1>(a, r, scale, pdg, pdb, r == r0, c1, c2, !nt, ahead_until, 1);
    pass2(r, 1, false);
  }
  if (nt) V::stream_fence();
}

// ---- dgamma / dbeta finalize ------------------------------------------------------------------------------
template <class V, class P>
void finalize_one(const typename V::A* part, int64_t nblocks, int64_t stride, int64_t c0, int64_t c1, P* out) {
  using R = typename V::R;
  constexpr int W = V::W;
  int64_t c = c0;
  for (; c + W <= c1; c += W) {
    R s = V::load(part + c);
    for (int64_t b = 1; b < nblocks; ++b) s = V::add(s, V::load(part + b * stride + c));
    V::store(out + c, s);
  }
  if (c < c1) {
    const int t = int(c1 - c);
    R s = V::load_tail(part + c, t);
    for (int64_t b = 1; b < nblocks; ++b) s = V::add(s, V::load_tail(part + b * stride + c, t));
    V::store_tail(out + c, s, t);
  }
}

// ---- which instantiation runs: named decisions, then the dtype visitor --------------------------------
#include "row_dispatch.inl"

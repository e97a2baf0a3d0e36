// ln4j_bench --self-test: the judge judged. Checks that the validator passes correct outputs (the reference rounded
// to the storage dtype, and an honest float32 two-pass kernel) and flags outputs that are wrong in the ways
// kernels go wrong: a row left unwritten (NaN poison), the one-pass E[x^2]-E[x]^2 variance on off-centre data,
// a dropped xhat*c2 term in dx, and a dgamma missing one row. Also the timing rules that decide what counts as a
// measurement (the cold arena, a shape whose ceiling moved). Exit status 0 only when every verdict is right.
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench.h"
#include "timer.h"

namespace bench {

namespace {
int verdict(const char* what, const Check& k, bool want_ok) {
  bool right = k.ok == want_ok;
  std::printf("  %-58s %s (max err/tol %.3g) %s\n", what, k.ok ? "passes" : "WRONG", k.max_ratio,
              right ? "as it should" : "<-- the judge is broken");
  return right ? 0 : 1;
}
}  // namespace

int self_test() {
  int bad = 0;
  for (int32_t dtype : {LN4J_FLOAT32, LN4J_BFLOAT16}) {
    Problem p;
    const int64_t R = 64, C = 4096;
    make_problem(p, dtype, R, C, 7);
    std::printf("self-test %s %lldx%lld:\n", dtype_label(dtype), (long long)R, (long long)C);
    const size_t ss = (size_t)ln4j_dtype_size(p.sdtype);
    std::vector<unsigned char> y(p.xbytes()), mean(R * ss), rstd(R * ss), y1(p.xbytes()), rs1(R * ss);
    for (int64_t i = 0; i < R * C; ++i) store(dtype, y.data(), i, p.ref_y[i]);
    for (int64_t r = 0; r < R; ++r) {
      store(p.sdtype, mean.data(), r, p.ref_mean[r]);
      store(p.sdtype, rstd.data(), r, p.ref_rstd[r]);
    }
    bad += verdict("reference rounded to the storage dtype", check_forward(p, y.data(), mean.data(), rstd.data()), true);

    // an honest float32 two-pass kernel, and a one-pass E[x^2]-E[x]^2 one
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t r = 0; r < R; ++r) {
        float s = 0, sq = 0;
        for (int64_t c = 0; c < C; ++c) s += (float)load(dtype, p.x.data(), r * C + c);
        const float m = s / (float)C;
        for (int64_t c = 0; c < C; ++c) {
          float x = (float)load(dtype, p.x.data(), r * C + c);
          sq += pass == 0 ? (x - m) * (x - m) : x * x;
        }
        float var = pass == 0 ? sq / (float)C : sq / (float)C - m * m;
        float rs = 1.0f / std::sqrt(var + (float)p.eps);
        for (int64_t c = 0; c < C; ++c) {
          float x = (float)load(dtype, p.x.data(), r * C + c);
          store(dtype, y1.data(), r * C + c,
                (x - m) * rs * (float)load(p.pdtype, p.gamma.data(), c) + (float)load(p.pdtype, p.beta.data(), c));
        }
        store(p.sdtype, rs1.data(), r, rs);
      }
      bad += verdict(pass == 0 ? "float32 two-pass kernel" : "float32 one-pass E[x^2]-E[x]^2 kernel",
                     check_forward(p, y1.data(), nullptr, rs1.data()), pass == 0);
    }
    std::vector<unsigned char> yn = y;
    for (int64_t c = 0; c < C; ++c) store(dtype, yn.data(), 5 * C + c, NAN);
    bad += verdict("row 5 left unwritten (NaN poison)", check_forward(p, yn.data(), nullptr, nullptr), false);

    std::vector<unsigned char> dx(p.xbytes()), dx2(p.xbytes()), dg(p.pbytes()), db(p.pbytes()), dg2(p.pbytes());
    for (int64_t r = 0; r < R; ++r) {
      const double m = load(p.sdtype, p.mean.data(), r), rs = load(p.sdtype, p.rstd.data(), r);
      double c2 = 0;
      for (int64_t c = 0; c < C; ++c)
        c2 += load(p.pdtype, p.gamma.data(), c) * load(dtype, p.dy.data(), r * C + c) *
              (load(dtype, p.x.data(), r * C + c) - m) * rs;
      c2 /= (double)C;
      for (int64_t c = 0; c < C; ++c) {
        store(dtype, dx.data(), r * C + c, p.ref_dx[r * C + c]);
        const double xhat = (load(dtype, p.x.data(), r * C + c) - m) * rs;
        store(dtype, dx2.data(), r * C + c, p.ref_dx[r * C + c] + rs * xhat * c2);  // xhat*c2 dropped
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      store(p.pdtype, dg.data(), c, p.ref_dgamma[c]);
      store(p.pdtype, db.data(), c, p.ref_dbeta[c]);
      const double m = load(p.sdtype, p.mean.data(), 0), rs = load(p.sdtype, p.rstd.data(), 0);
      store(p.pdtype, dg2.data(), c,
            p.ref_dgamma[c] - load(dtype, p.dy.data(), c) * (load(dtype, p.x.data(), c) - m) * rs);  // row 0 missing
    }
    bad += verdict("backward reference rounded to the storage dtypes", check_backward(p, dx.data(), dg.data(), db.data()), true);
    bad += verdict("dx without the xhat*c2 term", check_backward(p, dx2.data(), nullptr, nullptr), false);
    bad += verdict("dgamma missing row 0", check_backward(p, dx.data(), dg2.data(), nullptr), false);
  }
  // The cold regime's arena (cold_arena_bytes): between two uses of a set the other sets move at least 2 x the LLC.
  {
    const size_t M = (size_t)1 << 20, llc = 32 * M;
    struct Case {
      size_t auto_bytes, set, moved;
    } cases[] = {{64 * M, 97 * M, 32 * M}, {64 * M, 97 * M, 48 * M}, {64 * M, 74112, 6144}, {1024 * M, 2 * M, M}};
    for (const Case& c : cases) {
      const size_t bytes = cold_arena_bytes(c.auto_bytes, llc, c.set, c.moved), sets = bytes / c.set;
      const bool cold = sets >= 2 && (sets - 1) * c.moved >= 2 * llc && bytes >= c.auto_bytes;
      std::printf("  cold arena, LLC 32 MiB, sets of %zu bytes moving %zu: %zu sets %s\n", c.set, c.moved, sets,
                  cold ? "as it should" : "<-- not cold");
      bad += cold ? 0 : 1;
    }
  }
  // A shape whose ceiling moved by more than kDriftLimit between its two timings is timed again (time_shape): the
  // attempt that moved least is kept, and each of its results carries that drift; earlier shapes stay as they were.
  {
    auto fake_shape = [](std::vector<Result>& out, double drift) {
      Result c{}, k{};
      c.impl = "ceiling";
      c.ceiling_drift = drift;
      k.impl = "ln4j-avx2";
      out.push_back(c);
      out.push_back(k);
    };
    struct Case {
      double drifts[4];
      int attempts;
      double kept;
    } cases[] = {{{0.05, 0.9, 0.9, 0.9}, 1, 0.05}, {{0.5, 0.3, 0.1, 0.0}, 3, 0.1}, {{0.4, 0.3, 0.5, 0.6}, 4, 0.3}};
    for (const Case& c : cases) {
      std::vector<Result> out(1);  // an earlier shape's result
      out[0].impl = "earlier";
      int n = 0;
      const int attempts = time_shape(out, 3, [&] { fake_shape(out, c.drifts[n++]); });
      const bool ok = attempts == c.attempts && out.size() == 3 && out[0].impl == "earlier" &&
                      out[0].ceiling_drift == 0 && out[1].ceiling_drift == c.kept && out[2].ceiling_drift == c.kept;
      std::printf("  ceiling moved %.0f%% then %.0f%%, %.0f%%, %.0f%%: %d attempt(s), kept the one that moved %.0f%%"
                  " %s\n", 100 * c.drifts[0], 100 * c.drifts[1], 100 * c.drifts[2], 100 * c.drifts[3], attempts,
                  100 * out[1].ceiling_drift, ok ? "as it should" : "<-- wrong");
      bad += ok ? 0 : 1;
    }
    Result kept{}, again{};  // keep_faster_ceiling: the faster timing, and how far the two were apart
    kept.gbps = 20;
    again.gbps = 25;
    keep_faster_ceiling(kept, again);
    const bool ok = kept.gbps == 25 && std::fabs(kept.ceiling_drift - 0.2) < 1e-12;
    std::printf("  ceiling timed at 20 then 25 GB/s: kept %.0f GB/s, moved %.0f%% %s\n", kept.gbps,
                100 * kept.ceiling_drift, ok ? "as it should" : "<-- wrong");
    bad += ok ? 0 : 1;
  }
  std::printf(bad ? "self-test FAILED: %d wrong verdict(s)\n" : "self-test passed\n", bad);
  return bad ? 1 : 0;
}

}  // namespace bench

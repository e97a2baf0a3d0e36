// ln4j_reference_selftest: checks of the judge itself (ctest), so that a wrong codec or a wrong row reference in
// the reference library cannot make every kernel test agree with it:
//  * every FLOAT16 and BFLOAT16 bit pattern decodes and encodes back to itself (NaN stays NaN);
//  * midpoints between neighbouring values round to the even one, and values just off a midpoint to the nearer;
//  * the FLOAT16 overflow threshold (65520 rounds up to infinity, anything below to 65504);
//  * the row statistics and the backward's c1, c2 on rows with closed-form answers;
//  * the constants of both tolerance models.
#include <cmath>
#include <cstdio>
#include <cstdint>

#include "ln4j_reference.h"

namespace {

int failures = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      ++failures;                                          \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
      std::printf(__VA_ARGS__);                            \
      std::printf("\n");                                   \
    }                                                      \
  } while (0)

namespace ref = ln4j::ref;

bool near(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fabs(b); }

void codecs(bool half) {
  const char* name = half ? "float16" : "bfloat16";
  auto dec = [&](uint32_t h) { return half ? ref::f16_to_double(uint16_t(h)) : ref::bf16_to_double(uint16_t(h)); };
  auto enc = [&](double v) { return half ? ref::double_to_f16(v) : ref::double_to_bf16(v); };
  const uint32_t inf = half ? 0x7c00 : 0x7f80;
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const double v = dec(h);
    if ((h & 0x7fff) > inf) {
      if (!std::isnan(v) || !std::isnan(dec(enc(v)))) ++bad;
      continue;
    }
    if (enc(v) != h && bad++ < 3) std::printf("%s 0x%04x -> %.17g -> 0x%04x\n", name, h, v, enc(v));
  }
  CHECK(bad == 0, "%s: %d bit patterns do not survive decode + encode", name, bad);
  bad = 0;
  for (uint32_t h = 0; h + 1 < inf; ++h) {  // positive finite neighbours h, h + 1
    const double a = dec(h), b = dec(h + 1), mid = 0.5 * (a + b);
    const uint32_t even = (h & 1) ? h + 1 : h;
    const double off = (b - a) * 0x1p-8;
    if (enc(mid) != even || enc(mid - off) != h || enc(mid + off) != h + 1 || enc(-mid) != (even | 0x8000)) {
      if (bad++ < 3) std::printf("%s: rounding between 0x%04x and 0x%04x\n", name, h, h + 1);
    }
  }
  CHECK(bad == 0, "%s: %d neighbour pairs round wrongly", name, bad);
}

void overflow() {
  CHECK(ref::double_to_f16(65520.0) == 0x7c00 && ref::double_to_f16(-65520.0) == 0xfc00,
        "float16: 65520 must round to infinity");
  CHECK(ref::double_to_f16(65519.99) == 0x7bff && ref::double_to_f16(1e300) == 0x7c00, "float16: below 65520");
  CHECK(ref::double_to_bf16(1e300) == 0x7f80 && ref::double_to_bf16(-1e300) == 0xff80, "bfloat16: overflow");
  CHECK(std::isnan(ref::f16_to_double(ref::double_to_f16(NAN))) && std::isnan(ref::bf16_to_double(ref::double_to_bf16(NAN))),
        "NaN must stay NaN");
}

void rows_and_models() {
  const double eps = 1e-5;
  const double two[] = {1.0, 3.0};  // mean 2, var 1
  ref::RowStats s = ref::row_stats(two, 2, false, eps);
  CHECK(s.mean == 2.0L && s.sd == 1.0 && near(double(s.rstd), 1.0 / std::sqrt(1.0 + eps), 1e-15) &&
            s.mean_abs == 2.0,
        "row_stats {1, 3}: mean %g sd %g rstd %.17g mean|x| %g", double(s.mean), s.sd, double(s.rstd), s.mean_abs);
  const double rms[] = {3.0, -4.0};  // mean(x^2) = 12.5
  s = ref::row_stats(rms, 2, true, eps);
  CHECK(s.mean == 0.0L && near(double(s.rstd), 1.0 / std::sqrt(12.5 + eps), 1e-15), "row_stats RMS {3, -4}: rstd %.17g",
        double(s.rstd));
  const double big[] = {1e8 + 1, 1e8 - 1, 1e8 + 1, 1e8 - 1};  // off-centre: var 1 exactly
  s = ref::row_stats(big, 4, false, 0.0);
  CHECK(s.mean == 1e8L && s.sd == 1.0 && double(s.rstd) == 1.0, "row_stats off-centre: mean %.17g sd %.17g",
        double(s.mean), s.sd);
  const long double xhat[] = {-1.0L, 1.0L}, gdy[] = {2.0L, 4.0L};
  const double delta[] = {0.5, 0.25};
  const ref::RowGrad g = ref::row_grad(xhat, gdy, delta, 2, false);
  CHECK(g.c1 == 3.0L && g.c2 == 1.0L && g.mean_abs_gdy == 3.0 && g.mean_abs_gdy_xhat == 3.0 &&
            g.mean_abs_gdy_delta == 1.0,
        "row_grad: c1 %g c2 %g", double(g.c1), double(g.c2));
  const ref::RowGrad gr = ref::row_grad(xhat, gdy, nullptr, 2, true);
  CHECK(gr.c1 == 0.0L && gr.c2 == 1.0L && gr.mean_abs_gdy_delta == 0.0, "row_grad RMS: c1 %g", double(gr.c1));

  const double u = 0x1p-24;
  CHECK(ref::unit_roundoff(LN4J_FLOAT32) == u && ref::unit_roundoff(LN4J_FLOAT64) == 0x1p-53 &&
            ref::unit_roundoff(LN4J_BFLOAT16) == 0x1p-8 && ref::unit_roundoff(LN4J_FLOAT16) == 0x1p-11,
        "unit roundoffs");
  CHECK(ref::blocked_sum_growth(4096, 16, 1024, u) == (64 + 4 + 2) * u + 4 * 0x1p-53, "blocked growth %.17g",
        ref::blocked_sum_growth(4096, 16, 1024, u));
  CHECK(ref::random_walk_sum_growth(255, u) == 4.0 * (std::sqrt(255.0) + 8.0 + 4.0) * u, "random-walk growth");
  const ref::Tolerance k = ref::known_order_tolerance(LN4J_BFLOAT16, LN4J_FLOAT32, 5 * u, 10);
  CHECK(k.u == u && k.uo == 0x1p-8 && k.up == u && k.g == 5 * u && k.gc == 14 * u && k.ky == 2 && k.kdx == 3 &&
            k.kout == 1 && k.kc2 == 4 && k.second_order && k.sub == 0 && k.sub_param == 0,
        "known-order constants");
  const ref::Tolerance kh = ref::known_order_tolerance(LN4J_FLOAT16, LN4J_FLOAT16, u, 1);
  CHECK(kh.sub == 0x1p-25 && kh.sub_param == 0x1p-25, "float16 floors");
  const ref::Tolerance w = ref::unknown_order_tolerance(LN4J_FLOAT64, LN4J_FLOAT64, 768, 3);
  CHECK(w.u == 0x1p-53 && w.g == ref::random_walk_sum_growth(768, 0x1p-53) &&
            w.gc == ref::random_walk_sum_growth(3, 0x1p-53) && w.ky == 4 && w.kdx == 4 && w.kout == 4 && w.kc2 == 0 &&
            !w.second_order && w.sub == 0,
        "unknown-order constants");
  // y of a row with exact statistics: the tolerance is the finish's rounding plus the output's.
  const ref::StatsError exact{0, 0, 0};
  CHECK(k.tol_y(exact, 1.0, 2.0, 0.5, 2.5) == 2 * u * 2.5 + 0x1p-8 * 2.5, "tol_y with exact statistics");
  const ref::CudaTolerance c = ref::cuda_tolerance(LN4J_FLOAT32, LN4J_FLOAT32, 100);
  CHECK(c.k == 36.0 && c.uA == u, "CUDA model: k %g", c.k);
}

}  // namespace

int main() {
  codecs(true);
  codecs(false);
  overflow();
  rows_and_models();
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "reference library self-test passed", failures);
  return failures ? 1 : 0;
}

#include "ln4j_reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ln4j::ref {

int dtype_bytes(int32_t d) { return d == LN4J_FLOAT64 ? 8 : d == LN4J_FLOAT32 ? 4 : 2; }

double unit_roundoff(int32_t d) {
  switch (d) {
    case LN4J_FLOAT64: return std::ldexp(1.0, -53);
    case LN4J_FLOAT32: return std::ldexp(1.0, -24);
    case LN4J_BFLOAT16: return std::ldexp(1.0, -8);
    default: return std::ldexp(1.0, -11);
  }
}

int32_t acc_dtype(int32_t x_dtype) { return x_dtype == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32; }

double subnormal_floor(int32_t d) { return d == LN4J_FLOAT16 ? std::ldexp(1.0, -25) : 0.0; }

double f16_to_double(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 31) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp(double(m), -24);
  else v = std::ldexp(1024.0 + m, e - 25);
  return s ? -v : v;
}

double bf16_to_double(uint16_t h) {
  const uint32_t b = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Nearest half (ties to even), straight from the double (no rounding through float on the way).
uint16_t double_to_f16(double v) {
  const uint16_t s = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return uint16_t(s | 0x7e00);
  const double a = std::fabs(v);
  if (a == 0) return s;
  if (std::isinf(a) || a >= 65520.0) return uint16_t(s | 0x7c00);  // 65520 is halfway to 2^16: rounds up
  if (a < std::ldexp(1.0, -14)) return uint16_t(s | int(std::nearbyint(std::ldexp(a, 24))));  // subnormal
  int e;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  double q = std::nearbyint(m * 2048.0);
  if (q == 2048.0) {
    q = 1024.0;
    ++e;
  }
  const int E = e - 1 + 15;
  if (E > 30) return uint16_t(s | 0x7c00);
  return uint16_t(s | (E << 10) | (int(q) - 1024));
}

// Nearest bfloat16 (ties to even), straight from the double.
uint16_t double_to_bf16(double v) {
  if (std::isnan(v)) return std::signbit(v) ? 0xffc0 : 0x7fc0;
  const uint16_t s = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(v);
  if (a == 0) return s;
  if (std::isinf(a)) return uint16_t(s | 0x7f80);
  int e;
  const double m = std::frexp(a, &e);  // a = m * 2^e
  if (e < -125) {                      // subnormal bfloat16: units of 2^-133
    return uint16_t(s | int(std::nearbyint(std::ldexp(a, 133))));
  }
  double q = std::nearbyint(m * 256.0);  // 8 significant bits
  if (q == 256.0) {
    q = 128.0;
    ++e;
  }
  const int E = e - 1 + 127;
  if (E > 254) return uint16_t(s | 0x7f80);
  return uint16_t(s | (E << 7) | (int(q) - 128));
}

double load(int32_t dtype, const void* p, int64_t i) {
  switch (dtype) {
    case LN4J_FLOAT64: return static_cast<const double*>(p)[i];
    case LN4J_FLOAT32: return static_cast<const float*>(p)[i];
    case LN4J_BFLOAT16: return bf16_to_double(static_cast<const uint16_t*>(p)[i]);
    default: return f16_to_double(static_cast<const uint16_t*>(p)[i]);
  }
}

void store(int32_t dtype, void* p, int64_t i, double v) {
  switch (dtype) {
    case LN4J_FLOAT64: static_cast<double*>(p)[i] = v; break;
    case LN4J_FLOAT32: static_cast<float*>(p)[i] = float(v); break;
    case LN4J_BFLOAT16: static_cast<uint16_t*>(p)[i] = double_to_bf16(v); break;
    default: static_cast<uint16_t*>(p)[i] = double_to_f16(v); break;
  }
}

RowStats row_stats(const double* s, int64_t n, bool rms, double eps) {
  long double sum = 0, sum_abs = 0;
  for (int64_t j = 0; j < n; ++j) {
    sum += s[j];
    sum_abs += std::fabs(s[j]);
  }
  const long double mean = rms ? 0.0L : sum / n;
  long double v = 0;
  for (int64_t j = 0; j < n; ++j) {
    const long double t = s[j] - mean;
    v += t * t;
  }
  v /= n;
  RowStats r;
  r.mean = mean;
  r.rstd = 1.0L / std::sqrt(v + eps);
  r.sd = double(std::sqrt(v));
  r.mean_abs = double(sum_abs / n);
  return r;
}

RowGrad row_grad(const long double* xhat, const long double* gdy, const double* delta, int64_t n, bool rms) {
  long double s1 = 0, s2 = 0;
  double a1 = 0, a2 = 0, ad = 0;
  for (int64_t j = 0; j < n; ++j) {
    s1 += gdy[j];
    s2 += gdy[j] * xhat[j];
    a1 += double(std::fabs(gdy[j]));
    a2 += double(std::fabs(gdy[j] * xhat[j]));
    if (delta) ad += double(std::fabs(gdy[j])) * delta[j];
  }
  RowGrad r;
  r.c1 = rms ? 0.0L : s1 / n;
  r.c2 = s2 / n;
  r.mean_abs_gdy = a1 / double(n);
  r.mean_abs_gdy_xhat = a2 / double(n);
  r.mean_abs_gdy_delta = ad / double(n);
  return r;
}

double blocked_sum_growth(int64_t n, int lanes, int64_t block, double u) {
  const int64_t b = n < block ? n : block, nblocks = (n + block - 1) / block;
  return (double((b + lanes - 1) / lanes) + std::log2(double(lanes)) + 2) * u +
         double(nblocks) * unit_roundoff(LN4J_FLOAT64);
}

double random_walk_sum_growth(int64_t n, double u) {
  return 4.0 * (std::sqrt(double(n)) + std::log2(double(n) + 1) + 4.0) * u;
}

StatsError shifted_stats_error(double g, double u, const RowStats& s) {
  const double mean = std::fabs(double(s.mean)), rstd = double(s.rstd);
  return {g / 2 + 6 * u, u * mean * rstd + g, u * mean + g * s.sd};
}

StatsError unshifted_stats_error(double g, double u, const RowStats& s) {
  const double rstd = double(s.rstd);
  return {g + 4 * u, g * s.mean_abs * rstd, g * s.mean_abs};
}

double Tolerance::tol_y(const StatsError& e, double xhat, double geff, double beta, double ref,
                        double extra_abs) const {
  const double dxh = std::fabs(xhat) * e.rel + e.abs + extra_abs;
  return std::fabs(geff) * dxh + ky * u * (std::fabs(xhat * geff) + std::fabs(beta)) + uo * std::fabs(ref) + sub;
}

double Tolerance::tol_dx(const RowGrad& r, double rstd, bool rms, double xhat, double gdy, double ref, double dres,
                         double delta) const {
  const double c1 = double(r.c1), c2 = double(r.c2);
  const double dc1 = rms ? 0.0 : g * r.mean_abs_gdy;
  const double dc2 = (g + kc2 * u) * r.mean_abs_gdy_xhat + r.mean_abs_gdy_delta;
  const double full = ref + dres;
  return rstd * (dc1 + std::fabs(xhat) * dc2 + kdx * u * (std::fabs(gdy) + std::fabs(c1) + std::fabs(xhat * c2)) +
                 (std::fabs(c2) + (second_order ? dc2 : 0.0)) * delta) +
         (uo + kout * u) * std::fabs(full) + u * std::fabs(dres) + sub;
}

double Tolerance::tol_column_sum(double sum_abs, double ref, double sum_delta) const {
  return gc * sum_abs + up * std::fabs(ref) + sub_param + sum_delta;
}

Tolerance known_order_tolerance(int32_t x_dtype, int32_t param_dtype, double g, int64_t rows) {
  Tolerance t;
  t.u = unit_roundoff(acc_dtype(x_dtype));
  t.uo = unit_roundoff(x_dtype);
  t.up = unit_roundoff(param_dtype);
  t.g = g;
  t.gc = double(rows + 4) * t.u;
  t.ky = 2;
  t.kdx = 3;
  t.kout = 1;
  t.kc2 = 4;
  t.second_order = true;
  t.sub = subnormal_floor(x_dtype);
  t.sub_param = subnormal_floor(param_dtype);
  return t;
}

Tolerance unknown_order_tolerance(int32_t x_dtype, int32_t param_dtype, int64_t cols, int64_t rows) {
  Tolerance t;
  t.u = unit_roundoff(acc_dtype(x_dtype));
  t.uo = unit_roundoff(x_dtype);
  t.up = unit_roundoff(param_dtype);
  t.g = random_walk_sum_growth(cols, t.u);
  t.gc = random_walk_sum_growth(rows, t.u);
  t.ky = 4;
  t.kdx = 4;
  t.kout = 4;
  t.kc2 = 0;
  t.second_order = false;
  t.sub = 0;
  t.sub_param = 0;
  return t;
}

CudaTolerance cuda_tolerance(int32_t x_dtype, int32_t param_dtype, int64_t cols) {
  CudaTolerance t;
  t.uT = unit_roundoff(x_dtype);
  t.uP = unit_roundoff(param_dtype);
  t.uA = unit_roundoff(acc_dtype(x_dtype));
  t.k = 16.0 + 2.0 * std::sqrt(double(cols));
  return t;
}

double CudaTolerance::stats_error(const RowStats& st, bool rms) const {
  const double m = double(st.mean);
  return k * uA * (1.0 + (rms ? 0.0 : std::fabs(m) / std::max(st.sd, 1e-30)));
}

double CudaTolerance::tol_mean(double es, const RowStats& st) const {
  return es * st.sd + uA * std::fabs(double(st.mean));
}

double CudaTolerance::tol_residual_out(double s) const { return (uT + 2 * uA) * std::fabs(s); }

double CudaTolerance::tol_y(double es, double ref, double geff, double xhat, double beta) const {
  return uT * std::fabs(ref) + es * std::fabs(geff) * (1.0 + std::fabs(xhat)) + 4 * uA * std::fabs(beta);
}

double CudaTolerance::tol_dx(double es, double rstd, const RowGrad& r, double ref, double gdy, double xhat,
                             double dres) const {
  const double c1 = double(r.c1), c2 = double(r.c2);
  const double A1 = r.mean_abs_gdy, A2 = r.mean_abs_gdy + r.mean_abs_gdy_xhat;
  const double inner = std::fabs(gdy) + std::fabs(c1) + std::fabs(xhat) * std::fabs(c2);
  const double e2 = es + k * uA;
  return uT * std::fabs(ref) + 2 * rstd * (es * inner + e2 * (A1 + (1.0 + std::fabs(xhat)) * (A2 + std::fabs(c2)))) +
         2 * uA * std::fabs(dres);
}

double CudaTolerance::tol_column_sum(int64_t rows, double ref, double sum_abs, double sum_es) const {
  return uP * std::fabs(ref) + (8.0 + double(rows)) * uA * sum_abs + 2.0 * sum_es;
}

double CudaTolerance::tol_dx_coarse(double es, double rstd, const RowGrad& r, double ref, double gdy,
                                    double xhat) const {
  const double c1 = double(r.c1), c2 = double(r.c2);
  return uT * std::fabs(ref) +
         4 * es * rstd * (std::fabs(gdy) + std::fabs(c1) + (1 + std::fabs(xhat)) * std::fabs(c2) + 1e-3);
}

double CudaTolerance::tol_column_sum_coarse(double es, double sum_abs) const {
  return (8192.0 + es / uA) * uA * sum_abs;
}

}  // namespace ln4j::ref

// The harness's judge: dtype conversions, off-centre random inputs, the float64 reference of layer norm
// forward and backward, and tolerances derived from rounding (README "Validation").
//
//   mean = sum(x)/C, var = sum((x-mean)^2)/C, rstd = 1/sqrt(var+eps), xhat = (x-mean)*rstd, y = xhat*g + b
//   dx = rstd*(g*dy - c1 - xhat*c2), c1 = mean(g*dy), c2 = mean(g*dy*xhat)
//   dgamma = sum over rows of dy*xhat, dbeta = sum over rows of dy
#include <algorithm>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "bench.h"

namespace bench {

// ---- dtypes ---------------------------------------------------------------------------------------------
static uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                            // round to nearest even
  return (uint16_t)(u >> 16);
}
static float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00 : 0x7c00);
  if (x >= 0x477ff000u) return sign | 0x7c00;  // rounds to infinity
  if (x < 0x38800000u) {                       // below 2^-14: subnormal half (or zero)
    float a;
    std::memcpy(&a, &x, 4);
    return sign | (uint16_t)std::nearbyint(a * 16777216.0f);  // units of 2^-24, ties to even
  }
  uint32_t h = ((((x >> 23) - 127 + 15)) << 10) | ((x & 0x7fffffu) >> 13);
  uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return sign | (uint16_t)h;
}
static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  float f;
  if (e == 0) {
    f = std::ldexp((float)m, -24);
    return sign ? -f : f;
  }
  uint32_t u = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e - 15 + 127) << 23) | (m << 13));
  std::memcpy(&f, &u, 4);
  return f;
}

double unit_roundoff(int32_t dtype) {
  switch (dtype) {
    case LN4J_FLOAT64: return std::ldexp(1.0, -53);
    case LN4J_BFLOAT16: return std::ldexp(1.0, -8);
    case LN4J_FLOAT16: return std::ldexp(1.0, -11);
    default: return std::ldexp(1.0, -24);
  }
}
const char* dtype_label(int32_t dtype) {
  switch (dtype) {
    case LN4J_FLOAT32: return "float32";
    case LN4J_FLOAT64: return "float64";
    case LN4J_BFLOAT16: return "bfloat16";
    case LN4J_FLOAT16: return "float16";
    default: return "unknown";
  }
}
int32_t param_dtype_for(int32_t x_dtype) {
  return (x_dtype == LN4J_FLOAT32 || x_dtype == LN4J_FLOAT64) ? x_dtype : LN4J_FLOAT32;
}
double load(int32_t dtype, const void* p, int64_t i) {
  switch (dtype) {
    case LN4J_FLOAT64: return ((const double*)p)[i];
    case LN4J_BFLOAT16: return bf16_to_f32(((const uint16_t*)p)[i]);
    case LN4J_FLOAT16: return f16_to_f32(((const uint16_t*)p)[i]);
    default: return ((const float*)p)[i];
  }
}
void store(int32_t dtype, void* p, int64_t i, double v) {
  switch (dtype) {
    case LN4J_FLOAT64: ((double*)p)[i] = v; break;
    case LN4J_BFLOAT16: ((uint16_t*)p)[i] = f32_to_bf16((float)v); break;
    case LN4J_FLOAT16: ((uint16_t*)p)[i] = f32_to_f16((float)v); break;
    default: ((float*)p)[i] = (float)v; break;
  }
}

size_t Problem::xbytes() const { return (size_t)(rows * cols) * (size_t)ln4j_dtype_size(dtype); }
size_t Problem::sbytes() const { return (size_t)rows * (size_t)ln4j_dtype_size(sdtype); }
size_t Problem::pbytes() const { return (size_t)cols * (size_t)ln4j_dtype_size(pdtype); }

double forward_bytes(const Problem& p) {
  return 2.0 * (double)p.xbytes() + 2.0 * (double)p.sbytes() + 2.0 * (double)p.pbytes();
}
double backward_bytes(const Problem& p) {
  // read x, dy; write dx; read mean, rstd; read gamma; write dgamma, dbeta
  return 3.0 * (double)p.xbytes() + 2.0 * (double)p.sbytes() + 3.0 * (double)p.pbytes();
}

// Rounding-error growth of an n-term sum, as a multiple of the unit roundoff: 4 standard deviations of a
// random rounding walk (sqrt(n)) plus a pairwise/blocked term (log2 n) plus a few roundings of the finish.
static double growth(int64_t n) { return 4.0 * (std::sqrt((double)n) + std::log2((double)n + 1) + 4.0); }

// ---- the problem: inputs and reference ------------------------------------------------------------------
void make_problem(Problem& p, int32_t dtype, int64_t rows, int64_t cols, uint64_t seed) {
  p.dtype = dtype;
  p.pdtype = param_dtype_for(dtype);
  p.sdtype = ln4j_stats_dtype(dtype);
  p.rows = rows;
  p.cols = cols;
  p.eps = 1e-5;
  const int64_t n = rows * cols, C = cols, R = rows;
  p.x.assign(p.xbytes(), 0);
  p.dy.assign(p.xbytes(), 0);
  p.gamma.assign(p.pbytes(), 0);
  p.beta.assign(p.pbytes(), 0);
  p.mean.assign(p.sbytes(), 0);
  p.rstd.assign(p.sbytes(), 0);

  // Off-centre data: each row has its own offset (2..6) and spread (0.5..2), so a one-pass E[x^2]-E[x]^2
  // variance loses digits and shows up as WRONG.
  std::mt19937_64 rng(seed ^ (uint64_t)(rows * 1000003 + cols));
  std::uniform_real_distribution<double> U(-1.0, 1.0);
  for (int64_t r = 0; r < R; ++r) {
    double off = 4.0 + 2.0 * U(rng), spread = 1.25 + 0.75 * U(rng);
    for (int64_t c = 0; c < C; ++c) {
      store(dtype, p.x.data(), r * C + c, off + spread * U(rng));
      store(dtype, p.dy.data(), r * C + c, U(rng));
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    store(p.pdtype, p.gamma.data(), c, 1.0 + 0.25 * U(rng));
    store(p.pdtype, p.beta.data(), c, 0.25 * U(rng));
  }

  const double u = unit_roundoff(dtype == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32);  // accumulation
  const double uo = unit_roundoff(dtype), up = unit_roundoff(p.pdtype), us = unit_roundoff(p.sdtype);
  const double kC = growth(C), kR = growth(R);
  p.ref_y.assign(n, 0);
  p.tol_y.assign(n, 0);
  p.ref_mean.assign(R, 0);
  p.ref_rstd.assign(R, 0);
  p.tol_mean.assign(R, 0);
  p.ref_dx.assign(n, 0);
  p.tol_dx.assign(n, 0);
  p.ref_dgamma.assign(C, 0);
  p.ref_dbeta.assign(C, 0);
  p.tol_dgamma.assign(C, 0);
  p.tol_dbeta.assign(C, 0);
  p.tol_rstd_rel = kC * u + 4 * u + us;
  std::vector<double> g(C), b(C), sum_abs_dyxh(C, 0), sum_abs_dy(C, 0), sum_dy_dxh(C, 0), xs(C);

  for (int64_t c = 0; c < C; ++c) {
    g[c] = load(p.pdtype, p.gamma.data(), c);
    b[c] = load(p.pdtype, p.beta.data(), c);
  }
  for (int64_t r = 0; r < R; ++r) {
    // forward
    double sum = 0, mabs = 0;
    for (int64_t c = 0; c < C; ++c) {
      xs[c] = load(dtype, p.x.data(), r * C + c);
      sum += xs[c];
      mabs += std::fabs(xs[c]);
    }
    const double mean = sum / (double)C;
    mabs /= (double)C;
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += (xs[c] - mean) * (xs[c] - mean);
    const double rstd = 1.0 / std::sqrt(sq / (double)C + p.eps);
    p.ref_mean[r] = mean;
    p.ref_rstd[r] = rstd;
    const double dmean = kC * u * mabs, drel = kC * u + 4 * u;
    p.tol_mean[r] = dmean + us * std::fabs(mean);
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (xs[c] - mean) * rstd, y = xhat * g[c] + b[c];
      p.ref_y[r * C + c] = y;
      p.tol_y[r * C + c] = uo * std::fabs(y) + std::fabs(g[c]) * rstd * (dmean + std::fabs(xs[c] - mean) * drel) +
                           4 * u * (std::fabs(xhat * g[c]) + std::fabs(b[c]));
    }
    // backward, from the statistics as every implementation receives them (rounded to the stats dtype)
    store(p.sdtype, p.mean.data(), r, mean);
    store(p.sdtype, p.rstd.data(), r, rstd);
    const double m = load(p.sdtype, p.mean.data(), r), rs = load(p.sdtype, p.rstd.data(), r);
    double c1 = 0, c2 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double dy = load(dtype, p.dy.data(), r * C + c), xhat = (xs[c] - m) * rs, gdy = g[c] * dy;
      const double dxh = 4 * u * (std::fabs(xhat) + std::fabs(m) * rs);
      c1 += gdy;
      c2 += gdy * xhat;
      a1 += std::fabs(gdy);
      a2 += std::fabs(gdy * xhat);
      a3 += std::fabs(gdy) * dxh;
      p.ref_dgamma[c] += dy * xhat;
      p.ref_dbeta[c] += dy;
      sum_abs_dyxh[c] += std::fabs(dy * xhat);
      sum_abs_dy[c] += std::fabs(dy);
      sum_dy_dxh[c] += std::fabs(dy) * dxh;
    }
    c1 /= (double)C;
    c2 /= (double)C;
    const double dc1 = kC * u * a1 / (double)C, dc2 = kC * u * a2 / (double)C + a3 / (double)C;
    for (int64_t c = 0; c < C; ++c) {
      const double dy = load(dtype, p.dy.data(), r * C + c), xhat = (xs[c] - m) * rs, gdy = g[c] * dy;
      const double dxh = 4 * u * (std::fabs(xhat) + std::fabs(m) * rs);
      const double dx = rs * (gdy - c1 - xhat * c2);
      p.ref_dx[r * C + c] = dx;
      p.tol_dx[r * C + c] = (uo + 4 * u) * std::fabs(dx) +
                            rs * (dc1 + std::fabs(xhat) * dc2 + std::fabs(c2) * dxh +
                                  4 * u * (std::fabs(gdy) + std::fabs(c1) + std::fabs(xhat * c2)));
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    p.tol_dgamma[c] = up * std::fabs(p.ref_dgamma[c]) + kR * u * sum_abs_dyxh[c] + sum_dy_dxh[c];
    p.tol_dbeta[c] = up * std::fabs(p.ref_dbeta[c]) + kR * u * sum_abs_dy[c];
  }
}

// ---- checks ---------------------------------------------------------------------------------------------
namespace {
struct Acc {
  Check& k;
  void add(const char* name, int64_t i, int64_t cols, double got, double ref, double tol) {
    double err = std::fabs(got - ref);
    double ratio = std::isfinite(got) ? (tol > 0 ? err / tol : (err == 0 ? 0 : HUGE_VAL)) : HUGE_VAL;
    if (!std::isfinite(got)) err = HUGE_VAL;
    if (err > k.max_abs) k.max_abs = err;
    if (ratio > k.max_ratio) k.max_ratio = ratio;
    if (ratio > 1.0 && k.ok) {
      k.ok = false;
      char buf[160];
      if (cols > 0)
        std::snprintf(buf, sizeof buf, "%s[%lld,%lld]=%.9g ref %.9g tol %.3g", name, (long long)(i / cols),
                      (long long)(i % cols), got, ref, tol);
      else
        std::snprintf(buf, sizeof buf, "%s[%lld]=%.9g ref %.9g tol %.3g", name, (long long)i, got, ref, tol);
      k.where = buf;
    }
  }
};
}  // namespace

Check check_forward(const Problem& p, const void* y, const void* mean, const void* rstd, bool rstd_is_var) {
  Check k;
  Acc a{k};
  const int64_t n = p.rows * p.cols;
  for (int64_t i = 0; i < n; ++i) a.add("y", i, p.cols, load(p.dtype, y, i), p.ref_y[i], p.tol_y[i]);
  for (int64_t r = 0; r < p.rows; ++r) {
    if (mean) a.add("mean", r, 0, load(p.sdtype, mean, r), p.ref_mean[r],
                    p.tol_mean[r]);
    if (rstd) {
      double v = load(p.sdtype, rstd, r);
      if (rstd_is_var) v = 1.0 / std::sqrt(v + p.eps);
      a.add(rstd_is_var ? "var" : "rstd", r, 0, v, p.ref_rstd[r], p.tol_rstd_rel * p.ref_rstd[r]);
    }
  }
  return k;
}

Check check_backward(const Problem& p, const void* dx, const void* dgamma, const void* dbeta) {
  Check k;
  Acc a{k};
  const int64_t n = p.rows * p.cols;
  for (int64_t i = 0; i < n; ++i) a.add("dx", i, p.cols, load(p.dtype, dx, i), p.ref_dx[i], p.tol_dx[i]);
  for (int64_t c = 0; c < p.cols; ++c) {
    if (dgamma) a.add("dgamma", c, 0, load(p.pdtype, dgamma, c), p.ref_dgamma[c], p.tol_dgamma[c]);
    if (dbeta) a.add("dbeta", c, 0, load(p.pdtype, dbeta, c), p.ref_dbeta[c], p.tol_dbeta[c]);
  }
  return k;
}

// ---- timing helpers -------------------------------------------------------------------------------------
CpuClock cpu_clock_now() {
  CpuClock c;
  c.wall = now_s();
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    unsigned long long v[8] = {0};
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                    &v[7]) == 8)
      c.busy = (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);  // user nice system irq softirq steal
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    std::fclose(f);
    const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
    unsigned long long ut = 0, st = 0;
    // after ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
    if (p && std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
      c.self = (long long)(ut + st);
  }
  return c;
}

std::vector<std::pair<long, long long>> thread_ticks() {
  std::vector<std::pair<long, long long>> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string path = std::string("/proc/self/task/") + e->d_name + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) continue;
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    std::fclose(f);
    const char* p = std::strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p && std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
      out.push_back({std::atol(e->d_name), (long long)(ut + st)});
  }
  closedir(d);
  return out;
}

double others_cpus(const CpuClock& a, const CpuClock& b) {
  if (a.busy < 0 || b.busy < 0 || a.self < 0 || b.self < 0 || b.wall <= a.wall) return 0;
  static const long hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  const long long ticks = (b.busy - a.busy) - (b.self - a.self);
  if (ticks < 3) return 0;  // below the clock's resolution
  return (double)ticks / (double)hz / (b.wall - a.wall);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double quantile(const std::vector<double>& s, double q) {
  if (s.empty()) return 0;
  double pos = q * (double)(s.size() - 1);
  size_t lo = (size_t)pos;
  size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (pos - (double)lo) * (s[hi] - s[lo]);
}

Timing summarize(std::vector<double> s, int batch) {
  std::sort(s.begin(), s.end());
  Timing t;
  t.samples = (int)s.size();
  t.batch = batch;
  t.median_us = quantile(s, 0.5);
  t.p10_us = quantile(s, 0.1);
  t.p90_us = quantile(s, 0.9);
  return t;
}

const char* status_name(Status s) {
  switch (s) {
    case Status::OK: return "OK";
    case Status::WRONG: return "WRONG";
    case Status::UNSUPPORTED: return "UNSUPPORTED";
    case Status::VALIDATED: return "VALIDATED";
    default: return "ERROR";
  }
}

}  // namespace bench

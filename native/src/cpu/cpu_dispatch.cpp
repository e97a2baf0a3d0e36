// CPU backend (bootstrap version): ISA detection and a single-threaded scalar path for FLOAT32/FLOAT64
// layer norm. To be replaced by the ISA-specific, multi-threaded kernels.
#include <cmath>
#include <thread>

#include "../api/status.h"
#include "cpu_backend.h"

namespace ln4j::cpu {

int32_t isa_best() {
  static const int32_t best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return LN4J_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LN4J_ISA_AVX2;
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

const char* cpu_model() { return "unknown"; }

static int32_t g_default_threads = 0;
int32_t default_threads() {
  if (g_default_threads > 0) return g_default_threads;
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int32_t)n : 1;
}
int set_default_threads(int32_t threads) {
  g_default_threads = threads;
  return LN4J_OK;
}

template <class T>
static void forward_rows(const ForwardArgs& a) {
  const int64_t C = a.p.cols;
  const T* g = (const T*)a.gamma;
  const T* b = (const T*)a.beta;
  for (int64_t r = 0; r < a.p.rows; ++r) {
    const T* x = (const T*)a.x + r * C;
    T* y = (T*)a.y + r * C;
    T sum = 0;
    for (int64_t j = 0; j < C; ++j) sum += x[j];
    T mean = sum / (T)C;
    T sq = 0;
    for (int64_t j = 0; j < C; ++j) sq += (x[j] - mean) * (x[j] - mean);
    T rstd = (T)(1.0 / std::sqrt((double)(sq / (T)C) + a.p.eps));
    for (int64_t j = 0; j < C; ++j) {
      T v = (x[j] - mean) * rstd;
      if (g) v = v * g[j];
      if (b) v = v + b[j];
      y[j] = v;
    }
    if (a.mean) ((T*)a.mean)[r] = mean;
    if (a.rstd) ((T*)a.rstd)[r] = rstd;
  }
}

template <class T>
static void backward_rows(const BackwardArgs& a) {
  const int64_t C = a.p.cols;
  const T* g = (const T*)a.gamma;
  T* dg = (T*)a.dgamma;
  T* db = (T*)a.dbeta;
  for (int64_t j = 0; j < C; ++j) {
    if (dg) dg[j] = 0;
    if (db) db[j] = 0;
  }
  for (int64_t r = 0; r < a.p.rows; ++r) {
    const T* x = (const T*)a.x + r * C;
    const T* dy = (const T*)a.dy + r * C;
    T* dx = (T*)a.dx + r * C;
    T mean = ((const T*)a.mean)[r], rstd = ((const T*)a.rstd)[r];
    T s1 = 0, s2 = 0;
    for (int64_t j = 0; j < C; ++j) {
      T gdy = g ? g[j] * dy[j] : dy[j];
      T xhat = (x[j] - mean) * rstd;
      s1 += gdy;
      s2 += gdy * xhat;
      if (dg) dg[j] += dy[j] * xhat;
      if (db) db[j] += dy[j];
    }
    T c1 = s1 / (T)C, c2 = s2 / (T)C;
    for (int64_t j = 0; j < C; ++j) {
      T gdy = g ? g[j] * dy[j] : dy[j];
      T xhat = (x[j] - mean) * rstd;
      dx[j] = rstd * (gdy - c1 - xhat * c2);
    }
  }
}

static int unsupported(const NormProblem& p, bool residual, const char* fn) {
  if (p.norm != LN4J_NORM_LAYER || p.flags != 0 || residual)
    return fail(LN4J_ERR_UNSUPPORTED, "%s: RMSNorm, flags and residual are not implemented yet", fn);
  if (p.x_dtype != LN4J_FLOAT32 && p.x_dtype != LN4J_FLOAT64)
    return fail(LN4J_ERR_UNSUPPORTED, "%s: only FLOAT32 and FLOAT64 are implemented on the CPU", fn);
  return LN4J_OK;
}

int forward(int32_t, int32_t, const ForwardArgs& a) {
  if (int s = unsupported(a.p, a.residual != nullptr, "ln4j_cpu_forward")) return s;
  if (a.p.x_dtype == LN4J_FLOAT32) forward_rows<float>(a);
  else forward_rows<double>(a);
  return LN4J_OK;
}

int backward(int32_t, int32_t, const BackwardArgs& a) {
  if (int s = unsupported(a.p, a.dresidual_out != nullptr, "ln4j_cpu_backward")) return s;
  if (a.p.x_dtype == LN4J_FLOAT32) backward_rows<float>(a);
  else backward_rows<double>(a);
  return LN4J_OK;
}

}  // namespace ln4j::cpu

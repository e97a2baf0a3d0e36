#include "args.h"

#include <cmath>

#include "dtype_visit.h"

namespace ln4j {

const char* dtype_name(int32_t d) {
  switch (d) {
    case LN4J_FLOAT32: return "FLOAT32";
    case LN4J_FLOAT64: return "FLOAT64";
    case LN4J_BFLOAT16: return "BFLOAT16";
    case LN4J_FLOAT16: return "FLOAT16";
    default: return "unknown";
  }
}

int32_t dtype_size(int32_t d) {
  switch (d) {
    case LN4J_FLOAT32: return 4;
    case LN4J_FLOAT64: return 8;
    case LN4J_BFLOAT16:
    case LN4J_FLOAT16: return 2;
    default: return 0;
  }
}

int32_t stats_dtype(int32_t x_dtype) {
  if (dtype_size(x_dtype) == 0) return -1;
  return x_dtype == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32;
}

namespace {

// The fields forward and backward share (their structs start alike).
template <class Args>
int check_problem(const Args& p, double eps, const char* fn, bool forward) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (p.norm != LN4J_NORM_LAYER && p.norm != LN4J_NORM_RMS)
    return fail(E, "%s: norm must be LN4J_NORM_LAYER (0) or LN4J_NORM_RMS (1), got %d", fn, p.norm);
  const int32_t known = LN4J_FLAG_ZERO_CENTERED_GAMMA | LN4J_FLAG_BACKWARD_FROM_OUTPUT;
  if (p.flags & ~known) return fail(E, "%s: flags has unknown bits 0x%x", fn, p.flags & ~known);
  if (dtype_size(p.x_dtype) == 0) return fail(E, "%s: x_dtype must be 0..3, got %d", fn, p.x_dtype);
  if (dtype_size(p.param_dtype) == 0)
    return fail(E, "%s: param_dtype must be 0..3, got %d", fn, p.param_dtype);
  const bool param_ok = visit_dtypes(p.x_dtype, p.param_dtype, [](auto, auto) { return true; }, [] { return false; });
  if (!param_ok)
    return fail(E, "%s: param_dtype must be x_dtype (%s) or FLOAT32 for 16-bit data, got %s", fn,
                dtype_name(p.x_dtype), dtype_name(p.param_dtype));
  if (p.rows < 1) return fail(E, "%s: rows must be >= 1, got %lld", fn, (long long)p.rows);
  if (p.cols < 1) return fail(E, "%s: cols must be >= 1, got %lld", fn, (long long)p.cols);
  // Keep every byte offset representable: rows * cols * 8 must fit in int64.
  if (p.rows > (INT64_MAX / 8) / p.cols)
    return fail(E, "%s: rows * cols overflows (rows=%lld, cols=%lld)", fn, (long long)p.rows,
                (long long)p.cols);
  if (forward && !(eps > 0 && std::isfinite(eps)))
    return fail(E, "%s: eps must be finite and > 0, got %g", fn, eps);
  if (forward && (p.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT))
    return fail(E, "%s: LN4J_FLAG_BACKWARD_FROM_OUTPUT is a backward flag", fn);
  return LN4J_OK;
}

}  // namespace

int check_forward(const ForwardArgs& a, const char* fn) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (int s = check_problem(a, a.eps, fn, true)) return s;
  if (!a.x) return fail(E, "%s: x must not be NULL", fn);
  if (!a.y) return fail(E, "%s: y must not be NULL", fn);
  if (a.residual_out && !a.residual)
    return fail(E, "%s: residual_out given but residual is NULL", fn);
  if (a.norm == LN4J_NORM_RMS) {
    if (a.beta) return fail(E, "%s: RMSNorm has no beta, expected NULL", fn);
    if (a.mean) return fail(E, "%s: RMSNorm has no mean, expected NULL", fn);
  }
  if (a.beta && !a.gamma) return fail(E, "%s: beta given without gamma", fn);
  return LN4J_OK;
}

int check_backward(const ln4j_backward_args& a, const char* fn) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (int s = check_problem(a, 0.0, fn, false)) return s;
  const bool from_y = (a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  if (!a.dy) return fail(E, "%s: dy must not be NULL", fn);
  if (!a.x) return fail(E, "%s: %s must not be NULL", fn, from_y ? "y" : "x");
  if (!a.rstd) return fail(E, "%s: rstd must not be NULL", fn);
  if (!a.dx) return fail(E, "%s: dx must not be NULL", fn);
  if (a.norm == LN4J_NORM_LAYER && !from_y && !a.mean)
    return fail(E, "%s: mean must not be NULL", fn);
  if (a.norm == LN4J_NORM_RMS && (a.beta || a.dbeta))
    return fail(E, "%s: RMSNorm has no beta, expected beta and dbeta NULL", fn);
  if (a.dgamma && !a.gamma) return fail(E, "%s: dgamma given without gamma", fn);
  if (a.dbeta && !a.gamma) return fail(E, "%s: dbeta given without gamma", fn);
  return LN4J_OK;
}

int check_cpu_exec(const Exec& e, bool (*isa_supported)(int32_t), const char* (*isa_name)(int32_t),
                   int32_t isa_best, const char* fn) {
  if (e.device != LN4J_DEVICE_CPU)
    return fail(LN4J_ERR_INVALID_ARGUMENT,
                "%s: exec->device must be LN4J_DEVICE_CPU (-1), got %d (CUDA devices are served by ln4j_cuda_*)", fn,
                e.device);
  if (e.isa != LN4J_ISA_AUTO && e.isa != LN4J_ISA_SCALAR && e.isa != LN4J_ISA_AVX2 && e.isa != LN4J_ISA_AVX512)
    return fail(LN4J_ERR_INVALID_ARGUMENT,
                "%s: isa must be -1 (auto), 0 (scalar), 1 (avx2) or 2 (avx512), got %d", fn, e.isa);
  if (e.isa != LN4J_ISA_AUTO && !isa_supported(e.isa))
    return fail(LN4J_ERR_UNSUPPORTED, "%s: this CPU does not support isa %s (best: %s)", fn, isa_name(e.isa),
                isa_name(isa_best));
  if (e.threads < 0) return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: threads must be >= 0, got %d", fn, e.threads);
  return LN4J_OK;
}

int fail_zero_gamma(const char* fn, long long column, bool zero_centred) {
  return fail(LN4J_ERR_ZERO_GAMMA,
              "%s: the backward from y (LN4J_FLAG_BACKWARD_FROM_OUTPUT) cannot rebuild xhat where the applied "
              "gamma is 0: column %lld%s; use the backward from x",
              fn, column, zero_centred ? " (1 + gamma = 0)" : " (gamma = 0)");
}

}  // namespace ln4j

#include "args.h"

#include <cmath>

#include "../api/status.h"

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

int check_problem(const NormProblem& p, const char* fn, bool forward) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (p.norm != LN4J_NORM_LAYER && p.norm != LN4J_NORM_RMS)
    return fail(E, "%s: norm must be LN4J_NORM_LAYER (0) or LN4J_NORM_RMS (1), got %d", fn, p.norm);
  const int32_t known = LN4J_FLAG_ZERO_CENTERED_GAMMA | LN4J_FLAG_BACKWARD_FROM_OUTPUT;
  if (p.flags & ~known) return fail(E, "%s: flags has unknown bits 0x%x", fn, p.flags & ~known);
  if (dtype_size(p.x_dtype) == 0) return fail(E, "%s: x_dtype must be 0..3, got %d", fn, p.x_dtype);
  if (dtype_size(p.param_dtype) == 0)
    return fail(E, "%s: param_dtype must be 0..3, got %d", fn, p.param_dtype);
  bool param_ok = p.param_dtype == p.x_dtype ||
                  (p.param_dtype == LN4J_FLOAT32 &&
                   (p.x_dtype == LN4J_BFLOAT16 || p.x_dtype == LN4J_FLOAT16));
  if (!param_ok)
    return fail(E, "%s: param_dtype must be x_dtype (%s) or FLOAT32 for 16-bit data, got %s", fn,
                dtype_name(p.x_dtype), dtype_name(p.param_dtype));
  if (p.rows < 1) return fail(E, "%s: rows must be >= 1, got %lld", fn, (long long)p.rows);
  if (p.cols < 1) return fail(E, "%s: cols must be >= 1, got %lld", fn, (long long)p.cols);
  // Keep every byte offset representable: rows * cols * 8 must fit in int64.
  if (p.rows > (INT64_MAX / 8) / p.cols)
    return fail(E, "%s: rows * cols overflows (rows=%lld, cols=%lld)", fn, (long long)p.rows,
                (long long)p.cols);
  if (forward && !(p.eps > 0 && std::isfinite(p.eps)))
    return fail(E, "%s: eps must be finite and > 0, got %g", fn, p.eps);
  if (forward && (p.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT))
    return fail(E, "%s: LN4J_FLAG_BACKWARD_FROM_OUTPUT is a backward flag", fn);
  return LN4J_OK;
}

}  // namespace

int check_forward(const ForwardArgs& a, const char* fn) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (int s = check_problem(a.p, fn, true)) return s;
  if (!a.x) return fail(E, "%s: x must not be NULL", fn);
  if (!a.y) return fail(E, "%s: y must not be NULL", fn);
  if (a.residual_out && !a.residual)
    return fail(E, "%s: residual_out given but residual is NULL", fn);
  if (a.p.norm == LN4J_NORM_RMS) {
    if (a.beta) return fail(E, "%s: RMSNorm has no beta, expected NULL", fn);
    if (a.mean) return fail(E, "%s: RMSNorm has no mean, expected NULL", fn);
  }
  if (a.beta && !a.gamma) return fail(E, "%s: beta given without gamma", fn);
  return LN4J_OK;
}

int check_backward(const BackwardArgs& a, const char* fn) {
  const int E = LN4J_ERR_INVALID_ARGUMENT;
  if (int s = check_problem(a.p, fn, false)) return s;
  const bool from_y = (a.p.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  if (!a.dy) return fail(E, "%s: dy must not be NULL", fn);
  if (!a.x) return fail(E, "%s: %s must not be NULL", fn, from_y ? "y" : "x");
  if (!a.rstd) return fail(E, "%s: rstd must not be NULL", fn);
  if (!a.dx) return fail(E, "%s: dx must not be NULL", fn);
  if (a.p.norm == LN4J_NORM_LAYER && !from_y && !a.mean)
    return fail(E, "%s: mean must not be NULL", fn);
  if (a.p.norm == LN4J_NORM_RMS && (a.beta || a.dbeta))
    return fail(E, "%s: RMSNorm has no beta, expected beta and dbeta NULL", fn);
  if (a.dgamma && !a.gamma) return fail(E, "%s: dgamma given without gamma", fn);
  if (a.dbeta && !a.gamma) return fail(E, "%s: dbeta given without gamma", fn);
  return LN4J_OK;
}

}  // namespace ln4j

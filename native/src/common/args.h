// The arguments of one forward or backward call, as the API layer hands them to a backend (CPU or CUDA),
// and the checks both backends share. Checking happens once, in the API layer, before any kernel runs.
#pragma once
#include <cstdint>

#include "layernorm4j/layernorm4j.h"

namespace ln4j {

struct NormProblem {
  int32_t norm;         // LN4J_NORM_*
  int32_t flags;        // LN4J_FLAG_*
  int32_t x_dtype;      // x, y, dy, dx, residual
  int32_t param_dtype;  // gamma, beta, dgamma, dbeta
  int64_t rows;
  int64_t cols;
  double eps;
};

struct ForwardArgs {
  NormProblem p;
  const void* x;
  const void* residual;  // optional: normalize x + residual
  const void* gamma;     // optional
  const void* beta;      // optional
  void* y;
  void* residual_out;  // optional: x + residual
  void* mean;          // optional (NULL for RMSNorm)
  void* rstd;          // optional
};

struct BackwardArgs {
  NormProblem p;
  const void* dy;
  const void* dresidual_out;  // optional
  const void* x;              // or y with LN4J_FLAG_BACKWARD_FROM_OUTPUT
  const void* mean;
  const void* rstd;
  const void* gamma;  // optional
  const void* beta;   // optional (needed only with LN4J_FLAG_BACKWARD_FROM_OUTPUT)
  void* dx;
  void* dgamma;  // optional
  void* dbeta;   // optional
  // Set by the CPU backend for LN4J_FLAG_BACKWARD_FROM_OUTPUT: per-column beta (0 when absent) and 1 / g_eff, in
  // the accumulation type, so that xhat = (y - shift) * scale (one more rounding than a division).
  const void* xhat_shift = nullptr;
  const void* xhat_scale = nullptr;
};

// Validate; on failure record a message (prefixed with `fn`) and return the status, else LN4J_OK.
int check_forward(const ForwardArgs& a, const char* fn);
int check_backward(const BackwardArgs& a, const char* fn);

const char* dtype_name(int32_t dtype);
int32_t dtype_size(int32_t dtype);
int32_t stats_dtype(int32_t x_dtype);

}  // namespace ln4j

/* Flat-argument CPU calls for the Java binding only (org.layernorm4j.internal.NativeCpu): compiled into the JNI
 * library by JavaCPP, not part of the C API (native/include). Each builds the call's structs on the native stack
 * and calls the C API, so that a Java call passes its arguments in the JNI call itself instead of writing them,
 * field by field, into a direct ByteBuffer first: that fill had cost about 34 ns of a 325 ns 1 x 768 forward
 * through the Java API (AMD EPYC Zen 3). Pointers travel as int64_t addresses (0 = NULL). */
#ifndef LN4J_JNI_CALLS_H
#define LN4J_JNI_CALLS_H

#include <stdint.h>

#include "layernorm4j/layernorm4j.h"

#define LN4J_JNI_PTR(a) ((void*)(uintptr_t)(a))

static inline int ln4j_jni_cpu_forward(int32_t norm, int32_t flags, int32_t x_dtype, int32_t param_dtype, int64_t rows,
                                       int64_t cols, double eps, int64_t x, int64_t residual, int64_t gamma,
                                       int64_t beta, int64_t y, int64_t residual_out, int64_t mean, int64_t rstd,
                                       int32_t isa, int32_t threads) {
  ln4j_forward_args a = ln4j_forward_args_init();
  a.norm = norm;
  a.flags = flags;
  a.x_dtype = x_dtype;
  a.param_dtype = param_dtype;
  a.rows = rows;
  a.cols = cols;
  a.eps = eps;
  a.x = LN4J_JNI_PTR(x);
  a.residual = LN4J_JNI_PTR(residual);
  a.gamma = LN4J_JNI_PTR(gamma);
  a.beta = LN4J_JNI_PTR(beta);
  a.y = LN4J_JNI_PTR(y);
  a.residual_out = LN4J_JNI_PTR(residual_out);
  a.mean = LN4J_JNI_PTR(mean);
  a.rstd = LN4J_JNI_PTR(rstd);
  ln4j_exec e = ln4j_exec_init();
  e.isa = isa;
  e.threads = threads;
  return ln4j_cpu_forward(&a, &e);
}

static inline int ln4j_jni_cpu_backward(int32_t norm, int32_t flags, int32_t x_dtype, int32_t param_dtype,
                                        int64_t rows, int64_t cols, int64_t dy, int64_t dresidual_out, int64_t x,
                                        int64_t mean, int64_t rstd, int64_t gamma, int64_t beta, int64_t dx,
                                        int64_t dgamma, int64_t dbeta, int32_t isa, int32_t threads) {
  ln4j_backward_args a = ln4j_backward_args_init();
  a.norm = norm;
  a.flags = flags;
  a.x_dtype = x_dtype;
  a.param_dtype = param_dtype;
  a.rows = rows;
  a.cols = cols;
  a.dy = LN4J_JNI_PTR(dy);
  a.dresidual_out = LN4J_JNI_PTR(dresidual_out);
  a.x = LN4J_JNI_PTR(x);
  a.mean = LN4J_JNI_PTR(mean);
  a.rstd = LN4J_JNI_PTR(rstd);
  a.gamma = LN4J_JNI_PTR(gamma);
  a.beta = LN4J_JNI_PTR(beta);
  a.dx = LN4J_JNI_PTR(dx);
  a.dgamma = LN4J_JNI_PTR(dgamma);
  a.dbeta = LN4J_JNI_PTR(dbeta);
  ln4j_exec e = ln4j_exec_init();
  e.isa = isa;
  e.threads = threads;
  return ln4j_cpu_backward(&a, &e);
}

#undef LN4J_JNI_PTR

#endif /* LN4J_JNI_CALLS_H */

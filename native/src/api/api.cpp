// C API entry points of liblayernorm4j: clear the per-thread message, check arguments, route to the CPU
// backend. No exception crosses this boundary.
#include <exception>
#include <new>

#include "../common/args.h"
#include "../cpu/cache_info.h"
#include "../cpu/cpu_backend.h"
#include "status.h"

using namespace ln4j;

namespace {
template <class F>
int guarded(const char* fn, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(LN4J_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  } catch (const std::exception& e) {
    return fail(LN4J_ERR_INTERNAL, "%s: internal error: %s", fn, e.what());
  } catch (...) {
    return fail(LN4J_ERR_INTERNAL, "%s: internal error", fn);
  }
}

int check_isa_threads(int32_t isa, int32_t threads, const char* fn) {
  if (isa != LN4J_ISA_AUTO && isa != LN4J_ISA_SCALAR && isa != LN4J_ISA_AVX2 && isa != LN4J_ISA_AVX512)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: isa must be -1 (auto), 0 (scalar), 1 (avx2) or 2 (avx512), got %d",
                fn, isa);
  if (isa != LN4J_ISA_AUTO && !cpu::isa_supported(isa))
    return fail(LN4J_ERR_UNSUPPORTED, "%s: this CPU does not support isa %s (best: %s)", fn, cpu::isa_name(isa),
                cpu::isa_name(cpu::isa_best()));
  if (threads < 0) return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: threads must be >= 0, got %d", fn, threads);
  return LN4J_OK;
}
}  // namespace

extern "C" {

const char* ln4j_version(void) { return LN4J_VERSION; }
const char* ln4j_last_error(void) { return last_error(); }
int32_t ln4j_dtype_size(int32_t dtype) { return dtype_size(dtype); }
int32_t ln4j_stats_dtype(int32_t x_dtype) { return stats_dtype(x_dtype); }

int32_t ln4j_cpu_isa_best(void) { return cpu::isa_best(); }
int32_t ln4j_cpu_isa_supported(int32_t isa) { return cpu::isa_supported(isa) ? 1 : 0; }
const char* ln4j_cpu_isa_name(int32_t isa) { return cpu::isa_name(isa); }
const char* ln4j_cpu_model(void) { return cpu::cpu_model(); }
int32_t ln4j_cpu_default_threads(void) { return cpu::default_threads(); }
int ln4j_cpu_set_default_threads(int32_t threads) {
  clear_error();
  if (threads < 1)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "ln4j_cpu_set_default_threads: threads must be >= 1, got %d", threads);
  return guarded("ln4j_cpu_set_default_threads", [&] { return cpu::set_default_threads(threads); });
}

int64_t ln4j_cpu_stream_threshold(void) { return cpu::stream_threshold(); }
int ln4j_cpu_set_stream_threshold(int64_t bytes) {
  clear_error();
  cpu::set_stream_threshold(bytes);
  return LN4J_OK;
}

int ln4j_cpu_forward(int32_t isa, int32_t threads, int32_t norm, int32_t flags, int32_t x_dtype,
                     int32_t param_dtype, int64_t rows, int64_t cols, double eps, const void* x,
                     const void* residual, const void* gamma, const void* beta, void* y, void* residual_out,
                     void* mean, void* rstd) {
  static const char* fn = "ln4j_cpu_forward";
  clear_error();
  ForwardArgs a{{norm, flags, x_dtype, param_dtype, rows, cols, eps}, x, residual, gamma, beta, y, residual_out,
                mean, rstd};
  if (int s = check_isa_threads(isa, threads, fn)) return s;
  if (int s = check_forward(a, fn)) return s;
  return guarded(fn, [&] { return cpu::forward(isa, threads, a); });
}

int ln4j_cpu_backward(int32_t isa, int32_t threads, int32_t norm, int32_t flags, int32_t x_dtype,
                      int32_t param_dtype, int64_t rows, int64_t cols, const void* dy, const void* dresidual_out,
                      const void* x, const void* mean, const void* rstd, const void* gamma, const void* beta,
                      void* dx, void* dgamma, void* dbeta) {
  static const char* fn = "ln4j_cpu_backward";
  clear_error();
  BackwardArgs a{{norm, flags, x_dtype, param_dtype, rows, cols, 0.0}, dy, dresidual_out, x, mean, rstd, gamma,
                 beta, dx, dgamma, dbeta};
  if (int s = check_isa_threads(isa, threads, fn)) return s;
  if (int s = check_backward(a, fn)) return s;
  return guarded(fn, [&] { return cpu::backward(isa, threads, a); });
}

}  // extern "C"

// C API entry points of liblayernorm4j: clear the per-thread message, accept the caller's structs, check them,
// route to the CPU backend. No exception crosses this boundary.
#include <exception>
#include <new>

#include "../common/args.h"
#include "../common/status.h"
#include "../cpu/cache_info.h"
#include "../cpu/cpu_backend.h"
#include "../cpu/prefetch_tuner.h"

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

int accept_exec(const ln4j_exec* in, Exec& e, const char* fn) {
  if (int s = accept(in, e, kExecMinSize, "exec", fn)) return s;
  return check_cpu_exec(e, cpu::isa_supported, cpu::isa_name, cpu::isa_best(), fn);
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
  if (threads < 0)
    return fail(LN4J_ERR_INVALID_ARGUMENT,
                "ln4j_cpu_set_default_threads: threads must be >= 0 (0 = online processors), got %d", threads);
  return guarded("ln4j_cpu_set_default_threads", [&] { return cpu::set_default_threads(threads); });
}

int64_t ln4j_cpu_stream_threshold(void) { return cpu::stream_threshold(); }
int ln4j_cpu_set_stream_threshold(int64_t bytes) {
  clear_error();
  cpu::set_stream_threshold(bytes);
  return LN4J_OK;
}

int32_t ln4j_cpu_prefetch_policy(void) { return cpu::prefetch_setting(); }
int ln4j_cpu_set_prefetch_policy(int32_t policy) {
  clear_error();
  if (policy < -2 || policy >= cpu::kPfPolicies)
    return fail(LN4J_ERR_INVALID_ARGUMENT,
                "ln4j_cpu_set_prefetch_policy: policy must be -2 (environment), -1 (auto) or 0..%d, got %d",
                int(cpu::kPfPolicies - 1), int(policy));
  cpu::set_prefetch_setting(policy);
  return LN4J_OK;
}
int32_t ln4j_cpu_prefetch_choice(int32_t backward, int32_t residual, int64_t cols, int32_t dtype, int32_t isa,
                                 int32_t threads) {
  const int64_t esize = dtype_size(dtype);
  if (isa == LN4J_ISA_AUTO) isa = cpu::isa_best();
  if (backward < 0 || backward > 1 || residual < 0 || residual > 1 || cols < 0 || esize <= 0 || threads < 1 ||
      !cpu::isa_supported(isa))
    return -2;
  if (backward) return cpu::prefetch_choice(cpu::PfKind::kBackward, isa, cols * esize, int32_t(esize), threads);
  return cpu::prefetch_choice(cpu::PfKind::kForward, isa, cols * esize * (residual ? 2 : 1), int32_t(esize), threads);
}

int ln4j_cpu_forward(const ln4j_forward_args* args, const ln4j_exec* exec) {
  static const char* fn = "ln4j_cpu_forward";
  clear_error();
  ForwardArgs a;
  Exec e;
  if (int s = accept<ln4j_forward_args>(args, a, kForwardArgsMinSize, "args", fn)) return s;
  if (int s = accept_exec(exec, e, fn)) return s;
  if (int s = check_forward(a, fn)) return s;
  return guarded(fn, [&] { return cpu::forward(a, e); });
}

int ln4j_cpu_backward(const ln4j_backward_args* args, const ln4j_exec* exec) {
  static const char* fn = "ln4j_cpu_backward";
  clear_error();
  BackwardArgs a;
  Exec e;
  if (int s = accept<ln4j_backward_args>(args, a, kBackwardArgsMinSize, "args", fn)) return s;
  if (int s = accept_exec(exec, e, fn)) return s;
  if (int s = check_backward(a, fn)) return s;
  return guarded(fn, [&] { return cpu::backward(a, e); });
}

}  // extern "C"

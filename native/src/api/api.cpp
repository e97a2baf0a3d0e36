// C API entry points of liblayernorm4j: clear the per-thread message, accept the caller's structs, check them,
// route to the CPU backend. No exception crosses this boundary.
#include <exception>
#include <new>

#include "../common/args.h"
#include "../common/status.h"
#include "../cpu/bandwidth.h"
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

// The bandwidth probes' shared checks: a known kind, bytes a multiple of 4, threads >= 0, and buffers that are not
// NULL when bytes > 0.
int check_probe(const char* fn, int32_t kind, int64_t bytes, int32_t threads) {
  if (kind < 0 || kind >= LN4J_BANDWIDTH_KINDS)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: kind must be 0..%d (LN4J_BANDWIDTH_*), got %d", fn,
                LN4J_BANDWIDTH_KINDS - 1, int(kind));
  if (bytes < 0 || bytes % 4)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: bytes must be a multiple of 4 and >= 0, got %lld", fn,
                (long long)bytes);
  if (threads < 0)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: threads must be >= 0 (0 = the default), got %d", fn, int(threads));
  return LN4J_OK;
}
int null_buffer(const char* fn, const char* name) {
  return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: %s must not be NULL when bytes > 0", fn, name);
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

int ln4j_cpu_bandwidth_copy(int32_t kind, void* dst, const void* src, int64_t bytes, int32_t threads) {
  const char* fn = "ln4j_cpu_bandwidth_copy";
  clear_error();
  if (int s = check_probe(fn, kind, bytes, threads)) return s;
  if (bytes > 0 && !dst) return null_buffer(fn, "dst");
  if (bytes > 0 && !src) return null_buffer(fn, "src");
  return guarded(fn, [&] {
    cpu::bandwidth_copy(kind, dst, src, bytes, threads);
    return LN4J_OK;
  });
}

int ln4j_cpu_bandwidth_r2w1(int32_t kind, void* dst, const void* a, const void* b, int64_t bytes, int32_t threads) {
  const char* fn = "ln4j_cpu_bandwidth_r2w1";
  clear_error();
  if (int s = check_probe(fn, kind, bytes, threads)) return s;
  if (bytes > 0 && !dst) return null_buffer(fn, "dst");
  if (bytes > 0 && !a) return null_buffer(fn, "a");
  if (bytes > 0 && !b && kind != LN4J_BANDWIDTH_MEMCPY) return null_buffer(fn, "b");
  return guarded(fn, [&] {
    cpu::bandwidth_r2w1(kind, dst, a, b, bytes, threads);
    return LN4J_OK;
  });
}

const char* ln4j_cpu_bandwidth_kind_name(int32_t kind) { return cpu::bandwidth_kind_name(kind); }

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

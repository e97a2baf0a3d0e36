// C API entry points of liblayernorm4j: clear the per-thread message, accept the caller's structs, check them,
// route to the CPU backend. No exception crosses this boundary.
#include <exception>
#include <new>

#include "../common/args.h"
#include "../common/status.h"
#include "../cpu/cache_info.h"
#include "../cpu/cpu_backend.h"

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

int ln4j_cpu_forward(const ln4j_forward_args* args, const ln4j_exec* exec) {
  static const char* fn = "ln4j_cpu_forward";
  clear_error();
  ForwardArgs a;
  Exec e;
  if (int s = accept(args, a, kForwardArgsMinSize, "args", fn)) return s;
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

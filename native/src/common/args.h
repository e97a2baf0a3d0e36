// The arguments of one forward or backward call as the backends see them, and the checks every backend shares.
// A backend reads the public structs of layernorm4j.h directly (ForwardArgs and BackwardArgs derive from them), so an option
// added to the header reaches the kernels that use it with no copy in between. The API layer accepts the caller's
// structs (accept: struct_size), checks them once, then hands them to the backend.
#pragma once
#include <cstdint>
#include <cstring>

#include "layernorm4j/layernorm4j.h"
#include "status.h"

namespace ln4j {

// The forward's arguments plus the CPU backend's choice of software prefetches. Never part of the contract.
struct ForwardArgs : ln4j_forward_args {
  int32_t prefetch = 3;  // CPU: which software prefetches the kernels issue past the streaming threshold
                         // (policy bits of cpu/prefetch_tuner.h; 3 = all of them)
};

// The backward's arguments plus what the CPU backend derives for LN4J_FLAG_BACKWARD_FROM_OUTPUT: per-column beta
// (0 when absent) and 1 / g', in the accumulation type, so that xhat = (y - shift) * scale (one more rounding
// than a division). Never part of the contract.
struct BackwardArgs : ln4j_backward_args {
  const void* xhat_shift = nullptr;
  const void* xhat_scale = nullptr;
  int32_t prefetch = 3;  // CPU: which software prefetches the kernels issue past the streaming threshold
                         // (policy bits of cpu/prefetch_tuner.h; 3 = all of them)
};

using Exec = ln4j_exec;

// Size of each struct in the first version of the header: the smallest struct_size a library accepts. When a
// field is added at the end of a struct, its constant here stays as it is.
constexpr int32_t kForwardArgsMinSize = int32_t(sizeof(ln4j_forward_args));
constexpr int32_t kBackwardArgsMinSize = int32_t(sizeof(ln4j_backward_args));
constexpr int32_t kExecMinSize = int32_t(sizeof(ln4j_exec));

// Copies the caller's struct into `out` (fields the caller's older header lacks read as 0) after checking it is
// there and its struct_size is one this library knows. `what` names it in the message ("args", "exec").
template <class T>
int accept(const T* in, T& out, int32_t min_size, const char* what, const char* fn) {
  if (!in) return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: %s must not be NULL", fn, what);
  const int32_t size = in->struct_size;
  if (size < min_size)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: %s->struct_size must be sizeof the struct (%d here), got %d", fn,
                what, int(sizeof(T)), size);
  if (size_t(size) > sizeof(T))
    return fail(LN4J_ERR_UNSUPPORTED,
                "%s: %s->struct_size is %d, larger than this library's %d: the caller was built against a newer "
                "layernorm4j.h (library version %s)",
                fn, what, size, int(sizeof(T)), LN4J_VERSION);
  std::memset(static_cast<void*>(&out), 0, sizeof(T));
  std::memcpy(static_cast<void*>(&out), in, size_t(size));
  return LN4J_OK;
}

// Validate; on failure record a message (prefixed with `fn`) and return the status, else LN4J_OK.
int check_forward(const ForwardArgs& a, const char* fn);
int check_backward(const ln4j_backward_args& a, const char* fn);
// exec->device must be LN4J_DEVICE_CPU, isa a known path this CPU runs (or AUTO), threads >= 0.
// `isa_supported` answers for the CPU this runs on (the CPU backend's detection).
int check_cpu_exec(const Exec& e, bool (*isa_supported)(int32_t), const char* (*isa_name)(int32_t),
                   int32_t isa_best, const char* fn);

// The zero-gamma rule, one rule for every backend: the backward from y rebuilds xhat = (y - beta) / g', which is
// impossible where the applied gamma g' (gamma, or 1 + gamma when zero-centred) is exactly 0 (there y = beta
// whatever x was, and dx and dgamma both need xhat). Such a call fails before anything is written, naming the
// first such column; the backward from x is exact for any gamma. Records the message and returns
// LN4J_ERR_ZERO_GAMMA.
int fail_zero_gamma(const char* fn, long long column, bool zero_centred);

const char* dtype_name(int32_t dtype);
int32_t dtype_size(int32_t dtype);
int32_t stats_dtype(int32_t x_dtype);

}  // namespace ln4j

// The ln4j_cuda_* C API of liblayernorm4j_cuda: device probing, the caller's structs accepted and checked (shared
// with the CPU library: common/args.cpp), device selection (exec->device), then the kernels of forward.cu /
// backward.cu. Every call is asynchronous on exec->stream (NULL = the legacy default stream) and never
// synchronizes, with one exception: the backward from y (LN4J_FLAG_BACKWARD_FROM_OUTPUT) with gamma reads back one
// integer (the zero-gamma check, backward.cu) and so waits for the stream before it launches.
// The workspace (exec->workspace, ln4j_cuda_backward_workspace_bytes, 8-byte aligned) is needed when dgamma or
// dbeta is wanted, and by the backward from y with gamma.
// Served: LayerNorm and RMSNorm, every dtype (FLOAT64 accumulates in double), zero-centred gamma, the fused
// residual and the backward from y (see forward.cu and backward.cu for the formulas and the zero-gamma rule).
#include <cstdio>

#include "cuda_internal.h"

using namespace ln4j;

namespace {

// One-line reason for a failed cudaGetDeviceCount (thread-local buffer for the generic case).
const char* reason_of(cudaError_t e) {
  static thread_local char buf[160];
  if (e == cudaErrorInsufficientDriver) {
    // The runtime linked in needs a driver of its major version: CUDA 13.x driver >= 580, 12.x >= 525.
    const int major = CUDART_VERSION / 1000, minor = CUDART_VERSION % 1000 / 10;
    std::snprintf(buf, sizeof buf, "no NVIDIA driver, or one too old for CUDA %d.%d (needs driver >= %d)", major,
                  minor, major >= 13 ? 580 : 525);
    return buf;
  }
  if (e == cudaErrorNoDevice) return "no CUDA device";
  std::snprintf(buf, sizeof buf, "CUDA error %s", cudaGetErrorName(e));
  return buf;
}

int select_device(int32_t device, const char* fn) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return fail(LN4J_ERR_CUDA, "%s: %s (cudaGetDeviceCount: %s)", fn, reason_of(e), cudaGetErrorName(e));
  }
  if (device < 0 || device >= n)
    return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: device must be in 0..%d, got %d", fn, n - 1, device);
  return cuda::cuda_status(cudaSetDevice(device), fn, "cudaSetDevice");
}

}  // namespace

extern "C" {

LN4J_API const char* ln4j_cuda_last_error(void) { return last_error(); }

LN4J_API int32_t ln4j_cuda_built(void) { return 1; }

LN4J_API int32_t ln4j_cuda_device_count(const char** reason) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky, but leave nothing behind
    if (reason) *reason = reason_of(e);
    return 0;
  }
  if (n <= 0) {
    if (reason) *reason = "no CUDA device";
    return 0;
  }
  if (reason) *reason = "";
  return n;
}

LN4J_API int64_t ln4j_cuda_backward_workspace_bytes(const ln4j_backward_args* args) {
  if (!args || args->struct_size < kBackwardArgsMinSize || args->rows < 1 || args->cols < 1) return 0;
  return cuda::workspace_bytes(args->rows, args->cols);
}

LN4J_API int ln4j_cuda_forward(const ln4j_forward_args* args, const ln4j_exec* exec) {
  const char* fn = "ln4j_cuda_forward";
  clear_error();
  ForwardArgs a;
  Exec e;
  if (int s = accept<ln4j_forward_args>(args, a, kForwardArgsMinSize, "args", fn)) return s;
  if (int s = accept(exec, e, kExecMinSize, "exec", fn)) return s;
  if (int s = check_forward(a, fn)) return s;
  if (int s = select_device(e.device, fn)) return s;
  return cuda::forward(a, e, fn);
}

LN4J_API int ln4j_cuda_backward(const ln4j_backward_args* args, const ln4j_exec* exec) {
  const char* fn = "ln4j_cuda_backward";
  clear_error();
  BackwardArgs a;
  Exec e;
  if (int s = accept<ln4j_backward_args>(args, a, kBackwardArgsMinSize, "args", fn)) return s;
  if (int s = accept(exec, e, kExecMinSize, "exec", fn)) return s;
  if (int s = check_backward(a, fn)) return s;
  // The workspace holds the dgamma/dbeta partials and the zero-gamma flag of the backward from y with gamma.
  if (a.dgamma || a.dbeta || ((a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) && a.gamma)) {
    const int64_t need = cuda::workspace_bytes(a.rows, a.cols);
    if (!e.workspace)
      return fail(LN4J_ERR_INVALID_ARGUMENT,
                  "%s: exec->workspace must not be NULL when dgamma or dbeta is wanted or with "
                  "LN4J_FLAG_BACKWARD_FROM_OUTPUT and gamma (%lld bytes, see ln4j_cuda_backward_workspace_bytes)",
                  fn, (long long)need);
    if (e.workspace_bytes < need)
      return fail(LN4J_ERR_INVALID_ARGUMENT,
                  "%s: exec->workspace_bytes must be >= %lld for rows=%lld, cols=%lld, got %lld", fn,
                  (long long)need, (long long)a.rows, (long long)a.cols, (long long)e.workspace_bytes);
    if (reinterpret_cast<uintptr_t>(e.workspace) % 8 != 0)
      return fail(LN4J_ERR_INVALID_ARGUMENT, "%s: exec->workspace must be 8-byte aligned, got %p", fn, e.workspace);
  }
  if (int s = select_device(e.device, fn)) return s;
  return cuda::backward(a, e, fn);
}

}  // extern "C"

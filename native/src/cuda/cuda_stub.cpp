// liblayernorm4j_cuda built without a CUDA toolkit: the same C API, every call answers
// LN4J_ERR_UNSUPPORTED "built without CUDA", so the JNI side always links and Java can say why.
#include "../common/status.h"

using namespace ln4j;

namespace {
const char* kReason = "built without CUDA";
}

extern "C" {

const char* ln4j_cuda_last_error(void) { return last_error(); }
int32_t ln4j_cuda_built(void) { return 0; }
int32_t ln4j_cuda_device_count(const char** reason) {
  if (reason) *reason = kReason;
  return 0;
}
int64_t ln4j_cuda_backward_workspace_bytes(const ln4j_backward_args*) { return 0; }

int ln4j_cuda_forward(const ln4j_forward_args*, const ln4j_exec*) {
  clear_error();
  return fail(LN4J_ERR_UNSUPPORTED, "ln4j_cuda_forward: %s", kReason);
}

int ln4j_cuda_backward(const ln4j_backward_args*, const ln4j_exec*) {
  clear_error();
  return fail(LN4J_ERR_UNSUPPORTED, "ln4j_cuda_backward: %s", kReason);
}

}  // extern "C"

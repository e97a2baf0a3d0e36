// Host-side entry points of the CUDA backend, called by cuda_api.cu after the arguments were checked and the
// device selected. Each launches asynchronously on `stream` and returns LN4J_OK or a status with the message set.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../api/status.h"
#include "../common/args.h"

namespace ln4j {
namespace cuda {

int forward(const ForwardArgs& a, cudaStream_t stream, const char* fn);
int backward(const BackwardArgs& a, void* workspace, int64_t workspace_bytes, cudaStream_t stream, const char* fn);

// Layout of the dgamma/dbeta partials: rows are cut into `parts` fixed blocks of `rows_per_part` rows
// (the last one may be shorter), chosen from rows and cols only, so results do not depend on the GPU.
struct PartLayout {
  int64_t rows_per_part;
  int64_t parts;
};
PartLayout part_layout(int64_t rows, int64_t cols);
// Bytes of the partials: two arrays [parts, cols] of 8-byte elements (sized for FLOAT64).
int64_t partials_bytes(int64_t rows, int64_t cols);
// Bytes of workspace: the partials, then 16 bytes for the zero-gamma check of the backward from y.
int64_t workspace_bytes(int64_t rows, int64_t cols);

// LN4J_OK for cudaSuccess, else LN4J_ERR_CUDA with "<fn>: <what>: <cudaErrorName> (<description>)".
inline int cuda_status(cudaError_t e, const char* fn, const char* what) {
  if (e == cudaSuccess) return LN4J_OK;
  return fail(LN4J_ERR_CUDA, "%s: %s: %s (%s)", fn, what, cudaGetErrorName(e), cudaGetErrorString(e));
}

}  // namespace cuda
}  // namespace ln4j

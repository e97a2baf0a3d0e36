// Host-side entry points of the CUDA backend, called by cuda_api.cu after the arguments were checked and the
// device selected. Each launches asynchronously on `stream` and returns LN4J_OK or a status with the message set.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "../common/args.h"
#include "../common/dtype_visit.h"
#include "../common/status.h"

namespace ln4j {
namespace cuda {

// exec.stream is the stream; the backward's exec.workspace holds at least workspace_bytes(rows, cols), 8-byte
// aligned, when dgamma or dbeta is wanted or the backward is from y with gamma (cuda_api.cu checks it).
int forward(const ForwardArgs& a, const Exec& exec, const char* fn);
int backward(const BackwardArgs& a, const Exec& exec, const char* fn);

// The CUDA element type of a dtype code (see common/dtype_visit.h).
template <int32_t D>
using CudaType = std::conditional_t<
    D == LN4J_FLOAT64, double,
    std::conditional_t<D == LN4J_BFLOAT16, __nv_bfloat16, std::conditional_t<D == LN4J_FLOAT16, __half, float>>>;
// The accumulation type: double for FLOAT64 data, float otherwise.
template <int32_t D>
using CudaAcc = std::conditional_t<D == LN4J_FLOAT64, double, float>;

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

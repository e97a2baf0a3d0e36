// LayerNorm / RMSNorm backward on CUDA, for each row (g = g_eff: gamma, 1 + gamma with
// LN4J_FLAG_ZERO_CENTERED_GAMMA, 1 when gamma is absent; mean and rstd from the forward):
//     xhat   = (x - mean) * rstd            (RMSNorm: mean = 0)
//     c1     = sum(g*dy) / cols,   c2 = sum(g*dy*xhat) / cols      (RMSNorm: c1 = 0)
//     dx     = rstd * (g*dy - c1 - xhat*c2) (+ dresidual_out when the forward was fused with a residual)
//     dgamma = sum over rows of dy*xhat,   dbeta = sum over rows of dy
// LN4J_FLAG_BACKWARD_FROM_OUTPUT: the x slot holds y; xhat = (y - beta) / g (RMSNorm: y / g), mean is not read.
// Zero-gamma rule (the whole project's): where g_eff[j] == 0, y[j] = beta[j] whatever x was, so xhat[j] cannot be
// rebuilt from y; dx[j] = rstd * (-c1 - xhat[j] * c2) and dgamma[j] both need it. A backward from y with such a
// column therefore fails with LN4J_ERR_INVALID_ARGUMENT naming the first one, before any kernel writes (the
// backward from x is exact for any gamma). Without gamma, g_eff = 1 and nothing is checked.
// Accumulation in float (double for FLOAT64).
//
// Determinism without float atomics: rows are cut into fixed blocks (part_layout: from rows and cols only,
// never from the GPU). backward_rows (one CUDA block per part) walks its rows in order, writes dx, and writes
// the part's dgamma/dbeta partials [parts, cols] into the caller's workspace; backward_finalize sums the
// partials of each column over the parts in order 0, 1, 2, ... So the bits do not depend on the run or GPU.
//
// backward_rows comes in two forms: K > 0 keeps the thread's K elements of the row (strided by blockDim) and
// its partials in registers (cols <= K * blockDim); K == 0 streams any cols, reading x and dy twice and
// accumulating the part's partials in shared memory when 2 * cols of them fit (smem_partials), else in place in
// the workspace (each element owned by one thread). The same operations in the same order either way, so the
// bits do not depend on which one the GPU's shared memory allows.
#include <algorithm>

#include "cuda_internal.h"
#include "cuda_util.cuh"

namespace ln4j {
namespace cuda {
namespace {

constexpr int kRegBlock = 256;      // threads per block, registers form
constexpr int kStreamBlock = 512;   // threads per block, streaming form
constexpr int64_t kMaxParts = 512;  // most row blocks
constexpr int64_t kMaxPartialsPerArray = int64_t(1) << 23;  // parts * cols bound (64 MiB of doubles per array)
constexpr int64_t kMaxGrid = 1 << 20;

template <class T, class P, class A>
struct BwdParams {
  const T* dy;
  const T* dres;  // dresidual_out, added to dx (NULL when absent)
  const T* x;     // x (or s), or y with from_y
  const A* mean;  // read only for LayerNorm from x
  const A* rstd;
  const P* gamma;
  const P* beta;  // read only with from_y
  T* dx;
  A* part_dgamma;  // [parts, cols] or NULL when neither dgamma nor dbeta is wanted
  A* part_dbeta;
  int64_t rows;
  int64_t cols;
  int64_t rows_per_part;
  bool rms;     // RMSNorm: mean = 0, c1 = 0
  bool zc;      // zero-centred gamma
  bool from_y;  // LN4J_FLAG_BACKWARD_FROM_OUTPUT: x holds y
  bool smem_partials;  // K == 0 form: accumulate the partials in dynamic shared memory [2, cols]
};

// xhat of one element from the value v in the x slot. From y: xhat = (y - beta) / g_eff (a zero g_eff was refused
// before launch by the zero-gamma rule; the guard only keeps a division by zero out of the kernel).
template <class A>
__device__ __forceinline__ A xhat_of(A v, A g, A b, A mean, A rstd, bool from_y) {
  if (from_y) return g != A(0) ? sub_rn(v, b) / g : A(0);
  return mul_rn(sub_rn(v, mean), rstd);
}

// dx of one element: rstd * (g*dy - c1 - xhat*c2) (+ dres), every operation explicitly rounded.
template <class A>
__device__ __forceinline__ A dx_of(A rstd, A gdy, A c1, A xhat, A c2) {
  return mul_rn(rstd, sub_rn(sub_rn(gdy, c1), mul_rn(xhat, c2)));
}

template <class T, class P, class A, int K>
__global__ void __launch_bounds__(K > 0 ? kRegBlock : kStreamBlock) backward_rows(BwdParams<T, P, A> p) {
  const int64_t part = blockIdx.x;
  const int64_t row0 = part * p.rows_per_part;
  const int64_t row1 = min(p.rows, row0 + p.rows_per_part);
  const bool partials = p.part_dgamma != nullptr;
  const A inv_cols = A(1) / A(p.cols);
  const bool centred = !p.rms;
  LN4J_DYNAMIC_SMEM(unsigned char, smem_raw);
  A* scratch = reinterpret_cast<A*>(smem_raw);  // kScratchBytes for block_sum2, then (K == 0) the partials
  if constexpr (K > 0) {
    A dgamma[K], dbeta[K], g[K], b[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t j = int64_t(k) * blockDim.x + threadIdx.x;
      dgamma[k] = A(0);
      dbeta[k] = A(0);
      g[k] = j < p.cols ? gamma_at<P, A>(p.gamma, j, p.zc) : A(0);
      b[k] = j < p.cols && p.from_y ? beta_at<P, A>(p.beta, j) : A(0);
    }
    for (int64_t row = row0; row < row1; ++row) {
      const int64_t o = row * p.cols;
      const A mean = centred && !p.from_y ? p.mean[row] : A(0), rstd = p.rstd[row];
      A xhat[K], dyv[K];
      A s1 = A(0), s2 = A(0);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int64_t j = int64_t(k) * blockDim.x + threadIdx.x;
        const bool in = j < p.cols;
        xhat[k] = in ? xhat_of(A(Conv<T>::load(p.x[o + j])), g[k], b[k], mean, rstd, p.from_y) : A(0);
        dyv[k] = in ? A(Conv<T>::load(p.dy[o + j])) : A(0);
        const A gdy = mul_rn(g[k], dyv[k]);
        s1 = add_rn(s1, gdy);
        s2 = add_rn(s2, mul_rn(gdy, xhat[k]));
      }
      block_sum2(s1, s2, scratch);
      const A c1 = centred ? mul_rn(s1, inv_cols) : A(0), c2 = mul_rn(s2, inv_cols);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int64_t j = int64_t(k) * blockDim.x + threadIdx.x;
        if (j < p.cols) {
          A d = dx_of(rstd, mul_rn(g[k], dyv[k]), c1, xhat[k], c2);
          if (p.dres) d = add_rn(d, A(Conv<T>::load(p.dres[o + j])));
          p.dx[o + j] = Conv<T>::store(d);
        }
        dgamma[k] = add_rn(dgamma[k], mul_rn(dyv[k], xhat[k]));
        dbeta[k] = add_rn(dbeta[k], dyv[k]);
      }
    }
    if (partials) {
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int64_t j = int64_t(k) * blockDim.x + threadIdx.x;
        if (j < p.cols) {
          p.part_dgamma[part * p.cols + j] = dgamma[k];
          p.part_dbeta[part * p.cols + j] = dbeta[k];
        }
      }
    }
  } else {
    A* dgp = nullptr;  // this part's partials: shared memory, or its rows of the workspace
    A* dbp = nullptr;
    if (partials) {
      dgp = p.smem_partials ? reinterpret_cast<A*>(smem_raw + kScratchBytes) : p.part_dgamma + part * p.cols;
      dbp = p.smem_partials ? dgp + p.cols : p.part_dbeta + part * p.cols;
    }
    for (int64_t row = row0; row < row1; ++row) {
      const int64_t o = row * p.cols;
      const A mean = centred && !p.from_y ? p.mean[row] : A(0), rstd = p.rstd[row];
      A s1 = A(0), s2 = A(0);
      for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
        const A g = gamma_at<P, A>(p.gamma, j, p.zc);
        const A b = p.from_y ? beta_at<P, A>(p.beta, j) : A(0);
        const A xhat = xhat_of(A(Conv<T>::load(p.x[o + j])), g, b, mean, rstd, p.from_y);
        const A gdy = mul_rn(g, A(Conv<T>::load(p.dy[o + j])));
        s1 = add_rn(s1, gdy);
        s2 = add_rn(s2, mul_rn(gdy, xhat));
      }
      block_sum2(s1, s2, scratch);
      const A c1 = centred ? mul_rn(s1, inv_cols) : A(0), c2 = mul_rn(s2, inv_cols);
      for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
        const A g = gamma_at<P, A>(p.gamma, j, p.zc);
        const A b = p.from_y ? beta_at<P, A>(p.beta, j) : A(0);
        const A xhat = xhat_of(A(Conv<T>::load(p.x[o + j])), g, b, mean, rstd, p.from_y);
        const A dy = A(Conv<T>::load(p.dy[o + j]));
        A d = dx_of(rstd, mul_rn(g, dy), c1, xhat, c2);
        if (p.dres) d = add_rn(d, A(Conv<T>::load(p.dres[o + j])));
        p.dx[o + j] = Conv<T>::store(d);
        if (partials) {
          const bool first = row == row0;
          dgp[j] = add_rn(first ? A(0) : dgp[j], mul_rn(dy, xhat));
          dbp[j] = add_rn(first ? A(0) : dbp[j], dy);
        }
      }
    }
    if (partials && p.smem_partials) {  // each thread copies the columns it owns: no barrier needed
      for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
        p.part_dgamma[part * p.cols + j] = dgp[j];
        p.part_dbeta[part * p.cols + j] = dbp[j];
      }
    }
  }
}

// The zero-gamma check of the backward from y: the smallest column j with g_eff[j] == 0 into *first (which
// starts at UINT64_MAX). Integer atomicMin: the answer does not depend on the order.
template <class P, class A>
__global__ void first_zero_gamma(const P* gamma, int64_t cols, bool zc, unsigned long long* first) {
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x)
    if (gamma_at<P, A>(gamma, j, zc) == A(0)) atomicMin(first, (unsigned long long)j);
}

// dgamma[j] / dbeta[j] = sum over parts, in order, of the partials of column j.
template <class P, class A>
__global__ void backward_finalize(const A* part_dgamma, const A* part_dbeta, P* dgamma, P* dbeta, int64_t parts,
                                  int64_t cols) {
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
    A sg = A(0), sb = A(0);
    for (int64_t q = 0; q < parts; ++q) {
      sg = add_rn(sg, part_dgamma[q * cols + j]);
      sb = add_rn(sb, part_dbeta[q * cols + j]);
    }
    if (dgamma) dgamma[j] = Conv<P>::store(sg);
    if (dbeta) dbeta[j] = Conv<P>::store(sb);
  }
}

template <class T, class P, class A, int K>
int launch_rows(const BwdParams<T, P, A>& p, int64_t parts, cudaStream_t s, const char* fn, int64_t smem) {
  LN4J_LAUNCH(unsigned(parts), K > 0 ? kRegBlock : kStreamBlock, size_t(smem), s, backward_rows<T, P, A, K>)(p);
  return cuda_status(cudaGetLastError(), fn, "launch of backward_rows");
}

template <class T, class P, class A>
int backward_typed(const BackwardArgs& a, void* workspace, int64_t ws_bytes, cudaStream_t s, const char* fn) {
  const PartLayout L = part_layout(a.p.rows, a.p.cols);
  const bool partials = a.dgamma || a.dbeta;
  const bool from_y = (a.p.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  // The workspace holds the partials (dgamma/dbeta wanted) and the zero-gamma flag of the backward from y with
  // gamma (at partials_bytes); ln4j_cuda_backward_workspace_bytes covers both.
  if (partials || (from_y && a.gamma)) {
    const int64_t need = workspace_bytes(a.p.rows, a.p.cols);
    if (!workspace || ws_bytes < need || reinterpret_cast<uintptr_t>(workspace) % 8 != 0)
      return fail(LN4J_ERR_INVALID_ARGUMENT,
                  "%s: workspace must be an 8-byte aligned block of >= %lld bytes (ln4j_cuda_backward_workspace_bytes) "
                  "when dgamma or dbeta is wanted or with LN4J_FLAG_BACKWARD_FROM_OUTPUT and gamma, got %p, %lld bytes",
                  fn, (long long)need, workspace, (long long)ws_bytes);
  }
  A* part_dgamma = partials ? static_cast<A*>(workspace) : nullptr;
  A* part_dbeta = partials ? part_dgamma + L.parts * a.p.cols : nullptr;
  BwdParams<T, P, A> p;
  p.dy = static_cast<const T*>(a.dy);
  p.dres = static_cast<const T*>(a.dresidual_out);
  p.x = static_cast<const T*>(a.x);
  p.mean = static_cast<const A*>(a.mean);
  p.rstd = static_cast<const A*>(a.rstd);
  p.gamma = static_cast<const P*>(a.gamma);
  p.beta = static_cast<const P*>(a.beta);
  p.dx = static_cast<T*>(a.dx);
  p.part_dgamma = part_dgamma;
  p.part_dbeta = part_dbeta;
  p.rows = a.p.rows;
  p.cols = a.p.cols;
  p.rows_per_part = L.rows_per_part;
  p.rms = a.p.norm == LN4J_NORM_RMS;
  p.zc = (a.p.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  p.from_y = from_y;
  p.smem_partials = false;
  clear_stale_error();

  // Everything that can fail before a kernel writes an output is done first: the shared-memory setting of the
  // streaming form and the zero-gamma check.
  const int64_t c = a.p.cols;
  int form = c <= 1 * kRegBlock ? 1 : c <= 2 * kRegBlock ? 2 : c <= 4 * kRegBlock ? 4 : c <= 8 * kRegBlock ? 8
             : c <= 16 * kRegBlock ? 16 : 0;
  int64_t dyn = kScratchBytes;
  if (form == 0 && partials) {
    // Partials in shared memory when they fit the device's limit; the same operations in the same order as in the
    // workspace, so the bits do not depend on which the GPU allows.
    const int64_t want = kScratchBytes + 2 * c * int64_t(sizeof(A));
    int64_t limit = 48 * 1024;
    if (want > limit) {
      int device = 0;
      if (int e = cuda_status(cudaGetDevice(&device), fn, "cudaGetDevice")) return e;
      if (int e = dynamic_smem_limit(backward_rows<T, P, A, 0>, device, &limit, fn, "backward_rows")) return e;
    }
    if (want <= limit) {
      p.smem_partials = true;
      dyn = want;
    }
  }
  if (p.from_y && p.gamma) {
    // Zero-gamma rule: xhat[j] cannot be rebuilt from y where g_eff[j] == 0, so such a call fails before
    // anything is written. The check runs on the device (a tiny kernel over gamma, integer
    // atomicMin into 8 bytes at the end of the workspace) and reads back one integer: this one mode
    // synchronizes with `stream` before the kernels are launched.
    unsigned long long* first = reinterpret_cast<unsigned long long*>(static_cast<unsigned char*>(workspace) +
                                                                      partials_bytes(a.p.rows, a.p.cols));
    if (int st = cuda_status(cudaMemsetAsync(first, 0xff, sizeof *first, s), fn, "cudaMemsetAsync")) return st;
    const int threads = 256;
    const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((a.p.cols + threads - 1) / threads, 1024));
    LN4J_LAUNCH(unsigned(blocks), threads, 0, s, first_zero_gamma<P, A>)(p.gamma, p.cols, p.zc, first);
    if (int st = cuda_status(cudaGetLastError(), fn, "launch of first_zero_gamma")) return st;
    unsigned long long host = 0;
    if (int st = cuda_status(cudaMemcpyAsync(&host, first, sizeof host, cudaMemcpyDeviceToHost, s), fn,
                             "cudaMemcpyAsync"))
      return st;
    if (int st = cuda_status(cudaStreamSynchronize(s), fn, "cudaStreamSynchronize")) return st;
    if (host != ~0ull)
      return fail(LN4J_ERR_INVALID_ARGUMENT,
                  "%s: the backward from y (LN4J_FLAG_BACKWARD_FROM_OUTPUT) cannot rebuild xhat where the applied "
                  "gamma is 0: column %llu%s; use the backward from x",
                  fn, host, p.zc ? " (1 + gamma = 0)" : " (gamma = 0)");
  }
  int st;
  switch (form) {
    case 1: st = launch_rows<T, P, A, 1>(p, L.parts, s, fn, dyn); break;
    case 2: st = launch_rows<T, P, A, 2>(p, L.parts, s, fn, dyn); break;
    case 4: st = launch_rows<T, P, A, 4>(p, L.parts, s, fn, dyn); break;
    case 8: st = launch_rows<T, P, A, 8>(p, L.parts, s, fn, dyn); break;
    case 16: st = launch_rows<T, P, A, 16>(p, L.parts, s, fn, dyn); break;
    default: st = launch_rows<T, P, A, 0>(p, L.parts, s, fn, dyn); break;
  }
  if (st != LN4J_OK || !partials) return st;
  const int threads = 256;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((c + threads - 1) / threads, kMaxGrid));
  LN4J_LAUNCH(unsigned(blocks), threads, 0, s, backward_finalize<P, A>)(part_dgamma, part_dbeta, static_cast<P*>(a.dgamma),
                                                               static_cast<P*>(a.dbeta), L.parts, c);
  return cuda_status(cudaGetLastError(), fn, "launch of backward_finalize");
}

}  // namespace

PartLayout part_layout(int64_t rows, int64_t cols) {
  int64_t target = std::min(kMaxParts, std::max<int64_t>(1, kMaxPartialsPerArray / cols));
  target = std::min(target, rows);
  const int64_t rows_per_part = (rows + target - 1) / target;
  return PartLayout{rows_per_part, (rows + rows_per_part - 1) / rows_per_part};
}

int64_t partials_bytes(int64_t rows, int64_t cols) {
  const PartLayout L = part_layout(rows, cols);
  return 2 * L.parts * cols * int64_t(sizeof(double));
}

int64_t workspace_bytes(int64_t rows, int64_t cols) { return partials_bytes(rows, cols) + 16; }

int backward(const BackwardArgs& a, void* workspace, int64_t ws_bytes, cudaStream_t s, const char* fn) {
  const bool f32p = a.p.param_dtype == LN4J_FLOAT32;
  switch (a.p.x_dtype) {
    case LN4J_FLOAT32: return backward_typed<float, float, float>(a, workspace, ws_bytes, s, fn);
    case LN4J_FLOAT64: return backward_typed<double, double, double>(a, workspace, ws_bytes, s, fn);
    case LN4J_BFLOAT16:
      return f32p ? backward_typed<__nv_bfloat16, float, float>(a, workspace, ws_bytes, s, fn)
                  : backward_typed<__nv_bfloat16, __nv_bfloat16, float>(a, workspace, ws_bytes, s, fn);
    case LN4J_FLOAT16:
      return f32p ? backward_typed<__half, float, float>(a, workspace, ws_bytes, s, fn)
                  : backward_typed<__half, __half, float>(a, workspace, ws_bytes, s, fn);
    default: return fail(LN4J_ERR_INTERNAL, "%s: unexpected x_dtype %d", fn, a.p.x_dtype);
  }
}

}  // namespace cuda
}  // namespace ln4j

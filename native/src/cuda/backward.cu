// LayerNorm / RMSNorm backward on CUDA, for each row (g = g_eff: gamma, 1 + gamma with
// LN4J_FLAG_ZERO_CENTERED_GAMMA, 1 when gamma is absent; mean and rstd from the forward):
//     xhat   = (x - mean) * rstd            (RMSNorm: mean = 0)
//     c1     = sum(g*dy) / cols,   c2 = sum(g*dy*xhat) / cols      (RMSNorm: c1 = 0)
//     dx     = rstd * (g*dy - c1 - xhat*c2) (+ dresidual_out when the forward was fused with a residual)
//     dgamma = sum over rows of dy*xhat,   dbeta = sum over rows of dy
// LN4J_FLAG_BACKWARD_FROM_OUTPUT: the x slot holds y; xhat = (y - beta) / g (RMSNorm: y / g), mean is not read.
// Zero-gamma rule (the whole project's): where g_eff[j] == 0, y[j] = beta[j] whatever x was, so xhat[j] cannot be
// rebuilt from y; dx[j] = rstd * (-c1 - xhat[j] * c2) and dgamma[j] both need it. A backward from y with such a
// column therefore fails with LN4J_ERR_ZERO_GAMMA (common/args.h) naming the first one, before any kernel writes (the
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
#include <type_traits>

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

// ---- the host side: a short chain of named decisions, then the launches ---------------------------------------
//   workspace (needed | not) -> form of backward_rows (registers, K = 1..16 | streaming, K = 0) -> where the
//   streaming form keeps its partials (shared memory | workspace) -> zero-gamma gate (backward from y with gamma)
//   -> backward_rows, then backward_finalize when dgamma or dbeta is wanted.
// Every decision that can fail does so before any kernel writes an output.

// Decision: does the call need the workspace? It holds the partials (dgamma or dbeta wanted) and the zero-gamma
// flag of the backward from y with gamma (at partials_bytes); ln4j_cuda_backward_workspace_bytes covers both.
int require_workspace(const BackwardArgs& a, const void* workspace, int64_t ws_bytes, const char* fn) {
  const bool partials = a.dgamma || a.dbeta;
  const bool from_y = (a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  if (!partials && !(from_y && a.gamma)) return LN4J_OK;
  const int64_t need = workspace_bytes(a.rows, a.cols);
  if (!workspace || ws_bytes < need || reinterpret_cast<uintptr_t>(workspace) % 8 != 0)
    return fail(LN4J_ERR_INVALID_ARGUMENT,
                "%s: workspace must be an 8-byte aligned block of >= %lld bytes (ln4j_cuda_backward_workspace_bytes) "
                "when dgamma or dbeta is wanted or with LN4J_FLAG_BACKWARD_FROM_OUTPUT and gamma, got %p, %lld bytes",
                fn, (long long)need, workspace, (long long)ws_bytes);
  return LN4J_OK;
}

// Decision: the form of backward_rows from cols alone: the register form with the fewest elements per thread
// (K = 1, 2, 4, 8, 16; cols <= K * kRegBlock), else the streaming form (K = 0), which serves any cols.
// f gets std::integral_constant<int, K>.
template <class F>
int decide_form(int64_t cols, F&& f) {
  if (cols <= 1 * kRegBlock) return f(std::integral_constant<int, 1>{});
  if (cols <= 2 * kRegBlock) return f(std::integral_constant<int, 2>{});
  if (cols <= 4 * kRegBlock) return f(std::integral_constant<int, 4>{});
  if (cols <= 8 * kRegBlock) return f(std::integral_constant<int, 8>{});
  if (cols <= 16 * kRegBlock) return f(std::integral_constant<int, 16>{});
  return f(std::integral_constant<int, 0>{});
}

// Decision: where the streaming form keeps a part's partials: in shared memory when 2 * cols of them fit the
// device's limit (the opt-in is set on first use), else in place in the workspace. The same operations in the same
// order either way, so the bits do not depend on which the GPU allows. *dyn: the launch's dynamic shared memory
// (the reduction scratch, plus the partials when they go to shared memory).
template <class T, class P, class A, int K>
int decide_partials_place(BwdParams<T, P, A>& p, int64_t* dyn, const char* fn) {
  p.smem_partials = false;
  *dyn = kScratchBytes;
  if (K != 0 || p.part_dgamma == nullptr) return LN4J_OK;  // registers hold them, or there are none
  const int64_t want = kScratchBytes + 2 * p.cols * int64_t(sizeof(A));
  bool fits = false;
  if (int st = smem_fits(backward_rows<T, P, A, 0>, want, &fits, fn, "backward_rows")) return st;
  if (fits) {
    p.smem_partials = true;
    *dyn = want;
  }
  return LN4J_OK;
}

// Gate: the zero-gamma rule of the backward from y with gamma. xhat[j] cannot be rebuilt from y where
// g_eff[j] == 0, so such a call fails before anything is written. The check runs on the device (a tiny kernel
// over gamma, integer atomicMin into 8 bytes at the end of the workspace) and reads back one integer: this one
// mode synchronizes with `stream` before the kernels are launched.
template <class T, class P, class A>
int zero_gamma_gate(const BwdParams<T, P, A>& p, void* workspace, cudaStream_t s, const char* fn) {
  if (!p.from_y || !p.gamma) return LN4J_OK;
  unsigned long long* first =
      reinterpret_cast<unsigned long long*>(static_cast<unsigned char*>(workspace) + partials_bytes(p.rows, p.cols));
  if (int st = cuda_status(cudaMemsetAsync(first, 0xff, sizeof *first, s), fn, "cudaMemsetAsync")) return st;
  const int threads = 256;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((p.cols + threads - 1) / threads, 1024));
  LN4J_LAUNCH(unsigned(blocks), threads, 0, s, first_zero_gamma<P, A>)(p.gamma, p.cols, p.zc, first);
  if (int st = cuda_status(cudaGetLastError(), fn, "launch of first_zero_gamma")) return st;
  unsigned long long host = 0;
  if (int st = cuda_status(cudaMemcpyAsync(&host, first, sizeof host, cudaMemcpyDeviceToHost, s), fn,
                           "cudaMemcpyAsync"))
    return st;
  if (int st = cuda_status(cudaStreamSynchronize(s), fn, "cudaStreamSynchronize")) return st;
  if (host != ~0ull) return fail_zero_gamma(fn, (long long)host, p.zc);
  return LN4J_OK;
}

template <class T, class P, class A, int K>
int launch_rows(const BwdParams<T, P, A>& p, int64_t parts, cudaStream_t s, const char* fn, int64_t smem) {
  LN4J_LAUNCH(unsigned(parts), K > 0 ? kRegBlock : kStreamBlock, size_t(smem), s, backward_rows<T, P, A, K>)(p);
  return cuda_status(cudaGetLastError(), fn, "launch of backward_rows");
}

template <class T, class P, class A>
int launch_finalize(const BwdParams<T, P, A>& p, const BackwardArgs& a, int64_t parts, cudaStream_t s,
                    const char* fn) {
  const int threads = 256;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((p.cols + threads - 1) / threads, kMaxGrid));
  LN4J_LAUNCH(unsigned(blocks), threads, 0, s, backward_finalize<P, A>)(
      p.part_dgamma, p.part_dbeta, static_cast<P*>(a.dgamma), static_cast<P*>(a.dbeta), parts, p.cols);
  return cuda_status(cudaGetLastError(), fn, "launch of backward_finalize");
}

template <class T, class P, class A>
BwdParams<T, P, A> params_of(const BackwardArgs& a, void* workspace, const PartLayout& L) {
  const bool partials = a.dgamma || a.dbeta;
  BwdParams<T, P, A> p;
  p.dy = static_cast<const T*>(a.dy);
  p.dres = static_cast<const T*>(a.dresidual_out);
  p.x = static_cast<const T*>(a.x);
  p.mean = static_cast<const A*>(a.mean);
  p.rstd = static_cast<const A*>(a.rstd);
  p.gamma = static_cast<const P*>(a.gamma);
  p.beta = static_cast<const P*>(a.beta);
  p.dx = static_cast<T*>(a.dx);
  p.part_dgamma = partials ? static_cast<A*>(workspace) : nullptr;
  p.part_dbeta = partials ? p.part_dgamma + L.parts * a.cols : nullptr;
  p.rows = a.rows;
  p.cols = a.cols;
  p.rows_per_part = L.rows_per_part;
  p.rms = a.norm == LN4J_NORM_RMS;
  p.zc = (a.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  p.from_y = (a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  p.smem_partials = false;
  return p;
}

template <class T, class P, class A>
int backward_typed(const BackwardArgs& a, void* workspace, int64_t ws_bytes, cudaStream_t s, const char* fn) {
  if (int st = require_workspace(a, workspace, ws_bytes, fn)) return st;
  const PartLayout L = part_layout(a.rows, a.cols);
  BwdParams<T, P, A> p = params_of<T, P, A>(a, workspace, L);
  clear_stale_error();
  return decide_form(a.cols, [&](auto form) {
    constexpr int K = decltype(form)::value;
    int64_t dyn = 0;
    if (int st = decide_partials_place<T, P, A, K>(p, &dyn, fn)) return st;
    if (int st = zero_gamma_gate(p, workspace, s, fn)) return st;
    if (int st = launch_rows<T, P, A, K>(p, L.parts, s, fn, dyn)) return st;
    return p.part_dgamma ? launch_finalize(p, a, L.parts, s, fn) : LN4J_OK;
  });
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

int backward(const BackwardArgs& a, const Exec& exec, const char* fn) {
  const cudaStream_t s = static_cast<cudaStream_t>(exec.stream);
  return visit_dtypes(
      a.x_dtype, a.param_dtype,
      [&](auto x, auto p) {
        constexpr int32_t X = decltype(x)::value, P = decltype(p)::value;
        return backward_typed<CudaType<X>, CudaType<P>, CudaAcc<X>>(a, exec.workspace, exec.workspace_bytes, s, fn);
      },
      [&] { return fail(LN4J_ERR_INTERNAL, "%s: unexpected dtypes %d/%d", fn, a.x_dtype, a.param_dtype); });
}

}  // namespace cuda
}  // namespace ln4j

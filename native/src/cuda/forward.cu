// LayerNorm forward on CUDA, for each row of `cols` elements:
//     mean = sum(x) / cols
//     var  = sum((x - mean)^2) / cols          (never E[x^2] - E[x]^2)
//     rstd = 1 / sqrt(var + eps)
//     xhat = (x - mean) * rstd
//     y    = xhat * gamma + beta               (gamma = 1, beta = 0 when absent)
// Accumulation in float (double for FLOAT64); mean and rstd are stored in that type.
//
// Regimes, chosen by cols (forward() at the end):
//   group : cols <= 1024. A group of G lanes (G = 1..32, several rows per warp when narrow) holds the row in
//           registers, 16-byte loads/stores when the row is aligned, scalar otherwise; mean and var are two
//           passes over the registers with xor-butterfly sums.
//   smem  : cols * sizeof(acc) fits the block's shared memory. One block per row; each thread keeps its
//           elements in shared memory (x is read once), two passes over it, block sums in fixed order.
//   stream: any larger cols. One block per row; Welford per thread merged with Chan's formula over the block,
//           then a second pass re-reads x to normalize.
// All indexing of rows and elements is 64-bit; grids stride over rows.
#include <algorithm>

#include "cuda_internal.h"
#include "cuda_util.cuh"

namespace ln4j {
namespace cuda {
namespace {

constexpr int kGroupBlock = 128;   // threads per block in the group regime
constexpr int kRowBlock = 512;     // threads per block in the smem and stream regimes
constexpr int64_t kMaxGrid = 1 << 20;

template <class T, class P, class A>
struct FwdParams {
  const T* x;
  const P* gamma;
  const P* beta;
  T* y;
  A* mean;
  A* rstd;
  int64_t rows;
  int64_t cols;
  A eps;
};

// ---- group regime: G lanes per row, K packs of V elements per lane, element j = (k*G + lane)*V + v ----
template <class T, class P, class A, int G, int K>
__global__ void __launch_bounds__(kGroupBlock) forward_group(FwdParams<T, P, A> p) {
  constexpr int V = Pack<T>::V;
  using PackT = typename Pack<T>::type;
  const int lane = threadIdx.x % G;
  const int64_t groups_per_block = kGroupBlock / G;
  const int64_t group = int64_t(blockIdx.x) * groups_per_block + threadIdx.x / G;
  // All lanes of a warp run the same number of iterations (the warp's first row decides) so the shuffles
  // always see the full warp; groups past the last row compute on zeros and store nothing.
  const int64_t warp_first = group - (threadIdx.x % 32) / G;
  const int64_t stride = int64_t(gridDim.x) * groups_per_block;
  const int cols = int(p.cols);
  for (int64_t base = warp_first; base < p.rows; base += stride) {
    const int64_t row = base + (group - warp_first);
    const bool active = row < p.rows;
    const T* xr = p.x + (active ? row : 0) * p.cols;
    T* yr = p.y + (active ? row : 0) * p.cols;
    const bool vec = V > 1 && aligned16(xr) && aligned16(yr);
    A buf[K * V];
    A sum = A(0);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int j0 = (k * G + lane) * V;
      if (vec && active && j0 + V <= cols) {
        PackT pk = *reinterpret_cast<const PackT*>(xr + j0);
#pragma unroll
        for (int v = 0; v < V; ++v) buf[k * V + v] = A(Conv<T>::load(pk.v[v]));
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const int j = j0 + v;
          buf[k * V + v] = (active && j < cols) ? A(Conv<T>::load(xr[j])) : A(0);
        }
      }
#pragma unroll
      for (int v = 0; v < V; ++v) sum += buf[k * V + v];
    }
    const A mean = group_sum(sum, G) / A(cols);
    A sq = A(0);
#pragma unroll
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int v = 0; v < V; ++v) {
        const int j = (k * G + lane) * V + v;
        const A d = buf[k * V + v] - mean;
        if (j < cols) sq += d * d;
      }
    }
    const A var = group_sum(sq, G) / A(cols);
    const A rstd = A(1) / sqrt(var + p.eps);
    if (!active) continue;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int j0 = (k * G + lane) * V;
      if (vec && j0 + V <= cols) {
        PackT pk;
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const int j = j0 + v;
          const A xhat = (buf[k * V + v] - mean) * rstd;
          pk.v[v] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
        }
        *reinterpret_cast<PackT*>(yr + j0) = pk;
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const int j = j0 + v;
          if (j < cols) {
            const A xhat = (buf[k * V + v] - mean) * rstd;
            yr[j] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
          }
        }
      }
    }
    if (lane == 0) {
      if (p.mean) p.mean[row] = mean;
      if (p.rstd) p.rstd[row] = rstd;
    }
  }
}

// Calls f(j, slot) for every element this thread owns in a row of a block-per-row regime: packs
// p = tid, tid + blockDim, ... when `vec` (then the scalar tail), else elements j = tid, tid + blockDim, ...
// `slot` numbers the thread's elements 0, 1, 2, ... in the same order in every pass.
template <class T, class F>
__device__ __forceinline__ void for_each_owned(int64_t cols, bool vec, F&& f) {
  constexpr int V = Pack<T>::V;
  int64_t slot = 0;
  if (vec) {
    const int64_t packs = cols / V;
    for (int64_t q = threadIdx.x; q < packs; q += blockDim.x)
      for (int v = 0; v < V; ++v) f(q * V + v, slot++);
    for (int64_t j = packs * V + threadIdx.x; j < cols; j += blockDim.x) f(j, slot++);
  } else {
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) f(j, slot++);
  }
}

// ---- smem regime: each thread's elements in shared memory at slot * blockDim + tid (x read once) ----
template <class T, class P, class A>
__global__ void __launch_bounds__(kRowBlock) forward_smem(FwdParams<T, P, A> p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  A* own = reinterpret_cast<A*>(smem_raw);
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const T* xr = p.x + row * p.cols;
    T* yr = p.y + row * p.cols;
    const bool vec = aligned16(xr) && aligned16(yr);
    constexpr int V = Pack<T>::V;
    using PackT = typename Pack<T>::type;
    A sum = A(0);
    if (vec) {  // the same ownership as for_each_owned, with one 16-byte load per pack
      int64_t slot = 0;
      for (int64_t q = threadIdx.x; q < p.cols / V; q += blockDim.x) {
        const PackT pk = reinterpret_cast<const PackT*>(xr)[q];
        for (int v = 0; v < V; ++v) {
          const A xv = A(Conv<T>::load(pk.v[v]));
          own[slot++ * blockDim.x + threadIdx.x] = xv;
          sum += xv;
        }
      }
      for (int64_t j = p.cols / V * V + threadIdx.x; j < p.cols; j += blockDim.x) {
        const A xv = A(Conv<T>::load(xr[j]));
        own[slot++ * blockDim.x + threadIdx.x] = xv;
        sum += xv;
      }
    } else {
      for_each_owned<T>(p.cols, false, [&](int64_t j, int64_t slot) {
        const A xv = A(Conv<T>::load(xr[j]));
        own[slot * blockDim.x + threadIdx.x] = xv;
        sum += xv;
      });
    }
    const A mean = block_sum(sum) / A(p.cols);
    A sq = A(0);
    for_each_owned<T>(p.cols, vec, [&](int64_t j, int64_t slot) {
      const A d = own[slot * blockDim.x + threadIdx.x] - mean;
      sq += d * d;
    });
    const A var = block_sum(sq) / A(p.cols);
    const A rstd = A(1) / sqrt(var + p.eps);
    if (vec) {  // one 16-byte store per pack
      int64_t slot = 0;
      for (int64_t q = threadIdx.x; q < p.cols / V; q += blockDim.x) {
        PackT pk;
        for (int v = 0; v < V; ++v) {
          const int64_t j = q * V + v;
          const A xhat = (own[slot++ * blockDim.x + threadIdx.x] - mean) * rstd;
          pk.v[v] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
        }
        reinterpret_cast<PackT*>(yr)[q] = pk;
      }
      for (int64_t j = p.cols / V * V + threadIdx.x; j < p.cols; j += blockDim.x) {
        const A xhat = (own[slot++ * blockDim.x + threadIdx.x] - mean) * rstd;
        yr[j] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
      }
    } else {
      for_each_owned<T>(p.cols, false, [&](int64_t j, int64_t slot) {
        const A xhat = (own[slot * blockDim.x + threadIdx.x] - mean) * rstd;
        yr[j] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
      });
    }
    if (threadIdx.x == 0) {
      if (p.mean) p.mean[row] = mean;
      if (p.rstd) p.rstd[row] = rstd;
    }
  }
}

// ---- stream regime: Welford per thread, Chan merge over the block, normalize re-reading x ----
template <class T, class P, class A>
__global__ void __launch_bounds__(kRowBlock) forward_stream(FwdParams<T, P, A> p) {
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const T* xr = p.x + row * p.cols;
    T* yr = p.y + row * p.cols;
    Welford<A> w{A(0), A(0), A(0)};
    for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) welford_push(w, A(Conv<T>::load(xr[j])));
    const Welford<A> all = block_welford(w);
    const A mean = all.mean;
    A var = all.m2 / all.count;
    var = var > A(0) ? var : A(0);
    const A rstd = A(1) / sqrt(var + p.eps);
    for (int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) {
      const A xhat = (A(Conv<T>::load(xr[j])) - mean) * rstd;
      yr[j] = Conv<T>::store(xhat * gamma_at<P, A>(p.gamma, j) + beta_at<P, A>(p.beta, j));
    }
    if (threadIdx.x == 0) {
      if (p.mean) p.mean[row] = mean;
      if (p.rstd) p.rstd[row] = rstd;
    }
  }
}

int64_t grid_for(int64_t units) { return std::max<int64_t>(1, std::min(units, kMaxGrid)); }

template <class T, class P, class A, int G, int K>
int launch_group(const FwdParams<T, P, A>& p, cudaStream_t s, const char* fn) {
  const int64_t rows_per_block = kGroupBlock / G;
  const int64_t blocks = grid_for((p.rows + rows_per_block - 1) / rows_per_block);
  forward_group<T, P, A, G, K><<<unsigned(blocks), kGroupBlock, 0, s>>>(p);
  return cuda_status(cudaGetLastError(), fn, "launch of forward_group");
}

// Group regime: the smallest G (then K) whose G*K*V lanes cover cols.
template <class T, class P, class A>
int forward_group_dispatch(const FwdParams<T, P, A>& p, cudaStream_t s, const char* fn) {
  constexpr int V = Pack<T>::V;
  const int64_t packs = (p.cols + V - 1) / V;
  if (packs <= 1) return launch_group<T, P, A, 1, 1>(p, s, fn);
  if (packs <= 2) return launch_group<T, P, A, 2, 1>(p, s, fn);
  if (packs <= 4) return launch_group<T, P, A, 4, 1>(p, s, fn);
  if (packs <= 8) return launch_group<T, P, A, 8, 1>(p, s, fn);
  if (packs <= 16) return launch_group<T, P, A, 16, 1>(p, s, fn);
  if (packs <= 32) return launch_group<T, P, A, 32, 1>(p, s, fn);
  if (packs <= 64) return launch_group<T, P, A, 32, 2>(p, s, fn);
  if (packs <= 128) return launch_group<T, P, A, 32, 4>(p, s, fn);
  if constexpr (V <= 4) {
    if (packs <= 256) return launch_group<T, P, A, 32, 8>(p, s, fn);
  }
  if constexpr (V <= 2) {
    if (packs <= 512) return launch_group<T, P, A, 32, 16>(p, s, fn);
  }
  return fail(LN4J_ERR_INTERNAL, "%s: group regime called with cols=%lld", fn, (long long)p.cols);
}

template <class T, class P, class A>
int forward_typed(const ForwardArgs& a, cudaStream_t s, const char* fn) {
  FwdParams<T, P, A> p{static_cast<const T*>(a.x), static_cast<const P*>(a.gamma), static_cast<const P*>(a.beta),
                       static_cast<T*>(a.y),       static_cast<A*>(a.mean),         static_cast<A*>(a.rstd),
                       a.p.rows,                   a.p.cols,                        A(a.p.eps)};
  if (p.cols <= 1024) return forward_group_dispatch(p, s, fn);

  // smem regime: the element slots of the busiest thread, times blockDim, times sizeof(A).
  constexpr int V = Pack<T>::V;
  const int64_t slots = (p.cols / V + kRowBlock - 1) / kRowBlock * V + 1;
  const int64_t smem = slots * kRowBlock * int64_t(sizeof(A));
  int device = 0, optin = 0;
  if (int st = cuda_status(cudaGetDevice(&device), fn, "cudaGetDevice")) return st;
  if (int st = cuda_status(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), fn,
                           "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"))
    return st;
  const int64_t blocks = grid_for(p.rows);
  // The block's static shared memory (block_sum: at most 32 doubles) counts against the same limit.
  constexpr int64_t kStaticReserve = 1024;
  if (smem + kStaticReserve <= optin) {
    if (smem + kStaticReserve > 48 * 1024) {
      if (int st = cuda_status(cudaFuncSetAttribute(forward_smem<T, P, A>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
                               fn, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"))
        return st;
    }
    forward_smem<T, P, A><<<unsigned(blocks), kRowBlock, size_t(smem), s>>>(p);
    return cuda_status(cudaGetLastError(), fn, "launch of forward_smem");
  }
  forward_stream<T, P, A><<<unsigned(blocks), kRowBlock, 0, s>>>(p);
  return cuda_status(cudaGetLastError(), fn, "launch of forward_stream");
}

}  // namespace

int forward(const ForwardArgs& a, cudaStream_t s, const char* fn) {
  const bool f32p = a.p.param_dtype == LN4J_FLOAT32;
  switch (a.p.x_dtype) {
    case LN4J_FLOAT32: return forward_typed<float, float, float>(a, s, fn);
    case LN4J_FLOAT64: return forward_typed<double, double, double>(a, s, fn);
    case LN4J_BFLOAT16:
      return f32p ? forward_typed<__nv_bfloat16, float, float>(a, s, fn)
                  : forward_typed<__nv_bfloat16, __nv_bfloat16, float>(a, s, fn);
    case LN4J_FLOAT16:
      return f32p ? forward_typed<__half, float, float>(a, s, fn) : forward_typed<__half, __half, float>(a, s, fn);
    default: return fail(LN4J_ERR_INTERNAL, "%s: unexpected x_dtype %d", fn, a.p.x_dtype);
  }
}

}  // namespace cuda
}  // namespace ln4j

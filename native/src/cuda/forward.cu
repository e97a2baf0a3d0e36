// LayerNorm / RMSNorm forward on CUDA, for each row of `cols` elements of s (s = x, or x + residual when fused):
//     mean = sum(s) / cols                      (LayerNorm; RMSNorm: mean = 0)
//     var  = sum((s - mean)^2) / cols           (never E[x^2] - E[x]^2; RMSNorm: the mean square)
//     rstd = 1 / sqrt(var + eps)
//     xhat = (s - mean) * rstd
//     y    = xhat * g_eff + beta                (g_eff = gamma, 1 + gamma with LN4J_FLAG_ZERO_CENTERED_GAMMA,
//                                                1 when gamma is absent; beta = 0 when absent)
// Fused residual: s = x + residual is formed in the accumulation type, written rounded to residual_out when that
// is not NULL, and the statistics use the unrounded s (as the CPU kernels do).
// Accumulation in float (double for FLOAT64); mean and rstd are stored in that type. RMS / zero-centred gamma /
// residual are runtime switches (uniform over the grid), not template parameters, to keep the kernel count low.
//
// Regimes, chosen by cols (forward() at the end):
//   group : cols <= 1024. A group of G lanes (G = 1..32, several rows per warp when narrow) holds the row in
//           registers, 16-byte loads/stores when the row is aligned, scalar otherwise; mean and var are two
//           passes over the registers with xor-butterfly sums.
//   smem  : cols * sizeof(acc) fits the block's shared memory. One block per row; each thread keeps its
//           elements in shared memory (s is read once), two passes over it, block sums in fixed order.
//   stream: any larger cols. One block per row, the same passes and the same order of operations as smem, but
//           each pass re-reads the row from global memory (three reads of x, and of residual when fused).
// smem and stream give the same bits: which one runs depends on the GPU's opt-in shared memory, the result does
// not. Every kept sum and product is explicitly rounded (add_rn/mul_rn, cuda_util.cuh), so no architecture's FMA
// contraction changes the bits either.
// In-place residual updates are supported: residual_out may alias residual or x (and y may alias x). Each element
// is read and written by the thread that owns it, and residual_out is written in the last pass that reads s.
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
  const T* residual;  // NULL unless fused
  const P* gamma;
  const P* beta;
  T* y;
  T* residual_out;  // NULL unless wanted
  A* mean;          // NULL for RMSNorm or when not wanted
  A* rstd;
  int64_t rows;
  int64_t cols;
  A eps;
  bool rms;  // RMSNorm: no centring
  bool zc;   // zero-centred gamma
};

// One element of s at j of the current row: x[j] (+ residual[j]), in the accumulation type; writes the rounded
// s to residual_out when wanted.
template <class T, class P, class A>
__device__ __forceinline__ A load_s(const FwdParams<T, P, A>& p, const T* xr, const T* rr, T* sr, int64_t j) {
  A v = A(Conv<T>::load(xr[j]));
  if (rr) {
    v = add_rn(v, A(Conv<T>::load(rr[j])));
    if (sr) sr[j] = Conv<T>::store(v);
  }
  return v;
}

// Same for the V elements of pack q (16-byte loads and store; all rows aligned).
template <class T, class P, class A>
__device__ __forceinline__ void load_s_pack(const T* xr, const T* rr, T* sr, int64_t q, A* out) {
  constexpr int V = Pack<T>::V;
  using PackT = typename Pack<T>::type;
  const PackT pk = reinterpret_cast<const PackT*>(xr)[q];
#pragma unroll
  for (int v = 0; v < V; ++v) out[v] = A(Conv<T>::load(pk.v[v]));
  if (rr) {
    const PackT pr = reinterpret_cast<const PackT*>(rr)[q];
#pragma unroll
    for (int v = 0; v < V; ++v) out[v] = add_rn(out[v], A(Conv<T>::load(pr.v[v])));
    if (sr) {
      PackT ps;
#pragma unroll
      for (int v = 0; v < V; ++v) ps.v[v] = Conv<T>::store(out[v]);
      reinterpret_cast<PackT*>(sr)[q] = ps;
    }
  }
}

// Every row pointer of this row is 16-byte aligned (NULL counts as aligned).
template <class T, class P, class A>
__device__ __forceinline__ bool row_aligned(const FwdParams<T, P, A>& p, int64_t row) {
  const int64_t o = row * p.cols;
  return aligned16(p.x + o) && aligned16(p.y + o) && (!p.residual || aligned16(p.residual + o)) &&
         (!p.residual_out || aligned16(p.residual_out + o));
}

template <class T, class P, class A>
__device__ __forceinline__ T affine_out(const FwdParams<T, P, A>& p, A xhat, int64_t j) {
  return Conv<T>::store(add_rn(mul_rn(xhat, gamma_at<P, A>(p.gamma, j, p.zc)), beta_at<P, A>(p.beta, j)));
}

template <class A>
__device__ __forceinline__ A xhat_of(A s, A mean, A rstd) {
  return mul_rn(sub_rn(s, mean), rstd);
}

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
    const int64_t o = (active ? row : 0) * p.cols;
    const T* xr = p.x + o;
    const T* rr = p.residual ? p.residual + o : nullptr;
    T* sr = p.residual_out ? p.residual_out + o : nullptr;
    T* yr = p.y + o;
    const bool vec = V > 1 && row_aligned(p, active ? row : 0);
    A buf[K * V];
    A sum = A(0);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int j0 = (k * G + lane) * V;
      if (vec && active && j0 + V <= cols) {
        load_s_pack<T, P, A>(xr, rr, sr, j0 / V, buf + k * V);
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const int j = j0 + v;
          buf[k * V + v] = (active && j < cols) ? load_s(p, xr, rr, sr, j) : A(0);
        }
      }
#pragma unroll
      for (int v = 0; v < V; ++v) sum = add_rn(sum, buf[k * V + v]);
    }
    const A mean = p.rms ? A(0) : group_sum(sum, G) / A(cols);
    A sq = A(0);
#pragma unroll
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int v = 0; v < V; ++v) {
        const int j = (k * G + lane) * V + v;
        const A d = sub_rn(buf[k * V + v], mean);
        if (j < cols) sq = add_rn(sq, mul_rn(d, d));
      }
    }
    const A var = group_sum(sq, G) / A(cols);
    const A rstd = A(1) / sqrt(add_rn(var, p.eps));
    if (!active) continue;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int j0 = (k * G + lane) * V;
      if (vec && j0 + V <= cols) {
        PackT pk;
#pragma unroll
        for (int v = 0; v < V; ++v) pk.v[v] = affine_out(p, xhat_of(buf[k * V + v], mean, rstd), j0 + v);
        *reinterpret_cast<PackT*>(yr + j0) = pk;
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const int j = j0 + v;
          if (j < cols) yr[j] = affine_out(p, xhat_of(buf[k * V + v], mean, rstd), j);
        }
      }
    }
    if (lane == 0) {
      if (p.mean) p.mean[row] = mean;
      if (p.rstd) p.rstd[row] = rstd;
    }
  }
}

// ---- smem and stream regimes: one block per row. Thread `tid` owns, in this order (its slots 0, 1, 2, ...):
// with 16-byte packs (vec), packs q = tid, tid + blockDim, ... (V elements each), then the scalar tail
// j = packs*V + tid, ...; otherwise elements j = tid, tid + blockDim, ... Both regimes visit the slots in this
// order in every pass, so their sums are the same operations in the same order. ----
template <class T, class P, class A, class F>
__device__ __forceinline__ void for_each_owned(const T* xr, const T* rr, T* sr, int64_t cols, bool vec, F&& f) {
  constexpr int V = Pack<T>::V;
  const int64_t tid = threadIdx.x, nt = blockDim.x;
  const int64_t packs = vec ? cols / V : 0;
  int64_t slot = 0;
  for (int64_t q = tid; q < packs; q += nt) {
    A v8[V];
    load_s_pack<T, P, A>(xr, rr, sr, q, v8);
#pragma unroll
    for (int v = 0; v < V; ++v) f(slot++, q * V + v, v8[v]);
  }
  for (int64_t j = packs * V + tid; j < cols; j += nt) {
    A sv = A(Conv<T>::load(xr[j]));
    if (rr) {
      sv = add_rn(sv, A(Conv<T>::load(rr[j])));
      if (sr) sr[j] = Conv<T>::store(sv);
    }
    f(slot++, j, sv);
  }
}

// smem regime: the owned s values in shared memory at slot * blockDim + tid (after the reduction scratch), so
// x (and residual) are read once; residual_out is written in that one read.
template <class T, class P, class A>
__global__ void __launch_bounds__(kRowBlock) forward_smem(FwdParams<T, P, A> p) {
  constexpr int V = Pack<T>::V;
  using PackT = typename Pack<T>::type;
  LN4J_DYNAMIC_SMEM(unsigned char, smem_raw);
  A* scratch = reinterpret_cast<A*>(smem_raw);
  A* own = reinterpret_cast<A*>(smem_raw + kScratchBytes);
  const int64_t tid = threadIdx.x, nt = blockDim.x;
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const int64_t o = row * p.cols;
    const T* xr = p.x + o;
    const T* rr = p.residual ? p.residual + o : nullptr;
    T* sr = p.residual_out ? p.residual_out + o : nullptr;
    T* yr = p.y + o;
    const bool vec = row_aligned(p, row);
    const int64_t packs = vec ? p.cols / V : 0;
    A sum = A(0);
    int64_t nslots = 0;
    for_each_owned<T, P, A>(xr, rr, sr, p.cols, vec, [&](int64_t slot, int64_t, A sv) {
      own[slot * nt + tid] = sv;
      sum = add_rn(sum, sv);
      nslots = slot + 1;
    });
    const A mean = p.rms ? A(0) : block_sum(sum, scratch) / A(p.cols);
    A sq = A(0);
    for (int64_t k = 0; k < nslots; ++k) {
      const A d = sub_rn(own[k * nt + tid], mean);
      sq = add_rn(sq, mul_rn(d, d));
    }
    const A var = block_sum(sq, scratch) / A(p.cols);
    const A rstd = A(1) / sqrt(add_rn(var, p.eps));
    int64_t slot = 0;
    for (int64_t q = tid; q < packs; q += nt) {
      PackT pk;
#pragma unroll
      for (int v = 0; v < V; ++v) pk.v[v] = affine_out(p, xhat_of(own[slot++ * nt + tid], mean, rstd), q * V + v);
      reinterpret_cast<PackT*>(yr)[q] = pk;
    }
    for (int64_t j = packs * V + tid; j < p.cols; j += nt)
      yr[j] = affine_out(p, xhat_of(own[slot++ * nt + tid], mean, rstd), j);
    if (threadIdx.x == 0) {
      if (p.mean) p.mean[row] = mean;
      if (p.rstd) p.rstd[row] = rstd;
    }
  }
}

// stream regime (rows too long for shared memory): the passes of the smem regime, each re-reading s from global
// memory in the same slot order. residual_out is written only in the last pass: it may alias residual or x, which
// the first two passes still read.
template <class T, class P, class A>
__global__ void __launch_bounds__(kRowBlock) forward_stream(FwdParams<T, P, A> p) {
  constexpr int V = Pack<T>::V;
  using PackT = typename Pack<T>::type;
  LN4J_DYNAMIC_SMEM(unsigned char, smem_raw);
  A* scratch = reinterpret_cast<A*>(smem_raw);
  const int64_t tid = threadIdx.x, nt = blockDim.x;
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const int64_t o = row * p.cols;
    const T* xr = p.x + o;
    const T* rr = p.residual ? p.residual + o : nullptr;
    T* sr = p.residual_out ? p.residual_out + o : nullptr;
    T* yr = p.y + o;
    const bool vec = row_aligned(p, row);
    const int64_t packs = vec ? p.cols / V : 0;
    A sum = A(0);
    for_each_owned<T, P, A>(xr, rr, nullptr, p.cols, vec, [&](int64_t, int64_t, A sv) { sum = add_rn(sum, sv); });
    const A mean = p.rms ? A(0) : block_sum(sum, scratch) / A(p.cols);
    A sq = A(0);
    for_each_owned<T, P, A>(xr, rr, nullptr, p.cols, vec, [&](int64_t, int64_t, A sv) {
      const A d = sub_rn(sv, mean);
      sq = add_rn(sq, mul_rn(d, d));
    });
    const A var = block_sum(sq, scratch) / A(p.cols);
    const A rstd = A(1) / sqrt(add_rn(var, p.eps));
    for (int64_t q = tid; q < packs; q += nt) {
      A v8[V];
      load_s_pack<T, P, A>(xr, rr, sr, q, v8);
      PackT pk;
#pragma unroll
      for (int v = 0; v < V; ++v) pk.v[v] = affine_out(p, xhat_of(v8[v], mean, rstd), q * V + v);
      reinterpret_cast<PackT*>(yr)[q] = pk;
    }
    for (int64_t j = packs * V + tid; j < p.cols; j += nt) {
      A sv = A(Conv<T>::load(xr[j]));
      if (rr) {
        sv = add_rn(sv, A(Conv<T>::load(rr[j])));
        if (sr) sr[j] = Conv<T>::store(sv);
      }
      yr[j] = affine_out(p, xhat_of(sv, mean, rstd), j);
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
  LN4J_LAUNCH(unsigned(blocks), kGroupBlock, 0, s, forward_group<T, P, A, G, K>)(p);
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
  FwdParams<T, P, A> p;
  p.x = static_cast<const T*>(a.x);
  p.residual = static_cast<const T*>(a.residual);
  p.gamma = static_cast<const P*>(a.gamma);
  p.beta = static_cast<const P*>(a.beta);
  p.y = static_cast<T*>(a.y);
  p.residual_out = a.residual ? static_cast<T*>(a.residual_out) : nullptr;
  p.mean = a.norm == LN4J_NORM_RMS ? nullptr : static_cast<A*>(a.mean);
  p.rstd = static_cast<A*>(a.rstd);
  p.rows = a.rows;
  p.cols = a.cols;
  p.eps = A(a.eps);
  p.rms = a.norm == LN4J_NORM_RMS;
  p.zc = (a.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  clear_stale_error();
  if (p.cols <= 1024) return forward_group_dispatch(p, s, fn);

  // smem regime: the element slots of the busiest thread, times blockDim, times sizeof(A), after the scratch.
  // Which regime runs depends on the device's limit; the bits do not (see the top of this file).
  constexpr int V = Pack<T>::V;
  const int64_t slots = (p.cols / V + kRowBlock - 1) / kRowBlock * V + 1;
  const int64_t smem = kScratchBytes + slots * kRowBlock * int64_t(sizeof(A));
  const int64_t blocks = grid_for(p.rows);
  bool fits = false;
  if (int st = smem_fits(forward_smem<T, P, A>, smem, &fits, fn, "forward_smem")) return st;
  if (fits) {
    LN4J_LAUNCH(unsigned(blocks), kRowBlock, size_t(smem), s, forward_smem<T, P, A>)(p);
    return cuda_status(cudaGetLastError(), fn, "launch of forward_smem");
  }
  LN4J_LAUNCH(unsigned(blocks), kRowBlock, size_t(kScratchBytes), s, forward_stream<T, P, A>)(p);
  return cuda_status(cudaGetLastError(), fn, "launch of forward_stream");
}

}  // namespace

int forward(const ForwardArgs& a, const Exec& exec, const char* fn) {
  const cudaStream_t s = static_cast<cudaStream_t>(exec.stream);
  return visit_dtypes(
      a.x_dtype, a.param_dtype,
      [&](auto x, auto p) {
        constexpr int32_t X = decltype(x)::value, P = decltype(p)::value;
        return forward_typed<CudaType<X>, CudaType<P>, CudaAcc<X>>(a, s, fn);
      },
      [&] { return fail(LN4J_ERR_INTERNAL, "%s: unexpected dtypes %d/%d", fn, a.x_dtype, a.param_dtype); });
}

}  // namespace cuda
}  // namespace ln4j

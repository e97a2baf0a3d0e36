// Row statistics written once, for every backend (CPU kernels, CUDA kernels, RMSNorm): plain C++ that nvcc can
// also compile (LN4J_HD marks the functions __host__ __device__ there).
//
// Two stable ways to get mean and biased variance of a row, never E[x^2] - E[x]^2:
//  * Corrected two-pass (Bjorck; Chan, Golub, LeVeque 1983), used by the CPU kernels, whose rows are hot in cache:
//      pass 1: m0 = sum(x) / n                      (a shift close to the mean)
//      pass 2: s1 = sum(x - m0), s2 = sum((x - m0)^2)
//      c = s1 / n,  mean = m0 + c,  var = s2 / n - c^2
//    The correction c removes the error of m0 to first order; since |c| is tiny compared with the spread,
//    c^2 is a tiny correction too (no cancellation). Keeping mean as the pair (m0, c) lets the forward compute
//    x - mean as (x - m0) - c, where x - m0 is exact (Sterbenz) for rows with a large mean.
//  * Welford updates merged with Chan's formula (one pass, for kernels that see a row only once, e.g. CUDA).
#pragma once

#if defined(__CUDACC__)
#define LN4J_HD __host__ __device__ __forceinline__
#else
#define LN4J_HD inline
#endif

namespace ln4j {

// Finishes a corrected two-pass: from n, m0, s1 = sum(x - m0), s2 = sum((x - m0)^2) gives the correction c
// (mean = m0 + c) and the biased variance (clamped at 0 against rounding).
template <class A>
LN4J_HD void corrected_two_pass(A n, A s1, A s2, A* c, A* var) {
  A cc = s1 / n;
  A v = s2 / n - cc * cc;
  *c = cc;
  *var = v > A(0) ? v : (v == v ? A(0) : v);  // keep NaN
}

// Running statistics of `count` values: mean and m2 = sum((x - mean)^2).
template <class A>
struct Welford {
  A count;
  A mean;
  A m2;
};

template <class A>
LN4J_HD void welford_push(Welford<A>& w, A x) {
  w.count += A(1);
  A d = x - w.mean;
  w.mean += d / w.count;
  w.m2 += d * (x - w.mean);
}

// Chan et al.: merge b into a.
template <class A>
LN4J_HD void welford_merge(Welford<A>& a, const Welford<A>& b) {
  if (b.count == A(0)) return;
  if (a.count == A(0)) {
    a = b;
    return;
  }
  A n = a.count + b.count;
  A d = b.mean - a.mean;
  A fb = b.count / n;
  a.mean += d * fb;
  a.m2 += b.m2 + d * d * a.count * fb;
  a.count = n;
}

}  // namespace ln4j

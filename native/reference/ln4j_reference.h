// The float64 judge of every kernel check: dtype codecs written independently of the library, the reference of
// one row (long double, enough to judge FLOAT64 too) and the tolerance model derived from rounding. Used by the
// CPU and CUDA kernel tests (native/tests) and the benchmark's validation (native/bench); the Java port
// (cli/Reference.java) is checked against it (ln4j_reference_cases + ReferencePortTest), and the judge itself by
// ln4j_reference_selftest (codecs on every 16-bit pattern, closed-form rows, the models' constants).
//
// Tolerance model (per element; u = unit roundoff of the accumulation type, uo of the output dtype, up of the
// parameter dtype; g = error bound of a row sum relative to the sum of its terms' magnitudes, gc the same for
// the column sums dgamma/dbeta over rows). Two judged orders, with the constants each judge has always used:
//  * known order (the CPU kernels, native/tests/test_cpu.cpp): blocked sums, g = blocked_sum_growth (L
//    accumulators, then a tree; Higham, Accuracy and Stability, 2nd ed., eq. 4.4); column sums in per-block
//    partials added in block order, depth <= rows: gc = (rows + 4) u; finish constants ky = 2, kdx = 3,
//    kout = 1, kc2 = 4, the second-order term dc2 delta, and the FLOAT16 subnormal floor (2^-25).
//  * unknown order (the benchmark judges ours, oneDNN, PyTorch and CUDA alike, native/bench): the random-walk
//    bound g = 4 (sqrt n + log2(n+1) + 4) u over cols, gc the same over rows; ky = 4, kdx = 4, kout = 4,
//    kc2 = 0, no second-order term and no subnormal floor (as the harness has always judged).
//  * Statistics. The computed xhat is the exact one times (1 + d) plus a, |d| <= rel, |a| <= abs:
//      shifted (corrected two-pass, common/stats.h):  rel = g/2 + 6u,  abs = u |mean| rstd + g,
//                                                      mean off by <= u |mean| + g sd
//      unshifted (algorithm unknown):                 rel = g + 4u,    abs = g mean|x| rstd,
//                                                      mean off by <= g mean|x| (the finish's roundings are in
//                                                      the random-walk g's "+ 4")
//    rstd: <= rel rstd.
//  * y = xhat g' + beta:  |dy| <= |g'| (|xhat| rel + abs) + ky u (|xhat g'| + |beta|) + uo |y| + floor.
//  * dx = rstd (g' dy - c1 - xhat c2), c1 = mean(g' dy), c2 = mean(g' dy xhat): c1 off by dc1 = g mean|g' dy|,
//    c2 by dc2 = (g + kc2 u) mean|g' dy xhat| + mean(|g' dy| delta), where delta bounds the error of the xhat
//    the backward reads (0 from exact saved statistics);
//      |ddx| <= rstd (dc1 + |xhat| dc2 + kdx u (|g' dy| + |c1| + |xhat c2|) + (|c2| [+ dc2]) delta)
//               + (uo + kout u) |dx| + u |dresidual| + floor      (dx here includes the added dresidual).
//  * dgamma = sum over rows of dy xhat, dbeta = sum of dy:
//      <= gc sum|terms| + up |result| + sum |dy| delta + floor of the parameter dtype.
// The CUDA kernels (native/tests/cuda) are judged with a model of their own, stated at CudaTolerance below.
// A bug that touches the formula, a column, a row or a tail gives errors of order |y| or |dx|, far above these.
#pragma once
#include <cstdint>
#include <vector>

#include "layernorm4j/layernorm4j.h"

namespace ln4j::ref {

// ---- dtypes (round to nearest even; NaN stays NaN) --------------------------------------------------------
int dtype_bytes(int32_t dtype);
// Unit roundoff (half an ulp at 1): 2^-24 FLOAT32, 2^-53 FLOAT64, 2^-8 BFLOAT16, 2^-11 FLOAT16.
double unit_roundoff(int32_t dtype);
// Accumulation dtype of data of x_dtype (FLOAT64 for FLOAT64, else FLOAT32).
int32_t acc_dtype(int32_t x_dtype);
// Half the subnormal step of the output dtype (2^-25 for FLOAT16, else 0): the absolute floor of rounding.
double subnormal_floor(int32_t dtype);
double f16_to_double(uint16_t h);
double bf16_to_double(uint16_t h);
uint16_t double_to_f16(double v);
uint16_t double_to_bf16(double v);
// Element i of an array of `dtype`, as double; store v rounded to `dtype`.
double load(int32_t dtype, const void* p, int64_t i);
void store(int32_t dtype, void* p, int64_t i, double v);

// ---- the reference of one row -----------------------------------------------------------------------------
struct RowStats {
  long double mean;  // 0 for RMSNorm
  long double rstd;
  double sd;        // sqrt(var)
  double mean_abs;  // mean |x|
};
// Statistics of the n values s (x, or x + residual) of one row.
RowStats row_stats(const double* s, int64_t n, bool rms, double eps);

// c1, c2 of the backward of one row and the magnitudes their tolerance needs. xhat: the reference xhat of the
// row, gdy: g' * dy, delta: the bound on the error of the xhat the backward reads (NULL = 0).
struct RowGrad {
  long double c1, c2;       // c1 = 0 for RMSNorm
  double mean_abs_gdy;      // mean |g' dy|
  double mean_abs_gdy_xhat; // mean |g' dy xhat|
  double mean_abs_gdy_delta;
};
RowGrad row_grad(const long double* xhat, const long double* gdy, const double* delta, int64_t n, bool rms);

// ---- the tolerance model ------------------------------------------------------------------------------------
// Growth of a sum of n terms in blocks of `block` terms, each block kept in `lanes` accumulators combined by a
// tree, the block sums added in FLOAT64 and rounded once (the CPU kernels' row sums): the bound of one block
// plus the FLOAT64 additions, so it does not grow with the row length.
double blocked_sum_growth(int64_t n, int lanes, int64_t block, double u);
// Growth of a sum of n terms in an unknown order: 4 standard deviations of a random rounding walk (sqrt n), a
// pairwise/blocked term (log2 n) and a few roundings of the finish.
double random_walk_sum_growth(int64_t n, double u);

struct StatsError {
  double rel, abs;  // of xhat (and rel of rstd)
  double mean;      // absolute bound on the error of the mean
};
StatsError shifted_stats_error(double g, double u, const RowStats& s);
StatsError unshifted_stats_error(double g, double u, const RowStats& s);

struct Tolerance {
  double u;          // accumulation
  double uo;         // output dtype
  double up;         // parameter dtype
  double g;          // row-sum growth
  double gc;         // column-sum growth (dgamma / dbeta over rows)
  double ky, kdx, kout, kc2;  // roundings charged to the finish (see the model above)
  bool second_order;          // dx charges dc2 * delta
  double sub;        // subnormal floor of the output dtype (0 where the model has none)
  double sub_param;  // subnormal floor of the parameter dtype
  double tol_mean(const StatsError& e) const { return e.mean + 1e-300; }
  double tol_rstd(const StatsError& e, double rstd) const { return e.rel * rstd; }
  // y = xhat * geff + beta (ref); extra_abs: more xhat error (e.g. the rounding of s = x + residual).
  double tol_y(const StatsError& e, double xhat, double geff, double beta, double ref, double extra_abs = 0) const;
  // dx of one element (ref, without dresidual); dres: the dresidual_out added to it; delta: error of the xhat
  // the backward read at this element.
  double tol_dx(const RowGrad& r, double rstd, bool rms, double xhat, double gdy, double ref, double dres,
                double delta = 0) const;
  // dgamma / dbeta of one column: sum_abs = sum |terms|, sum_delta = sum |dy| delta.
  double tol_column_sum(double sum_abs, double ref, double sum_delta = 0) const;
};
// The known-order model: row sums of growth g (blocked_sum_growth of the judged path), columns over `rows`.
Tolerance known_order_tolerance(int32_t x_dtype, int32_t param_dtype, double g, int64_t rows);
// The unknown-order model for rows x cols problems.
Tolerance unknown_order_tolerance(int32_t x_dtype, int32_t param_dtype, int64_t cols, int64_t rows);

// ---- the CUDA kernels' model (native/tests/cuda/test_cuda.cpp) ---------------------------------------------
// Float sums in a fixed tree order (per-thread strided sums, warp butterflies, block sums), judged with a
// probabilistic bound: k = 16 + 2 sqrt(cols) roundings of the accumulation type per row sum (uT, uP, uA: unit
// roundoff of the x dtype, the parameter dtype and the accumulation type). Per row:
//   es = k uA (1 + |mean| / sd)  (RMSNorm: k uA)   relative error of the float statistics, scaled (LayerNorm) by
//                                                   how far the mean sits from 0 against the spread
//   mean: es sd + uA |mean|;  rstd: es rstd;  residual_out s: (uT + 2 uA) |s|
//   y:    uT |y| + es |g'| (1 + |xhat|) + 4 uA |beta|
//   dx:   uT |dx| + 2 rstd (es (|g' dy| + |c1| + |xhat| |c2|) + e2 (A1 + (1 + |xhat|) (A2 + |c2|))) + 2 uA |dres|,
//         e2 = es + k uA, A1 = mean|g' dy|, A2 = mean(|g' dy| (1 + |xhat|)) (c1, c2 are float sums whose error is
//         relative to the sum of their terms' magnitudes, each term carrying the xhat error es; twice as margin)
//   dgamma: uP |dgamma| + (8 + rows) uA sum(|dy| (1 + |xhat|)) + 2 sum(es |dy| (1 + |xhat|));
//   dbeta:  uP |dbeta| + (8 + rows) uA sum |dy|    (float sums over the rows, in a part then over the parts)
// Coarser bounds for the > 2^31-element case, which checks a few copies of one row:
//   dx: uT |dx| + 4 es rstd (|g' dy| + |c1| + (1 + |xhat|) |c2| + 1e-3);
//   dgamma, dbeta: (8192 uA + es) sum|terms| (sums over at most rows_per_part rows, then over the parts).
struct CudaTolerance {
  double uT, uP, uA;
  double k;  // roundings of one row sum
  // es of a row with reference statistics st.
  double stats_error(const RowStats& st, bool rms) const;
  double tol_mean(double es, const RowStats& st) const;
  double tol_rstd(double es, const RowStats& st) const { return es * double(st.rstd); }
  double tol_residual_out(double s) const;
  double tol_y(double es, double ref, double geff, double xhat, double beta) const;
  // r: the row's c1, c2 and magnitudes (row_grad without delta); dres: the dresidual_out added to ref.
  double tol_dx(double es, double rstd, const RowGrad& r, double ref, double gdy, double xhat, double dres) const;
  // dgamma / dbeta of one column: sum_abs = sum |dy| (1 + |xhat|) (dgamma) or sum |dy| (dbeta); sum_es: for
  // dgamma, sum es |dy| (1 + |xhat|), 0 for dbeta.
  double tol_column_sum(int64_t rows, double ref, double sum_abs, double sum_es) const;
  double tol_dx_coarse(double es, double rstd, const RowGrad& r, double ref, double gdy, double xhat) const;
  double tol_column_sum_coarse(double es, double sum_abs) const;
};
CudaTolerance cuda_tolerance(int32_t x_dtype, int32_t param_dtype, int64_t cols);

}  // namespace ln4j::ref

// Which row kernel instantiation serves a call: a short chain of named decisions, each turning one property of
// the call into a compile-time choice, then the dtype visitor of common/dtype_visit.h. Included at the end of
// row_kernels.inl, so it is compiled once per ISA like the kernels. Every combination has a kernel: there is no
// unsupported case to fall back from.
//
//   forward:  norm (LayerNorm | RMSNorm) -> input (x | x + residual) -> affine (none | g' | g' and beta, with
//             g' = gamma or 1 + gamma)
//   backward: source of xhat (x and mean | y, beta and gamma) -> norm -> dresidual_out (absent | added to dx)
//             -> gamma and gradients (no gamma | g' = gamma | g' = 1 + gamma, each with or without the
//             dgamma/dbeta partials)

// Decision: LayerNorm or RMSNorm (f gets std::true_type for RMSNorm).
template <class Args, class F>
void decide_norm(const Args& a, F&& f) {
  if (a.norm == LN4J_NORM_RMS) f(std::true_type{});
  else f(std::false_type{});
}

// Decision: the forward normalizes x, or s = x + residual.
template <class F>
void decide_residual(const ForwardArgs& a, F&& f) {
  if (a.residual) f(std::true_type{});
  else f(std::false_type{});
}

template <AffineMode M, bool ZC>
struct AffineChoice {
  static constexpr AffineMode mode = M;
  static constexpr bool zero_centred = ZC;
};

// Decision: how the forward applies gamma and beta. Without gamma nothing is applied (and zero-centring has
// nothing to act on).
template <class F>
void decide_affine(const ForwardArgs& a, F&& f) {
  const bool zc = (a.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  if (!a.gamma) f(AffineChoice<AffineMode::kNone, false>{});
  else if (!a.beta && zc) f(AffineChoice<AffineMode::kScale, true>{});
  else if (!a.beta) f(AffineChoice<AffineMode::kScale, false>{});
  else if (zc) f(AffineChoice<AffineMode::kScaleBias, true>{});
  else f(AffineChoice<AffineMode::kScaleBias, false>{});
}

// Without gamma the parameter dtype is never read: such calls share the instantiation of P = the accumulation type
// (a bfloat16 call with bfloat16 parameters runs the kernel of bfloat16 with float32 parameters), which is the same
// machine code, once instead of twice.
template <class V, class P, bool USES_PARAMS>
using ParamsRead = std::conditional_t<USES_PARAMS, P, typename V::A>;

template <class V, class X, class P>
void forward_dispatch(const ForwardArgs& a, int64_t r0, int64_t r1) {
  decide_norm(a, [&](auto rms) {
    decide_residual(a, [&](auto res) {
      decide_affine(a, [&](auto affine) {
        using Aff = decltype(affine);
        using Pr = ParamsRead<V, P, Aff::mode != AffineMode::kNone>;
        forward_rows<V, X, Pr, Aff::mode, Aff::zero_centred, decltype(rms)::value, decltype(res)::value>(a, r0, r1);
      });
    });
  });
}

// Decision: xhat comes from x and the saved mean, or from y (LN4J_FLAG_BACKWARD_FROM_OUTPUT, the dispatcher's
// per-column shift and scale).
template <class F>
void decide_xhat_source(const BackwardArgs& a, F&& f) {
  if (a.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) f(std::true_type{});
  else f(std::false_type{});
}

// Decision: dresidual_out is added to dx, or absent.
template <class F>
void decide_dresidual(const BackwardArgs& a, F&& f) {
  if (a.dresidual_out) f(std::true_type{});
  else f(std::false_type{});
}

template <int G, bool PARTIALS>
struct GammaChoice {
  static constexpr int gamma = G;  // 0 = no gamma (g' = 1), 1 = gamma, 2 = 1 + gamma
  static constexpr bool partials = PARTIALS;
};

// Decision: which g' scales dy, and whether this block accumulates dgamma/dbeta partials (the dispatcher passes
// partial rows only when dgamma or dbeta is wanted, which needs gamma).
template <class F>
void decide_gamma(const BackwardArgs& a, bool partials, F&& f) {
  const bool zc = (a.flags & LN4J_FLAG_ZERO_CENTERED_GAMMA) != 0;
  if (!a.gamma) f(GammaChoice<0, false>{});
  else if (zc && partials) f(GammaChoice<2, true>{});
  else if (zc) f(GammaChoice<2, false>{});
  else if (partials) f(GammaChoice<1, true>{});
  else f(GammaChoice<1, false>{});
}

template <class V, class X, class P>
void backward_dispatch(const BackwardArgs& a, int64_t r0, int64_t r1, void* pdg, void* pdb) {
  using A = typename V::A;
  decide_xhat_source(a, [&](auto fy) {
    decide_norm(a, [&](auto rms) {
      decide_dresidual(a, [&](auto dres) {
        decide_gamma(a, pdg != nullptr, [&](auto g) {
          using Gc = decltype(g);
          using Pr = ParamsRead<V, P, Gc::gamma != 0>;
          backward_rows<V, X, Pr, Gc::gamma, Gc::partials, decltype(rms)::value, decltype(dres)::value,
                        decltype(fy)::value>(a, r0, r1, Gc::partials ? (A*)pdg : nullptr,
                                             Gc::partials ? (A*)pdb : nullptr);
        });
      });
    });
  });
}

template <class V, class P>
void finalize_dispatch(const BackwardArgs& a, const void* pdg, const void* pdb, int64_t nblocks, int64_t stride,
                       int64_t c0, int64_t c1) {
  using A = typename V::A;
  if (a.dgamma) finalize_one<V>((const A*)pdg, nblocks, stride, c0, c1, (P*)a.dgamma);
  if (a.dbeta) finalize_one<V>((const A*)pdb, nblocks, stride, c0, c1, (P*)a.dbeta);
}

// ---- dtypes: (x_dtype, param_dtype) -> element types and lanes (float lanes, double lanes for FLOAT64) ----------
// Only the x dtypes of this unit (kUnit, set by the including ISA file; see cpu_kernels.h) are instantiated; the
// dispatcher never sends another here.
template <class X>
using LanesFor = std::conditional_t<std::is_same_v<X, double>, VD, VF>;

void forward_entry(const ForwardArgs& a, int64_t r0, int64_t r1) {
  visit_dtypes(
      a.x_dtype, a.param_dtype,
      [&](auto x, auto p) {
        using X = CpuType<decltype(x)::value>;
        if constexpr (unit_has<kUnit, X>) forward_dispatch<LanesFor<X>, X, CpuType<decltype(p)::value>>(a, r0, r1);
      },
      [] {});  // the API layer let no other pair through
}

void backward_entry(const BackwardArgs& a, int64_t r0, int64_t r1, void* pdg, void* pdb) {
  visit_dtypes(
      a.x_dtype, a.param_dtype,
      [&](auto x, auto p) {
        using X = CpuType<decltype(x)::value>;
        if constexpr (unit_has<kUnit, X>) {
          backward_dispatch<LanesFor<X>, X, CpuType<decltype(p)::value>>(a, r0, r1, pdg, pdb);
        }
      },
      [] {});
}

void finalize_entry(const BackwardArgs& a, const void* pdg, const void* pdb, int64_t nblocks, int64_t stride,
                    int64_t c0, int64_t c1) {
  visit_dtype(
      a.param_dtype,
      [&](auto p) {
        using P = CpuType<decltype(p)::value>;
        finalize_dispatch<LanesFor<P>, P>(a, pdg, pdb, nblocks, stride, c0, c1);
      },
      [] {});
}

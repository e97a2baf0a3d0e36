// The second peer: PyTorch's CPU layer norm through libtorch's C++ API (ATen), as PyTorch itself runs it:
// at::native_layer_norm (forward; returns y, mean, rstd, allocating them per call as PyTorch does) and
// at::native_layer_norm_backward (dx, dgamma, dbeta), on the same rotating buffer sets as ours (inputs wrapped with
// at::from_blob, no copy), validated against the same float64 reference before timing. Compiled with
// LN4J_BENCH_HAVE_TORCH only (cmake/Ln4jPeers.cmake found libtorch); otherwise the stubs at the end say why.
// This file is alone in including ATen: its headers take long to compile, so nothing else waits for them.
//
// Threads: at::set_num_threads(threads) before every series (libtorch's intra-op pool, OpenMP in Debian's build).
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"
#include "timer.h"

#ifdef LN4J_BENCH_HAVE_TORCH
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/native_layer_norm.h>
#include <ATen/ops/native_layer_norm_backward.h>
#include <c10/util/Exception.h>

namespace bench {

bool pytorch_available(std::string*) { return true; }

void pytorch_run(const Problem& p, int threads, Arena& A, const TimingPlan& plan, bool validate_only, Result& fwd,
                 Result& bwd) {
  c10::ScalarType st;
  switch (p.dtype) {
    case LN4J_FLOAT32: st = at::kFloat; break;
    case LN4J_FLOAT64: st = at::kDouble; break;
    case LN4J_BFLOAT16: st = at::kBFloat16; break;
    default: st = at::kHalf; break;
  }
  const c10::ScalarType pst = p.pdtype == LN4J_FLOAT64 ? at::kDouble : p.pdtype == LN4J_FLOAT32 ? at::kFloat : st;
  const c10::ScalarType sst = p.sdtype == LN4J_FLOAT64 ? at::kDouble : at::kFloat;
  at::set_num_threads(threads);
  const std::vector<int64_t> norm_shape{p.cols};
  try {
    auto opt = [](c10::ScalarType t) { return at::TensorOptions().dtype(t).device(at::kCPU); };
    at::Tensor gamma = at::from_blob((void*)p.gamma.data(), {p.cols}, opt(pst));
    at::Tensor beta = at::from_blob((void*)p.beta.data(), {p.cols}, opt(pst));
    // 16-bit data with float32 gamma/beta: PyTorch versions without mixed-dtype layer norm refuse it (c10::Error
    // below: UNSUPPORTED). Rounding gamma/beta to the data dtype would compute a different function than the
    // reference (float32 parameters), so that is not done.
    const c10::optional<at::Tensor> w(gamma), b(beta);
    auto view = [&](void* ptr, c10::ScalarType t, std::vector<int64_t> shape) { return at::from_blob(ptr, shape, opt(t)); };
    std::vector<at::Tensor> xs, dys, means, rstds;
    for (int i = 0; i < A.count; ++i) {
      xs.push_back(view(A.x(i), st, {p.rows, p.cols}));
      dys.push_back(view(A.dy(i), st, {p.rows, p.cols}));
      means.push_back(view(A.mean(i), sst, {p.rows, 1}));
      rstds.push_back(view(A.rstd(i), sst, {p.rows, 1}));
    }
    std::tuple<at::Tensor, at::Tensor, at::Tensor> last;
    auto f_call = [&](int s) {
      last = at::native_layer_norm(xs[s], norm_shape, w, b, p.eps);
      return true;
    };
    f_call(0);
    {
      at::Tensor y = std::get<0>(last).contiguous(), m = std::get<1>(last).to(sst).contiguous(),
                 r = std::get<2>(last).to(sst).contiguous();
      fwd.check = check_forward(p, y.data_ptr(), m.data_ptr(), r.data_ptr());
    }
    judge_then_time(fwd, validate_only, f_call, A.count, plan);
    last = {};

    // backward: the reference statistics (ours read the same), in the dtype PyTorch's forward returns
    const c10::ScalarType stat_t = std::get<1>(at::native_layer_norm(xs[0], norm_shape, w, b, p.eps)).scalar_type();
    std::vector<at::Tensor> bm, br;
    for (int i = 0; i < A.count; ++i) {
      bm.push_back(stat_t == sst ? means[i] : means[i].to(stat_t));
      br.push_back(stat_t == sst ? rstds[i] : rstds[i].to(stat_t));
    }
    auto b_call = [&](int s) {
      last = at::native_layer_norm_backward(dys[s], xs[s], norm_shape, bm[s], br[s], w, b, {true, true, true});
      return true;
    };
    b_call(0);
    {
      at::Tensor dx = std::get<0>(last).contiguous(), dg = std::get<1>(last).to(pst).contiguous(),
                 db = std::get<2>(last).to(pst).contiguous();
      bwd.check = check_backward(p, dx.data_ptr(), dg.data_ptr(), db.data_ptr());
    }
    judge_then_time(bwd, validate_only, b_call, A.count, plan);
    last = {};
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (msg.size() > 160) msg = msg.substr(0, 160) + "...";
    // "not implemented for 'Half'", or mixed data/parameter dtypes this version does not take
    peer_failed(fwd, bwd, msg.find("not implemented") != std::string::npos || pst != st ? Status::UNSUPPORTED : Status::ERROR,
                msg);
  }
}

}  // namespace bench

#else  // no libtorch

namespace bench {
bool pytorch_available(std::string* why) {
  if (why) *why = "built without libtorch: install libtorch-dev and reconfigure";
  return false;
}
void pytorch_run(const Problem&, int, Arena&, const TimingPlan&, bool, Result& f, Result& b) {
  f.status = b.status = Status::UNSUPPORTED;
  f.note = b.note = "built without libtorch";
}
}  // namespace bench

#endif

// The peer: oneDNN's layer normalization primitive, forward (training: writes mean and variance) and backward
// (diff_src, diff_scale, diff_shift), validated against the same float64 reference, then timed on the same
// rotating buffer sets as ours. Compiled with LN4J_BENCH_HAVE_DNNL only (CMake found oneDNN); otherwise the stubs
// at the end say why the column is left out.
//
// Threads: the Debian/Ubuntu oneDNN runs on OpenMP, so the harness sets omp_set_num_threads(threads) before it
// creates and runs the primitives (built against TBB or a threadpool, oneDNN uses its own count: noted in the
// result). oneDNN gets mean and VARIANCE (its convention), so for its backward each set holds
// var = 1/rstd^2 - eps computed in float64 from the same rounded rstd our backward reads.
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

#include "bench.h"
#include "timer.h"

#ifdef LN4J_BENCH_HAVE_DNNL
#include <dnnl.hpp>
#ifdef LN4J_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

namespace bench {

bool onednn_available(std::string*) { return true; }

void onednn_run(const Problem& p, int threads, Arena& A, const TimingPlan& plan, bool validate_only, Result& fwd,
                Result& bwd) {
  using namespace dnnl;
  using dt = memory::data_type;
  dt data_type;
  switch (p.dtype) {
    case LN4J_FLOAT32: data_type = dt::f32; break;
    case LN4J_BFLOAT16: data_type = dt::bf16; break;
    case LN4J_FLOAT16: data_type = dt::f16; break;
    default:
      fwd.status = bwd.status = Status::UNSUPPORTED;
      fwd.note = bwd.note = std::string("oneDNN has no ") + dtype_label(p.dtype) + " layer normalization";
      return;
  }
#ifdef LN4J_BENCH_HAVE_OPENMP
  omp_set_num_threads(threads);
#else
  fwd.note = bwd.note = "threads not set (oneDNN not on OpenMP here)";
#endif
  try {
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const memory::dim R = p.rows, C = p.cols;
    memory::desc data_md({R, C}, data_type, memory::format_tag::ab);
    memory::desc stat_md({R}, dt::f32, memory::format_tag::a);
    memory::desc param_md({C}, dt::f32, memory::format_tag::a);
    const auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
#if DNNL_VERSION_MAJOR >= 3
    layer_normalization_forward::primitive_desc fpd(eng, prop_kind::forward_training, data_md, data_md, stat_md,
                                                    (float)p.eps, flags);
    layer_normalization_backward::primitive_desc bpd(eng, prop_kind::backward, data_md, data_md, data_md, stat_md,
                                                     (float)p.eps, flags, fpd);
#else
    layer_normalization_forward::desc fd(prop_kind::forward_training, data_md, stat_md, (float)p.eps, flags);
    layer_normalization_forward::primitive_desc fpd(fd, eng);
    layer_normalization_backward::desc bd(prop_kind::backward, data_md, data_md, stat_md, (float)p.eps, flags);
    layer_normalization_backward::primitive_desc bpd(bd, eng, fpd);
#endif
    layer_normalization_forward fprim(fpd);
    layer_normalization_backward bprim(bpd);

    std::vector<unsigned char> dscale(p.pbytes()), dshift(p.pbytes());
    memory mx(data_md, eng, A.x(0)), my(data_md, eng, A.y(0)), mdy(data_md, eng, A.dy(0)), mdx(data_md, eng, A.dx(0));
    memory mmean(stat_md, eng, A.mean(0)), mvar(stat_md, eng, A.rstd(0));
    memory mscale(param_md, eng, (void*)p.gamma.data()), mshift(param_md, eng, (void*)p.beta.data());
    memory mdscale(param_md, eng, dscale.data()), mdshift(param_md, eng, dshift.data());
    std::unordered_map<int, memory> fargs{{DNNL_ARG_SRC, mx},        {DNNL_ARG_DST, my},
                                          {DNNL_ARG_MEAN, mmean},    {DNNL_ARG_VARIANCE, mvar},
                                          {DNNL_ARG_SCALE, mscale},  {DNNL_ARG_SHIFT, mshift}};
    std::unordered_map<int, memory> bargs{{DNNL_ARG_SRC, mx},          {DNNL_ARG_DIFF_DST, mdy},
                                          {DNNL_ARG_MEAN, mmean},      {DNNL_ARG_VARIANCE, mvar},
                                          {DNNL_ARG_SCALE, mscale},    {DNNL_ARG_SHIFT, mshift},
                                          {DNNL_ARG_DIFF_SRC, mdx},    {DNNL_ARG_DIFF_SCALE, mdscale},
                                          {DNNL_ARG_DIFF_SHIFT, mdshift}};
    std::vector<unsigned char> ws;
    if (fpd.workspace_desc().get_size() > 0) {
      ws.resize(fpd.workspace_desc().get_size());
      memory mws(fpd.workspace_desc(), eng, ws.data());
      fargs.insert({DNNL_ARG_WORKSPACE, mws});
      bargs.insert({DNNL_ARG_WORKSPACE, mws});
    }
    auto f_call = [&](int s) {
      mx.set_data_handle(A.x(s));
      my.set_data_handle(A.y(s));
      mmean.set_data_handle(A.mean(s));
      mvar.set_data_handle(A.rstd(s));
      fprim.execute(strm, fargs);
      strm.wait();
      return true;
    };
    auto b_call = [&](int s) {
      mx.set_data_handle(A.x(s));
      mdy.set_data_handle(A.dy(s));
      mdx.set_data_handle(A.dx(s));
      mmean.set_data_handle(A.mean(s));
      mvar.set_data_handle(A.rstd(s));
      bprim.execute(strm, bargs);
      strm.wait();
      return true;
    };

    // forward: poison, run, judge (variance converted to rstd), then time
    std::memset(A.y(0), 0xff, p.xbytes());
    std::memset(A.mean(0), 0xff, p.sbytes());
    std::memset(A.rstd(0), 0xff, p.sbytes());
    f_call(0);
    fwd.check = check_forward(p, A.y(0), A.mean(0), A.rstd(0), true);
    judge_then_time(fwd, validate_only, f_call, A.count, plan);

    // backward inputs: reference mean and the variance matching the rounded rstd
    std::vector<float> var(p.rows);
    for (int64_t r = 0; r < p.rows; ++r) {
      double rs = load(p.sdtype, p.rstd.data(), r);
      var[r] = (float)(1.0 / (rs * rs) - p.eps);
    }
    for (int i = 0; i < A.count; ++i) {
      std::memcpy(A.mean(i), p.mean.data(), p.sbytes());
      std::memcpy(A.rstd(i), var.data(), p.sbytes());
    }
    std::memset(A.dx(0), 0xff, p.xbytes());
    std::memset(dscale.data(), 0xff, dscale.size());
    std::memset(dshift.data(), 0xff, dshift.size());
    b_call(0);
    bwd.check = check_backward(p, A.dx(0), dscale.data(), dshift.data());
    judge_then_time(bwd, validate_only, b_call, A.count, plan);
  } catch (const dnnl::error& e) {
    // oneDNN says "unimplemented" for a dtype/shape its build has no kernel for
    peer_failed(fwd, bwd, e.status == dnnl_unimplemented ? Status::UNSUPPORTED : Status::ERROR, e.what());
  }
}

}  // namespace bench

#else  // no oneDNN

namespace bench {
bool onednn_available(std::string* why) {
  if (why) *why = "built without oneDNN: install libdnnl-dev and reconfigure";
  return false;
}
void onednn_run(const Problem&, int, Arena&, const TimingPlan&, bool, Result& f, Result& b) {
  f.status = b.status = Status::UNSUPPORTED;
  f.note = b.note = "built without oneDNN";
}
}  // namespace bench

#endif

// CUDA part of ln4j_bench: forward and backward of liblayernorm4j_cuda on device 0, validated on the host against
// the float64 reference, then timed with CUDA events (warm-up, batches of calls so one sample lasts at least
// 200 us, rotation over buffer sets spanning at least 8 x the L2 cache so no call finds its input in L2).
// The ceiling is a device-to-device cudaMemcpy moving the same bytes (half read, half written).
// Compiled with LN4J_BENCH_HAVE_CUDA only (CMake had a CUDA compiler and toolkit); the stub at the end prints
// the one-line reason it is skipped.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"

#ifdef LN4J_BENCH_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

namespace bench {
namespace {

struct DevSet {
  size_t set_bytes = 0, region = 0, stats = 0;
  int count = 1;
  char* base = nullptr;
  char* at(int s, int k) const { return base + (size_t)s * set_bytes + (size_t)k * region; }  // k: 0 x,1 y,2 dy,3 dx
  char* mean(int s) const { return base + (size_t)s * set_bytes + 4 * region; }
  char* rstd(int s) const { return mean(s) + stats; }
};

#define CU(call)                                                                              \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      err = std::string(#call) + ": " + cudaGetErrorName(e_) + " " + cudaGetErrorString(e_); \
      return false;                                                                           \
    }                                                                                         \
  } while (0)

// Times `launch(set)` (which enqueues one call on the legacy stream): samples of `batch` calls between events.
template <class Launch>
bool time_events(Launch&& launch, int sets, const TimingPlan& plan, Timing& out, std::string& err) {
  cudaEvent_t a, b;
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  int idx = 0;
  auto next = [&] { return idx = (idx + 1) % sets; };
  for (int i = 0; i < 3; ++i)
    if (!launch(next())) return false;
  CU(cudaEventRecord(a));
  if (!launch(next())) return false;
  CU(cudaEventRecord(b));
  CU(cudaEventSynchronize(b));
  float ms = 0;
  CU(cudaEventElapsedTime(&ms, a, b));
  const double one_us = std::max(1e3 * ms, 0.5);
  const int batch = one_us >= plan.min_sample_us ? 1 : (int)std::min(10000.0, std::ceil(plan.min_sample_us / one_us));
  std::vector<double> samples;
  const double start = now_s();
  while ((int)samples.size() < plan.reps) {
    if ((int)samples.size() >= plan.min_reps && now_s() - start > plan.budget_s) break;
    CU(cudaEventRecord(a));
    for (int i = 0; i < batch; ++i)
      if (!launch(next())) return false;
    CU(cudaEventRecord(b));
    CU(cudaEventSynchronize(b));
    CU(cudaEventElapsedTime(&ms, a, b));
    samples.push_back(1e3 * ms / batch);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  out = summarize(samples, batch);
  return true;
}

size_t round256(size_t n) { return (n + 255) / 256 * 256; }

Result base(const Problem& p, const char* dir, const char* impl, bool sweep) {
  Result r{};
  r.backend = "cuda";
  r.dir = dir;
  r.impl = impl;
  r.dtype = p.dtype;
  r.threads = 0;
  r.rows = p.rows;
  r.cols = p.cols;
  r.sweep = sweep;
  r.status = Status::OK;
  r.bytes = std::string(dir) == "forward" ? forward_bytes(p) : backward_bytes(p);
  return r;
}

// One shape: ceiling, forward, backward. Returns false only on a CUDA runtime failure (reported in err).
bool run_shape(const Options& o, const Shape& sh, size_t arena_target, std::vector<Result>& out, std::string& err) {
  Problem p;
  make_problem(p, o.dtype, sh.rows, sh.cols, o.seed);
  DevSet D;
  D.region = round256(p.xbytes() + 3 * p.pbytes() + 2 * p.sbytes());
  D.stats = round256(p.sbytes());
  D.set_bytes = 4 * D.region + 2 * D.stats;
  D.count = o.regime == "warm" || o.validate_only ? 1 : (int)std::max<size_t>(1, std::min<size_t>(arena_target / D.set_bytes, 1 << 16));
  CU(cudaMalloc(&D.base, D.set_bytes * D.count));
  char *gamma, *beta, *dgamma, *dbeta, *ws = nullptr;
  const int64_t ws_bytes = ln4j_cuda_backward_workspace_bytes(p.rows, p.cols);
  CU(cudaMalloc(&gamma, p.pbytes()));
  CU(cudaMalloc(&beta, p.pbytes()));
  CU(cudaMalloc(&dgamma, p.pbytes()));
  CU(cudaMalloc(&dbeta, p.pbytes()));
  if (ws_bytes > 0) CU(cudaMalloc(&ws, (size_t)ws_bytes));
  CU(cudaMemcpy(gamma, p.gamma.data(), p.pbytes(), cudaMemcpyHostToDevice));
  CU(cudaMemcpy(beta, p.beta.data(), p.pbytes(), cudaMemcpyHostToDevice));
  for (int s = 0; s < D.count; ++s) {
    CU(cudaMemcpy(D.at(s, 0), p.x.data(), p.xbytes(), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(D.at(s, 2), p.dy.data(), p.xbytes(), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(D.mean(s), p.mean.data(), p.sbytes(), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(D.rstd(s), p.rstd.data(), p.sbytes(), cudaMemcpyHostToDevice));
  }
  const TimingPlan plan{o.reps, std::min(5, o.reps), o.budget_s, 200.0};
  std::vector<unsigned char> h1(p.xbytes()), h2(p.sbytes()), h3(p.sbytes()), h4(p.pbytes()), h5(p.pbytes());

  // ceilings: device-to-device copies moving the same bytes as each direction
  if (!o.validate_only) {
    Result f = base(p, "forward", "ceiling", sh.sweep), b = base(p, "backward", "ceiling", sh.sweep);
    const size_t fb = (size_t)(f.bytes / 2), bb = (size_t)(b.bytes / 2);
    if (!time_events([&](int s) { return cudaMemcpyAsync(D.at(s, 1), D.at(s, 0), fb, cudaMemcpyDeviceToDevice) == cudaSuccess; },
                     D.count, plan, f.t, err) ||
        !time_events([&](int s) { return cudaMemcpyAsync(D.at(s, 3), D.at(s, 0), bb, cudaMemcpyDeviceToDevice) == cudaSuccess; },
                     D.count, plan, b.t, err))
      return false;
    f.gbps = f.bytes / (f.t.median_us * 1e-6) / 1e9;
    b.gbps = b.bytes / (b.t.median_us * 1e-6) / 1e9;
    out.push_back(f);
    out.push_back(b);
  }

  auto fwd = [&](int s) {
    return ln4j_cuda_forward(0, nullptr, LN4J_NORM_LAYER, 0, p.dtype, p.pdtype, p.rows, p.cols, p.eps, D.at(s, 0),
                             nullptr, gamma, beta, D.at(s, 1), nullptr, D.mean(s), D.rstd(s));
  };
  auto bwd = [&](int s) {
    return ln4j_cuda_backward(0, nullptr, LN4J_NORM_LAYER, 0, p.dtype, p.pdtype, p.rows, p.cols, D.at(s, 2), nullptr,
                              D.at(s, 0), D.mean(s), D.rstd(s), gamma, beta, D.at(s, 3), dgamma, dbeta, ws, ws_bytes);
  };
  Result f = base(p, "forward", "ln4j-cuda", sh.sweep), b = base(p, "backward", "ln4j-cuda", sh.sweep);
  // forward: poison, run, copy back, judge, then time
  CU(cudaMemset(D.at(0, 1), 0xff, p.xbytes()));
  CU(cudaMemset(D.mean(0), 0xff, p.sbytes()));
  CU(cudaMemset(D.rstd(0), 0xff, p.sbytes()));
  int st = fwd(0);
  if (st == LN4J_OK) st = cudaDeviceSynchronize() == cudaSuccess ? LN4J_OK : LN4J_ERR_CUDA;
  if (st != LN4J_OK) {
    f.status = st == LN4J_ERR_UNSUPPORTED ? Status::UNSUPPORTED : Status::ERROR;
    f.note = ln4j_cuda_last_error();
  } else {
    CU(cudaMemcpy(h1.data(), D.at(0, 1), p.xbytes(), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(h2.data(), D.mean(0), p.sbytes(), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(h3.data(), D.rstd(0), p.sbytes(), cudaMemcpyDeviceToHost));
    f.check = check_forward(p, h1.data(), h2.data(), h3.data());
    if (!f.check.ok) {
      f.status = Status::WRONG;
      f.note = f.check.where;
    } else if (o.validate_only) {
      f.status = Status::VALIDATED;
    } else if (time_events([&](int s) { return fwd(s) == LN4J_OK; }, D.count, plan, f.t, err)) {
      f.gbps = f.bytes / (f.t.median_us * 1e-6) / 1e9;
    } else {
      f.status = Status::ERROR;
      f.note = err.empty() ? ln4j_cuda_last_error() : err;
    }
  }
  // backward from the reference statistics
  for (int s = 0; s < D.count; ++s) {
    CU(cudaMemcpy(D.mean(s), p.mean.data(), p.sbytes(), cudaMemcpyHostToDevice));
    CU(cudaMemcpy(D.rstd(s), p.rstd.data(), p.sbytes(), cudaMemcpyHostToDevice));
  }
  CU(cudaMemset(D.at(0, 3), 0xff, p.xbytes()));
  CU(cudaMemset(dgamma, 0xff, p.pbytes()));
  CU(cudaMemset(dbeta, 0xff, p.pbytes()));
  st = bwd(0);
  if (st == LN4J_OK) st = cudaDeviceSynchronize() == cudaSuccess ? LN4J_OK : LN4J_ERR_CUDA;
  if (st != LN4J_OK) {
    b.status = st == LN4J_ERR_UNSUPPORTED ? Status::UNSUPPORTED : Status::ERROR;
    b.note = ln4j_cuda_last_error();
  } else {
    CU(cudaMemcpy(h1.data(), D.at(0, 3), p.xbytes(), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(h4.data(), dgamma, p.pbytes(), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(h5.data(), dbeta, p.pbytes(), cudaMemcpyDeviceToHost));
    b.check = check_backward(p, h1.data(), h4.data(), h5.data());
    if (!b.check.ok) {
      b.status = Status::WRONG;
      b.note = b.check.where;
    } else if (o.validate_only) {
      b.status = Status::VALIDATED;
    } else if (time_events([&](int s) { return bwd(s) == LN4J_OK; }, D.count, plan, b.t, err)) {
      b.gbps = b.bytes / (b.t.median_us * 1e-6) / 1e9;
    } else {
      b.status = Status::ERROR;
      b.note = err.empty() ? ln4j_cuda_last_error() : err;
    }
  }
  out.push_back(f);
  out.push_back(b);
  cudaFree(D.base);
  cudaFree(gamma);
  cudaFree(beta);
  cudaFree(dgamma);
  cudaFree(dbeta);
  if (ws) cudaFree(ws);
  return true;
}

}  // namespace

void cuda_run_all(const Options& o, std::vector<Result>& out) {
  const char* reason = nullptr;
  if (!ln4j_cuda_built()) {
    std::printf("cuda: skipped (liblayernorm4j_cuda is the stub: built without CUDA)\n");
    return;
  }
  if (ln4j_cuda_device_count(&reason) <= 0) {
    std::printf("cuda: skipped (%s)\n", reason ? reason : "no device");
    return;
  }
  cudaDeviceProp prop{};
  if (cudaSetDevice(0) != cudaSuccess || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::printf("cuda: skipped (the harness's CUDA runtime cannot open device 0)\n");
    return;
  }
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  const size_t arena = std::min<size_t>(std::max<size_t>(8 * (size_t)prop.l2CacheSize, 512u << 20), free_b / 2);
  std::printf("cuda: device 0 %s, L2 %d MiB; rotating over >= %zu MiB of buffer sets\n", prop.name,
              prop.l2CacheSize >> 20, arena >> 20);
  std::fflush(stdout);
  std::vector<Shape> shapes;
  for (int64_t c : o.cols) shapes.push_back({std::max<int64_t>(1, o.gpu_elements / c), c, true});
  for (auto s : o.extra) shapes.push_back(s);
  for (auto& sh : shapes) {
    std::string err;
    if (!run_shape(o, sh, arena, out, err)) {
      Result r{};
      r.backend = "cuda";
      r.dir = "forward";
      r.impl = "ln4j-cuda";
      r.dtype = o.dtype;
      r.rows = sh.rows;
      r.cols = sh.cols;
      r.status = Status::ERROR;
      r.note = err;
      out.push_back(r);
      cudaGetLastError();
    }
    std::fprintf(stderr, "  cuda %lldx%lld done\n", (long long)sh.rows, (long long)sh.cols);
  }
}

}  // namespace bench

#else  // no CUDA at build time

namespace bench {
void cuda_run_all(const Options&, std::vector<Result>&) {
  const char* reason = nullptr;
  if (ln4j_cuda_device_count(&reason) > 0)
    std::printf("cuda: skipped (ln4j_bench was built without the CUDA toolkit; reconfigure with CUDA)\n");
  else
    std::printf("cuda: skipped (%s)\n", reason ? reason : "no device");
}
}  // namespace bench

#endif

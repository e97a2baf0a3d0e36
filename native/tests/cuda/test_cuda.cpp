// GPU checks of liblayernorm4j_cuda against the float64 reference library (native/reference: the reference, the
// dtype codecs and the CUDA kernels' tolerance model, ref::CudaTolerance), through the structs of layernorm4j.h.
// For every dtype pair (x, params) and cols in {1, 2, 3, 7, 8, 31, 32, 33, 127, 128, 129, 768, 1000, 1024, 1025,
// 4097, 65537, 1000000} (plus many rows, no-affine and unaligned-row cases): random off-centre data, outputs
// poisoned with NaN bytes before every call, forward (y, mean, rstd) and backward (dx, dgamma, dbeta) compared
// with tolerances derived from the rounding unit of the storage and accumulation types, and every call run twice
// to check that the results are bitwise identical. Argument checks that need no device run first.
// Exit 0 = pass, 1 = failure, 77 = skipped (no usable CUDA device; the reason is printed).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "layernorm4j/layernorm4j.h"
#include "ln4j_reference.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(LN4J_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace {

int failures = 0;
int32_t g_dev = 0;  // the device every case runs on (the emulation has two profiles: 0 H200-class, 1 T4-class)
#if defined(LN4J_CUDA_EMULATED)
long bad_mask_baseline = 0;  // kernel-model violations the emulation's own self-check provoked
#endif

#if defined(LN4J_CUDA_EMULATED)
// Built against the CPU emulation (emu/): same checks, fewer rows in the two many-row cases (one emulated thread
// runs at a time); the > 2^31-element case skips itself (the emulated cudaMalloc refuses more than 1 GiB).
// The width sweeps use fewer rows there too (kRowsCap, kVariantRowsCap): the many-row cases cover grid striding.
constexpr int64_t kManyRows = 1003, kManyRows768 = 301, kRowsCap = 11, kVariantRowsCap = 7;
#else
constexpr int64_t kManyRows = 100003, kManyRows768 = 3001, kRowsCap = 67, kVariantRowsCap = 37;
#endif

#define CHECK(cond, ...)                           \
  do {                                             \
    if (!(cond)) {                                 \
      ++failures;                                  \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                    \
      std::printf("\n");                           \
    }                                              \
  } while (0)

// ---- host encodings of the storage dtypes: the shared reference library's (independent of the CUDA headers) ----
namespace ref = ln4j::ref;
int dsize(int32_t d) { return ref::dtype_bytes(d); }
const char* dname(int32_t d) {
  return d == LN4J_FLOAT32 ? "f32" : d == LN4J_FLOAT64 ? "f64" : d == LN4J_BFLOAT16 ? "bf16" : "f16";
}

// A host array of a storage dtype.
struct Host {
  int32_t dtype;
  std::vector<unsigned char> bytes;
  Host(int32_t d, size_t n) : dtype(d), bytes(n * dsize(d)) {}
  size_t size() const { return bytes.size() / dsize(dtype); }
  void set(size_t i, double v) { ref::store(dtype, bytes.data(), int64_t(i), v); }
  double get(size_t i) const { return ref::load(dtype, bytes.data(), int64_t(i)); }
};

// A device array; `offset_elems` shifts the pointer to test rows that are not 16-byte aligned.
struct Dev {
  void* base = nullptr;
  void* ptr = nullptr;
  size_t bytes = 0;
  Dev(size_t n_bytes, size_t offset_bytes = 0) : bytes(n_bytes) {  // exactly the bytes used, no slack
    if (cudaMalloc(&base, n_bytes + offset_bytes) != cudaSuccess) { base = nullptr; ptr = nullptr; return; }
    ptr = static_cast<unsigned char*>(base) + offset_bytes;
  }
  ~Dev() { if (base) cudaFree(base); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void poison() { cudaMemset(ptr, 0xff, bytes); }  // NaN in every float dtype
  void upload(const Host& h) { cudaMemcpy(ptr, h.bytes.data(), h.bytes.size(), cudaMemcpyHostToDevice); }
  Host download(int32_t d) const {
    Host h(d, bytes / dsize(d));
    cudaMemcpy(h.bytes.data(), ptr, bytes, cudaMemcpyDeviceToHost);
    return h;
  }
  std::vector<unsigned char> raw() const {
    std::vector<unsigned char> v(bytes);
    cudaMemcpy(v.data(), ptr, bytes, cudaMemcpyDeviceToHost);
    return v;
  }
};

// One checked configuration. The variants: RMSNorm, zero-centred gamma, fused residual (forward writes s to
// residual_out, backward adds dresidual_out), backward from y, and gamma entries whose applied value is 0.
struct Case {
  int32_t xd, pd;
  int64_t rows, cols;
  bool affine = true;      // gamma given
  bool bias = true;        // beta given (LayerNorm with affine only)
  size_t misalign = 0;     // bytes added to every row-major tensor pointer (rows not 16-byte aligned)
  bool rms = false;        // LN4J_NORM_RMS
  bool zc = false;         // LN4J_FLAG_ZERO_CENTERED_GAMMA
  bool residual = false;   // fused residual: forward(x, residual), backward with dresidual_out
  bool res_out = true;     // with residual: ask for residual_out (s)
  bool from_y = false;     // LN4J_FLAG_BACKWARD_FROM_OUTPUT
  int zero_gamma = 0;      // how many columns get an applied gamma of exactly 0
  int inplace = 0;         // with residual: residual_out aliases 1 = residual, 2 = x (in-place residual update)
};

// The raw bytes of every output of one case's run (for comparisons across devices).
using Bits = std::vector<std::vector<unsigned char>>;

bool close(double got, double ref, double tol) { return std::isfinite(got) && std::fabs(got - ref) <= tol; }

// Every call fills the structs of layernorm4j.h: ln4j_forward_args / ln4j_backward_args for what to compute,
// ln4j_exec for where (the device, the default stream and the backward's workspace).
ln4j_exec on_device(int32_t device, void* workspace = nullptr, int64_t workspace_bytes = 0) {
  ln4j_exec e = ln4j_exec_init();
  e.device = device;
  e.stream = nullptr;
  e.workspace = workspace;
  e.workspace_bytes = workspace_bytes;
  return e;
}

// A plain forward of rows x cols (LayerNorm, no flags); the caller sets the pointers.
ln4j_forward_args forward_args(int32_t xd, int32_t pd, int64_t rows, int64_t cols, double eps = 1e-5) {
  ln4j_forward_args a = ln4j_forward_args_init();
  a.norm = LN4J_NORM_LAYER;
  a.x_dtype = xd;
  a.param_dtype = pd;
  a.rows = rows;
  a.cols = cols;
  a.eps = eps;
  return a;
}

// A plain backward of rows x cols (LayerNorm, no flags); the caller sets the pointers.
ln4j_backward_args backward_args(int32_t xd, int32_t pd, int64_t rows, int64_t cols) {
  ln4j_backward_args a = ln4j_backward_args_init();
  a.norm = LN4J_NORM_LAYER;
  a.x_dtype = xd;
  a.param_dtype = pd;
  a.rows = rows;
  a.cols = cols;
  return a;
}

// The size query for a plain backward of rows x cols.
int64_t workspace_for(int64_t rows, int64_t cols) {
  ln4j_backward_args a = ln4j_backward_args_init();
  a.rows = rows;
  a.cols = cols;
  return ln4j_cuda_backward_workspace_bytes(&a);
}

bool all_poisoned(const Dev& d) {
  const std::vector<unsigned char> v = d.raw();
  for (unsigned char b : v)
    if (b != 0xff) return false;
  return true;
}

void run_case(const Case& c, std::mt19937_64& rng, Bits* bits = nullptr) {
  const int64_t rows = c.rows, cols = c.cols, n = rows * cols;
  const int32_t sd = c.xd == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32;
  const double eps = 1e-5;
  const int32_t norm = c.rms ? LN4J_NORM_RMS : LN4J_NORM_LAYER;
  const bool bias = c.affine && c.bias && !c.rms;
  const int32_t fflags = c.zc ? LN4J_FLAG_ZERO_CENTERED_GAMMA : 0;
  const int32_t bflags = fflags | (c.from_y ? LN4J_FLAG_BACKWARD_FROM_OUTPUT : 0);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  char label[200];
  std::snprintf(label, sizeof label, "dev%d x=%s p=%s rows=%lld cols=%lld%s%s%s%s%s%s%s%s", int(g_dev), dname(c.xd), dname(c.pd),
                (long long)rows, (long long)cols, c.rms ? " rms" : "", c.affine ? (bias ? "" : " no-bias") : " no-affine",
                c.zc ? " zero-centred" : "", c.residual ? (c.res_out ? " residual" : " residual(no s out)") : "",
                c.from_y ? " from-y" : "", c.zero_gamma ? " zero-gamma" : "", c.misalign ? " misaligned" : "",
                c.inplace == 1 ? " in-place(residual_out=residual)" : c.inplace == 2 ? " in-place(residual_out=x)" : "");

  Host x(c.xd, n), dy(c.xd, n), res(c.xd, c.residual ? n : 0), dres(c.xd, c.residual ? n : 0), gamma(c.pd, cols),
      beta(c.pd, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const double centre = 3.0 + 0.25 * u(rng), spread = 0.5 + 0.25 * u(rng);  // off-centre rows
    for (int64_t j = 0; j < cols; ++j) x.set(r * cols + j, centre + spread * u(rng));
  }
  for (int64_t i = 0; i < n; ++i) dy.set(i, u(rng));
  if (c.residual)
    for (int64_t i = 0; i < n; ++i) {
      res.set(i, 0.5 * u(rng));
      dres.set(i, u(rng));
    }
  for (int64_t j = 0; j < cols; ++j) {
    gamma.set(j, (c.zc ? 0.0 : 1.0) + 0.5 * u(rng));
    beta.set(j, 0.5 * u(rng));
  }
  int64_t first_zero = -1;
  for (int k = 0; k < c.zero_gamma && k < cols; ++k) {  // columns cols/3, cols/3 + 1, ...: applied gamma 0
    const int64_t j = std::min(cols - 1, cols / 3 + k);
    gamma.set(j, c.zc ? -1.0 : 0.0);
    if (first_zero < 0 || j < first_zero) first_zero = j;
  }
  auto geff = [&](int64_t j) { return c.affine ? (c.zc ? 1.0 + gamma.get(j) : gamma.get(j)) : 1.0; };
  auto bj = [&](int64_t j) { return bias ? beta.get(j) : 0.0; };

  const size_t xb = size_t(n) * dsize(c.xd), pb = size_t(cols) * dsize(c.pd), sb = size_t(rows) * dsize(sd);
  Dev dx_in(xb, c.misalign), ddy(xb, c.misalign), dres_in(c.residual ? xb : 0, c.misalign),
      ddres(c.residual ? xb : 0, c.misalign), ds_out(c.residual && !c.inplace ? xb : 0, c.misalign), dgam(pb), dbet(pb),
      dyo(xb, c.misalign), dmean(sb), drstd(sb), ddx(xb, c.misalign), ddg(pb), ddb(pb);
  const int64_t ws_bytes = workspace_for(rows, cols);
  Dev ws{size_t(ws_bytes)};
  if (!dx_in.ptr || !ddy.ptr || !dyo.ptr || !ddx.ptr || !ws.ptr || (c.residual && (!dres_in.ptr || (!c.inplace && !ds_out.ptr)))) {
    CHECK(false, "%s: cudaMalloc failed", label);
    return;
  }
  dx_in.upload(x);
  ddy.upload(dy);
  dgam.upload(gamma);
  dbet.upload(beta);
  if (c.residual) {
    dres_in.upload(res);
    ddres.upload(dres);
  }
  const void* g = c.affine ? dgam.ptr : nullptr;
  const void* b = bias ? dbet.ptr : nullptr;
  void* mean_out = c.rms ? nullptr : dmean.ptr;
  // residual_out: its own buffer, or (in place) the residual's or x's, which the forward then overwrites.
  Dev& s_dev = c.inplace == 1 ? dres_in : c.inplace == 2 ? dx_in : ds_out;
  void* s_out = c.residual && c.res_out ? s_dev.ptr : nullptr;
  // The backward's x slot: y (from y), s (fused residual), or x.
  const void* xslot = c.from_y ? dyo.ptr : c.residual ? s_dev.ptr : dx_in.ptr;
  if (c.residual && !c.res_out && !c.from_y) {
    CHECK(false, "%s: bad test case (the backward needs s)", label);
    return;
  }
  const bool zero_rule = c.from_y && first_zero >= 0;  // xhat not recoverable: the backward from y must fail
  void* want_dg = c.affine && !zero_rule ? ddg.ptr : nullptr;
  void* want_db = bias ? ddb.ptr : nullptr;

  // Two runs of forward + backward on poisoned outputs; the second must repeat the first bit for bit.
  std::vector<unsigned char> first[7];
  for (int run = 0; run < 2; ++run) {
    dyo.poison(); dmean.poison(); drstd.poison(); ddx.poison(); ddg.poison(); ddb.poison(); ws.poison();
    if (c.residual && !c.inplace) ds_out.poison();
    if (c.inplace && run > 0) {  // the first run overwrote the input that residual_out aliases
      dx_in.upload(x);
      dres_in.upload(res);
    }
    ln4j_forward_args fa = forward_args(c.xd, c.pd, rows, cols, eps);
    fa.norm = norm;
    fa.flags = fflags;
    fa.x = dx_in.ptr;
    fa.residual = c.residual ? dres_in.ptr : nullptr;
    fa.gamma = g;
    fa.beta = b;
    fa.y = dyo.ptr;
    fa.residual_out = s_out;
    fa.mean = mean_out;
    fa.rstd = drstd.ptr;
    const ln4j_exec ex = on_device(g_dev, ws.ptr, ws_bytes);
    int s = ln4j_cuda_forward(&fa, &ex);
    CHECK(s == LN4J_OK, "%s: forward status %d: %s", label, s, ln4j_cuda_last_error());
    // The backward of this case, with the given mean and dgamma (the zero-gamma runs vary them).
    auto backward = [&](const void* mean, void* dgamma) {
      ln4j_backward_args ba = backward_args(c.xd, c.pd, rows, cols);
      ba.norm = norm;
      ba.flags = bflags;
      ba.dy = ddy.ptr;
      ba.dresidual_out = c.residual ? ddres.ptr : nullptr;
      ba.x = xslot;
      ba.mean = mean;
      ba.rstd = drstd.ptr;
      ba.gamma = g;
      ba.beta = b;
      ba.dx = ddx.ptr;
      ba.dgamma = dgamma;
      ba.dbeta = want_db;
      return ln4j_cuda_backward(&ba, &ex);
    };
    if (zero_rule) {  // with or without dgamma: fails, names the first zero column, writes nothing
      for (void* dg : {static_cast<void*>(ddg.ptr), static_cast<void*>(nullptr)}) {
        s = backward(nullptr, dg);
        char col[64];
        std::snprintf(col, sizeof col, "column %lld", (long long)first_zero);
        CHECK(s == LN4J_ERR_ZERO_GAMMA && std::strstr(ln4j_cuda_last_error(), col),
              "%s: zero-gamma rule: status %d, message '%s' (expected ZERO_GAMMA naming %s)", label, s,
              ln4j_cuda_last_error(), col);
        cudaDeviceSynchronize();
        CHECK(all_poisoned(ddx) && all_poisoned(ddg) && all_poisoned(ddb), "%s: zero-gamma failure wrote outputs",
              label);
      }
      return;
    }
    s = backward(c.from_y ? nullptr : mean_out, want_dg);
    CHECK(s == LN4J_OK, "%s: backward status %d: %s", label, s, ln4j_cuda_last_error());
    cudaError_t e = cudaDeviceSynchronize();
    CHECK(e == cudaSuccess, "%s: cudaDeviceSynchronize: %s", label, cudaGetErrorName(e));
    if (e != cudaSuccess) return;
    const Dev* outs[7] = {&dyo, &dmean, &drstd, &ddx, &ddg, &ddb, &s_dev};
    for (int k = 0; k < 7; ++k) {
      if (!outs[k]->ptr) continue;
      if (!c.residual && k == 6) continue;
      if (run == 0) first[k] = outs[k]->raw();
      else CHECK(first[k] == outs[k]->raw(), "%s: output %d differs between two identical runs", label, k);
    }
  }
  if (bits) bits->assign(first, first + 7);

  const Host y = dyo.download(c.xd), mean = dmean.download(sd), rstd = drstd.download(sd), dx = ddx.download(c.xd);
  const Host dgamma = ddg.download(c.pd), dbeta = ddb.download(c.pd);
  const Host s_dl = c.residual ? s_dev.download(c.xd) : Host(c.xd, 0);
  const Host& xs = c.from_y ? y : c.residual ? s_dl : x;  // what the backward read in its x slot
  // The reference (row statistics, c1 and c2) and the tolerances: the reference library's, with the CUDA kernels'
  // model (ref::CudaTolerance, which states it).
  const ref::CudaTolerance tol = ref::cuda_tolerance(c.xd, c.pd, cols);
  std::vector<double> rdg(cols, 0.0), rdb(cols, 0.0), adg(cols, 0.0), adb(cols, 0.0), edg(cols, 0.0), srow(cols);
  std::vector<long double> xhr(cols), gdyr(cols);
  int bad_y = 0, bad_dx = 0, bad_stats = 0, bad_s = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const size_t o = size_t(r * cols);
    for (int64_t j = 0; j < cols; ++j) srow[j] = x.get(o + j) + (c.residual ? res.get(o + j) : 0.0);
    const ref::RowStats st = ref::row_stats(srow.data(), cols, c.rms, eps);
    const double m = double(st.mean), rs = double(st.rstd);
    const double es = tol.stats_error(st, c.rms);
    if (!c.rms && !close(mean.get(r), m, tol.tol_mean(es, st)) && bad_stats++ < 3)
      CHECK(false, "%s: mean[%lld] = %.9g, reference %.9g", label, (long long)r, mean.get(r), m);
    if (!close(rstd.get(r), rs, tol.tol_rstd(es, st)) && bad_stats++ < 3)
      CHECK(false, "%s: rstd[%lld] = %.9g, reference %.9g", label, (long long)r, rstd.get(r), rs);
    if (c.residual && c.res_out)
      for (int64_t j = 0; j < cols; ++j)
        if (!close(s_dl.get(o + j), srow[j], tol.tol_residual_out(srow[j])) && bad_s++ < 3)
          CHECK(false, "%s: residual_out[%lld,%lld] = %.9g, reference %.9g", label, (long long)r, (long long)j,
                s_dl.get(o + j), srow[j]);
    for (int64_t j = 0; j < cols; ++j) {
      const double gj = geff(j), bb = bj(j);
      const long double xh = (srow[j] - st.mean) * st.rstd;
      const double refv = double(xh * gj + bb);
      const double t = tol.tol_y(es, refv, gj, double(xh), bb);
      if (!close(y.get(o + j), refv, t) && bad_y++ < 3)
        CHECK(false, "%s: y[%lld,%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)r, (long long)j,
              y.get(o + j), refv, t);
    }
    // Backward reference from what the backward read: xhat from its x slot with the reference statistics.
    for (int64_t j = 0; j < cols; ++j) {
      if (c.from_y) xhr[j] = geff(j) != 0.0 ? (xs.get(o + j) - bj(j)) / (long double)geff(j) : 0.0L;
      else xhr[j] = (xs.get(o + j) - st.mean) * st.rstd;
      const double dyv = dy.get(o + j), axh = std::fabs(double(xhr[j]));
      gdyr[j] = (long double)geff(j) * dyv;
      rdg[j] += double(dyv * xhr[j]);
      rdb[j] += dyv;
      adg[j] += std::fabs(dyv) * (1.0 + axh);
      adb[j] += std::fabs(dyv);
      edg[j] += es * std::fabs(dyv) * (1.0 + axh);  // error of the float xhat
    }
    const ref::RowGrad rg = ref::row_grad(xhr.data(), gdyr.data(), nullptr, cols, c.rms);
    for (int64_t j = 0; j < cols; ++j) {
      const double dr = c.residual ? dres.get(o + j) : 0.0;
      const double refv = double(st.rstd * (gdyr[j] - rg.c1 - xhr[j] * rg.c2) + dr);
      const double t = tol.tol_dx(es, rs, rg, refv, double(gdyr[j]), double(xhr[j]), dr);
      if (!close(dx.get(o + j), refv, t) && bad_dx++ < 3)
        CHECK(false, "%s: dx[%lld,%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)r, (long long)j,
              dx.get(o + j), refv, t);
    }
  }
  int bad_p = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const double tg = tol.tol_column_sum(rows, rdg[j], adg[j], edg[j]);
    const double tb = tol.tol_column_sum(rows, rdb[j], adb[j], 0.0);
    if (want_dg && !close(dgamma.get(j), rdg[j], tg) && bad_p++ < 3)
      CHECK(false, "%s: dgamma[%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)j, dgamma.get(j), rdg[j],
            tg);
    if (want_db && !close(dbeta.get(j), rdb[j], tb) && bad_p++ < 3)
      CHECK(false, "%s: dbeta[%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)j, dbeta.get(j), rdb[j],
            tb);
  }
  if (!want_dg) CHECK(all_poisoned(ddg), "%s: dgamma written although NULL was passed", label);
  std::printf("%s %s\n", (bad_y || bad_dx || bad_stats || bad_s || bad_p) ? "bad " : "ok  ", label);
  std::fflush(stdout);
}

// Checks that answer before any device is touched (they run on every machine): every bad input is refused with
// LN4J_ERR_INVALID_ARGUMENT and a message naming it.
void check_arguments() {
  CHECK(ln4j_cuda_built() == 1, "ln4j_cuda_built() = %d", ln4j_cuda_built());
  const char* reason = nullptr;
  const int n = ln4j_cuda_device_count(&reason);
  CHECK(n > 0 || (reason && *reason && !std::strchr(reason, '\n')), "device_count 0 without a one-line reason");
  CHECK(workspace_for(4, 8) > 0, "workspace bytes");
  CHECK(workspace_for(0, 8) == 0, "workspace bytes for rows = 0");
  CHECK(ln4j_cuda_backward_workspace_bytes(nullptr) == 0, "workspace bytes for NULL args");
  {  // the structs themselves: NULL, and a struct_size this library does not know
    float b8[8] = {0};
    ln4j_forward_args a = ln4j_forward_args_init();
    a.x_dtype = a.param_dtype = LN4J_FLOAT32;
    a.rows = 1;
    a.cols = 8;
    a.eps = 1e-5;
    a.x = a.y = b8;
    ln4j_exec e = ln4j_exec_init();
    e.device = 0;
    CHECK(ln4j_cuda_forward(nullptr, &e) == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "args"),
          "forward with NULL args: '%s'", ln4j_cuda_last_error());
    CHECK(ln4j_cuda_forward(&a, nullptr) == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "exec"),
          "forward with NULL exec: '%s'", ln4j_cuda_last_error());
    a.struct_size = int32_t(sizeof a) + 8;
    CHECK(ln4j_cuda_forward(&a, &e) == LN4J_ERR_UNSUPPORTED && std::strstr(ln4j_cuda_last_error(), "struct_size"),
          "forward with a struct from a newer header: '%s'", ln4j_cuda_last_error());
    a.struct_size = 4;
    CHECK(ln4j_cuda_forward(&a, &e) == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "struct_size"),
          "forward with a struct_size too small: '%s'", ln4j_cuda_last_error());
  }
  // Each bad call is a valid call with one or two fields changed (the change is what the message must name).
  static float buf[8] = {0};
  const int32_t F = LN4J_FLOAT32;
  const ln4j_exec dev0 = on_device(0);
  struct Fwd {
    const char* what;  // expected in the message
    void (*edit)(ln4j_forward_args&);
  };
  const Fwd fwd[] = {
      {"rows must", [](ln4j_forward_args& a) { a.rows = 0; }},
      {"cols must", [](ln4j_forward_args& a) { a.cols = 0; }},
      {"eps", [](ln4j_forward_args& a) { a.eps = 0.0; }},
      {"eps", [](ln4j_forward_args& a) { a.eps = NAN; }},
      {"x_dtype", [](ln4j_forward_args& a) { a.x_dtype = 7; }},
      {"param_dtype",
       [](ln4j_forward_args& a) {
         a.x_dtype = LN4J_FLOAT16;
         a.param_dtype = LN4J_BFLOAT16;
         a.gamma = buf;
       }},
      {"param_dtype",
       [](ln4j_forward_args& a) {
         a.param_dtype = LN4J_FLOAT64;
         a.gamma = buf;
       }},
      {"norm", [](ln4j_forward_args& a) { a.norm = 5; }},
      {"flags", [](ln4j_forward_args& a) { a.flags = 64; }},
      {"BACKWARD_FROM_OUTPUT",
       [](ln4j_forward_args& a) {
         a.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT;
         a.gamma = buf;
       }},
      {"x must", [](ln4j_forward_args& a) { a.x = nullptr; }},
      {"y must", [](ln4j_forward_args& a) { a.y = nullptr; }},
      {"residual_out", [](ln4j_forward_args& a) { a.residual_out = buf; }},
      {"beta",
       [](ln4j_forward_args& a) {
         a.norm = LN4J_NORM_RMS;
         a.gamma = a.beta = buf;
         a.mean = nullptr;
       }},
      {"mean",
       [](ln4j_forward_args& a) {
         a.norm = LN4J_NORM_RMS;
         a.gamma = buf;
       }},
      {"gamma", [](ln4j_forward_args& a) { a.beta = buf; }},
      {"overflows", [](ln4j_forward_args& a) { a.rows = a.cols = int64_t(1) << 40; }},
  };
  for (const Fwd& f : fwd) {
    ln4j_forward_args a = forward_args(F, F, 1, 8);
    a.x = a.y = a.mean = a.rstd = buf;
    f.edit(a);
    const int s = ln4j_cuda_forward(&a, &dev0);
    CHECK(s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), f.what),
          "forward with bad %s: status %d, message '%s'", f.what, s, ln4j_cuda_last_error());
  }
  struct Bwd {
    const char* what;
    void (*edit)(ln4j_backward_args&, ln4j_exec&);
  };
  const Bwd bwd[] = {
      {"rows must", [](ln4j_backward_args& a, ln4j_exec&) { a.rows = 0; }},
      {"dy must", [](ln4j_backward_args& a, ln4j_exec&) { a.dy = nullptr; }},
      {"x must", [](ln4j_backward_args& a, ln4j_exec&) { a.x = nullptr; }},
      {"y must",
       [](ln4j_backward_args& a, ln4j_exec&) {
         a.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT;
         a.x = a.mean = nullptr;
       }},
      {"mean must", [](ln4j_backward_args& a, ln4j_exec&) { a.mean = nullptr; }},
      {"rstd must", [](ln4j_backward_args& a, ln4j_exec&) { a.rstd = nullptr; }},
      {"dx must", [](ln4j_backward_args& a, ln4j_exec&) { a.dx = nullptr; }},
      {"dgamma",
       [](ln4j_backward_args& a, ln4j_exec& e) {
         a.dgamma = buf;
         e.workspace = buf;
         e.workspace_bytes = 4096;
       }},
      {"beta",
       [](ln4j_backward_args& a, ln4j_exec&) {
         a.norm = LN4J_NORM_RMS;
         a.mean = nullptr;
         a.gamma = a.beta = buf;
       }},
      {"workspace", [](ln4j_backward_args& a, ln4j_exec&) { a.gamma = a.dgamma = a.dbeta = buf; }},
      {"workspace_bytes",
       [](ln4j_backward_args& a, ln4j_exec& e) {
         a.gamma = a.dgamma = a.dbeta = buf;
         e.workspace = buf;
         e.workspace_bytes = 4;
       }},
      // The backward from y with gamma keeps its zero-gamma flag in the workspace: needed without dgamma/dbeta too.
      {"workspace",
       [](ln4j_backward_args& a, ln4j_exec&) {
         a.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT;
         a.mean = nullptr;
         a.gamma = buf;
       }},
      {"workspace_bytes",
       [](ln4j_backward_args& a, ln4j_exec& e) {
         a.norm = LN4J_NORM_RMS;
         a.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT;
         a.mean = nullptr;
         a.gamma = buf;
         e.workspace = buf;
         e.workspace_bytes = 8;
       }},
  };
  for (const Bwd& f : bwd) {
    ln4j_backward_args a = backward_args(F, F, 4, 2);
    a.dy = a.x = a.mean = a.rstd = buf;
    a.dx = buf;
    ln4j_exec e = on_device(0);
    f.edit(a, e);
    const int s = ln4j_cuda_backward(&a, &e);
    CHECK(s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), f.what),
          "backward with bad %s: status %d, message '%s'", f.what, s, ln4j_cuda_last_error());
  }
}

// More than 2^31 elements (64-bit indexing): every row is a copy of one random row (filled by doubling device
// copies), outputs poisoned; the first and last rows of y, mean, rstd and dx are checked against the reference
// of that row (an index that wraps at 2^31 leaves the last rows NaN or wrong), and dgamma/dbeta against rows
// times the row's terms.
void big_case(std::mt19937_64& rng) {
  const int32_t xd = LN4J_BFLOAT16, pd = LN4J_FLOAT32;
  const int64_t cols = 1024, rows = (int64_t(1) << 21) + 5, n = rows * cols;
  const double eps = 1e-5;
  const size_t rb = size_t(cols) * 2, xb = size_t(n) * 2;
  const int64_t wsb = workspace_for(rows, cols);
  Dev x(xb), dy(xb), y(xb), dx(xb), mean(size_t(rows) * 4), rstd(size_t(rows) * 4), gam(size_t(cols) * 4),
      bet(size_t(cols) * 4), dg(size_t(cols) * 4), db(size_t(cols) * 4), ws{size_t(wsb)};
  if (!x.ptr || !dy.ptr || !y.ptr || !dx.ptr || !ws.ptr) {
    std::printf("skip big case: not enough device memory\n");
    return;
  }
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Host xr(xd, cols), dyr(xd, cols), g(pd, cols), b(pd, cols);
  for (int64_t j = 0; j < cols; ++j) {
    xr.set(j, 3.0 + 0.5 * u(rng));
    dyr.set(j, u(rng));
    g.set(j, 1.0 + 0.5 * u(rng));
    b.set(j, 0.5 * u(rng));
  }
  gam.upload(g);
  bet.upload(b);
  for (Dev* d : {&x, &dy}) {
    cudaMemcpy(d->ptr, (d == &x ? xr : dyr).bytes.data(), rb, cudaMemcpyHostToDevice);
    for (int64_t have = 1; have < rows; have *= 2) {
      const int64_t k = std::min(have, rows - have);
      cudaMemcpy(static_cast<unsigned char*>(d->ptr) + size_t(have) * rb, d->ptr, size_t(k) * rb,
                 cudaMemcpyDeviceToDevice);
    }
  }
  y.poison(); dx.poison(); mean.poison(); rstd.poison(); dg.poison(); db.poison();
  ln4j_forward_args fa = forward_args(xd, pd, rows, cols, eps);
  fa.x = x.ptr;
  fa.gamma = gam.ptr;
  fa.beta = bet.ptr;
  fa.y = y.ptr;
  fa.mean = mean.ptr;
  fa.rstd = rstd.ptr;
  const ln4j_exec ex = on_device(0, ws.ptr, wsb);
  int s = ln4j_cuda_forward(&fa, &ex);
  CHECK(s == LN4J_OK, "big forward: %d %s", s, ln4j_cuda_last_error());
  ln4j_backward_args ba = backward_args(xd, pd, rows, cols);
  ba.dy = dy.ptr;
  ba.x = x.ptr;
  ba.mean = mean.ptr;
  ba.rstd = rstd.ptr;
  ba.gamma = gam.ptr;
  ba.dx = dx.ptr;
  ba.dgamma = dg.ptr;
  ba.dbeta = db.ptr;
  s = ln4j_cuda_backward(&ba, &ex);
  CHECK(s == LN4J_OK, "big backward: %d %s", s, ln4j_cuda_last_error());
  cudaError_t e = cudaDeviceSynchronize();
  CHECK(e == cudaSuccess, "big case: %s", cudaGetErrorName(e));
  if (e != cudaSuccess) return;
  // The reference of the one row (the reference library's), and the CUDA model's coarse bounds (ref::CudaTolerance).
  const ref::CudaTolerance tol = ref::cuda_tolerance(xd, pd, cols);
  std::vector<double> xrow(cols);
  for (int64_t j = 0; j < cols; ++j) xrow[size_t(j)] = xr.get(j);
  const ref::RowStats st = ref::row_stats(xrow.data(), cols, false, eps);
  const double m = double(st.mean), rs = double(st.rstd), es = tol.stats_error(st, false);
  std::vector<long double> xh(cols), gdy(cols);
  for (int64_t j = 0; j < cols; ++j) {
    xh[size_t(j)] = (xrow[size_t(j)] - st.mean) * st.rstd;
    gdy[size_t(j)] = (long double)g.get(j) * dyr.get(j);
  }
  const ref::RowGrad rg = ref::row_grad(xh.data(), gdy.data(), nullptr, cols, false);
  Host dgh = dg.download(pd), dbh = db.download(pd);
  int bad = 0;
  for (int64_t r : {int64_t(0), rows / 2, rows - 1}) {
    Host yr(xd, cols), dxr(xd, cols);
    cudaMemcpy(yr.bytes.data(), static_cast<unsigned char*>(y.ptr) + size_t(r) * rb, rb, cudaMemcpyDeviceToHost);
    cudaMemcpy(dxr.bytes.data(), static_cast<unsigned char*>(dx.ptr) + size_t(r) * rb, rb, cudaMemcpyDeviceToHost);
    float mr = NAN, rr = NAN;
    cudaMemcpy(&mr, static_cast<float*>(mean.ptr) + r, 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(&rr, static_cast<float*>(rstd.ptr) + r, 4, cudaMemcpyDeviceToHost);
    CHECK(close(mr, m, tol.tol_mean(es, st)) && close(rr, rs, tol.tol_rstd(es, st)),
          "big: mean/rstd of row %lld: %g %g", (long long)r, mr, rr);
    for (int64_t j = 0; j < cols; ++j) {
      const size_t k = size_t(j);
      const double yref = double(xh[k] * g.get(j) + b.get(j));
      const double dxref = double(st.rstd * (gdy[k] - rg.c1 - xh[k] * rg.c2));
      // y: the run cases' bound with |beta| taken as 1 (it is <= 0.5 here), the big case's margin
      const double ty = tol.tol_y(es, yref, g.get(j), double(xh[k]), 1.0);
      const double tdx = tol.tol_dx_coarse(es, rs, rg, dxref, double(gdy[k]), double(xh[k]));
      if ((!close(yr.get(j), yref, ty) || !close(dxr.get(j), dxref, tdx)) && bad++ < 3)
        CHECK(false, "big: row %lld col %lld: y %g (ref %g), dx %g (ref %g)", (long long)r, (long long)j,
              yr.get(j), yref, dxr.get(j), dxref);
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    const double axh = std::fabs(double(xh[size_t(j)]));
    const double rgam = double(rows) * double(dyr.get(j) * xh[size_t(j)]), rbeta = double(rows) * dyr.get(j);
    if ((!close(dgh.get(j), rgam, tol.tol_column_sum_coarse(es, double(rows) * std::fabs(dyr.get(j)) * (1 + axh))) ||
         !close(dbh.get(j), rbeta, tol.tol_column_sum_coarse(es, double(rows) * std::fabs(dyr.get(j))))) &&
        bad++ < 6)
      CHECK(false, "big: dgamma[%lld] %g (ref %g), dbeta %g (ref %g)", (long long)j, dgh.get(j), rgam, dbh.get(j),
            rbeta);
  }
  std::printf("%s x=bf16 p=f32 rows=%lld cols=%lld (%lld elements)\n", bad ? "bad " : "ok  ", (long long)rows,
              (long long)cols, (long long)n);
}


// ---- checks of the defects a review found around the kernels ----

// Same inputs on every device (a fixed seed), outputs compared bit for bit: the results must not depend on the
// GPU's shared memory (which decides between the smem and stream regimes, and where the backward keeps its
// partials). Devices with different limits: the emulation's two profiles; a machine with two different GPUs.
void cross_device_bits(int ndev) {
  if (ndev < 2) {
    std::printf("skip cross-device bits: one device\n");
    return;
  }
  struct X {
    int32_t xd, pd;
    int64_t rows, cols;
    int variant;  // 0 plain, 1 rms + residual, 2 from y, 3 misaligned, 4 zero-centred + residual in place
  };
  // Widths that run smem on a 227 KiB device and stream on a 64 KiB one (forward), and keep the backward's
  // partials in shared memory on the first and in the workspace on the second.
  const X xs[] = {{LN4J_FLOAT32, LN4J_FLOAT32, 5, 20000, 0},  {LN4J_FLOAT32, LN4J_FLOAT32, 4, 20000, 1},
                  {LN4J_FLOAT32, LN4J_FLOAT32, 4, 20000, 2},  {LN4J_FLOAT32, LN4J_FLOAT32, 3, 20001, 3},
                  {LN4J_BFLOAT16, LN4J_FLOAT32, 4, 40000, 0}, {LN4J_FLOAT16, LN4J_FLOAT16, 3, 40000, 4},
                  {LN4J_FLOAT64, LN4J_FLOAT64, 3, 8000, 0},   {LN4J_FLOAT32, LN4J_FLOAT32, 3, 12000, 1},
                  // more rows than parts (kMaxParts = 512): each part accumulates several rows' partials, in shared
                  // memory on the first device and in the workspace on the second
                  {LN4J_FLOAT32, LN4J_FLOAT32, 1030, 8200, 0}};
  for (const X& x : xs) {
    Case c{x.xd, x.pd, x.rows, x.cols};
    if (x.variant == 1) { c.rms = true; c.residual = true; }
    if (x.variant == 2) c.from_y = true;
    if (x.variant == 3) c.misalign = size_t(dsize(x.xd));
    if (x.variant == 4) { c.zc = true; c.residual = true; c.inplace = 1; }
    Bits ref;
    for (int d = 0; d < ndev; ++d) {
      g_dev = d;
      std::mt19937_64 rng(777 + uint64_t(x.cols));
      Bits b;
      run_case(c, rng, &b);
      if (d == 0) ref = b;
      else
        for (size_t k = 0; k < b.size(); ++k)
          CHECK(b[k] == ref[k], "cross-device: output %zu of x=%s cols=%lld variant %d differs between device 0 and %d",
                k, dname(x.xd), (long long)x.cols, x.variant, d);
    }
    g_dev = 0;
  }
}

#if defined(LN4J_CUDA_EMULATED)
// A small forward + backward on `dev` whose outputs start poisoned; returns the statuses and whether anything
// was written.
struct Probe {
  int fwd, bwd;
  bool wrote;
};
Probe probe(int dev, int32_t flags, int64_t cols, bool want_dg = true, cudaError_t sticky = cudaSuccess) {
  const int64_t rows = 3, n = rows * cols;
  Dev x(size_t(n) * 4), y(size_t(n) * 4), mean(size_t(rows) * 4), rstd(size_t(rows) * 4), dy(size_t(n) * 4),
      dx(size_t(n) * 4), g(size_t(cols) * 4), dg(size_t(cols) * 4);
  const int64_t wsb = workspace_for(rows, cols);
  Dev ws{size_t(wsb)};
  std::vector<float> h(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h[size_t(i)] = float(3.0 + 0.001 * double(i % 977));
  cudaMemcpy(x.ptr, h.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dy.ptr, h.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
  std::vector<float> hg(size_t(cols), 1.25f);
  cudaMemcpy(g.ptr, hg.data(), size_t(cols) * 4, cudaMemcpyHostToDevice);
  for (Dev* d : {&y, &mean, &rstd, &dx, &dg}) d->poison();
  Probe p{};
  emu::set_sticky(dev, sticky);  // a lost context from here on
  ln4j_forward_args fa = forward_args(LN4J_FLOAT32, LN4J_FLOAT32, rows, cols);
  fa.x = x.ptr;
  fa.gamma = g.ptr;
  fa.y = y.ptr;
  fa.mean = mean.ptr;
  fa.rstd = rstd.ptr;
  const ln4j_exec ex = on_device(dev, ws.ptr, wsb);
  p.fwd = ln4j_cuda_forward(&fa, &ex);
  const bool from_y = (flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
  ln4j_backward_args ba = backward_args(LN4J_FLOAT32, LN4J_FLOAT32, rows, cols);
  ba.flags = flags;
  ba.dy = dy.ptr;
  ba.x = from_y ? y.ptr : x.ptr;
  ba.mean = from_y ? nullptr : mean.ptr;
  ba.rstd = rstd.ptr;
  ba.gamma = g.ptr;
  ba.dx = dx.ptr;
  ba.dgamma = want_dg ? dg.ptr : nullptr;
  p.bwd = ln4j_cuda_backward(&ba, &ex);
  emu::set_sticky(dev, cudaSuccess);
  p.wrote = !(all_poisoned(y) && all_poisoned(mean) && all_poisoned(rstd) && all_poisoned(dx) && all_poisoned(dg));
  return p;
}

void tiny_kernel(float* out) {
  if (threadIdx.x == 0) out[blockIdx.x] = 1.0f;
}
void bad_mask_kernel(float* out) {  // the upper half-warp is not named by the mask it passes
  const float v = __shfl_xor_sync(0x0000ffffu, float(threadIdx.x), 1);
  out[threadIdx.x] = v;
}
void divergent_shuffle_kernel(float* out) {  // full mask, but the two half-warps are at different shuffles
  float v;
  if (threadIdx.x < 16)
    v = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
  else
    v = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
  out[threadIdx.x] = v;
}
void smem_garbage_kernel(float* out) {  // block b records whether its shared memory starts with any non-zero byte
  const unsigned char* sm = emu::dyn_smem();
  if (threadIdx.x == 0) {
    unsigned char any = 0;
    for (int i = 0; i < 64; ++i) any |= sm[i];
    out[blockIdx.x] = any ? 1.0f : 0.0f;
  }
}
void smem_kernel(float* out) {  // block b records what it finds, then writes its own mark
  float* sm = reinterpret_cast<float*>(emu::dyn_smem());
  if (threadIdx.x == 0) {
    out[blockIdx.x] = sm[0];
    sm[0] = 12345.0f;
  }
}

// The emulation's own model (so that its checks are known to fire), then the defects it must show.
void emulation_checks() {
  // Launch-configuration errors: recorded for cudaGetLastError, the kernel does not run.
  float out[64];
  std::fill(out, out + 64, 0.0f);
  (void)cudaGetLastError();
  cudaSetDevice(1);
  emu::launcher(1, 64, size_t(48 * 1024 + 4), nullptr, tiny_kernel)(out);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue && out[0] == 0.0f,
        "emulation: a launch over the 48 KiB default must fail with cudaErrorInvalidValue and not run");
  CHECK(cudaFuncSetAttribute(tiny_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024 + 4) ==
            cudaErrorInvalidValue,
        "emulation: an attribute over the T4 profile's 64 KiB opt-in must fail");
  (void)cudaGetLastError();
  emu::launcher(1, 2048, 0, nullptr, tiny_kernel)(out);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration && out[0] == 0.0f,
        "emulation: 2048 threads per block must fail with cudaErrorInvalidConfiguration");
  CHECK(cudaGetLastError() == cudaSuccess, "emulation: cudaGetLastError must clear a non-sticky error");
  cudaSetDevice(0);
  // Fresh garbage in every block's shared memory: block 0 runs after block 1 and must not see its mark.
  std::fill(out, out + 64, 0.0f);
  emu::launcher(2, 32, 64, nullptr, smem_kernel)(out);
  CHECK(out[0] != 12345.0f && out[1] != 12345.0f, "emulation: shared memory kept across blocks");
  // ... and garbage, not zeros: a kernel that reads shared memory it did not write must not see a clean 0.
  std::fill(out, out + 64, 0.0f);
  emu::launcher(2, 32, 64, nullptr, smem_garbage_kernel)(out);
  CHECK(out[0] == 1.0f && out[1] == 1.0f, "emulation: a block's shared memory starts zero-filled, not with garbage");
  // Shuffle masks: lanes outside the mask calling it, and reads outside it, are reported.
  const long v0 = emu::violations();
  emu::launcher(1, 32, 0, nullptr, bad_mask_kernel)(out);
  CHECK(emu::violations() > v0, "emulation: a shuffle whose mask leaves out calling lanes was not reported");
#if defined(__SANITIZE_ADDRESS__)
  {  // Device memory is allocated at its exact size: the byte past the end is poisoned (an overrun is reported).
    Dev d(13);
    const char* p = static_cast<const char*>(d.ptr);
    CHECK(p && !__asan_address_is_poisoned(p + 12) && __asan_address_is_poisoned(p + 13),
          "emulation: cudaMalloc(13) is not exactly 13 bytes to AddressSanitizer");
  }
#endif
  // Lanes the mask names must arrive at the same shuffle: a divergent pair of full-mask shuffles is reported.
  const long v1 = emu::violations();
  emu::launcher(1, 32, 0, nullptr, divergent_shuffle_kernel)(out);
  CHECK(emu::violations() > v1, "emulation: lanes named by a shuffle's mask at different shuffles were not reported");
  bad_mask_baseline = emu::violations();

  // Stale errors: an earlier failure of this thread (another library's launch) is not reported against the next
  // call, which must succeed. Each width reaches another regime.
  for (int64_t cols : {int64_t(768), int64_t(4097), int64_t(20000), int64_t(65537)}) {
    emu::set_last_error(cudaErrorInvalidValue);
    const Probe p = probe(0, 0, cols);
    CHECK(p.fwd == LN4J_OK && p.bwd == LN4J_OK, "stale error, cols=%lld: forward %d, backward %d (%s)",
          (long long)cols, p.fwd, p.bwd, ln4j_cuda_last_error());
  }
  // A failed runtime call fails the call with a message naming it, and nothing is written. 12000 columns on the
  // T4-class device need more than the 48 KiB default (the attribute is set on the first use: failures first).
  struct Inject {
    const char* api;
    int dev;
    int32_t flags;
    int64_t cols;
    const char* named;
  };
  const Inject inj[] = {
      {"cudaGetDevice", 1, 0, 12000, "cudaGetDevice"},
      {"cudaDeviceGetAttribute", 1, 0, 12000, "cudaDeviceGetAttribute"},
      {"cudaFuncGetAttributes", 1, 0, 12000, "forward_smem"},
      {"cudaFuncSetAttribute", 1, 0, 12000, "cudaFuncSetAttribute"},
      {"launch", 0, 0, 768, "launch of forward_group"},
      {"launch", 0, 0, 4097, "launch of forward_smem"},
      {"launch", 0, 0, 100000, "launch of forward_stream"},
  };
  for (const Inject& f : inj) {
    // Forward failures fail the forward; backward-only ones (from y) are injected after a good forward.
    const bool bwd_only = (f.flags & LN4J_FLAG_BACKWARD_FROM_OUTPUT) != 0;
    if (!bwd_only) {
      const int64_t rows = 2, n = rows * f.cols;
      Dev x(size_t(n) * 4), y(size_t(n) * 4), rstd(size_t(rows) * 4);
      std::vector<float> h(size_t(n), 2.0f);
      for (size_t i = 0; i < h.size(); ++i) h[i] += float(i % 7);
      cudaMemcpy(x.ptr, h.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
      y.poison();
      rstd.poison();
      emu::inject_failure(f.api, cudaErrorInvalidValue);
      ln4j_forward_args fa = forward_args(LN4J_FLOAT32, LN4J_FLOAT32, rows, f.cols);
      fa.norm = LN4J_NORM_RMS;
      fa.x = x.ptr;
      fa.y = y.ptr;
      fa.rstd = rstd.ptr;
      const ln4j_exec ex = on_device(f.dev);
      const int s = ln4j_cuda_forward(&fa, &ex);
      CHECK(s == LN4J_ERR_CUDA && std::strstr(ln4j_cuda_last_error(), f.named) &&
                std::strstr(ln4j_cuda_last_error(), "cudaErrorInvalidValue"),
            "failed %s (cols %lld): forward status %d, message '%s'", f.api, (long long)f.cols, s,
            ln4j_cuda_last_error());
      CHECK(all_poisoned(y) && all_poisoned(rstd), "failed %s (cols %lld): the forward wrote outputs", f.api,
            (long long)f.cols);
      (void)cudaGetLastError();
    } else {
      Probe ok = probe(f.dev, f.flags, f.cols);  // the same call without a failure works
      CHECK(ok.fwd == LN4J_OK && ok.bwd == LN4J_OK, "from-y probe: %d %d %s", ok.fwd, ok.bwd, ln4j_cuda_last_error());
    }
  }
  {  // a failure inside the backward from y (after its forward): dx and dgamma stay untouched
    const int64_t rows = 3, cols = 768, n = rows * cols;
    Dev y(size_t(n) * 4), dy(size_t(n) * 4), rstd(size_t(rows) * 4), g(size_t(cols) * 4), dx(size_t(n) * 4),
        dg(size_t(cols) * 4);
    const int64_t wsb = workspace_for(rows, cols);
    Dev ws{size_t(wsb)};
    std::vector<float> h(size_t(n), 0.5f), hg(size_t(cols), 1.5f), hr(size_t(rows), 2.0f);
    cudaMemcpy(y.ptr, h.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dy.ptr, h.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(g.ptr, hg.data(), size_t(cols) * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(rstd.ptr, hr.data(), size_t(rows) * 4, cudaMemcpyHostToDevice);
    // Each failure is reported against the call that failed (the message names it), not against a later one.
    const char* const apis[][2] = {{"cudaMemsetAsync", "cudaMemsetAsync"},
                                   {"launch", "launch of first_zero_gamma"},
                                   {"cudaMemcpyAsync", "cudaMemcpyAsync"},
                                   {"cudaStreamSynchronize", "cudaStreamSynchronize"}};
    for (const auto& an : apis) {
      const char* api = an[0];
      dx.poison();
      dg.poison();
      emu::inject_failure(api, cudaErrorInvalidValue);
      ln4j_backward_args ba = backward_args(LN4J_FLOAT32, LN4J_FLOAT32, rows, cols);
      ba.norm = LN4J_NORM_RMS;
      ba.flags = LN4J_FLAG_BACKWARD_FROM_OUTPUT;
      ba.dy = dy.ptr;
      ba.x = y.ptr;
      ba.rstd = rstd.ptr;
      ba.gamma = g.ptr;
      ba.dx = dx.ptr;
      ba.dgamma = dg.ptr;
      const ln4j_exec ex = on_device(0, ws.ptr, wsb);
      const int s = ln4j_cuda_backward(&ba, &ex);
      CHECK(s == LN4J_ERR_CUDA && std::strstr(ln4j_cuda_last_error(), "cudaErrorInvalidValue") &&
                std::strstr(ln4j_cuda_last_error(), an[1]),
            "failed %s in the backward from y: status %d, message '%s' (expected to name %s)", api, s,
            ln4j_cuda_last_error(), an[1]);
      CHECK(all_poisoned(dx) && all_poisoned(dg), "failed %s in the backward from y: outputs written", api);
      (void)cudaGetLastError();
    }
  }
  // A lost context (sticky error): every call fails naming it, nothing is written, and it is not cleared.
  for (int64_t cols : {int64_t(33), int64_t(4097)}) {
    const Probe p = probe(0, 0, cols, true, cudaErrorIllegalAddress);
    CHECK(p.fwd == LN4J_ERR_CUDA && p.bwd == LN4J_ERR_CUDA && !p.wrote &&
              std::strstr(ln4j_cuda_last_error(), "cudaErrorIllegalAddress"),
          "sticky error, cols=%lld: forward %d, backward %d, wrote %d, message '%s'", (long long)cols, p.fwd, p.bwd,
          int(p.wrote), ln4j_cuda_last_error());
  }
  // The shared-memory attribute is process-wide: it is set once per device and kernel (to the opt-in maximum),
  // never per call to the call's size.
  const long sets0 = emu::attribute_sets();
  for (int rep = 0; rep < 2; ++rep)
    for (int64_t cols : {int64_t(14000), int64_t(20000), int64_t(30000), int64_t(50000)}) {
      const Probe p = probe(0, 0, cols);
      CHECK(p.fwd == LN4J_OK && p.bwd == LN4J_OK, "attribute probe cols=%lld: %d %d %s", (long long)cols, p.fwd,
            p.bwd, ln4j_cuda_last_error());
    }
  CHECK(emu::attribute_sets() - sets0 <= 2, "cudaFuncSetAttribute called %ld times for 2 kernels on one device",
        emu::attribute_sets() - sets0);
  // An old driver: the reason says so and what CUDA 13 needs.
  emu::set_device_count_error(cudaErrorInsufficientDriver);
  const char* reason = nullptr;
  const int n = ln4j_cuda_device_count(&reason);
  CHECK(n == 0 && reason && std::strstr(reason, "too old") && std::strstr(reason, "580"),
        "insufficient driver: count %d, reason '%s'", n, reason ? reason : "(null)");
  emu::set_device_count_error(cudaSuccess);
  // The backward from y with gamma and a workspace, but without dgamma/dbeta, works (its flag is in the workspace).
  const Probe fy = probe(0, LN4J_FLAG_BACKWARD_FROM_OUTPUT, 768, false);
  CHECK(fy.fwd == LN4J_OK && fy.bwd == LN4J_OK, "from y without dgamma: %d %d %s", fy.fwd, fy.bwd,
        ln4j_cuda_last_error());
}
#endif

}  // namespace

int main() {
  // LN4J_CUDA_TEST_QUICK=1: a subset that still reaches every regime and variant (for compute-sanitizer, whose
  // tools slow every launch by 10-100x): two dtype pairs, fewer widths, no many-row or > 2^31-element cases.
  const bool quick = std::getenv("LN4J_CUDA_TEST_QUICK") != nullptr;
  check_arguments();
  const char* reason = nullptr;
  if (ln4j_cuda_device_count(&reason) == 0) {
    if (failures) return 1;
    std::printf("skipped: %s\n", reason ? reason : "no CUDA device");
    return 77;
  }
  {  // device selection is checked too
    float buf[8] = {0};
    ln4j_forward_args fa = forward_args(LN4J_FLOAT32, LN4J_FLOAT32, 1, 8);
    fa.x = buf;
    fa.y = buf;
    const ln4j_exec ex = on_device(1 << 20);
    int s = ln4j_cuda_forward(&fa, &ex);
    CHECK(s == LN4J_ERR_INVALID_ARGUMENT, "device out of range: %d %s", s, ln4j_cuda_last_error());
  }
#if defined(LN4J_CUDA_EMULATED)
  emulation_checks();
#endif
  std::mt19937_64 rng(20261125);
  const int32_t pairs[6][2] = {{LN4J_FLOAT32, LN4J_FLOAT32},   {LN4J_FLOAT64, LN4J_FLOAT64},
                               {LN4J_BFLOAT16, LN4J_BFLOAT16}, {LN4J_BFLOAT16, LN4J_FLOAT32},
                               {LN4J_FLOAT16, LN4J_FLOAT16},   {LN4J_FLOAT16, LN4J_FLOAT32}};
  // Every regime and its edges: group (1..1024: 1 to 32 lanes, 1 to 16 packs per lane), smem, stream; the
  // backward's register forms (<= 256, 512, 1024, 2048, 4096) and its streaming form.
  const int64_t widths[] = {1,   2,   3,   7,   8,    15,   16,   17,   31,   32,   33,   63,    64,     65,     127,
                            128, 129, 255, 256, 257,  768,  1000, 1023, 1024, 1025, 4096, 4097, 65537, 1000000};
  // The variants (RMSNorm, zero-centred gamma, fused residual, from y) on widths that reach every regime.
  const int64_t vwidths[] = {1, 7, 33, 129, 768, 1025, 4097, 65537};
  auto in = [](int64_t v, std::initializer_list<int64_t> l) { return std::find(l.begin(), l.end(), v) != l.end(); };
  for (const auto& pr : pairs) {
    const int32_t xd = pr[0], pd = pr[1];
    if (quick && !(pd == LN4J_FLOAT32 && (xd == LN4J_FLOAT32 || xd == LN4J_BFLOAT16))) continue;
    for (int64_t cols : widths) {
      if (quick && !in(cols, {1, 33, 768, 1025, 4097, 65537})) continue;
      const int64_t rows = std::max<int64_t>(2, std::min<int64_t>(kRowsCap, (int64_t(1) << 20) / cols));
      run_case(Case{xd, pd, rows, cols}, rng);
    }
    // Many rows (grid striding, several rows per partial block), no affine, no bias, rows not 16-byte aligned.
    if (!quick) run_case(Case{xd, pd, kManyRows, 7}, rng);
    if (!quick) run_case(Case{xd, pd, kManyRows768, 768}, rng);
    { Case c{xd, pd, 5, 1025}; c.affine = false; run_case(c, rng); }
    { Case c{xd, pd, 3, 65537}; c.affine = false; run_case(c, rng); }
    { Case c{xd, pd, 4, 300}; c.bias = false; run_case(c, rng); }
    { Case c{xd, pd, 9, 1000}; c.misalign = size_t(dsize(xd)); run_case(c, rng); }
    { Case c{xd, pd, 3, 20000}; c.misalign = size_t(dsize(xd)); run_case(c, rng); }
    { Case c{xd, pd, 5, 129}; c.misalign = size_t(dsize(xd)); c.residual = true; run_case(c, rng); }
    for (int64_t cols : vwidths) {
      if (quick && !in(cols, {33, 4097, 65537})) continue;
      const int64_t rows = std::max<int64_t>(2, std::min<int64_t>(kVariantRowsCap, (int64_t(1) << 19) / cols));
      Case base{xd, pd, rows, cols};
      { Case c = base; c.rms = true; run_case(c, rng); }
      { Case c = base; c.rms = true; c.affine = false; run_case(c, rng); }
      { Case c = base; c.zc = true; run_case(c, rng); }
      { Case c = base; c.rms = true; c.zc = true; run_case(c, rng); }
      { Case c = base; c.residual = true; run_case(c, rng); }
      { Case c = base; c.rms = true; c.residual = true; c.zc = true; run_case(c, rng); }
      { Case c = base; c.residual = true; c.res_out = false; c.from_y = true; run_case(c, rng); }
      // In-place residual update: residual_out aliases residual, or x.
      { Case c = base; c.residual = true; c.inplace = 1; run_case(c, rng); }
      { Case c = base; c.rms = true; c.residual = true; c.inplace = 2; run_case(c, rng); }
      { Case c = base; c.from_y = true; run_case(c, rng); }
      { Case c = base; c.from_y = true; c.affine = false; run_case(c, rng); }
      { Case c = base; c.rms = true; c.from_y = true; c.zc = true; run_case(c, rng); }
      // The zero-gamma rule: from y with dgamma wanted fails naming the column, then dx/dbeta without dgamma;
      // from x, dgamma is computed as usual.
      { Case c = base; c.from_y = true; c.zero_gamma = 2; run_case(c, rng); }
      { Case c = base; c.rms = true; c.zc = true; c.from_y = true; c.zero_gamma = 1; run_case(c, rng); }
      { Case c = base; c.zero_gamma = 2; run_case(c, rng); }
    }
  }
  for (int64_t cols : {int64_t(1), int64_t(33), int64_t(768), int64_t(4097), int64_t(65537)}) {  // rows = 1
    if (quick) break;
    run_case(Case{LN4J_FLOAT32, LN4J_FLOAT32, 1, cols}, rng);
    Case c{LN4J_BFLOAT16, LN4J_BFLOAT16, 1, cols};
    c.rms = true;
    c.from_y = true;
    run_case(c, rng);
  }
  if (!quick) {
    run_case(Case{LN4J_BFLOAT16, LN4J_FLOAT32, 1, 1000000}, rng);
    { Case c{LN4J_BFLOAT16, LN4J_FLOAT32, 1, 1000000}; c.rms = true; c.residual = true; run_case(c, rng); }
    big_case(rng);
  }
  const int ndev = ln4j_cuda_device_count(nullptr);
  // Every other device (the emulation's T4-class profile): the widths around its regime limits, every dtype pair,
  // the variants where they matter (in-place residual in every regime).
  for (int d = 1; d < ndev; ++d) {
    g_dev = d;
    for (const auto& pr : pairs) {
      const int32_t xd = pr[0], pd = pr[1];
      if (quick && pd != LN4J_FLOAT32) continue;
      for (int64_t cols : {int64_t(1025), int64_t(4097), int64_t(12000), int64_t(20000), int64_t(65537)}) {
        const int64_t rows = cols > 20000 ? 3 : 7;
        run_case(Case{xd, pd, rows, cols}, rng);
        { Case c{xd, pd, rows, cols}; c.residual = true; c.inplace = 1; run_case(c, rng); }
        { Case c{xd, pd, rows, cols}; c.rms = true; c.residual = true; c.inplace = 2; c.zc = true; run_case(c, rng); }
        { Case c{xd, pd, rows, cols}; c.from_y = true; run_case(c, rng); }
      }
      { Case c{xd, pd, 3, 20000}; c.misalign = size_t(dsize(xd)); run_case(c, rng); }
    }
  }
  g_dev = 0;
  for (int64_t cols : {int64_t(12000), int64_t(20000), int64_t(40000)}) {  // in place, around the 227 KiB limit
    Case c{LN4J_FLOAT32, LN4J_FLOAT32, 3, cols};
    c.residual = true;
    c.inplace = 1;
    run_case(c, rng);
  }
  cross_device_bits(ndev);
#if defined(LN4J_CUDA_EMULATED)
  CHECK(emu::violations() == bad_mask_baseline, "emulation: %ld kernel-model violations (see stderr)",
        emu::violations() - bad_mask_baseline);
#endif
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "all CUDA checks passed", failures);
  return failures ? 1 : 0;
}

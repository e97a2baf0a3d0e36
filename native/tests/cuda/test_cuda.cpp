// GPU checks of liblayernorm4j_cuda against a float64 CPU reference written here.
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
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "layernorm4j/layernorm4j.h"

namespace {

int failures = 0;

#define CHECK(cond, ...)                           \
  do {                                             \
    if (!(cond)) {                                 \
      ++failures;                                  \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                    \
      std::printf("\n");                           \
    }                                              \
  } while (0)

// ---- host encodings of the storage dtypes (round to nearest even), independent of the CUDA headers ----
uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}
float bf16_to_f32(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00;
  if (x >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (x < 0x38800000u) {                        // below 2^-14: subnormal, value * 2^24 rounded to an integer
    float a;
    std::memcpy(&a, &x, 4);
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));
  }
  uint32_t h = ((((x >> 23) - 127 + 15)) << 10) | ((x & 0x7fffffu) >> 13);
  const uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return uint16_t(sign | h);
}
float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v;
  if (e == 0) v = std::ldexp(float(m), -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = std::ldexp(float(m | 0x400u), int(e) - 25);
  uint32_t x;
  std::memcpy(&x, &v, 4);
  x |= sign;
  std::memcpy(&v, &x, 4);
  return v;
}

int dsize(int32_t d) { return d == LN4J_FLOAT64 ? 8 : d == LN4J_FLOAT32 ? 4 : 2; }
const char* dname(int32_t d) {
  return d == LN4J_FLOAT32 ? "f32" : d == LN4J_FLOAT64 ? "f64" : d == LN4J_BFLOAT16 ? "bf16" : "f16";
}
// Unit roundoff (half an ulp at 1) of a storage dtype.
double unit(int32_t d) {
  return d == LN4J_FLOAT64 ? std::ldexp(1.0, -53)
         : d == LN4J_FLOAT32 ? std::ldexp(1.0, -24)
         : d == LN4J_BFLOAT16 ? std::ldexp(1.0, -8)
                              : std::ldexp(1.0, -11);
}

// A host array of a storage dtype.
struct Host {
  int32_t dtype;
  std::vector<unsigned char> bytes;
  Host(int32_t d, size_t n) : dtype(d), bytes(n * dsize(d)) {}
  size_t size() const { return bytes.size() / dsize(dtype); }
  void set(size_t i, double v) {
    unsigned char* p = bytes.data() + i * dsize(dtype);
    if (dtype == LN4J_FLOAT64) std::memcpy(p, &v, 8);
    else if (dtype == LN4J_FLOAT32) { float f = float(v); std::memcpy(p, &f, 4); }
    else { uint16_t h = dtype == LN4J_BFLOAT16 ? f32_to_bf16(float(v)) : f32_to_f16(float(v)); std::memcpy(p, &h, 2); }
  }
  double get(size_t i) const {
    const unsigned char* p = bytes.data() + i * dsize(dtype);
    if (dtype == LN4J_FLOAT64) { double v; std::memcpy(&v, p, 8); return v; }
    if (dtype == LN4J_FLOAT32) { float f; std::memcpy(&f, p, 4); return f; }
    uint16_t h; std::memcpy(&h, p, 2);
    return dtype == LN4J_BFLOAT16 ? bf16_to_f32(h) : f16_to_f32(h);
  }
};

// A device array; `offset_elems` shifts the pointer to test rows that are not 16-byte aligned.
struct Dev {
  void* base = nullptr;
  void* ptr = nullptr;
  size_t bytes = 0;
  Dev(size_t n_bytes, size_t offset_bytes = 0) : bytes(n_bytes) {
    if (cudaMalloc(&base, n_bytes + offset_bytes + 16) != cudaSuccess) { base = nullptr; ptr = nullptr; return; }
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

struct Case {
  int32_t xd, pd;
  int64_t rows, cols;
  bool affine;
  size_t misalign;  // bytes added to every tensor pointer (rows not 16-byte aligned)
};

bool close(double got, double ref, double tol) { return std::isfinite(got) && std::fabs(got - ref) <= tol; }

void run_case(const Case& c, std::mt19937_64& rng) {
  const int64_t rows = c.rows, cols = c.cols, n = rows * cols;
  const int32_t sd = c.xd == LN4J_FLOAT64 ? LN4J_FLOAT64 : LN4J_FLOAT32;
  const double uT = unit(c.xd), uP = unit(c.pd), uA = unit(sd);
  const double eps = 1e-5;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  char label[160];
  std::snprintf(label, sizeof label, "x=%s p=%s rows=%lld cols=%lld%s%s", dname(c.xd), dname(c.pd), (long long)rows,
                (long long)cols, c.affine ? "" : " no-affine", c.misalign ? " misaligned" : "");

  Host x(c.xd, n), dy(c.xd, n), gamma(c.pd, cols), beta(c.pd, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const double centre = 3.0 + 0.25 * u(rng), spread = 0.5 + 0.25 * u(rng);  // off-centre rows
    for (int64_t j = 0; j < cols; ++j) x.set(r * cols + j, centre + spread * u(rng));
  }
  for (int64_t i = 0; i < n; ++i) dy.set(i, u(rng));
  for (int64_t j = 0; j < cols; ++j) {
    gamma.set(j, 1.0 + 0.5 * u(rng));
    beta.set(j, 0.5 * u(rng));
  }

  const size_t xb = size_t(n) * dsize(c.xd), pb = size_t(cols) * dsize(c.pd), sb = size_t(rows) * dsize(sd);
  Dev dx_in(xb, c.misalign), ddy(xb, c.misalign), dgam(pb), dbet(pb), dyo(xb, c.misalign), dmean(sb), drstd(sb),
      ddx(xb, c.misalign), ddg(pb), ddb(pb);
  const int64_t ws_bytes = ln4j_cuda_backward_workspace_bytes(rows, cols);
  Dev ws{size_t(ws_bytes)};
  if (!dx_in.ptr || !ddy.ptr || !dyo.ptr || !ddx.ptr || !ws.ptr) {
    CHECK(false, "%s: cudaMalloc failed", label);
    return;
  }
  dx_in.upload(x);
  ddy.upload(dy);
  dgam.upload(gamma);
  dbet.upload(beta);
  const void* g = c.affine ? dgam.ptr : nullptr;
  const void* b = c.affine ? dbet.ptr : nullptr;

  // Two runs of forward + backward on poisoned outputs; the second must repeat the first bit for bit.
  std::vector<unsigned char> first[6];
  for (int run = 0; run < 2; ++run) {
    dyo.poison(); dmean.poison(); drstd.poison(); ddx.poison(); ddg.poison(); ddb.poison(); ws.poison();
    int s = ln4j_cuda_forward(0, nullptr, LN4J_NORM_LAYER, 0, c.xd, c.pd, rows, cols, eps, dx_in.ptr, nullptr, g, b,
                              dyo.ptr, nullptr, dmean.ptr, drstd.ptr);
    CHECK(s == LN4J_OK, "%s: forward status %d: %s", label, s, ln4j_cuda_last_error());
    s = ln4j_cuda_backward(0, nullptr, LN4J_NORM_LAYER, 0, c.xd, c.pd, rows, cols, ddy.ptr, nullptr, dx_in.ptr,
                           dmean.ptr, drstd.ptr, g, nullptr, ddx.ptr, c.affine ? ddg.ptr : nullptr,
                           c.affine ? ddb.ptr : nullptr, ws.ptr, ws_bytes);
    CHECK(s == LN4J_OK, "%s: backward status %d: %s", label, s, ln4j_cuda_last_error());
    cudaError_t e = cudaDeviceSynchronize();
    CHECK(e == cudaSuccess, "%s: cudaDeviceSynchronize: %s", label, cudaGetErrorName(e));
    if (e != cudaSuccess) return;
    const Dev* outs[6] = {&dyo, &dmean, &drstd, &ddx, &ddg, &ddb};
    for (int k = 0; k < 6; ++k) {
      if (run == 0) first[k] = outs[k]->raw();
      else CHECK(first[k] == outs[k]->raw(), "%s: output %d differs between two identical runs", label, k);
    }
  }

  const Host y = dyo.download(c.xd), mean = dmean.download(sd), rstd = drstd.download(sd), dx = ddx.download(c.xd);
  const Host dgamma = ddg.download(c.pd), dbeta = ddb.download(c.pd);
  std::vector<double> rdg(cols, 0.0), rdb(cols, 0.0), adg(cols, 0.0), adb(cols, 0.0), edg(cols, 0.0);
  int bad_y = 0, bad_dx = 0, bad_stats = 0;
  // Rows per partial block and number of blocks bound the float32 summation of dgamma/dbeta.
  const double stats_k = 16.0 + 2.0 * std::sqrt(double(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const size_t o = size_t(r * cols);
    double m = 0;
    for (int64_t j = 0; j < cols; ++j) m += x.get(o + j);
    m /= double(cols);
    double v = 0;
    for (int64_t j = 0; j < cols; ++j) { const double d = x.get(o + j) - m; v += d * d; }
    v /= double(cols);
    const double sd_ = std::sqrt(v), rs = 1.0 / std::sqrt(v + eps);
    // Relative error of the float statistics: sums of cols terms in the accumulation type, scaled by how far the
    // mean sits from 0 compared with the spread.
    const double es = stats_k * uA * (1.0 + std::fabs(m) / std::max(sd_, 1e-30));
    if (!close(mean.get(r), m, es * sd_ + uA * std::fabs(m)) && bad_stats++ < 3)
      CHECK(false, "%s: mean[%lld] = %.9g, reference %.9g", label, (long long)r, mean.get(r), m);
    if (!close(rstd.get(r), rs, es * rs) && bad_stats++ < 3)
      CHECK(false, "%s: rstd[%lld] = %.9g, reference %.9g", label, (long long)r, rstd.get(r), rs);
    double c1 = 0, c2 = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double gj = c.affine ? gamma.get(j) : 1.0, bj = c.affine ? beta.get(j) : 0.0;
      const double xh = (x.get(o + j) - m) * rs;
      const double ref = xh * gj + bj;
      const double tol = uT * std::fabs(ref) + es * std::fabs(gj) * (1.0 + std::fabs(xh)) + 4 * uA * std::fabs(bj);
      if (!close(y.get(o + j), ref, tol) && bad_y++ < 3)
        CHECK(false, "%s: y[%lld,%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)r, (long long)j,
              y.get(o + j), ref, tol);
      const double gdy = gj * dy.get(o + j);
      c1 += gdy;
      c2 += gdy * xh;
      rdg[j] += dy.get(o + j) * xh;
      rdb[j] += dy.get(o + j);
      adg[j] += std::fabs(dy.get(o + j)) * (1.0 + std::fabs(xh));
      adb[j] += std::fabs(dy.get(o + j));
      edg[j] += es * std::fabs(dy.get(o + j)) * (1.0 + std::fabs(xh));  // error of the float xhat
    }
    c1 /= double(cols);
    c2 /= double(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double gj = c.affine ? gamma.get(j) : 1.0;
      const double xh = (x.get(o + j) - m) * rs, gdy = gj * dy.get(o + j);
      const double ref = rs * (gdy - c1 - xh * c2);
      const double scale = rs * (std::fabs(gdy) + std::fabs(c1) + (1.0 + std::fabs(xh)) * std::fabs(c2) +
                                 std::sqrt(double(cols)) * uA * (1.0 + std::fabs(xh)));
      const double tol = uT * std::fabs(ref) + 4 * es * scale;
      if (!close(dx.get(o + j), ref, tol) && bad_dx++ < 3)
        CHECK(false, "%s: dx[%lld,%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)r, (long long)j,
              dx.get(o + j), ref, tol);
    }
  }
  if (c.affine) {
    int bad = 0;
    const double sum_k = 8.0 + double(rows);  // float sums over the rows (in a part, then over the parts)
    for (int64_t j = 0; j < cols; ++j) {
      const double tg = uP * std::fabs(rdg[j]) + sum_k * uA * adg[j] + 2.0 * edg[j];
      const double tb = uP * std::fabs(rdb[j]) + sum_k * uA * adb[j];
      if (!close(dgamma.get(j), rdg[j], tg) && bad++ < 3)
        CHECK(false, "%s: dgamma[%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)j, dgamma.get(j),
              rdg[j], tg);
      if (!close(dbeta.get(j), rdb[j], tb) && bad++ < 3)
        CHECK(false, "%s: dbeta[%lld] = %.9g, reference %.9g (tol %.3g)", label, (long long)j, dbeta.get(j),
              rdb[j], tb);
    }
  }
  std::printf("%s %s\n", (bad_y || bad_dx || bad_stats) ? "bad " : "ok  ", label);
  std::fflush(stdout);
}

// Checks that answer before any device is touched (they run on every machine).
void check_arguments() {
  CHECK(ln4j_cuda_built() == 1, "ln4j_cuda_built() = %d", ln4j_cuda_built());
  const char* reason = nullptr;
  const int n = ln4j_cuda_device_count(&reason);
  CHECK(n > 0 || (reason && *reason && !std::strchr(reason, '\n')), "device_count 0 without a one-line reason");
  CHECK(ln4j_cuda_backward_workspace_bytes(4, 8) > 0, "workspace bytes");
  float buf[8] = {0};
  int s = ln4j_cuda_forward(0, nullptr, LN4J_NORM_RMS, 0, LN4J_FLOAT32, LN4J_FLOAT32, 1, 8, 1e-5, buf, nullptr,
                            nullptr, nullptr, buf, nullptr, nullptr, buf);
  CHECK(s == LN4J_ERR_UNSUPPORTED && std::strstr(ln4j_cuda_last_error(), "RMSNorm"), "RMS forward: %d %s", s,
        ln4j_cuda_last_error());
  s = ln4j_cuda_forward(0, nullptr, LN4J_NORM_LAYER, 0, LN4J_FLOAT32, LN4J_FLOAT32, 1, 8, 1e-5, buf, buf, nullptr,
                        nullptr, buf, nullptr, buf, buf);
  CHECK(s == LN4J_ERR_UNSUPPORTED && std::strstr(ln4j_cuda_last_error(), "residual"), "residual: %d %s", s,
        ln4j_cuda_last_error());
  s = ln4j_cuda_forward(0, nullptr, LN4J_NORM_LAYER, 0, LN4J_FLOAT32, LN4J_FLOAT32, 0, 8, 1e-5, buf, nullptr,
                        nullptr, nullptr, buf, nullptr, buf, buf);
  CHECK(s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "rows"), "rows=0: %d %s", s,
        ln4j_cuda_last_error());
  s = ln4j_cuda_backward(0, nullptr, LN4J_NORM_LAYER, 0, LN4J_FLOAT32, LN4J_FLOAT32, 4, 2, buf, nullptr, buf, buf,
                         buf, buf, nullptr, buf, buf, buf, nullptr, 0);
  CHECK(s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "workspace"), "ws NULL: %d %s", s,
        ln4j_cuda_last_error());
  s = ln4j_cuda_backward(0, nullptr, LN4J_NORM_LAYER, 0, LN4J_FLOAT32, LN4J_FLOAT32, 4, 2, buf, nullptr, buf, buf,
                         buf, buf, nullptr, buf, buf, buf, buf, 4);
  CHECK(s == LN4J_ERR_INVALID_ARGUMENT && std::strstr(ln4j_cuda_last_error(), "workspace_bytes"), "ws small: %d %s",
        s, ln4j_cuda_last_error());
}

// More than 2^31 elements (64-bit indexing): every row is a copy of one random row (filled by doubling device
// copies), outputs poisoned; the first and last rows of y, mean, rstd and dx are checked against the reference
// of that row (an index that wraps at 2^31 leaves the last rows NaN or wrong), and dgamma/dbeta against rows
// times the row's terms.
void big_case(std::mt19937_64& rng) {
  const int32_t xd = LN4J_BFLOAT16, pd = LN4J_FLOAT32;
  const int64_t cols = 1024, rows = (int64_t(1) << 21) + 5, n = rows * cols;
  const double eps = 1e-5, uT = unit(xd), uA = unit(LN4J_FLOAT32);
  const size_t rb = size_t(cols) * 2, xb = size_t(n) * 2;
  const int64_t wsb = ln4j_cuda_backward_workspace_bytes(rows, cols);
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
  int s = ln4j_cuda_forward(0, nullptr, LN4J_NORM_LAYER, 0, xd, pd, rows, cols, eps, x.ptr, nullptr, gam.ptr, bet.ptr,
                            y.ptr, nullptr, mean.ptr, rstd.ptr);
  CHECK(s == LN4J_OK, "big forward: %d %s", s, ln4j_cuda_last_error());
  s = ln4j_cuda_backward(0, nullptr, LN4J_NORM_LAYER, 0, xd, pd, rows, cols, dy.ptr, nullptr, x.ptr, mean.ptr,
                         rstd.ptr, gam.ptr, nullptr, dx.ptr, dg.ptr, db.ptr, ws.ptr, wsb);
  CHECK(s == LN4J_OK, "big backward: %d %s", s, ln4j_cuda_last_error());
  cudaError_t e = cudaDeviceSynchronize();
  CHECK(e == cudaSuccess, "big case: %s", cudaGetErrorName(e));
  if (e != cudaSuccess) return;
  double m = 0, v = 0, c1 = 0, c2 = 0;
  for (int64_t j = 0; j < cols; ++j) m += xr.get(j);
  m /= double(cols);
  for (int64_t j = 0; j < cols; ++j) v += (xr.get(j) - m) * (xr.get(j) - m);
  v /= double(cols);
  const double rs = 1.0 / std::sqrt(v + eps), es = (16.0 + 2.0 * std::sqrt(double(cols))) * uA * (1.0 + m / std::sqrt(v));
  for (int64_t j = 0; j < cols; ++j) {
    const double xh = (xr.get(j) - m) * rs;
    c1 += g.get(j) * dyr.get(j);
    c2 += g.get(j) * dyr.get(j) * xh;
  }
  c1 /= double(cols);
  c2 /= double(cols);
  Host dgh = dg.download(pd), dbh = db.download(pd);
  int bad = 0;
  for (int64_t r : {int64_t(0), rows / 2, rows - 1}) {
    Host yr(xd, cols), dxr(xd, cols);
    cudaMemcpy(yr.bytes.data(), static_cast<unsigned char*>(y.ptr) + size_t(r) * rb, rb, cudaMemcpyDeviceToHost);
    cudaMemcpy(dxr.bytes.data(), static_cast<unsigned char*>(dx.ptr) + size_t(r) * rb, rb, cudaMemcpyDeviceToHost);
    float mr = NAN, rr = NAN;
    cudaMemcpy(&mr, static_cast<float*>(mean.ptr) + r, 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(&rr, static_cast<float*>(rstd.ptr) + r, 4, cudaMemcpyDeviceToHost);
    CHECK(close(mr, m, es * std::sqrt(v) + uA * m) && close(rr, rs, es * rs), "big: mean/rstd of row %lld: %g %g",
          (long long)r, mr, rr);
    for (int64_t j = 0; j < cols; ++j) {
      const double xh = (xr.get(j) - m) * rs, gdy = g.get(j) * dyr.get(j);
      const double yref = xh * g.get(j) + b.get(j), dxref = rs * (gdy - c1 - xh * c2);
      const double ty = uT * std::fabs(yref) + es * std::fabs(g.get(j)) * (1 + std::fabs(xh)) + 4 * uA;
      const double tdx = uT * std::fabs(dxref) +
                         4 * es * rs * (std::fabs(gdy) + std::fabs(c1) + (1 + std::fabs(xh)) * std::fabs(c2) + 1e-3);
      if ((!close(yr.get(j), yref, ty) || !close(dxr.get(j), dxref, tdx)) && bad++ < 3)
        CHECK(false, "big: row %lld col %lld: y %g (ref %g), dx %g (ref %g)", (long long)r, (long long)j,
              yr.get(j), yref, dxr.get(j), dxref);
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    const double xh = (xr.get(j) - m) * rs;
    const double rg = double(rows) * dyr.get(j) * xh, rbeta = double(rows) * dyr.get(j);
    // float sums over at most rows_per_part rows, then over the parts: relative error about 4k * uA here.
    const double rel = (8192.0 + es / uA) * uA;
    if ((!close(dgh.get(j), rg, rel * double(rows) * std::fabs(dyr.get(j)) * (1 + std::fabs(xh))) ||
         !close(dbh.get(j), rbeta, rel * double(rows) * std::fabs(dyr.get(j)))) &&
        bad++ < 6)
      CHECK(false, "big: dgamma[%lld] %g (ref %g), dbeta %g (ref %g)", (long long)j, dgh.get(j), rg, dbh.get(j), rbeta);
  }
  std::printf("%s x=bf16 p=f32 rows=%lld cols=%lld (%lld elements)\n", bad ? "bad " : "ok  ", (long long)rows,
              (long long)cols, (long long)n);
}

}  // namespace

int main() {
  check_arguments();
  const char* reason = nullptr;
  if (ln4j_cuda_device_count(&reason) == 0) {
    if (failures) return 1;
    std::printf("skipped: %s\n", reason ? reason : "no CUDA device");
    return 77;
  }
  {  // device selection is checked too
    float buf[8] = {0};
    int s = ln4j_cuda_forward(1 << 20, nullptr, LN4J_NORM_LAYER, 0, LN4J_FLOAT32, LN4J_FLOAT32, 1, 8, 1e-5, buf,
                              nullptr, nullptr, nullptr, buf, nullptr, nullptr, nullptr);
    CHECK(s == LN4J_ERR_INVALID_ARGUMENT, "device out of range: %d %s", s, ln4j_cuda_last_error());
  }
  std::mt19937_64 rng(20261125);
  const int32_t pairs[6][2] = {{LN4J_FLOAT32, LN4J_FLOAT32},   {LN4J_FLOAT64, LN4J_FLOAT64},
                               {LN4J_BFLOAT16, LN4J_BFLOAT16}, {LN4J_BFLOAT16, LN4J_FLOAT32},
                               {LN4J_FLOAT16, LN4J_FLOAT16},   {LN4J_FLOAT16, LN4J_FLOAT32}};
  const int64_t widths[] = {1, 2, 3, 7, 8, 31, 32, 33, 127, 128, 129, 768, 1000, 1024, 1025, 4097, 65537, 1000000};
  for (const auto& pr : pairs) {
    for (int64_t cols : widths) {
      const int64_t rows = std::max<int64_t>(2, std::min<int64_t>(67, (int64_t(1) << 20) / cols));
      run_case(Case{pr[0], pr[1], rows, cols, true, 0}, rng);
    }
    // Many rows (grid striding, several rows per partial block), no affine, rows not 16-byte aligned.
    run_case(Case{pr[0], pr[1], 100003, 7, true, 0}, rng);
    run_case(Case{pr[0], pr[1], 3001, 768, true, 0}, rng);
    run_case(Case{pr[0], pr[1], 5, 1025, false, 0}, rng);
    run_case(Case{pr[0], pr[1], 3, 65537, false, 0}, rng);
    run_case(Case{pr[0], pr[1], 9, 1000, true, size_t(dsize(pr[0]))}, rng);
    run_case(Case{pr[0], pr[1], 3, 20000, true, size_t(dsize(pr[0]))}, rng);
  }
  run_case(Case{LN4J_FLOAT32, LN4J_FLOAT32, 1, 4097, true, 0}, rng);
  run_case(Case{LN4J_BFLOAT16, LN4J_FLOAT32, 1, 1000000, true, 0}, rng);
  big_case(rng);
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "all CUDA checks passed", failures);
  return failures ? 1 : 0;
}

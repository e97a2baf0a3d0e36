// ln4j_reference_cases [file]: writes a few LayerNorm problems (float64, off-centre rows) with the reference
// library's forward and backward (long double inside) as hex floats, for the Java port of the reference
// (cli/Reference.java) to be checked against this one (ReferencePortTest). Writes to stdout without a file.
#include <cstdio>
#include <random>
#include <vector>

#include "ln4j_reference.h"

namespace {

void line(std::FILE* f, const char* name, const std::vector<double>& v) {
  std::fprintf(f, "%s", name);
  for (double e : v) std::fprintf(f, " %a", e);
  std::fprintf(f, "\n");
}

void write_case(std::FILE* f, std::mt19937_64& rng, int64_t rows, int64_t cols) {
  namespace ref = ln4j::ref;
  const double eps = 1e-5;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const size_t n = size_t(rows * cols), nc = size_t(cols);
  std::vector<double> x(n), dy(n), gamma(nc), beta(nc);
  for (int64_t r = 0; r < rows; ++r) {
    const double centre = 5.0 + 3.0 * u(rng), spread = 1.0 + 0.5 * u(rng);
    for (int64_t j = 0; j < cols; ++j) x[size_t(r * cols + j)] = centre + spread * u(rng);
  }
  for (double& e : dy) e = u(rng);
  for (int64_t j = 0; j < cols; ++j) {
    gamma[size_t(j)] = 1.0 + 0.5 * u(rng);
    beta[size_t(j)] = 0.5 * u(rng);
  }
  const size_t nr = size_t(rows);
  std::vector<double> mean(nr), rstd(nr), y(n), dx(n);
  std::vector<long double> dgamma(nc, 0.0L), dbeta(nc, 0.0L), xhat(nc), gdy(nc);
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = x.data() + r * cols;
    const ref::RowStats st = ref::row_stats(row, cols, false, eps);
    mean[size_t(r)] = double(st.mean);
    rstd[size_t(r)] = double(st.rstd);
    for (int64_t j = 0; j < cols; ++j) {
      xhat[size_t(j)] = (row[j] - st.mean) * st.rstd;
      const double d = dy[size_t(r * cols + j)];
      gdy[size_t(j)] = gamma[size_t(j)] * (long double)d;
      y[size_t(r * cols + j)] = double(xhat[size_t(j)] * gamma[size_t(j)] + beta[size_t(j)]);
      dgamma[size_t(j)] += d * xhat[size_t(j)];
      dbeta[size_t(j)] += d;
    }
    const ref::RowGrad g = ref::row_grad(xhat.data(), gdy.data(), nullptr, cols, false);
    for (int64_t j = 0; j < cols; ++j)
      dx[size_t(r * cols + j)] = double(st.rstd * (gdy[size_t(j)] - g.c1 - xhat[size_t(j)] * g.c2));
  }
  std::fprintf(f, "case %lld %lld %a\n", (long long)rows, (long long)cols, eps);
  line(f, "x", x);
  line(f, "gamma", gamma);
  line(f, "beta", beta);
  line(f, "dy", dy);
  line(f, "mean", mean);
  line(f, "rstd", rstd);
  line(f, "y", y);
  line(f, "dx", dx);
  line(f, "dgamma", std::vector<double>(dgamma.begin(), dgamma.end()));
  line(f, "dbeta", std::vector<double>(dbeta.begin(), dbeta.end()));
}

}  // namespace

int main(int argc, char** argv) {
  std::FILE* f = argc > 1 ? std::fopen(argv[1], "w") : stdout;
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", argv[1]);
    return 1;
  }
  std::mt19937_64 rng(20261201);
  const int64_t shapes[][2] = {{3, 7}, {2, 768}, {5, 33}, {1, 4097}, {17, 1}};
  for (const auto& s : shapes) write_case(f, rng, s[0], s[1]);
  std::fprintf(f, "end\n");
  if (f != stdout) std::fclose(f);
  return 0;
}

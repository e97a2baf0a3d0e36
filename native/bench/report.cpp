// Reports of ln4j_bench: the terminal table, CSV, JSON, and a self-written SVG chart (GB/s against cols on a
// log2 axis, one panel per backend and direction, one line per implementation and thread count).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "bench.h"

namespace bench {
namespace {

std::string shape_str(const Result& r) { return std::to_string(r.rows) + "x" + std::to_string(r.cols); }

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string status_str(const Result& r) {
  switch (r.status) {
    case Status::OK: return "OK";
    case Status::VALIDATED: return "VALIDATED (max err/tol " + fmt("%.2g", r.check.max_ratio) + ")";
    case Status::WRONG:
      return "WRONG (max err/tol " + fmt("%.3g", r.check.max_ratio) + ", max abs err " + fmt("%.3g", r.check.max_abs) +
             "; " + r.note + ")";
    default: return std::string(status_name(r.status)) + " (" + r.note + ")";
  }
}

const char* rule(const std::string& backend, const std::string& dir) {
  if (backend == "cpu-fused")
    return dir == "forward" ? "bytes = the fused call's: read x,residual + write y,s (+ stats, params); ceiling = copy of the same bytes"
                            : "bytes = the fused call's: read x,dy,dres + write dx (+ stats, params); from-x/from-y: without dres; "
                              "ceiling = read-two-write-one";
  return dir == "forward" ? "bytes = read x + write y + mean,rstd + gamma,beta; ceiling = copy of the same bytes"
                          : "bytes = read x,dy + write dx + mean,rstd + gamma + dgamma,dbeta; ceiling = read-two-write-one";
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if ((unsigned char)c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", (unsigned)c);
      o += b;
    } else o += c;
  }
  return o + "\"";
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt("%.6g", v);
}

std::string xml(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

}  // namespace

void print_table(const std::vector<Result>& rs, const std::string& machine) {
  std::printf("\nmachine: %s\n", machine.c_str());
  // groups in order of first appearance: backend / dir / threads / regime
  std::vector<std::string> groups;
  auto gkey = [](const Result& r) {
    return r.backend + "|" + r.dir + "|" + std::to_string(r.threads) + "|" + r.regime;
  };
  for (auto& r : rs)
    if (std::find(groups.begin(), groups.end(), gkey(r)) == groups.end()) groups.push_back(gkey(r));
  // forward groups first, then backward
  std::stable_sort(groups.begin(), groups.end(), [](const std::string& a, const std::string& b) {
    auto d = [](const std::string& s) { return s.find("|backward|") != std::string::npos; };
    auto be = [](const std::string& s) { return s.substr(0, s.find('|')); };
    if (be(a) != be(b)) return be(a) < be(b);
    return d(a) < d(b);
  });
  for (auto& g : groups) {
    const Result* first = nullptr;
    for (auto& r : rs)
      if (gkey(r) == g) {
        first = &r;
        break;
      }
    std::printf("\n== %s %s, %s, %s, %s\n   %s\n", first->backend.c_str(), first->dir.c_str(), dtype_label(first->dtype),
                first->backend.rfind("cpu", 0) == 0 ? ("threads=" + std::to_string(first->threads)).c_str() : "device 0",
                first->regime == "warm" ? "warm (one buffer set)" : "cold (rotating buffer sets)",
                rule(first->backend, first->dir));
    std::printf("%-12s %-12s %10s %10s %10s %8s %6s %9s %9s  %s\n", "shape", "impl", "median_us", "p10_us", "p90_us",
                "GB/s", "%ceil", "vs_oneDNN", "vs_PyTrch", "status");
    std::string last_shape;
    for (auto& r : rs) {
      if (gkey(r) != g) continue;
      std::string sh = shape_str(r);
      std::string shown = sh == last_shape ? "" : sh;
      last_shape = sh;
      bool timed = r.status == Status::OK && r.t.samples > 0;
      std::string st = status_str(r);
      if (r.status == Status::OK && !r.note.empty()) st += " " + r.note;
      if (timed && r.t.disturbed) st = "! disturbed (others " + fmt("%.2f", r.t.others_cpus) + " CPUs) " + st;
      if (timed && r.ceiling_drift > kDriftLimit)
        st = "~ ceiling moved " + fmt("%.0f", 100 * r.ceiling_drift) + "% " + st;
      std::printf("%-12s %-12s %10s %10s %10s %8s %6s %9s %9s  %s\n", shown.c_str(), r.impl.c_str(),
                  timed ? fmt("%.1f", r.t.median_us).c_str() : "-", timed ? fmt("%.1f", r.t.p10_us).c_str() : "-",
                  timed ? fmt("%.1f", r.t.p90_us).c_str() : "-", timed ? fmt("%.2f", r.gbps).c_str() : "-",
                  r.pct_ceiling > 0 && r.impl != "ceiling" ? fmt("%.0f%%", r.pct_ceiling).c_str() : "",
                  r.vs_onednn > 0 ? fmt("%.2fx", r.vs_onednn).c_str() : "",
                  r.vs_pytorch > 0 ? fmt("%.2fx", r.vs_pytorch).c_str() : "", st.c_str());
    }
  }
  std::printf("\nvs_oneDNN, vs_PyTrch = peer median / ours median (above 1: ours faster). %%ceil = GB/s / same-run ceiling "
              "GB/s; the ceiling is the fastest of an ordinary-store loop, a non-temporal-store loop, each of them with software "
              "prefetches, and memcpy moving the same bytes (its row says which won).\n");
}

bool write_csv(const std::string& path, const std::vector<Result>& rs, const std::string& machine) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "ln4j_bench: cannot write %s\n", path.c_str());
    return false;
  }
  std::fprintf(f,
               "machine,regime,backend,direction,dtype,threads,rows,cols,impl,status,median_us,p10_us,p90_us,samples,batch,"
               "bytes,gbps,ceiling_gbps,pct_ceiling,vs_onednn,vs_pytorch,ceiling_kind,others_cpus,tries,disturbed,"
               "ceiling_drift,max_err_over_tol,max_abs_err,note\n");
  std::string m = machine;
  for (auto& c : m)
    if (c == '"') c = '\'';
  for (auto& r : rs) {
    std::string note = r.note;
    for (auto& c : note)
      if (c == '"') c = '\'';
    std::fprintf(f,
                 "\"%s\",%s,%s,%s,%s,%d,%lld,%lld,%s,%s,%.3f,%.3f,%.3f,%d,%d,%.0f,%.4f,%.4f,%.2f,%.4f,%.4f,%s,%.3f,%d,%d,"
                 "%.3f,%.4g,%.4g,\"%s\"\n",
                 m.c_str(), r.regime.c_str(), r.backend.c_str(), r.dir.c_str(), dtype_label(r.dtype), r.threads,
                 (long long)r.rows, (long long)r.cols, r.impl.c_str(), status_name(r.status), r.t.median_us, r.t.p10_us,
                 r.t.p90_us, r.t.samples, r.t.batch, r.bytes, r.gbps, r.ceiling_gbps, r.pct_ceiling, r.vs_onednn,
                 r.vs_pytorch, r.ceiling_kind.c_str(), r.t.others_cpus, r.t.tries, r.t.disturbed ? 1 : 0, r.ceiling_drift,
                 std::isfinite(r.check.max_ratio) ? r.check.max_ratio : -1.0,
                 std::isfinite(r.check.max_abs) ? r.check.max_abs : -1.0, note.c_str());
  }
  std::fclose(f);
  return true;
}

bool write_json(const std::string& path, const std::vector<Result>& rs, const Options& o, const std::string& machine) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "ln4j_bench: cannot write %s\n", path.c_str());
    return false;
  }
  std::fprintf(f, "{\n  \"version\": %s,\n  \"machine\": %s,\n  \"dtype\": %s,\n  \"cpu_elements\": %lld,\n",
               json_str(ln4j_version()).c_str(), json_str(machine).c_str(), json_str(dtype_label(o.dtype)).c_str(),
               (long long)o.cpu_elements);
  std::fprintf(f, "  \"gpu_elements\": %lld,\n  \"regimes\": %s,\n  \"results\": [\n", (long long)o.gpu_elements,
               json_str(o.regime).c_str());
  for (size_t i = 0; i < rs.size(); ++i) {
    const Result& r = rs[i];
    std::fprintf(f,
                 "    {\"regime\": %s, \"backend\": %s, \"direction\": %s, \"impl\": %s, \"threads\": %d, \"rows\": %lld, \"cols\": %lld, "
                 "\"sweep\": %s, \"status\": %s, \"median_us\": %s, \"p10_us\": %s, \"p90_us\": %s, \"samples\": %d, "
                 "\"batch\": %d, \"bytes\": %s, \"gbps\": %s, \"ceiling_gbps\": %s, \"pct_ceiling\": %s, "
                 "\"vs_onednn\": %s, \"vs_pytorch\": %s, \"ceiling_kind\": %s, \"others_cpus\": %s, \"tries\": %d, "
                 "\"disturbed\": %s, \"ceiling_drift\": %s, \"max_err_over_tol\": %s, \"max_abs_err\": %s, \"note\": %s}%s\n",
                 json_str(r.regime).c_str(), json_str(r.backend).c_str(), json_str(r.dir).c_str(), json_str(r.impl).c_str(), r.threads,
                 (long long)r.rows, (long long)r.cols, r.sweep ? "true" : "false",
                 json_str(status_name(r.status)).c_str(), num(r.t.median_us).c_str(), num(r.t.p10_us).c_str(),
                 num(r.t.p90_us).c_str(), r.t.samples, r.t.batch, num(r.bytes).c_str(), num(r.gbps).c_str(),
                 num(r.ceiling_gbps).c_str(), num(r.pct_ceiling).c_str(), num(r.vs_onednn).c_str(),
                 num(r.vs_pytorch).c_str(), json_str(r.ceiling_kind).c_str(), num(r.t.others_cpus).c_str(), r.t.tries,
                 r.t.disturbed ? "true" : "false", num(r.ceiling_drift).c_str(), num(r.check.max_ratio).c_str(), num(r.check.max_abs).c_str(), json_str(r.note).c_str(),
                 i + 1 < rs.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
  return true;
}

// ---- SVG chart ------------------------------------------------------------------------------------------
namespace {

const char* color_of(const std::string& impl) {
  if (impl == "ceiling") return "#222222";
  if (impl == "ln4j-scalar") return "#9467bd";
  if (impl == "ln4j-avx2") return "#1f77b4";
  if (impl == "ln4j-avx512") return "#d62728";
  if (impl == "oneDNN") return "#2ca02c";
  if (impl == "PyTorch") return "#8c564b";
  if (impl == "ln4j-cuda") return "#ff7f0e";
  return "#7f7f7f";
}

double nice_step(double range) {
  double raw = range / 6, mag = std::pow(10.0, std::floor(std::log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

}  // namespace

bool write_svg(const std::string& path, const std::vector<Result>& rs, const std::string& title) {
  // panels: (backend, dir); series: impl + threads; points: sweep shapes with a time
  std::vector<std::pair<std::string, std::string>> panels;
  for (auto& r : rs)
    if (r.sweep && r.status == Status::OK && r.gbps > 0) {
      auto k = std::make_pair(r.backend + (r.regime == "warm" ? " (warm)" : ""), r.dir);
      if (std::find(panels.begin(), panels.end(), k) == panels.end()) panels.push_back(k);
    }
  std::sort(panels.begin(), panels.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return (a.second == "backward") < (b.second == "backward");
  });
  const int pw = 560, ph = 360, ml = 64, mr = 16, mt = 40, mb = 48, legend_h = 90;
  const int cols_n = 2, rows_n = std::max<int>(1, (int)(panels.size() + 1) / 2);
  const int W = cols_n * pw, H = 40 + rows_n * ph + legend_h;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" << xml(title) << "</text>\n";
  std::set<std::string> legend;  // "impl|threads"
  for (size_t pi = 0; pi < panels.size(); ++pi) {
    const auto& pk = panels[pi];
    const int ox = (int)(pi % 2) * pw, oy = 40 + (int)(pi / 2) * ph;
    const int x0 = ox + ml, x1 = ox + pw - mr, y0 = oy + ph - mb, y1 = oy + mt;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    double cmin = 1e300, cmax = 0, gmax = 0;
    for (auto& r : rs)
      if (r.sweep && r.status == Status::OK && r.gbps > 0 &&
          r.backend + (r.regime == "warm" ? " (warm)" : "") == pk.first && r.dir == pk.second) {
        std::string key = r.impl + "|" + std::to_string(r.threads);
        series[key].push_back({(double)r.cols, r.gbps});
        cmin = std::min(cmin, (double)r.cols);
        cmax = std::max(cmax, (double)r.cols);
        gmax = std::max(gmax, r.gbps);
        legend.insert(key);
      }
    double lx0 = std::floor(std::log2(cmin)), lx1 = std::ceil(std::log2(cmax));
    if (lx1 <= lx0) lx1 = lx0 + 1;
    double step = nice_step(gmax * 1.1), ytop = std::ceil(gmax * 1.1 / step) * step;
    auto X = [&](double c) { return x0 + (std::log2(c) - lx0) / (lx1 - lx0) * (x1 - x0); };
    auto Y = [&](double g) { return y0 - g / ytop * (y0 - y1); };
    s << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << oy + 24 << "\" text-anchor=\"middle\" font-size=\"13\">"
      << pk.first << " " << pk.second << "</text>\n";
    for (double g = 0; g <= ytop + step / 2; g += step) {
      s << "<line x1=\"" << x0 << "\" x2=\"" << x1 << "\" y1=\"" << Y(g) << "\" y2=\"" << Y(g)
        << "\" stroke=\"#dddddd\"/>\n";
      s << "<text x=\"" << x0 - 6 << "\" y=\"" << Y(g) + 4 << "\" text-anchor=\"end\">" << fmt("%g", g) << "</text>\n";
    }
    for (double l = lx0; l <= lx1 + 1e-9; l += 1) {
      double c = std::pow(2.0, l);
      s << "<line x1=\"" << X(c) << "\" x2=\"" << X(c) << "\" y1=\"" << y0 << "\" y2=\"" << y1
        << "\" stroke=\"#eeeeee\"/>\n";
      s << "<text x=\"" << X(c) << "\" y=\"" << y0 + 16 << "\" text-anchor=\"middle\" font-size=\"10\">"
        << fmt("%.0f", c) << "</text>\n";
    }
    s << "<rect x=\"" << x0 << "\" y=\"" << y1 << "\" width=\"" << x1 - x0 << "\" height=\"" << y0 - y1
      << "\" fill=\"none\" stroke=\"#444444\"/>\n";
    s << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << y0 + 34 << "\" text-anchor=\"middle\">cols (log2 scale)</text>\n";
    s << "<text transform=\"translate(" << ox + 16 << "," << (y0 + y1) / 2
      << ") rotate(-90)\" text-anchor=\"middle\">effective GB/s</text>\n";
    for (auto& [key, pts] : series) {
      std::sort(pts.begin(), pts.end());
      std::string impl = key.substr(0, key.find('|'));
      bool one = key.substr(key.find('|') + 1) == "1";
      s << "<polyline fill=\"none\" stroke=\"" << color_of(impl) << "\" stroke-width=\""
        << (impl == "ceiling" ? 2.5 : 2) << "\"" << (one ? " stroke-dasharray=\"6,4\"" : "") << " points=\"";
      for (auto& p : pts) s << fmt("%.1f", X(p.first)) << "," << fmt("%.1f", Y(p.second)) << " ";
      s << "\"/>\n";
      for (auto& p : pts)
        s << "<circle cx=\"" << fmt("%.1f", X(p.first)) << "\" cy=\"" << fmt("%.1f", Y(p.second)) << "\" r=\"2.5\" fill=\""
          << color_of(impl) << "\"/>\n";
    }
  }
  // legend, in a fixed order: ceiling, ours, peers; all threads before 1 thread
  auto rank = [](const std::string& key) {
    static const char* order[] = {"ceiling", "ln4j-scalar", "ln4j-avx2", "ln4j-avx512", "ln4j-cuda", "oneDNN", "PyTorch"};
    std::string impl = key.substr(0, key.find('|'));
    int r = 7;
    for (int i = 0; i < 7; ++i)
      if (impl == order[i]) r = i;
    return r * 2 + (key.substr(key.find('|') + 1) == "1" ? 1 : 0);
  };
  std::vector<std::string> keys(legend.begin(), legend.end());
  std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  int lx = 20, ly = 40 + rows_n * ph + 20, i = 0;
  for (auto& key : keys) {
    std::string impl = key.substr(0, key.find('|')), th = key.substr(key.find('|') + 1);
    int x = lx + (i % 4) * (W / 4), y = ly + (i / 4) * 20;
    s << "<line x1=\"" << x << "\" x2=\"" << x + 30 << "\" y1=\"" << y << "\" y2=\"" << y << "\" stroke=\""
      << color_of(impl) << "\" stroke-width=\"2\"" << (th == "1" ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
    s << "<text x=\"" << x + 36 << "\" y=\"" << y + 4 << "\">" << xml(impl)
      << (th == "0" ? "" : " (" + th + (th == "1" ? " thread)" : " threads)")) << "</text>\n";
    ++i;
  }
  s << "</svg>\n";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "ln4j_bench: cannot write %s\n", path.c_str());
    return false;
  }
  std::fputs(s.str().c_str(), f);
  std::fclose(f);
  return true;
}

}  // namespace bench

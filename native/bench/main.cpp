// ln4j_bench: validates, then times, layer norm forward and backward of every backend this machine has (CPU per
// ISA path at 1 thread and all threads, CUDA when a device is present) next to a bandwidth ceiling measured in
// the same run and the oneDNN peer, and writes a terminal table, CSV, JSON and an SVG chart.
// Usage: ln4j_bench --help.  Rules (bytes counted, rotation, tolerances): README.md in this folder.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "bench.h"
#include "cpu/cache_info.h"
#include "timer.h"

namespace bench {
namespace {

const char* kUsage =
    "ln4j_bench: layer norm forward/backward, validated against a float64 reference, then timed\n"
    "  --elements N        elements per model-sweep shape on the CPU (default 4194304)\n"
    "  --gpu-elements N    elements per model-sweep shape on a GPU (default 67108864)\n"
    "  --cols a,b,...      widths at the fixed element count (default 64,128,256,512,768,1024,2048,4096,\n"
    "                      8192,12288,16384,65536 and the odd widths 1000,4097)\n"
    "  --shapes RxC,...    fixed shapes (default 1x768,32x768 latency shapes; 'none' for none)\n"
    "  --dtype T           float32 | float64 | bfloat16 | float16 (default float32)\n"
    "  --threads a,b       CPU thread counts (default 1 and all)\n"
    "  --isa a,b           CPU paths: scalar,avx2,avx512 (default every one this CPU runs)\n"
    "  --reps N            timed samples per series (default 31; fewer when --budget-ms runs out)\n"
    "  --budget-ms N       time budget per series once 5 samples are in (default 250)\n"
    "  --rotate-mib N      size of the rotating buffer arena (default: 2 x last-level cache, 64..1024 MiB)\n"
    "  --regime R          cold | warm | both (default both): cold rotates over buffer sets so every call\n"
    "                      reads data the previous calls did not bring into cache; warm times one buffer set\n"
    "                      (as a user measures without rotation)\n"
    "  --warm              same as --regime warm\n"
    "  --retries N         rerun a series that other processes disturbed up to N times, and a shape whose ceiling\n"
    "                      moved by more than 20% between its two timings (default 3; 0: no reruns, no\n"
    "                      disturbance check)\n"
    "  --no-busy           skip the per-thread busy time of ours at > 1 thread (0.3 s per sweep result)\n"
    "  --quick             smoke run: 1048576 elements, cols 128,768,1000,4096,4097,65536, 7 samples\n"
    "  --validate-only     validate every implementation, time nothing (exit 1 if any is WRONG)\n"
    "  --self-test         check the validator itself on known-good and known-bad outputs, then exit\n"
    "  --fused             instead of the sweep: fused residual add and memory-saving backward against the\n"
    "                      unfused sequences (CPU, float32; cols default 768,4096,16384)\n"
    "  --no-cpu | --no-cuda | --no-onednn | --no-pytorch   leave a backend out\n"
    "  --csv P | --json P | --svg P        write results there\n"
    "  --seed N            input data seed (default 42)\n";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "ln4j_bench: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

int64_t parse_int(const std::string& s, const char* what) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (!end || *end || v <= 0) usage_error(std::string(what) + " must be a positive integer, got '" + s + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  auto val = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage_error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--elements") o.cpu_elements = parse_int(val(i), "--elements");
    else if (a == "--gpu-elements") {
      o.gpu_elements = parse_int(val(i), "--gpu-elements");
      o.gpu_elements_set = true;
    } else if (a == "--cols") {
      o.cols.clear();
      for (auto& c : split(val(i), ',')) o.cols.push_back(parse_int(c, "--cols"));
      o.cols_set = true;
    } else if (a == "--shapes") {
      o.extra.clear();
      o.extra_set = true;
      std::string v = val(i);
      if (v != "none")
        for (auto& s : split(v, ',')) {
          auto rc = split(s, 'x');
          if (rc.size() != 2) usage_error("--shapes wants RxC items, got '" + s + "'");
          o.extra.push_back({parse_int(rc[0], "rows"), parse_int(rc[1], "cols"), false});
        }
    } else if (a == "--dtype") {
      std::string v = val(i);
      if (v == "float32") o.dtype = LN4J_FLOAT32;
      else if (v == "float64") o.dtype = LN4J_FLOAT64;
      else if (v == "bfloat16") o.dtype = LN4J_BFLOAT16;
      else if (v == "float16") o.dtype = LN4J_FLOAT16;
      else usage_error("--dtype must be float32, float64, bfloat16 or float16, got '" + v + "'");
    } else if (a == "--threads") {
      o.threads.clear();
      for (auto& t : split(val(i), ',')) o.threads.push_back((int)parse_int(t, "--threads"));
    } else if (a == "--isa") {
      o.isas.clear();
      for (auto& t : split(val(i), ',')) {
        if (t == "scalar") o.isas.push_back(LN4J_ISA_SCALAR);
        else if (t == "avx2") o.isas.push_back(LN4J_ISA_AVX2);
        else if (t == "avx512") o.isas.push_back(LN4J_ISA_AVX512);
        else usage_error("--isa items are scalar, avx2, avx512; got '" + t + "'");
      }
    } else if (a == "--reps") o.reps = (int)parse_int(val(i), "--reps");
    else if (a == "--budget-ms") o.budget_s = (double)parse_int(val(i), "--budget-ms") / 1000.0;
    else if (a == "--rotate-mib") o.rotate_mib = (double)parse_int(val(i), "--rotate-mib");
    else if (a == "--warm") o.regime = "warm";
    else if (a == "--regime") {
      o.regime = val(i);
      if (o.regime != "cold" && o.regime != "warm" && o.regime != "both")
        usage_error("--regime must be cold, warm or both, got '" + o.regime + "'");
    } else if (a == "--retries") {
      std::string v = val(i);
      o.retries = v == "0" ? 0 : (int)parse_int(v, "--retries");
    }
    else if (a == "--quick") o.quick = true;
    else if (a == "--validate-only") o.validate_only = true;
    else if (a == "--self-test") o.self_test = true;
    else if (a == "--fused") o.fused = true;
    else if (a == "--no-cpu") o.no_cpu = true;
    else if (a == "--no-cuda") o.no_cuda = true;
    else if (a == "--no-onednn") o.no_onednn = true;
    else if (a == "--no-pytorch") o.no_pytorch = true;
    else if (a == "--no-busy") o.busy = false;
    else if (a == "--csv") o.csv = val(i);
    else if (a == "--json") o.json = val(i);
    else if (a == "--svg") o.svg = val(i);
    else if (a == "--seed") o.seed = (uint64_t)parse_int(val(i), "--seed");
    else usage_error("unknown argument '" + a + "'");
  }
  if (o.quick) {
    bool elements_given = false;
    for (int i = 1; i < argc; ++i) elements_given |= std::strcmp(argv[i], "--elements") == 0;
    if (!elements_given) o.cpu_elements = 1048576;
    if (!o.gpu_elements_set) o.gpu_elements = 16777216;
    if (!o.cols_set) o.cols = {128, 768, 1000, 4096, 4097, 65536};
    o.reps = std::min(o.reps, 7);
    o.busy = false;
    o.budget_s = std::min(o.budget_s, 0.08);
  }
  if (o.cols.empty() && !o.cols_set && !o.fused) o.cols = {64, 128, 256, 512, 768, 1000, 1024, 2048, 4096, 4097, 8192, 12288, 16384, 65536};
  if (!o.extra_set) o.extra = {{1, 768, false}, {32, 768, false}};
  return o;
}

}  // namespace

std::string machine_name() {
  std::string model = ln4j_cpu_model();
  {  // /proc/cpuinfo: the model name, and family/model numbers (VMs often show a bare "AMD EPYC" for several
     // generations, which differ: Zen 3 has no AVX-512, Zen 4 has it on 256-bit datapaths)
    std::ifstream f("/proc/cpuinfo");
    std::string line, family, number;
    auto value = [&](const std::string& l) {
      auto p = l.find(':');
      return p != std::string::npos && l.size() > p + 2 ? l.substr(p + 2) : std::string();
    };
    while (std::getline(f, line) && !line.empty()) {
      if (line.rfind("model name", 0) == 0 && !value(line).empty()) model = value(line);
      else if (line.rfind("cpu family", 0) == 0) family = value(line);
      else if (line.rfind("model\t", 0) == 0 || line.rfind("model :", 0) == 0) number = value(line);
    }
    if (!family.empty()) model += " (family " + family + " model " + number + ")";
  }
  const ln4j::cpu::CacheInfo& c = ln4j::cpu::cache_info();
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s, %ld online CPUs, L1d %lld KiB, L2 %lld KiB, LLC (L%d) %lld MiB shared by %d CPUs (%s)",
                model.c_str(), sysconf(_SC_NPROCESSORS_ONLN), (long long)(c.l1d >> 10), (long long)(c.l2 >> 10),
                c.llc_level, (long long)(c.llc >> 20), c.llc_sharing, c.source);
  return buf;
}

size_t auto_arena_bytes(size_t llc) {
  return (size_t)(std::min(1024.0, std::max(64.0, 2.0 * (double)llc / 1048576.0)) * 1048576.0);
}

size_t cold_arena_bytes(size_t auto_bytes, size_t llc, size_t set_bytes, size_t moved) {
  moved = std::max<size_t>(moved, 1);
  const size_t sets = std::max<size_t>(2, 1 + (2 * llc + moved - 1) / moved);
  // At most a quarter of the machine's memory (the latency shapes' sets are mostly slack: 1 x 768 needs ~11,000
  // sets of 72 KiB with a 32 MiB LLC), and never fewer than two sets.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t cap = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 4 : ((size_t)1 << 32);
  return std::max({auto_bytes, std::min(sets * set_bytes, cap), 2 * set_bytes});
}

namespace {

size_t round64(size_t n) { return (n + 63) / 64 * 64; }

// Bytes of one buffer set (layout() below).
size_t set_size(const Problem& p) {
  const size_t region = round64((p.xbytes() + 3 * p.pbytes() + 2 * p.sbytes()) * 3 / 2);
  return 4 * region + 2 * round64(p.sbytes());
}

// Lays the problem's buffer sets out in the arena and copies the inputs into every set.
void layout(Arena& A, const Problem& p, bool warm) {
  // Each data region is large enough for a ceiling pass moving the same bytes as the kernel (the backward's memcpy
  // kind copies 1.5 x its third of the bytes).
  const size_t region = round64((p.xbytes() + 3 * p.pbytes() + 2 * p.sbytes()) * 3 / 2);
  const size_t stats = round64(p.sbytes());
  A.off_x = 0;
  A.off_y = region;
  A.off_dy = 2 * region;
  A.off_dx = 3 * region;
  A.off_mean = 4 * region;
  A.off_rstd = 4 * region + stats;
  A.set_bytes = set_size(p);
  A.count = warm ? 1 : (int)std::max<size_t>(1, std::min<size_t>(A.bytes / A.set_bytes, 1 << 20));
  for (int i = 0; i < A.count; ++i) {
    std::memcpy(A.x(i), p.x.data(), p.xbytes());
    std::memcpy(A.dy(i), p.dy.data(), p.xbytes());
    std::memcpy(A.mean(i), p.mean.data(), p.sbytes());
    std::memcpy(A.rstd(i), p.rstd.data(), p.sbytes());
  }
}

struct Cpu {
  const Options& o;
  Arena& A;
  TimingPlan plan;
  std::vector<unsigned char> dgamma, dbeta;

  std::string regime = "cold";

  Result base(const Problem& p, const char* dir, const std::string& impl, int threads, bool sweep) const {
    Result r{};
    r.regime = regime;
    r.backend = "cpu";
    r.dir = dir;
    r.impl = impl;
    r.dtype = p.dtype;
    r.threads = threads;
    r.rows = p.rows;
    r.cols = p.cols;
    r.sweep = sweep;
    r.status = Status::OK;
    r.bytes = std::string(dir) == "forward" ? forward_bytes(p) : backward_bytes(p);
    return r;
  }

  void finish(Result& r, bool ok) const {
    if (!ok) {
      r.status = Status::ERROR;
      r.note = ln4j_last_error();
      return;
    }
    if (r.t.median_us > 0) r.gbps = r.bytes / (r.t.median_us * 1e-6) / 1e9;
  }

  // The ceilings move the kernels' bytes from the same kind of place: x, y, dy, dx and the statistics rotate with
  // the buffer sets (cold in the cold regime), gamma, beta, dgamma and dbeta are one copy that every call uses (in
  // cache in both regimes, as in a training step). So the per-set share moves through the set's regions and the
  // parameter share through one region of its own: at 1 x 768, where the parameters are half the bytes, a ceiling
  // that fetched them from memory too was slower than the kernel (137%).
  std::vector<float> hot;  // the parameter share's region: three areas of 2 x the parameter bytes

  // Times the forward and backward ceilings and appends them to out; with `again` (the index where the first timing
  // put them) times them once more and keeps the faster of the two timings there (keep_faster_ceiling).
  void ceilings(const Problem& p, int threads, bool sweep, std::vector<Result>& out, size_t again = SIZE_MAX) {
    Result f = base(p, "forward", "ceiling", threads, sweep), b = base(p, "backward", "ceiling", threads, sweep);
    const size_t X = p.xbytes(), S = p.sbytes(), P = p.pbytes();
    // forward: read x, write y, write mean and rstd (X + S each way); read gamma and beta (P each way)
    const size_t fcold = (X + S) / 4 * 4, fhot = P;
    // backward (read two, write one): x, dy -> dx and the statistics (3X + 2S); gamma -> dgamma, dbeta (3P)
    const size_t bcold = (3 * X + 2 * S) / 12 * 4, bhot = P;
    const size_t area = (2 * P + 63) / 64 * 16;  // floats: the r2w1 memcpy kind moves 1.5 x its share
    hot.assign(3 * area + 16, 1.0f);
    float* h = (float*)(((uintptr_t)hot.data() + 63) & ~uintptr_t(63));
    best_ceiling([&](CeilKind k, int s) {
      ceiling_copy(threads, k, A.y(s), A.x(s), fcold);
      ceiling_copy(threads, k, h + area, h, fhot);
    }, A.count, plan, f);
    best_ceiling([&](CeilKind k, int s) {
      ceiling_r2w1(threads, k, A.dx(s), A.x(s), A.dy(s), bcold);
      ceiling_r2w1(threads, k, h + 2 * area, h, h + area, bhot);
    }, A.count, plan, b);
    if (again != SIZE_MAX) {
      keep_faster_ceiling(out[again], f);
      keep_faster_ceiling(out[again + 1], b);
      return;
    }
    out.push_back(f);
    out.push_back(b);
  }

  // The software-prefetch policy the library learned for this kind of call (when its footprint passes the
  // streaming threshold; ln4j_cpu_set_prefetch_policy), for the report's notes: "" below the threshold.
  static std::string prefetch_note(int backward, const Problem& p, int isa, int threads) {
    const int64_t footprint = int64_t(p.xbytes()) * (backward ? 3 : 2);
    if (footprint < ln4j_cpu_stream_threshold()) return "";
    const int32_t c = ln4j_cpu_prefetch_choice(backward, 0, p.cols, p.dtype, isa, threads);
    return c >= 0 ? "prefetch policy " + std::to_string(c) : c == -1 ? "prefetch policy still learning" : "";
  }

  // Per-thread busy time of a call at `threads` threads: calls run for ~0.3 s while /proc/self/task gives every
  // thread's CPU time; the `threads` busiest threads (the caller and the library's pool workers) are reported as
  // a share of the wall time. A worker that finished its blocks spins briefly (~0.1 ms) before it sleeps, which
  // counts as busy: low shares mean idle cores, shares near 100% do not prove useful work.
  template <class Call>
  std::string busy_note(int threads, Call&& call) {
    auto before = thread_ticks();
    const double t0 = now_s();
    int s = 0;
    while (now_s() - t0 < 0.3) {
      call(s);
      s = (s + 1) % A.count;
    }
    const double wall = now_s() - t0;
    auto after = thread_ticks();
    std::vector<double> share;
    const double hz = (double)sysconf(_SC_CLK_TCK);
    for (auto& a : after) {
      long long prev = 0;
      for (auto& b : before)
        if (b.first == a.first) prev = b.second;
      share.push_back((double)(a.second - prev) / hz / wall);
    }
    std::sort(share.rbegin(), share.rend());
    std::string note = "busy per thread:";
    for (int i = 0; i < threads && i < (int)share.size(); ++i) {
      char b[16];
      std::snprintf(b, sizeof b, " %.0f%%", 100 * std::min(1.0, share[(size_t)i]));
      note += b;
    }
    return note;
  }

  void ours(const Problem& p, int32_t isa, int threads, bool sweep, std::vector<Result>& out) {
    const std::string name = std::string("ln4j-") + ln4j_cpu_isa_name(isa);
    Result f = base(p, "forward", name, threads, sweep), b = base(p, "backward", name, threads, sweep);
    ln4j_exec ex = ln4j_exec_init();
    ex.isa = isa;
    ex.threads = threads;
    ln4j_forward_args fa = ln4j_forward_args_init();
    fa.norm = LN4J_NORM_LAYER;
    fa.x_dtype = p.dtype;
    fa.param_dtype = p.pdtype;
    fa.rows = p.rows;
    fa.cols = p.cols;
    fa.eps = p.eps;
    fa.gamma = p.gamma.data();
    fa.beta = p.beta.data();
    ln4j_backward_args ba = ln4j_backward_args_init();
    ba.norm = LN4J_NORM_LAYER;
    ba.x_dtype = p.dtype;
    ba.param_dtype = p.pdtype;
    ba.rows = p.rows;
    ba.cols = p.cols;
    ba.gamma = p.gamma.data();
    ba.beta = p.beta.data();
    ba.dgamma = dgamma.data();
    ba.dbeta = dbeta.data();
    auto fwd = [&](int s) {  // set s: its own x, y, mean, rstd
      fa.x = A.x(s);
      fa.y = A.y(s);
      fa.mean = A.mean(s);
      fa.rstd = A.rstd(s);
      return ln4j_cpu_forward(&fa, &ex);
    };
    auto bwd = [&](int s) {
      ba.dy = A.dy(s);
      ba.x = A.x(s);
      ba.mean = A.mean(s);
      ba.rstd = A.rstd(s);
      ba.dx = A.dx(s);
      return ln4j_cpu_backward(&ba, &ex);
    };
    // forward: poison, call, judge; time only a correct kernel
    std::memset(A.y(0), 0xff, p.xbytes());
    std::memset(A.mean(0), 0xff, p.sbytes());
    std::memset(A.rstd(0), 0xff, p.sbytes());
    int st = fwd(0);
    if (st != LN4J_OK) {
      f.status = st == LN4J_ERR_UNSUPPORTED ? Status::UNSUPPORTED : Status::ERROR;
      f.note = ln4j_last_error();
    } else {
      f.check = check_forward(p, A.y(0), A.mean(0), A.rstd(0));
      if (!f.check.ok) {
        f.status = Status::WRONG;
        f.note = f.check.where;
      } else if (o.validate_only) {
        f.status = Status::VALIDATED;
      } else {
        finish(f, time_series([&](int s) { return fwd(s) == LN4J_OK; }, A.count, with_ours_warmup(plan), f.t));
        f.note = prefetch_note(0, p, isa, threads);
        if (threads > 1 && sweep && o.busy)
          f.note += (f.note.empty() ? "" : "; ") + busy_note(threads, [&](int s) { return fwd(s) == LN4J_OK; });
      }
    }
    // the backward reads the reference statistics, whatever the forward wrote
    for (int i = 0; i < A.count; ++i) {
      std::memcpy(A.mean(i), p.mean.data(), p.sbytes());
      std::memcpy(A.rstd(i), p.rstd.data(), p.sbytes());
    }
    std::memset(A.dx(0), 0xff, p.xbytes());
    std::memset(dgamma.data(), 0xff, dgamma.size());
    std::memset(dbeta.data(), 0xff, dbeta.size());
    st = bwd(0);
    if (st != LN4J_OK) {
      b.status = st == LN4J_ERR_UNSUPPORTED ? Status::UNSUPPORTED : Status::ERROR;
      b.note = ln4j_last_error();
    } else {
      b.check = check_backward(p, A.dx(0), dgamma.data(), dbeta.data());
      if (!b.check.ok) {
        b.status = Status::WRONG;
        b.note = b.check.where;
      } else if (o.validate_only) {
        b.status = Status::VALIDATED;
      } else {
        finish(b, time_series([&](int s) { return bwd(s) == LN4J_OK; }, A.count, with_ours_warmup(plan), b.t));
        b.note = prefetch_note(1, p, isa, threads);
        if (threads > 1 && sweep && o.busy)
          b.note += (b.note.empty() ? "" : "; ") + busy_note(threads, [&](int s) { return bwd(s) == LN4J_OK; });
      }
    }
    out.push_back(f);
    out.push_back(b);
  }
};

void run_cpu(const Options& o, std::vector<Result>& out) {
  std::vector<int32_t> isas = o.isas;
  if (isas.empty())
    for (int32_t i : {LN4J_ISA_SCALAR, LN4J_ISA_AVX2, LN4J_ISA_AVX512})
      if (ln4j_cpu_isa_supported(i)) isas.push_back(i);
  std::vector<int> threads = o.threads;
  if (threads.empty()) {
    threads.push_back(1);
    if (ln4j_cpu_default_threads() > 1) threads.push_back(ln4j_cpu_default_threads());
  }
  std::vector<Shape> shapes;
  for (int64_t c : o.cols) shapes.push_back({std::max<int64_t>(1, o.cpu_elements / c), c, true});
  for (auto s : o.extra) shapes.push_back(s);

  // Arena: README "Regimes".
  Arena A;
  const size_t llc = (size_t)std::max<int64_t>(ln4j::cpu::cache_info().llc, 0);
  std::vector<std::string> regimes;
  if (o.validate_only) regimes = {"warm"};
  else if (o.regime == "both") regimes = {"cold", "warm"};
  else regimes = {o.regime};
  const bool warm_only = regimes.size() == 1 && regimes[0] == "warm";
  size_t biggest = 0, cold = 0;  // one set of the largest shape; the arena every shape's cold regime needs
  for (auto& s : shapes) {
    Problem q;
    q.dtype = o.dtype;
    q.pdtype = param_dtype_for(o.dtype);
    q.sdtype = ln4j_stats_dtype(o.dtype);
    q.rows = s.rows;
    q.cols = s.cols;
    biggest = std::max(biggest, set_size(q));
    // the forward moves the least per call: x in, y out
    cold = std::max(cold, cold_arena_bytes(auto_arena_bytes(llc), llc, set_size(q), 2 * q.xbytes()));
  }
  // --rotate-mib is taken as given (one set at the least); the default holds every shape's cold sets.
  if (warm_only) A.bytes = biggest;
  else if (o.rotate_mib > 0) A.bytes = std::max((size_t)(o.rotate_mib * 1048576.0), biggest);
  else A.bytes = cold;
  A.bytes = (A.bytes + 4095) / 4096 * 4096;
  A.base = (unsigned char*)std::aligned_alloc(4096, A.bytes);
  if (!A.base) {
    std::fprintf(stderr, "ln4j_bench: cannot allocate %zu MiB of buffers\n", A.bytes >> 20);
    std::exit(3);
  }
  std::memset(A.base, 0, A.bytes);  // first touch outside every timing
  std::printf("cpu: isa paths:");
  for (int32_t i : isas) std::printf(" %s", ln4j_cpu_isa_name(i));
  std::printf("; threads:");
  for (int t : threads) std::printf(" %d", t);
  std::printf("; regimes:");
  for (auto& r : regimes) std::printf(" %s", r.c_str());
  std::printf(" (cold: rotating over %zu MiB of buffer sets; warm: one set)\n", A.bytes >> 20);
  std::printf("streaming-store threshold of the library: %lld bytes of call footprint%s\n",
              (long long)ln4j_cpu_stream_threshold(), std::getenv("LN4J_NT_THRESHOLD") ? " (LN4J_NT_THRESHOLD)" : "");
  std::string why;
  bool dnnl = !o.no_onednn && onednn_available(&why);
  if (!dnnl) std::printf("oneDNN: left out (%s)\n", o.no_onednn ? "--no-onednn" : why.c_str());
  bool torch = !o.no_pytorch && pytorch_available(&why);
  if (!torch) std::printf("PyTorch: left out (%s)\n", o.no_pytorch ? "--no-pytorch" : why.c_str());
  std::fflush(stdout);

  Cpu cpu{o, A, {o.reps, std::min(5, o.reps), o.budget_s, 50.0, o.retries}, {}, {}, "cold", {}};
  for (auto& s : shapes) {
    Problem p;
    make_problem(p, o.dtype, s.rows, s.cols, o.seed);
    cpu.dgamma.assign(p.pbytes(), 0);
    cpu.dbeta.assign(p.pbytes(), 0);
    for (const std::string& regime : regimes) {
    cpu.regime = regime;
    layout(A, p, regime == "warm");
    for (int t : threads) {
      const size_t start = out.size();
      auto attempt = [&] {
        const size_t first = out.size();
        if (!o.validate_only) cpu.ceilings(p, t, s.sweep, out);
        for (int32_t isa : isas) cpu.ours(p, isa, t, s.sweep, out);
        if (dnnl) {
          Result f = cpu.base(p, "forward", "oneDNN", t, s.sweep), b = cpu.base(p, "backward", "oneDNN", t, s.sweep);
          onednn_run(p, t, A, cpu.plan, o.validate_only, f, b);
          out.push_back(f);
          out.push_back(b);
          // restore the statistics oneDNN's backward replaced by variances
          for (int i = 0; i < A.count; ++i) std::memcpy(A.rstd(i), p.rstd.data(), p.sbytes());
        }
        if (torch) {
          Result f = cpu.base(p, "forward", "PyTorch", t, s.sweep), b = cpu.base(p, "backward", "PyTorch", t, s.sweep);
          pytorch_run(p, t, A, cpu.plan, o.validate_only, f, b);
          out.push_back(f);
          out.push_back(b);
          for (int i = 0; i < A.count; ++i) {
            std::memcpy(A.mean(i), p.mean.data(), p.sbytes());
            std::memcpy(A.rstd(i), p.rstd.data(), p.sbytes());
          }
        }
        if (!o.validate_only) cpu.ceilings(p, t, s.sweep, out, first);  // again, after them: keep_faster_ceiling
      };
      const int attempts = time_shape(out, o.validate_only ? 0 : o.retries, attempt);
      // progress line: one per shape and thread count
      int bad = 0;
      for (size_t i = start; i < out.size(); ++i)
        bad += out[i].status == Status::WRONG || out[i].status == Status::ERROR;
      std::fprintf(stderr, "  cpu %lldx%lld %s threads=%d done%s%s\n", (long long)s.rows, (long long)s.cols,
                   regime.c_str(), t, bad ? " (some WRONG/ERROR)" : "",
                   attempts > 1 ? (" (" + std::to_string(attempts) + " attempts)").c_str() : "");
    }
    }
  }
  std::free(A.base);
}

// Ratio to the same-run ceiling and to the peers, for every timed result. Returns the number of sweep results
// above 100% (+5% noise) of their ceiling: each means the ceiling is wrong (it is not the fastest way to move those
// bytes), and says so in its note.
int relate(std::vector<Result>& rs) {
  std::map<std::string, const Result*> ceil, dnnl, torch;
  auto key = [](const Result& r) {
    return r.backend + "/" + r.regime + "/" + r.dir + "/" + std::to_string(r.threads) + "/" + std::to_string(r.rows) +
           "x" + std::to_string(r.cols);
  };
  for (auto& r : rs) {
    if (r.impl == "ceiling" && r.gbps > 0) ceil[key(r)] = &r;
    if (r.impl == "oneDNN" && r.status == Status::OK && r.t.median_us > 0) dnnl[key(r)] = &r;
    if (r.impl == "PyTorch" && r.status == Status::OK && r.t.median_us > 0) torch[key(r)] = &r;
  }
  int wrong = 0;
  for (auto& r : rs) {
    if (r.status != Status::OK || r.gbps <= 0) continue;
    auto c = ceil.find(key(r));
    if (c != ceil.end()) {
      r.ceiling_gbps = c->second->gbps;
      r.pct_ceiling = 100.0 * r.gbps / c->second->gbps;
      // sweep results and the fused comparison's (their ceilings move the same bytes the same way)
      if (r.impl != "ceiling" && (r.sweep || r.backend == "cpu-fused") && r.pct_ceiling > 105.0) {
        ++wrong;
        r.note = "CEILING WRONG: " + std::to_string((int)std::lround(r.pct_ceiling)) + "% of a ceiling that should bound it" +
                 (r.note.empty() ? "" : "; " + r.note);
      }
    }
    const bool peer = r.impl == "oneDNN" || r.impl == "PyTorch" || r.impl == "ceiling";
    auto d = dnnl.find(key(r));
    if (d != dnnl.end() && !peer) r.vs_onednn = d->second->t.median_us / r.t.median_us;
    auto t = torch.find(key(r));
    if (t != torch.end() && !peer) r.vs_pytorch = t->second->t.median_us / r.t.median_us;
  }
  return wrong;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  Options o = parse(argc, argv);
  if (o.self_test) return self_test();
  const std::string machine = machine_name();
  std::printf("ln4j_bench %s | %s | dtype %s (params %s) | %s\n", ln4j_version(), machine.c_str(),
              dtype_label(o.dtype), dtype_label(param_dtype_for(o.dtype)),
              o.validate_only ? "validate only" : (o.quick ? "quick" : "full"));
  std::fflush(stdout);
  std::vector<Result> rs;
  if (o.fused) {
    run_fused(o, rs);
  } else {
    if (!o.no_cpu) run_cpu(o, rs);
    if (!o.no_cuda) cuda_run_all(o, rs);
    else std::printf("cuda: left out (--no-cuda)\n");
  }
  const int ceiling_wrong = relate(rs);
  print_table(rs, machine);
  if (ceiling_wrong)
    std::printf("\nCEILING WRONG: %d result(s) above 105%% of their same-run ceiling (see their notes): the ceiling "
                "is not the fastest way to move those bytes on this machine, or the run was disturbed\n",
                ceiling_wrong);
  int disturbed = 0;
  for (auto& r : rs) disturbed += r.t.disturbed;
  if (disturbed)
    std::printf("DISTURBED: %d series still saw other processes busy (> %.0f%% of a CPU) after %d retries: marked '!' "
                "in the table; not a measurement\n",
                disturbed, 100 * kDisturbedCpus, o.retries);
  int drifted = 0;
  for (auto& r : rs) drifted += r.impl == "ceiling" && r.ceiling_drift > kDriftLimit;
  if (drifted)
    std::printf("DRIFT: %d ceiling(s) moved by more than %.0f%% between their two timings after %d retries (the "
                "machine's speed changed under the shape): marked '~' in the table; not a measurement\n",
                drifted, 100 * kDriftLimit, o.retries);
  bool ok = true;
  if (!o.csv.empty()) ok &= write_csv(o.csv, rs, machine);
  if (!o.json.empty()) ok &= write_json(o.json, rs, o, machine);
  if (!o.svg.empty() && !o.validate_only)
    ok &= write_svg(o.svg, rs, "ln4j_bench " + std::string(dtype_label(o.dtype)) + " | " + machine);
  int wrong = 0;
  for (auto& r : rs) wrong += r.status == Status::WRONG || r.status == Status::ERROR;
  if (wrong) std::printf("\n%d result(s) WRONG or ERROR: see the table\n", wrong);
  return (wrong || !ok) ? 1 : 0;
}

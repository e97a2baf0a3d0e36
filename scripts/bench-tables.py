#!/usr/bin/env python3
"""Turns one scripts/bench-all.sh run (target/bench/*) into docs/bench-<cpu>.md: the tables of the CPU performance targets,
with the CPU model, the date and the commands. Reads:
  sweep.csv          ln4j_bench (native harness), both regimes, 1 and all threads, oneDNN and PyTorch peers
  fused.csv          ln4j_bench --fused
  java-cold.txt      the CLI's bench (Java API), rotating buffers
  java-warm.txt      the CLI's bench --warm
  jmh.json           JMH LayerNormBench (Java API against the Vector API bar)
  jmh-ceiling.json   JMH CeilingBench (the library's bandwidth probes: the JMH table's honest ceiling)
Nothing here measures anything; a missing input leaves its table out with a line saying so.
Usage: bench-tables.py OUT_DIR DOCS_DIR COMMAND_LINE"""
import csv
import datetime
import json
import os
import re
import sys

TARGET_SHAPES = [(16384, 256), (5461, 768), (1024, 4096), (256, 16384)]


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def best_isa(rows):
    names = {r["impl"] for r in rows if r["impl"].startswith("ln4j-")}
    for isa in ("ln4j-avx512", "ln4j-avx2", "ln4j-scalar"):
        if isa in names:
            return isa
    return None


def pick(table, **kw):
    for r in table:
        if all(str(r.get(k)) == str(v) for k, v in kw.items()):
            return r
    return None


def f(v, fmt="{:.0f}"):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    return fmt.format(x) if x > 0 else "-"


def mark(ok):
    return "" if ok is None else (" ✓" if ok else " ✗")


def drift(r):
    """`~` when the result's shape had a ceiling that moved by more than the harness's limit (kDriftLimit, 20%)"""
    return "~" if r and float(r.get("ceiling_drift") or 0) > 0.20 else ""


def native_tables(rows, out):
    isa = best_isa(rows)
    if not isa:
        out.append("No native harness results (sweep.csv missing or empty).\n")
        return
    threads = sorted({int(r["threads"]) for r in rows if r["backend"] == "cpu"})
    out.append(f"Path: `{isa}`. % = share of the honest same-run ceiling (fastest of an ordinary-store loop, a "
               "non-temporal-store loop, each of them with software prefetches, and memcpy moving the same bytes; the kind that won is given); "
               "x peer = peer median / ours (above 1: ours faster). Targets: forward ≥ 85%, backward ≥ 75%, "
               "faster than both peers (✓ met, ✗ missed). `!` = a series other processes disturbed (not a "
               "measurement); `~` = the shape's ceiling moved by more than 20% between its two timings after the "
               "harness's retries (the machine's speed changed under it: not a measurement either).\n")
    for regime in ("cold", "warm"):
        if not any(r["regime"] == regime for r in rows):
            continue
        out.append(f"\n**{regime}** ({'rotating buffer sets' if regime == 'cold' else 'one buffer set, as a user measures without rotation'})\n")
        out.append("| shape | thr | fwd % | fwd ceiling | x oneDNN | x PyTorch | bwd % | bwd ceiling | x oneDNN | x PyTorch |")
        out.append("|---|---:|---:|---|---:|---:|---:|---|---:|---:|")
        for (R, C) in TARGET_SHAPES + [(1, 768), (32, 768)]:
            for t in threads:
                cells = []
                for d, goal in (("forward", 85), ("backward", 75)):
                    r = pick(rows, regime=regime, backend="cpu", direction=d, threads=t, rows=R, cols=C, impl=isa)
                    c = pick(rows, regime=regime, backend="cpu", direction=d, threads=t, rows=R, cols=C, impl="ceiling")
                    if not r:
                        cells += ["-"] * 4
                        continue
                    dist = ("!" if r.get("disturbed") == "1" or (c and c.get("disturbed") == "1") else "") + drift(r)
                    pct = float(r["pct_ceiling"] or 0)
                    sweep = (R, C) in TARGET_SHAPES
                    cells.append(f(pct) + ("" if not sweep or pct <= 0 else mark(pct >= goal)) + dist)
                    cells.append(c["ceiling_kind"].replace(" loop", "") if c else "-")
                    for peer in ("vs_onednn", "vs_pytorch"):
                        v = float(r[peer] or 0)
                        cells.append(f(v, "{:.2f}") + (mark(v >= 1.0) if v > 0 and sweep else ""))
                out.append(f"| {R} x {C} | {t} | " + " | ".join(cells) + " |")
    out.append("")


def java_sweep(path):
    """rows of the CLI's table: shape dir impl thr median p10 p90 GB/s %ceil [marks]: {key: (GB/s, moved)}"""
    if not os.path.exists(path):
        return None
    res = {}
    pat = re.compile(r"^(\d+)x(\d+)\s+(forward|backward)\s+(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")
    with open(path) as fh:
        for line in fh:
            m = pat.match(line.strip())
            if m:
                R, C, d, impl, t = int(m[1]), int(m[2]), m[3], m[4], int(m[5])
                res[(R, C, d, impl, t)] = (float(m[9]), " ~ ceiling moved" in line)
    return res


def java_tables(native, out_dir, out):
    isa_note = "the Java API (CLI `bench`: into-outputs calls on CPU tensors)"
    any_table = False
    for regime, name in (("cold", "java-cold.txt"), ("warm", "java-warm.txt")):
        js = java_sweep(os.path.join(out_dir, name))
        if js is None:
            out.append(f"({name} missing: no {regime} Java API table)\n")
            continue
        any_table = True
        out.append(f"\n**{regime}**, {isa_note}: % of the CLI's own honest ceiling for the same shape and threads, "
                   "measured in the same process around ours (the library's five bandwidth probes, the fastest; "
                   "`~`: it moved by more than 20% between its two timings).\n")
        out.append("| shape | thr | fwd GB/s | fwd % | bwd GB/s | bwd % |")
        out.append("|---|---:|---:|---:|---:|---:|")
        threads = sorted({k[4] for k in js})
        over = False
        for (R, C) in TARGET_SHAPES + [(1, 768), (32, 768)]:
            for t in threads:
                cells = []
                for d, goal in (("forward", 85), ("backward", 75)):
                    g, c = js.get((R, C, d, "ours", t)), js.get((R, C, d, "ceiling", t))
                    if g is None:
                        cells += ["-", "-"]
                        continue
                    cells.append(f"{g[0]:.2f}")
                    if c and c[0] > 0:
                        pct = 100.0 * g[0] / c[0]
                        moved = " ~" if g[1] else ""
                        if pct > 105:  # above the ceiling: the ceiling was wrong (the CLI says CEILING WRONG)
                            cells.append(f"{pct:.0f} *{moved}")
                            over = True
                        else:
                            cells.append(f"{pct:.0f}" + (mark(pct >= goal) if (R, C) in TARGET_SHAPES and not g[1]
                                                         else "") + moved)
                    else:
                        cells.append("-")
                out.append(f"| {R} x {C} | {t} | " + " | ".join(cells) + " |")
        if over:
            out.append("\n`*` above 105% of its same-run ceiling: the CLI says CEILING WRONG (the ceiling was not the "
                       "fastest way to move those bytes then, or the machine's speed changed between the timings).")
    if any_table:
        out.append("")


def jmh_table(path, out):
    if not os.path.exists(path):
        out.append("(jmh.json missing: no JMH table)\n")
        return
    with open(path) as fh:
        data = json.load(fh)
    res = {}
    for b in data:
        name = b["benchmark"].rsplit(".", 1)[-1]
        p = b.get("params", {})
        key = (p.get("shape"), p.get("threads"), p.get("regime", "warm"), name)
        forks = [sorted(f)[len(f) // 2] for f in b["primaryMetric"].get("rawData", []) if f]
        res[key] = (b["primaryMetric"]["score"], b["primaryMetric"].get("scoreError", 0), forks)
    # the honest ceiling (CeilingBench, same script run): per shape, threads, regime and direction the fastest kind
    ceil = {}
    cpath = os.path.join(os.path.dirname(path), "jmh-ceiling.json")
    if os.path.exists(cpath):
        with open(cpath) as fh:
            for b in json.load(fh):
                p = b.get("params", {})
                key = (p.get("shape"), p.get("threads"), p.get("regime", "warm"), b["benchmark"].rsplit(".", 1)[-1])
                sc = b["primaryMetric"]["score"]
                if key not in ceil or sc < ceil[key][0]:
                    ceil[key] = (sc, p.get("kind", "?"))
    out.append("µs per call (± JMH's 99.9% error), lower is better; Vector = the pure-Java JDK Vector API bar "
               "(one thread, heap arrays). Target: ours faster than Vector at 1 x 768, forward and backward. Ceiling = "
               "JMH `CeilingBench` in the same script run: the fastest of the library's five bandwidth probes moving "
               "the same bytes, each a bare static JNI call, not the API's checked call (forward a copy, backward read two, write one), with "
               "ours as % of it" + ("" if ceil else " (jmh-ceiling.json missing: no ceiling column)") + ".\n")
    out.append("| shape | thr | regime | fwd ours | fwd Vector | fwd ceiling (ours %) | bwd ours | bwd Vector "
               "| bwd ceiling (ours %) |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")

    def ceiling_cell(key, direction, ours):
        c, o = ceil.get(key + (direction,)), res.get(key + (ours,))
        if not c:
            return "-"
        return f"{c[0]:.3f} ({100.0 * c[0] / o[0]:.0f}%)" if o and o[0] > 0 else f"{c[0]:.3f}"

    for key in sorted({k[:3] for k in res}, key=lambda k: (k[0] != "1x768", k[0], k[1], k[2])):
        def cell(n):
            v = res.get(key + (n,))
            return f"{v[0]:.3f} ± {v[1]:.3f}" if v else "-"
        fo, fv, bo, bv = cell("oursForward"), cell("vectorForward"), cell("oursBackward"), cell("vectorBackward")
        if key[0] == "1x768":
            def faster(a, b):  # ✓ / ✗ only when the error intervals do not overlap; ≈ otherwise
                va, vb = res.get(key + (a,)), res.get(key + (b,))
                if not (va and vb):
                    return ""
                if abs(va[0] - vb[0]) <= va[1] + vb[1]:
                    return " ≈"
                return mark(va[0] < vb[0])
            fo += faster("oursForward", "vectorForward")
            bo += faster("oursBackward", "vectorBackward")
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | {fo} | {fv} | {ceiling_cell(key, 'forward', 'oursForward')} "
                   f"| {bo} | {bv} | {ceiling_cell(key, 'backward', 'oursBackward')} |")
    out.append("")
    notes = []
    for key in sorted({k[:3] for k in res}):
        per = []
        for n in ("oursForward", "vectorForward", "oursBackward", "vectorBackward"):
            v = res.get(key + (n,))
            if v and len(v[2]) > 1:
                per.append(f"{n} " + " ".join(f"{m:.3f}" for m in v[2]))
        if per:
            notes.append(f"- {key[0]}, {key[1]} thread(s), {key[2]}: " + "; ".join(per))
    if notes:
        out.append("Per-JVM (fork) medians, µs: on a shared VM a whole process can run in a slow or a fast mode, so "
                   "the spread between forks is the honest uncertainty (≈: the error intervals overlap).\n")
        out += notes
        out.append("")


def fused_table(rows, out):
    if not rows:
        out.append("(fused.csv missing: no fused table)\n")
        return
    out.append("% of the same-run honest ceiling over the fused call's bytes. Target: the fused calls keep their "
               "lead over the unfused sequences. `!` and `~` as in the native tables.\n")
    impls = []
    for r in rows:
        if r["impl"] != "ceiling" and (r["direction"], r["impl"]) not in impls:
            impls.append((r["direction"], r["impl"]))
    out.append("| cols | thr | " + " | ".join(f"{'fwd' if d == 'forward' else 'bwd'} {i}" for d, i in impls) + " |")
    out.append("|---:|---:|" + "---:|" * len(impls))
    for C in sorted({int(r["cols"]) for r in rows}):
        for t in sorted({int(r["threads"]) for r in rows}):
            cells = []
            for d, i in impls:
                r = pick(rows, cols=C, threads=t, direction=d, impl=i)
                over = r and r["pct_ceiling"] and float(r["pct_ceiling"]) > 105
                cells.append(f(r["pct_ceiling"]) + ("!" if r and r.get("disturbed") == "1" else "") + drift(r)
                             + (" *" if over else "")
                             if r else "-")
            out.append(f"| {C} | {t} | " + " | ".join(cells) + " |")
    out.append("")
    if any(r["impl"] != "ceiling" and r["pct_ceiling"] and float(r["pct_ceiling"]) > 105 for r in rows):
        out.append("`*` above 105% of its same-run ceiling: the harness says CEILING WRONG (the ceiling was not the "
                   "fastest way to move those bytes then, or the machine's speed changed between the timings).\n")


def main():
    out_dir, docs_dir, command = sys.argv[1], sys.argv[2], sys.argv[3]
    native = read_csv(os.path.join(out_dir, "sweep.csv")) or []
    machine = native[0]["machine"] if native else "unknown machine"
    model = machine.split(",")[0].strip()  # "AMD EPYC 7B13 (family 25 model 1)"
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-") or "unknown"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# Benchmarks on {model}", "",
           f"- machine: {machine}", f"- date: {date}", f"- command: `{command}` (raw data: `{out_dir}/`)",
           "- rule: every kernel validated against a float64 reference before it is timed; medians; the machine must "
           "be quiet (the harness retries and marks series other processes disturbed).", "",
           "## Native harness (`ln4j_bench`, float32, 4,194,304-element shapes)", ""]
    native_tables(native, out)
    out += ["## Java API (CLI `bench`)", ""]
    java_tables(native, out_dir, out)
    out += ["## Java API latency (JMH `LayerNormBench`)", ""]
    jmh_table(os.path.join(out_dir, "jmh.json"), out)
    out += ["## Fused calls (`ln4j_bench --fused`)", ""]
    fused_table(read_csv(os.path.join(out_dir, "fused.csv")), out)
    os.makedirs(docs_dir, exist_ok=True)
    path = os.path.join(docs_dir, f"bench-{slug}.md")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    print(path)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""torch.nn.functional.layer_norm forward and backward on the GPU, timed with CUDA events, at the shapes of the
CUDA benchmark (rows = elements / cols): the peer that scripts/gpu-check.sh puts beside ln4j_bench's figures.
Rotation over several buffer sets (beyond the L2 cache) as ln4j_bench does; median of the samples; bytes moved
counted like ln4j_bench (forward: x read + y written; backward: x and dy read + dx written; stats ignored)."""
import argparse
import csv
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", default="768,1024,2048,4096,8192,16384")
    ap.add_argument("--elements", type=int, default=67108864)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--csv", default=None)
    a = ap.parse_args()
    import torch  # imported here so that --help and py_compile work without PyTorch
    import torch.nn.functional as F

    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 50 << 20)
    rows_out = []
    print(f"# {props.name}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"{'dtype':9} {'shape':>14} {'fwd us':>9} {'fwd GB/s':>9} {'bwd us':>9} {'bwd GB/s':>9}")
    for dname in a.dtypes.split(","):
        dt = getattr(torch, dname)
        esz = torch.empty((), dtype=dt).element_size()
        for cols in (int(c) for c in a.cols.split(",")):
            rows = max(1, a.elements // cols)
            set_bytes = rows * cols * esz * 4
            sets = max(2, min(8, (8 * l2) // max(set_bytes, 1) + 1))
            g = torch.ones(cols, device=dev, dtype=torch.float32 if dt != torch.float64 else dt)
            b = torch.zeros_like(g)
            xs = [torch.randn(rows, cols, device=dev, dtype=dt).add_(3.0).requires_grad_(True) for _ in range(sets)]
            dys = [torch.randn(rows, cols, device=dev, dtype=dt) for _ in range(sets)]
            gp = g.to(dt) if dt != torch.float32 else g
            bp = b.to(dt) if dt != torch.float32 else b
            gp.requires_grad_(True)
            bp.requires_grad_(True)
            ys = [F.layer_norm(x, (cols,), gp, bp, 1e-5) for x in xs]

            def timed(fn):
                for i in range(3):
                    fn(i % sets)
                torch.cuda.synchronize()
                out = []
                for r in range(a.reps):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                    fn(r % sets)
                    e.record()
                    e.synchronize()
                    out.append(s.elapsed_time(e) * 1e3)
                return statistics.median(out)

            with torch.no_grad():
                f_us = timed(lambda i: F.layer_norm(xs[i], (cols,), gp, bp, 1e-5))
            b_us = timed(lambda i: torch.autograd.grad(ys[i], (xs[i], gp, bp), dys[i], retain_graph=True))
            n = rows * cols * esz
            f_gbs, b_gbs = 2 * n / f_us / 1e3, 3 * n / b_us / 1e3
            print(f"{dname:9} {rows:>7}x{cols:<6} {f_us:9.1f} {f_gbs:9.1f} {b_us:9.1f} {b_gbs:9.1f}")
            rows_out.append([dname, rows, cols, f"{f_us:.2f}", f"{f_gbs:.1f}", f"{b_us:.2f}", f"{b_gbs:.1f}"])
            del xs, dys, ys
            torch.cuda.empty_cache()
    if a.csv:
        with open(a.csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["dtype", "rows", "cols", "fwd_us", "fwd_GBps", "bwd_us", "bwd_GBps"])
            w.writerows(rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

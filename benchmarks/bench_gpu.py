"""Achieved FLOP/s of a large MLP training step against the matmul rate of the same run.

For each device present (CUDA when there is one, and the CPU) and each precision, a
training step of an MLP of ``--depth`` square layers of ``--width`` units on a batch of
``--batch`` samples (:class:`coursekit.gpu.TrainStep`: MSE loss, fused SGD, inputs and
targets made once on the device, no host synchronisation inside the timed loop) is timed
in alternating blocks against the three matrix products of one layer's step (forward
``X W^T``, input gradient ``D W``, weight gradient ``D^T X``), in the same precision and
the same run. The table gives both rates, their ratio, and each product's own rate.

The step does ``2 n w^2 (3 L - 1)`` FLOPs in its products (the first layer needs no
input gradient); its other work (bias, ReLU, loss, update: memory traffic) is what keeps
it below the products' rate. Target on an NVIDIA H200: >= 90% in bfloat16 at width
4096, batch 8192. Run by hand, not by the tests (the GPU check runs it and keeps the
table)::

    python benchmarks/bench_gpu.py                     # every device present, default sizes
    python benchmarks/bench_gpu.py --device cuda --json gpu.json
    python benchmarks/bench_gpu.py --device cpu --width 256 --batch 256

Defaults: CUDA width 4096, batch 8192, precisions bfloat16 weights (a plain bfloat16
loop), bfloat16 (autocast, float32 master weights), tf32, float32; CPU width 512, batch
512, with float64 added, all of torch's threads.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch

from coursekit import gpu

DEFAULTS = {
    "cuda": {
        "width": 4096,
        "batch": 8192,
        "precisions": ["bfloat16 weights", "bfloat16", "tf32", "float32"],
    },
    "cpu": {
        "width": 512,
        "batch": 512,
        "precisions": ["float64", "float32", "bfloat16 weights", "bfloat16"],
    },
}
TARGET = {"precision": "bfloat16 weights", "ratio": 0.90, "device": "H200"}


def layout_rates(placement, n, w, min_time):
    """TFLOP/s of each of the three products of a layer's step, timed alone."""
    gen = np.random.default_rng(0)
    dt = placement.precision.compute_dtype
    make = lambda *s: placement.randn(*s, rng=gen).to(dt)  # noqa: E731
    X, D, W, out_nw, out_ww = make(n, w), make(n, w), make(w, w), make(n, w), make(w, w)
    products = {
        "X W^T": lambda: torch.mm(X, W.t(), out=out_nw),
        "D W": lambda: torch.mm(D, W, out=out_nw),
        "D^T X": lambda: torch.mm(D.t(), X, out=out_ww),
    }
    with placement.precision.matmul():
        times = gpu.median_times(list(products.values()), placement.device, min_time)
    return {k: 2 * n * w * w / t / 1e12 for k, t in zip(products, times)}


def run(device, width, batch, depth, precisions, min_time=0.2, rounds=5):
    """One row per precision: the step's and the products' TFLOP/s, their ratio, and each
    product's own rate."""
    rows = []
    for name in precisions:
        placement = gpu.Placement(device, name)
        eff = gpu.mlp_efficiency(placement, width, batch, depth, min_time, rounds, rng=0)
        rows.append(
            {
                "device": placement.device.type,
                "precision": name,
                "width": width,
                "batch": batch,
                "depth": depth,
                "step_tflops": eff.flops_per_s / 1e12,
                "matmul_tflops": eff.matmul_flops_per_s / 1e12,
                "ratio": eff.ratio,
                "step_ms": 1e3 * eff.step_s,
                "layouts_tflops": layout_rates(placement, batch, width, min_time),
                "native": placement.precision.available(placement.device),
            }
        )
        del eff
        if placement.device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def table(rows) -> str:
    """Markdown table of :func:`run`'s rows."""
    out = [
        "| device | precision | width | batch | step TFLOP/s | matmul TFLOP/s | step/matmul "
        "| ms/step | X W^T | D W | D^T X |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lay = r["layouts_tflops"]
        note = "" if r["native"] else " (as float32)"
        out.append(
            f"| {r['device']} | {r['precision']}{note} | {r['width']} | {r['batch']} "
            f"| {r['step_tflops']:.4g} | {r['matmul_tflops']:.4g} | {r['ratio']:.0%} "
            f"| {r['step_ms']:.3f} | {lay['X W^T']:.4g} | {lay['D W']:.4g} | {lay['D^T X']:.4g} |"
        )
    return "\n".join(out)


def target_line(rows) -> str | None:
    """Whether the bfloat16 step reached 90% of its products' rate (meant for an H200)."""
    for r in rows:
        if r["device"] == "cuda" and r["precision"] == TARGET["precision"]:
            met = "met" if r["ratio"] >= TARGET["ratio"] else "MISSED"
            return (
                f"bfloat16 step at {r['ratio']:.0%} of the matmul rate "
                f"(target >= {TARGET['ratio']:.0%} on an {TARGET['device']}): {met}"
            )
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["all", "cuda", "cpu"], default="all")
    parser.add_argument("--width", type=int, help="default: 4096 on CUDA, 512 on the CPU")
    parser.add_argument("--batch", type=int, help="default: 8192 on CUDA, 512 on the CPU")
    parser.add_argument("--depth", type=int, default=4, help="square layers (default 4)")
    parser.add_argument("--precisions", nargs="+", choices=list(gpu.PRECISIONS))
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per timed block")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cuda", "cpu"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            parser.error("no CUDA device found")
        devices.remove("cuda")
        print("(no CUDA device: CPU only)")
    rows = []
    for device in devices:
        d = DEFAULTS[device]
        print(f"# {gpu.describe(device)}", flush=True)
        if device == "cpu":
            print(
                f"# {platform.processor() or platform.machine()}, clock: {gpu.clock('cpu').__name__}"
            )
        rows += run(
            device,
            args.width or d["width"],
            args.batch or d["batch"],
            args.depth,
            args.precisions or d["precisions"],
            args.min_time,
        )
    print(table(rows))
    line = target_line(rows)
    if line:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()

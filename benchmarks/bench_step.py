"""One training step (forward, backward, SGD update) of coursekit's MLP against PyTorch on CPU.

Run by hand, not by the tests:

    python benchmarks/bench_step.py            # the full grid (a few minutes on 2 cores)
    python benchmarks/bench_step.py --quick    # fewer sizes

The network is ``Linear(w, w) -> ReLU -> Linear(w, w) -> ReLU -> Linear(w, w)`` under MSE, on
a batch of N inputs. One step costs ``F = 3 layers x 3 matmuls x 2 N w^2`` flops, less
the input gradient of the first layer that neither side computes (``2 N w^2``), so
``F = 16 N w^2``. The table prints, per dtype, batch N and width w: the median step time
of each, the ratio coursekit/torch, the GFLOP/s coursekit reaches, and that as a
fraction of the GFLOP/s numpy's own matrix multiply reaches on an ``(N, w) @ (w, w)``
product on this machine (the ceiling for code made of matmuls).
Targets: ratio <= 1.1 at N >= 256, and >= 70% of the matmul rate at N >= 1024.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from coursekit import losses as Ls
from coursekit.models import mlp


def median_times(*fns, rounds=3, block_time=0.25, min_reps=5):
    """Median seconds per call of each function, timed in alternating blocks.

    This machine's speed drifts over seconds (a shared VM), so timing one function long
    after the other would compare different conditions. Calls are not interleaved one by
    one either: torch's OpenMP threads and numpy's OpenBLAS threads keep spinning after a
    call and slow the other library down. So each function runs in blocks of
    ``block_time`` seconds, ``rounds`` times in turn, and the first third of every block
    is discarded as warm-up.
    """
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            block = []
            start = time.perf_counter()
            while len(block) < min_reps or time.perf_counter() - start < block_time:
                t0 = time.perf_counter()
                fn()
                block.append(time.perf_counter() - t0)
            ts.extend(block[len(block) // 3 :])
    return [float(np.median(ts)) for ts in times]


def coursekit_step(model, loss, X, Y, lr=1e-3):
    params = model.parameters()

    def step():
        loss.forward(model.forward(X), Y)
        model.backward(loss.backward(), input_grad=False)
        for p, g in zip(params, model.gradients()):
            p -= lr * g

    return step


def torch_step(net, X, Y, lr=1e-3):
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    mse = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=False)
        mse(net(X), Y).backward()
        opt.step()

    return step


def bench(dtype, n, w):
    np_dtype = np.float64 if dtype == "float64" else np.float32
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, w)).astype(np_dtype)
    Y = rng.standard_normal((n, w)).astype(np_dtype)
    model = mlp([w, w, w, w], activation="relu", rng=0, dtype=np_dtype)
    net = torch.nn.Sequential(
        torch.nn.Linear(w, w),
        torch.nn.ReLU(),
        torch.nn.Linear(w, w),
        torch.nn.ReLU(),
        torch.nn.Linear(w, w),
    ).to(torch_dtype)
    W = rng.standard_normal((w, w)).astype(np_dtype)
    out = np.empty((n, w), dtype=np_dtype)
    t_ck, t_pt, t_mm = median_times(
        coursekit_step(model, Ls.MSELoss(), X, Y),
        torch_step(net, torch.from_numpy(X), torch.from_numpy(Y)),
        lambda: np.matmul(X, W, out=out),
    )
    flops = 16 * n * w * w
    return t_ck, t_pt, flops / t_ck / 1e9, 2 * n * w * w / t_mm / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="batches 256 and 1024, widths 256 and 1024 only"
    )
    args = parser.parse_args()
    batches = [256, 1024] if args.quick else [64, 256, 1024, 4096]
    widths = [256, 1024] if args.quick else [64, 256, 1024]
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    print(
        f"{'dtype':8s} {'N':>5s} {'w':>5s} {'coursekit ms':>12s} {'torch ms':>9s} {'ratio':>6s} "
        f"{'GFLOP/s':>8s} {'matmul':>8s} {'of mm':>6s}  targets"
    )
    for dtype in ("float64", "float32"):
        for n in batches:
            for w in widths:
                t_ck, t_pt, gf, gf_mm = bench(dtype, n, w)
                ratio, frac = t_ck / t_pt, gf / gf_mm
                marks = []
                if n >= 256:
                    marks.append("ratio " + ("ok" if ratio <= 1.1 else "MISSED"))
                if n >= 1024:
                    marks.append("rate " + ("ok" if frac >= 0.7 else "MISSED"))
                print(
                    f"{dtype:8s} {n:5d} {w:5d} {1e3 * t_ck:12.3f} {1e3 * t_pt:9.3f} {ratio:6.2f} "
                    f"{gf:8.1f} {gf_mm:8.1f} {frac:6.0%}  {', '.join(marks)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

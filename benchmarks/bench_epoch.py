"""Samples per second of one mini-batch training epoch: numpy (coursekit) against PyTorch.

The same MLP (64-256-256-10, ReLU, cross-entropy, plain SGD) and the same data: the 8x8
digits tiled to ``--samples`` images with small Gaussian noise (seeded), standardised.
Columns: coursekit's numpy loop (:func:`coursekit.minibatch.run_epoch`, float64), PyTorch
on the CPU (:func:`coursekit.torch_utils.run_epoch_torch`, float32 and float64) and on
CUDA when a GPU is present (float32). Each cell is the best of ``--repeats`` timed epochs
after one warm-up epoch. Run by hand, not by the tests::

    python benchmarks/bench_epoch.py [--samples 16384] [--batch-sizes 16 64 256 1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from coursekit import torch_utils
from coursekit.data import load_digits_multiclass
from coursekit.losses import CrossEntropyLoss
from coursekit.minibatch import run_epoch
from coursekit.models import mlp
from coursekit.optim import SGD

SIZES = [64, 256, 256, 10]


def make_data(samples: int, seed: int = 0):
    X, y, _, _ = load_digits_multiclass(test_fraction=0.1)
    reps = -(-samples // len(X))
    rng = np.random.default_rng(seed)
    X_big = np.tile(X, (reps, 1))[:samples] + 0.1 * rng.normal(size=(samples, X.shape[1]))
    return X_big, np.tile(y, reps)[:samples]


def best_time(run_once, repeats: int, sync=lambda: None) -> float:
    run_once()  # warm-up
    sync()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_rate(X, y, b, repeats):
    model = mlp(SIZES, rng=0)
    opt, loss, rng = SGD(model.parameters(), lr=0.01), CrossEntropyLoss(), np.random.default_rng(0)
    return len(X) / best_time(lambda: run_epoch(model, loss, X, y, opt, b, rng=rng), repeats)


def torch_rate(X, y, b, repeats, dev, dtype):
    net = mlp(SIZES, backend="torch", dtype=dtype).to(dev)
    Xt = torch.as_tensor(X, dtype=dtype, device=dev)
    yt = torch.as_tensor(y, device=dev)
    opt, loss, rng = (
        torch.optim.SGD(net.parameters(), lr=0.01),
        torch.nn.CrossEntropyLoss(),
        np.random.default_rng(0),
    )

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    once = lambda: torch_utils.run_epoch_torch(net, loss, Xt, yt, opt, b, rng=rng)  # noqa: E731
    return len(X) / best_time(once, repeats, sync)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = make_data(args.samples)
    cpu, gpu = torch.device("cpu"), torch_utils.device(verbose=False)
    columns = {
        "numpy f64": lambda b: numpy_rate(X, y, b, args.repeats),
        "torch cpu f64": lambda b: torch_rate(X, y, b, args.repeats, cpu, torch.float64),
        "torch cpu f32": lambda b: torch_rate(X, y, b, args.repeats, cpu, torch.float32),
    }
    if gpu.type == "cuda":
        columns["torch cuda f32"] = lambda b: torch_rate(X, y, b, args.repeats, gpu, torch.float32)
    print(
        f"one epoch of {args.samples} samples, MLP {SIZES}, SGD; {torch_utils.device_message(gpu)}; "
        f"torch threads {torch.get_num_threads()}"
    )
    print("samples per second (best of", args.repeats, "epochs)")
    print(f"{'batch':>6s}" + "".join(f"{name:>16s}" for name in columns))
    for b in args.batch_sizes:
        print(f"{b:6d}" + "".join(f"{fn(b):16,.0f}" for fn in columns.values()), flush=True)
    if gpu.type != "cuda":
        print("(no CUDA device: the CUDA column is skipped)")


if __name__ == "__main__":
    main()

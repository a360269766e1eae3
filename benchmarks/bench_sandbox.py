"""What the grading sandbox (bubblewrap) costs per submission.

Run by hand, not by the tests:

    python benchmarks/bench_sandbox.py                      # assignment 1 solution, 3 rounds
    python benchmarks/bench_sandbox.py --rounds 5 --assignment 02_optimisers

Grades the same submission (the solution, against its own reference: every check runs)
``rounds`` times with and without the sandbox, alternating (this shared machine's speed
drifts), and prints the median wall time of each and the difference: the sandbox's
overhead per submission. Also times starting a bare kernel both ways (the overhead sits
there: bwrap's mounts and namespaces, setpriv, prlimit).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01_backprop_numpy")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    from coursekit.grading import grade, reference, sandbox
    from coursekit.grading.runner import Kernel

    sandbox.require()
    solution = ROOT / "solutions" / f"{args.assignment}.ipynb"
    ref = reference.load(solution)
    limits = sandbox.Limits()

    def graded(box):
        start = time.perf_counter()
        report = grade.grade(solution, ref, 60.0, sandbox=box)
        assert report.full_marks, report.table()
        return time.perf_counter() - start

    def started(box):
        start = time.perf_counter()
        with Kernel(timeout=30.0, sandbox=box) as kernel:
            assert kernel.run("print(1)").output == "1"
        return time.perf_counter() - start

    graded(None)  # warm the file cache
    times: dict[str, list[float]] = {"plain": [], "sandbox": [], "kplain": [], "ksandbox": []}
    for _ in range(args.rounds):
        times["plain"].append(graded(None))
        times["sandbox"].append(graded(limits))
        times["kplain"].append(started(None))
        times["ksandbox"].append(started(limits))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"uid {os.geteuid()}, {args.rounds} rounds (median wall seconds)"
    )
    print(
        f"grade {args.assignment} (solution, every check): plain {med['plain']:.2f} s, "
        f"sandboxed {med['sandbox']:.2f} s, overhead {med['sandbox'] - med['plain']:+.2f} s "
        f"per submission ({100 * (med['sandbox'] / med['plain'] - 1):+.0f}%)"
    )
    print(
        f"start a kernel and run one cell: plain {med['kplain']:.2f} s, sandboxed "
        f"{med['ksandbox']:.2f} s, overhead {med['ksandbox'] - med['kplain']:+.2f} s"
    )
    print("all runs:", {k: [round(t, 2) for t in v] for k, v in times.items()})


if __name__ == "__main__":
    main()

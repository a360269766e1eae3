"""Time each lecture (and solution) top to bottom in a fresh kernel, without writing it.

    python benchmarks/time_notebooks.py                 # lectures/*.ipynb
    python benchmarks/time_notebooks.py solutions/*.ipynb

The course's promise is "about a minute on a laptop CPU" per lecture; this measures it
(kernel start-up included, as a student experiences it) and fails on any cell error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

from coursekit.notebooks import execute


def main(paths: list[str]) -> int:
    paths = [Path(p) for p in paths] or sorted(Path("lectures").glob("*.ipynb"))
    total = 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        execute(nb, path.parent)
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{path}: {seconds:5.1f} s", flush=True)
    print(f"total: {total:.1f} s for {len(paths)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

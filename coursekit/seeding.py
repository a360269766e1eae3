r"""One course seed for every random source: data, initialisation, noise, batch order.

The course seed is read from the environment variable ``COURSEKIT_SEED`` (default 0).
A lecture calls :func:`seed` once, after its imports; every coursekit function that
takes ``rng`` treats ``rng=None`` as "derived from the course seed", so a lecture run
with ``COURSEKIT_SEED=3`` draws other data, other initial weights and other batches
everywhere, and its checked cells must print the same text.

- :func:`course_seed`: the integer from the environment.
- :func:`seed`: seeds Python's ``random``, numpy's legacy global generator and torch
  (when it is imported), and returns the course seed.
- :func:`make_rng`: a ``numpy.random.Generator`` from ``None`` (the course seed), an
  integer, or a generator (returned as it is).
- :func:`stream`: an independent generator for a named purpose (``stream("spoiler
  starts")``): two names never share random numbers, and both change with the course seed.
- :func:`seeds`: ``n`` integer seeds derived from the course seed, for claims that are
  checked over several runs.
"""

from __future__ import annotations

import os
import random as _random
import sys
import zlib

import numpy as np

__all__ = ["ENV_VAR", "course_seed", "seed", "make_rng", "stream", "seeds"]

ENV_VAR = "COURSEKIT_SEED"


def course_seed() -> int:
    """The course seed: the integer in ``$COURSEKIT_SEED``, 0 when it is unset or empty."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{ENV_VAR}: expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_VAR}: expected a non-negative integer, got {value}")
    return value


def seed(value: int | None = None) -> int:
    """Seed Python's ``random``, numpy's global generator and torch; return the seed.

    ``value=None`` takes the course seed (:func:`course_seed`). torch is seeded (CPU and
    every CUDA device) only when it is already imported, so call this after the imports.
    """
    s = course_seed() if value is None else _check_seed(value, "seed")
    _random.seed(s)
    np.random.seed(s)  # noqa: NPY002 - the legacy global generator is what this seeds
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(s)
    return s


def _check_seed(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer seed, got {value!r}")
    return int(value)


def make_rng(rng=None) -> np.random.Generator:
    """A ``numpy.random.Generator``: from a generator (returned unchanged), an integer seed,
    or ``None``, which means the course seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(course_seed())
    return np.random.default_rng(_check_seed(rng, "rng"))


def _key(name: str) -> int:
    return zlib.crc32(str(name).encode())


def stream(name: str, offset: int = 0) -> np.random.Generator:
    """An independent generator for one purpose, derived from the course seed and ``name``.

    ``stream("noise")`` and ``stream("init")`` never share random numbers; both change
    with ``$COURSEKIT_SEED``. ``offset`` gives further independent copies (one per run of
    a repeated experiment).
    """
    return np.random.default_rng(
        np.random.SeedSequence([course_seed(), _key(name), _check_seed(offset, "offset")])
    )


def seeds(n: int, name: str = "runs") -> list[int]:
    """``n`` distinct integer seeds derived from the course seed (and ``name``), for a
    claim checked over several runs: ``for s in seeds(5): ...``."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"seeds: expected a positive number of seeds, got {n!r}")
    state = np.random.SeedSequence([course_seed(), _key(name)]).generate_state(int(n) * 2)
    out: list[int] = []
    for v in state.tolist():
        v = int(v) % 2**31
        if v not in out:
            out.append(v)
        if len(out) == n:
            break
    return out

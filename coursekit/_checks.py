"""Input validation shared by every module: errors that name what was expected and what came."""

from __future__ import annotations

import numpy as np

from .errors import NonFiniteError


def as_float(x) -> np.ndarray:
    """``x`` as a float array: float32/float64 kept, integers and booleans made float64."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def all_finite(arr: np.ndarray) -> bool:
    """True when no entry is NaN or inf. The sum propagates any NaN/inf and needs no
    temporary array; only when it overflows is every entry looked at."""
    total = arr.sum()
    return bool(np.isfinite(total)) or bool(np.isfinite(arr).all())


def as_batch(x, name: str = "x", features: int | None = None, ndim: int = 2) -> np.ndarray:
    """Return ``x`` as a float array of rank ``ndim`` (batch first), or raise a clear error.

    ``features`` fixes the size of the last axis when given.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim != ndim:
        want = "(N, D)" if ndim == 2 else f"rank {ndim}"
        raise ValueError(
            f"{name}: expected an array of shape {want} (batch first), got shape {arr.shape}"
        )
    if features is not None and arr.shape[-1] != features:
        raise ValueError(
            f"{name}: expected {features} features in the last axis, got shape {arr.shape}"
        )
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise :class:`~coursekit.errors.NonFiniteError` naming ``name`` when ``arr`` holds NaN/inf."""
    if not all_finite(arr):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/inf entries")


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_b}: expected shape {a.shape} to match {name_a}, got {b.shape}")


def in_range(value, name: str, low=None, high=None, low_open=False, high_open=False):
    """Check ``low <= value <= high`` (open ends when asked) and return ``value``."""
    ok = True
    if low is not None:
        ok &= value > low if low_open else value >= low
    if high is not None:
        ok &= value < high if high_open else value <= high
    if not ok or value != value:  # NaN fails every comparison
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = (
            ("(" if low_open or low is None else "[")
            + f"{lo}, {hi}"
            + (")" if high_open or high is None else "]")
        )
        raise ValueError(f"{name}: expected a value in {interval}, got {value!r}")
    return value


def rng_or_seed(rng, seed, name: str):
    """The random source of a function that takes ``rng`` and the old keyword ``seed``.

    ``seed=`` is kept for solutions/02 and solutions/03 (``Quadratic.from_spectrum``,
    ``Quadratic.with_condition``, ``train_torch``) until they move to ``rng=``; passing
    both is an error.
    """
    if seed is None:
        return rng
    if rng is not None:
        raise TypeError(f"{name}: pass rng (seed is its old name), not both")
    return seed

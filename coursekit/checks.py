r"""Verdicts for checked cells, in lectures and assignments alike.

A checked cell (``# NBVAL_CHECK_OUTPUT``) prints only text that is the same on every
machine and at every course seed: verdicts (``OK``, or ``FAIL`` with what was measured)
and numbers rounded well above their seed-to-seed spread. The helpers here make those
verdicts, and each can fail: a check that cannot print FAIL proves nothing.

- :func:`verdict`: ``error < tol``.
- :func:`passed`: a condition, with the detail shown on failure.
- :func:`close`: a measurement against theory, relative (and absolute) tolerance.
- :func:`rate_close`: a contraction rate $\rho$ against theory on a log scale: steps per
  decade $-1/\log_{10}\rho$, so 0.998 and 1.004 are far apart (one converges, one
  diverges) although they differ by 0.6%.
- :func:`reached`: the first step at which a series gets to a target, ``None`` if never;
  :func:`steps_close` fails a target that was never reached.
- :func:`beats`: "A beats B" over several seeds, with the median, the spread and what the
  verdict rests on.
- :func:`exercise`: the self-check of a lecture exercise, which reports and never raises.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = [
    "verdict",
    "passed",
    "close",
    "steps_per_decade",
    "rate_close",
    "reached",
    "steps_close",
    "Comparison",
    "beats",
    "exercise",
    "answered",
]


def verdict(error: float, tol: float) -> str:
    """``"OK"`` when ``error < tol``; else ``"FAIL (error 3.1e-01, tolerance 1e-12)"``.

    NaN fails. ``tol`` must be positive.
    """
    if not tol > 0:
        raise ValueError(f"verdict: expected a tolerance > 0, got {tol!r}")
    error = float(error)
    if error < tol:
        return "OK"
    shown = "nan" if math.isnan(error) else f"{error:.1e}"
    return f"FAIL (error {shown}, tolerance {tol:.0e})"


def passed(condition: bool, detail: str = "") -> str:
    """``"OK"`` when ``condition`` holds; else ``"FAIL"`` followed by ``detail``."""
    return "OK" if bool(condition) else f"FAIL {detail}".rstrip()


def _fmt(x: float) -> str:
    return "nan" if x != x else f"{x:.4g}"


def close(measured: float, expected: float, rtol: float, atol: float = 0.0) -> str:
    """``OK`` when ``|measured - expected| <= atol + rtol |expected|``; else ``FAIL`` with both.

    NaN or inf in ``measured`` fails.
    """
    if not (rtol >= 0 and atol >= 0 and rtol + atol > 0):
        raise ValueError(f"close: expected rtol, atol >= 0, not both 0; got {rtol!r}, {atol!r}")
    m, e = float(measured), float(expected)
    ok = math.isfinite(m) and abs(m - e) <= atol + rtol * abs(e)
    tol = f"rtol {rtol:g}" + (f", atol {atol:g}" if atol else "")
    return passed(ok, f"(measured {_fmt(m)}, expected {_fmt(e)}, {tol})")


def steps_per_decade(rate: float) -> float:
    r"""$-1/\log_{10}\rho$: steps to shrink the error tenfold at rate $\rho$ (inf at
    $\rho = 1$, negative when $\rho > 1$, i.e. the error grows)."""
    rate = float(rate)
    if not rate > 0:
        raise ValueError(f"steps_per_decade: expected a positive rate, got {rate!r}")
    if rate == 1.0:
        return math.inf
    return -1.0 / math.log10(rate)


def rate_close(measured: float, theory: float, rtol: float = 0.01) -> str:
    r"""A measured contraction rate against theory, compared on a log scale.

    Passes when both rates are in (0, 1) and their steps per decade,
    $-1/\log_{10}\rho$, agree within ``rtol``. Near $\rho = 1$ a plain relative error
    hides everything: 0.998 (1150 steps per decade) and 1.004 (the error *grows*) differ
    by 0.6%. A measured rate $\ge 1$ always fails.
    """
    m, t = float(measured), float(theory)
    if not 0 < t < 1:
        raise ValueError(f"rate_close: expected a theory rate in (0, 1), got {t!r}")
    if not 0 < rtol < 1:
        raise ValueError(f"rate_close: expected 0 < rtol < 1, got {rtol!r}")
    if not (math.isfinite(m) and 0 < m < 1):
        return f"FAIL (measured rate {_fmt(m)} does not converge; theory {t:.4g})"
    sm, st = steps_per_decade(m), steps_per_decade(t)
    return passed(
        abs(sm / st - 1) <= rtol,
        f"(steps per decade {sm:.4g}, theory {st:.4g}, rtol {rtol:g})",
    )


def reached(series, target: float, below: bool = True) -> int | None:
    """Index of the first entry of ``series`` at or below ``target`` (above it with
    ``below=False``), or ``None`` when it never gets there (NaN never counts)."""
    s = np.asarray(series, dtype=float).reshape(-1)
    hit = s <= target if below else s >= target
    idx = np.flatnonzero(hit)
    return int(idx[0]) if idx.size else None


def steps_close(measured: int | None, expected: float, rtol: float, atol: float = 0.0) -> str:
    """Like :func:`close` for a step count that may be ``None`` (target never reached),
    which fails."""
    if measured is None:
        return f"FAIL (target never reached; expected about {_fmt(float(expected))} steps)"
    return close(measured, expected, rtol, atol)


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`beats`: both samples, the rule, and the verdict."""

    a: np.ndarray
    b: np.ndarray
    names: tuple[str, str]
    factor: float
    rule: str
    lower_is_better: bool

    @property
    def ok(self) -> bool:
        a, b = self.a, self.b
        if not (np.all(np.isfinite(a))):
            return False
        # strictly better, and by the factor: 0 against 0 is a tie, not a win
        if self.lower_is_better:

            def better(x, y):
                return (x * self.factor <= y) & (x < y)

        else:

            def better(x, y):
                return (x >= y * self.factor) & (x > y)

        if self.rule == "every":
            worst_a = a.max() if self.lower_is_better else a.min()
            best_b = b.min() if self.lower_is_better else b.max()
            return bool(better(worst_a, best_b))
        if self.rule == "paired":
            return bool(np.all(better(a, b)))
        return bool(better(np.median(a), np.median(b)))

    def rests_on(self) -> str:
        """In words, what the verdict compares."""
        na, nb = self.names
        by = "" if self.factor == 1 else f" by a factor {self.factor:g}"
        word = "lower" if self.lower_is_better else "higher"
        if self.rule == "every":
            return f"the worst of {len(self.a)} runs of {na} is {word} than the best of {nb}{by}"
        if self.rule == "paired":
            return f"{na} is {word} than {nb} at every one of {len(self.a)} seeds{by}"
        return f"the median over {len(self.a)} runs of {na} is {word} than {nb}'s{by}"

    def summary(self, fmt: str = ".3g") -> str:
        """``"A: median 120 [110, 130]; B: median 380 [370, 390]"`` (min and max in brackets)."""

        def one(name, x):
            if not np.all(np.isfinite(x)):
                return f"{name}: {int(np.sum(~np.isfinite(x)))} of {len(x)} runs diverged"
            return (
                f"{name}: median {format(float(np.median(x)), fmt)} "
                f"[{format(float(x.min()), fmt)}, {format(float(x.max()), fmt)}]"
            )

        return f"{one(self.names[0], self.a)}; {one(self.names[1], self.b)}"

    def verdict(self) -> str:
        """``OK`` or ``FAIL (summary)``: seed-independent text for a checked cell."""
        return passed(self.ok, f"({self.summary()})")

    def __str__(self) -> str:
        return f"{self.summary()} -> {self.verdict()}"


def beats(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    names: tuple[str, str] = ("A", "B"),
    factor: float = 1.0,
    rule: str = "median",
    lower_is_better: bool = True,
) -> Comparison:
    """Does method A beat method B, measured over several seeds (losses, steps, errors)?

    ``rule``: ``"median"`` (A's median beats B's), ``"paired"`` (A beats B at every seed;
    ``a[i]`` and ``b[i]`` share seed i), or ``"every"`` (A's worst run beats B's best).
    ``factor`` > 1 asks for a margin: with ``lower_is_better``, A times ``factor`` must
    still be at most B. Non-finite values are diverged runs: A fails with any of them,
    B counts them as infinitely bad. Compare each method at its own best learning rate
    (:func:`coursekit.sweep.sweep`), not a tuned A against an untuned B.
    """
    a_arr = np.asarray(a, dtype=float).reshape(-1)
    b_arr = np.asarray(b, dtype=float).reshape(-1)
    if a_arr.size == 0 or b_arr.size == 0:
        raise ValueError("beats: expected at least one value for each method")
    if rule not in ("median", "paired", "every"):
        raise ValueError(f"beats: expected rule 'median', 'paired' or 'every', got {rule!r}")
    if rule == "paired" and a_arr.shape != b_arr.shape:
        raise ValueError(
            f"beats: rule='paired' needs one value per seed for each, got {a_arr.size} and {b_arr.size}"
        )
    if not factor >= 1:
        raise ValueError(f"beats: expected factor >= 1, got {factor!r}")
    bad = np.inf if lower_is_better else -np.inf
    b_arr = np.where(np.isfinite(b_arr), b_arr, bad)
    return Comparison(
        a_arr, b_arr, (str(names[0]), str(names[1])), float(factor), rule, bool(lower_is_better)
    )


def answered(*values):
    """Raise ``NotImplementedError`` when a value is still the stub's ``...`` (Ellipsis):
    a "predict, then run" exercise's stub writes ``prediction = ...``."""
    for v in values:
        if v is Ellipsis:
            raise NotImplementedError("replace ... with your answer")
    return values[0] if len(values) == 1 else values


@contextmanager
def exercise(name: str):
    """The self-check of a lecture exercise: prints ``"e1: OK"`` when the block runs
    through, and never raises, so Run All goes on.

    Inside the block, ``assert condition, "what is wrong"`` states each requirement. A
    stub that still raises ``NotImplementedError`` prints ``"e1: not attempted yet"``; a
    failed assertion prints ``"e1: not yet: <message>"``; any other error prints its type,
    message and the line of your code that raised it.
    """
    try:
        yield
    except NotImplementedError:
        print(f"{name}: not attempted yet (the stub still raises NotImplementedError)")
    except AssertionError as err:
        print(f"{name}: not yet: {err or 'a requirement of the exercise does not hold'}")
    except Exception as err:  # noqa: BLE001 - reported to the student, not hidden
        frames = traceback.extract_tb(err.__traceback__)
        where = f" (line {frames[-1].lineno} of {frames[-1].name})" if frames else ""
        print(f"{name}: your code raised {type(err).__name__}: {err}{where}")
    else:
        print(f"{name}: OK")

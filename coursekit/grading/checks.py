"""What check cells print: verdicts that are identical on every machine.

A check compares a student's result with an oracle and prints one line per claim, e.g.
``print("q1 linear forward matches torch (rel err < 1e-12):", verdict(err, 1e-12))``.
Only the word ``OK`` reaches the reference output, so BLAS rounding cannot change it;
a failure prints the measured error, which the grader shows the student.
"""

from __future__ import annotations

import math

__all__ = ["verdict", "passed"]


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

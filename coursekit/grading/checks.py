"""What check cells print: verdicts that are identical on every machine.

A check compares a student's result with an oracle and prints one line per claim, e.g.
``print("q1 linear forward matches torch (rel err < 1e-12):", verdict(err, 1e-12))``.
Only the word ``OK`` reaches the reference output, so BLAS rounding cannot change it;
a failure prints the measured error, which the grader shows the student. The helpers
are :mod:`coursekit.checks`, shared with the lectures' checked cells: :func:`matches`
(arrays, with hints for a transposed result, a sign, a factor of the batch size, a
difference only at zero), :func:`trajectory` (the first step and parameter at which two
trajectories part) and :func:`attempt` (a line stays one line, ``FAIL`` with the error,
when the answer it calls raises).
"""

from __future__ import annotations

from ..checks import (
    attempt,
    close,
    matches,
    passed,
    rate_close,
    reached,
    steps_close,
    trajectory,
    verdict,
)
from ..gradcheck import rel_error

__all__ = [
    "verdict",
    "passed",
    "close",
    "rate_close",
    "reached",
    "steps_close",
    "matches",
    "trajectory",
    "attempt",
    "rel_error",
]

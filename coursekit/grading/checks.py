"""What check cells print: verdicts that are identical on every machine.

A check compares a student's result with an oracle and prints one line per claim, e.g.
``print("q1 linear forward matches torch (rel err < 1e-12):", verdict(err, 1e-12))``.
Only the word ``OK`` reaches the reference output, so BLAS rounding cannot change it;
a failure prints the measured error, which the grader shows the student. The helpers
are :mod:`coursekit.checks`, shared with the lectures' checked cells.
"""

from __future__ import annotations

from ..checks import close, passed, rate_close, reached, steps_close, verdict

__all__ = ["verdict", "passed", "close", "rate_close", "reached", "steps_close"]

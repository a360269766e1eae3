r"""The two errors every loop of coursekit shares.

- :class:`NonFiniteError` (a ``ValueError``): an array that must be finite holds NaN or
  inf. Layers, losses and the input checks raise it, so a caller can tell "the numbers
  blew up" from any other bad input by its type, never by the text of its message.
- :class:`DivergenceError` (a ``FloatingPointError``): an iteration diverged (a loss, a
  gradient or an iterate became non-finite or too large). The training loops, the
  optimisers and :func:`coursekit.problems.optimize` raise it, naming the step.

This module imports nothing from the package, so every other module can use it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NonFiniteError", "DivergenceError"]


class NonFiniteError(ValueError):
    """An input that must be finite holds NaN or inf entries; the message names the input."""


class DivergenceError(FloatingPointError):
    """A loss, gradient or iterate became NaN, inf or too large; the message names the step.

    ``trajectory`` holds the iterates computed before the divergence when the raiser has
    them (:func:`coursekit.problems.optimize` does), else ``None``.
    """

    trajectory: np.ndarray | None = None

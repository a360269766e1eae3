r"""Gradient checking by centred differences.

The centred difference $\frac{f(x + h e_i) - f(x - h e_i)}{2h}$ has error $O(h^2)$
(the one-sided difference only $O(h)$). In float64 with ``h = 1e-5`` the truncation
error is ~1e-10 and the rounding error ~1e-11/h ~ 1e-11 relative, so a correct analytic
gradient agrees to a relative error below ``1e-6`` (the default tolerance; measured
worst case over random sigmoid/tanh/ReLU MLPs: 2e-8); a wrong one
is typically off by 1e-2 or more. The relative error is measured against the
largest entry, $\max_i |a_i - b_i| / \max(\max_i |a_i|, \max_i |b_i|)$: unlike
cs231n's elementwise ratio it does not blow up on entries that are themselves ~1e-9
(where a centred difference has no correct digits left), yet any entry that is wrong
by more than 1e-6 of the gradient's scale fails.
"""

from __future__ import annotations

import numpy as np

from .layers import Module

__all__ = ["numerical_gradient", "rel_error", "check_gradients", "check_module", "GradCheckResult"]

DEFAULT_EPS = 1e-5
DEFAULT_TOL = 1e-6


def numerical_gradient(f, x: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Centred-difference gradient of a scalar function ``f`` at ``x`` (any shape).

    ``x`` is perturbed in place one entry at a time and restored exactly afterwards, so
    ``f`` may close over ``x`` (e.g. ``x`` is a layer's weight array).
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(
            f"numerical_gradient: expected a float64 array (float32 is too coarse), got {x.dtype}"
        )
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = float(f(x))
        x[i] = old - eps
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(a, b) -> float:
    r"""Relative error against the largest entry: $\|a-b\|_\infty / \max(\|a\|_\infty, \|b\|_\infty)$.

    0 when both are all zeros; NaN when either holds a NaN or an inf, so that a check
    ``rel_error(...) < tol`` fails on a computation that overflowed.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error: expected arrays of the same shape, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


class GradCheckResult(dict):
    """``{name: relative error}`` with ``.ok`` and a readable ``str``."""

    def __init__(self, errors: dict, tol: float):
        super().__init__(errors)
        self.tol = tol

    @property
    def worst(self) -> float:
        """The largest error; NaN when any error is NaN (a NaN never hides behind a max)."""
        if not self:
            return 0.0
        values = list(self.values())
        return float("nan") if any(v != v for v in values) else max(values)

    @property
    def ok(self) -> bool:
        return self.worst < self.tol

    def __str__(self):
        lines = [f"{k:>12s}: rel. error {v:.1e}" for k, v in self.items()]
        lines.append(f"{'verdict':>12s}: {'OK' if self.ok else 'FAIL'} (tolerance {self.tol:.0e})")
        return "\n".join(lines)


def check_gradients(
    f, arrays: dict, analytic: dict, eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL
) -> GradCheckResult:
    """Compare analytic gradients with centred differences.

    ``f()`` takes no argument and returns the scalar loss computed from the arrays in
    ``arrays`` (which are perturbed in place); ``analytic[name]`` is the gradient claimed
    for ``arrays[name]``.
    """
    errors = {}
    for name, x in arrays.items():
        if name not in analytic:
            raise KeyError(f"check_gradients: no analytic gradient given for {name!r}")
        num = numerical_gradient(lambda _x: f(), x, eps)
        errors[name] = rel_error(analytic[name], num)
    return GradCheckResult(errors, tol)


def check_module(
    model: Module,
    loss,
    X,
    target,
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
    include_input: bool = True,
) -> GradCheckResult:
    """Gradient-check every parameter (and the input) of a coursekit model under a loss.

    ``model`` is any :class:`~coursekit.layers.Module`, a single layer or a network: the
    parameters are those of ``named_parameters()``.
    """
    X = np.array(X, dtype=np.float64, copy=True)

    def f():
        return loss.forward(model.forward(X), target)

    f()
    grad_x = model.backward(loss.backward())
    arrays = dict(model.named_parameters())
    analytic = dict(model.named_gradients())
    analytic = {k: v.copy() for k, v in analytic.items()}
    if include_input:
        arrays["input"] = X
        analytic["input"] = grad_x
    return check_gradients(f, arrays, analytic, eps, tol)

r"""Newton's method: the gradient step rescaled by the inverse Hessian."""

from __future__ import annotations

import warnings

import numpy as np

from .base import Optimizer

__all__ = ["Newton"]

_MODES = ("warn", "raise", "abs", "ignore")


class Newton(Optimizer):
    r"""Damped Newton's method, $w \leftarrow w - \eta\, H(w)^{-1} \nabla L(w)$.

    Algorithm, for the single flat parameter $w$::

        input: lr (eta), hessian (w -> H), on_indefinite
        for t = 1, 2, ...:
            H = hessian(w_{t-1}) = Q diag(lambda) Q^T         (state "eigenvalues": lambda)
            if some lambda_i == 0:   raise (singular Hessian)
            if some lambda_i < 0 and on_indefinite == "abs":
                d = Q diag(1 / |lambda|) Q^T g_t              (saddle-free Newton)
            else:                    # "warn" and "raise" say so first
                d = solve(H, g_t)
            w_t = w_{t-1} - eta * d

    ``params``: a **single flat parameter** of shape ``(d,)`` (the Hessian couples all
    coordinates, so it cannot be split over several arrays); ``hessian``: a callable
    ``hessian(w) -> (d, d)`` array evaluated at the current parameter before each step
    (for example ``problem.hessian``); ``lr``: $\eta$, 1 for the full Newton step.
    The system $H d = g$ is solved with ``np.linalg.solve`` (no explicit inverse).

    On a quadratic $\frac12 w^\top A w - b^\top w$ the Hessian is $A$, and
    $\eta = 1$ lands on the minimum in one step; the error is multiplied by
    $1 - \eta$ per step, so $\eta \in (1, 2)$ oscillates and $\eta \ge 2$ does not
    converge.

    Where $H$ is not positive definite the Newton step heads for the stationary
    point of the local quadratic model, which may be a saddle or a maximum: uphill.
    ``on_indefinite`` decides what happens then:

    * ``"warn"`` (default): a ``RuntimeWarning`` naming the step and the eigenvalues,
      then the plain Newton step;
    * ``"raise"``: a ``np.linalg.LinAlgError`` with the same message;
    * ``"abs"``: use $|H| = Q |\Lambda| Q^\top$ (eigenvalues replaced by their
      absolute values, "saddle-free Newton", Dauphin et al. 2014), which always descends;
    * ``"ignore"``: the plain Newton step, silently.

    A singular Hessian (an eigenvalue of exactly 0) always raises.
    """

    def __init__(self, params, lr: float = 1.0, hessian=None, on_indefinite: str = "warn"):
        super().__init__(params, lr)
        if len(self.params) != 1 or self.params[0].ndim != 1:
            shapes = [p.shape for p in self.params]
            raise ValueError(
                f"Newton: expected a single flat parameter of shape (d,), got shapes {shapes}"
            )
        if not callable(hessian):
            raise TypeError(
                f"Newton: expected hessian to be a callable w -> (d, d) array, got {hessian!r}"
            )
        if on_indefinite not in _MODES:
            raise ValueError(f"Newton: expected on_indefinite in {_MODES}, got {on_indefinite!r}")
        self.hessian = hessian
        self.on_indefinite = on_indefinite

    def _hessian_at(self, p):
        d = p.shape[0]
        H = np.asarray(self.hessian(p.copy()), dtype=np.float64)
        if H.shape != (d, d) or not np.all(np.isfinite(H)):
            raise ValueError(
                f"Newton: expected a finite Hessian of shape {(d, d)}, got shape {H.shape}"
            )
        return 0.5 * (H + H.T)

    def _direction(self, i, p, g, state):
        H = self._hessian_at(p)
        lam, Q = np.linalg.eigh(H)
        state["eigenvalues"] = lam
        if np.any(lam == 0):
            raise np.linalg.LinAlgError(
                f"Newton step {self.steps}: singular Hessian, eigenvalues {lam}"
            )
        if lam[0] < 0 and self.on_indefinite != "ignore":
            msg = (
                f"Newton step {self.steps}: Hessian is not positive definite (eigenvalues "
                f"{np.array2string(lam, precision=4)}); the Newton step heads for a saddle or "
                "maximum. Use on_indefinite='abs' to descend."
            )
            if self.on_indefinite == "raise":
                raise np.linalg.LinAlgError(msg)
            if self.on_indefinite == "warn":
                warnings.warn(msg, RuntimeWarning, stacklevel=4)
            else:  # "abs": solve with |H| through its eigendecomposition
                return Q @ ((Q.T @ g) / np.abs(lam))
        return np.linalg.solve(H, g)

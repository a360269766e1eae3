r"""Test problems for optimisers: quadratics, Rosenbrock and a surface with a saddle.

Every problem follows one protocol:

- ``dim``: the number of coordinates ``d``;
- ``value(w)``: $f(w)$ for ``w`` of shape ``(..., d)``, returning shape ``(...)``,
  so a whole contour grid of shape ``(H, W, 2)`` is one call;
- ``grad(w)``: $\nabla f(w)$, shape ``(..., d)``;
- ``hessian(w)``: $\nabla^2 f(w)$, shape ``(..., d, d)``;
- ``minimizer``: the global minimiser as an array of shape ``(d,)``, or ``None`` when
  there is none or it is not unique.

:func:`optimize` runs any :mod:`coursekit.optim` optimiser on a problem and returns the
trajectory of iterates; :func:`critical_point_type` names a critical point from the
eigenvalues of its Hessian.
"""

from __future__ import annotations

import numpy as np

from ._checks import in_range, rng_or_seed
from .errors import DivergenceError
from .seeding import make_rng

__all__ = [
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "critical_point_type",
    "optimize",
    "steps_to_reach",
    "MAX_NORM",
]

MAX_NORM = 1e100
""":func:`optimize` declares divergence once ``||w||`` exceeds this (or is not finite)."""


class Problem:
    """Base class: validation of ``w`` shared by every problem."""

    dim: int
    minimizer: np.ndarray | None = None

    def _points(self, w, name: str = "w") -> np.ndarray:
        w = np.asarray(w, dtype=float)
        if w.ndim == 0 or w.shape[-1] != self.dim:
            raise ValueError(
                f"{type(self).__name__}: expected {name} of shape (..., {self.dim}), got shape {w.shape}"
            )
        return w


# ----------------------------------------------------------------------------- quadratics


def _rotation(rotation, dim: int, rng) -> np.ndarray:
    """An orthogonal ``(dim, dim)`` matrix from an angle (2-D), a matrix, or ``"random"``."""
    if rotation is None:
        return np.eye(dim)
    if isinstance(rotation, str):
        if rotation != "random":
            raise ValueError(f"rotation: expected an angle, a matrix or 'random', got {rotation!r}")
        q, r = np.linalg.qr(make_rng(rng).standard_normal((dim, dim)))
        return q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
    if np.ndim(rotation) == 0:
        if dim != 2:
            raise ValueError(
                f"rotation: an angle needs dim 2, got dim {dim}; pass a matrix or 'random'"
            )
        c, s = np.cos(float(rotation)), np.sin(float(rotation))
        return np.array([[c, -s], [s, c]])
    Q = np.asarray(rotation, dtype=float)
    if Q.shape != (dim, dim) or not np.allclose(Q.T @ Q, np.eye(dim), atol=1e-10):
        raise ValueError(
            f"rotation: expected an orthogonal ({dim}, {dim}) matrix, got shape {Q.shape}"
        )
    return Q


class Quadratic(Problem):
    r"""$f(w) = \tfrac12 w^\top A w - b^\top w + c$ with symmetric ``A`` of shape ``(d, d)``.

    $\nabla f = A w - b$, $\nabla^2 f = A$. When ``A`` is positive definite the unique
    minimiser is $w^* = A^{-1} b$; otherwise ``minimizer`` is ``None`` (an indefinite
    ``A`` gives a saddle, e.g. ``Quadratic(np.diag([1., -1.]))`` is $\tfrac12(w_1^2 - w_2^2)$).
    The properties ``condition_number``, ``lambda_min`` and ``lambda_max`` are the
    eigenvalue quantities of the convergence theory (:mod:`coursekit.theory`).
    """

    def __init__(self, A, b=None, c: float = 0.0):
        A = np.asarray(A, dtype=float)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(
                f"Quadratic: expected a square matrix A of shape (d, d), got shape {A.shape}"
            )
        if not np.all(np.isfinite(A)) or not np.allclose(A, A.T, rtol=1e-12, atol=1e-12):
            raise ValueError("Quadratic: expected a finite symmetric matrix A (A == A.T)")
        self.dim = A.shape[0]
        self.A = (A + A.T) / 2
        self.b = np.zeros(self.dim) if b is None else np.asarray(b, dtype=float).copy()
        if self.b.shape != (self.dim,):
            raise ValueError(
                f"Quadratic: expected b of shape ({self.dim},), got shape {self.b.shape}"
            )
        self.c = float(c)
        self.eigenvalues = np.linalg.eigvalsh(self.A)  # ascending
        spd = self.eigenvalues[0] > 1e-12 * max(1.0, abs(self.eigenvalues[-1]))
        self.minimizer = np.linalg.solve(self.A, self.b) if spd else None

    @classmethod
    def from_spectrum(
        cls, eigenvalues, rotation=None, rng=None, b=None, c: float = 0.0, *, seed=None
    ):
        r"""$A = Q \,\mathrm{diag}(\lambda)\, Q^\top$ with the given eigenvalues.

        ``rotation``: ``None`` (diagonal ``A``), an angle in radians (2-D only: the
        eigenvectors are the axes turned by that angle), an orthogonal matrix ``Q``, or
        ``"random"`` (a Haar-random ``Q`` drawn from ``rng``: a generator, a seed, or
        ``None`` for the course seed). ``seed=`` is the old name of ``rng``, kept for
        solutions/02 until it moves to ``rng=``.
        """
        rng = rng_or_seed(rng, seed, "from_spectrum")
        lam = np.asarray(eigenvalues, dtype=float)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(
                f"from_spectrum: expected a 1-D array of eigenvalues, got shape {lam.shape}"
            )
        Q = _rotation(rotation, lam.size, rng)
        return cls((Q * lam) @ Q.T, b=b, c=c)

    @classmethod
    def with_condition(
        cls,
        kappa: float,
        dim: int = 2,
        rotate=False,
        rng=None,
        lambda_max: float = 1.0,
        *,
        seed=None,
    ):
        """A positive definite quadratic with condition number ``kappa`` and minimiser 0.

        Eigenvalues are log-spaced from ``lambda_max / kappa`` to ``lambda_max``.
        ``rotate``: ``False`` (diagonal), ``True`` (a random rotation drawn from ``rng``:
        a generator, a seed, or ``None`` for the course seed) or an angle in radians
        (2-D). ``seed=`` is the old name of ``rng``, kept for solutions/02 until it moves to
        ``rng=``.
        """
        rng = rng_or_seed(rng, seed, "with_condition")
        in_range(float(kappa), "with_condition kappa", low=1.0)
        if int(dim) < 1:
            raise ValueError(f"with_condition: expected dim >= 1, got {dim}")
        in_range(float(lambda_max), "with_condition lambda_max", low=0.0, low_open=True)
        lam = lambda_max * np.geomspace(1.0 / kappa, 1.0, int(dim))
        rotation = None if rotate is False else ("random" if rotate is True else rotate)
        return cls.from_spectrum(lam, rotation=rotation, rng=rng)

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        r"""$\kappa = \lambda_{max} / \lambda_{min}$; needs a positive definite ``A``."""
        if self.minimizer is None:
            raise ValueError(
                f"Quadratic.condition_number: expected a positive definite A, got eigenvalues "
                f"from {self.lambda_min:.3g} to {self.lambda_max:.3g}"
            )
        return self.lambda_max / self.lambda_min

    def value(self, w):
        w = self._points(w)
        return 0.5 * np.einsum("...i,ij,...j->...", w, self.A, w) - w @ self.b + self.c

    def grad(self, w):
        return self._points(w) @ self.A - self.b  # A is symmetric: (A w)^T = w^T A

    def hessian(self, w):
        w = self._points(w)
        return np.broadcast_to(self.A, w.shape[:-1] + self.A.shape).copy()

    def __repr__(self):
        return (
            f"Quadratic(dim={self.dim}, eigenvalues={np.round(self.eigenvalues, 4).tolist()}, "
            f"minimizer={None if self.minimizer is None else np.round(self.minimizer, 4).tolist()})"
        )


# ----------------------------------------------------------------------------- non-quadratic


class Rosenbrock(Problem):
    r"""$f(x, y) = (a - x)^2 + b\,(y - x^2)^2$; minimiser $(a, a^2)$ at the end of a curved valley."""

    dim = 2

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a = float(a)
        self.b = in_range(float(b), "Rosenbrock b", low=0.0, low_open=True)
        self.minimizer = np.array([self.a, self.a**2])

    def value(self, w):
        w = self._points(w)
        x, y = w[..., 0], w[..., 1]
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def grad(self, w):
        w = self._points(w)
        x, y = w[..., 0], w[..., 1]
        r = y - x**2
        return np.stack([-2 * (self.a - x) - 4 * self.b * x * r, 2 * self.b * r], axis=-1)

    def hessian(self, w):
        w = self._points(w)
        x, y = w[..., 0], w[..., 1]
        hxx = 2 - 4 * self.b * (y - x**2) + 8 * self.b * x**2
        hxy = -4 * self.b * x
        hyy = np.full_like(x, 2 * self.b)
        return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)

    def __repr__(self):
        return f"Rosenbrock(a={self.a}, b={self.b})"


class Saddle(Problem):
    r"""$f(x, y) = x^4/4 - x^2/2 + y^2/2$: two minima and a saddle between them.

    $\nabla f = (x^3 - x,\; y)$ and $\nabla^2 f = \mathrm{diag}(3x^2 - 1,\; 1)$, so the
    critical points are $(\pm 1, 0)$ (Hessian ``diag(2, 1)``: minima, $f = -1/4$) and
    $(0, 0)$ (Hessian ``diag(-1, 1)``: a saddle, $f = 0$). Gradient descent started near
    the line $x = 0$ slides into the saddle along $y$ and stays there while $x$ grows
    only by the factor $(1 + \eta)$ per step. The minimiser is not unique, so
    ``minimizer`` is ``None``; ``critical_points`` lists all three.
    """

    dim = 2
    minimizer = None

    @property
    def critical_points(self) -> np.ndarray:
        """The three critical points, shape ``(3, 2)``: minimum, saddle, minimum."""
        return np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])

    def value(self, w):
        w = self._points(w)
        x, y = w[..., 0], w[..., 1]
        return x**4 / 4 - x**2 / 2 + y**2 / 2

    def grad(self, w):
        w = self._points(w)
        x, y = w[..., 0], w[..., 1]
        return np.stack([x**3 - x, y], axis=-1)

    def hessian(self, w):
        w = self._points(w)
        x = w[..., 0]
        zero = np.zeros_like(x)
        return np.stack(
            [np.stack([3 * x**2 - 1, zero], -1), np.stack([zero, np.ones_like(x)], -1)], -2
        )

    def __repr__(self):
        return "Saddle(f = x^4/4 - x^2/2 + y^2/2)"


# ----------------------------------------------------------------------------- analysis


def critical_point_type(hessian, tol: float = 1e-8) -> str:
    """Name a critical point from the eigenvalues of its symmetric Hessian ``(d, d)``.

    ``"minimum"`` (all eigenvalues > 0), ``"maximum"`` (all < 0), ``"saddle"`` (some of
    each sign) or ``"degenerate"`` (otherwise: an eigenvalue within ``tol`` times the
    largest magnitude of zero, so the second-derivative test cannot decide).
    """
    H = np.asarray(hessian, dtype=float)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or not np.allclose(H, H.T, atol=1e-10):
        raise ValueError(
            f"critical_point_type: expected a symmetric (d, d) Hessian, got shape {H.shape}"
        )
    lam = np.linalg.eigvalsh(H)
    zero = tol * max(1.0, float(np.abs(lam).max()))
    pos, neg = np.any(lam > zero), np.any(lam < -zero)
    if pos and neg:
        return "saddle"
    if np.any(np.abs(lam) <= zero):
        return "degenerate"
    return "minimum" if pos else "maximum"


def optimize(
    problem, make_optimizer, w0, steps: int, tol: float | None = None, max_norm: float = MAX_NORM
) -> np.ndarray:
    """Run ``make_optimizer([w])`` on ``problem`` from ``w0``; return the iterates ``(T+1, d)``.

    Row 0 is ``w0``; row k is the iterate after k calls to ``opt.step([problem.grad(w)])``.
    ``w`` is a fresh copy: ``w0`` is never changed. ``make_optimizer`` is e.g.
    ``lambda p: GD(p, lr=0.1)``. With ``tol``, stop as soon as
    ``||w - problem.minimizer|| < tol`` and return the rows done so far. Raises
    :class:`~coursekit.errors.DivergenceError` naming the step when the gradient or
    the iterate is not finite or ``||w|| > max_norm`` (default ``1e100``); the rows done
    so far are on the error as ``err.trajectory``. Overflow inside that step is not
    warned about: it is what the error reports.
    """
    w = problem._points(np.array(w0, dtype=float), "w0").copy()
    if w.shape != (problem.dim,):
        raise ValueError(f"optimize: expected w0 of shape ({problem.dim},), got shape {w.shape}")
    if int(steps) < 0:
        raise ValueError(f"optimize: expected steps >= 0, got {steps}")
    if tol is not None:
        in_range(float(tol), "optimize tol", low=0.0, low_open=True)
        if problem.minimizer is None:
            raise ValueError(
                f"optimize: tol needs a problem with a unique minimizer, got {problem!r}"
            )
    opt = make_optimizer([w])
    rows = [w.copy()]
    for k in range(1, int(steps) + 1):
        if tol is not None and np.linalg.norm(w - problem.minimizer) < tol:
            break
        with np.errstate(over="ignore", invalid="ignore"):  # detected just below
            g = problem.grad(w)
            ok = bool(np.all(np.isfinite(g)))
            if ok:
                opt.step([g])
                ok = bool(np.all(np.isfinite(w)) and np.linalg.norm(w) <= max_norm)
        if not ok:
            err = DivergenceError(
                f"optimize: the iterate diverged at step {k} (||w|| > {max_norm:g} or NaN/inf); "
                "lower the learning rate"
            )
            err.trajectory = np.array(rows)
            raise err
        rows.append(w.copy())
    return np.array(rows)


def steps_to_reach(trajectory, target, tol: float) -> int | None:
    """The first step k with ``||w_k - target|| < tol``, or ``None`` if the run never got there.

    ``trajectory``: iterates ``(T+1, d)`` as :func:`optimize` returns them (row 0 = start).
    The measured counterpart of :func:`coursekit.theory.steps_to_tolerance`.
    """
    path = np.asarray(trajectory, dtype=float)
    if path.ndim != 2:
        raise ValueError(
            f"steps_to_reach: expected a trajectory of shape (T+1, d), got {path.shape}"
        )
    in_range(float(tol), "steps_to_reach tol", low=0.0, low_open=True)
    hit = np.flatnonzero(np.linalg.norm(path - np.asarray(target, dtype=float), axis=1) < tol)
    return int(hit[0]) if hit.size else None

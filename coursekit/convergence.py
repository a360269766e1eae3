r"""Measured convergence of gradient descent (and friends) against closed-form theory.

The experiments behind the checked claims of lectures 04-07 live here, so that a test can
run the same experiment with a plausible wrong input (a learning rate 1% past
$\eta^*$, a target never reached) and see its verdict turn to ``FAIL``
(``tests/test_claims_04.py`` .. ``test_claims_07.py``).

- :func:`observed_regime`: monotone, one step, oscillating or divergent, read from the
  iterates of a 1-D run (to compare with :func:`coursekit.theory.regime`).
- :func:`per_direction_rates`: the contraction factor of each eigen-direction of a
  quadratic, measured from a GD run.
- :func:`divergence_step`: the step at which :func:`~coursekit.problems.optimize` stops a
  divergent run, measured and predicted.
- :func:`gd_rate_row` / :class:`RateRow`: one row of lecture 04's $\kappa$ table: GD at
  $\eta^*$ on a quadratic of condition number $\kappa$; rate and steps against theory.
- :func:`contraction`: the measured rate of any optimiser on a quadratic, from a long
  run (late window), for rates near 1 as well.
- :func:`momentum_steps` / :func:`momentum_grid`: steps to a tolerance of GD, heavy-ball
  momentum and Nesterov over a grid of $(\eta, \beta)$ and several starts, vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks, theory
from .checks import Comparison
from .errors import DivergenceError
from .problems import MAX_NORM, Quadratic, optimize
from .seeding import make_rng
from .sweep import Sweep

__all__ = [
    "observed_regime",
    "per_direction_rates",
    "divergence_step",
    "predicted_divergence_step",
    "RateRow",
    "gd_rate_row",
    "contraction",
    "momentum_steps",
    "MomentumGrid",
    "momentum_grid",
]


def observed_regime(w) -> str:
    r"""How a 1-D GD run behaved, read from its iterates ``w`` (shape ``(T+1,)``, minimum at 0).

    ``"one step"`` (every iterate after the first is exactly 0), ``"divergent"`` (some
    $|w_{k+1}| \ge |w_k|$: the error never shrinks, which includes the bounce at
    $\eta = 2/a$), ``"oscillating"`` (it shrinks and changes sign at every step) or
    ``"monotone"``. The names are those of :func:`coursekit.theory.regime`.
    """
    w = np.asarray(w, dtype=float).reshape(-1)
    if w.size < 3:
        raise ValueError(f"observed_regime: expected at least 3 iterates, got {w.size}")
    if np.all(w[1:] == 0):
        return "one step"
    if not np.all(np.abs(w[1:]) < np.abs(w[:-1])):
        return "divergent"
    return "oscillating" if np.all(w[1:] * w[:-1] < 0) else "monotone"


def per_direction_rates(problem: Quadratic, lr: float, w0, steps: int = 30) -> np.ndarray:
    r"""Measured $|z_i^{(k+1)} / z_i^{(k)}|$ of GD, averaged over ``steps``, one per eigenvalue.

    $z = E^\top (w - w^*)$ are the eigen-coordinates of the error (eigenvalues ascending,
    as ``np.linalg.eigh`` returns them); theory: $|1 - \eta\lambda_i|$
    (:func:`coursekit.theory.per_direction_rate`). ``steps`` must be small enough that no
    component reaches 0.
    """
    from .optim import GD

    lam, E = np.linalg.eigh(problem.A)
    traj = optimize(problem, lambda p: GD(p, lr=lr), w0, steps)
    z = (traj - problem.minimizer) @ E
    if np.any(z == 0):
        raise ValueError(
            "per_direction_rates: an eigen-component of the error is exactly 0; "
            "take another w0 or fewer steps"
        )
    return np.abs(z[1:] / z[:-1]).mean(axis=0)


def divergence_step(problem, make_optimizer, w0, max_steps: int = 100_000) -> int | None:
    """The step at which :func:`~coursekit.problems.optimize` reports divergence
    (``||w|| > 1e100``), or ``None`` when the run stays bounded for ``max_steps``."""
    try:
        optimize(problem, make_optimizer, w0, max_steps)
    except DivergenceError as err:
        return None if err.trajectory is None else len(err.trajectory)
    return None


def predicted_divergence_step(problem: Quadratic, lr: float, w0) -> int:
    r"""Theory for :func:`divergence_step` of GD: the first k with $|z_{top}|\,|1 -
    \eta\lambda_{max}|^k > 10^{100}$, $z_{top}$ the error's component along the top
    eigenvector (the only one that grows, when $\eta\lambda_{max} > 2$ is the only
    unstable direction)."""
    lam, E = np.linalg.eigh(problem.A)
    factor = abs(1 - lr * lam[-1])
    if factor <= 1:
        raise ValueError(f"predicted_divergence_step: lr {lr:g} converges (factor {factor:.4g})")
    z_top = abs(E[:, -1] @ (np.asarray(w0, dtype=float) - problem.minimizer))
    return int(np.ceil(np.log(MAX_NORM / z_top) / np.log(factor)))


# ----------------------------------------------------------------------------- the kappa table


@dataclass(frozen=True)
class RateRow:
    r"""One row of the $\kappa$ table: GD on quadratics of condition number ``kappa``.

    One entry per problem (diagonal, rotated, ...) in ``rates``: the measured contraction
    factors, and in ``steps``: the first step with $\|w_k - w^*\| \le$ ``tol``
    $\cdot \|w_0 - w^*\|$, ``None`` if never. ``theory``: $(\kappa - 1)/(\kappa + 1)$;
    ``bound``: :func:`coursekit.theory.steps_to_tolerance` at the theory rate (every
    direction at the worst rate, so an upper bound).
    """

    kappa: float
    lr: float
    rates: tuple[float, ...]
    theory: float
    steps: tuple[int | None, ...]
    bound: int

    def verdict(self, rtol: float = 0.01) -> str:
        """``OK`` when every measured rate matches theory on a log scale
        (:func:`coursekit.checks.rate_close`, steps per decade within ``rtol``) and every
        run reached the target within the bound; else ``FAIL`` with what went wrong."""
        return rate_row_verdict(self.rates, self.theory, self.steps, self.bound, rtol)


def rate_row_verdict(rates, theory_rate: float, steps, bound: int, rtol: float = 0.01) -> str:
    """The verdict of a :class:`RateRow` from its numbers (a test feeds it wrong ones):
    each rate against theory with :func:`coursekit.checks.rate_close`, then each step
    count, which fails when ``None`` (never reached) or above ``bound``."""
    for r in rates:
        v = checks.rate_close(r, theory_rate, rtol)
        if v != "OK":
            return v
    for n in steps:
        if n is None:
            return f"FAIL (target never reached; the rate predicts at most {bound} steps)"
        if n > bound:
            return f"FAIL (reached in {n} steps, theory at most {bound})"
    return "OK"


def gd_rate_row(
    kappa: float,
    dim: int = 5,
    lr: float | None = None,
    tol: float = 1e-6,
    rotations=(False, True),
    rng=None,
) -> RateRow:
    r"""GD on quadratics with eigenvalues log-spaced in $[1/\kappa, 1]$, one per rotation.

    ``lr``: the step (default $\eta^* = 2/(\lambda_{min} + \lambda_{max})$, the same for
    every rotation). ``rotations``: ``False`` (diagonal), ``True`` (a random rotation).
    ``rng`` (``None``: the course seed) draws the rotations and the start $w_0$ (standard
    normal; the minimiser is 0). Each run lasts 10% more than the bound on the steps to
    ``tol``; the rate is measured over its second half
    (:func:`coursekit.theory.measured_rate`). A run that diverges has rate inf and never
    reaches the target.
    """
    from .optim import GD

    gen = make_rng(rng)
    rho = theory.optimal_rate(kappa)
    w0 = gen.standard_normal(int(dim))
    e0 = float(np.linalg.norm(w0))
    bound = theory.steps_to_tolerance(rho, e0, tol * e0)
    n = int(1.1 * bound) + 4
    rates: list[float] = []
    steps: list[int | None] = []
    step = float("nan")
    for rotate in rotations:
        problem = Quadratic.with_condition(
            kappa, dim=dim, rotate=rotate, rng=int(gen.integers(2**31))
        )
        step = theory.optimal_lr(problem.eigenvalues) if lr is None else float(lr)
        try:
            e = np.linalg.norm(optimize(problem, lambda p, s=step: GD(p, lr=s), w0, n), axis=1)
        except DivergenceError:
            rates.append(float("inf"))
            steps.append(None)
            continue
        rates.append(theory.measured_rate(e))
        steps.append(checks.reached(e, tol * e0))
    return RateRow(float(kappa), step, tuple(rates), rho, tuple(steps), bound)


# ----------------------------------------------------------------------------- any optimiser


def contraction(problem: Quadratic, make_optimizer, w0, steps: int, window: float = 0.5) -> float:
    r"""The measured rate of an optimiser on a quadratic: the geometric-mean factor by
    which $\|w_k - w^*\|$ shrinks over the last ``window`` of a run of ``steps`` steps.

    Long runs and late windows measure the asymptotic rate even where the error behaves
    like $k\rho^k$ (momentum at Polyak's parameters): the factor $(1 + 1/k)$ fades.
    Returns ``inf`` when the run diverges. ``make_optimizer`` as for
    :func:`~coursekit.problems.optimize`.
    """
    if not 0 < window <= 1:
        raise ValueError(f"contraction: expected 0 < window <= 1, got {window}")
    try:
        path = optimize(problem, make_optimizer, w0, steps)
    except DivergenceError:
        return float("inf")
    e = np.linalg.norm(path - problem.minimizer, axis=1)
    start = int(round(len(e) * (1 - window)))
    start = min(start, len(e) - 2)
    return theory.measured_rate(e, start=start)


# ----------------------------------------------------------------------------- momentum


def momentum_steps(
    eigenvalues,
    z0,
    lrs,
    betas,
    tol: float = 1e-6,
    max_steps: int = 5000,
    nesterov: bool = False,
) -> np.ndarray:
    r"""Steps until $\|w_k - w^*\| \le$ ``tol`` $\cdot\|w_0 - w^*\|$ for every (lr, beta, start).

    Heavy-ball momentum or Nesterov in the lecture's form ($\Delta W \leftarrow
    \beta\Delta W - \eta\nabla L(W$ or $W + \beta\Delta W)$, $W \leftarrow W + \Delta W$,
    $\Delta W^{(0)} = 0$) on a quadratic, simulated in its eigenbasis, where each
    direction $i$ is the scalar recursion with curvature $\lambda_i$: for a start
    ``z0[s]`` (eigen-coordinates of $w_0 - w^*$, shape ``(S, d)``) the error norm is the
    norm of the vector of all directions. ``beta = 0`` is plain GD. Vectorised over the
    whole grid: returns an array ``(len(lrs), len(betas), S)`` of step counts, ``inf``
    where the run did not get there within ``max_steps`` (or diverged). The same
    iterates as :class:`coursekit.optim.Momentum` / :class:`~coursekit.optim.Nesterov`
    up to rounding (``tests/test_claims_07.py`` checks that).
    """
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    z = np.asarray(z0, dtype=float)
    if z.ndim != 2 or z.shape[1] != lam.size:
        raise ValueError(f"momentum_steps: expected z0 of shape (S, {lam.size}), got {z.shape}")
    eta = np.asarray(lrs, dtype=float).reshape(-1, 1, 1, 1)
    beta = np.asarray(betas, dtype=float).reshape(1, -1, 1, 1)
    shape = (eta.shape[0], beta.shape[1], z.shape[0], lam.size)
    Z = np.broadcast_to(z, shape).copy()
    D = np.zeros(shape)
    target = tol * np.linalg.norm(z, axis=1)
    steps = np.full(shape[:3], np.inf)
    el = eta * lam
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(max_steps) + 1):
            D *= beta
            D -= el * (Z + D if nesterov else Z)
            Z += D
            done = np.sqrt(np.sum(Z**2, axis=-1)) <= target
            steps[done & np.isinf(steps)] = k
            if np.all(np.isfinite(steps)):
                break
    return steps


@dataclass
class MomentumGrid:
    r"""Steps to a tolerance over a grid of (learning rate, $\beta$), for GD ($\beta = 0$),
    heavy-ball momentum and Nesterov, from the same starts (:func:`momentum_grid`)."""

    lrs: np.ndarray
    betas: np.ndarray
    steps: dict  # method -> (len(lrs), len(betas), S); GD: (len(lrs), 1, S)
    seeds: list

    def best(self, method: str) -> tuple[float, float, np.ndarray]:
        """``(lr, beta, steps over starts)`` at the grid point with the fewest median steps."""
        med = np.median(self.steps[method], axis=2)
        i, j = np.unravel_index(np.argmin(med), med.shape)
        beta = 0.0 if method == "GD" else float(self.betas[j])
        return float(self.lrs[i]), beta, self.steps[method][i, j]

    def theory_rate(self, method: str, eigenvalues) -> float:
        """The smallest asymptotic rate over the grid (:func:`coursekit.theory.momentum_rate`):
        the theory's best for ``method`` on the same grid."""
        betas = [0.0] if method == "GD" else self.betas
        return min(
            theory.momentum_rate(eigenvalues, lr, b, method == "Nesterov")
            for lr in self.lrs
            for b in betas
        )

    def speedup(self, method: str, eigenvalues) -> tuple[float, float]:
        r"""``(measured, theory)`` speed-up of ``method`` over GD, each at its best grid point:
        the ratio of median steps, and $\log\rho_{method} / \log\rho_{GD}$ of the best
        theory rates on the grid (steps to a tolerance scale like $1/|\log\rho|$)."""
        measured = np.median(self.best("GD")[2]) / np.median(self.best(method)[2])
        theory_ratio = np.log(self.theory_rate(method, eigenvalues)) / np.log(
            self.theory_rate("GD", eigenvalues)
        )
        return float(measured), float(theory_ratio)

    def at_beta_edge(self, method: str) -> bool:
        """True when ``method``'s best $\\beta$ is the largest of the grid (a larger one might
        be better); never for GD, whose $\\beta$ is 0 by definition."""
        return method != "GD" and len(self.betas) > 1 and self.best(method)[1] == self.betas.max()

    def compare(self, a: str, b: str, factor: float = 1.0, rule: str = "median") -> Comparison:
        """:meth:`coursekit.sweep.Sweep.compare` of :meth:`sweep` (each method at its best
        learning rate and $\\beta$; fails when a best learning rate is at the edge of its
        grid), which also fails when a best $\\beta$ is the largest of the $\\beta$ grid."""
        cmp = self.sweep().compare(a, b, factor, rule)
        edge = tuple(m for m in (a, b) if self.at_beta_edge(m))
        if not edge:
            return cmp
        return _BetaEdgeComparison(
            cmp.a,
            cmp.b,
            cmp.names,
            cmp.factor,
            cmp.rule,
            cmp.lower_is_better,
            edge,
            self.betas.max(),
        )

    def sweep(self) -> Sweep:
        """A :class:`~coursekit.sweep.Sweep` over the learning rate, each method at its
        best $\\beta$ for that learning rate (median over starts): table, compare, plot."""
        scores = {}
        for m, s in self.steps.items():
            med = np.median(s, axis=2)
            j = np.argmin(med, axis=1)
            scores[m] = s[np.arange(len(self.lrs)), j]
        lrs = {m: self.lrs for m in self.steps}
        return Sweep(lrs, scores, list(self.seeds), "steps to 1e-6 (relative)")


@dataclass(frozen=True)
class _BetaEdgeComparison(Comparison):
    edge: tuple[str, ...] = ()
    top: float = 0.0

    @property
    def ok(self) -> bool:
        return False

    def verdict(self) -> str:
        return (
            f"FAIL (best beta of {', '.join(self.edge)} is {self.top:g}, the largest of the "
            f"grid: widen it; {self.summary()})"
        )


def momentum_grid(
    problem: Quadratic, starts, lrs, betas, tol: float = 1e-6, max_steps: int = 5000
) -> MomentumGrid:
    """:func:`momentum_steps` for GD, momentum and Nesterov on ``problem`` from ``starts``
    (shape ``(S, d)``, points $w_0$)."""
    lam, E = np.linalg.eigh(problem.A)
    z0 = (np.asarray(starts, dtype=float) - problem.minimizer) @ E
    steps = {
        "GD": momentum_steps(lam, z0, lrs, [0.0], tol, max_steps),
        "momentum": momentum_steps(lam, z0, lrs, betas, tol, max_steps),
        "Nesterov": momentum_steps(lam, z0, lrs, betas, tol, max_steps, nesterov=True),
    }
    return MomentumGrid(
        np.asarray(lrs, float), np.asarray(betas, float), steps, list(range(len(z0)))
    )

r"""Per-coordinate methods (Rprop, QuickProp) against gradient descent: lecture 06's experiments.

Two fair comparisons, each counting **gradient evaluations** (every optimiser here uses
one per call to ``step``; a method that used more per step would be charged for them):

- :func:`quadratic_sweep`: gradient evaluations until $\|w - w^*\| <$ ``tol`` on
  quadratics of condition number $\kappa$ (:func:`two_level_quadratic`), aligned with the
  axes or rotated, for every learning rate of each method's grid and several starting
  points at once (one batched run per method: every coursekit optimiser works
  entrywise, so a parameter of shape ``(runs, d)`` is ``runs`` independent runs); the
  result is a :class:`coursekit.sweep.Sweep` (each method at its own best learning
  rate). :func:`not_faster` turns "A is not k times faster than B" into a verdict that
  also fails when A was not tuned. :func:`evaluations_to_reach`: the same count for one
  optimiser.
- :func:`network_sweep`: a small tanh network trained full batch by each method at every
  learning rate of its grid and several seeds, all runs in one batched forward and
  backward pass; the score is the training loss after a fixed number of steps, and the
  result is a :class:`coursekit.sweep.Sweep` (each method at its own best learning rate).

Learning rates per run. The optimisers take one scalar ``lr``. On the quadratics each run's
learning rate replaces ``lr`` as a column (:func:`evaluations_grid`). For the batched network
each run has its own, which the runs get without changing the optimisers: GD, momentum
and QuickProp are built with ``lr=1`` and receive the gradients scaled by each run's
learning rate (for GD and PyTorch-style momentum that is exactly the update with that
learning rate; QuickProp's secant steps do not depend on the scale of the gradient, and
its gradient steps get $-\eta g$); the Rprops ignore the gradient's size and take the
run's learning rate as initial step size, written into their state before the first
step. ``tests/test_claims_06.py`` checks single runs against the unbatched network
(:func:`coursekit.models.mlp` with :func:`coursekit.training.train_full_batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import theory
from .checks import beats, passed
from .data import make_xor
from .models import mlp
from .optim import GD, SGD, QuickProp, Rprop, RpropLecture, RpropSlide
from .problems import MAX_NORM, Quadratic
from .seeding import make_rng
from .sweep import Sweep

__all__ = [
    "evaluations_to_reach",
    "two_level_quadratic",
    "QUADRATIC_OPTIMIZERS",
    "quadratic_grids",
    "evaluations_grid",
    "quadratic_sweep",
    "gd_theory_verdict",
    "not_faster",
    "NETWORK_METHODS",
    "xor_networks",
    "network_losses",
    "network_sweep",
]


# ----------------------------------------------------------------------------- quadratics


def evaluations_to_reach(
    problem: Quadratic, make_optimizer, starts, tol: float = 1e-6, max_evals: int = 20_000
) -> list[int | None]:
    r"""Gradient evaluations until $\|w - w^*\| <$ ``tol``, one count per starting point.

    ``starts``: shape ``(S, d)``; all runs go at once (``make_optimizer([W])`` with ``W``
    of shape ``(S, d)``: the optimiser must work entrywise, as every per-coordinate
    method does). A run that never gets there within ``max_evals`` evaluations, or
    diverges, counts ``None``. A start already within ``tol`` counts 0.
    """
    W = np.array(starts, dtype=float)
    if W.ndim != 2 or W.shape[1] != problem.dim:
        raise ValueError(
            f"evaluations_to_reach: expected starts of shape (S, {problem.dim}), got {W.shape}"
        )
    counts: list[int | None] = [None] * len(W)
    opt = make_optimizer([W])
    for k in range(int(max_evals) + 1):
        dist = np.linalg.norm(W - problem.minimizer, axis=1)
        for i in np.flatnonzero(dist < tol):
            if counts[i] is None:
                counts[i] = k
        if all(c is not None for c in counts) or k == max_evals:
            break
        with np.errstate(over="ignore", invalid="ignore"):
            g = problem.grad(W)
            if not np.all(np.isfinite(g)):
                break
            opt.step([g])
    return counts


def two_level_quadratic(kappa: float, dim: int = 10, rotate: bool = False, rng=None) -> Quadratic:
    r"""A quadratic with minimum 0 whose eigenvalues are $1/\kappa$ (the first half) and 1.

    ``rotate=False``: $A$ diagonal, every coordinate an eigen-direction. ``rotate=True``: a
    Haar-random rotation drawn from ``rng`` (``None``: the course seed), so every
    coordinate mixes flat and steep directions. With only two distinct eigenvalues, GD at
    $\eta^* = 2/(1 + 1/\kappa)$ shrinks every eigen-direction by exactly
    $(\kappa-1)/(\kappa+1)$ per step, so its step count is predicted exactly, in any
    dimension.
    """
    dim = int(dim)
    if dim < 2:
        raise ValueError(f"two_level_quadratic: expected dim >= 2, got {dim}")
    lam = np.r_[np.full(dim // 2, 1.0 / float(kappa)), np.ones(dim - dim // 2)]
    if not rotate:
        return Quadratic.from_spectrum(lam)
    seed = int(make_rng(rng).integers(2**31))
    return Quadratic.from_spectrum(lam, rotation="random", rng=seed)


QUADRATIC_OPTIMIZERS: dict[str, tuple[type, dict]] = {
    "GD": (GD, {}),
    "Rprop (torch)": (Rprop, {"step_sizes": (1e-12, 50.0)}),
    "Rprop (lecture)": (RpropLecture, {"step_sizes": (1e-12, 50.0)}),
    "Rprop (slide)": (RpropSlide, {"step_sizes": (1e-12, 50.0)}),
    "QuickProp": (QuickProp, {}),
}
r"""``(class, keyword arguments)`` of each method of lecture 06's quadratic sweeps. The
Rprops get a floor of $10^{-12}$ (the default $10^{-6}$ would stop them at about that
precision); their learning rate is the initial step size $\Delta_0$."""


def quadratic_grids(problem: Quadratic) -> dict[str, np.ndarray]:
    r"""The learning-rate grids of lecture 06's quadratic sweeps, in units of
    $1/\lambda_{max}$ for GD and QuickProp.

    GD: 7 rates log-spaced from $0.5/\lambda_{max}$ to $4/\lambda_{max}$ plus its best
    fixed step $\eta^*$ itself (a log grid would straddle it: $2/\lambda_{max}$, 1% above,
    already fails to converge). The Rprops: $\Delta_0$ from $10^{-8}$ to $10^4$, one per
    decade (their count hardly depends on $\Delta_0$, which they adapt within a few
    steps, so the grid is wide enough that both ends are worse). QuickProp: 13 rates from
    $0.25/\lambda_{max}$ to $1024/\lambda_{max}$ (it uses $\eta$ only for its gradient
    steps; on an aligned quadratic a large first step lets the secant land at once).
    """
    top = problem.lambda_max
    gd = np.sort(np.r_[np.geomspace(0.5, 4, 7) / top, theory.optimal_lr(problem.eigenvalues)])
    rprop = np.geomspace(1e-8, 1e4, 13)
    return {
        "GD": gd,
        "Rprop (torch)": rprop,
        "Rprop (lecture)": rprop,
        "Rprop (slide)": rprop,
        "QuickProp": np.geomspace(0.25, 1024, 13) / top,
    }


def evaluations_grid(
    problem: Quadratic,
    optimizer: type,
    lrs,
    starts,
    tol: float = 1e-6,
    max_evals: int = 2000,
    **kwargs,
) -> np.ndarray:
    r"""Gradient evaluations until $\|w - w^*\| <$ ``tol`` for every learning rate and start.

    Returns shape ``(len(lrs), S)``, ``inf`` where a run did not get there within
    ``max_evals`` evaluations or diverged ($\|w\| > 10^{100}$ or NaN: the run is
    frozen, its gradient set to 0). All ``len(lrs) * S`` runs go at once, as the rows of
    one parameter of shape ``(len(lrs) * S, d)``: the optimiser (``optimizer(params,
    lr=1.0, **kwargs)``) works entrywise, and its ``lr`` is then replaced by a column
    of each row's learning rate, shape ``(len(lrs) * S, 1)``, which broadcasts in the
    same arithmetic as a scalar (GD and QuickProp multiply the gradient by it; the
    Rprops read it once, as the initial step size). ``tests/test_claims_06.py`` checks
    that each row equals a separate run.
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    starts = np.asarray(starts, dtype=float)
    if starts.ndim != 2 or starts.shape[1] != problem.dim:
        raise ValueError(
            f"evaluations_grid: expected starts of shape (S, {problem.dim}), got {starts.shape}"
        )
    if lrs.size == 0 or not np.all(lrs > 0):
        raise ValueError(f"evaluations_grid: expected positive learning rates, got {lrs}")
    S = len(starts)
    W = np.tile(starts, (lrs.size, 1))
    opt = optimizer([W], lr=1.0, **kwargs)
    opt.lr = np.repeat(lrs, S)[:, None]
    counts = np.full(len(W), np.inf)
    dead = np.zeros(len(W), dtype=bool)
    running = np.ones(len(W), dtype=bool)  # neither counted nor dead yet
    tol2, max2 = float(tol) ** 2, MAX_NORM**2  # squared distances: no square roots per step
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(int(max_evals) + 1):
            D = W - problem.minimizer
            d2 = np.einsum("ij,ij->i", D, D)
            hit = running & (d2 < tol2)
            if hit.any():
                counts[hit] = k
                running &= ~hit
            blown = ~(d2 < max2)
            if blown.any():
                dead |= blown
                running &= ~dead
            if k == max_evals or not running.any():
                break
            g = problem.grad(W)
            if dead.any():
                g[dead] = 0.0
            opt.step([g])
    return counts.reshape(lrs.size, S)


def quadratic_sweep(
    problem: Quadratic,
    starts,
    grids: Mapping[str, Sequence[float]] | None = None,
    methods: Mapping[str, tuple[type, dict]] | None = None,
    tol: float = 1e-6,
    max_evals: int | Mapping[str, int] = 2000,
) -> Sweep:
    """Gradient evaluations to ``tol`` of each method at each learning rate of its grid, from
    every start (:func:`evaluations_grid`), as a :class:`~coursekit.sweep.Sweep` whose
    "seeds" are the starts: each method is judged at its own best learning rate by the
    median over the starts. ``grids``: default :func:`quadratic_grids`; ``methods``:
    ``{name: (class, kwargs)}``, default :data:`QUADRATIC_OPTIMIZERS`; ``max_evals`` an
    int or one per method."""
    methods = QUADRATIC_OPTIMIZERS if methods is None else methods
    chosen = quadratic_grids(problem) if grids is None else grids
    scores, lrs = {}, {}
    for name, (cls, kw) in methods.items():
        cap = max_evals[name] if isinstance(max_evals, Mapping) else max_evals
        lrs[name] = np.asarray(chosen[name], dtype=float)
        scores[name] = evaluations_grid(problem, cls, lrs[name], starts, tol, cap, **kw)
    return Sweep(lrs, scores, list(range(len(starts))), f"gradient evaluations to {tol:g}")


def gd_theory_verdict(counts, kappa: float, starts, tol: float = 1e-6) -> str:
    r"""GD's gradient evaluations on a :func:`two_level_quadratic` (minimum 0) against
    theory, one count per start: at $\eta^*$ the error shrinks by exactly
    $\rho = (\kappa-1)/(\kappa+1)$ per step, so the count is
    :func:`coursekit.theory.steps_to_tolerance` $(\rho, \|w_0\|, $ ``tol``$)$, to within
    one step (rounding at the threshold). ``FAIL`` names the first start that differs (a
    count of ``inf`` never got there)."""
    rho = theory.optimal_rate(kappa)
    for i, (n, w0) in enumerate(zip(counts, np.asarray(starts, dtype=float), strict=True)):
        predicted = theory.steps_to_tolerance(rho, float(np.linalg.norm(w0)), tol)
        if not abs(float(n) - predicted) <= 1:
            return f"FAIL (start {i}: {n} evaluations, theory {predicted})"
    return "OK"


def not_faster(result: Sweep, a: str, b: str, factor: float, min_grid: int = 3) -> str:
    """``OK`` when method ``a``, at its best learning rate, does **not** beat ``b`` at its
    best by ``factor`` (median over seeds); ``FAIL`` when it does, and also when ``a`` was
    not tuned: a grid of fewer than ``min_grid`` learning rates, or a best learning rate
    at the edge of its grid (a wider grid might find the rate at which it does win). A
    negative claim needs ``a`` tuned as much as a positive one needs ``b`` tuned."""
    # b's own grid edge does not matter here: a better-tuned b would only make a look slower
    cmp = beats(result.best(a), result.best(b), (a, b), factor, "median", result.lower_is_better)
    if len(result.lrs[a]) < min_grid:
        return f"FAIL ({a} was not tuned: {len(result.lrs[a])} learning rate(s) tried)"
    if result.at_edge(a):
        return f"FAIL (best lr of {a} at the edge of its grid: widen the grid; {cmp.summary()})"
    return passed(not cmp.ok, f"({a} is {factor:g}x faster: {cmp.summary()})")


# ----------------------------------------------------------------------------- the network


def _scaled(cls, **kw):
    """Runs with their own learning rate: ``lr=1`` and gradients scaled by each run's lr."""

    def make(params, lr_per_run):
        opt = cls(params, lr=1.0, **kw)
        scale = [lr_per_run.reshape((-1,) + (1,) * (p.ndim - 1)) for p in params]
        return lambda grads: opt.step([g * s for g, s in zip(grads, scale, strict=True)])

    return make


def _initial_steps(cls, **kw):
    """Rprop variants: each run's learning rate is its initial step size."""

    def make(params, lr_per_run):
        opt = cls(params, lr=1.0, **kw)
        for i, p in enumerate(params):  # the state Rprop would create on its first step
            size = np.broadcast_to(lr_per_run.reshape((-1,) + (1,) * (p.ndim - 1)), p.shape)
            opt.state[i].update(
                prev=np.zeros_like(p), step_size=size.copy(), delta=np.zeros_like(p)
            )
            if cls is Rprop:
                del opt.state[i]["delta"]
        return opt.step

    return make


NETWORK_METHODS = {
    "GD": _scaled(GD),
    "GD + momentum 0.9": _scaled(SGD, momentum=0.9),
    "Rprop (torch)": _initial_steps(Rprop),
    "Rprop (lecture)": _initial_steps(RpropLecture),
    "QuickProp": _scaled(QuickProp),
}
"""``make(params, lr_per_run) -> step(grads)`` for :func:`network_losses`. Momentum is
PyTorch's (``SGD(momentum=0.9)``), the heavy ball of lecture 07."""


def xor_networks(seeds: Sequence[int], n: int = 200, noise: float = 0.5, hidden: int = 8):
    r"""Data and initial weights for one 2-``hidden``-2 tanh network per seed.

    Seed ``s`` draws the XOR data ``make_xor(n, noise, rng=s)`` and the weights of
    ``mlp([2, hidden, 2], activation="tanh", rng=s + 1)`` (PyTorch's initialisation).
    Returns ``X`` (R, n, 2), one-hot targets ``Y`` (R, n, 2) and the parameters stacked
    over runs: ``W1`` (R, hidden, 2), ``b1`` (R, hidden), ``W2`` (R, 2, hidden), ``b2`` (R, 2).
    """
    data = [make_xor(n, noise=noise, rng=int(s)) for s in seeds]
    X = np.stack([d[0] for d in data])
    Y = np.stack([np.eye(2)[d[1]] for d in data])
    nets = [mlp([2, hidden, 2], activation="tanh", rng=int(s) + 1).parameters() for s in seeds]
    params = [np.stack([p[i] for p in nets]) for i in range(4)]
    return X, Y, params


def _loss_and_grads(params, X, Y):
    r"""Mean cross-entropy of each run's network and its gradients (batched over runs).

    Two classes, so softmax cross-entropy depends only on the score difference
    $d = z_1 - z_0$: $\ell = \log(1 + e^{-s d})$ with $s = \pm 1$ for class 1 / 0, and
    $\partial\ell/\partial z_1 = -\partial\ell/\partial z_0 = \sigma(d) - y_1$ (the same
    numbers as the general formula, with half the work on ``(R, n, 2)`` arrays).
    """
    W1, b1, W2, b2 = params
    A = np.tanh(X @ W1.transpose(0, 2, 1) + b1[:, None, :])  # (R, n, H)
    v = W2[:, 1, :] - W2[:, 0, :]  # (R, H)
    d = (A @ v[:, :, None])[..., 0] + (b2[:, 1] - b2[:, 0])[:, None]  # (R, n)
    y1 = Y[..., 1]
    n = X.shape[1]
    loss = np.logaddexp(0.0, np.where(y1 > 0, -d, d)).sum(axis=1) / n
    g = (0.5 * (1.0 + np.tanh(0.5 * d)) - y1) / n  # (sigma(d) - y1) / n, overflow-free
    gv = (g[:, None, :] @ A)[:, 0, :]  # (R, H)
    G1 = g[:, :, None] * v[:, None, :]
    G1 *= 1.0 - A * A
    gb = g.sum(axis=1)
    grads = [
        G1.transpose(0, 2, 1) @ X,
        G1.sum(axis=1),
        np.stack([-gv, gv], axis=1),
        np.stack([-gb, gb], axis=1),
    ]
    return loss, grads


def network_losses(make, lrs, seeds: Sequence[int], steps: int, **data_kw) -> np.ndarray:
    """Training losses ``(steps + 1, len(lrs), len(seeds))`` of one method, every
    (learning rate, seed) pair trained at once; ``make`` as in :data:`NETWORK_METHODS`.
    Row k is the loss after k steps; a run whose loss overflows is inf from then on."""
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    X, Y, init = xor_networks(seeds, **data_kw)
    L = lrs.size
    X, Y = np.tile(X, (L, 1, 1)), np.tile(Y, (L, 1, 1))
    params = [np.tile(p, (L,) + (1,) * (p.ndim - 1)) for p in init]
    step = make(params, np.repeat(lrs, len(seeds)))
    out = np.empty((steps + 1, L * len(seeds)))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(steps + 1):
            loss, grads = _loss_and_grads(params, X, Y)
            out[k] = loss
            if k == steps:
                break
            bad = ~np.isfinite(loss)
            if bad.any():  # freeze diverged runs (their loss stays inf)
                for g in grads:
                    g[bad] = 0.0
                    g[~np.isfinite(g)] = 0.0
            step(grads)
    dead = np.maximum.accumulate(~np.isfinite(out), axis=0)
    out = np.where(dead, np.inf, out)
    return out.reshape(steps + 1, L, len(seeds))


def network_sweep(
    lrs: Mapping[str, Sequence[float]],
    seeds: Sequence[int],
    steps: int = 100,
    methods: Mapping[str, Callable] | None = None,
    **data_kw,
) -> Sweep:
    """Training loss after ``steps`` full-batch steps (= gradient evaluations) of each
    method at each learning rate of its grid ``lrs[name]``, over ``seeds`` (data and
    initial weights, :func:`xor_networks`). Returns a :class:`~coursekit.sweep.Sweep`."""
    methods = NETWORK_METHODS if methods is None else methods
    scores = {}
    for name, grid in lrs.items():
        if name not in methods:
            raise KeyError(f"network_sweep: no method {name!r}; known {list(methods)}")
        scores[name] = network_losses(methods[name], grid, seeds, steps, **data_kw)[-1]
    return Sweep(
        {m: np.asarray(g, dtype=float) for m, g in lrs.items()},
        scores,
        [int(s) for s in seeds],
        f"training loss after {steps} steps",
    )

r"""Per-coordinate methods (Rprop, QuickProp) against gradient descent: lecture 06's experiments.

Two fair comparisons, each counting **gradient evaluations** (every optimiser here uses
one per call to ``step``; a method that used more per step would be charged for them):

- :func:`evaluations_to_reach` / :func:`quadratic_table`: gradient evaluations until
  $\|w - w^*\| < $ ``tol`` on 2-D quadratics of condition number $\kappa$, aligned with
  the axes or rotated, from several starting points at once (one batched run: every
  coursekit optimiser works entrywise, so a parameter of shape ``(starts, 2)`` is
  ``starts`` independent runs).
- :func:`network_sweep`: a small tanh network trained full batch by each method at every
  learning rate of its grid and several seeds, all runs in one batched forward and
  backward pass; the score is the training loss after a fixed number of steps, and the
  result is a :class:`coursekit.sweep.Sweep` (each method at its own best learning rate).

Learning rates per run. The optimisers take one scalar ``lr``. For the batched network
each run has its own, which the runs get without changing the optimisers: GD, momentum
and QuickProp are built with ``lr=1`` and receive the gradients scaled by each run's
learning rate (for GD and PyTorch-style momentum that is exactly the update with that
learning rate; QuickProp's secant steps do not depend on the scale of the gradient, and
its gradient steps get $-\eta g$); the Rprops ignore the gradient's size and take the
run's learning rate as initial step size, written into their state before the first
step. ``tests/test_claims_06.py`` checks single runs against the unbatched network
(:class:`coursekit.layers.MLP` with :func:`coursekit.training.train_full_batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import theory
from .data import make_xor
from .layers import MLP
from .optim import GD, SGD, QuickProp, Rprop, RpropLecture, RpropSlide
from .problems import Quadratic
from .sweep import Sweep

__all__ = [
    "evaluations_to_reach",
    "QUADRATIC_METHODS",
    "quadratic_table",
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


QUADRATIC_METHODS: dict[str, Callable] = {
    "GD at eta*": lambda p, q: GD(p, lr=theory.optimal_lr(q.eigenvalues)),
    "Rprop (torch)": lambda p, q: Rprop(p, lr=0.1, step_sizes=(1e-12, 50)),
    "Rprop (lecture)": lambda p, q: RpropLecture(p, lr=0.1, step_sizes=(1e-12, 50)),
    "Rprop (slide)": lambda p, q: RpropSlide(p, lr=0.1, step_sizes=(1e-12, 50)),
    "QuickProp": lambda p, q: QuickProp(p, lr=1.0 / q.lambda_max),
}
r"""The settings of lecture 06's table: GD at its best fixed step
$\eta^* = 2/(\lambda_{min} + \lambda_{max})$; the Rprops with $\Delta_0 = 0.1$ and a floor of
$10^{-12}$ (the default $10^{-6}$ would stop them at about that precision); QuickProp with
$\eta = 1/\lambda_{max}$ for its gradient steps. ``make(params, problem)``."""


def quadratic_table(
    kappas: Sequence[float],
    starts,
    rotations=(("aligned", False), ("rotated", np.pi / 6)),
    methods: Mapping[str, Callable] | None = None,
    tol: float = 1e-6,
    max_evals: int = 5000,
    max_evals_slide: int = 2000,
) -> dict[tuple[str, float], dict[str, list[int | None]]]:
    r"""``{(orientation, kappa): {method: [evaluations per start]}}`` plus the theory for GD.

    Quadratics: eigenvalues $1/\kappa$ and 1, minimum at 0, ``rotations`` a list of
    ``(name, angle or False)``. ``methods``: ``{name: make(params, problem)}`` (default
    :data:`QUADRATIC_METHODS`). Runs stop after ``max_evals`` gradient evaluations
    (``max_evals_slide`` for ``"Rprop (slide)"``, which freezes on rotated problems). The
    entry ``"GD theory"`` holds
    :func:`coursekit.theory.steps_to_tolerance` for each start: at $\eta^*$ both
    eigen-directions of a 2-D quadratic shrink by exactly $(\kappa-1)/(\kappa+1)$ per
    step, so GD's count is predicted exactly.
    """
    methods = QUADRATIC_METHODS if methods is None else methods
    starts = np.asarray(starts, dtype=float)
    table = {}
    for name, angle in rotations:
        for kappa in kappas:
            q = Quadratic.with_condition(kappa, dim=2, rotate=angle)
            rho = theory.optimal_rate(kappa)
            row = {
                "GD theory": [
                    theory.steps_to_tolerance(rho, np.linalg.norm(w0), tol) for w0 in starts
                ]
            }
            for m, make in methods.items():
                cap = max_evals_slide if m == "Rprop (slide)" else max_evals
                row[m] = evaluations_to_reach(
                    q, lambda p, make=make, q=q: make(p, q), starts, tol, cap
                )
            table[name, kappa] = row
    return table


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
    ``MLP([2, hidden, 2], activation="tanh", rng=s + 1)`` (PyTorch's initialisation).
    Returns ``X`` (R, n, 2), one-hot targets ``Y`` (R, n, 2) and the parameters stacked
    over runs: ``W1`` (R, hidden, 2), ``b1`` (R, hidden), ``W2`` (R, 2, hidden), ``b2`` (R, 2).
    """
    data = [make_xor(n, noise=noise, rng=int(s)) for s in seeds]
    X = np.stack([d[0] for d in data])
    Y = np.stack([np.eye(2)[d[1]] for d in data])
    nets = [MLP([2, hidden, 2], activation="tanh", rng=int(s) + 1).parameters() for s in seeds]
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

r"""Gradient descent with noisy gradients under learning-rate schedules (lecture 05).

Many independent runs are simulated at once (one numpy array, one row per run), for every
schedule and initial learning rate of a grid, and scored like :func:`coursekit.sweep.sweep`
scores a method: the result is a :class:`coursekit.sweep.Sweep`, so a schedule is
compared with another each at its own best $\eta_0$ (``result.compare(a, b)``).

- :func:`schedule_lrs`: the learning rates $\eta_0 s(k)$ of the course's schedules as an
  array (constant, $1/(k+1)$, $1/(k+1)^2$, exponential, $1/(1 + k/k_0)$).
- :func:`noisy_quadratic_sweep`: GD with gradient noise on a quadratic; score: the RMS
  distance to the minimum at the end.
- :class:`TwoBasins` and :func:`escape_sweep`: a 1-D loss with a sharp, shallow basin
  (where the runs start) and a wide, deep one; score: the RMS distance to the deep
  minimum at the end. A large early step escapes the sharp basin, a decaying step then
  settles in the wide one.
- :func:`measured_floor`: the RMS distance at which noisy GD with a constant step settles
  (theory: :func:`coursekit.theory.noise_floor`).
- :func:`robbins_monro`: the partial sums $\sum \eta_k$ and $\sum \eta_k^2$ of a schedule.

Noise: $\tilde g = \nabla f(w) + \sigma\xi$, $\xi$ standard normal, independent per run and
step. The runs of one seed share their noise across schedules and learning rates (common
random numbers: the comparison sees the same luck).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .problems import Quadratic
from .sweep import Sweep

__all__ = [
    "SCHEDULES",
    "schedule_lrs",
    "robbins_monro",
    "noisy_quadratic_sweep",
    "TwoBasins",
    "escape_sweep",
    "final_positions",
    "measured_floor",
]

SCHEDULES = {
    "constant": lambda k: np.ones_like(k),
    "1/(k+1)": lambda k: 1.0 / (k + 1),
    "1/(k+1)^2": lambda k: 1.0 / (k + 1) ** 2,
    "exponential 0.98": lambda k: 0.98**k,
    "1/(1+k/100)": lambda k: 1.0 / (1 + k / 100),
}
r"""Schedule shapes $s(k)$, $\eta_k = \eta_0 s(k)$: the lecture's ``InverseDecay``,
``InverseSquareDecay``, ``ExponentialDecay(gamma=0.98)``, and $1/(1 + k/100)$, which decays
like $1/k$ but only after 100 steps (``LambdaLR(opt, lambda k: 1 / (1 + k / 100))``)."""


def schedule_lrs(shape: str, lr0: float, steps: int) -> np.ndarray:
    r"""$\eta_k = \eta_0\, s(k)$ for $k = 0, \dots,$ ``steps`` $- 1$; ``shape`` a key of
    :data:`SCHEDULES`."""
    if shape not in SCHEDULES:
        raise ValueError(f"schedule_lrs: expected a shape in {list(SCHEDULES)}, got {shape!r}")
    if not lr0 > 0:
        raise ValueError(f"schedule_lrs: expected lr0 > 0, got {lr0!r}")
    return float(lr0) * SCHEDULES[shape](np.arange(int(steps), dtype=float))


def robbins_monro(lrs) -> tuple[float, float]:
    r"""$(\sum_k \eta_k, \sum_k \eta_k^2)$ over the given learning rates.

    Robbins and Monro (1951): with noisy gradients, $\sum_k \eta_k = \infty$ (the steps
    can carry the iterate any distance) and $\sum_k \eta_k^2 < \infty$ (the noise they
    inject adds up to a finite variance) let SGD converge. A finite run can only show
    partial sums: the first should be large against the distance to travel (against
    $1/\lambda_{min}$ on a quadratic), the second small.
    """
    lrs = np.asarray(lrs, dtype=float)
    return float(lrs.sum()), float((lrs**2).sum())


def _simulate(grad, w0, lr_table, sigma, steps, seeds, runs, target):
    """``lr_table``: (configs, steps). Returns final RMS distances (configs, len(seeds))."""
    w0 = np.asarray(w0, dtype=float).reshape(-1)
    configs = lr_table.shape[0]
    out = np.empty((configs, len(seeds)))
    for j, s in enumerate(seeds):
        rng = np.random.default_rng(int(s))
        W = np.broadcast_to(w0, (configs, runs, w0.size)).copy()
        eta = lr_table[:, :, None, None]
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(steps):
                noise = rng.standard_normal((runs, w0.size))
                W -= eta[:, k] * (grad(W) + sigma * noise)
        d2 = np.sum((W - target) ** 2, axis=-1)
        out[:, j] = np.sqrt(np.mean(d2, axis=1))
    return np.where(np.isfinite(out), out, np.inf)


def _sweep(grad, w0, shapes, lrs, seeds, steps, runs, sigma, target, metric) -> Sweep:
    grids = {
        name: np.asarray(lrs[name] if isinstance(lrs, Mapping) else lrs, dtype=float)
        for name in shapes
    }
    rows, owner = [], []
    for name in shapes:
        for lr0 in grids[name]:
            rows.append(schedule_lrs(name, lr0, steps))
            owner.append(name)
    scores = _simulate(grad, w0, np.array(rows), sigma, steps, seeds, runs, target)
    owners = np.array(owner)
    return Sweep(grids, {n: scores[owners == n] for n in shapes}, [int(s) for s in seeds], metric)


def noisy_quadratic_sweep(
    problem: Quadratic,
    shapes: Sequence[str],
    lrs,
    seeds: Sequence[int],
    w0,
    steps: int = 500,
    runs: int = 100,
    sigma: float = 1.0,
) -> Sweep:
    r"""Noisy GD on ``problem`` for each schedule shape and each $\eta_0$ of its grid.

    ``lrs``: one grid of $\eta_0$ for all shapes, or a dict of grids. For each seed,
    ``runs`` independent runs start at ``w0``; the score is the RMS distance
    $\sqrt{\mathrm{mean}_r \|w_r - w^*\|^2}$ after ``steps`` steps (lower is better, inf
    when the runs diverged). Returns a :class:`~coursekit.sweep.Sweep`.
    """
    return _sweep(
        problem.grad,
        w0,
        list(shapes),
        lrs,
        seeds,
        steps,
        runs,
        sigma,
        problem.minimizer,
        f"RMS distance to w* after {steps} steps",
    )


class TwoBasins:
    r"""A 1-D loss with two basins: a sharp, shallow one and a wide, deep one.

    $$f(w) = -h_1 e^{-(w - a)^2 / (2 s_1^2)} - h_2 e^{-(w - b)^2 / (2 s_2^2)} + c\, w^2,$$

    by default $h_1 = 0.5$, $a = -1$, $s_1 = 0.2$ (the bad basin: curvature about 12.4 at
    its minimum, so GD is unstable there for $\eta > 2/12.4 \approx 0.16$) and
    $h_2 = 1$, $b = 2$, $s_2 = 1$ (the good basin: curvature about 1, stable for
    $\eta < 2$); $c = 0.02$ keeps every run bounded. ``value``, ``grad`` and ``hessian``
    take arrays of any shape (each entry is one $w$). ``minima`` are the two local
    minima (bad, good), found on a fine grid and polished by Newton steps;
    ``curvatures`` are $f''$ there.
    """

    dim = 1

    def __init__(self, h1=0.5, a=-1.0, s1=0.2, h2=1.0, b=2.0, s2=1.0, c=0.02):
        self.h1, self.a, self.s1 = float(h1), float(a), float(s1)
        self.h2, self.b, self.s2 = float(h2), float(b), float(s2)
        self.c = float(c)
        w = np.linspace(min(a, b) - 3 * max(s1, s2), max(a, b) + 3 * max(s1, s2), 20001)
        f = self.value(w)
        idx = np.flatnonzero((f[1:-1] < f[:-2]) & (f[1:-1] < f[2:])) + 1
        if idx.size != 2:
            raise ValueError(f"TwoBasins: expected two local minima, found {idx.size}")
        m = w[idx]
        for _ in range(20):
            m = m - self.grad(m) / self.hessian(m)
        bad, good = (m[0], m[1]) if self.value(m[0]) > self.value(m[1]) else (m[1], m[0])
        self.minima = np.array([bad, good])
        self.curvatures = self.hessian(self.minima)
        between = (w > min(m)) & (w < max(m))
        self.barrier = float(w[between][np.argmax(f[between])])

    def in_good_basin(self, w) -> np.ndarray:
        """True where ``w`` lies on the good minimum's side of the barrier between the basins."""
        w = np.asarray(w, dtype=float)
        return (w > self.barrier) if self.minima[1] > self.barrier else (w < self.barrier)

    def _wells(self, w):
        w = np.asarray(w, dtype=float)
        u1, u2 = (w - self.a) / self.s1, (w - self.b) / self.s2
        return w, u1, u2, self.h1 * np.exp(-0.5 * u1**2), self.h2 * np.exp(-0.5 * u2**2)

    def value(self, w):
        w, _, _, e1, e2 = self._wells(w)
        return -e1 - e2 + self.c * w**2

    def grad(self, w):
        w, u1, u2, e1, e2 = self._wells(w)
        return e1 * u1 / self.s1 + e2 * u2 / self.s2 + 2 * self.c * w

    def hessian(self, w):
        w, u1, u2, e1, e2 = self._wells(w)
        return e1 * (1 - u1**2) / self.s1**2 + e2 * (1 - u2**2) / self.s2**2 + 2 * self.c

    def __repr__(self):
        return (
            f"TwoBasins(bad minimum {self.minima[0]:.3f}, curvature {self.curvatures[0]:.3g}; "
            f"good minimum {self.minima[1]:.3f}, curvature {self.curvatures[1]:.3g})"
        )


def escape_sweep(
    problem: TwoBasins,
    shapes: Sequence[str],
    lrs,
    seeds: Sequence[int],
    steps: int = 2000,
    runs: int = 200,
    sigma: float = 0.5,
) -> Sweep:
    r"""Noisy GD on :class:`TwoBasins` from the bad minimum, per schedule shape and $\eta_0$.

    Score: the RMS distance to the good minimum after ``steps`` steps, over ``runs`` runs
    per seed (a run left in the bad basin counts about 3). Returns a
    :class:`~coursekit.sweep.Sweep`.
    """
    return _sweep(
        problem.grad,
        [problem.minima[0]],
        list(shapes),
        lrs,
        seeds,
        steps,
        runs,
        sigma,
        problem.minima[1],
        f"RMS distance to the good minimum after {steps} steps",
    )


def final_positions(
    problem: TwoBasins,
    shape: str,
    lr0: float,
    seed: int,
    steps: int = 2000,
    runs: int = 200,
    sigma: float = 0.5,
    record: int = 0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Where ``runs`` noisy GD runs from the bad minimum end after ``steps`` steps, shape
    ``(runs,)``; with ``record > 0`` the paths of the first ``record`` runs as well,
    ``(steps + 1, record)``, returned as a second value. Same noise as :func:`escape_sweep`
    for the same seed."""
    lrs = schedule_lrs(shape, lr0, steps)
    rng = np.random.default_rng(int(seed))
    w = np.full(runs, problem.minima[0])
    paths = [w[:record].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            w = w - lrs[k] * (problem.grad(w) + sigma * rng.standard_normal((runs, 1))[:, 0])
            if record:
                paths.append(w[:record].copy())
    return (w, np.array(paths)) if record else w


def measured_floor(
    problem: Quadratic,
    lr: float,
    w0,
    rng=None,
    steps: int = 500,
    last: int = 200,
    runs: int = 100,
    sigma: float = 1.0,
) -> float:
    r"""$\sqrt{\mathrm{mean}\|w - w^*\|^2}$ over ``runs`` noisy GD runs with constant ``lr``
    from ``w0`` and over their last ``last`` of ``steps`` steps: the measured noise floor
    (:func:`coursekit.theory.noise_floor`). ``rng``: a generator or seed (``None``: the
    course seed)."""
    from .seeding import make_rng

    gen = make_rng(rng)
    W = np.tile(np.asarray(w0, dtype=float), (int(runs), 1))
    late = []
    for k in range(int(steps)):
        W -= lr * (problem.grad(W) + sigma * gen.standard_normal(W.shape))
        if k >= steps - last:
            late.append(np.mean(np.sum((W - problem.minimizer) ** 2, axis=1)))
    return float(np.sqrt(np.mean(late)))

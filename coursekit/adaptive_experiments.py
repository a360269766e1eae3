r"""The experiments of lecture 9 (adaptive methods), as functions a test can drive.

Each function runs one measurement whose verdict a lecture cell prints, so that a test
can feed it a plausible wrong input (an untuned grid, a $\beta$ 10% off, a sequence
without the asymmetry) and see the verdict turn to FAIL.

- :func:`run_grid`, :func:`grid_sweep`: a method at every learning rate of a grid from
  several starts, all in one array: steps to a tolerance, or the distance after a run.
- :func:`adam_step_bound`, :func:`adam_largest_step`, :func:`adam_constant_gradient_steps`:
  the size of Adam's step, its worst case and the effect of the bias correction.
- :func:`adam_noise_steps`, :func:`adam_noise_theory`: Adam's step near the optimum of a
  noisy objective (automatic annealing).
- :func:`cycle_gradients`, :func:`drift`: Rprop and RMSProp on mini-batch gradients
  whose mean is zero.
- :func:`sparse_regression`, :func:`effective_lr_slope`: AdaGrad's per-feature step on
  features of very different frequencies.
- :func:`scale_invariance`: the same run on $f$ and on $c f$.
- :func:`steps_table`: a sweep scored in steps, printed with "never" for runs that did
  not arrive.

Every optimiser in :mod:`coursekit.optim` updates each entry of an array from that
entry's own history, so an array of shape ``(R, ...)`` holds ``R`` independent runs; the
functions here use that to run many starts or chains in one loop.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import in_range
from .seeding import make_rng
from .stacked import _stepper

__all__ = [
    "run_grid",
    "grid_sweep",
    "adam_step_bound",
    "adam_largest_step",
    "adam_constant_gradient_steps",
    "adam_noise_steps",
    "adam_noise_theory",
    "cycle_gradients",
    "drift",
    "sparse_regression",
    "effective_lr_slope",
    "scale_invariance",
    "steps_table",
]


# ----------------------------------------------------------------------------- quadratics


def run_grid(problem, optimizer, lrs, starts, steps: int, tol=None, record_every=None):
    r"""One optimiser at every learning rate of ``lrs`` from every start, in one array.

    Row ``(i, j)`` runs ``optimizer(params, lr)`` at ``lrs[i]`` from ``starts[j]``
    (``starts`` ``(n, d)``); per-row learning rates use that the step of the optimisers
    of :mod:`coursekit.optim` (GD, SGD, Momentum, Adagrad, RMSprop, Adam, without weight
    decay) is ``lr`` times a function of the gradients alone
    (:func:`coursekit.stacked.train_stacked`). A row whose gradient or iterate stops
    being finite (or exceeds 1e6) is frozen and counts as diverged.

    Returns ``{"final": (n_lr, n) distance to problem.minimizer after the run (inf when
    diverged), "hit": (n_lr, n) first step within ``tol`` (inf when never; only with
    ``tol``, and the run stops once every row has arrived or diverged), "path": (T', n_lr,
    n, d) iterates at steps 0, r, 2r, ... (only with ``record_every=r``)}``.
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    W0 = np.asarray(starts, dtype=float)
    if W0.ndim != 2 or W0.shape[1] != problem.dim:
        raise ValueError(f"run_grid: expected starts of shape (n, {problem.dim}), got {W0.shape}")
    n_lr, n = lrs.size, len(W0)
    W = np.tile(W0, (n_lr, 1))
    step = _stepper(optimizer, np.repeat(lrs, n), [W], n_lr * n)
    target = problem.minimizer
    dead = np.zeros(len(W), dtype=bool)
    hit = np.full(len(W), np.inf)
    if tol is not None:
        in_range(float(tol), "run_grid tol", low=0.0, low_open=True)
        hit[np.linalg.norm(W - target, axis=1) < tol] = 0
    path: list[np.ndarray] = [W.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(steps) + 1):
            g = problem.grad(W)
            dead |= ~np.all(np.isfinite(g), axis=1) | ~(np.abs(W).max(axis=1) <= 1e6)
            g[dead] = 0.0
            W[dead] = 0.0
            step([g])
            if tol is not None:
                new = (np.linalg.norm(W - target, axis=1) < tol) & ~np.isfinite(hit) & ~dead
                hit[new] = k
                if np.all(np.isfinite(hit) | dead):
                    break
            if record_every and k % int(record_every) == 0:
                path.append(np.where(dead[:, None], np.nan, W))
    final = np.where(dead, np.inf, np.linalg.norm(W - target, axis=1))
    out: dict[str, np.ndarray] = {"final": final.reshape(n_lr, n)}
    if tol is not None:
        out["hit"] = np.where(dead, np.inf, hit).reshape(n_lr, n)
    if record_every:
        out["path"] = np.array(path).reshape(len(path), n_lr, n, problem.dim)
    return out


def grid_sweep(problem, starts, methods, lrs, seeds, steps: int, tol=None, record_every=None):
    r"""Each method of ``methods`` (``{name: optimizer(params, lr)}``) over its learning-rate
    grid (``lrs``: one grid or ``{name: grid}``) from every start (``starts`` ``(n, d)``,
    drawn from ``seeds``, one each), by :func:`run_grid`.

    Returns ``(sweep, runs)``: a :class:`coursekit.sweep.Sweep` scored by the steps to
    ``tol`` (``inf`` when never reached) when ``tol`` is given, else by the distance to
    the minimiser after ``steps`` steps; and ``runs[name]``, :func:`run_grid`'s output.
    """
    from .sweep import Sweep

    seeds = [int(s) for s in seeds]
    if len(seeds) != len(starts):
        raise ValueError(f"grid_sweep: {len(seeds)} seeds but {len(starts)} starts")
    grids, scores, runs = {}, {}, {}
    for name, opt in methods.items():
        grid = np.asarray(lrs[name] if isinstance(lrs, dict) else lrs, dtype=float).reshape(-1)
        runs[name] = run_grid(problem, opt, grid, starts, steps, tol, record_every)
        grids[name] = grid
        scores[name] = runs[name]["hit"] if tol is not None else runs[name]["final"]
    metric = f"steps to |w - w*| < {tol:g}" if tol is not None else f"|w - w*| after {steps} steps"
    return Sweep(grids, scores, seeds, metric=metric), runs


# ----------------------------------------------------------------------------- Adam's step


def adam_step_bound(betas=(0.9, 0.999)) -> float:
    r"""$\frac{1-\beta_1}{\sqrt{(1-\beta_2)(1-\beta_1^2/\beta_2)}}$: the largest $|\Delta_t|/\eta$
    of Adam for large $t$ (Cauchy–Schwarz on the exponential weights; needs
    $\beta_1^2 < \beta_2$). 7.27 with the default betas."""
    b1, b2 = (float(b) for b in betas)
    if not (0 <= b1 < 1 and 0 < b2 < 1 and b1 * b1 < b2):
        raise ValueError(
            f"adam_step_bound: expected 0 <= b1 < 1, 0 < b2 < 1, b1^2 < b2; got {betas}"
        )
    return (1 - b1) / math.sqrt((1 - b2) * (1 - b1 * b1 / b2))


def adam_largest_step(grads, betas=(0.9, 0.999), quiet: int = 20_000) -> float:
    r"""The largest $|w_t - w_{t-1}|$ of :class:`~coursekit.optim.Adam` with ``lr=1`` fed
    the scalar gradients ``grads`` after ``quiet`` zero gradients.

    Zero gradients leave $m = v = 0$ and the weight unchanged and only advance the step
    count $t$, so the state after them is written directly (``step = quiet``) instead of
    being stepped through: with ``quiet = 20000`` both bias corrections are 1 to nine
    digits.
    """
    from .optim import Adam

    w = np.zeros(1)
    opt = Adam([w], lr=1.0, betas=tuple(betas))
    opt.state[0].update(step=int(quiet), exp_avg=np.zeros(1), exp_avg_sq=np.zeros(1))
    largest = 0.0
    for g in np.asarray(grads, dtype=float).reshape(-1):
        old = w[0]
        opt.step([np.array([g])])
        largest = max(largest, abs(w[0] - old))
    return largest


def adam_constant_gradient_steps(steps: int, betas=(0.9, 0.999), bias_correction: bool = True):
    r"""$|\Delta_t|/\eta$ for $t = 1 \dots$ ``steps`` of Adam fed the constant gradient 1.

    With bias correction every step is 1 (up to eps); without it the steps are
    $(1-\beta_1^t)/\sqrt{1-\beta_2^t}$."""
    from .optim import Adam

    w = np.zeros(1)
    opt = Adam([w], lr=1e-3, betas=tuple(betas), bias_correction=bias_correction)
    path = [0.0]
    for _ in range(int(steps)):
        opt.step([np.ones(1)])
        path.append(-w[0])
    return np.diff(path) / opt.lr


def adam_noise_theory(betas=(0.9, 0.999)) -> float:
    r"""$\sqrt{2/\pi}\,\sqrt{(1-\beta_1)/(1+\beta_1)}$: the stationary $\mathbb E|\Delta|/\eta$ of
    Adam at the optimum of $\frac1n\sum_i \tfrac12 (w - a_i)^2$, when $\hat v$ has settled at
    $\mathbb E g^2$ (0.183 for $\beta_1 = 0.9$)."""
    b1 = float(betas[0])
    return math.sqrt(2 / math.pi) * math.sqrt((1 - b1) / (1 + b1))


def adam_noise_steps(
    a,
    lr: float,
    steps: int,
    chains: int = 200,
    betas=(0.9, 0.999),
    w0: float = 2.0,
    last: int = 1000,
    rng=None,
):
    r"""Adam on $f(w) = \frac1n \sum_i \tfrac12 (w - a_i)^2$ with one sample per step.

    ``chains`` independent runs at once (one scalar weight each, its own samples), from
    ``w0``. Returns ``{"sizes": (steps, R), "scale": (last, R)}``: $|\Delta_t|/\eta$ at
    every step, and for the last ``last`` steps $\sigma/\sqrt{\hat v_t}$ ($\sigma$ the
    standard deviation of the $a_i$): the factor by which Adam's denominator differs from
    its stationary value $\sigma$. The stationary theory (:func:`adam_noise_theory`)
    times this factor is the expected step given the denominator.
    """
    from .optim import Adam

    a = np.asarray(a, dtype=float).reshape(-1)
    rng = make_rng(rng)
    R = int(chains)
    W = np.full(R, float(w0))
    opt = Adam([W], lr=lr, betas=tuple(betas))
    b2 = opt.betas[1]
    sizes = np.empty((int(steps), R))
    scale = []
    sigma = a.std()
    for k in range(int(steps)):
        old = W.copy()
        opt.step([W - a[rng.integers(0, a.size, size=R)]])
        sizes[k] = np.abs(W - old) / lr
        if k >= int(steps) - int(last):
            state = opt.state[0]
            v_hat = state["exp_avg_sq"] / (1 - b2 ** state["step"])
            scale.append(sigma / np.sqrt(v_hat))
    return {"sizes": sizes, "scale": np.array(scale)}


# ----------------------------------------------------------------------------- mini-batch signs


def cycle_gradients(
    cycles: int, runs: int = 1, small: float = 0.1, big: float = -0.9, length: int = 10, rng=None
) -> np.ndarray:
    r"""Mini-batch gradients of one weight: in each cycle of ``length`` batches, ``length - 1``
    give ``small`` and one gives ``big`` (the lecture's $+0.1$ nine times, $-0.9$ once,
    mean zero), at a random place in the cycle (the batches are shuffled every epoch),
    independently for each of ``runs`` runs. ``rng=None`` with ``runs=1`` puts ``big``
    last in every cycle. Returns ``(cycles * length, runs)``."""
    g = np.full((int(cycles), int(length), int(runs)), float(small))
    if rng is None and runs == 1:
        g[:, -1, :] = big
    else:
        where = make_rng(rng).integers(0, length, size=(int(cycles), int(runs)))
        np.put_along_axis(g, where[:, None, :], float(big), axis=1)
    return g.reshape(-1, int(runs))


def drift(optimizer, grads) -> np.ndarray:
    r"""The weights ``(T + 1, runs)`` of ``optimizer([w])`` (a factory, e.g.
    ``lambda p: Rprop(p, lr=0.01)``) fed ``grads`` ``(T, runs)``, from $w = 0$."""
    grads = np.asarray(grads, dtype=float)
    w = np.zeros(grads.shape[1])
    opt = optimizer([w])
    trace = [w.copy()]
    for g in grads:
        opt.step([g])
        trace.append(w.copy())
    return np.array(trace)


# ----------------------------------------------------------------------------- sparse features


def sparse_regression(frequencies, steps: int, optimizer, lr, chains: int = 8, noise=0.5, rng=None):
    r"""A linear model on binary features of very different frequencies, trained one sample
    per step.

    Feature $j$ is 1 in a fraction ``frequencies[j]`` of the samples and 0 otherwise;
    $y = x^\top w^{true} + $ noise, $w^{true} \sim \mathcal N(0, I)$, squared loss, so the
    gradient of feature $j$ is zero whenever the feature is absent. ``chains`` runs at
    once from $w = 0$, each on its own stream of fresh samples; ``optimizer(params, lr)``
    with ``lr`` a number or one per chain. Returns ``{"W": (R, d), "w_true": (d,),
    "counts": (R, d), "optimizer": opt}``, ``counts`` the number of samples in which each
    feature appeared in each run (the optimiser's state, e.g. AdaGrad's ``sum``, is on
    ``opt.state[0]``; with one lr per chain it is the state of the lr = 1 run whose step
    each chain scales).
    """
    p = np.asarray(frequencies, dtype=float).reshape(-1)
    if not np.all((p > 0) & (p <= 1)):
        raise ValueError(f"sparse_regression: expected frequencies in (0, 1], got {p}")
    rng = make_rng(rng)
    d, R = p.size, int(chains)
    w_true = rng.normal(size=d)
    W = np.zeros((R, d))
    step = _stepper(optimizer, lr, [W], R)
    opt = step.optimizer
    counts = np.zeros((R, d))
    for _ in range(int(steps)):
        x = (rng.random((R, d)) < p).astype(float)
        y = x @ w_true + noise * rng.normal(size=R)
        r = np.einsum("rd,rd->r", x, W) - y
        counts += x
        step([x * r[:, None]])
    return {"W": W, "w_true": w_true, "counts": counts, "optimizer": opt}


def effective_lr_slope(counts, effective_lr) -> float:
    r"""The slope of $\log(\text{effective lr})$ against $\log(\text{count})$, fitted over
    every (run, feature) with a nonzero count: $-1/2$ when the effective step falls like
    one over the square root of how often the feature was seen (AdaGrad), 0 for a
    learning rate shared by every feature (SGD)."""
    n = np.asarray(counts, dtype=float).reshape(-1)
    e = np.broadcast_to(np.asarray(effective_lr, dtype=float), np.shape(counts)).reshape(-1)
    ok = (n > 0) & np.isfinite(e) & (e > 0)
    if ok.sum() < 2:
        raise ValueError("effective_lr_slope: expected at least two features that were seen")
    return float(np.polyfit(np.log(n[ok]), np.log(e[ok]), 1)[0])


# ----------------------------------------------------------------------------- loss scale


def scale_invariance(problem, optimizer, w0, steps: int, scale: float = 1000.0) -> float:
    r"""How far the run on $c f$ (gradients times ``scale``) strays from the run on $f$:
    $\max_k \|w_k^{(c f)} - w_k^{(f)}\| / \max_k \|w_k^{(f)} - w_0\|$, relative to how far
    the run on $f$ travels. ``inf`` when the run on $c f$ diverges. Adam, RMSProp and
    AdaGrad divide the gradient by the root of its own square, so only ``eps`` keeps
    this from being zero; for SGD the run on $c f$ is SGD with ``scale`` times the
    learning rate.
    """
    w0 = np.asarray(w0, dtype=float)
    paths = []
    for c in (1.0, float(scale)):
        w = w0.copy()
        opt = optimizer([w])
        path = [w.copy()]
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(int(steps)):
                g = c * problem.grad(w)
                if not np.all(np.isfinite(g)) or np.linalg.norm(w) > 1e12:
                    return math.inf
                opt.step([g])
                path.append(w.copy())
        paths.append(np.array(path))
    travel = np.linalg.norm(paths[0] - w0, axis=1).max()
    return float(np.linalg.norm(paths[1] - paths[0], axis=1).max() / travel)


def steps_table(result, fmt: str = ".3g") -> str:
    """A :class:`coursekit.sweep.Sweep` scored in steps to a tolerance, as a table: best lr
    and the median [min, max] steps there over the starts, ``never`` for a run that did
    not get there within its budget (the sweep's own table calls those "diverged")."""
    lines = [
        f"{'method':12s} {'best lr':>8s}  {result.metric}: median [min, max] over {len(result.seeds)} starts"
    ]
    for m in result.methods:
        x = result.best(m)
        if not np.any(np.isfinite(x)):
            lines.append(f"{m:12s} {'-':>8s}  never, at any lr of the grid")
            continue
        show = lambda v: "never" if not np.isfinite(v) else format(float(v), fmt)  # noqa: E731
        body = f"{show(np.median(x))} [{show(x.min())}, {show(x.max())}]"
        never = int(np.sum(~np.isfinite(x)))
        note = f"  ({never} of {x.size} never get there)" if never else ""
        edge = "  (best lr at the edge of the grid)" if result.at_edge(m) else ""
        lines.append(f"{m:12s} {result.best_lr(m):8.3g}  {body}{note}{edge}")
    return "\n".join(lines)

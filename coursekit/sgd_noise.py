r"""The noise of stochastic gradients on least squares, measured and computed exactly.

Lecture 8's problem: $f(w) = \frac1m \sum_i f_i(w)$ with
$f_i(w) = \tfrac12 (x_i^\top w - y_i)^2$, inputs ``X`` ``(m, d)``, targets ``y`` ``(m,)``,
$H = X^\top X / m$, minimiser $w^*$ and residuals $r_i = x_i^\top w^* - y_i$ (so
$\sum_i r_i x_i = 0$). The excess loss is exactly quadratic,
$f(w) - f(w^*) = \tfrac12 e^\top H e$ with $e = w - w^*$.

**Mini-batch gradient variance.** The mean of ``b`` per-sample gradients $g_i$ drawn
uniformly has $\mathbb E\,\|g_B - \bar g\|^2 = \sigma^2 / b$ with replacement and
$\frac{\sigma^2}{b}\,\frac{m-b}{m-1}$ without (the finite-population correction: the
whole set, $b = m$, has no noise), $\sigma^2 = \frac1m \sum_i \|g_i - \bar g\|^2$.
:func:`minibatch_variance` measures it, :func:`minibatch_variance_theory` computes it.

**SGD's moments, exactly.** One step with a batch of ``b`` samples drawn *with
replacement* is $e' = (I - \eta A) e - \eta n$ with $A = \frac1b\sum_j x_j x_j^\top$,
$n = \frac1b \sum_j r_j x_j$. Taking expectations (the batch is independent of $e$),
the mean $\mu = \mathbb E e$ and second moment $C = \mathbb E\, e e^\top$ follow a
*linear* recursion:

$$\mu' = (I - \eta H)\mu, \qquad
C' = C - \eta (HC + CH) + \eta^2 \Big[\tfrac1b M(C) + (1 - \tfrac1b) HCH\Big]
   + \tfrac{2\eta^2}{b} T(\mu) + \tfrac{\eta^2}{b}\Sigma,$$

with $M(C) = \frac1m\sum_i (x_i^\top C x_i)\, x_i x_i^\top$,
$T(\mu) = \frac1m \sum_i r_i (x_i^\top \mu)\, x_i x_i^\top$ and
$\Sigma = \frac1m \sum_i r_i^2 x_i x_i^\top$ (the covariance of the per-sample gradients
at $w^*$). So $\mathbb E[f(w_k)] - f(w^*) = \tfrac12 \mathrm{tr}(H C_k)$ is computable
for any schedule $\eta_k$ (:func:`expected_excess`), with no linearisation and no
Gaussian assumption: it is what a Monte Carlo average over many runs
(:func:`sgd_chains`) converges to. The same holds for the exponential moving average
$w'_k = \gamma w'_{k-1} + (1-\gamma) w_k$ of the iterates, whose moments join the
recursion ($D = \mathbb E\, e e'^\top$, $C_{\rm ema} = \mathbb E\, e' e'^\top$).

For a constant $\eta$ the iterates settle at the **noise floor** (:func:`noise_floor`,
the fixed point of the recursion). To first order in $\eta$, $HC + CH = \eta\Sigma/b$, so
the floor is $\eta\,\mathrm{tr}\,\Sigma/(4b)$ (:func:`noise_floor_first_order`).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range
from .seeding import make_rng

__all__ = [
    "per_sample_gradients",
    "minibatch_variance",
    "minibatch_variance_theory",
    "LeastSquares",
    "expected_excess",
    "noise_floor",
    "noise_floor_first_order",
    "sgd_chains",
    "equal_cost_sweep",
    "ema_on_network",
    "sgd_epochs",
]


def per_sample_gradients(X, y, w) -> np.ndarray:
    r"""Rows $\nabla f_i(w) = x_i (x_i^\top w - y_i)$, shape ``(m, d)``."""
    X = as_batch(X, "per_sample_gradients X")
    return X * (X @ np.asarray(w, dtype=float) - np.asarray(y, dtype=float))[:, None]


def _check_b(b, m):
    if int(b) != b or not 1 <= b <= m:
        raise ValueError(f"expected a batch size b in [1, {m}] (the number of samples), got {b!r}")
    return int(b)


def minibatch_variance(G, b: int, epochs: int = 200, replace: bool = False, rng=None) -> float:
    r"""Measured $\mathbb E\,\|g_B - \bar g\|^2$: the mean squared distance between the mean
    of a batch of ``b`` rows of ``G`` ``(m, d)`` (per-sample gradients) and the mean of all
    rows, over the ``m // b`` full batches of each of ``epochs`` shuffled epochs (without
    replacement, as :func:`coursekit.minibatch.batches` draws them), or over as many
    batches drawn with replacement (``replace=True``).

    Each batch of a shuffled epoch is a uniform sample without replacement, so the
    average is unbiased; the batches of one epoch cover the data, which makes it less
    noisy than independent draws (for ``b = 1`` one epoch gives the exact value).
    """
    G = as_batch(G, "minibatch_variance G")
    m = len(G)
    b = _check_b(b, m)
    rng = make_rng(rng)
    per_epoch, mean = m // b, G.mean(axis=0)
    total, count = 0.0, 0
    chunk = max(1, 2_000_000 // (m * G.shape[1]))  # epochs per chunk: about 16 MB of rows
    for start in range(0, int(epochs), chunk):
        n = min(chunk, int(epochs) - start)
        if replace:
            idx = rng.integers(0, m, size=(n, per_epoch * b))
        else:
            idx = rng.permuted(np.tile(np.arange(m), (n, 1)), axis=1)[:, : per_epoch * b]
        sums = G[idx].reshape(n, per_epoch, b, -1).mean(axis=2) - mean
        total += float(np.sum(sums**2))
        count += n * per_epoch
    return total / count


def minibatch_variance_theory(G, b: int, replace: bool = False) -> float:
    r"""$\frac{\sigma^2}{b}\frac{m-b}{m-1}$ (without replacement) or $\sigma^2/b$ (with),
    $\sigma^2 = \frac1m\sum_i \|g_i - \bar g\|^2$ for the rows of ``G`` ``(m, d)``."""
    G = as_batch(G, "minibatch_variance_theory G")
    m = len(G)
    b = _check_b(b, m)
    sigma2 = float(np.mean(np.sum((G - G.mean(0)) ** 2, axis=1)))
    return sigma2 / b if replace else sigma2 / b * (m - b) / (m - 1)


class LeastSquares:
    r"""The averaged least-squares problem of lecture 8, with what the moment recursion needs.

    ``X`` ``(m, d)``, ``y`` ``(m,)``. Attributes: ``H`` ``(d, d)``, ``w_star`` ``(d,)``,
    ``residual`` $r$ ``(m,)``, ``Sigma`` ``(d, d)`` (per-sample gradient covariance at
    $w^*$). :meth:`excess` is $f(w) - f(w^*) = \tfrac12 e^\top H e$ for ``w`` ``(..., d)``.
    """

    def __init__(self, X, y):
        self.X = as_batch(X, "LeastSquares X")
        self.y = np.asarray(y, dtype=float).reshape(-1)
        m, d = self.X.shape
        if self.y.shape != (m,):
            raise ValueError(f"LeastSquares: expected y of shape ({m},), got {np.shape(y)}")
        self.m, self.d = m, d
        self.H = self.X.T @ self.X / m
        self.w_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.residual = self.X @ self.w_star - self.y
        self.Sigma = (self.X * self.residual[:, None] ** 2).T @ self.X / m
        Z = (self.X[:, :, None] * self.X[:, None, :]).reshape(m, d * d)  # rows vec(x x^T)
        self._M = Z.T @ Z / m  # vec M(C) = _M vec C
        self._T = (Z * self.residual[:, None]).T @ self.X / m  # vec T(mu) = _T mu

    def excess(self, w) -> np.ndarray:
        """$f(w) - f(w^*)$ for one ``(d,)`` or many ``(..., d)`` weight vectors."""
        e = np.asarray(w, dtype=float) - self.w_star
        return 0.5 * np.einsum("...i,ij,...j->...", e, self.H, e)

    def gradient(self, W, idx) -> np.ndarray:
        """Mini-batch gradients: ``W`` ``(R, d)``, ``idx`` ``(R, b)`` -> ``(R, d)``."""
        if idx.shape[1] == 1:
            Xb = self.X[idx[:, 0]]  # (R, d)
            return Xb * (np.einsum("rd,rd->r", Xb, W) - self.y[idx[:, 0]])[:, None]
        Xb = self.X[idx]  # (R, b, d)
        r = np.einsum("rbd,rd->rb", Xb, W) - self.y[idx]
        return np.einsum("rbd,rb->rd", Xb, r) / idx.shape[1]


def _moments_step(p: LeastSquares, mu, C, lr, b):
    d = p.d
    H = p.H
    HC = H @ C
    MC = (p._M @ C.reshape(-1)).reshape(d, d)
    T = (p._T @ mu).reshape(d, d)
    C_new = (
        C
        - lr * (HC + HC.T)
        + lr**2 * (MC / b + (1 - 1 / b) * HC @ H)
        + (2 * lr**2 / b) * T
        + (lr**2 / b) * p.Sigma
    )
    return mu - lr * (H @ mu), C_new


def expected_excess(problem: LeastSquares, lrs, w0, batch_size: int = 1, ema=None):
    r"""Exact $\mathbb E[f(w_k)] - f(w^*)$ of SGD, ``k = 0 .. len(lrs)``, from ``w0``.

    ``lrs``: the learning rate of each step (a schedule written out), batches of
    ``batch_size`` samples drawn uniformly *with replacement* (the randomised rule).
    Returns an array ``(len(lrs) + 1,)``; with ``ema=gamma`` a pair (iterate, EMA of the
    iterates started at ``w0``, as :class:`~coursekit.minibatch.ParameterEMA` does).
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    b = _check_b(batch_size, problem.m)
    e0 = np.asarray(w0, dtype=float) - problem.w_star
    mu, C = e0.copy(), np.outer(e0, e0)
    H = problem.H
    out = [0.5 * np.sum(H * C)]
    if ema is not None:
        gamma = in_range(float(ema), "expected_excess ema", low=0.0, high=1.0, high_open=True)
        D, Ce = C.copy(), C.copy()
        out_ema = [out[0]]
    for lr in lrs:
        mu_new, C_new = _moments_step(problem, mu, C, lr, b)
        if ema is not None:
            F = D - lr * (H @ D)  # E[e_{k+1} e'_k^T]
            Ce = gamma**2 * Ce + gamma * (1 - gamma) * (F + F.T) + (1 - gamma) ** 2 * C_new
            D = gamma * F + (1 - gamma) * C_new
            out_ema.append(0.5 * np.sum(H * Ce))
        mu, C = mu_new, C_new
        out.append(0.5 * np.sum(H * C))
    return np.array(out) if ema is None else (np.array(out), np.array(out_ema))


def noise_floor(problem: LeastSquares, lr: float, batch_size: int = 1) -> float:
    r"""The stationary $\mathbb E[f(w)] - f(w^*)$ of SGD with a constant ``lr``: the fixed
    point $C$ of the recursion above ($\mu = 0$), solved as a linear system in $d^2$
    unknowns. Raises ``ValueError`` when ``lr`` is too large for the second moment to
    settle (the recursion is unstable)."""
    in_range(float(lr), "noise_floor lr", low=0.0, low_open=True)
    b = _check_b(batch_size, problem.m)
    d, H = problem.d, problem.H
    eye = np.eye(d)
    # operator C -> eta (HC + CH) - eta^2 [M(C)/b + (1 - 1/b) HCH], row-major vec
    op = lr * (np.kron(H, eye) + np.kron(eye, H)) - lr**2 * (
        problem._M / b + (1 - 1 / b) * np.kron(H, H)
    )
    if np.max(np.abs(np.linalg.eigvals(np.eye(d * d) - op))) >= 1:
        raise ValueError(f"noise_floor: lr {lr:g} is too large, the second moment diverges")
    C = np.linalg.solve(op, (lr**2 / b) * problem.Sigma.reshape(-1)).reshape(d, d)
    return float(0.5 * np.sum(H * C))


def noise_floor_first_order(problem: LeastSquares, lr: float, batch_size: int = 1) -> float:
    r"""$\eta\,\mathrm{tr}\,\Sigma / (4b)$: the floor to first order in $\eta$."""
    return float(lr * np.trace(problem.Sigma) / (4 * batch_size))


def sgd_chains(
    problem: LeastSquares,
    lr,
    steps: int,
    chains: int = 200,
    batch_size: int = 1,
    w0=None,
    ema=None,
    record_from: int = 0,
    rng=None,
    check_finite: bool = True,
    record_every: int = 1,
):
    r"""``chains`` independent SGD runs at once (rows of ``W`` ``(R, d)``), each drawing its
    own batch of ``batch_size`` indices with replacement at every step.

    ``lr``: a number, one per chain ``(R,)``, or a callable ``k -> lr`` (a schedule,
    ``k = 0, 1, ...``; it may return one number or one per chain). ``w0``: the start
    (default zeros). Returns ``{"excess": (steps + 1 - record_from, R)}``, the excess loss
    of every chain after each step from ``record_from`` on (row 0 is step
    ``record_from``; with ``record_every=n`` only at the steps that are multiples of n),
    plus ``"ema_excess"`` with ``ema=gamma`` (the average starts at
    ``w0``) and the final ``"W"`` (and ``"W_ema"``). A chain that diverges raises
    ``FloatingPointError`` unless ``check_finite=False`` (then its excess is inf/NaN).
    """
    R = int(chains)
    b = _check_b(batch_size, problem.m)
    rng = make_rng(rng)
    W = np.zeros((R, problem.d)) if w0 is None else np.tile(np.asarray(w0, dtype=float), (R, 1))
    W_ema = W.copy() if ema is not None else None
    fixed = None if callable(lr) else np.asarray(lr, dtype=float)
    sched = lr if fixed is None else (lambda k: fixed)
    rec, rec_ema = [], []

    def record():
        rec.append(problem.excess(W))
        if W_ema is not None:
            rec_ema.append(problem.excess(W_ema))

    if record_from == 0:
        record()
    every = int(record_every)
    for k in range(int(steps)):
        eta = np.asarray(sched(k), dtype=float)
        eta = eta[:, None] if eta.ndim == 1 else eta
        W -= eta * problem.gradient(W, rng.integers(0, problem.m, size=(R, b)))
        if W_ema is not None:
            W_ema *= ema
            W_ema += (1 - ema) * W
        if k + 1 >= record_from and (k + 1) % every == 0:
            record()
    if check_finite and not np.all(np.isfinite(W)):
        raise FloatingPointError("sgd_chains: the iterates diverged; lower the learning rate")
    out = {"excess": np.array(rec), "W": W}
    if W_ema is not None:
        out.update(ema_excess=np.array(rec_ema), W_ema=W_ema)
    return out


def equal_cost_sweep(
    problem: LeastSquares, budgets, gd_lrs, sgd_lrs, seeds, batch_size: int = 1, rng=None
):
    r"""GD against SGD after the same number of epochs (passes over the data), each at
    its own best learning rate, for each budget in ``budgets`` (numbers of epochs).

    GD takes one full-gradient step per epoch from $w = 0$ (deterministic: the same
    score for every seed); SGD takes ``m / batch_size`` steps per epoch, batches drawn
    with replacement, one independent chain per (learning rate, seed), all run at once
    by :func:`sgd_chains` with the generator ``rng`` and read at every budget (so the
    budgets share their runs). ``seeds`` only counts the runs.

    Returns ``(sweeps, curves)``: ``sweeps[epochs]`` a :class:`coursekit.sweep.Sweep`
    with methods ``"GD"`` and ``"SGD b=..."`` scored by the excess loss after that many
    epochs; ``curves["GD"]`` ``(n_gd_lrs, E + 1)`` and ``curves["SGD b=..."]``
    ``(n_sgd_lrs, E + 1, n_seeds)`` the excess loss after each epoch up to the largest
    budget ``E``.
    """
    from .sweep import Sweep

    seeds = [int(s) for s in seeds]
    budgets = sorted({int(e) for e in np.atleast_1d(budgets)})
    if budgets[0] < 1:
        raise ValueError(f"equal_cost_sweep: expected budgets of at least 1 epoch, got {budgets}")
    E = budgets[-1]
    gd_lrs = np.asarray(gd_lrs, dtype=float).reshape(-1)
    sgd_lrs = np.asarray(sgd_lrs, dtype=float).reshape(-1)
    gd = np.empty((gd_lrs.size, E + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for i, lr in enumerate(gd_lrs):
            e = -problem.w_star
            gd[i, 0] = 0.5 * e @ problem.H @ e
            for k in range(E):
                e = e - lr * (problem.H @ e)
                gd[i, k + 1] = 0.5 * e @ problem.H @ e
        per_epoch = problem.m // int(batch_size)
        member_lr = np.repeat(sgd_lrs, len(seeds))
        out = sgd_chains(
            problem,
            member_lr,
            E * per_epoch,
            member_lr.size,
            batch_size,
            rng=rng,
            check_finite=False,
            record_every=per_epoch,
        )
    gd = np.where(np.isfinite(gd), gd, np.inf)
    sgd = np.where(np.isfinite(out["excess"]), out["excess"], np.inf)  # (E + 1, n_lrs * n_seeds)
    sgd = sgd.T.reshape(sgd_lrs.size, len(seeds), E + 1).transpose(0, 2, 1)
    name = f"SGD b={int(batch_size)}"
    sweeps = {
        e: Sweep(
            {"GD": gd_lrs, name: sgd_lrs},
            {"GD": np.repeat(gd[:, e, None], len(seeds), 1), name: sgd[:, e, :]},
            seeds,
            metric=f"excess loss after {e} epoch{'s' if e != 1 else ''}",
        )
        for e in budgets
    }
    return sweeps, {"GD": gd, name: sgd}


def ema_on_network(
    X, y, X_val, y_val, lrs, seeds, gamma: float = 0.98, epochs: int = 10, last: int = 5
):
    r"""Last iterate against its exponential moving average on an MLP trained by SGD.

    A 64-32-10 ReLU network (:class:`coursekit.stacked.StackedMLP`, inputs of ``X``'s
    width and one output per class) trained with plain SGD, batch 32, for ``epochs``
    epochs at each learning rate of ``lrs`` and each of ``seeds`` (initial weights and
    batch order), all in one batched run, keeping ``ParameterEMA(decay=gamma)``.
    Returns ``{lr: {"last", "ema", "wiggle_last", "wiggle_ema", "curve_last",
    "curve_ema"}}``: arrays over the seeds of the validation loss averaged over the last
    ``last`` epochs and of its mean absolute change from one epoch to the next over
    those epochs (how much the curve wiggles), for the last iterate and for the
    average, and the validation-loss curves ``(epochs + 1, seeds)`` of both.
    """
    from .optim import SGD
    from .stacked import StackedMLP, train_stacked

    lrs = [float(v) for v in np.atleast_1d(lrs)]
    seeds = [int(s) for s in seeds]
    n_classes = int(np.max(y)) + 1
    model = StackedMLP([X.shape[1], 32, n_classes], seeds * len(lrs))
    hist = train_stacked(
        model,
        X,
        y,
        SGD,
        np.repeat(lrs, len(seeds)),
        epochs,
        32,
        X_val=X_val,
        y_val=y_val,
        ema=gamma,
    )
    out = {}
    for i, lr in enumerate(lrs):
        cols = slice(i * len(seeds), (i + 1) * len(seeds))
        v, e = hist["val_loss"][-last:, cols], hist["ema_val_loss"][-last:, cols]
        vw = hist["val_loss"][-last - 1 :, cols]
        ew = hist["ema_val_loss"][-last - 1 :, cols]
        out[lr] = {
            "last": v.mean(0),
            "ema": e.mean(0),
            "wiggle_last": np.abs(np.diff(vw, axis=0)).mean(0),
            "wiggle_ema": np.abs(np.diff(ew, axis=0)).mean(0),
            "curve_last": hist["val_loss"][:, cols],
            "curve_ema": hist["ema_val_loss"][:, cols],
        }
    return out


def sgd_epochs(problem: LeastSquares, lr: float, batch_size: int, epochs: int, rule: str, rng=None):
    r"""Mini-batch SGD on ``problem`` from $w = 0$, epoch by epoch, batches from
    :func:`coursekit.minibatch.batches` with ``rule`` (``"shuffle"``, ``"cyclic"`` or
    ``"random"``). Returns ``(excess, ends)``: the excess loss after each epoch
    ``(epochs + 1,)`` and the end-of-epoch iterates ``(epochs + 1, d)`` (row 0: the start).
    With the cyclic rule and a constant ``lr`` the end-of-epoch iterate converges to a
    fixed point that is not $w^*$ (a limit cycle of the steps within an epoch)."""
    from .minibatch import batches

    rng = make_rng(rng)
    X, y = problem.X, problem.y
    w = np.zeros(problem.d)
    ends = [w.copy()]
    for _ in range(int(epochs)):
        for idx in batches(problem.m, batch_size, rule=rule, rng=rng):
            Xb = X[idx]
            w -= lr * Xb.T @ (Xb @ w - y[idx]) / len(idx)
        ends.append(w.copy())
    iterates = np.array(ends)
    return problem.excess(iterates), iterates

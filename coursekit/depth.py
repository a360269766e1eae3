r"""What depth does to training: many deep networks trained at once, and the sweeps and
measurements of lectures 10 and 11 built on them.

A learning-rate sweep of a deep network over seeds is hundreds of short runs. Run one by
one through :func:`coursekit.training.train_full_batch`, each step of each run pays the
Python overhead of every layer. :func:`train_stacked` instead stacks ``R`` networks of
the same architecture (different initial weights, different learning rates) along a
leading axis and trains them together: one batched matrix product per layer and step.
It computes exactly what ``train_full_batch`` computes for each network (full-batch GD,
BatchNorm in training mode, cross-entropy on class indices); ``tests/test_depth.py``
compares the two.

- :func:`train_stacked`: the loss curves ``(R, steps)`` of R networks trained together.
- :func:`tail_mean`: the score of a chaotic run: its loss averaged over the last steps,
  never the loss of one step.
- :func:`deep_sweep`: a :class:`DeepSweep` over learning rates and seeds for several
  network builders (with and without BN, Xavier or He), scored by :func:`tail_mean`.
- :class:`DeepSweep`: a :class:`coursekit.sweep.Sweep` whose best learning rate is the
  best median among the learning rates at which no seed's run diverged.
- :func:`stable_limit`: the largest learning rate of a sweep's grid below which no run
  diverged.
- :func:`learning_rate_claims`: "A allows larger learning rates than B", as three
  verdicts on a sweep (best learning rate, stable range, loss at every learning rate).
- :func:`majority_fraction`: the fraction of inputs a network assigns to its most
  frequent class (Bjorck et al.: an unnormalised deep network gives nearly all one class).
- :func:`readout_gd`: gradient descent on a linear read-out of a layer's signals, whose
  Hessian is their covariance: the rate $(\kappa-1)/(\kappa+1)$ of lecture 04.
- :func:`torch_loss_curve`: the same full-batch training in PyTorch, in float32 or
  float64, on the CPU or a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ._checks import as_batch
from .batchnorm import BatchNorm1d
from .checks import passed
from .layers import Identity, Linear, ReLU, Sequential, Tanh
from .seeding import make_rng
from .stacked import stacked_backward, stacked_forward
from .sweep import Sweep

__all__ = [
    "train_stacked",
    "tail_mean",
    "deep_sweep",
    "DeepSweep",
    "stable_limit",
    "learning_rate_claims",
    "majority_fraction",
    "readout_gd",
    "torch_loss_curve",
]

_ACTS: dict[type, str] = {ReLU: "relu", Identity: "identity", Tanh: "tanh"}


def _architecture(model: Sequential) -> list[tuple]:
    """``[("linear", in, out, bias), ("bn", C, eps), ("relu",), ...]`` of a supported model."""
    if not isinstance(model, Sequential):
        raise TypeError(
            f"train_stacked: expected coursekit Sequentials, got {type(model).__name__}"
        )
    arch: list[tuple] = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear):
            arch.append(("linear", layer.in_features, layer.out_features, "bias" in layer.params))
        elif isinstance(layer, BatchNorm1d):
            if not layer.affine:
                raise ValueError("train_stacked: expected BatchNorm1d with affine=True")
            arch.append(("bn", layer.num_features, layer.eps))
        elif type(layer) in _ACTS:
            arch.append((_ACTS[type(layer)],))
        else:
            raise TypeError(
                f"train_stacked: layer {i} is {type(layer).__name__}; expected Linear, "
                "BatchNorm1d, ReLU, Identity or Tanh"
            )
    if arch[-1][0] != "linear":
        raise ValueError("train_stacked: expected the last layer to be a Linear (raw class scores)")
    return arch


def _stack(models: Sequence[Sequential]) -> tuple[list[tuple], list[dict]]:
    arch = _architecture(models[0])
    for j, m in enumerate(models[1:], start=1):
        if _architecture(m) != arch:
            raise ValueError(
                f"train_stacked: model {j} has another architecture than model 0; "
                "expected networks that differ only in their weights"
            )
    params = []
    for i in range(len(arch)):
        keys = list(models[0].layers[i].params)
        params.append({k: np.stack([m.layers[i].params[k] for m in models]) for k in keys})
    return arch, params


def _cross_entropy(z, y):
    """Mean cross-entropy of each run's scores ``z`` ``(R, N, C)`` and its gradient."""
    n = z.shape[1]
    shifted = z - z.max(axis=2, keepdims=True)
    logsum = np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    logp = shifted - logsum
    rows = np.arange(n)
    loss = -logp[:, rows, y].mean(axis=1)
    grad = np.exp(logp)
    grad[:, rows, y] -= 1.0
    return loss, grad / n


def train_stacked(
    models: Sequence[Sequential],
    X,
    y,
    lrs,
    steps: int,
    momentum: float = 0.0,
) -> np.ndarray:
    r"""Train ``R = len(models)`` networks together by full-batch gradient descent on the
    cross-entropy loss; return their loss curves, shape ``(R, steps)``.

    ``models``: coursekit ``Sequential`` networks of one architecture (``Linear``,
    ``BatchNorm1d``, ``ReLU``/``Identity``/``Tanh``, a last ``Linear`` giving class
    scores), e.g. built by :func:`coursekit.models.mlp` (``batchnorm=True``) and initialised by
    :func:`coursekit.init.init_mlp`; they are copied, not changed. ``X`` ``(N, D)``,
    ``y`` class indices ``(N,)``. ``lrs``: one learning rate, or one per model.

    Step k records the loss $L(w_k)$ and then updates every parameter,
    $v \leftarrow \mu v + \nabla L$, $w \leftarrow w - \eta v$ (``torch.optim.SGD``'s
    momentum; $\mu = 0$ is plain GD), exactly what :func:`coursekit.training.train_full_batch`
    records and does (BatchNorm in training mode: batch statistics). A run whose loss or
    gradients stop being finite has diverged: its loss is ``inf`` from that step on (where
    ``train_full_batch`` raises :class:`~coursekit.errors.DivergenceError`).
    """
    models = list(models)
    if not models:
        raise ValueError("train_stacked: expected at least one model")
    if int(steps) < 1:
        raise ValueError(f"train_stacked: expected steps >= 1, got {steps}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"train_stacked: expected momentum in [0, 1), got {momentum}")
    arch, params = _stack(models)
    dtype = params[0]["weight"].dtype
    X = as_batch(X, "train_stacked X", features=arch[0][1]).astype(dtype, copy=False)
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(
            f"train_stacked: expected y as {X.shape[0]} integer class indices, got "
            f"shape {y.shape}, dtype {y.dtype}"
        )
    R = len(models)
    lr = np.broadcast_to(np.asarray(lrs, dtype=float), (R,)).astype(dtype)
    if not np.all(lr > 0):
        raise ValueError(f"train_stacked: expected positive learning rates, got {lrs}")
    losses = np.full((R, int(steps)), np.inf)
    runs = np.arange(R)  # the runs still alive; diverged ones are dropped from the stack
    velocity = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
    with np.errstate(all="ignore"):
        for k in range(int(steps)):
            store: list = []
            loss, g = _cross_entropy(stacked_forward(arch, params, X, store), y)
            grads = stacked_backward(arch, params, g, store)
            finite = np.isfinite(loss)
            for gr in grads:
                for v in gr.values():
                    finite &= np.isfinite(v.reshape(len(runs), -1)).all(axis=1)
            losses[runs[finite], k] = loss[finite]
            if not finite.all():
                runs, lr = runs[finite], lr[finite]
                params = [{key: v[finite] for key, v in p.items()} for p in params]
                grads = [{key: v[finite] for key, v in gr.items()} for gr in grads]
                velocity = [{key: v[finite] for key, v in vel.items()} for vel in velocity]
                if runs.size == 0:
                    break
            for p, gr, vel in zip(params, grads, velocity, strict=True):
                for key, value in p.items():
                    step = gr[key]
                    if momentum:
                        vel[key] = momentum * vel[key] + step
                        step = vel[key]
                    value -= lr.reshape((runs.size,) + (1,) * (value.ndim - 1)) * step
    return losses


def tail_mean(losses, tail: int = 10) -> np.ndarray:
    """The loss averaged over the last ``tail`` steps of each run (``inf`` for a run that
    diverged): a score of a chaotic run that one unlucky step cannot decide.

    ``losses``: ``(steps,)`` or ``(R, steps)``; returns a float or ``(R,)``.
    """
    losses = np.asarray(losses, dtype=float)
    if not 1 <= tail <= losses.shape[-1]:
        raise ValueError(f"tail_mean: expected 1 <= tail <= {losses.shape[-1]}, got {tail}")
    return losses[..., -tail:].mean(axis=-1)


class DeepSweep(Sweep):
    r"""A :class:`~coursekit.sweep.Sweep` whose best learning rate is *stable*: the one with
    the best median score among the learning rates at which every seed's run stayed finite.

    :class:`~coursekit.sweep.Sweep` picks the best median, which may sit at a learning rate
    where one run of three diverged (near the edge of stability a deep network's runs are
    chaotic: one blows up, two end low). :func:`coursekit.checks.beats` then fails the
    method for that run, so the verdict would read one unlucky run instead of the method.
    Here a learning rate at which any run diverged is never a method's best: the best is
    what one would pick to train reliably. Everything else (``best``, ``best_lr``,
    ``at_edge``, ``compare``, ``table``, ``plot``) follows from this choice.
    """

    def best_index(self, method: str) -> int:
        self._check(method)
        scores = self.scores[method]
        stable = np.all(np.isfinite(scores), axis=1)
        if not stable.any():
            return -1
        med = np.median(np.where(stable[:, None], scores, 0.0), axis=1)
        key = np.where(stable, med if self.lower_is_better else -med, np.inf)
        return int(np.argmin(key))


def deep_sweep(
    builders: Mapping[str, Callable[[int], Sequential]],
    X,
    y,
    lrs,
    seeds: Sequence[int],
    steps: int,
    tail: int = 10,
    momentum: float = 0.0,
) -> tuple[DeepSweep, dict[str, np.ndarray]]:
    r"""Each builder's network trained at every learning rate of ``lrs`` from every seed.

    ``builders[name](seed)`` returns an initialised network (e.g. ``lambda s:
    init_mlp(mlp(sizes, batchnorm=True), "kaiming_normal", rng=s)``); the same seed
    gives the same initial weights at every learning rate. Returns the
    :class:`DeepSweep` whose score is :func:`tail_mean` (the training loss averaged over
    the last ``tail`` steps; ``inf`` for a diverged run) and whose best learning rate is
    the best median among those at which no run diverged, and the loss curves
    ``{name: array (len(lrs), len(seeds), steps)}``.
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    seeds = [int(s) for s in seeds]
    if lrs.size == 0 or not np.all(lrs > 0):
        raise ValueError(f"deep_sweep: expected a grid of positive learning rates, got {lrs}")
    if not seeds:
        raise ValueError("deep_sweep: expected at least one seed")
    scores, curves = {}, {}
    for name, build in builders.items():
        nets = [build(s) for s in seeds]
        models = [net for _ in lrs for net in nets]
        rates = np.repeat(lrs, len(seeds))
        loss = train_stacked(models, X, y, rates, steps, momentum=momentum)
        curves[name] = loss.reshape(lrs.size, len(seeds), -1)
        scores[name] = tail_mean(curves[name], tail)
    grids = {name: lrs.copy() for name in builders}
    metric = f"training loss, mean of the last {tail} of {steps} steps"
    return DeepSweep(grids, scores, seeds, metric=metric), curves


def stable_limit(result: Sweep, method: str) -> float:
    """The largest learning rate of ``method``'s grid such that no run (no seed) diverged
    at it or at any smaller one; NaN when a run diverged already at the smallest. It is
    the last grid point before the first divergence: the true limit lies between it and
    the next grid point (or beyond the grid when nothing diverged)."""
    finite = np.all(np.isfinite(result.scores[method]), axis=1)
    if not finite[0]:
        return float("nan")
    first_bad = np.flatnonzero(~finite)
    last = (first_bad[0] - 1) if first_bad.size else finite.size - 1
    return float(result.lrs[method][last])


def learning_rate_claims(result: Sweep, a: str, b: str, factor: float = 3.0) -> dict[str, str]:
    """Three verdicts behind "method ``a`` allows larger learning rates than ``b``".

    On a :class:`~coursekit.sweep.Sweep` in which both methods share one grid:

    1. ``a``'s best learning rate (by the median over seeds) is at least ``factor`` times
       ``b``'s;
    2. ``a`` stays finite (no seed diverges) up to a learning rate at least ``factor``
       times as large as ``b``'s :func:`stable_limit`; when ``b`` never diverges on the
       grid this fails, since the grid cannot show it;
    3. ``a``'s median score is lower than ``b``'s at every learning rate of the grid (a
       diverged median counts as infinitely bad; both diverged fails).

    Returns ``{claim in words: "OK" or "FAIL (...)"}``, the same words at every seed.
    """
    if not np.array_equal(result.lrs[a], result.lrs[b]):
        raise ValueError("learning_rate_claims: expected both methods on the same grid")
    if not factor >= 1:
        raise ValueError(f"learning_rate_claims: expected factor >= 1, got {factor}")
    lr_a, lr_b = result.best_lr(a), result.best_lr(b)
    lim_a, lim_b = stable_limit(result, a), stable_limit(result, b)
    top = float(result.lrs[b][-1])
    med_a, med_b = result.median(a), result.median(b)
    every = np.isfinite(med_a) & ((med_a < med_b) | ~np.isfinite(med_b))
    worst = int(np.argmin(np.where(every, np.inf, 0))) if not every.all() else -1
    slack = 1 - 1e-9  # grid points computed by geomspace are not exact multiples
    return {
        f"{a}'s best learning rate is at least {factor:g} times {b}'s": passed(
            lr_a >= factor * lr_b * slack, f"(best lr {lr_a:.3g} against {lr_b:.3g})"
        ),
        f"{a} stays finite up to a learning rate at least {factor:g} times {b}'s limit": passed(
            lim_b < top and lim_a >= factor * lim_b * slack,
            f"(no divergence up to {lim_a:.3g} against {lim_b:.3g}; grid top {top:.3g})",
        ),
        f"{a}'s median loss is lower than {b}'s at every learning rate of the grid": passed(
            bool(every.all()),
            f"(not at lr {result.lrs[a][worst]:.3g}: {med_a[worst]:.3g} against {med_b[worst]:.3g})",
        ),
    }


def majority_fraction(model: Sequential, X) -> float:
    """Fraction of the inputs ``X`` ``(N, D)`` that ``model`` assigns to its most frequent
    class (argmax of the scores; BatchNorm in the model's current mode). 1/C or a little
    more for a network whose predictions depend on the input; 1 when every input gets the
    same class."""
    scores = model.forward(as_batch(X, "majority_fraction X"))
    counts = np.bincount(scores.argmax(axis=1), minlength=scores.shape[1])
    return float(counts.max() / scores.shape[0])


def readout_gd(H, steps: int, lr: float | None = None, tol: float | None = None, rng=None) -> dict:
    r"""Gradient descent on a linear read-out of the signals ``H`` ``(N, D)``.

    The read-out $w$ is trained on the mean squared error against a teacher read-out $w^*$
    (drawn from ``rng``): $f(w) = \frac{1}{2(N-1)}\|\bar H (w - w^*)\|^2$ with $\bar H$ the
    centred live units of ``H`` (dead units, constant over the batch, are left out: GD
    never moves along them). Its Hessian is their covariance $C$, so GD from $w_0 = 0$,
    $w \leftarrow w - \eta\,C(w - w^*)$, is lecture 04's GD on a quadratic: at
    $\eta^* = 2/(\lambda_{\min}+\lambda_{\max})$ (the default ``lr``) the error
    $\|w_k - w^*\|$ shrinks at the rate $(\kappa-1)/(\kappa+1)$ per step.

    ``tol``: stop once $\|w_k - w^*\| \le \text{tol}\,\|w_0 - w^*\|$ (the errors then end
    there), before rounding (about $10^{-15}$) stops the error from shrinking.
    A numerically singular covariance ($\lambda_{\min} \le 0$ after rounding) has
    $\kappa = \infty$ and rate 1: the default step is then the limit $2/\lambda_{\max}$.
    Returns ``{"errors": (steps + 1,) array, "lr": float, "kappa": float,
    "theory_rate": float}``.
    """
    H = as_batch(H, "readout_gd H")
    live = H[:, np.ptp(H, axis=0) > 0]
    if live.shape[1] < 1:
        raise ValueError("readout_gd: expected at least one unit that varies over the batch")
    centred = live - live.mean(axis=0)
    C = centred.T @ centred / (H.shape[0] - 1)
    lam = np.linalg.eigvalsh(C)
    if not lam[-1] > 0:
        raise ValueError(
            "readout_gd: expected signals that vary over the batch, got a zero covariance"
        )
    lam_min = max(float(lam[0]), 0.0)  # rounding can make a singular covariance's smallest < 0
    kappa = float(lam[-1] / lam_min) if lam_min > 0 else float("inf")
    lr = 2.0 / (lam_min + lam[-1]) if lr is None else float(lr)
    w_star = make_rng(rng).normal(size=live.shape[1])
    w = np.zeros_like(w_star)
    errors = np.empty(int(steps) + 1)
    errors[0] = np.linalg.norm(w - w_star)
    for k in range(1, int(steps) + 1):
        w -= lr * (C @ (w - w_star))
        errors[k] = np.linalg.norm(w - w_star)
        if tol is not None and errors[k] <= tol * errors[0]:
            errors = errors[: k + 1]
            break
    return {
        "errors": errors,
        "lr": lr,
        "kappa": kappa,
        "theory_rate": (kappa - 1) / (kappa + 1) if np.isfinite(kappa) else 1.0,
    }


def torch_loss_curve(model: Sequential, X, y, lr: float, steps: int, dtype="float64", device=None):
    r"""Train a torch copy of ``model`` by full-batch ``torch.optim.SGD`` on the
    cross-entropy; return the loss before each step, ``(steps,)`` (``inf`` from the first
    non-finite one on).

    ``dtype``: ``"float32"`` or ``"float64"``; ``device``: a ``torch.device`` (CPU when
    None). The copy (:func:`coursekit.torch_utils.to_torch`) starts from ``model``'s
    weights, so a float64 run computes what :func:`train_stacked` computes, up to the
    order of floating-point operations. ``model`` itself is not changed.
    """
    import torch

    from .torch_utils import to_torch

    if dtype not in ("float32", "float64"):
        raise ValueError(f"torch_loss_curve: expected dtype 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    device = torch.device("cpu") if device is None else device
    net = to_torch(model, dtype=tdtype).to(device).train()
    Xt = torch.as_tensor(as_batch(X, "torch_loss_curve X"), dtype=tdtype, device=device)
    yt = torch.as_tensor(np.asarray(y), device=device).long()
    opt = torch.optim.SGD(net.parameters(), lr=float(lr))
    losses = np.full(int(steps), np.inf)
    for k in range(int(steps)):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        value = float(loss.item())
        if not np.isfinite(value):
            break
        losses[k] = value
        loss.backward()
        opt.step()
    return losses

r"""Many independent training runs at once: ``K`` MLPs stacked along a leading axis.

A claim about training ("Adam beats SGD", "the averaged weights have the lower loss")
has to hold over several seeds and at each method's own best learning rate, which
means dozens of short runs. Run one after the other through
:func:`coursekit.minibatch.train_minibatch`, Python's per-step overhead dominates a
small network. :class:`StackedMLP` holds ``K`` networks whose parameters are stacked
along a first axis of length ``K`` (``weight`` ``(K, out, in)``, ``bias`` ``(K, out)``):
one batched matrix product per layer trains all of them, each on its own mini-batches.

Every coursekit optimiser updates each entry of a parameter array from that entry's
own gradient history (SGD, momentum, AdaGrad, RMSProp, Adam are all elementwise), and
so does :class:`~coursekit.minibatch.ParameterEMA`: one optimiser on the stacked arrays
is exactly ``K`` independent optimisers. Member ``k`` of
``StackedMLP(sizes, seeds)`` trained by :func:`train_stacked` is, up to rounding,
``mlp(sizes, rng=seeds[k])`` trained by ``train_minibatch(..., rng=seeds[k])`` with the
same optimiser: same initial weights, same batches (the tests check this).

Differences from :func:`~coursekit.minibatch.train_minibatch`: the loss is always
softmax cross-entropy on integer labels (``torch.nn.CrossEntropyLoss``), the history
holds an array of ``K`` values per key, and a member whose loss or gradient becomes
NaN/inf is frozen and reported as diverged (loss ``inf``, accuracy ``nan``) while the
others go on, instead of raising.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch
from .layers import log_softmax, softmax
from .minibatch import ParameterEMA, _check_batching, batches, num_batches
from .models import mlp
from .seeding import make_rng

__all__ = ["StackedMLP", "train_stacked", "sweep_stacked", "stacked_forward", "stacked_backward"]

_ACTIVATIONS = ("relu", "tanh")


# ----------------------------------------------------------------------------- kernels


def stacked_forward(arch, params, X, store):
    r"""Forward pass of ``R`` networks of one architecture, stacked on a first axis.

    ``arch``: one tuple per layer, ``("linear", in, out, has_bias)``, ``("bn", C, eps)``
    (BatchNorm1d in training mode, affine), ``("relu",)``, ``("tanh",)`` or
    ``("identity",)``; ``params``: one dict per layer of stacked arrays (``weight``
    ``(R, out, in)``, ``bias`` ``(R, out)``; ``{}`` for an activation). ``X``: ``(N, D)``
    shared by every network or ``(R, N, D)``. Returns ``(R, N, out)``; ``store`` (a list,
    filled in place) collects what :func:`stacked_backward` needs, one entry per layer.
    """
    h = X
    for (kind, *rest), p in zip(arch, params, strict=True):
        if kind == "linear":
            store.append(h)
            h = np.matmul(h, np.swapaxes(p["weight"], 1, 2))
            if rest[2]:
                h += p["bias"][:, None, :]
        elif kind == "bn":
            centred = h - h.mean(axis=1, keepdims=True)
            inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=1, keepdims=True) + rest[1])
            xhat = centred * inv_std
            store.append((xhat, inv_std))
            h = p["weight"][:, None, :] * xhat + p["bias"][:, None, :]
        elif kind == "relu":
            store.append(h > 0)
            h = np.maximum(h, 0, out=h)  # h is this block's own array: nothing else holds it
        elif kind == "tanh":
            h = np.tanh(h)
            store.append(h)
        else:  # identity
            store.append(None)
    return h


def stacked_backward(arch, params, g, store):
    """Backward pass matching :func:`stacked_forward`: ``g`` is dLoss/dOutput ``(R, N, out)``;
    returns one dict of gradients per layer (``{}`` for an activation), shaped as ``params``.
    The gradient with respect to the input is not formed."""
    grads: list[dict] = [dict() for _ in arch]
    for i in range(len(arch) - 1, -1, -1):
        kind, *rest = arch[i]
        saved = store[i]
        if kind == "linear":
            h = saved
            grads[i]["weight"] = np.matmul(np.swapaxes(g, 1, 2), h if h.ndim == 3 else h[None])
            if rest[2]:
                grads[i]["bias"] = g.sum(axis=1)
            g = np.matmul(g, params[i]["weight"]) if i > 0 else None
        elif kind == "bn":
            xhat, inv_std = saved
            g_xhat = g * xhat
            grads[i]["weight"] = g_xhat.sum(axis=1)
            grads[i]["bias"] = g.sum(axis=1)
            n = g.shape[1]
            gamma = params[i]["weight"][:, None, :]
            g = (gamma * inv_std) * (
                g - grads[i]["bias"][:, None, :] / n - xhat * (grads[i]["weight"][:, None, :] / n)
            )
        elif kind == "relu":
            g = g * saved
        elif kind == "tanh":
            g = g * (1.0 - saved * saved)
    return grads


# ----------------------------------------------------------------------------- K MLPs


class StackedMLP:
    r"""``K`` independent multilayer perceptrons, parameters stacked on a first axis.

    ``StackedMLP([64, 32, 10], seeds=[3, 4, 5])``: member ``k`` starts from the weights
    of ``mlp([64, 32, 10], rng=seeds[k])`` (PyTorch's uniform initialisation).
    ``activation`` between layers: ``"relu"`` or ``"tanh"``; the last layer gives raw
    scores. ``parameters()`` lists ``weight`` ``(K, out, in)`` and ``bias`` ``(K, out)``
    per layer, in :func:`~coursekit.models.mlp`'s order; ``gradients()`` the same
    shapes after :meth:`loss_and_backward`.
    """

    def __init__(self, sizes, seeds, activation: str = "relu"):
        seeds = [int(s) for s in np.atleast_1d(seeds)]
        if not seeds:
            raise ValueError("StackedMLP: expected at least one seed (one per network)")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"StackedMLP: expected activation in {_ACTIVATIONS}, got {activation!r}"
            )
        nets = [mlp(sizes, activation=activation, rng=s) for s in seeds]
        self.sizes = [int(s) for s in sizes]
        self.seeds = seeds
        self.activation = activation
        self._params = [np.stack(ps) for ps in zip(*(n.parameters() for n in nets), strict=True)]
        self._grads = [np.zeros_like(p) for p in self._params]

    @property
    def K(self) -> int:
        """The number of networks."""
        return len(self.seeds)

    def parameters(self) -> list[np.ndarray]:
        return self._params

    def gradients(self) -> list[np.ndarray]:
        return self._grads

    def forward(self, X) -> np.ndarray:
        """Scores ``(K, N, C)`` for inputs ``X``: ``(N, D)`` shared by every member, or
        ``(K, N, D)`` (one batch per member)."""
        h, _ = self._forward(X)
        return h

    def _layers(self) -> tuple[list[tuple], list[dict]]:
        """The architecture and per-layer parameter dicts of :func:`stacked_forward`
        (views of :meth:`parameters`, so optimiser steps are seen)."""
        arch: list[tuple] = []
        params: list[dict] = []
        n_layers = len(self._params) // 2
        for i in range(n_layers):
            W, b = self._params[2 * i], self._params[2 * i + 1]
            arch.append(("linear", W.shape[2], W.shape[1], True))
            params.append({"weight": W, "bias": b})
            if i < n_layers - 1:
                arch.append((self.activation,))
                params.append({})
        return arch, params

    def _forward(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim not in (2, 3) or X.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"StackedMLP: expected inputs of shape (N, {self.sizes[0]}) or "
                f"({self.K}, N, {self.sizes[0]}), got {X.shape}"
            )
        arch, params = self._layers()
        store: list = []
        return stacked_forward(arch, params, X, store), (arch, params, store)

    def loss(self, X, y) -> np.ndarray:
        """Mean cross-entropy per member, ``(K,)``; ``y`` ``(N,)`` or ``(K, N)`` class indices."""
        scores = self.forward(X)
        return _cross_entropy(scores, _labels(y, scores))

    def accuracy(self, X, y) -> np.ndarray:
        """Fraction of correct argmax predictions per member, ``(K,)``."""
        scores = self.forward(X)
        return np.mean(scores.argmax(-1) == _labels(y, scores), axis=-1)

    def loss_and_backward(self, X, y) -> np.ndarray:
        """Mean cross-entropy per member ``(K,)`` on ``X`` ``(K, B, D)``, ``y`` ``(K, B)``;
        fills :meth:`gradients` with d(mean loss of member k)/d(parameters of member k)."""
        scores, (arch, params, store) = self._forward(X)
        labels = _labels(y, scores)
        B = scores.shape[1]
        G = softmax(scores)
        G[np.arange(self.K)[:, None], np.arange(B), labels] -= 1.0
        G /= B
        linear = [g for g in stacked_backward(arch, params, G, store) if g]
        for i, g in enumerate(linear):
            self._grads[2 * i], self._grads[2 * i + 1] = g["weight"], g["bias"]
        return _cross_entropy(scores, labels)


def _labels(y, scores) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"StackedMLP: expected integer class labels, got dtype {y.dtype}")
    return np.broadcast_to(y, scores.shape[:-1])


def _cross_entropy(scores, labels) -> np.ndarray:
    K, N = labels.shape
    with np.errstate(over="ignore", invalid="ignore"):
        logp = log_softmax(scores)
        return -np.mean(logp[np.arange(K)[:, None], np.arange(N), labels], axis=-1)


_SCALABLE = ("GD", "SGD", "Momentum", "Adagrad", "RMSprop", "Adam")


def train_stacked(
    model: StackedMLP,
    X,
    y,
    optimizer,
    lr,
    epochs: int = 10,
    batch_size: int = 32,
    rule: str = "shuffle",
    X_val=None,
    y_val=None,
    ema: float | None = None,
    rngs=None,
    log: str = "epoch",
) -> dict[str, np.ndarray]:
    r"""Mini-batch training of every member of ``model``, each on its own batches.

    ``optimizer(params, lr)`` builds a coursekit optimiser: the class itself
    (``optimizer=Adam``) or a factory (``lambda p, lr: SGD(p, lr=lr, momentum=0.9)``).
    ``lr``: one learning rate for every member, or one per member (shape ``(K,)``), for a
    learning-rate sweep in one batched run. Per-member rates use that the step of
    :class:`~coursekit.optim.GD`, :class:`~coursekit.optim.SGD`, ``Momentum``,
    ``Adagrad``, ``RMSprop`` and ``Adam`` without weight decay is ``lr`` times a function
    of the past gradients alone, $w_t = w_{t-1} - \eta\, u_t(g_1, \dots, g_t)$: the
    optimiser is built with ``lr=1`` on a scratch array, whose step is $-u_t$, and member
    ``k`` moves by ``lr[k]`` times it (other optimisers, or weight decay, raise).

    ``rngs``: one seed or generator per member for its batch order (default: the
    members' initialisation seeds), as ``train_minibatch(rng=...)`` takes it. Returns
    ``{key: array (epochs + 1, K)}`` with ``train_loss``, ``train_acc`` (and
    ``val_loss``, ``val_acc`` with validation data; ``ema_*`` of both with
    ``ema=gamma``) on the whole sets after each epoch, row 0 before training, like
    :func:`~coursekit.minibatch.train_minibatch`'s history. ``log="end"`` evaluates only
    before and after training (rows 0 and 1): evaluating every member on the whole sets
    costs about as much as an epoch of training. A member whose batch loss or gradient
    becomes non-finite is frozen from then on: its losses read ``inf`` and its
    accuracies ``nan``.
    """
    if log not in ("epoch", "end"):
        raise ValueError(f"train_stacked: expected log='epoch' or 'end', got {log!r}")
    X = as_batch(X, "train_stacked X", features=model.sizes[0])
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"train_stacked: X has {len(X)} samples but y has {len(y)}")
    if int(epochs) < 1:
        raise ValueError(f"train_stacked: expected epochs >= 1, got {epochs}")
    _check_batching(len(X), batch_size, rule)
    K = model.K
    seeds = model.seeds if rngs is None else list(rngs)
    if len(seeds) != K:
        raise ValueError(f"train_stacked: expected {K} rngs (one per member), got {len(seeds)}")
    gens = [make_rng(s) for s in seeds]
    data = {"train": (X, y)}
    if X_val is not None:
        data["val"] = (as_batch(X_val, "train_stacked X_val", features=X.shape[1]), y_val)
    params = model.parameters()
    step = _stepper(optimizer, lr, params, K)
    averager = None if ema is None else ParameterEMA(params, ema)
    alive = np.ones(K, dtype=bool)
    hist: dict[str, list] = {}

    def record():
        sets = [("", None)] if averager is None else [("", None), ("ema_", averager)]
        for prefix, avg in sets:
            for name, (Xs, ys) in data.items():
                if avg is None:
                    loss, acc = model.loss(Xs, ys), model.accuracy(Xs, ys)
                else:
                    with avg.swap():
                        loss, acc = model.loss(Xs, ys), model.accuracy(Xs, ys)
                hist.setdefault(f"{prefix}{name}_loss", []).append(np.where(alive, loss, np.inf))
                hist.setdefault(f"{prefix}{name}_acc", []).append(np.where(alive, acc, np.nan))

    record()
    per_epoch = num_batches(len(X), batch_size)
    for epoch in range(int(epochs)):
        orders = [list(batches(len(X), batch_size, rule, rng=g)) for g in gens]
        for j in range(per_epoch):
            idx = np.stack([o[j] for o in orders])  # (K, B)
            with np.errstate(over="ignore", invalid="ignore"):
                value = model.loss_and_backward(X[idx], y[idx])
                grads = model.gradients()
                finite = np.isfinite(value)
                for g in grads:
                    finite &= np.all(np.isfinite(g.reshape(K, -1)), axis=1)
            alive &= finite
            if not alive.all():
                for p, g in zip(params, grads, strict=True):
                    g[~alive] = 0.0
                    p[~alive] = 0.0
            step(grads)
            if averager is not None:
                averager.update()
        if log == "epoch" or epoch == int(epochs) - 1:
            record()
    return {k: np.array(v) for k, v in hist.items()}


def _stepper(optimizer, lr, params, K):
    """``step(grads)``: one optimiser on the stacked arrays, or, with one ``lr`` per
    member, one optimiser at ``lr=1`` on scratch arrays whose step is scaled per member.
    The optimiser is ``step.optimizer``."""
    lr_arr = np.asarray(lr, dtype=float)
    if lr_arr.ndim == 0:
        opt = optimizer(params, float(lr_arr))

        def plain(grads):
            opt.step(grads)

        plain.optimizer = opt
        return plain
    if lr_arr.shape != (K,) or not np.all(lr_arr > 0):
        raise ValueError(
            f"train_stacked: expected lr > 0, a number or one per member (shape ({K},)), "
            f"got shape {lr_arr.shape}"
        )
    scratch = [np.zeros_like(p) for p in params]
    opt = optimizer(scratch, 1.0)
    name = type(opt).__name__
    if name not in _SCALABLE or getattr(opt, "weight_decay", 0.0):
        raise ValueError(
            f"train_stacked: one lr per member needs an optimiser whose step is lr times a "
            f"function of the gradients ({', '.join(_SCALABLE)}, no weight decay); got {opt!r}"
        )
    scales = [lr_arr.reshape((K,) + (1,) * (p.ndim - 1)) for p in params]

    def step(grads):
        for s in scratch:
            s[...] = 0.0
        opt.step(grads)
        for p, s, c in zip(params, scratch, scales, strict=True):
            p += c * s

    step.optimizer = opt
    return step


def sweep_stacked(
    sizes,
    methods: dict,
    lrs,
    seeds,
    X,
    y,
    epochs: int = 10,
    batch_size: int = 32,
    metric: str = "train_loss",
    X_val=None,
    y_val=None,
    rule="shuffle",
):
    r"""A learning-rate sweep of several optimisers on an MLP, each grid in one batched run.

    ``methods``: ``{name: optimizer}`` as :func:`train_stacked` takes it (``Adam``, or
    ``lambda p, lr: SGD(p, lr=lr, momentum=0.9)``); ``lrs``: one grid, or a grid per
    method; ``seeds``: the initialisation and batch-order seeds, the same for every
    learning rate and method (so all methods start from the same weights and see the
    same batches). ``rule``: the batch order (:func:`~coursekit.minibatch.batches`), one
    for all or one per method (``{"shuffled": "shuffle", "cyclic": "cyclic"}`` with the
    same optimiser under both names). The score of a run is ``metric`` (a key of :func:`train_stacked`'s
    history, lower is better: ``"train_loss"``, ``"val_loss"``) after the last epoch;
    a diverged run scores ``inf``. Returns a :class:`coursekit.sweep.Sweep`.
    """
    from .sweep import Sweep

    seeds = [int(s) for s in seeds]
    grids, scores = {}, {}
    for name, opt in methods.items():
        grid = np.asarray(lrs[name] if isinstance(lrs, dict) else lrs, dtype=float).reshape(-1)
        member_lrs = np.repeat(grid, len(seeds))
        model = StackedMLP(sizes, seeds * grid.size)
        hist = train_stacked(
            model,
            X,
            y,
            opt,
            member_lrs,
            epochs,
            batch_size,
            rule[name] if isinstance(rule, dict) else rule,
            X_val=X_val,
            y_val=y_val,
            log="end",
        )
        if metric not in hist:
            raise KeyError(f"sweep_stacked: no metric {metric!r}; the history has {sorted(hist)}")
        final = hist[metric][-1].reshape(grid.size, len(seeds))
        grids[name], scores[name] = grid, np.where(np.isfinite(final), final, np.inf)
    return Sweep(grids, scores, seeds, metric.replace("_", " "))

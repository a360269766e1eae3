r"""Mini-batch training for coursekit's numpy networks.

Stochastic gradient descent replaces the mean over all ``m`` samples by a mean over a
batch $I_k$ of ``b`` of them,

$$w_k = w_{k-1} - \eta_k \frac{1}{b} \sum_{i \in I_k} \nabla f_i(w_{k-1}),$$

which is an unbiased estimate of the full gradient when ``I_k`` is drawn at random.
:func:`batches` produces the index sets ``I_k`` for one epoch, :func:`run_epoch` takes
one optimiser step per batch, :func:`train_minibatch` repeats epochs and logs a
:class:`~coursekit.training.History`, and :class:`ParameterEMA` keeps the exponential
moving average of the parameters, $w'_k = \gamma w'_{k-1} + (1 - \gamma) w_k$.
The loop keeps the contract of :mod:`coursekit.training` (keyword arguments after the
data, the same input checks, metric, evaluation and divergence error).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ._checks import in_range
from .history import History, progress
from .optim.base import Optimizer
from .optim.schedules import Schedule
from .seeding import make_rng
from .training import (
    check_data,
    default_metric,
    evaluate_all,
    gradient_step,
    resolve_metric,
)

__all__ = ["RULES", "batches", "num_batches", "ParameterEMA", "run_epoch", "train_minibatch"]

RULES = ("shuffle", "cyclic", "random")


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches per epoch: ``ceil(n / b)``, or ``floor(n / b)`` with ``drop_last``."""
    return n // batch_size if drop_last else -(-n // batch_size)


def _check_batching(n, batch_size, rule):
    if int(n) != n or n < 1:
        raise ValueError(f"batches: expected a positive number of samples n, got {n!r}")
    if int(batch_size) != batch_size or not 1 <= batch_size <= n:
        raise ValueError(
            f"batches: expected batch_size in [1, {n}] (the number of samples), got {batch_size!r}"
        )
    if rule not in RULES:
        raise ValueError(f"batches: expected rule in {RULES}, got {rule!r}")


def batches(
    n: int,
    batch_size: int,
    rule: str = "shuffle",
    drop_last: bool = False,
    rng=None,
):
    """Yield the index arrays of one epoch over ``n`` samples, ``batch_size`` at a time.

    ``rule``:

    - ``"shuffle"``: a fresh random permutation, cut into batches: every index exactly
      once per epoch (``torch.utils.data.DataLoader(shuffle=True)``);
    - ``"cyclic"``: ``0, 1, ..., n-1`` in order, every epoch the same (``shuffle=False``),
      the lecture's cyclic rule;
    - ``"random"``: every index drawn uniformly *with replacement*, independently, the
      lecture's randomised rule (``RandomSampler(replacement=True)``).

    An epoch holds ``n`` indices: ``n // b`` full batches and one of ``n % b`` unless
    ``drop_last``. Pass the same ``numpy.random.Generator`` to successive calls to get a
    new order each epoch; a seed (an int) gives the same order every time, and ``None``
    the course seed (:mod:`coursekit.seeding`).
    """
    _check_batching(n, batch_size, rule)
    n, batch_size = int(n), int(batch_size)
    rng = make_rng(rng)
    if rule == "shuffle":
        order = rng.permutation(n)
    elif rule == "cyclic":
        order = np.arange(n)
    else:
        order = rng.integers(0, n, size=n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


class ParameterEMA:
    """Exponential moving average of parameters: ``w' <- decay * w' + (1 - decay) * w``.

    Starts as a copy of ``params`` (so, unlike Adam's moments, it needs no bias correction);
    call :meth:`update` after each optimiser step. ``averaged`` holds the averages in
    the order of ``params``. ``with ema.swap(): ...`` puts the averages into the live
    arrays for the block (to evaluate the averaged model) and restores them after;
    ``copy_to()`` writes them for good. Same rule as
    ``torch.optim.swa_utils.AveragedModel(..., multi_avg_fn=get_ema_multi_avg_fn(decay))``.
    """

    def __init__(self, params, decay: float = 0.99):
        self.params = [params] if isinstance(params, np.ndarray) else list(params)
        self.decay = in_range(
            float(decay), "ParameterEMA decay", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.averaged = [np.array(p, dtype=float, copy=True) for p in self.params]
        self.updates = 0

    def update(self) -> None:
        for a, p in zip(self.averaged, self.params, strict=True):
            a *= self.decay
            a += (1 - self.decay) * p
        self.updates += 1

    def copy_to(self, params=None) -> None:
        """Write the averages into ``params`` (default: the tracked arrays), in place."""
        for dst, a in zip(self.params if params is None else params, self.averaged, strict=True):
            dst[...] = a

    @contextmanager
    def swap(self):
        """Evaluate with averaged weights inside the block; the live weights come back after."""
        saved = [p.copy() for p in self.params]
        self.copy_to()
        try:
            yield self
        finally:
            for p, s in zip(self.params, saved, strict=True):
                p[...] = s


def _schedule_kind(schedule, name: str) -> str:
    """``"epoch"`` for a :class:`~coursekit.optim.schedules.Schedule` (stepped after every
    epoch with the monitored loss), ``"iteration"`` for a function ``iteration -> lr``
    (applied before every step), ``"none"``."""
    if schedule is None:
        return "none"
    if isinstance(schedule, Schedule):
        return "epoch"
    if callable(schedule):
        return "iteration"
    raise TypeError(
        f"{name}: expected schedule to be a coursekit Schedule or a function iteration -> lr, "
        f"got {type(schedule).__name__}"
    )


def run_epoch(
    model,
    loss,
    X,
    y,
    optimizer: Optimizer,
    batch_size: int,
    *,
    rule: str = "shuffle",
    drop_last: bool = False,
    rng=None,
    schedule=None,
    ema: ParameterEMA | None = None,
    epoch: int = 0,
    iteration: int = 0,
    on_batch=None,
) -> int:
    """One pass over the data: a forward, backward and optimiser step per batch.

    ``X`` ``(N, D)``, ``y`` ``(N,)`` or ``(N, C)`` (checked by the caller, e.g.
    :func:`train_minibatch`). ``rng``: the generator of :func:`batches` (``None``: the
    course seed). ``schedule``, when a
    function ``iteration -> lr``, sets ``optimizer.lr = schedule(iteration)`` before each
    step (a :class:`~coursekit.optim.schedules.Schedule` is stepped per epoch by
    :func:`train_minibatch`, not here); ``ema.update()`` runs after each step;
    ``on_batch(iteration, batch_loss)`` is called after each step. Returns the iteration
    count after the epoch. Raises :class:`~coursekit.errors.DivergenceError` naming the
    epoch and iteration when a batch loss or gradient is NaN/inf.
    """
    per_iteration = _schedule_kind(schedule, "run_epoch") == "iteration"
    rng = make_rng(rng)
    for idx in batches(len(X), batch_size, rule, drop_last, rng):
        if per_iteration:
            optimizer.lr = float(schedule(iteration))
        where = f"in epoch {epoch}, iteration {iteration} (lr={optimizer.lr:g})"
        _, value = gradient_step(model, loss, X[idx], y[idx], where, what="the batch loss")
        optimizer.step(model.gradients())
        if ema is not None:
            ema.update()
        if on_batch is not None:
            on_batch(iteration, value)
        iteration += 1
    return iteration


def train_minibatch(
    model,
    loss,
    X,
    y,
    optimizer: Optimizer,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    schedule=None,
    rule: str = "shuffle",
    drop_last: bool = False,
    X_val=None,
    y_val=None,
    ema: float | None = None,
    rng=None,
    metric="accuracy",
    log_batches: bool = False,
    show_progress: bool | None = None,
) -> History:
    """Mini-batch training of a coursekit model with any coursekit optimiser.

    One record per epoch, plus one before training: ``step`` = epochs completed
    (0, 1, ..., ``epochs``), ``iteration`` = optimiser steps so far, ``lr``, and
    ``train_loss``/``train_acc`` on the *whole* training set with the weights at the end
    of the epoch, in evaluation mode (``val_loss``/``val_acc`` when ``X_val`` is given).
    With ``ema=gamma`` a :class:`ParameterEMA` is kept and ``ema_train_loss``,
    ``ema_train_acc`` (and ``ema_val_*``) are logged too. ``log_batches=True`` adds one
    record per iteration with ``batch_loss`` and ``step`` = iteration / batches per epoch.
    ``metric="accuracy"`` picks the decision rule from the loss
    (:func:`coursekit.training.default_metric`), as every loop does.

    ``schedule``: a function ``iteration -> lr`` applied before every step, or a
    :class:`~coursekit.optim.schedules.Schedule`, stepped after every epoch as
    ``schedule.step(metric)`` with the validation loss (the training loss without
    validation data); schedules that do not monitor a metric ignore it.
    Batches follow :func:`batches` with one generator from ``rng`` (``None``: the course
    seed), so two runs with the same ``rng`` see the same batches
    (:func:`coursekit.torch_utils.train_torch` too). Raises
    :class:`~coursekit.errors.DivergenceError` naming the epoch and iteration on a
    NaN/inf loss or gradient.
    """
    X, y, X_val, y_val = check_data(X, y, X_val, y_val, name="train_minibatch")
    if int(epochs) < 1:
        raise ValueError(f"train_minibatch: expected epochs >= 1, got {epochs}")
    _check_batching(len(X), batch_size, rule)
    kind = _schedule_kind(schedule, "train_minibatch")
    metric = resolve_metric(metric, lambda: default_metric(loss, y), "train_minibatch")
    data = {"train": (X, y)}
    if X_val is not None:
        data["val"] = (X_val, y_val)
    averager = None if ema is None else ParameterEMA(model.parameters(), ema)
    rng, hist = make_rng(rng), History()
    per_epoch = num_batches(len(X), batch_size, drop_last)
    on_batch = None
    if log_batches:

        def on_batch(k, value):
            hist.log(step=(k + 1) / per_epoch, iteration=k + 1, batch_loss=value)

    def log(epoch: int, iteration: int) -> dict:
        where = f"after epoch {epoch}, iteration {iteration}"
        record = {"step": epoch, "iteration": iteration, "lr": optimizer.lr}
        for prefix, pair in data.items():
            record.update(evaluate_all(model, loss, {prefix: pair}, metric, where))
            if averager is not None:
                with averager.swap():
                    record.update(evaluate_all(model, loss, {f"ema_{prefix}": pair}, metric, where))
        hist.log(**record)
        return record

    model.train()
    log(0, 0)
    show = epochs * per_epoch > 5000 if show_progress is None else show_progress
    iteration = 0
    for epoch in progress(range(1, epochs + 1), total=epochs, desc="epochs", disable=not show):
        iteration = run_epoch(
            model,
            loss,
            X,
            y,
            optimizer,
            batch_size,
            rule=rule,
            drop_last=drop_last,
            rng=rng,
            schedule=schedule if kind == "iteration" else None,
            ema=averager,
            epoch=epoch,
            iteration=iteration,
            on_batch=on_batch,
        )
        record = log(epoch, iteration)
        if kind == "epoch":
            schedule.step(record.get("val_loss", record["train_loss"]))
    return hist

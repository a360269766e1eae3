"""Mini-batch training for coursekit's numpy networks.

Stochastic gradient descent replaces the mean over all ``m`` samples by a mean over a
batch ``I_k`` of ``b`` of them:

.. math:: w_k = w_{k-1} - \\eta_k \\frac{1}{b} \\sum_{i \\in I_k} \\nabla f_i(w_{k-1})

which is an unbiased estimate of the full gradient when ``I_k`` is drawn at random.
:func:`batches` produces the index sets ``I_k`` for one epoch, :func:`run_epoch` takes
one optimiser step per batch, :func:`train_minibatch` repeats epochs and logs a
:class:`~coursekit.training.History`, and :class:`ParameterEMA` keeps the exponential
moving average of the parameters, ``w'_k = gamma w'_{k-1} + (1 - gamma) w_k``.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager

import numpy as np

from ._checks import as_batch, in_range
from .layers import make_rng
from .training import DivergenceError, History, accuracy, forward_loss, progress

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


def batches(n: int, batch_size: int, rule: str = "shuffle", drop_last: bool = False, rng=None):
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
    new order each epoch; a seed (an int) gives the same order every time.
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


def _set_lr(optimizer, schedule, iteration: int) -> None:
    if callable(schedule) and not hasattr(schedule, "step"):
        optimizer.lr = float(schedule(iteration))


def run_epoch(
    model,
    loss,
    X,
    y,
    optimizer,
    batch_size: int,
    rule: str = "shuffle",
    drop_last: bool = False,
    rng=None,
    schedule=None,
    ema=None,
    epoch: int = 0,
    iteration: int = 0,
    on_batch=None,
) -> int:
    """One pass over the data: a forward, backward and optimiser step per batch.

    ``X`` ``(N, D)``, ``y`` ``(N,)`` or ``(N, C)``. ``schedule``, when a plain callable,
    sets ``optimizer.lr = schedule(iteration)`` before each step; ``ema.update()`` runs
    after each step; ``on_batch(iteration, batch_loss)`` is called after each step.
    Returns the iteration count after the epoch. Raises :class:`DivergenceError` naming
    the epoch and iteration when a batch loss or gradient is NaN/inf (numpy's overflow
    warnings are silenced inside the step because this check reports them).
    """
    rng = make_rng(rng)
    for idx in batches(len(X), batch_size, rule, drop_last, rng):
        _set_lr(optimizer, schedule, iteration)
        with np.errstate(over="ignore", invalid="ignore"):
            _, value = forward_loss(model, loss, X[idx], y[idx])
            ok = np.isfinite(value)
            if ok:
                model.backward(loss.backward())
                grads = model.gradients()
                ok = all(np.all(np.isfinite(g)) for g in grads)
        if not ok:
            raise DivergenceError(
                f"the batch loss or a gradient became non-finite (NaN or inf) in epoch {epoch}, "
                f"iteration {iteration} (lr={optimizer.lr:g}): training diverged; lower the learning rate"
            )
        optimizer.step(grads)
        if ema is not None:
            ema.update()
        if on_batch is not None:
            on_batch(iteration, value)
        iteration += 1
    return iteration


def _evaluate(model, loss, X, y, metric, prefix: str) -> dict:
    model.eval()
    with np.errstate(over="ignore", invalid="ignore"):
        out = model.forward(X)
        record = {f"{prefix}_loss": loss.forward(out, y)}
    if metric is not None:
        record[f"{prefix}_acc"] = metric(out, y)
    model.train()
    return record


def _log_epoch(hist, model, loss, data, metric, ema, step, iteration, lr):
    record = {"step": step, "iteration": iteration, "lr": lr}
    for prefix, (Xs, ys) in data.items():
        record.update(_evaluate(model, loss, Xs, ys, metric, prefix))
        if ema is not None:
            with ema.swap():
                record.update(_evaluate(model, loss, Xs, ys, metric, f"ema_{prefix}"))
    hist.log(**record)


def _step_schedule(schedule, record: dict) -> None:
    """Epoch-level schedules (objects with ``step``) are stepped once per epoch, torch-style;
    one whose ``step`` takes an argument (``ReduceOnPlateau``) gets the monitored loss."""
    if schedule is None or not hasattr(schedule, "step"):
        return
    if inspect.signature(schedule.step).parameters:
        schedule.step(record.get("val_loss", record["train_loss"]))
    else:
        schedule.step()


def train_minibatch(
    model,
    loss,
    X,
    y,
    optimizer,
    epochs: int = 10,
    batch_size: int = 32,
    schedule=None,
    rule: str = "shuffle",
    drop_last: bool = False,
    X_val=None,
    y_val=None,
    ema: float | None = None,
    rng=0,
    metric=accuracy,
    log_batches: bool = False,
    show_progress: bool | None = None,
) -> History:
    """Mini-batch training of a coursekit model with any coursekit optimiser.

    One record per epoch, plus one before training: ``step`` = epochs completed
    (0, 1, ..., ``epochs``), ``iteration`` = optimiser steps so far, ``lr``, and
    ``train_loss``/``train_acc`` on the *whole* training set with the weights at the end
    of the epoch (``val_loss``/``val_acc`` when ``X_val`` is given). With
    ``ema=gamma`` a :class:`ParameterEMA` is kept and ``ema_train_loss``, ``ema_train_acc``
    (and ``ema_val_*``) are logged too. ``log_batches=True`` adds one record per
    iteration with ``batch_loss`` and ``step`` = iteration / batches per epoch.

    ``schedule``: a callable ``iteration -> lr`` applied before every step, or an object
    with ``step()`` (as :mod:`coursekit.optim.schedules`), stepped after every epoch with
    the validation loss (training loss without validation data) when it takes one.
    Batches follow :func:`batches` with a generator seeded by ``rng``, so two runs with
    the same seed see the same batches (:func:`coursekit.torch_utils.train_torch` too).
    Raises :class:`DivergenceError` naming the epoch and iteration on a NaN/inf loss.
    """
    X = as_batch(X, "train_minibatch X")
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"train_minibatch: X has {len(X)} samples but y has {len(y)}")
    if int(epochs) < 1:
        raise ValueError(f"train_minibatch: expected epochs >= 1, got {epochs}")
    _check_batching(len(X), batch_size, rule)
    data = {"train": (X, y)}
    if X_val is not None:
        data["val"] = (
            as_batch(X_val, "train_minibatch X_val", features=X.shape[1]),
            np.asarray(y_val),
        )
    averager = None if ema is None else ParameterEMA(model.parameters(), ema)
    rng, hist = make_rng(rng), History()
    per_epoch = num_batches(len(X), batch_size, drop_last)
    on_batch = None
    if log_batches:

        def on_batch(k, value):
            hist.log(step=(k + 1) / per_epoch, iteration=k + 1, batch_loss=value)

    _log_epoch(hist, model, loss, data, metric, averager, 0, 0, optimizer.lr)
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
            rule,
            drop_last,
            rng,
            schedule,
            averager,
            epoch,
            iteration,
            on_batch,
        )
        _log_epoch(hist, model, loss, data, metric, averager, epoch, iteration, optimizer.lr)
        _step_schedule(schedule, hist.records[-1])
    return hist

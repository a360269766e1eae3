r"""The contract every training loop of coursekit keeps, and the numpy full-batch loop.

Three loops train a network: :func:`train_full_batch` (numpy, every sample each step),
:func:`coursekit.minibatch.train_minibatch` (numpy, mini-batches) and
:func:`coursekit.torch_utils.train_torch` (PyTorch, mini-batches). They share:

- **arguments**: the model, the loss (or the optimiser) and the data positionally,
  everything else by keyword;
- **input checks** (:func:`check_data`): ``X`` ``(N, D)`` finite, ``y`` with ``N`` finite
  entries, ``X_val``/``y_val`` together, with ``D`` features, each raising a
  ``ValueError`` that names the argument;
- **the metric**: ``metric="accuracy"`` picks the decision rule from the loss
  (:func:`default_metric`): argmax for cross-entropy, a threshold of 0.5 on the
  probabilities of ``BCELoss``, 0 on the scores of ``BCEWithLogitsLoss`` and the hinge
  loss, and for other losses one read from the targets (or no accuracy at all);
- **evaluation** (:func:`evaluate`): in ``eval()`` mode, the model's mode restored after;
- **divergence**: a non-finite loss or gradient, or activations that overflow (a layer or
  loss raising :class:`~coursekit.errors.NonFiniteError`), stops the run with one
  :class:`~coursekit.errors.DivergenceError` that names the step;
- **the record**: a :class:`~coursekit.history.History` with ``train_loss``,
  ``train_acc``, ``val_loss``, ``val_acc``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._checks import as_batch, check_finite
from .errors import DivergenceError, NonFiniteError
from .history import History, progress  # also importable from here, as notebooks do
from .layers import Module
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HingeLoss, Loss

__all__ = [
    "History",
    "NonFiniteError",
    "train_full_batch",
    "accuracy",
    "binary_accuracy",
    "class_accuracy",
    "default_metric",
    "metric_for_targets",
    "check_data",
    "evaluate",
    "progress",
]

Metric = Callable[[Any, Any], float]


# ----------------------------------------------------------------------------- metrics


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of correct predictions.

    ``scores`` ``(N, C)`` with C > 1: argmax over classes, against class indices ``(N,)``
    or one-hot/probability rows ``(N, C)`` (their argmax); ``(N,)`` or ``(N, 1)``: a
    binary score, predicted positive when above ``threshold`` (0 for logits and SVM
    scores, 0.5 for probabilities), against labels in {0, 1} or {-1, +1}.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim == 2 and scores.shape[1] > 1:
        if labels.ndim == 2 and labels.shape[1] > 1:
            labels = labels.argmax(axis=1)
        pred = scores.argmax(axis=1)
        return float(np.mean(pred == labels.reshape(-1)))
    s = scores.reshape(-1)
    t = labels.reshape(-1)
    return float(np.mean((s > threshold) == (t > 0)))


def binary_accuracy(threshold: float) -> Metric:
    """The metric ``accuracy(scores, labels, threshold)``: one score per sample."""

    def metric(scores, labels) -> float:
        return accuracy(scores, labels, threshold)

    return metric


def class_accuracy(scores, labels) -> float:
    """Argmax accuracy: scores ``(N, C)`` against class indices or one-hot rows."""
    return accuracy(scores, labels)


def metric_for_targets(targets) -> Metric | None:
    """An accuracy that fits the targets of a loss that does not say (``MSELoss``...).

    One-hot rows ``(N, C)``: argmax. Binary labels: a threshold halfway between the two
    values (0.5 for {0, 1}, 0 for {-1, +1}). Anything else (real-valued regression
    targets): ``None``, no accuracy.
    """
    if targets is None:
        return None
    t = np.asarray(targets)
    if t.dtype.kind not in "fiub" or t.size == 0:
        return None
    values = np.unique(t)
    if t.ndim == 2 and t.shape[1] > 1:
        one_hot = np.all(np.isin(values, (0, 1))) and np.all(t.sum(axis=1) == 1)
        return class_accuracy if one_hot else None
    if np.all(np.isin(values, (0, 1))):
        return binary_accuracy(0.5)
    if np.all(np.isin(values, (-1, 1))):
        return binary_accuracy(0.0)
    return None


def default_metric(loss: Loss, targets=None) -> Metric | None:
    """The accuracy that fits the loss's input: what ``metric="accuracy"`` means in every loop.

    ``CrossEntropyLoss``: argmax over the class scores. ``BCELoss``: its inputs are
    probabilities, so a threshold of 0.5. ``BCEWithLogitsLoss`` and ``HingeLoss``: scores,
    threshold 0. Any other loss: :func:`metric_for_targets` (``None`` without targets).
    """
    if isinstance(loss, CrossEntropyLoss):
        return class_accuracy
    if isinstance(loss, BCELoss):
        return binary_accuracy(0.5)
    if isinstance(loss, (BCEWithLogitsLoss, HingeLoss)):
        return binary_accuracy(0.0)
    return metric_for_targets(targets)


def resolve_metric(metric, chosen: Callable[[], Metric | None], name: str) -> Metric | None:
    """``metric`` as every loop reads it: ``"accuracy"`` (the loss's default, from
    ``chosen()``), ``None`` (no accuracy) or a function ``(scores, labels) -> float``."""
    if isinstance(metric, str):
        if metric != "accuracy":
            raise ValueError(
                f"{name}: expected metric 'accuracy', None or a function, got {metric!r}"
            )
        return chosen()
    if metric is not None and not callable(metric):
        raise TypeError(f"{name}: expected metric 'accuracy', None or a function, got {metric!r}")
    return metric


# ----------------------------------------------------------------------------- inputs


def _targets(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected numeric targets, got dtype {y.dtype}")
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"{name}: expected {n} targets (one per sample), got shape {y.shape}")
    if y.dtype.kind == "f":
        check_finite(y, name)
    return y


def check_data(X, y, X_val=None, y_val=None, *, name: str):
    """The input checks of every training loop; returns ``(X, y, X_val, y_val)`` as arrays.

    ``X``: finite ``(N, D)``; ``y``: ``N`` finite numeric targets; ``X_val`` and ``y_val``
    both or neither, ``X_val`` with ``D`` features and ``y_val`` one target per row, of
    the shape of ``y``'s rows. Each failure is a ``ValueError`` (a
    :class:`~coursekit.errors.NonFiniteError` for NaN/inf) naming the argument.
    """
    X = as_batch(X, f"{name} X")
    y = _targets(y, len(X), f"{name} y")
    if (X_val is None) != (y_val is None):
        given = "X_val" if y_val is None else "y_val"
        raise ValueError(f"{name}: expected X_val and y_val together, got only {given}")
    if X_val is not None:
        X_val = as_batch(X_val, f"{name} X_val", features=X.shape[1])
        y_val = _targets(y_val, len(X_val), f"{name} y_val")
        if y_val.shape[1:] != y.shape[1:]:
            raise ValueError(
                f"{name} y_val: expected rows of shape {y.shape[1:]} (as y), got {y_val.shape}"
            )
    return X, y, X_val, y_val


# ----------------------------------------------------------------------------- steps


def diverged(what: str, where: str) -> DivergenceError:
    """The one divergence error of the loops: ``what`` became non-finite ``where``."""
    return DivergenceError(
        f"{what} became non-finite (NaN or inf) {where}: training diverged; "
        "lower the learning rate or check the data"
    )


def forward_loss(model: Module, loss: Loss, X, y) -> tuple[np.ndarray | None, float]:
    """``(output, loss)`` of ``model`` on ``(X, y)``, or ``(None, inf)`` when the activations overflowed.

    Layers and losses raise :class:`~coursekit.errors.NonFiniteError` for non-finite
    inputs; inside a loop whose data was checked up front, that can only mean the weights
    diverged.
    """
    try:
        out = model.forward(X)
        return out, loss.forward(out, y)
    except NonFiniteError:
        return None, np.inf


def gradient_step(
    model: Module, loss: Loss, X, y, where: str, what: str = "the training loss"
) -> tuple[np.ndarray, float]:
    """Forward, loss and backward on ``(X, y)``; fills the model's gradients.

    Returns ``(output, loss value)``; raises :class:`~coursekit.errors.DivergenceError`
    (saying ``where``) when the loss or a gradient is not finite. numpy's overflow
    warnings are silenced inside: this check reports them.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            out = model.forward(X)
            value = loss.forward(out, y)
        except NonFiniteError as err:  # activations overflowed: the weights diverged
            raise diverged(what, where) from err
        if not np.isfinite(value):
            raise diverged(what, where)
        model.backward(loss.backward(), input_grad=False)
        for g in model.gradients():
            if not np.all(np.isfinite(g)):
                raise diverged("a gradient", where)
    return out, value


def evaluate(model, loss, X, y, metric: Metric | None = None, prefix: str = "train") -> dict:
    """``{prefix_loss, prefix_acc}`` of ``model`` on ``(X, y)``, computed in evaluation mode.

    The model is put in ``eval()`` mode (batch norm uses its running statistics) and back
    in the mode it was in afterwards. The one evaluation of every loop: ``model`` is a
    coursekit :class:`~coursekit.layers.Module` or a ``torch.nn.Module`` (run it under
    ``torch.no_grad()``), ``loss(output, y)`` returns a number or a one-element tensor.
    ``prefix_acc`` is logged when a ``metric`` is given. Activations that overflow raise
    :class:`~coursekit.errors.NonFiniteError`, which a loop reports as divergence.
    """
    was_training = model.training
    model.eval()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = model(X)
            record = {f"{prefix}_loss": float(loss(out, y))}
        if metric is not None:
            record[f"{prefix}_acc"] = metric(out, y)
    finally:
        model.train(was_training)
    return record


def evaluate_all(model, loss, data: dict, metric: Metric | None, where: str) -> dict:
    """:func:`evaluate` on each ``{prefix: (X, y)}``; a non-finite training loss, or
    activations that overflow, raise :class:`~coursekit.errors.DivergenceError`."""
    record: dict = {}
    for prefix, (Xs, ys) in data.items():
        try:
            record.update(evaluate(model, loss, Xs, ys, metric, prefix))
        except NonFiniteError as err:
            raise diverged(f"the activations on the {prefix} data", where) from err
    if not np.isfinite(record.get("train_loss", 0.0)):
        raise diverged("the training loss", where)
    return record


# ----------------------------------------------------------------------------- the loop


def train_full_batch(
    model: Module,
    loss: Loss,
    X,
    y,
    *,
    lr: float = 0.1,
    steps: int = 100,
    optimizer=None,
    X_val=None,
    y_val=None,
    log_every: int = 1,
    metric="accuracy",
    show_progress: bool | None = None,
) -> History:
    """Full-batch gradient descent: each step uses every training sample.

    ``W <- W - lr * dLoss/dW`` for every parameter (or ``optimizer.step(grads)`` when an
    optimiser from :mod:`coursekit.optim` is given). Logs ``step``, ``train_loss``,
    ``train_acc`` (and ``val_loss``, ``val_acc`` when validation data is given) every
    ``log_every`` steps, plus the final step. ``train_*`` are those of the step's own
    forward pass (training mode, before the update); ``val_*`` are computed in
    evaluation mode (:func:`evaluate`). ``metric="accuracy"`` picks the decision rule from
    the loss (:func:`default_metric`); pass a function ``(scores, labels) -> float`` or
    ``None`` instead. Raises :class:`~coursekit.errors.DivergenceError` naming the step
    when the loss or a gradient turns NaN/inf. A progress bar is shown for runs of more
    than 200 steps unless ``show_progress=False``.
    """
    if int(steps) < 1:
        raise ValueError(f"train_full_batch: expected steps >= 1, got {steps}")
    if optimizer is None and not lr > 0:
        raise ValueError(f"train_full_batch: expected lr > 0, got {lr}")
    X, y, X_val, y_val = check_data(X, y, X_val, y_val, name="train_full_batch")
    metric = resolve_metric(metric, lambda: default_metric(loss, y), "train_full_batch")
    hist = History()
    params = model.parameters()
    show = steps > 200 if show_progress is None else show_progress
    model.train()
    for k in progress(range(steps), desc="training", disable=not show):
        where = f"at step {k}"
        out, value = gradient_step(model, loss, X, y, where)
        grads = model.gradients()
        if k % log_every == 0 or k == steps - 1:
            record = {"step": k, "train_loss": value}
            if metric is not None:
                record["train_acc"] = metric(out, y)
            if X_val is not None:
                record.update(evaluate_all(model, loss, {"val": (X_val, y_val)}, metric, where))
            hist.log(**record)
        if optimizer is None:
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
        else:
            optimizer.step(grads)
    return hist

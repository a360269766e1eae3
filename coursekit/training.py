"""Training loops for coursekit's numpy networks, and the history they return.

:class:`History` is the one record format of the course: the numpy full-batch loop
here, the mini-batch loop and the PyTorch helpers all return one, so the same plotting
helpers draw any of them.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch
from .layers import Module
from .losses import Loss

__all__ = [
    "History",
    "DivergenceError",
    "train_full_batch",
    "accuracy",
    "default_metric",
    "progress",
]


class DivergenceError(FloatingPointError):
    """Raised when a loss or gradient becomes NaN or inf; the message names the step."""


def progress(iterable=None, total=None, desc=None, disable=None, **kw):
    """A tqdm progress bar: a widget in JupyterLab, text in a terminal.

    The finished bar stays visible (``leave=True``), so a notebook shows how long each
    run took; ``disable=True`` hides it.
    """
    from tqdm.auto import tqdm

    kw.setdefault("leave", True)
    return tqdm(iterable, total=total, desc=desc, disable=disable, mininterval=0.5, **kw)


class History:
    """Named series logged during training: ``h["train_loss"]`` is a numpy array.

    ``h.log(step=3, train_loss=0.7, val_acc=0.9)`` appends one record; keys not given in
    a record are absent for that step (``h.series(key)`` returns the steps it was logged
    at and the values). ``h.last("train_loss")`` is the latest value.
    """

    def __init__(self):
        self.records: list[dict] = []

    def log(self, **values) -> None:
        self.records.append({k: (float(v) if np.ndim(v) == 0 else v) for k, v in values.items()})

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def series(self, key: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in self.records if key in r]
        if not rows:
            raise KeyError(f"History: no values logged for {key!r}; logged keys are {self.keys()}")
        xs = np.array([r.get(x, i) for i, r in enumerate(rows)])
        return xs, np.array([r[key] for r in rows])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.series(key)[1]

    def __contains__(self, key: str) -> bool:
        return any(key in r for r in self.records)

    def last(self, key: str):
        return self[key][-1]

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return f"History({len(self.records)} records, keys={self.keys()})"


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of correct predictions.

    ``scores`` ``(N, C)`` with C > 1: argmax over classes; ``(N,)`` or ``(N, 1)``: a binary
    score, predicted positive when above ``threshold`` (0 for logits and SVM scores, 0.5
    for probabilities). ``labels``: class indices ``(N,)``, or {0, 1} / {-1, +1} for
    binary scores.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim == 2 and scores.shape[1] > 1:
        pred = scores.argmax(axis=1)
        return float(np.mean(pred == labels.reshape(-1)))
    s = scores.reshape(-1)
    t = labels.reshape(-1)
    return float(np.mean((s > threshold) == (t > 0)))


def default_metric(loss: Loss):
    """Accuracy with the threshold that fits the loss's input: 0.5 for probabilities
    (``BCELoss``), 0 for scores (logits, SVM margins)."""
    from .losses import BCELoss

    threshold = 0.5 if isinstance(loss, BCELoss) else 0.0
    return lambda scores, labels: accuracy(scores, labels, threshold)


def forward_loss(model: Module, loss: Loss, X, y) -> tuple[np.ndarray | None, float]:
    """``(output, loss)`` of ``model`` on ``(X, y)``, or ``(None, inf)`` when the activations overflowed.

    Layers and losses reject non-finite inputs with a ``ValueError`` saying "expected
    finite values"; inside a training loop whose data was checked up front, that can only
    mean the weights diverged, which the caller reports as a :class:`DivergenceError`.
    """
    try:
        out = model.forward(X)
        return out, loss.forward(out, y)
    except ValueError as err:
        if "finite" not in str(err):
            raise
        return None, np.inf


def _check_finite(value, what: str, step: int):
    if not np.all(np.isfinite(value)):
        raise DivergenceError(
            f"{what} became non-finite (NaN or inf) at step {step}: training diverged. "
            "Lower the learning rate or check the data."
        )


def train_full_batch(
    model: Module,
    loss: Loss,
    X,
    y,
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
    ``log_every`` steps, plus the final step. ``metric="accuracy"`` picks the decision
    threshold from the loss (:func:`default_metric`); pass a function ``(scores, labels)
    -> float`` or ``None`` instead. Raises :class:`DivergenceError` naming the
    step when the loss or a gradient turns NaN/inf. A progress bar is shown for runs of
    more than 200 steps unless ``show_progress=False``.
    """
    if int(steps) < 1:
        raise ValueError(f"train_full_batch: expected steps >= 1, got {steps}")
    if optimizer is None and not lr > 0:
        raise ValueError(f"train_full_batch: expected lr > 0, got {lr}")
    X = as_batch(X, "train_full_batch X")
    if metric == "accuracy":
        metric = default_metric(loss)
    hist = History()
    params = model.parameters()
    show = steps > 200 if show_progress is None else show_progress
    bar = progress(range(steps), desc="training", disable=not show)
    for k in bar:
        model.train()
        # overflow is detected and reported by _check_finite, so numpy need not warn too
        with np.errstate(over="ignore", invalid="ignore"):
            out, value = forward_loss(model, loss, X, y)
            _check_finite(value, "the training loss", k)
            model.backward(loss.backward())
        grads = model.gradients()
        for g in grads:
            _check_finite(g, "a gradient", k)
        if k % log_every == 0 or k == steps - 1:
            record = {"step": k, "train_loss": value}
            if metric is not None:
                record["train_acc"] = metric(out, y)
            if X_val is not None:
                model.eval()
                out_val = model.forward(np.asarray(X_val, dtype=float))
                record["val_loss"] = loss.forward(out_val, y_val)
                if metric is not None:
                    record["val_acc"] = metric(out_val, y_val)
            hist.log(**record)
        if optimizer is None:
            for p, g in zip(params, grads):
                p -= lr * g
        else:
            optimizer.step(grads)
    model.train()
    return hist

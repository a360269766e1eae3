"""Losses (the lecture's "divergences") with their gradients, named as in ``torch.nn``.

Each loss is an object: ``loss.forward(input, target)`` returns a float and keeps what
``loss.backward()`` needs; ``backward()`` returns dLoss/dinput with the shape of
``input``. ``reduction`` is ``"mean"`` (PyTorch's default) or ``"sum"``; the lecture's
total loss is the mean over the T training samples, ``Loss = 1/T sum_t Div(Y_t, d_t)``.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, as_float, check_finite, same_shape
from .layers import log_softmax, sigmoid, softmax

__all__ = [
    "Loss",
    "MSELoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "KLDivLoss",
    "HingeLoss",
    "one_hot",
]


def one_hot(labels, num_classes: int) -> np.ndarray:
    """``(N,)`` integer labels -> ``(N, num_classes)`` float one-hot rows (the lecture's d)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"one_hot: expected a 1-D integer array of labels, got shape {labels.shape}, dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot: expected labels in [0, {num_classes - 1}], got values from {labels.min()} to {labels.max()}"
        )
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


class Loss:
    """Base: ``__call__ = forward``; ``reduction`` is checked at construction."""

    reductions: tuple[str, ...] = ("mean", "sum")

    def __init__(self, reduction: str = "mean"):
        if reduction not in self.reductions:
            raise ValueError(
                f"{type(self).__name__}: expected reduction in {self.reductions}, got {reduction!r}"
            )
        self.reduction = reduction
        self._cache = None

    def __call__(self, input, target) -> float:
        return self.forward(input, target)

    def forward(self, input, target) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reduce(self, per_element: np.ndarray, count: int) -> float:
        total = float(per_element.sum())
        return total / count if self.reduction == "mean" else total

    def _scale(self, count: int) -> float:
        return 1.0 / count if self.reduction == "mean" else 1.0

    def _need_forward(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


def _pair(input, target, name):
    """Input and target as float arrays of one shape; the target takes the input's dtype
    (float32 networks stay float32)."""
    y = as_float(input)
    y = as_batch(y, f"{name} input", ndim=y.ndim) if y.ndim else y
    d = np.asarray(target, dtype=y.dtype)
    same_shape(y, d, f"{name} input", f"{name} target")
    check_finite(d, f"{name} target")
    return y, d


class MSELoss(Loss):
    r"""Mean squared error, $\frac{1}{n}\sum (y - d)^2$ over all n entries (``torch.nn.MSELoss``).

    Gradient $2(y - d)/n$. The lecture's L2 divergence is $\frac12\|y-d\|^2$ per sample,
    whose gradient is just $y - d$: it equals ``MSELoss(reduction="sum")`` / 2.
    """

    def forward(self, input, target):
        y, d = _pair(input, target, "MSELoss")
        diff = y - d
        self._cache = (diff,)
        total = float(np.vdot(diff, diff))  # sum of squares in one BLAS pass, no temporary
        return total / diff.size if self.reduction == "mean" else total

    def backward(self):
        (diff,) = self._need_forward()
        return diff * (2.0 * self._scale(diff.size))


class BCELoss(Loss):
    r"""Binary cross-entropy on probabilities, $-[d\log y + (1-d)\log(1-y)]$ (``torch.nn.BCELoss``).

    Like PyTorch, each log is clamped at -100 so y = 0 or 1 gives a finite loss, and the
    gradient $(y - d) / (y(1-y))$ has its denominator floored at 1e-12. Inputs must lie in
    [0, 1]; for raw scores use :class:`BCEWithLogitsLoss`.
    """

    def forward(self, input, target):
        y, d = _pair(input, target, "BCELoss")
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"BCELoss: expected probabilities in [0, 1], got values in [{y.min():.3g}, {y.max():.3g}]"
            )
        if d.size and (d.min() < 0 or d.max() > 1):
            raise ValueError(
                f"BCELoss: expected targets in [0, 1], got values in [{d.min():.3g}, {d.max():.3g}]"
            )
        with np.errstate(divide="ignore"):
            log_y = np.maximum(np.log(y), -100.0)
            log_1my = np.maximum(np.log1p(-y), -100.0)
        self._cache = (y, d)
        return self._reduce(-(d * log_y + (1 - d) * log_1my), y.size)

    def backward(self):
        y, d = self._need_forward()
        return (y - d) / np.maximum(y * (1 - y), 1e-12) * self._scale(y.size)


class BCEWithLogitsLoss(Loss):
    r"""Sigmoid plus binary cross-entropy in one stable step (``torch.nn.BCEWithLogitsLoss``).

    With $z$ the score: $\ell = \max(z, 0) - z d + \log(1 + e^{-|z|})$, gradient
    $\sigma(z) - d$: the sigmoid's derivative cancels the log's.
    """

    def forward(self, input, target):
        z, d = _pair(input, target, "BCEWithLogitsLoss")
        self._cache = (z, d)
        return self._reduce(np.maximum(z, 0) - z * d + np.log1p(np.exp(-np.abs(z))), z.size)

    def backward(self):
        z, d = self._need_forward()
        return (sigmoid(z) - d) * self._scale(z.size)


class CrossEntropyLoss(Loss):
    r"""Softmax plus cross-entropy, fused (``torch.nn.CrossEntropyLoss``).

    ``input``: scores (logits) ``(N, C)``. ``target``: class indices ``(N,)`` or
    probabilities ``(N, C)`` (one-hot rows are the lecture's d). Per sample
    $\ell = -\sum_i d_i \log \mathrm{softmax}(z)_i$, and the gradient is $y - d$ with
    $y = \mathrm{softmax}(z)$: the softmax Jacobian times $-d/y$ collapses to that.
    """

    def forward(self, input, target):
        z = as_batch(input, "CrossEntropyLoss input")
        t = np.asarray(target)
        n, c = z.shape
        if t.ndim == 1:
            if t.shape[0] != n:
                raise ValueError(
                    f"CrossEntropyLoss target: expected {n} class indices to match the input's batch, got shape {t.shape}"
                )
            if t.dtype.kind not in "iu":
                raise ValueError(
                    f"CrossEntropyLoss target: expected integer class indices for a 1-D target, got dtype {t.dtype}"
                )
            d = one_hot(t, c).astype(z.dtype, copy=False)
        elif t.ndim == 2:
            d = np.asarray(t, dtype=z.dtype)
            same_shape(z, d, "CrossEntropyLoss input", "CrossEntropyLoss target")
        else:
            raise ValueError(
                f"CrossEntropyLoss target: expected shape ({n},) or ({n}, {c}), got {t.shape}"
            )
        logp = log_softmax(z)
        self._cache = (z, d)
        return self._reduce(-(d * logp), n)

    def backward(self):
        z, d = self._need_forward()
        return (softmax(z) - d) * self._scale(z.shape[0])


class KLDivLoss(Loss):
    r"""KL divergence $\sum_i d_i (\log d_i - \log y_i)$ (``torch.nn.KLDivLoss``).

    As in PyTorch, ``input`` holds log-probabilities $\log y$ and ``target`` probabilities
    d (terms with d_i = 0 contribute 0). ``reduction``: ``"mean"`` averages over every
    entry (PyTorch's default, not the KL divergence per sample), ``"batchmean"`` divides
    the sum by N and is the true mean KL, ``"sum"``. Gradient w.r.t. the input: $-d$,
    scaled by the reduction. KL(d || y) = cross-entropy minus the entropy of d, so it has
    the same gradient as cross-entropy in y.
    """

    reductions = ("mean", "batchmean", "sum")

    def forward(self, input, target):
        logy, d = _pair(input, target, "KLDivLoss")
        if d.size and d.min() < 0:
            raise ValueError("KLDivLoss target: expected probabilities >= 0, got a negative entry")
        with np.errstate(divide="ignore", invalid="ignore"):
            d_log_d = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)
        self._cache = (logy, d)
        per = d_log_d - d * logy
        if self.reduction == "batchmean":
            return float(per.sum()) / (logy.shape[0] if logy.ndim else 1)
        return self._reduce(per, per.size)

    def backward(self):
        logy, d = self._need_forward()
        if self.reduction == "batchmean":
            return -d / (logy.shape[0] if logy.ndim else 1)
        return -d * self._scale(d.size)


class HingeLoss(Loss):
    r"""The soft-margin SVM's hinge loss, $\max(0, 1 - d\,s)$ with labels d in {-1, +1}.

    ``input``: scores s of shape ``(N,)`` or ``(N, 1)``; ``target``: labels of the same shape.
    Subgradient $-d$ where the margin $d s < 1$, else 0 (0 at exactly $d s = 1$).
    PyTorch has no binary hinge class; ``torch.clamp(1 - d * s, min=0).mean()`` is the same.
    """

    def forward(self, input, target):
        s, d = _pair(input, target, "HingeLoss")
        if d.size and not np.all(np.isin(d, (-1.0, 1.0))):
            raise ValueError("HingeLoss target: expected labels in {-1, +1}")
        margin = d * s
        self._cache = (margin, d)
        return self._reduce(np.maximum(0.0, 1.0 - margin), s.size)

    def backward(self):
        margin, d = self._need_forward()
        return np.where(margin < 1.0, -d, 0.0) * self._scale(d.size)

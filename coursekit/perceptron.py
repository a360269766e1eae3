"""The perceptron rule against gradient descent on a sigmoid unit (lecture 3).

Brady, Raghavan & Slawny (1989): on three points a single sigmoid unit trained by
backprop and the perceptron both find the separating line; add one far "spoiler"
point and the perceptron still separates all four, while backprop, started from its
three-point solution with bounded weights, stays put and misclassifies the spoiler:
the spoiler sits deep in the flat tail of the sigmoid, so it adds (almost) nothing
to the gradient.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range
from .layers import sigmoid

__all__ = [
    "three_points_plus_spoiler",
    "train_perceptron",
    "train_sigmoid_unit",
    "sigmoid_unit_loss",
    "predict",
]


def three_points_plus_spoiler(t: float = 100.0):
    """The lecture's data: ``X`` ``(4, 2)`` and labels ``y`` ``(4,)`` in {0, 1}.

    Rows: (1, 0) and (0, 1) are class 1, (-1, 0) is class 0, and the spoiler
    (0, -t) is class 1. The first three rows are the three-point problem. For every
    ``t > 0`` the four points are linearly separable, e.g. by $x_1 + 0.5 > 0$.
    """
    t = in_range(float(t), "three_points_plus_spoiler t", low=0.0, low_open=True)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -t]])
    return X, np.array([1, 1, 0, 1])


def _signed_labels(y, n: int) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if y.size != n or not np.all(np.isin(y, [-1, 0, 1])):
        raise ValueError(
            f"expected {n} labels in {{0, 1}} or {{-1, +1}}, got {np.unique(y)} ({y.size} labels)"
        )
    return np.where(y > 0, 1.0, -1.0)


def predict(X, w, b: float) -> np.ndarray:
    r"""Class 1 where $w^\top x + b > 0$, else 0: shape ``(N,)``."""
    return (as_batch(X, "X") @ w + b > 0).astype(int)


def train_perceptron(X, y, epochs: int = 100, lr: float = 1.0, w0=None, b0: float = 0.0):
    r"""Rosenblatt's rule: for each sample with $y_n (w^\top x_n + b) \le 0$, $w \mathrel{+}= \eta y_n x_n$, $b \mathrel{+}= \eta y_n$.

    ``X`` ``(N, D)``; ``y`` in {0, 1} or {-1, +1}. Samples are visited in order; the
    loop over samples is the algorithm itself (each update changes the next
    prediction), so it is not vectorised. Stops after the first epoch without a
    mistake. Returns ``(w, b, errors)`` with ``errors[e]`` the number of mistakes
    (updates) made in epoch e. On separable data with margin $\gamma$ and radius R
    (of $(x, 1)$) the total number of mistakes is at most $(R/\gamma)^2$ (Novikoff).
    """
    X = as_batch(X, "train_perceptron X")
    s = _signed_labels(y, X.shape[0])
    lr = in_range(float(lr), "train_perceptron lr", low=0.0, low_open=True)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    b = float(b0)
    errors = []
    for _ in range(int(epochs)):
        mistakes = 0
        for x_n, s_n in zip(X, s, strict=True):
            if s_n * (x_n @ w + b) <= 0:
                w += lr * s_n * x_n
                b += lr * s_n
                mistakes += 1
        errors.append(mistakes)
        if mistakes == 0:
            break
    return w, b, np.array(errors)


def train_sigmoid_unit(
    X,
    y,
    lr: float = 1.0,
    steps: int = 1000,
    w0=None,
    b0: float = 0.0,
    loss: str = "mse",
    eps: float = 0.01,
    bound: float | None = None,
):
    r"""Full-batch gradient descent ("backprop") on one sigmoid unit $\hat y = \sigma(w^\top x + b)$.

    Targets are $d_n = 1 - \epsilon$ for class 1 and $\epsilon$ for class 0 (the lecture's
    achievable $1 - \epsilon$). ``loss="mse"``: $\frac1N\sum_n (\hat y_n - d_n)^2$;
    ``loss="logistic"``: mean binary cross-entropy against $d_n$. With ``bound``, every
    weight and the bias are clipped to ``[-bound, bound]`` after each step (projected
    GD: the lecture's "bounded weights"). Returns ``(w, b, losses)``, ``losses`` of
    length ``steps`` (the loss before each step).
    """
    X = as_batch(X, "train_sigmoid_unit X")
    y = _signed_labels(y, X.shape[0])
    in_range(float(eps), "train_sigmoid_unit eps", low=0.0, high=0.5, high_open=True)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    b = float(b0)
    losses = np.empty(int(steps))
    for k in range(int(steps)):
        losses[k], grad_w, grad_b = sigmoid_unit_loss(X, y, w, b, loss=loss, eps=eps)
        w -= lr * grad_w
        b -= lr * grad_b
        if bound is not None:
            w, b = np.clip(w, -bound, bound), float(np.clip(b, -bound, bound))
    return w, b, losses


def sigmoid_unit_loss(X, y, w, b: float, loss: str = "mse", eps: float = 0.01):
    r"""Loss of one sigmoid unit and its gradient: returns ``(value, dL/dw (D,), dL/db)``.

    With $z = X w + b$, $p = \sigma(z)$ and targets $d$ (see :func:`train_sigmoid_unit`):
    MSE gives $\partial L/\partial z_n = \tfrac2N (p_n - d_n)\, p_n (1 - p_n)$, which
    vanishes for a point deep in the sigmoid's flat tail even when it is misclassified;
    the logistic loss gives $\tfrac1N (p_n - d_n)$, which does not.
    """
    X = as_batch(X, "sigmoid_unit_loss X")
    d = np.where(_signed_labels(y, X.shape[0]) > 0, 1.0 - eps, eps)
    z = X @ np.asarray(w, dtype=float) + b
    p = sigmoid(z)
    n = X.shape[0]
    if loss == "mse":
        value = np.mean((p - d) ** 2)
        dz = 2.0 * (p - d) * p * (1.0 - p) / n
    elif loss == "logistic":
        log_p, log_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
        value = -np.mean(d * log_p + (1 - d) * log_q)
        dz = (p - d) / n
    else:
        raise ValueError(f"sigmoid_unit_loss: expected loss 'mse' or 'logistic', got {loss!r}")
    return float(value), X.T @ dz, float(dz.sum())

r"""Why cross-entropy and not the squared error after a sigmoid or a softmax (lecture 2).

With $y = \sigma(z)$ and target $d \in \{0, 1\}$, the squared error $(y - d)^2$ has the
derivative $2(y - d)\,\sigma'(z) = 2(y - d)\,y(1 - y)$ with respect to the logit $z$;
the binary cross-entropy $-d\log y - (1 - d)\log(1 - y)$ has $y - d$. When the output
*saturates* on the wrong side ($z \to -\infty$ while $d = 1$), the first vanishes like
$2e^{z}$ and the second tends to $-1$: a confidently wrong output is all but ignored by
the squared error and corrected at full strength by the cross-entropy. After a softmax
the squared error's gradient is $J^\top 2(y - d)$, with the same collapse, against
cross-entropy's $y - d$.

- :func:`logit_gradient`: both derivatives for a sigmoid output, in closed form.
- :func:`softmax_regression_errors`: full-batch gradient descent on a linear softmax
  classifier, many learning rates at once; returns the training error of each.
- :func:`saturation_sweep`: the two losses, each at its own best learning rate from a
  grid, over several seeds, from a small or a saturated (large) initialisation.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range
from .data import load_digits_multiclass
from .layers import sigmoid
from .seeding import make_rng
from .seeding import seeds as course_seeds
from .sweep import Sweep

__all__ = ["logit_gradient", "softmax_regression_errors", "saturation_sweep", "LOSSES"]

LOSSES = {"cross-entropy": "ce", "squared error": "mse"}
"""The two losses compared, by the names the lecture prints."""


def logit_gradient(z, d, loss: str) -> np.ndarray:
    r"""Derivative with respect to the logit $z$ of one sigmoid output's divergence.

    ``loss="mse"``: $Div = (\sigma(z) - d)^2$, derivative $2(y - d)\,y(1 - y)$.
    ``loss="ce"``: $Div = -d\log y - (1 - d)\log(1 - y)$, derivative $y - d$.
    ``z`` and ``d`` broadcast; the sigmoid is evaluated without overflow.
    """
    z = np.asarray(z, dtype=float)
    y = sigmoid(z)
    d = np.asarray(d, dtype=float)
    if loss == "mse":
        return 2.0 * (y - d) * y * (1.0 - y)
    if loss == "ce":
        return y - d
    raise ValueError(f"logit_gradient: expected loss 'mse' or 'ce', got {loss!r}")


def softmax_regression_errors(X, labels, W0, lrs, loss: str, steps: int = 100) -> np.ndarray:
    r"""Training error after ``steps`` of full-batch gradient descent on a linear softmax
    classifier $y = \mathrm{softmax}(XW + b)$, one run per learning rate, all at once.

    ``X`` ``(N, D)``, integer ``labels`` ``(N,)`` in ``0..K-1``, ``W0`` ``(D, K)`` the
    initial weights (the bias starts at 0), ``lrs`` ``(L,)``. ``loss="ce"``: mean
    cross-entropy, gradient $(y - d)/N$ with respect to the logits. ``loss="mse"``: mean
    over samples of $\sum_i (y_i - d_i)^2$, gradient $J^\top 2(y - d)/N$ through the
    softmax Jacobian $J = \mathrm{diag}(y) - y y^\top$. Returns the fraction of
    misclassified training samples for each learning rate, ``(L,)``; a run whose weights
    stop being finite scores ``inf``.
    """
    X = as_batch(X, "softmax_regression_errors X")
    labels = np.asarray(labels)
    W0 = np.asarray(W0, dtype=float)
    if labels.shape != (X.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"softmax_regression_errors: expected {X.shape[0]} integer labels, got "
            f"shape {labels.shape}, dtype {labels.dtype}"
        )
    if W0.ndim != 2 or W0.shape[0] != X.shape[1]:
        raise ValueError(
            f"softmax_regression_errors: expected W0 of shape ({X.shape[1]}, K), got {W0.shape}"
        )
    if loss not in ("ce", "mse"):
        raise ValueError(f"softmax_regression_errors: expected loss 'ce' or 'mse', got {loss!r}")
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    n, k = X.shape[0], W0.shape[1]
    L = lrs.size
    D = np.eye(k)[labels][:, None, :]  # (N, 1, K)
    # all runs side by side: W (D_in, L*K), so every product is one matrix product
    W = np.tile(W0, (1, L))
    b = np.zeros(L * k)
    step = np.repeat(lrs, k)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            Z = (X @ W + b).reshape(n, L, k)
            Z = Z - Z.max(axis=-1, keepdims=True)
            Y = np.exp(Z)
            Y /= Y.sum(axis=-1, keepdims=True)
            if loss == "ce":
                G = (Y - D) / n
            else:
                R = 2.0 * (Y - D) / n
                G = Y * (R - np.sum(R * Y, axis=-1, keepdims=True))
            G = G.reshape(n, L * k)
            W = W - step * (X.T @ G)
            b = b - step * G.sum(axis=0)
        scores = (X @ W + b).reshape(n, L, k)
    err = np.mean(scores.argmax(axis=-1) != labels[:, None], axis=0)
    finite = np.all(np.isfinite(W.reshape(-1, L, k)), axis=(0, 2)) & np.all(
        np.isfinite(b.reshape(L, k)), axis=1
    )
    return np.where(finite, err, np.inf)


def saturation_sweep(
    scale: float,
    lrs=None,
    seeds=3,
    steps: int = 100,
    n_train: int = 300,
    losses=None,
) -> Sweep:
    r"""Cross-entropy against the squared error on the digits, each at its own best
    learning rate, from initial weights of a given ``scale``.

    For each seed: a train/test split of the digits and initial weights
    $W_0 \sim \mathcal N(0, (\text{scale}/8)^2)$ ($8 = \sqrt{64}$ inputs, so each logit
    has a standard deviation of about ``scale``), both from that seed; the first
    ``n_train`` training images; ``steps`` of gradient descent per learning rate
    (:func:`softmax_regression_errors`). ``scale=0.1`` starts near uniform outputs;
    ``scale=10`` starts saturated, with most images given one class at probability
    above 0.9. ``lrs`` defaults to ``np.geomspace(0.3, 300, 7)``; ``seeds``: a count
    (derived from the course seed) or a list. Returns a :class:`coursekit.sweep.Sweep`
    with methods ``"cross-entropy"`` and ``"squared error"`` (or only those named in
    ``losses``), scored by the training error (lower is better).
    """
    in_range(float(scale), "saturation_sweep scale", low=0.0, low_open=True)
    lrs = np.geomspace(0.3, 300, 7) if lrs is None else np.asarray(lrs, dtype=float)
    seed_list = course_seeds(seeds, "saturation") if isinstance(seeds, int) else list(seeds)
    names = list(LOSSES) if losses is None else list(losses)
    unknown = [name for name in names if name not in LOSSES]
    if unknown or not names:
        raise ValueError(
            f"saturation_sweep losses: expected names from {list(LOSSES)}, got {names}"
        )
    scores = {name: np.empty((lrs.size, len(seed_list))) for name in names}
    for j, s in enumerate(seed_list):
        rng = make_rng(s)
        data = load_digits_multiclass(rng=rng)
        X, labels = data.X_train[:n_train], data.y_train[:n_train].astype(int)
        W0 = rng.normal(size=(X.shape[1], 10)) * scale / np.sqrt(X.shape[1])
        for name in names:
            scores[name][:, j] = softmax_regression_errors(X, labels, W0, lrs, LOSSES[name], steps)
    return Sweep({name: lrs for name in names}, scores, seed_list, metric="training error")

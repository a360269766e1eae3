r"""Data sets of the course, all offline and seeded.

Real images: the 8x8 handwritten digits that scikit-learn ships inside its package
(1797 images, 64 pixels valued 0..16). Everything else is generated from a seed.
Arrays are batch first: ``X`` is ``(N, D)`` float64, labels ``y`` are ``(N,)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .preprocessing import standardize
from .seeding import make_rng

__all__ = [
    "Split",
    "load_digits_binary",
    "load_digits_multiclass",
    "make_blobs",
    "make_xor",
    "make_spirals",
    "train_test_split",
    "standardize_split",
]


class Split(NamedTuple):
    """A train/test split: ``X_train (N, D)``, ``y_train (N,)``, ``X_test``, ``y_test``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def train_test_split(X, y, test_fraction: float = 0.25, rng=None) -> Split:
    """Shuffle with a seed and hold out ``test_fraction`` of the samples."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: expected test_fraction in (0, 1), got {test_fraction}")
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} samples but y has {len(y)}")
    order = make_rng(rng).permutation(len(X))
    n_test = max(1, int(round(test_fraction * len(X))))
    test, train = order[:n_test], order[n_test:]
    return Split(X[train], y[train], X[test], y[test])


def standardize_split(split: Split) -> Split:
    """Zero mean and unit variance per feature, with statistics of the training part only.

    Constant features (a pixel that is always 0) keep a scale of 1 instead of dividing by 0.
    This is :func:`coursekit.preprocessing.standardize` fitted on ``X_train``.
    """
    X_train, transform = standardize(split.X_train)
    return Split(X_train, split.y_train, transform(split.X_test), split.y_test)


def _digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data.astype(np.float64), data.target.astype(np.int64)


def load_digits_multiclass(test_fraction: float = 0.25, standardize: bool = True, rng=0) -> Split:
    """The ten-class digits problem: ``X`` ``(N, 64)``, labels 0..9."""
    X, y = _digits()
    split = train_test_split(X, y, test_fraction, rng)
    return standardize_split(split) if standardize else split


def load_digits_binary(
    digit: int = 2, test_fraction: float = 0.25, standardize: bool = True, rng=0
) -> Split:
    """The "``digit`` vs not ``digit``" problem: labels 1.0 for the digit and 0.0 for every other.

    About one image in ten is positive, so a classifier that always says "no" already
    scores ~90%: compare accuracies with that baseline.
    """
    if digit not in range(10):
        raise ValueError(f"load_digits_binary: expected a digit in 0..9, got {digit!r}")
    X, y = _digits()
    split = train_test_split(X, (y == digit).astype(np.float64), test_fraction, rng)
    return standardize_split(split) if standardize else split


def make_blobs(
    n: int = 200, centers: int = 2, dim: int = 2, spread: float = 1.0, distance: float = 4.0, rng=0
):
    """``centers`` Gaussian clusters with centres on a circle of radius ``distance/2``.

    Returns ``X (n, dim)`` and integer labels ``(n,)``.
    """
    if centers < 2 or dim < 2:
        raise ValueError(f"make_blobs: expected centers >= 2 and dim >= 2, got {centers}, {dim}")
    rng = make_rng(rng)
    labels = np.arange(n) % centers
    angles = 2 * np.pi * np.arange(centers) / centers
    means = np.zeros((centers, dim))
    means[:, 0], means[:, 1] = np.cos(angles), np.sin(angles)
    X = means[labels] * distance / 2 + spread * rng.standard_normal((n, dim))
    return X, labels.astype(np.int64)


def make_xor(n: int = 200, noise: float = 0.2, rng=0):
    """Four clusters at (+-1, +-1); label 1 when the signs differ (XOR), else 0."""
    rng = make_rng(rng)
    corners = rng.integers(0, 2, size=(n, 2)) * 2 - 1
    X = corners + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return X.astype(np.float64), y


def make_spirals(n: int = 300, classes: int = 2, noise: float = 0.1, turns: float = 1.5, rng=0):
    """Interleaved spiral arms, one per class (the cs231n toy problem), in [-1, 1]^2."""
    if classes < 2:
        raise ValueError(f"make_spirals: expected classes >= 2, got {classes}")
    rng = make_rng(rng)
    labels = np.arange(n) % classes
    r = rng.uniform(0.05, 1.0, n)
    theta = 2 * np.pi * (turns * r + labels / classes) + noise * rng.standard_normal(n)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return X, labels.astype(np.int64)

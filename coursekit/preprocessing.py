r"""Input normalisation and whitening, fitted on training data and applied to test data.

Every transform is affine, $x \mapsto M (x - \mu)$, i.e. ``(X - mean) @ M.T`` for a batch
``X`` of shape ``(N, D)``. For linear regression with the mean loss the Hessian is the
second-moment matrix $C = X^\top X / N$, so the transform changes the condition number
that gradient descent sees (:func:`condition_number`):

- standardise: $M = \mathrm{diag}(1/\sigma)$ (zero mean, unit variance per feature);
- PCA whitening: $M = (D + \epsilon I)^{-1/2} E^\top$ with $C = E D E^\top$ the
  eigendecomposition of the covariance (features decorrelated, unit variance);
- ZCA whitening: $M = E (D + \epsilon I)^{-1/2} E^\top$ (the same, rotated back so the
  result stays close to the original inputs).

Covariances use $1/N$ (like ``np.cov(..., bias=True)`` and scikit-learn's
``StandardScaler``), so with ``eps = 0`` the whitened training covariance is exactly $I$.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range

__all__ = ["AffineTransform", "standardize", "pca_whiten", "zca_whiten", "condition_number"]


class AffineTransform:
    r"""A fitted transform $x \mapsto M (x - \mu)$: ``mean`` ``(D,)``, ``matrix`` ``(K, D)``.

    When ``scale`` ``(D,)`` is given, $M = \mathrm{diag}(1/\text{scale})$ and the transform
    divides by it feature by feature (no matrix product).
    """

    def __init__(self, mean: np.ndarray, matrix: np.ndarray, name: str, scale=None):
        self.mean, self.matrix, self.name = mean, matrix, name
        self.scale = scale

    def __call__(self, X) -> np.ndarray:
        """Apply to ``X`` of shape ``(N, D)``; returns ``(N, K)``."""
        X = as_batch(X, f"{self.name} input", features=self.mean.size)
        if self.scale is not None:
            return (X - self.mean) / self.scale
        return (X - self.mean) @ self.matrix.T

    transform = __call__

    def __repr__(self):
        return f"AffineTransform({self.name}, {self.matrix.shape[1]} -> {self.matrix.shape[0]} features)"


def _covariance(X: np.ndarray):
    mean = X.mean(axis=0)
    Xc = X - mean
    return mean, Xc.T @ Xc / X.shape[0]


def standardize(X):
    """Zero mean, unit variance per feature: returns ``(X_std, transform)``.

    A constant feature (variance 0) is only centred (its scale is left at 1, as
    scikit-learn's ``StandardScaler`` does) instead of dividing by zero.
    """
    X = as_batch(X, "standardize X")
    mean, std = X.mean(axis=0), X.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    t = AffineTransform(mean, np.diag(1.0 / scale), "standardize", scale=scale)
    return t(X), t


def _whiten(X, eps: float, zca: bool):
    name = "zca_whiten" if zca else "pca_whiten"
    X = as_batch(X, f"{name} X")
    eps = in_range(float(eps), f"{name} eps", low=0.0)
    mean, C = _covariance(X)
    d, E = np.linalg.eigh(C)
    d = np.clip(d, 0.0, None) + eps
    if np.any(d <= 0):
        raise ValueError(
            f"{name}: the covariance is singular ({int(np.sum(d <= 0))} zero eigenvalues); "
            "expected eps > 0 for such data"
        )
    M = E.T / np.sqrt(d)[:, None]  # D^{-1/2} E^T
    if zca:
        M = E @ M
    t = AffineTransform(mean, M, name)
    return t(X), t


def pca_whiten(X, eps: float = 0.0):
    r"""PCA whitening $x \mapsto (D + \epsilon)^{-1/2} E^\top (x - \mu)$: returns ``(X_white, transform)``.

    Output columns are the principal components in ascending order of variance.
    """
    return _whiten(X, eps, zca=False)


def zca_whiten(X, eps: float = 0.0):
    r"""ZCA whitening $x \mapsto E (D + \epsilon)^{-1/2} E^\top (x - \mu)$: returns ``(X_white, transform)``."""
    return _whiten(X, eps, zca=True)


def condition_number(X) -> float:
    r"""$\kappa(X^\top X / N) = \lambda_{max}/\lambda_{min}$: the conditioning GD sees in linear regression.

    ``inf`` when $X^\top X$ is singular. (Uncentred: the Hessian of the mean squared
    loss of a model without bias is the second moment, not the covariance.)
    """
    X = as_batch(X, "condition_number X")
    lam = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    if lam[0] <= 1e-14 * lam[-1]:
        return float("inf")
    return float(lam[-1] / lam[0])

"""Instruments for a network at one batch: signal statistics, spectra and ranks by layer.

Layer ``i`` of a :class:`~coursekit.layers.Sequential` produces the signal ``h_i`` of
shape ``(N, D_i)``; the instruments run the network one layer at a time to keep every
``h_i`` (and, given a loss, every back-propagated ``dLoss/dh_i``).

Conventions (stated once, used everywhere):

* mean and variance of a signal are over ALL its entries (batch and units together),
  the biased (1/n) variance, as in the variance argument of the initialisation lecture;
* the covariance of a signal is over the batch, per pair of units, centred, with 1/(N-1)
  (``np.cov(h, rowvar=False)``); its eigenvalues are computed as $s_k^2/(N-1)$ from the
  singular values $s_k$ of the centred ``h``, so they are never negative;
* the numerical rank counts singular values above ``rtol * s_max``, the convention of
  ``np.linalg.matrix_rank`` and ``torch.linalg.matrix_rank``, whose default rtol is
  ``max(N, D) * eps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_batch
from .layers import Sequential

__all__ = [
    "LayerStatistics",
    "forward_by_layer",
    "layer_statistics",
    "covariance_spectrum",
    "numerical_rank",
    "effective_rank",
    "dead_units",
    "covariance_condition",
    "log_variance_rate",
    "rank_by_layer",
    "spectrum_by_layer",
]


def _check_model(model, name):
    if not isinstance(model, Sequential):
        raise TypeError(f"{name}: expected a coursekit Sequential, got {type(model).__name__}")


def forward_by_layer(model: Sequential, X) -> list[np.ndarray]:
    """``[h_1, ..., h_L]``: the output of each layer of ``model`` for the batch ``X`` ``(N, D)``.

    Runs ``layer.forward`` in order (in the model's current train/eval mode, so a
    training-mode BatchNorm updates its running statistics, as in one forward pass).
    """
    _check_model(model, "forward_by_layer")
    h = as_batch(X, "forward_by_layer input")
    out = []
    for layer in model.layers:
        h = layer.forward(h)
        out.append(h)
    return out


@dataclass
class LayerStatistics:
    """Per-layer statistics; every array has one entry per layer of the model.

    ``act_mean``, ``act_var``: mean and variance of the layer's output ``h_i``;
    ``grad_mean``, ``grad_var``: of ``dLoss/dh_i`` (NaN when no loss was given);
    ``weight_grad_var``: variance of ``dLoss/dW`` for layers with a weight (NaN elsewhere).
    ``names``: the layers' class names; :meth:`select` keeps the layers of one kind.
    """

    names: list[str]
    act_mean: np.ndarray
    act_var: np.ndarray
    grad_mean: np.ndarray
    grad_var: np.ndarray
    weight_grad_var: np.ndarray

    def mask(self, kind: type | str) -> np.ndarray:
        """Boolean mask of the layers whose class is ``kind`` (a class or its name)."""
        name = kind if isinstance(kind, str) else kind.__name__
        if name not in self.names:
            raise ValueError(
                f"LayerStatistics: no layer of kind {name!r}; layers are {sorted(set(self.names))}"
            )
        return np.array([n == name for n in self.names])

    def select(self, kind: type | str) -> LayerStatistics:
        """The same record restricted to the layers of one kind, e.g. ``stats.select(Linear)``."""
        m = self.mask(kind)
        arrays = {
            k: getattr(self, k)[m]
            for k in ("act_mean", "act_var", "grad_mean", "grad_var", "weight_grad_var")
        }
        return LayerStatistics(
            names=[n for n, keep in zip(self.names, m, strict=True) if keep], **arrays
        )

    def __len__(self):
        return len(self.names)


def layer_statistics(
    model: Sequential, X, loss=None, target=None, grad_output=None
) -> LayerStatistics:
    """Forward (and, given ``loss`` and ``target``, backward) statistics by layer for one batch.

    With a loss, runs ``loss.forward(h_L, target)`` then the backward pass layer by layer,
    recording ``dLoss/dh_i`` before layer ``i``'s backward; it fills the layers' ``grads``
    as ``model.backward`` would. Instead of a loss, ``grad_output`` ``(N, D_L)`` may give
    ``dLoss/dh_L`` directly: random unit-variance noise is the variance argument's
    assumption of a back-propagated signal independent of the forward one. ``X``: ``(N, D)``.
    """
    hs = forward_by_layer(model, X)
    n = len(hs)
    grad_mean, grad_var, wvar = (np.full(n, np.nan) for _ in range(3))
    if (loss is None) != (target is None):
        raise ValueError("layer_statistics: expected both loss and target, or neither")
    if loss is not None and grad_output is not None:
        raise ValueError("layer_statistics: expected a loss or a grad_output, not both")
    g = None
    if loss is not None:
        loss.forward(hs[-1], target)
        g = loss.backward()
    elif grad_output is not None:
        g = as_batch(grad_output, "layer_statistics grad_output", features=hs[-1].shape[1])
        if g.shape != hs[-1].shape:
            raise ValueError(
                f"layer_statistics: expected grad_output of shape {hs[-1].shape} (the output's), got {g.shape}"
            )
    if g is not None:
        for i in range(n - 1, -1, -1):
            grad_mean[i], grad_var[i] = g.mean(), g.var()
            layer = model.layers[i]
            g = layer.backward(g)
            if "weight" in layer.grads:
                wvar[i] = layer.grads["weight"].var()
    return LayerStatistics(
        names=[type(layer).__name__ for layer in model.layers],
        act_mean=np.array([h.mean() for h in hs]),
        act_var=np.array([h.var() for h in hs]),
        grad_mean=grad_mean,
        grad_var=grad_var,
        weight_grad_var=wvar,
    )


def _singular_values(H, name):
    H = as_batch(H, name)
    if H.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 samples to centre, got shape {H.shape}")
    return np.linalg.svd(H - H.mean(axis=0), compute_uv=False), H.shape


def covariance_spectrum(H) -> np.ndarray:
    r"""Eigenvalues of the covariance of the signal ``H`` ``(N, D)``, descending, length D.

    $C = \frac{1}{N-1} (H - \bar H)^T (H - \bar H)$; eigenvalues $s_k^2/(N-1)$ from the
    singular values of the centred ``H``, padded with zeros when N <= D.
    """
    s, (n, d) = _singular_values(H, "covariance_spectrum")
    ev = np.zeros(d)
    ev[: s.size] = s**2 / (n - 1)
    return ev


def numerical_rank(H, rtol: float | None = None) -> int:
    r"""Rank of the centred signal ``H`` ``(N, D)`` (= rank of its covariance).

    Counts singular values $s_k > \text{rtol}\cdot s_{\max}$; ``rtol=None`` is
    ``max(N, D) * eps`` like ``np.linalg.matrix_rank``. A constant signal has rank 0.
    """
    s, (n, d) = _singular_values(H, "numerical_rank")
    if rtol is None:
        rtol = max(n, d) * np.finfo(s.dtype).eps
    if not 0 <= rtol < 1:
        raise ValueError(f"numerical_rank: expected rtol in [0, 1), got {rtol}")
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > rtol * s[0]))


def effective_rank(H) -> float:
    r"""Participation ratio of the covariance spectrum: $(\sum_k\lambda_k)^2/\sum_k\lambda_k^2$.

    How many directions carry the variance of ``H`` ``(N, D)``: D for an isotropic signal,
    1 when a single direction carries it all, and unlike :func:`numerical_rank` it does not
    depend on a tolerance (a direction with 1e-4 of the top variance counts for ~0, not 1).
    A constant signal gives 0.
    """
    ev = covariance_spectrum(H)
    total = ev.sum()
    return float(total**2 / np.sum(ev**2)) if total > 0 else 0.0


def dead_units(H) -> int:
    """Number of units (columns of ``H`` ``(N, D)``) that are constant over the batch: a
    ReLU whose pre-activation is negative for every input outputs 0 for all of them and
    passes no gradient back (a "dead" unit)."""
    H = as_batch(H, "dead_units")
    return int(np.count_nonzero(np.ptp(H, axis=0) == 0))


def covariance_condition(H) -> float:
    r"""$\kappa = \lambda_{\max}/\lambda_{\min}$ of the covariance of the live units of ``H`` ``(N, D)``.

    Units that are constant over the batch (:func:`dead_units`) are left out: they carry
    no signal, and a read-out trained by gradient descent never moves along them, so they
    do not slow it down. Among the live units, $\kappa$ is the condition number that sets
    GD's rate $(\kappa-1)/(\kappa+1)$ on a quadratic with this Hessian (lecture 04).
    ``inf`` when the covariance of the live units is singular; NaN when fewer than two
    units are live. Beyond about $10^{15}$ the smallest eigenvalue is float64 rounding.
    """
    H = as_batch(H, "covariance_condition")
    live = H[:, np.ptp(H, axis=0) > 0]
    if live.shape[1] < 2:
        return float("nan")
    ev = covariance_spectrum(live)
    return float(ev[0] / ev[-1]) if ev[-1] > 0 else float("inf")


def log_variance_rate(values) -> float:
    r"""Change of $\ln v$ per layer from the first to the last entry of ``values``:
    $(\ln v_L - \ln v_1)/(L - 1)$. A layer that multiplies the variance by $a$ has rate
    $\ln a$; read a backward series from the output down, i.e. pass ``values[::-1]``."""
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size < 2 or not np.all(v > 0) or not np.all(np.isfinite(v)):
        raise ValueError(
            f"log_variance_rate: expected at least two positive finite variances, got {v}"
        )
    return float((np.log(v[-1]) - np.log(v[0])) / (v.size - 1))


def _kept(model, kind):
    if kind is None:
        return [True] * len(model.layers)
    names = kind if isinstance(kind, tuple) else (kind,)
    names = tuple(k if isinstance(k, str) else k.__name__ for k in names)
    return [type(layer).__name__ in names for layer in model.layers]


def rank_by_layer(
    model: Sequential, X, rtol: float | None = None, kind: type | str | tuple | None = None
) -> np.ndarray:
    """:func:`numerical_rank` of each layer's output (only layers of ``kind`` when given)."""
    hs = forward_by_layer(model, X)
    return np.array(
        [numerical_rank(h, rtol) for h, keep in zip(hs, _kept(model, kind), strict=True) if keep]
    )


def spectrum_by_layer(
    model: Sequential, X, kind: type | str | tuple | None = None
) -> list[np.ndarray]:
    """:func:`covariance_spectrum` of each layer's output (only layers of ``kind`` when given)."""
    hs = forward_by_layer(model, X)
    return [covariance_spectrum(h) for h, keep in zip(hs, _kept(model, kind), strict=True) if keep]

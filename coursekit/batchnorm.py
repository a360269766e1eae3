r"""Batch normalisation (Ioffe & Szegedy 2015) as a layer with forward and backward.

Training mode, for a batch ``x`` of shape ``(N, C)``, per feature (column) c:

$$\mu = \frac1N\sum_n x_n,\quad \sigma^2 = \frac1N\sum_n (x_n-\mu)^2,\quad
\hat x = \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}},\quad y = \gamma\,\hat x + \beta.$$

Backward with $g = \partial L/\partial y$ (every sample's $\hat x$ depends on the whole
batch through $\mu$ and $\sigma$, hence the two batch sums):

$$\frac{\partial L}{\partial x} = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}
\Big(N g - \sum_n g_n - \hat x \sum_n g_n \hat x_n\Big),\quad
\frac{\partial L}{\partial\gamma} = \sum_n g_n\hat x_n,\quad
\frac{\partial L}{\partial\beta} = \sum_n g_n.$$

Running statistics, updated in training mode exactly as ``torch.nn.BatchNorm1d``:
$\bar\mu \leftarrow (1-m)\bar\mu + m\mu$ and
$\bar\sigma^2 \leftarrow (1-m)\bar\sigma^2 + m\frac{N}{N-1}\sigma^2$ (the UNBIASED batch
variance, while the normalisation itself uses the biased one); ``momentum=None`` makes
$m = 1/t$ at the t-th batch, a cumulative average. Eval mode normalises with
$\bar\mu, \bar\sigma^2$ and updates nothing; the layer is then a fixed affine map and
its backward is $g\,\gamma/\sqrt{\bar\sigma^2+\epsilon}$.

Differences from the lecture slide: it writes the running variance with the biased 1/N
and deviations from the running mean; torch (and this layer) use the batch mean and N-1.
Differences from torch: only ``(N, C)`` inputs (no ``(N, C, L)``); ``momentum`` must lie
in [0, 1] (torch accepts any float).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range
from .layers import Module

__all__ = ["BatchNorm1d"]


class BatchNorm1d(Module):
    """``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``.

    ``params``: ``weight`` (gamma, ones) and ``bias`` (beta, zeros), each ``(C,)``, when
    ``affine``. Buffers (``named_buffers()``, also the attributes of the same names, as in
    torch): ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``
    (0) when ``track_running_stats``; ``state_dict`` includes them under torch's names.
    Without running statistics, eval mode uses the batch statistics too (as torch does).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=np.float64,
    ):
        super().__init__()
        if int(num_features) < 1:
            raise ValueError(f"BatchNorm1d: expected num_features >= 1, got {num_features}")
        self.num_features = int(num_features)
        self.eps = in_range(float(eps), "BatchNorm1d eps", low=0.0, low_open=True)
        if momentum is not None:
            momentum = in_range(float(momentum), "BatchNorm1d momentum", low=0.0, high=1.0)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.params = {
                "weight": np.ones(self.num_features, dtype=dtype),
                "bias": np.zeros(self.num_features, dtype=dtype),
            }
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        if self.track_running_stats:
            self._buffers = {
                "running_mean": np.zeros(self.num_features, dtype=dtype),
                "running_var": np.ones(self.num_features, dtype=dtype),
                "num_batches_tracked": np.array(0, dtype=np.int64),
            }
        self._cache = None

    def _uses_batch_stats(self) -> bool:
        return self.training or not self.track_running_stats

    @property
    def running_mean(self) -> np.ndarray:
        return self._buffers["running_mean"]

    @property
    def running_var(self) -> np.ndarray:
        return self._buffers["running_var"]

    @property
    def num_batches_tracked(self) -> np.ndarray:
        return self._buffers["num_batches_tracked"]

    def _update_running(self, mean, var, n):
        b = self._buffers
        b["num_batches_tracked"] = np.array(int(b["num_batches_tracked"]) + 1, dtype=np.int64)
        m = 1.0 / int(b["num_batches_tracked"]) if self.momentum is None else self.momentum
        b["running_mean"] = (1 - m) * b["running_mean"] + m * mean
        b["running_var"] = (1 - m) * b["running_var"] + m * var * (n / (n - 1))

    def forward(self, x):
        x = as_batch(x, "BatchNorm1d input", features=self.num_features)
        n = x.shape[0]
        if self._uses_batch_stats():
            if n < 2:  # torch checks this whenever batch statistics are used
                raise ValueError(
                    f"BatchNorm1d: Expected more than 1 value per channel when training, got input size {x.shape}"
                )
            mean, var = x.mean(axis=0), x.var(axis=0)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean) * inv_std
        self._cache = (xhat, inv_std, self._uses_batch_stats())
        if not self.affine:
            return xhat
        return self.params["weight"] * xhat + self.params["bias"]

    def backward(self, grad_out, input_grad: bool = True):
        xhat, inv_std, batch_stats = self._need_forward(self._cache)
        g = self._check_grad(grad_out, xhat.shape)
        gamma = self.params["weight"] if self.affine else 1.0
        if self.affine:
            self.grads["weight"] = (g * xhat).sum(axis=0)
            self.grads["bias"] = g.sum(axis=0)
        if not input_grad:
            return None
        if not batch_stats:
            return g * (gamma * inv_std)
        n = g.shape[0]
        return (gamma * inv_std / n) * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))

    def __repr__(self):
        return (
            f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats})"
        )

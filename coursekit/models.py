r"""One builder for the course's networks: :func:`mlp`, in numpy or in PyTorch, with or without BN.

``mlp([64, 32, 10])`` is ``Linear(64, 32), ReLU(), Linear(32, 10)``;
``batchnorm=True`` puts a ``BatchNorm1d`` after every hidden ``Linear``;
``backend="torch"`` builds the same layers as a ``torch.nn.Sequential`` with the same
``state_dict`` keys, so weights copy between the two (:mod:`coursekit.torch_utils`).
The layout itself is :func:`coursekit.layers.mlp_layout`. :class:`coursekit.layers.MLP`
and :func:`coursekit.torch_utils.mlp_torch` are older names of special cases, kept for
solutions/03 until it moves to :func:`mlp`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .batchnorm import BatchNorm1d
from .layers import LayerSpec, Sequential, build_numpy, mlp_layout

__all__ = ["mlp", "BACKENDS"]

BACKENDS = ("numpy", "torch")


def mlp(
    sizes,
    activation: str = "relu",
    *,
    output: str | None = None,
    batchnorm: bool = False,
    backend: str = "numpy",
    rng=None,
    dtype=None,
) -> Any:
    """A multilayer perceptron of layer ``sizes`` (see :func:`coursekit.layers.mlp_layout`).

    ``backend="numpy"``: a coursekit :class:`~coursekit.layers.Sequential` whose Linear
    layers draw their weights from ``rng`` (``None``: the course seed), float64 unless
    ``dtype`` says otherwise. ``backend="torch"``: a ``torch.nn.Sequential`` initialised
    by torch's own generator (seed it with :func:`coursekit.seeding.seed`), float64 unless
    ``dtype`` is another ``torch.dtype``; ``rng`` must then be ``None`` (to copy a numpy
    network's weights, use :func:`coursekit.torch_utils.to_torch`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"mlp: expected backend in {BACKENDS}, got {backend!r}")
    spec = mlp_layout(sizes, activation, output, batchnorm, caller="mlp")
    if backend == "numpy":
        return Sequential(
            *build_numpy(spec, rng, np.float64 if dtype is None else dtype, batchnorm=BatchNorm1d)
        )
    if rng is not None:
        raise ValueError(
            "mlp: backend='torch' initialises with torch's generator, so rng must be None; "
            "seed torch with coursekit.seeding.seed(), or copy a numpy network with "
            "coursekit.torch_utils.to_torch"
        )
    return build_torch(spec, dtype)


def torch_activation(name: str):
    """A new torch activation module by coursekit's name (``"relu"``, ``"softmax"``...)."""
    import torch

    table = {
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "identity": torch.nn.Identity,
        "softmax": lambda: torch.nn.Softmax(dim=-1),
    }
    return table[name]()


def build_torch(spec: list[LayerSpec], dtype=None):
    """A ``torch.nn.Sequential`` for a :func:`~coursekit.layers.mlp_layout` (float64 by default)."""
    import torch

    dtype = torch.float64 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"mlp: backend='torch' expects a torch.dtype, got {dtype!r}")
    layers: list[torch.nn.Module] = []
    for kind, *args in spec:
        if kind == "linear":
            layers.append(torch.nn.Linear(args[0], args[1], dtype=dtype))
        elif kind == "batchnorm":
            layers.append(torch.nn.BatchNorm1d(args[0], dtype=dtype))
        else:
            layers.append(torch_activation(args[0]))
    return torch.nn.Sequential(*layers)

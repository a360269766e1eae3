"""Build the PyTorch twin of a coursekit network, for tests that use torch as the oracle."""

from __future__ import annotations

import numpy as np
import torch

from coursekit import layers as L

TORCH_LAYERS = {
    L.Sigmoid: torch.nn.Sigmoid,
    L.Tanh: torch.nn.Tanh,
    L.ReLU: torch.nn.ReLU,
    L.Identity: torch.nn.Identity,
}


def to_torch(model: L.Sequential) -> torch.nn.Sequential:
    """A float64 ``torch.nn.Sequential`` with the same layers and a copy of the weights."""
    mods = []
    for layer in model.layers:
        if isinstance(layer, L.Linear):
            lin = torch.nn.Linear(
                layer.in_features,
                layer.out_features,
                bias="bias" in layer.params,
                dtype=torch.float64,
            )
            mods.append(lin)
        elif isinstance(layer, L.Softmax):
            mods.append(torch.nn.Softmax(dim=-1))
        elif type(layer) in TORCH_LAYERS:
            mods.append(TORCH_LAYERS[type(layer)]())
        else:
            raise TypeError(f"no torch twin for {layer!r}")
    net = torch.nn.Sequential(*mods)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(dict(model.named_parameters())[name]))
    return net


def t(x) -> torch.Tensor:
    """float64 tensor that requires grad."""
    return torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


def max_rel(a, b) -> float:
    """Relative error against the largest entry (the same measure as coursekit.gradcheck)."""
    a = np.asarray(a.detach() if isinstance(a, torch.Tensor) else a, dtype=float)
    b = np.asarray(b.detach() if isinstance(b, torch.Tensor) else b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return float(np.abs(a - b).max(initial=0) / scale) if scale > 0 else 0.0

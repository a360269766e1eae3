r"""The lecture's scalar backpropagation: loops over neurons, one sample, bias as a weight.

A readable reference, not a tool: every quantity has the lecture's name. Layer k has
neurons j = 1..N_k; ``w[k][i, j]`` is the weight $w^{(k)}_{ij}$ from neuron i of layer
k-1 to neuron j of layer k, and row ``i = 0`` holds the bias: the output of every layer
is extended by the constant $y^{(k-1)}_0 = 1$. Forward:

$$z^{(k)}_j = \sum_{i=0}^{N_{k-1}} w^{(k)}_{ij} y^{(k-1)}_i, \qquad y^{(k)}_j = f_k(z^{(k)}_j).$$

Backward, from $\partial Div/\partial y^{(N)}_i$ at the output down:

$$\frac{\partial Div}{\partial z^{(k)}_j} = f_k'(z^{(k)}_j) \frac{\partial Div}{\partial y^{(k)}_j},\quad
\frac{\partial Div}{\partial w^{(k)}_{ij}} = y^{(k-1)}_i \frac{\partial Div}{\partial z^{(k)}_j},\quad
\frac{\partial Div}{\partial y^{(k-1)}_i} = \sum_j w^{(k)}_{ij} \frac{\partial Div}{\partial z^{(k)}_j}.$$

Python lists stand for the vectors, so index 0 of ``y[k]`` is the constant 1.
:func:`from_sequential` reads these weights off a vectorised coursekit network; the
tests show both give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SCALAR_ACTIVATIONS", "from_sequential", "scalar_forward", "scalar_backward"]


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# name -> (f(z), f'(z))
SCALAR_ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (math.tanh, lambda z: 1.0 - math.tanh(z) ** 2),
    "relu": (lambda z: max(z, 0.0), lambda z: 1.0 if z > 0 else 0.0),
    "identity": (lambda z: z, lambda z: 1.0),
}


def _act(name):
    if name not in SCALAR_ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}: expected one of {sorted(SCALAR_ACTIVATIONS)}"
        )
    return SCALAR_ACTIVATIONS[name]


def from_sequential(model):
    """Weights ``w[k]`` of shape ``(N_{k-1} + 1, N_k)`` (row 0 = bias) and activation names.

    ``model``: a coursekit Sequential of Linear layers, each followed by at most one
    elementwise activation (a Linear with none gets ``"identity"``).
    """
    from .layers import Identity, Linear, ReLU, Sigmoid, Tanh

    names = {Sigmoid: "sigmoid", Tanh: "tanh", ReLU: "relu", Identity: "identity"}
    weights, acts = [], []
    for layer in model.layers:
        if isinstance(layer, Linear):
            b = layer.params.get("bias", np.zeros(layer.out_features))
            weights.append(np.vstack([b[None, :], layer.params["weight"].T]))
            acts.append("identity")
        elif type(layer) in names and weights and acts[-1] == "identity":
            acts[-1] = names[type(layer)]
        else:
            raise ValueError(
                f"from_sequential: expected Linear layers with elementwise activations, got {layer!r}"
            )
    return weights, acts


def scalar_forward(w, acts, x):
    """One sample ``x`` (length D) -> lists ``z[k]`` (index 0 unused) and ``y[k]`` (y[k][0] = 1)."""
    y = [[1.0] + [float(v) for v in x]]
    z = [[None]]
    for k, (wk, name) in enumerate(zip(w, acts), start=1):
        f, _ = _act(name)
        n_prev, n_k = wk.shape[0] - 1, wk.shape[1]
        if len(y[k - 1]) != n_prev + 1:
            raise ValueError(f"layer {k}: expected {n_prev} inputs, got {len(y[k - 1]) - 1}")
        zk = [None] + [
            sum(wk[i, j - 1] * y[k - 1][i] for i in range(n_prev + 1)) for j in range(1, n_k + 1)
        ]
        z.append(zk)
        y.append([1.0] + [f(zk[j]) for j in range(1, n_k + 1)])
    return z, y


def scalar_backward(w, acts, z, y, dDiv_dy):
    """Gradients ``dw[k][i, j]`` = dDiv/dw_ij^(k) and dDiv/dx, from dDiv/dy of the output.

    ``dDiv_dy``: the divergence's derivative w.r.t. the N_K outputs (e.g. ``y - d`` for
    the L2 divergence 1/2 ||y - d||^2).
    """
    K = len(w)
    dy = [None] * (K + 1)
    dy[K] = [None] + [float(v) for v in dDiv_dy]
    dw = [np.zeros_like(wk) for wk in w]
    for k in range(K, 0, -1):
        _, df = _act(acts[k - 1])
        n_prev, n_k = w[k - 1].shape[0] - 1, w[k - 1].shape[1]
        dz = [None] + [df(z[k][j]) * dy[k][j] for j in range(1, n_k + 1)]
        for i in range(n_prev + 1):
            for j in range(1, n_k + 1):
                dw[k - 1][i, j - 1] = y[k - 1][i] * dz[j]
        dy[k - 1] = [None] + [
            sum(w[k - 1][i, j - 1] * dz[j] for j in range(1, n_k + 1)) for i in range(1, n_prev + 1)
        ]
    return dw, np.array(dy[0][1:])

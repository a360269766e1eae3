"""Layers with ``forward`` and ``backward`` side by side, batch first.

Every layer maps a batch ``x`` of shape ``(N, D_in)`` to ``(N, D_out)``. ``forward``
keeps what ``backward`` needs; ``backward(grad_out)`` takes dLoss/dy of shape
``(N, D_out)``, fills ``self.grads`` (same keys as ``self.params``) and returns
dLoss/dx of shape ``(N, D_in)``.

Conventions follow PyTorch where it has the layer: ``Linear.params["weight"]`` is
``(out_features, in_features)`` and ``y = x W^T + b``, exactly ``torch.nn.Linear``.
The lecture writes ``z = W y + b`` for a single column vector ``y``; batch-first
rows turn that into ``x W^T``.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, as_float
from .seeding import make_rng

__all__ = [
    "Module",
    "Linear",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Identity",
    "Softmax",
    "Max",
    "Sequential",
    "MLP",
    "activation",
    "ACTIVATIONS",
    "sigmoid",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
    "make_rng",
]


# ----------------------------------------------------------------------------- functions


def sigmoid(z: np.ndarray) -> np.ndarray:
    """$\\sigma(z) = 1 / (1 + e^{-z})$, evaluated without overflow for large |z|."""
    z = as_float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """$\\log \\mathrm{softmax}(z)_i = z_i - \\log\\sum_j e^{z_j}$, shifted by the max for stability."""
    z = as_float(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """$y_i = e^{z_i} / \\sum_j e^{z_j}$ along ``axis``; rows sum to one."""
    z = as_float(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_jacobian(y: np.ndarray) -> np.ndarray:
    """Jacobian of softmax from its output: $J_{ij} = \\partial y_i/\\partial z_j = y_i(\\delta_{ij} - y_j)$.

    ``y``: ``(N, D)`` softmax outputs -> ``(N, D, D)``; one ``(D, D)`` matrix per sample,
    symmetric, with rows summing to zero (softmax ignores a shift of z).
    """
    y = as_float(y)
    return y[:, :, None] * (np.eye(y.shape[1], dtype=y.dtype) - y[:, None, :])


# ----------------------------------------------------------------------------- base class


class Module:
    """Base class: ``params``/``grads`` dicts, train/eval mode, ``__call__ = forward``."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def train(self, mode: bool = True) -> Module:
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for k, g in self.grads.items():
            self.grads[k] = np.zeros_like(g)

    def _need_forward(self, attr: str):
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    def _check_grad(self, grad_out: np.ndarray, shape) -> np.ndarray:
        grad_out = np.asarray(grad_out)
        if grad_out.shape != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected grad_out of shape {shape} "
                f"(the shape of the forward output), got {grad_out.shape}"
            )
        return grad_out

    def __repr__(self):
        return f"{type(self).__name__}()"


# ----------------------------------------------------------------------------- layers


class Linear(Module):
    """Affine map $y = x W^T + b$ (``torch.nn.Linear``).

    Shapes: x ``(N, in_features)``, W ``(out_features, in_features)``, b ``(out_features,)``.
    Backward: $\\partial L/\\partial W = g^T x$, $\\partial L/\\partial b = \\sum_n g_n$,
    $\\partial L/\\partial x = g W$ with ``g = dL/dy`` of shape ``(N, out_features)``.
    Initialised like PyTorch: both W and b uniform in $\\pm 1/\\sqrt{\\text{in\\_features}}$.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, rng=None, dtype=np.float64
    ):
        super().__init__()
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(
                f"Linear: expected positive in_features and out_features, got {in_features}, {out_features}"
            )
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = make_rng(rng)
        bound = 1.0 / np.sqrt(self.in_features)
        self.params["weight"] = rng.uniform(
            -bound, bound, (self.out_features, self.in_features)
        ).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.out_features).astype(dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None

    def forward(self, x):
        x = as_batch(x, "Linear input", features=self.in_features)
        W = self.params["weight"]
        if x.dtype != W.dtype:
            x = x.astype(W.dtype)
        self._x = x
        y = x @ W.T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, grad_out, input_grad: bool = True):
        """Fill ``grads``; return dL/dx, or ``None`` when ``input_grad=False`` (saves a matmul)."""
        x = self._need_forward("_x")
        g = self._check_grad(grad_out, (x.shape[0], self.out_features))
        self.grads["weight"] = g.T @ x
        if "bias" in self.params:
            self.grads["bias"] = g.sum(axis=0)
        return g @ self.params["weight"] if input_grad else None

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params})"


class _Elementwise(Module):
    """An activation applied to each entry: the Jacobian is diagonal, so backward is ``g * f'(z)``."""

    def forward(self, x):
        x = as_batch(x, f"{type(self).__name__} input")
        self._x = x
        self._y = self._f(x)
        return self._y

    def backward(self, grad_out):
        y = self._need_forward("_y")
        g = self._check_grad(grad_out, y.shape)
        return g * self._df(self._x, y)


class Sigmoid(_Elementwise):
    """$y = \\sigma(z)$, $dy/dz = y(1-y)$."""

    def _f(self, x):
        return sigmoid(x)

    def _df(self, x, y):
        return y * (1.0 - y)


class Tanh(_Elementwise):
    """$y = \\tanh(z)$, $dy/dz = 1 - y^2$."""

    def _f(self, x):
        return np.tanh(x)

    def _df(self, x, y):
        return 1.0 - y * y


class ReLU(_Elementwise):
    """$y = \\max(0, z)$; derivative 1 for z > 0 and 0 for z <= 0 (the subgradient 0 at 0, as PyTorch)."""

    def _f(self, x):
        return np.maximum(x, 0)

    def _df(self, x, y):
        return x > 0  # a boolean mask: g * mask needs no float copy of it


class Identity(_Elementwise):
    """$y = z$: a linear output layer."""

    def _f(self, x):
        return x

    def _df(self, x, y):
        return np.ones_like(x)


class Softmax(Module):
    """Softmax over the last axis, a true vector activation: each y_i depends on every z_j.

    Backward multiplies by the full Jacobian, $\\nabla_z L = \\nabla_y L \\, J$ with
    $J_{ij} = y_i(\\delta_{ij} - y_j)$ (see :func:`softmax_jacobian` and :meth:`jacobian`).
    That costs O(N D^2); for a classifier's output (D = 10) it is cheap, and the fused
    :class:`coursekit.losses.CrossEntropyLoss` skips it altogether.
    """

    def forward(self, x):
        x = as_batch(x, "Softmax input")
        self._y = softmax(x)
        return self._y

    def jacobian(self, x=None) -> np.ndarray:
        """``(N, D, D)`` Jacobians at ``x`` (default: at the last forward input)."""
        y = self._need_forward("_y") if x is None else softmax(as_batch(x, "Softmax input"))
        return softmax_jacobian(y)

    def backward(self, grad_out):
        y = self._need_forward("_y")
        g = self._check_grad(grad_out, y.shape)
        return np.einsum("ni,nij->nj", g, softmax_jacobian(y))


class Max(Module):
    """Max over consecutive groups of ``group_size`` inputs (a maxout unit).

    ``(N, G * group_size) -> (N, G)``. The subgradient is one-hot: each group passes its
    gradient to its argmax (the first one on a tie) and zero to the others.
    """

    def __init__(self, group_size: int):
        super().__init__()
        if int(group_size) < 1:
            raise ValueError(f"Max: expected group_size >= 1, got {group_size}")
        self.group_size = int(group_size)

    def forward(self, x):
        x = as_batch(x, "Max input")
        n, d = x.shape
        if d % self.group_size:
            raise ValueError(
                f"Max: expected the number of features to be a multiple of group_size={self.group_size}, got {d}"
            )
        groups = x.reshape(n, d // self.group_size, self.group_size)
        self._arg = groups.argmax(axis=2)
        self._shape = x.shape
        return np.take_along_axis(groups, self._arg[..., None], axis=2)[..., 0]

    def backward(self, grad_out):
        arg = self._need_forward("_arg")
        n, d = self._shape
        g = self._check_grad(grad_out, arg.shape)
        grad = np.zeros((n, d // self.group_size, self.group_size), dtype=g.dtype)
        np.put_along_axis(grad, arg[..., None], g[..., None], axis=2)
        return grad.reshape(n, d)

    def __repr__(self):
        return f"Max(group_size={self.group_size})"


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
    "softmax": Softmax,
}


def activation(name: str) -> Module:
    """A new activation layer by name: one of ``ACTIVATIONS``."""
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


_new_activation = activation  # MLP's argument named ``activation`` shadows the function


# ----------------------------------------------------------------------------- containers


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    ``parameters()`` and ``gradients()`` list arrays in the same order (layer by layer,
    weight before bias), so an optimiser can zip them. ``named_parameters()`` uses
    PyTorch's names (``"0.weight"``, ``"2.bias"``) so a state can be copied to
    ``torch.nn.Sequential`` and back.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: layer {i} is {type(layer).__name__}, expected a coursekit Module"
                )
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out, input_grad: bool = True):
        """Backward through every layer; ``input_grad=False`` skips dL/dx of a first Linear
        layer (a training step needs only the parameter gradients) and returns ``None``."""
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i == 0 and not input_grad and isinstance(layer, Linear):
                return layer.backward(grad_out, input_grad=False)
            grad_out = layer.backward(grad_out)
        return grad_out

    def train(self, mode: bool = True):
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        return [
            (f"{i}.{k}", v) for i, layer in enumerate(self.layers) for k, v in layer.params.items()
        ]

    def parameters(self) -> list[np.ndarray]:
        return [v for _, v in self.named_parameters()]

    def gradients(self) -> list[np.ndarray]:
        return [layer.grads[k] for layer in self.layers for k in layer.params]

    def named_gradients(self) -> list[tuple[str, np.ndarray]]:
        return [
            (f"{i}.{k}", layer.grads[k])
            for i, layer in enumerate(self.layers)
            for k in layer.params
        ]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed like PyTorch's ``state_dict``."""
        out = {}
        for i, layer in enumerate(self.layers):
            for k, v in layer.params.items():
                out[f"{i}.{k}"] = v.copy()
            for k, v in getattr(layer, "buffers", {}).items():
                out[f"{i}.{k}"] = np.array(v, copy=True)
        return out

    def load_state_dict(self, state: dict) -> None:
        """Copy values into the existing arrays (in place, so optimisers holding them see it)."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if missing or extra:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {extra}")
        for i, layer in enumerate(self.layers):
            for k in layer.params:
                src = np.asarray(state[f"{i}.{k}"])
                if src.shape != layer.params[k].shape:
                    raise ValueError(
                        f"load_state_dict: {i}.{k} expected shape {layer.params[k].shape}, got {src.shape}"
                    )
                layer.params[k][...] = src
            for k in getattr(layer, "buffers", {}):
                layer.buffers[k] = np.array(state[f"{i}.{k}"], copy=True)

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(\n{inner}\n)"


class MLP(Sequential):
    """A multilayer perceptron: Linear layers of ``sizes`` with ``activation`` between them.

    ``MLP([64, 32, 10], activation="relu", output=None)`` is
    ``Linear(64, 32), ReLU(), Linear(32, 10)``; ``output`` names an activation for the last
    layer (``"sigmoid"``, ``"softmax"``...) or ``None`` for raw scores, the input that the
    fused losses (``BCEWithLogitsLoss``, ``CrossEntropyLoss``) expect.
    """

    def __init__(
        self, sizes, activation: str = "relu", output: str | None = None, rng=None, dtype=np.float64
    ):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP: expected at least two positive layer sizes, got {sizes}")
        rng = make_rng(rng)
        layers: list[Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(a, b, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(_new_activation(activation))
        if output is not None:
            layers.append(_new_activation(output))
        super().__init__(*layers)
        self.sizes = sizes

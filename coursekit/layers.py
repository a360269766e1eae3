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

from collections.abc import Callable
from typing import Literal, overload

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
    "mlp_layout",
    "build_numpy",
    "activation",
    "ACTIVATIONS",
    "sigmoid",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
]


# ----------------------------------------------------------------------------- functions


def sigmoid(z: np.ndarray) -> np.ndarray:
    r"""$\sigma(z) = 1 / (1 + e^{-z})$, evaluated without overflow for large |z|."""
    z = as_float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""$\log \mathrm{softmax}(z)_i = z_i - \log\sum_j e^{z_j}$, shifted by the max for stability."""
    z = as_float(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""$y_i = e^{z_i} / \sum_j e^{z_j}$ along ``axis``; rows sum to one."""
    z = as_float(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_jacobian(y: np.ndarray) -> np.ndarray:
    r"""Jacobian of softmax from its output: $J_{ij} = \partial y_i/\partial z_j = y_i(\delta_{ij} - y_j)$.

    ``y``: ``(N, D)`` softmax outputs -> ``(N, D, D)``; one ``(D, D)`` matrix per sample,
    symmetric, with rows summing to zero (softmax ignores a shift of z).
    """
    y = as_float(y)
    return y[:, :, None] * (np.eye(y.shape[1], dtype=y.dtype) - y[:, None, :])


# ----------------------------------------------------------------------------- base class


class Module:
    r"""Base class of every layer and container: one API at every level, as ``torch.nn.Module``.

    A module holds ``params`` and ``grads`` (dicts of arrays with the same keys),
    ``_buffers`` (state that is not trained, such as batch norm's running statistics)
    and ``training``; a container lists its sub-modules in :meth:`named_children`.
    Everything else is written once here and works on a leaf and on a network alike:

    - :meth:`named_parameters` / :meth:`parameters`, :meth:`named_gradients` /
      :meth:`gradients` (same order: the module's own entries, then each child's under
      ``"<child>."``, so ``"0.weight"``, ``"2.bias"`` as in PyTorch), :meth:`named_buffers`
      / :meth:`buffers`;
    - :meth:`train` / :meth:`eval` (recursive), :meth:`zero_grad`;
    - :meth:`state_dict` / :meth:`load_state_dict` (parameters and buffers, torch's keys).

    Subclasses implement ``forward(x)`` and ``backward(grad_out, input_grad=True)``:
    backward fills ``grads`` and returns $\partial L/\partial x$, or ``None`` when
    ``input_grad=False`` (a training step needs only the parameter gradients).
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @overload
    def backward(self, grad_out: np.ndarray, input_grad: Literal[True] = ...) -> np.ndarray: ...

    @overload
    def backward(self, grad_out: np.ndarray, input_grad: bool) -> np.ndarray | None: ...

    def backward(
        self, grad_out: np.ndarray, input_grad: bool = True
    ) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    # ------------------------------------------------------------------ structure

    def named_children(self) -> list[tuple[str, Module]]:
        """The direct sub-modules with their names; a leaf has none."""
        return []

    def named_modules(self, prefix: str = "") -> list[tuple[str, Module]]:
        """This module (name ``prefix``) and every descendant, depth first."""
        out: list[tuple[str, Module]] = [(prefix, self)]
        for name, child in self.named_children():
            out += child.named_modules(f"{prefix}{name}.")
        return out

    def _named(self, own) -> list[tuple[str, np.ndarray]]:
        return [
            (f"{prefix}{key}", value)
            for prefix, module in self.named_modules()
            for key, value in own(module)
        ]

    # ------------------------------------------------------------------ arrays

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """``(name, array)`` of every parameter; the arrays themselves (an optimiser updates them)."""
        return self._named(lambda m: m.params.items())

    def parameters(self) -> list[np.ndarray]:
        return [v for _, v in self.named_parameters()]

    def named_gradients(self) -> list[tuple[str, np.ndarray]]:
        """``(name, gradient)`` in the order of :meth:`named_parameters`."""
        return self._named(lambda m: [(k, m.grads[k]) for k in m.params])

    def gradients(self) -> list[np.ndarray]:
        """The gradients of the last backward, one per parameter, in the order of :meth:`parameters`."""
        return [g for _, g in self.named_gradients()]

    def named_buffers(self) -> list[tuple[str, np.ndarray]]:
        """``(name, array)`` of every buffer (state that is saved but not trained)."""
        return self._named(lambda m: m._buffers.items())

    def buffers(self) -> list[np.ndarray]:
        """Every buffer, in the order of :meth:`named_buffers` (torch's ``module.buffers()``)."""
        return [v for _, v in self.named_buffers()]

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # ------------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False``: evaluation mode) here and in every sub-module."""
        for _, module in self.named_modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every gradient to zero. A backward overwrites the gradients (they are not
        accumulated as in PyTorch), so training never needs this; it is here for the API."""
        for _, module in self.named_modules():
            for k, g in module.grads.items():
                module.grads[k] = np.zeros_like(g)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed like PyTorch's ``state_dict``."""
        out: dict[str, np.ndarray] = {}
        for prefix, module in self.named_modules():
            for k, v in [*module.params.items(), *module._buffers.items()]:
                out[f"{prefix}{k}"] = np.array(v, copy=True)
        return out

    def load_state_dict(self, state: dict) -> None:
        """Copy values into the existing parameters and buffers, in place (so optimisers
        holding the arrays see it). The keys must be exactly those of :meth:`state_dict`."""
        own = dict(self.named_parameters() + self.named_buffers())
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if missing or extra:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {extra}")
        for key, dst in own.items():
            src = np.asarray(state[key])
            if src.shape != dst.shape:
                raise ValueError(
                    f"load_state_dict: {key} expected shape {dst.shape}, got {src.shape}"
                )
            dst[...] = src

    # ------------------------------------------------------------------ helpers

    def _need_forward(self, value):
        """``value`` (something forward keeps for backward), or an error if forward never ran."""
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ----------------------------------------------------------------------------- layers


class Linear(Module):
    r"""Affine map $y = x W^T + b$ (``torch.nn.Linear``).

    Shapes: x ``(N, in_features)``, W ``(out_features, in_features)``, b ``(out_features,)``.
    Backward: $\partial L/\partial W = g^T x$, $\partial L/\partial b = \sum_n g_n$,
    $\partial L/\partial x = g W$ with ``g = dL/dy`` of shape ``(N, out_features)``.
    Initialised like PyTorch: both W and b uniform in $\pm 1/\sqrt{\text{in\_features}}$.
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
        x = self._need_forward(self._x)
        g = self._check_grad(grad_out, (x.shape[0], self.out_features))
        self.grads["weight"] = g.T @ x
        if "bias" in self.params:
            self.grads["bias"] = g.sum(axis=0)
        return g @ self.params["weight"] if input_grad else None

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params})"


class _Elementwise(Module):
    """An activation applied to each entry: the Jacobian is diagonal, so backward is ``g * f'(z)``."""

    _x: np.ndarray | None = None
    _y: np.ndarray | None = None

    def _f(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _df(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x):
        x = as_batch(x, f"{type(self).__name__} input")
        self._x = x
        self._y = self._f(x)
        return self._y

    def backward(self, grad_out, input_grad: bool = True):
        y = self._need_forward(self._y)
        g = self._check_grad(grad_out, y.shape)
        return g * self._df(self._need_forward(self._x), y) if input_grad else None


class Sigmoid(_Elementwise):
    r"""$y = \sigma(z)$, $dy/dz = y(1-y)$."""

    def _f(self, x):
        return sigmoid(x)

    def _df(self, x, y):
        return y * (1.0 - y)


class Tanh(_Elementwise):
    r"""$y = \tanh(z)$, $dy/dz = 1 - y^2$."""

    def _f(self, x):
        return np.tanh(x)

    def _df(self, x, y):
        return 1.0 - y * y


class ReLU(_Elementwise):
    r"""$y = \max(0, z)$; derivative 1 for z > 0 and 0 for z <= 0 (the subgradient 0 at 0, as PyTorch)."""

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
    r"""Softmax over the last axis, a true vector activation: each y_i depends on every z_j.

    Backward multiplies by the full Jacobian, $\nabla_z L = \nabla_y L \, J$ with
    $J_{ij} = y_i(\delta_{ij} - y_j)$ (see :func:`softmax_jacobian` and :meth:`jacobian`).
    That costs O(N D^2); for a classifier's output (D = 10) it is cheap, and the fused
    :class:`coursekit.losses.CrossEntropyLoss` skips it altogether.
    """

    _y: np.ndarray | None = None

    def forward(self, x):
        x = as_batch(x, "Softmax input")
        self._y = softmax(x)
        return self._y

    def jacobian(self, x=None) -> np.ndarray:
        """``(N, D, D)`` Jacobians at ``x`` (default: at the last forward input)."""
        y = self._need_forward(self._y) if x is None else softmax(as_batch(x, "Softmax input"))
        return softmax_jacobian(y)

    def backward(self, grad_out, input_grad: bool = True):
        y = self._need_forward(self._y)
        g = self._check_grad(grad_out, y.shape)
        return np.einsum("ni,nij->nj", g, softmax_jacobian(y)) if input_grad else None


class Max(Module):
    """Max over consecutive groups of ``group_size`` inputs (a maxout unit).

    ``(N, G * group_size) -> (N, G)``. The subgradient is one-hot: each group passes its
    gradient to its argmax (the first one on a tie) and zero to the others.
    """

    _arg: np.ndarray | None = None

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

    def backward(self, grad_out, input_grad: bool = True):
        arg = self._need_forward(self._arg)
        n, d = self._shape
        g = self._check_grad(grad_out, arg.shape)
        if not input_grad:
            return None
        grad = np.zeros((n, d // self.group_size, self.group_size), dtype=g.dtype)
        np.put_along_axis(grad, arg[..., None], g[..., None], axis=2)
        return grad.reshape(n, d)

    def __repr__(self):
        return f"Max(group_size={self.group_size})"


ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
    "softmax": Softmax,
}


def activation(name: str) -> Module:
    """A new activation layer by name: one of ``ACTIVATIONS`` (any case)."""
    return ACTIVATIONS[_activation_name(name)]()


def _activation_name(name, caller: str = "activation") -> str:
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"{caller}: unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}"
        )
    return key


# ----------------------------------------------------------------------------- containers


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    Layer ``i`` is the child named ``"i"``, so ``parameters()`` and ``gradients()`` list
    arrays layer by layer, weight before bias (an optimiser can zip them), and
    ``named_parameters()`` uses PyTorch's names (``"0.weight"``, ``"2.bias"``): a state
    copies to ``torch.nn.Sequential`` and back.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: layer {i} is {type(layer).__name__}, expected a coursekit Module"
                )
        self.layers = list(layers)

    def named_children(self) -> list[tuple[str, Module]]:
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out, input_grad: bool = True):
        """Backward through every layer, last to first; returns dL/dx of the first layer.

        ``input_grad=False`` tells the first layer that dL/dx is not needed (a training
        step needs only the parameter gradients): whatever that layer is, the parameter
        gradients are the same and the result is ``None``.
        """
        for layer in self.layers[:0:-1]:
            grad_out = layer.backward(grad_out)
        if not self.layers:
            return grad_out if input_grad else None
        if input_grad:
            return self.layers[0].backward(grad_out)
        return self.layers[0].backward(grad_out, input_grad=False)

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(\n{inner}\n)"


# ----------------------------------------------------------------------------- MLP layout

LayerSpec = tuple  # ("linear", in, out) | ("batchnorm", features) | ("activation", name)


def mlp_layout(
    sizes,
    activation: str = "relu",
    output: str | None = None,
    batchnorm: bool = False,
    caller: str = "mlp",
) -> list[LayerSpec]:
    """The layers of a multilayer perceptron, as specifications any backend can build.

    ``sizes = [d_0, d_1, ..., d_L]``: for each hidden layer ``Linear(d_{i-1}, d_i)``, then
    ``BatchNorm1d(d_i)`` when ``batchnorm``, then the activation; then a last
    ``Linear(d_{L-1}, d_L)`` and the ``output`` activation when one is named (``None``:
    raw scores, what the fused losses expect). Layer indices, and so ``state_dict`` keys,
    match the same ``torch.nn.Sequential``. :func:`coursekit.models.mlp` builds it.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"{caller}: expected at least two positive layer sizes, got {sizes}")
    act = _activation_name(activation, caller)
    out = None if output is None else _activation_name(output, caller)
    spec: list[LayerSpec] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        spec.append(("linear", a, b))
        if batchnorm:
            spec.append(("batchnorm", b))
        spec.append(("activation", act))
    spec.append(("linear", sizes[-2], sizes[-1]))
    if out is not None:
        spec.append(("activation", out))
    return spec


def build_numpy(spec: list[LayerSpec], rng=None, dtype=np.float64, batchnorm=None) -> list[Module]:
    """coursekit layers for a :func:`mlp_layout`; the Linear layers draw their weights
    from one generator, in order. ``batchnorm`` is the class for ``"batchnorm"`` entries
    (:class:`coursekit.batchnorm.BatchNorm1d`, passed in because that module builds on this one)."""
    rng = make_rng(rng)
    layers: list[Module] = []
    for kind, *args in spec:
        if kind == "linear":
            layers.append(Linear(args[0], args[1], rng=rng, dtype=dtype))
        elif kind == "batchnorm":
            if batchnorm is None:
                raise ValueError("build_numpy: the layout has batch norm but no batchnorm class")
            layers.append(batchnorm(args[0], dtype=dtype))
        else:
            layers.append(activation(args[0]))
    return layers


class MLP(Sequential):
    """A multilayer perceptron: Linear layers of ``sizes`` with ``activation`` between them.

    ``MLP([64, 32, 10], activation="relu", output=None)`` is
    ``Linear(64, 32), ReLU(), Linear(32, 10)``; ``output`` names an activation for the last
    layer (``"sigmoid"``, ``"softmax"``...) or ``None`` for raw scores, the input that the
    fused losses (``BCEWithLogitsLoss``, ``CrossEntropyLoss``) expect.

    Kept for solutions/03 until it moves to :func:`coursekit.models.mlp`: the same network
    as ``mlp(sizes, activation, output=output, rng=rng)``, the one builder (which also adds
    batch norm or builds the torch twin); this class adds only ``sizes``.
    """

    def __init__(
        self, sizes, activation: str = "relu", output: str | None = None, rng=None, dtype=np.float64
    ):
        spec = mlp_layout(sizes, activation, output, caller="MLP")
        super().__init__(*build_numpy(spec, rng, dtype))
        self.sizes = [int(s) for s in sizes]

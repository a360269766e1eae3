r"""Weight initialisers, named and scaled like ``torch.nn.init``, for numpy arrays.

Each ``*_`` function fills a float numpy array IN PLACE (like torch's trailing underscore)
from a ``numpy.random.Generator`` ``rng`` and returns it. Weights are ``(out, in)`` like
``torch.nn.Linear``, so ``fan_in = shape[1]`` and ``fan_out = shape[0]``.

The variance argument of the lectures (inputs and back-propagated gradients uncorrelated,
zero mean): a layer ``y = W x`` multiplies the forward variance by ``fan_in * Var(w)`` and
the backward variance by ``fan_out * Var(w)``. Keeping both at one asks for

* forward:  $\mathrm{Var}(w) = 1/\text{fan\_in}$,
* backward: $\mathrm{Var}(w) = 1/\text{fan\_out}$,
* Glorot/Xavier: their harmonic mean $2/(\text{fan\_in}+\text{fan\_out})$,
* He/Kaiming: $2/\text{fan\_in}$, the factor 2 undoing ReLU's halving of the second moment.

``gain`` multiplies the standard deviation (:func:`calculate_gain`); a uniform
$U(-a, a)$ has variance $a^2/3$, so its bound is $a = \sqrt 3\,\text{std}$.
The standard deviations and bounds are exactly torch's for the same fans and gain; the
random numbers differ (numpy's generator, not torch's).
"""

from __future__ import annotations

import math

import numpy as np

from .layers import Linear, Sequential
from .seeding import make_rng

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "xavier_std",
    "kaiming_std",
    "uniform_bound",
    "zeros_",
    "constant_",
    "normal_",
    "uniform_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "init_mlp",
    "SCHEMES",
]

_LINEAR_NAMES = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended gain for ``nonlinearity``, equal to ``torch.nn.init.calculate_gain``.

    linear/identity/conv*/sigmoid: 1; tanh: 5/3; relu: $\sqrt 2$;
    leaky_relu: $\sqrt{2/(1+a^2)}$ with negative slope ``a = param`` (default 0.01);
    selu: 3/4. (``"identity"`` is an alias of ``"linear"`` added here.)
    """
    name = str(nonlinearity).lower()
    if name in _LINEAR_NAMES:
        return 1.0
    if name == "tanh":
        return 5.0 / 3
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: expected a number as negative_slope, got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if name == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{sorted(_LINEAR_NAMES + ('tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


def _as_weight(weight, name: str, min_ndim: int = 0) -> np.ndarray:
    if not isinstance(weight, np.ndarray) or weight.dtype.kind != "f":
        got = (
            type(weight).__name__ if not isinstance(weight, np.ndarray) else f"dtype {weight.dtype}"
        )
        raise TypeError(f"{name}: expected a float numpy array to fill in place, got {got}")
    if weight.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected an array with at least {min_ndim} dimensions (out, in, ...) "
            f"to compute fan_in and fan_out, got shape {weight.shape}"
        )
    return weight


def fan_in_and_fan_out(weight: np.ndarray) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a ``(out, in, *kernel)`` weight, as torch computes them.

    ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``; a Linear weight
    ``(out, in)`` gives ``(in, out)``.
    """
    w = _as_weight(weight, "fan_in_and_fan_out", min_ndim=2)
    receptive = int(np.prod(w.shape[2:], dtype=np.int64))
    return w.shape[1] * receptive, w.shape[0] * receptive


def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    r"""Glorot's $\text{gain}\sqrt{2/(\text{fan\_in}+\text{fan\_out})}$: the harmonic mean of 1/fan_in and 1/fan_out."""
    if fan_in < 1 or fan_out < 1:
        raise ValueError(
            f"xavier_std: expected positive fans, got fan_in={fan_in}, fan_out={fan_out}"
        )
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def kaiming_std(fan: int, gain: float = math.sqrt(2.0)) -> float:
    r"""He's $\text{gain}/\sqrt{\text{fan}}$; the default gain $\sqrt 2$ is ReLU's."""
    if fan < 1:
        raise ValueError(f"kaiming_std: expected a positive fan, got {fan}")
    return gain / math.sqrt(fan)


def uniform_bound(std: float) -> float:
    r"""The bound a of $U(-a, a)$ with standard deviation ``std``: $a = \sqrt 3\,\text{std}$."""
    return math.sqrt(3.0) * std


def zeros_(weight: np.ndarray) -> np.ndarray:
    """Fill with 0 (every unit then computes the same thing: the symmetry is never broken)."""
    w = _as_weight(weight, "zeros_")
    w[...] = 0.0
    return w


def constant_(weight: np.ndarray, val: float) -> np.ndarray:
    """Fill with ``val``."""
    w = _as_weight(weight, "constant_")
    w[...] = val
    return w


def normal_(weight: np.ndarray, mean: float = 0.0, std: float = 1.0, rng=None) -> np.ndarray:
    r"""Fill with samples of $N(\text{mean}, \text{std}^2)$ (``torch.nn.init.normal_``)."""
    w = _as_weight(weight, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    w[...] = make_rng(rng).normal(mean, std, w.shape)
    return w


def uniform_(weight: np.ndarray, a: float = 0.0, b: float = 1.0, rng=None) -> np.ndarray:
    """Fill with samples of $U(a, b)$ (``torch.nn.init.uniform_``)."""
    w = _as_weight(weight, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    w[...] = make_rng(rng).uniform(a, b, w.shape)
    return w


def xavier_uniform_(weight: np.ndarray, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""$U(-a, a)$ with $a = \text{gain}\sqrt{6/(\text{fan\_in}+\text{fan\_out})}$ (Glorot & Bengio 2010)."""
    bound = uniform_bound(xavier_std(*fan_in_and_fan_out(weight), gain=gain))
    return uniform_(weight, -bound, bound, rng=rng)


def xavier_normal_(weight: np.ndarray, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""$N(0, \text{std}^2)$ with $\text{std} = \text{gain}\sqrt{2/(\text{fan\_in}+\text{fan\_out})}$."""
    return normal_(weight, 0.0, xavier_std(*fan_in_and_fan_out(weight), gain=gain), rng=rng)


def _kaiming(weight, a, mode, nonlinearity, name) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: expected mode 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(weight)
    return kaiming_std(fan_in if mode == "fan_in" else fan_out, calculate_gain(nonlinearity, a))


def kaiming_uniform_(
    weight: np.ndarray,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng=None,
) -> np.ndarray:
    r"""$U(-b, b)$ with $b = \text{gain}\sqrt{3/\text{fan}}$ (He et al. 2015), torch's defaults.

    ``fan`` is fan_in (keeps forward variance) or fan_out (keeps backward variance); the
    default ``leaky_relu`` with slope ``a = 0`` has gain $\sqrt 2$, the same as ``relu``.
    """
    std = _kaiming(weight, a, mode, nonlinearity, "kaiming_uniform_")
    bound = uniform_bound(std)
    return uniform_(weight, -bound, bound, rng=rng)


def kaiming_normal_(
    weight: np.ndarray,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng=None,
) -> np.ndarray:
    r"""$N(0, \text{std}^2)$ with $\text{std} = \text{gain}/\sqrt{\text{fan}}$ (not truncated, like torch)."""
    return normal_(weight, 0.0, _kaiming(weight, a, mode, nonlinearity, "kaiming_normal_"), rng=rng)


SCHEMES = (
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "normal",
    "uniform",
    "zeros",
)


def _init_weight(W, scheme, nonlinearity, std, rng):
    if scheme in ("normal", "uniform"):
        if std is None or not std >= 0:
            raise ValueError(f"init_mlp: scheme {scheme!r} needs std >= 0, got std={std}")
        if scheme == "normal":
            return normal_(W, 0.0, std, rng=rng)
        return uniform_(W, -uniform_bound(std), uniform_bound(std), rng=rng)
    if scheme == "zeros":
        return zeros_(W)
    if scheme.startswith("xavier"):
        gain = 1.0 if nonlinearity is None else calculate_gain(nonlinearity)
        fill = xavier_uniform_ if scheme == "xavier_uniform" else xavier_normal_
        return fill(W, gain=gain, rng=rng)
    fill = kaiming_uniform_ if scheme == "kaiming_uniform" else kaiming_normal_
    return fill(W, nonlinearity=nonlinearity or "relu", rng=rng)


def init_mlp(
    model: Sequential,
    scheme: str = "xavier_uniform",
    nonlinearity: str | None = None,
    std: float | None = None,
    rng=None,
) -> Sequential:
    r"""Re-initialise every :class:`~coursekit.layers.Linear` of ``model`` in place; biases to 0.

    ``scheme``: one of :data:`SCHEMES`. ``nonlinearity`` sets the gain
    (:func:`calculate_gain`); ``None`` means gain 1 for Xavier (Glorot's choice, torch's
    default) and ``"relu"`` for Kaiming (He's). ``"normal"`` and ``"uniform"`` need ``std``
    (the uniform bound is then $\sqrt 3\,\text{std}$), for the "bad scale" experiments.
    Biases are set to zero, as in Glorot & Bengio (torch's ``nn.Linear`` instead draws them
    uniformly in $\pm 1/\sqrt{\text{fan\_in}}$). Other layers are left untouched.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init_mlp: expected scheme in {SCHEMES}, got {scheme!r}")
    if not isinstance(model, Sequential):
        raise TypeError(f"init_mlp: expected a coursekit Sequential, got {type(model).__name__}")
    if nonlinearity is not None:
        calculate_gain(nonlinearity)  # validate the name before touching any weight
    rng = make_rng(rng)
    for layer in model.layers:
        if isinstance(layer, Linear):
            _init_weight(layer.params["weight"], scheme, nonlinearity, std, rng)
            if "bias" in layer.params:
                zeros_(layer.params["bias"])
    return model

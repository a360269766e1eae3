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
from collections.abc import Callable

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
    "one_layer_gains",
    "constant_mlp_",
    "symmetry_gap",
    "mean_field_variances",
    "backward_factor",
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


# ----------------------------------------------------------------------------- the lecture's measurements


def one_layer_gains(n_in: int, n_out: int, var_w: float, n_samples: int = 4000, rng=None):
    r"""Measured variance gains of one bias-free layer $y = W x$, forward and backward.

    Draws $W$ ``(n_out, n_in)`` with entries $N(0, \mathrm{var\_w})$, unit-variance inputs
    ``x`` ``(n_samples, n_in)`` and unit-variance back-propagated gradients
    $\partial L/\partial y$ ``(n_samples, n_out)``, independent of each other (the variance
    argument's assumptions), and returns
    $(\mathrm{Var}\,y / \mathrm{Var}\,x,\ \mathrm{Var}\,\partial L/\partial x \,/\, \mathrm{Var}\,\partial L/\partial y)$,
    whose theory is $(N_\text{in}\mathrm{Var}\,w,\ N_\text{out}\mathrm{Var}\,w)$. One draw of
    W fluctuates around it by about $\sqrt{2/(N_\text{in}N_\text{out})}$ (relative).
    """
    if not var_w > 0:
        raise ValueError(f"one_layer_gains: expected var_w > 0, got {var_w}")
    rng = make_rng(rng)
    layer = Linear(int(n_in), int(n_out), bias=False, rng=rng)
    normal_(layer.params["weight"], std=math.sqrt(var_w), rng=rng)
    X = rng.normal(size=(int(n_samples), int(n_in)))
    G = rng.normal(size=(int(n_samples), int(n_out)))
    y = layer.forward(X)
    dx = layer.backward(G)
    return float(y.var() / X.var()), float(dx.var() / G.var())


def constant_mlp_(model: Sequential, value: float) -> Sequential:
    """Set every weight of every :class:`~coursekit.layers.Linear` of ``model`` to ``value``
    and every bias to 0, in place: the symmetric start (``value=0`` is zero initialisation)."""
    if not isinstance(model, Sequential):
        raise TypeError(
            f"constant_mlp_: expected a coursekit Sequential, got {type(model).__name__}"
        )
    for layer in model.layers:
        if isinstance(layer, Linear):
            constant_(layer.params["weight"], value)
            if "bias" in layer.params:
                zeros_(layer.params["bias"])
    return model


def symmetry_gap(model: Sequential) -> float:
    r"""How far the hidden units of ``model`` are from being copies of each other.

    For every :class:`~coursekit.layers.Linear` layer but the last, the largest difference
    between a unit's incoming weights and bias and those of unit 0,
    $\max_{i,j} |W_{ij} - W_{0j}|$, relative to the layer's largest $|W_{ij}|$; the
    largest over the layers. 0 means every unit of every hidden layer computes the same
    function: the network is as expressive as one with a single unit per layer.
    """
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    if len(linears) < 2:
        raise ValueError("symmetry_gap: expected at least one hidden Linear layer")
    gap = 0.0
    for layer in linears[:-1]:
        W = layer.params["weight"]
        spread = np.abs(W - W[0]).max()
        if "bias" in layer.params:
            b = layer.params["bias"]
            spread = max(spread, np.abs(b - b[0]).max())
        scale = np.abs(W).max()
        gap = max(gap, float(spread / scale) if scale > 0 else float(spread > 0) * np.inf)
    return gap


_Fn = Callable[[np.ndarray], np.ndarray]
_ACT: dict[str, tuple[_Fn, _Fn]] = {
    "tanh": (np.tanh, lambda u: 1.0 - np.tanh(u) ** 2),
    "relu": (lambda u: np.maximum(u, 0.0), lambda u: (u > 0).astype(float)),
    "linear": (lambda u: u, np.ones_like),
}


def _gauss_expectation(f, q: float, points: int) -> float:
    r"""$E_{z\sim N(0,1)}[f(\sqrt q\,z)]$ by Gauss-Hermite quadrature (probabilists')."""
    z, w = np.polynomial.hermite_e.hermegauss(points)
    return float(np.sum(w * f(math.sqrt(q) * z)) / math.sqrt(2 * math.pi))


def mean_field_variances(
    q1: float, layers: int, gain2: float = 1.0, activation: str = "tanh", points: int = 101
) -> np.ndarray:
    r"""The pre-activation variances $q_1, \dots, q_L$ of a wide network at initialisation.

    $q_{\ell+1} = \mathrm{gain}^2\,E_{z\sim N(0,1)}[\phi(\sqrt{q_\ell}\,z)^2]$ for a layer with
    $N\,\mathrm{Var}\,w = \mathrm{gain}^2$ (equal widths, zero biases): the "mean-field"
    recursion (Poole et al. 2016), exact as the width grows. The expectation is computed by
    Gauss-Hermite quadrature with ``points`` nodes (deterministic; no Monte Carlo noise).
    ``activation``: ``"tanh"``, ``"relu"`` or ``"linear"``.
    """
    if activation not in _ACT:
        raise ValueError(
            f"mean_field_variances: expected activation in {sorted(_ACT)}, got {activation!r}"
        )
    if not q1 > 0 or int(layers) < 1:
        raise ValueError(
            f"mean_field_variances: expected q1 > 0 and layers >= 1, got {q1}, {layers}"
        )
    phi = _ACT[activation][0]
    qs = [float(q1)]
    for _ in range(int(layers) - 1):
        qs.append(gain2 * _gauss_expectation(lambda u: phi(u) ** 2, qs[-1], points))
    return np.array(qs)


def backward_factor(
    q: float, gain2: float = 1.0, activation: str = "tanh", points: int = 101
) -> float:
    r"""$\chi = \mathrm{gain}^2\,E_{z\sim N(0,1)}[\phi'(\sqrt q\,z)^2]$: the factor by which one
    layer multiplies the variance of the back-propagated gradient when its pre-activations
    have variance $q$ (Gauss-Hermite quadrature). $\chi > 1$: gradients grow towards the input."""
    if activation not in _ACT:
        raise ValueError(
            f"backward_factor: expected activation in {sorted(_ACT)}, got {activation!r}"
        )
    dphi = _ACT[activation][1]
    return gain2 * _gauss_expectation(lambda u: dphi(u) ** 2, q, points)

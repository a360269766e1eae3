"""coursekit.init against torch.nn.init: gains, fans, exact bounds/stds, sample variances."""

import math

import numpy as np
import pytest
import torch

from coursekit import init
from coursekit.layers import Linear, ReLU, Sequential
from coursekit.models import mlp

NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_equals_torch(name):
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)


@pytest.mark.parametrize("slope", [None, 0, 0.2, 1, 3.5])
def test_leaky_relu_gain_equals_torch(slope):
    ours = init.calculate_gain("leaky_relu", slope)
    assert ours == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15)


def test_calculate_gain_rejects_unknown_names_and_bad_params():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="expected a number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 5), (7, 2), (4, 2, 3, 3), (6, 1, 5)])
def test_fans_equal_torch(shape):
    ours = init.fan_in_and_fan_out(np.zeros(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def _torch_fill(fill, shape, seed, **kw):
    t = torch.empty(shape, dtype=torch.float64)
    return fill(t, generator=torch.Generator().manual_seed(seed), **kw)


# each case: (our std/bound from the lecture formulas, torch initialiser, kwargs, distribution)
FAN_IN, FAN_OUT = 30, 50
CASES = {
    "xavier_uniform": (
        init.uniform_bound(init.xavier_std(FAN_IN, FAN_OUT, 5 / 3)),
        torch.nn.init.xavier_uniform_,
        {"gain": 5 / 3},
        "uniform",
    ),
    "xavier_normal": (
        init.xavier_std(FAN_IN, FAN_OUT, 1.0),
        torch.nn.init.xavier_normal_,
        {},
        "normal",
    ),
    "kaiming_uniform": (
        init.uniform_bound(init.kaiming_std(FAN_IN)),
        torch.nn.init.kaiming_uniform_,
        {"nonlinearity": "relu"},
        "uniform",
    ),
    "kaiming_normal_fan_out": (
        init.kaiming_std(FAN_OUT, math.sqrt(2 / 1.04)),
        torch.nn.init.kaiming_normal_,
        {"mode": "fan_out", "a": 0.2},
        "normal",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bound_and_std_equal_torch_exactly(case):
    """torch fills x = -a + 2a u (uniform) or std z (normal) from its generator: refilling the
    same generator state with OUR bound/std must reproduce torch's tensor to rounding (1e-15)."""
    ours, fill, kw, dist = CASES[case]
    got = _torch_fill(fill, (FAN_OUT, FAN_IN), 7, **kw)
    ref = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    g = torch.Generator().manual_seed(7)
    ref = (
        ref.uniform_(-ours, ours, generator=g)
        if dist == "uniform"
        else ref.normal_(0, ours, generator=g)
    )
    torch.testing.assert_close(got, ref, rtol=1e-14, atol=0)


SAMPLERS = {
    "xavier_uniform": (
        lambda w, rng: init.xavier_uniform_(w, gain=5 / 3, rng=rng),
        lambda t, g: torch.nn.init.xavier_uniform_(t, gain=5 / 3, generator=g),
        "uniform",
    ),
    "xavier_normal": (
        lambda w, rng: init.xavier_normal_(w, rng=rng),
        lambda t, g: torch.nn.init.xavier_normal_(t, generator=g),
        "normal",
    ),
    "kaiming_uniform": (
        lambda w, rng: init.kaiming_uniform_(w, nonlinearity="relu", rng=rng),
        lambda t, g: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu", generator=g),
        "uniform",
    ),
    "kaiming_normal": (
        lambda w, rng: init.kaiming_normal_(w, a=0.2, mode="fan_out", rng=rng),
        lambda t, g: torch.nn.init.kaiming_normal_(t, a=0.2, mode="fan_out", generator=g),
        "normal",
    ),
}


@pytest.mark.parametrize("case", sorted(SAMPLERS))
def test_sample_variance_matches_torch_within_sampling_error(case):
    """Variance of 2e5 samples from ours and from torch, within 4 standard errors of each other.

    Standard error of a sample variance: sqrt(Var(w^2)/n), Var(w^2) = 2 s^4 (normal) or
    4 a^4/45 = 0.8 s^4 (uniform); the difference of two independent estimates has sqrt(2) times it.
    4 standard errors here is 1.3% (normal) or 0.8% (uniform) of the variance.
    """
    ours_fill, torch_fill, dist = SAMPLERS[case]
    shape = (400, 500)  # fan_in 500, fan_out 400
    w = ours_fill(np.empty(shape), np.random.default_rng(0))
    t = torch_fill(
        torch.empty(shape, dtype=torch.float64), torch.Generator().manual_seed(0)
    ).numpy()
    theory = t.var()  # torch's own samples are the oracle; also check against the closed form below
    n = w.size
    kurt = 2.0 if dist == "normal" else 0.8
    se = math.sqrt(kurt / n) * w.var()
    assert abs(w.var() - theory) < 4 * math.sqrt(2) * se
    assert abs(w.mean()) < 4 * math.sqrt(w.var() / n)
    if dist == "uniform":
        bound = np.abs(t).max()
        assert np.abs(w).max() <= bound * (1 + 1e-3)  # both just under the same bound


@pytest.mark.parametrize(
    "fill, var",
    [
        (lambda w, r: init.xavier_uniform_(w, rng=r), 2 / (300 + 200)),
        (lambda w, r: init.xavier_normal_(w, rng=r), 2 / (300 + 200)),
        (lambda w, r: init.kaiming_uniform_(w, rng=r), 2 / 300),
        (lambda w, r: init.kaiming_normal_(w, nonlinearity="tanh", rng=r), (5 / 3) ** 2 / 300),
        (lambda w, r: init.normal_(w, 0.0, 0.3, rng=r), 0.09),
        (lambda w, r: init.uniform_(w, -0.6, 0.6, rng=r), 0.36 / 3),
    ],
)
def test_sample_variance_equals_closed_form(fill, var):
    """The lecture's variances: 2/(fan_in+fan_out), 2/fan_in, gain^2/fan_in, a^2/3 -- within
    4 standard errors of the sample variance of 6e4 draws (se = sqrt(2/n) var at most)."""
    w = fill(np.empty((200, 300)), np.random.default_rng(1))
    assert abs(w.var() - var) < 4 * math.sqrt(2 / w.size) * var


def test_fills_in_place_and_zeros_constant():
    w = np.ones((3, 4))
    out = init.xavier_uniform_(w, rng=0)
    assert out is w and np.all(w != 1.0)
    assert np.all(init.zeros_(w) == 0) and np.all(init.constant_(w, 0.5) == 0.5)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="float numpy array"):
        init.xavier_uniform_([[1.0, 2.0]])
    with pytest.raises(TypeError, match="float numpy array"):
        init.normal_(np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_normal_(np.zeros(5))
    with pytest.raises(ValueError, match="mode 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(np.zeros((2, 2)), mode="fan_avg")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(np.zeros(2), 1.0, 0.0)
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(np.zeros(2), std=-1.0)


def test_init_mlp_sets_every_linear_and_zero_biases():
    model = mlp([400, 300, 300, 10], activation="relu", rng=0)
    init.init_mlp(model, "kaiming_normal", rng=3)
    for layer in model.layers:
        if isinstance(layer, Linear):
            W = layer.params["weight"]
            var = 2.0 / W.shape[1]
            assert abs(W.var() - var) < 4 * math.sqrt(2 / W.size) * var
            assert np.all(layer.params["bias"] == 0)


def test_init_mlp_gain_and_bad_scale():
    model = Sequential(Linear(100, 100), ReLU(), Linear(100, 100))
    init.init_mlp(model, "xavier_uniform", nonlinearity="tanh", rng=0)
    var = (5 / 3) ** 2 * 2 / 200
    assert abs(model[0].params["weight"].var() - var) < 4 * math.sqrt(0.8 / 1e4) * var
    init.init_mlp(model, "normal", std=0.5, rng=0)
    assert abs(model[2].params["weight"].std() - 0.5) < 0.02


def test_init_mlp_validates():
    model = mlp([3, 4, 2])
    with pytest.raises(ValueError, match="expected scheme in"):
        init.init_mlp(model, "orthogonal")
    with pytest.raises(ValueError, match="needs std >= 0"):
        init.init_mlp(model, "normal")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.init_mlp(model, nonlinearity="gelu")
    with pytest.raises(TypeError, match="Sequential"):
        init.init_mlp(Linear(3, 4))

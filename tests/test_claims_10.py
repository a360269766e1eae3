"""Lecture 10's checked claims can fail: each check, driven through the coursekit function
the lecture uses, prints OK on the lecture's input and FAIL on a plausible wrong one."""

import math

import numpy as np
import pytest
import torch

from coursekit.checks import close, passed
from coursekit.data import load_digits_multiclass
from coursekit.depth import deep_sweep
from coursekit.init import (
    backward_factor,
    calculate_gain,
    constant_mlp_,
    init_mlp,
    mean_field_variances,
    one_layer_gains,
    symmetry_gap,
    uniform_bound,
    xavier_std,
    xavier_uniform_,
)
from coursekit.instruments import layer_statistics, log_variance_rate
from coursekit.layers import Linear
from coursekit.losses import CrossEntropyLoss
from coursekit.models import mlp
from coursekit.sweep import Sweep
from coursekit.training import train_full_batch


# ----------------------------------------------------------------------------- one layer
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_layer_gains_match_theory_and_a_variance_10_percent_off_fails(seed):
    n_in, n_out, var_w = 256, 64, 2 / (256 + 64)
    fwd, bwd = one_layer_gains(n_in, n_out, var_w, rng=seed)
    assert close(fwd, n_in * var_w, rtol=0.05) == "OK"
    assert close(bwd, n_out * var_w, rtol=0.05) == "OK"
    fwd, bwd = one_layer_gains(n_in, n_out, 1.1 * var_w, rng=seed)  # a variance 10% off
    assert close(fwd, n_in * var_w, rtol=0.05).startswith("FAIL")
    assert close(bwd, n_out * var_w, rtol=0.05).startswith("FAIL")
    # the backward sum runs over N_out: a theory with N_in fails
    assert close(bwd, n_in * var_w, rtol=0.05).startswith("FAIL")


def test_one_layer_gains_validates():
    with pytest.raises(ValueError, match="var_w > 0"):
        one_layer_gains(4, 4, 0.0)


# ----------------------------------------------------------------------------- Xavier samples
def _torch_xavier_check(gain, seed=0):
    t = torch.nn.init.xavier_normal_(
        torch.empty(256, 1024, dtype=torch.float64),
        gain=gain,
        generator=torch.Generator().manual_seed(seed),
    )
    theory = 2 / (256 + 1024)
    return close(t.var().item(), theory, rtol=0, atol=4 * math.sqrt(2 / t.numel()) * theory)


def test_torch_xavier_sample_variance_check_catches_a_gain_5_percent_off():
    assert _torch_xavier_check(1.0) == "OK"
    assert _torch_xavier_check(math.sqrt(1.1)).startswith("FAIL")


def _uniform_checks(W, fan_in, fan_out):
    delta = uniform_bound(xavier_std(fan_in, fan_out))
    largest = np.abs(W).max()
    se = math.sqrt(4 * delta**4 / 45 / W.size)
    return (
        passed(0.99 * delta < largest <= delta),
        close(W.var(), 2 / (fan_in + fan_out), rtol=0, atol=4 * se),
    )


def test_uniform_checks_catch_a_normal_draw_and_a_wrong_bound():
    W = xavier_uniform_(np.empty((256, 1024)), rng=0)
    assert _uniform_checks(W, 1024, 256) == ("OK", "OK")
    normal = np.random.default_rng(0).normal(0, xavier_std(1024, 256), (256, 1024))
    assert _uniform_checks(normal, 1024, 256)[0].startswith("FAIL")
    narrow = np.random.default_rng(0).uniform(-1, 1, (256, 1024)) * math.sqrt(2 / 1280)
    assert all(v.startswith("FAIL") for v in _uniform_checks(narrow, 1024, 256))


def test_relu_halving_check_catches_a_leaky_relu():
    z = np.random.default_rng(0).normal(scale=1.5, size=1_000_000)
    for slope, expected in ((0.0, "OK"), (0.3, "FAIL")):
        out = np.where(z > 0, z, slope * z) ** 2
        se = math.sqrt(out.var() / z.size) / z.var()
        assert close(out.mean() / z.var(), 0.5, rtol=0, atol=4 * se).startswith(expected)


# ----------------------------------------------------------------------------- thirty layers
X30 = np.random.default_rng(5).normal(size=(256, 256))
G30 = np.random.default_rng(6).normal(size=(256, 256))


def _rates(act, scheme, std=None, nonlinearity=None, seed=0):
    stats = layer_statistics(
        init_mlp(
            mlp([256] * 31, activation=act), scheme, std=std, nonlinearity=nonlinearity, rng=seed
        ),
        X30,
        grad_output=G30,
    ).select(Linear)
    return log_variance_rate(stats.act_var), log_variance_rate(stats.grad_var[::-1]), stats


def test_depth_rate_check_passes_at_theory_and_fails_for_a_variance_10_percent_off():
    fwd, bwd, _ = _rates("identity", "xavier_normal")
    assert close(fwd, 0.0, rtol=0, atol=0.06) == close(bwd, 0.0, rtol=0, atol=0.06) == "OK"
    fwd, bwd, _ = _rates("identity", "normal", std=math.sqrt(1.1 / 256))
    assert close(fwd, 0.0, rtol=0, atol=0.06).startswith("FAIL")
    assert close(bwd, 0.0, rtol=0, atol=0.06).startswith("FAIL")
    # He's variance in a ReLU network keeps the rate at 0 (mean of three, as the lecture)
    runs = [_rates("relu", "kaiming_normal", seed=s) for s in range(3)]
    assert close(np.mean([r[0] for r in runs]), 0.0, rtol=0, atol=0.06) == "OK"
    # ... and Xavier's does not
    assert close(_rates("relu", "xavier_normal")[0], 0.0, rtol=0, atol=0.06).startswith("FAIL")


# ----------------------------------------------------------------------------- tanh mean field
def test_mean_field_quadrature_equals_adaptive_integration_and_known_limits():
    from scipy.integrate import quad

    def gauss(f, q):
        return quad(lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2), -40, 40)[0] / math.sqrt(
            2 * math.pi
        )

    q = [1.0]
    for _ in range(5):
        q.append(gauss(lambda u: np.tanh(u) ** 2, q[-1]))
    np.testing.assert_allclose(mean_field_variances(1.0, 6), q, rtol=1e-10)
    chi = 2.0 * gauss(lambda u: (1 - np.tanh(u) ** 2) ** 2, 0.8)
    assert backward_factor(0.8, gain2=2.0) == pytest.approx(chi, rel=1e-10)
    np.testing.assert_allclose(mean_field_variances(0.7, 5, activation="linear"), 0.7, rtol=1e-12)
    np.testing.assert_allclose(mean_field_variances(1.3, 5, 2.0, "relu"), 1.3, rtol=1e-3)
    assert backward_factor(1e-8, gain2=1.0) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="activation"):
        mean_field_variances(1.0, 3, activation="swish")


def test_tanh_checks_pass_for_the_mean_field_and_fail_for_a_gain_10_percent_off():
    var = np.mean([_rates("tanh", "xavier_normal", seed=s)[2].act_var for s in range(3)], axis=0)
    right = mean_field_variances(1.0, 30)
    wrong = mean_field_variances(1.1, 30, gain2=1.1)
    for layer in (10, 20, 30):
        assert close(var[layer - 1], right[layer - 1], rtol=0.2) == "OK"
    assert close(var[29], wrong[29], rtol=0.2).startswith("FAIL")
    g2 = calculate_gain("tanh") ** 2
    _, bwd, stats = _rates("tanh", "xavier_normal", nonlinearity="tanh")
    q = mean_field_variances(g2, 30, gain2=g2)
    assert close(stats.act_var[-1], q[-1], rtol=0.1) == "OK"
    assert close(bwd, math.log(backward_factor(q[-1], g2)), rtol=0, atol=0.06) == "OK"
    # chi computed without the gain (gain^2 = 1) is the wrong theory
    assert close(bwd, math.log(backward_factor(q[-1], 1.0)), rtol=0, atol=0.06).startswith("FAIL")


# ----------------------------------------------------------------------------- symmetry
DIGITS = load_digits_multiclass(rng=0)
XD, YD = DIGITS.X_train[:128], DIGITS.y_train[:128]


def _train(net, steps=60):
    train_full_batch(net, CrossEntropyLoss(), XD, YD, lr=0.1, steps=steps, show_progress=False)
    return net


def test_constant_start_stays_symmetric_and_a_perturbed_or_random_one_does_not():
    net = _train(constant_mlp_(mlp([64, 16, 16, 10], activation="tanh"), 0.1))
    assert passed(symmetry_gap(net) < 1e-12) == "OK"
    net = constant_mlp_(mlp([64, 16, 16, 10], activation="tanh"), 0.1)
    net.layers[0].params["weight"][3, 5] += 1e-3  # one weight off
    assert passed(symmetry_gap(_train(net)) < 1e-12).startswith("FAIL")
    net = _train(init_mlp(mlp([64, 16, 16, 10], activation="tanh"), "xavier_normal", rng=0))
    assert passed(symmetry_gap(net) < 1e-12).startswith("FAIL")


def test_zero_start_moves_no_hidden_weight_and_outputs_a_constant():
    net = _train(constant_mlp_(mlp([64, 16, 16, 10], activation="relu"), 0.0))
    hidden = [layer for layer in net.layers if isinstance(layer, Linear)][:-1]
    assert all(np.all(layer.params["weight"] == 0) for layer in hidden)
    assert np.ptp(net.forward(XD), axis=0).max() == 0
    assert np.any(net.layers[-1].params["bias"] != 0)  # only the output biases learn
    with pytest.raises(ValueError, match="hidden"):
        symmetry_gap(mlp([3, 2]))


# ----------------------------------------------------------------------------- Xavier against He
@pytest.fixture(scope="module")
def init_sweep():
    sizes = [64] + [32] * 10 + [10]
    builders = {
        "He": lambda s: init_mlp(mlp(sizes), "kaiming_normal", rng=s),
        "Xavier": lambda s: init_mlp(mlp(sizes), "xavier_normal", rng=s),
    }
    result, _ = deep_sweep(
        builders,
        XD,
        YD,
        lrs=np.geomspace(1e-3, 1, 7),
        seeds=[11, 12, 13],
        steps=80,
        momentum=0.9,
    )
    return result


def _restrict(result, keep):
    return Sweep(
        {m: result.lrs[m][keep] for m in result.methods},
        {m: result.scores[m][keep] for m in result.methods},
        result.seeds,
    )


def test_he_beats_xavier_each_tuned_and_the_check_fails_on_wrong_inputs(init_sweep):
    assert init_sweep.compare("He", "Xavier", factor=3).verdict() == "OK"
    # the same method on both sides: no factor 3
    assert init_sweep.compare("Xavier", "Xavier", factor=3).verdict().startswith("FAIL")
    # reversed
    assert init_sweep.compare("Xavier", "He", factor=3).verdict().startswith("FAIL")
    # an untuned Xavier (a grid that stops at 1e-2.5): its best sits at the edge, which fails
    assert (
        _restrict(init_sweep, slice(0, 2))
        .compare("He", "Xavier", 3)
        .verdict()
        .startswith("FAIL (best lr")
    )

"""Lecture 11's checked claims can fail: each check, driven through the coursekit function
the lecture uses, prints OK on the lecture's input and FAIL on a plausible wrong one."""

import math

import numpy as np
import pytest
import torch

from coursekit.batchnorm import BatchNorm1d
from coursekit.checks import beats, close, passed, reached, verdict
from coursekit.data import load_digits_multiclass
from coursekit.depth import (
    deep_sweep,
    learning_rate_claims,
    majority_fraction,
    readout_gd,
    tail_mean,
    torch_loss_curve,
)
from coursekit.init import init_mlp
from coursekit.instruments import (
    covariance_condition,
    covariance_spectrum,
    dead_units,
    effective_rank,
    forward_by_layer,
    numerical_rank,
)
from coursekit.layers import Identity, ReLU
from coursekit.losses import MSELoss
from coursekit.models import mlp
from coursekit.preprocessing import zca_whiten
from coursekit.sweep import Sweep

WIDTH, DEPTH = 32, 50
RAW = np.random.default_rng(7).normal(size=(256, WIDTH))
WHITE, _ = zca_whiten(RAW)


def _block_ends(act, bn, seed, X=WHITE):
    net = mlp([WIDTH] * (DEPTH + 2), activation=act, batchnorm=bn)
    init_mlp(net, "kaiming_normal" if act == "relu" else "xavier_normal", rng=seed)
    hs = forward_by_layer(net, X)
    return net, [
        h for layer, h in zip(net.layers, hs, strict=True) if isinstance(layer, (Identity, ReLU))
    ]


# ----------------------------------------------------------------------------- kappa(C_1) = kappa(W_1)^2
@pytest.mark.parametrize("inputs, expected", [(WHITE, "OK"), (RAW, "FAIL")])
def test_first_layer_condition_is_the_weights_squared_only_for_whitened_inputs(inputs, expected):
    net, ends = _block_ends("identity", False, 0, X=inputs)
    s = np.linalg.svd(net.layers[0].params["weight"], compute_uv=False)
    ev = covariance_spectrum(ends[0])
    assert close(ev[0] / ev[-1], (s[0] / s[-1]) ** 2, rtol=1e-6).startswith(expected)


# ----------------------------------------------------------------------------- ranks and conditioning
@pytest.fixture(scope="module")
def networks():
    out = {}
    for label, act, bn in (
        ("linear", "identity", False),
        ("linear + BN", "identity", True),
        ("ReLU", "relu", False),
        ("ReLU + BN", "relu", True),
    ):
        per = [_block_ends(act, bn, s)[1] for s in (21, 22, 23, 24, 25)]
        out[label] = {
            "eff": np.array([[effective_rank(h) for h in ends] for ends in per]),
            "rank": np.array([[numerical_rank(h, rtol=1e-3) for h in ends] for ends in per]),
            "cond": np.array(
                [[covariance_condition(h) for h in (ends[4], ends[-1])] for ends in per]
            ),
            "dead": np.array([dead_units(ends[-1]) for ends in per]),
            "last": [ends[-1] for ends in per],
        }
    return out


def test_rank_checks_pass_on_the_lecture_input_and_fail_swapped(networks):
    for kind in ("linear", "ReLU"):
        plain, bn = networks[kind]["eff"][:, -1], networks[f"{kind} + BN"]["eff"][:, -1]
        assert passed(np.median(plain) < 2) == "OK"
        assert passed(np.median(bn) < 2).startswith("FAIL")
        names = (f"{kind} + BN", kind)
        assert beats(bn, plain, names, rule="paired", lower_is_better=False).verdict() == "OK"
        assert (
            beats(plain, bn, names, rule="paired", lower_is_better=False)
            .verdict()
            .startswith("FAIL")
        )
    assert passed(np.all(networks["ReLU + BN"]["rank"] == WIDTH)) == "OK"
    assert passed(np.all(networks["ReLU"]["rank"] == WIDTH)).startswith("FAIL")


def test_conditioning_checks_pass_on_the_lecture_input_and_fail_swapped(networks):
    lin, relu, relu_bn = networks["linear"], networks["ReLU"], networks["ReLU + BN"]
    assert passed(np.median(lin["cond"][:, 0]) > 1e8) == "OK"
    assert passed(np.median(relu_bn["cond"][:, 0]) > 1e8).startswith("FAIL")
    assert passed(np.all(relu_bn["dead"] == 0) and np.all(relu_bn["cond"] < 1e4)) == "OK"
    assert passed(np.all(relu["dead"] == 0) and np.all(relu["cond"] < 1e4)).startswith("FAIL")
    names = ("ReLU + BN", "ReLU")
    assert beats(relu_bn["cond"][:, 1], relu["cond"][:, 1], names, 100, "paired").verdict() == "OK"
    assert (
        beats(relu["cond"][:, 1], relu_bn["cond"][:, 1], names, 100, "paired")
        .verdict()
        .startswith("FAIL")
    )


def _steps(signals, lr_factor=None):
    out = []
    for k, h in enumerate(signals):
        lr = None
        if lr_factor is not None:  # a step lr_factor times the largest stable one
            centred = h - h.mean(axis=0)
            lam_max = np.linalg.eigvalsh(centred.T @ centred / (h.shape[0] - 1))[-1]
            lr = lr_factor * 2 / lam_max
        r = readout_gd(h, steps=10_000, lr=lr, tol=1e-2, rng=k)
        s = reached(r["errors"] / r["errors"][0], 1e-2)
        out.append(np.inf if s is None else s)
    return out


def test_readout_check_passes_with_bn_and_fails_swapped_or_past_the_stable_step(networks):
    bn, plain = _steps(networks["ReLU + BN"]["last"]), _steps(networks["ReLU"]["last"])
    names = ("ReLU + BN", "ReLU")
    assert beats(bn, plain, names, rule="every").verdict() == "OK"
    assert beats(plain, bn, names, rule="every").verdict().startswith("FAIL")
    past = _steps(networks["ReLU + BN"]["last"][:2], lr_factor=1.01)  # 1% past 2 / lambda_max
    assert beats(past, plain, names, rule="every").verdict().startswith("FAIL")


# ----------------------------------------------------------------------------- one class for every input
DIGITS = load_digits_multiclass(rng=0)


def _majority(depth, bn, n=10):
    return np.median(
        [
            majority_fraction(
                init_mlp(mlp([64] + [32] * depth + [10], batchnorm=bn), "kaiming_normal", rng=s),
                DIGITS.X_test,
            )
            for s in range(100, 100 + n)
        ]
    )


def test_majority_class_check_holds_deep_without_bn_only():
    assert passed(_majority(50, False) >= 0.9) == "OK"
    assert passed(_majority(50, True) >= 0.9).startswith("FAIL")
    assert passed(_majority(50, True) <= 0.5) == "OK"
    assert passed(_majority(2, False) >= 0.9).startswith("FAIL")


# ----------------------------------------------------------------------------- BN backward and running statistics
def test_eps_term_of_the_orthogonality_and_the_naive_gradient():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 4)) * np.array([1.0, 0.01, 3.0, 0.003])  # small variances: eps matters
    target = rng.normal(size=(8, 4))
    bn = BatchNorm1d(4)
    loss = MSELoss()
    loss.forward(bn.forward(x), target)
    g = loss.backward()
    dx = bn.backward(g)
    xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + bn.eps)
    scale = np.abs(dx).max()
    eps_term = bn.eps / (x.var(0) + bn.eps) ** 1.5 * (g * xhat).sum(0)
    assert verdict(np.abs((dx * xhat).sum(0) - eps_term).max() / scale, 1e-12) == "OK"
    assert verdict(np.abs((dx * xhat).sum(0)).max() / scale, 1e-12).startswith("FAIL")
    naive = g / np.sqrt(x.var(0) + bn.eps)
    assert verdict(np.abs(naive - dx).max() / scale, 1e-12).startswith("FAIL")


def test_running_variance_check_tells_unbiased_from_biased():
    rng = np.random.default_rng(4)
    bn = BatchNorm1d(8, momentum=None)
    for _ in range(1000):
        bn.forward(rng.normal(3.0, 2.0, size=(16, 8)))
    se = 4 * math.sqrt(2 / (1000 * 15 * 8))
    for rv, expected in (
        (bn.running_var.mean(), "OK"),
        (bn.running_var.mean() * 15 / 16, "FAIL"),
    ):
        assert passed(abs(rv - 4) < 4 * se and abs(rv - 4) < abs(rv - 3.75)).startswith(expected)


# ----------------------------------------------------------------------------- learning rates, numpy and torch
@pytest.fixture(scope="module")
def lr_sweep():
    X, y = DIGITS.X_train[:128], DIGITS.y_train[:128]
    sizes = [64] + [32] * 16 + [10]
    builders = {
        "no BN": lambda s: init_mlp(mlp(sizes, batchnorm=False), "kaiming_normal", rng=s),
        "BN": lambda s: init_mlp(mlp(sizes, batchnorm=True), "kaiming_normal", rng=s),
    }
    result, curves = deep_sweep(
        builders, X, y, np.geomspace(0.003, 3, 7), seeds=[31, 32, 33], steps=60
    )
    return result, curves, builders, X, y


def _restrict(result, keep):
    return Sweep(
        {m: result.lrs[m][keep] for m in result.methods},
        {m: result.scores[m][keep] for m in result.methods},
        result.seeds,
    )


def test_bn_learning_rate_claims_pass_and_fail_on_wrong_inputs(lr_sweep):
    result = lr_sweep[0]
    assert result.compare("BN", "no BN", factor=3).verdict() == "OK"
    assert list(learning_rate_claims(result, "BN", "no BN", 3).values()) == ["OK"] * 3
    # swapped: every claim fails
    assert result.compare("no BN", "BN", factor=3).verdict().startswith("FAIL")
    assert all(
        v.startswith("FAIL") for v in learning_rate_claims(result, "no BN", "BN", 3).values()
    )
    # the same network on both sides
    assert result.compare("BN", "BN", factor=3).verdict().startswith("FAIL")
    # a grid that stops at 0.3: BN's best sits at its edge, and no BN never diverges on it
    narrow = _restrict(result, slice(0, 5))
    assert narrow.compare("BN", "no BN", factor=3).verdict().startswith("FAIL (best lr")
    assert list(learning_rate_claims(narrow, "BN", "no BN", 3).values())[1].startswith("FAIL")


def test_torch_checks_hold_in_both_dtypes_and_fail_on_wrong_inputs(lr_sweep):
    result, curves, builders, X, y = lr_sweep
    runs = {}
    for dtype, name in (("float32", "BN"), ("float32", "no BN"), ("float64", "BN")):
        runs[dtype, name] = np.array(
            [
                torch_loss_curve(builders[name](s), X, y, result.best_lr(name), 60, dtype=dtype)
                for s in result.seeds
            ]
        )
    bn, plain = tail_mean(runs["float32", "BN"]), tail_mean(runs["float32", "no BN"])
    assert beats(bn, plain, ("BN", "no BN"), factor=2).verdict() == "OK"
    assert beats(plain, bn, ("no BN", "BN"), factor=2).verdict().startswith("FAIL")
    numpy_bn = curves["BN"][result.best_index("BN")]
    assert verdict(np.abs(runs["float64", "BN"] - numpy_bn)[:, :5].max(), 1e-9) == "OK"
    assert verdict(np.abs(runs["float32", "BN"] - numpy_bn)[:, :5].max(), 1e-9).startswith("FAIL")
    gap = np.abs(runs["float32", "BN"] - runs["float64", "BN"]).max(axis=1)
    assert passed(np.median(gap) > 0.01) == "OK"
    # no BN at a small learning rate is not chaotic: float32 stays with float64
    calm = [
        np.abs(
            torch_loss_curve(builders["no BN"](s), X, y, 0.003, 60, dtype="float32")
            - curves["no BN"][0, k]
        ).max()
        for k, s in enumerate(result.seeds)
    ]
    assert passed(np.median(calm) > 0.01).startswith("FAIL")
    assert torch.get_default_dtype() == torch.float32

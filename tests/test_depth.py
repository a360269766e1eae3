"""coursekit.depth: stacked training equals train_full_batch; sweeps, read-outs and the
conditioning instruments behave as their docstrings say."""

import math

import numpy as np
import pytest
import torch

from coursekit.depth import (
    DeepSweep,
    deep_sweep,
    learning_rate_claims,
    majority_fraction,
    readout_gd,
    stable_limit,
    tail_mean,
    torch_loss_curve,
    train_stacked,
)
from coursekit.errors import DivergenceError
from coursekit.init import init_mlp
from coursekit.instruments import covariance_condition, dead_units, log_variance_rate
from coursekit.layers import Linear, Sequential, Sigmoid
from coursekit.losses import CrossEntropyLoss
from coursekit.models import mlp
from coursekit.sweep import Sweep
from coursekit.torch_utils import to_torch
from coursekit.training import train_full_batch

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 12))
Y = RNG.integers(0, 5, size=40)


def small(bn, act="relu", seed=0, dtype=np.float64):
    return init_mlp(
        mlp([12, 8, 8, 5], activation=act, batchnorm=bn, dtype=dtype), "kaiming_normal", rng=seed
    )


@pytest.mark.parametrize("bn", [False, True])
@pytest.mark.parametrize("act", ["relu", "tanh", "identity"])
def test_stacked_training_equals_train_full_batch(bn, act):
    nets = [small(bn, act, seed=s) for s in (0, 1, 2)]
    lrs = [0.02, 0.1, 0.3]
    losses = train_stacked(nets, X, Y, lrs, steps=15)
    for net, lr, row in zip(nets, lrs, losses, strict=True):
        hist = train_full_batch(
            net, CrossEntropyLoss(), X, Y, lr=lr, steps=15, show_progress=False, metric=None
        )
        np.testing.assert_allclose(row, hist["train_loss"], rtol=1e-12, atol=1e-13)


def test_stacked_momentum_equals_torch_sgd():
    net = small(True)
    ours = train_stacked([net], X, Y, 0.1, steps=10, momentum=0.9)[0]
    module = to_torch(net)
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(Y)
    ref = []
    for _ in range(10):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(Xt), yt)
        ref.append(loss.item())
        loss.backward()
        opt.step()
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_models_are_not_changed_and_divergence_scores_inf_from_its_step():
    net = small(False, act="identity", seed=2)
    before = net.state_dict()
    losses = train_stacked([net, net], X, Y, [0.05, 1.0], steps=40)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert np.all(np.isfinite(losses[0]))
    first = int(np.flatnonzero(~np.isfinite(losses[1]))[0])
    assert np.all(np.isinf(losses[1, first:]))
    with pytest.raises(DivergenceError, match=f"at step {first}"):
        train_full_batch(net, CrossEntropyLoss(), X, Y, lr=1.0, steps=40, show_progress=False)


def test_stacked_rejects_mixed_or_unsupported_networks():
    with pytest.raises(ValueError, match="another architecture"):
        train_stacked([small(False), small(True)], X, Y, 0.1, 2)
    with pytest.raises(TypeError, match="Sigmoid"):
        train_stacked([Sequential(Linear(12, 5), Sigmoid(), Linear(5, 5))], X, Y, 0.1, 2)
    with pytest.raises(ValueError, match="integer class indices"):
        train_stacked([small(False)], X, Y.astype(float), 0.1, 2)
    with pytest.raises(ValueError, match="positive learning rates"):
        train_stacked([small(False)], X, Y, -0.1, 2)


def test_tail_mean_and_its_bounds():
    assert tail_mean([1.0, 2.0, 3.0, 4.0], 2) == 3.5
    np.testing.assert_array_equal(tail_mean(np.array([[1.0, np.inf], [1.0, 3.0]]), 1), [np.inf, 3])
    with pytest.raises(ValueError, match="tail"):
        tail_mean([1.0, 2.0], 3)


def test_deep_sweep_scores_the_tail_of_each_run():
    builders = {"BN": lambda s: small(True, seed=s), "no BN": lambda s: small(False, seed=s)}
    result, curves = deep_sweep(builders, X, Y, [0.01, 0.1, 1.0], seeds=[3, 4], steps=12, tail=4)
    assert curves["BN"].shape == (3, 2, 12)
    np.testing.assert_array_equal(result.scores["BN"], tail_mean(curves["BN"], 4))
    direct = train_stacked([small(True, seed=4)], X, Y, 0.1, 12)[0]
    np.testing.assert_allclose(curves["BN"][1, 1], direct, rtol=1e-13)
    assert result.seeds == [3, 4] and "last 4 of 12 steps" in result.metric
    assert isinstance(result, DeepSweep)


def test_deep_sweep_best_lr_is_never_one_where_a_run_diverged():
    # the best median sits at lr 0.1, where one run of three diverged (lecture 10 at
    # course seed 15: He's runs near the edge of stability)
    lrs = np.array([0.001, 0.01, 0.1, 1.0])
    a = np.array([[2.0, 2.0, 2.0], [0.2, 0.3, 0.25], [0.01, 0.02, np.inf], [np.inf] * 3])
    b = np.array([[2.2, 2.2, 2.2], [2.0, 2.1, 2.0], [1.9, 2.0, 1.8], [np.inf] * 3])
    plain = Sweep({"A": lrs, "B": lrs}, {"A": a, "B": b}, [0, 1, 2])
    assert plain.best_lr("A") == 0.1
    assert plain.compare("A", "B", factor=3).verdict().startswith("FAIL (A: 1 of 3 runs diverged")
    stable = DeepSweep({"A": lrs, "B": lrs}, {"A": a, "B": b}, [0, 1, 2])
    assert stable.best_lr("A") == 0.01 and stable.best_lr("B") == 0.1
    np.testing.assert_array_equal(stable.best("A"), a[1])
    assert stable.compare("A", "B", factor=3).verdict() == "OK"
    assert stable.compare("A", "B", factor=10).verdict().startswith("FAIL")
    assert "0.01" in stable.table().splitlines()[1]
    # a stable best at the last stable lr is not at the grid's edge; at the first it is
    assert not stable.at_edge("B")
    edge = DeepSweep({"A": lrs}, {"A": np.array([a[1], a[2], a[2], a[3]])}, [0, 1, 2])
    assert edge.at_edge("A")
    nothing = DeepSweep({"A": lrs}, {"A": np.full((4, 3), np.inf)}, [0, 1, 2])
    assert nothing.best_index("A") == -1 and math.isnan(nothing.best_lr("A"))


def _sweep(a_scores, b_scores, lrs=(0.01, 0.1, 1.0, 10.0)):
    lrs = np.asarray(lrs, dtype=float)
    return Sweep(
        {"A": lrs, "B": lrs},
        {"A": np.asarray(a_scores, float), "B": np.asarray(b_scores, float)},
        [0, 1],
    )


INF = np.inf


def test_stable_limit_is_the_last_lr_before_the_first_divergence():
    res = _sweep([[1, 1], [1, 1], [1, INF], [1, 1]], [[1, 1]] * 4)
    assert stable_limit(res, "A") == 0.1
    assert stable_limit(res, "B") == 10.0
    res = _sweep([[INF, 1]] + [[1, 1]] * 3, [[1, 1]] * 4)
    assert math.isnan(stable_limit(res, "A"))


def test_learning_rate_claims_pass_and_fail_where_they_should():
    a = [[0.9, 0.9], [0.5, 0.5], [0.1, 0.1], [0.3, 0.4]]  # best at 1, never diverges
    b = [[1.0, 1.0], [0.8, 0.8], [2.0, INF], [INF, INF]]  # best at 0.1, diverges from 1
    ok = learning_rate_claims(_sweep(a, b), "A", "B", factor=3)
    assert list(ok.values()) == ["OK", "OK", "OK"]
    swapped = learning_rate_claims(_sweep(a, b), "B", "A", factor=3)
    assert all(v.startswith("FAIL") for v in swapped.values())
    # a grid on which B never diverges cannot show a larger stable range
    narrow = learning_rate_claims(_sweep(a[:2], b[:2], lrs=(0.01, 0.1)), "A", "B", factor=3)
    assert list(narrow.values())[1].startswith("FAIL")
    # A worse than B at one learning rate
    worse = learning_rate_claims(_sweep([[1.5, 1.5]] + a[1:], b), "A", "B", factor=3)
    assert list(worse.values())[2].startswith("FAIL (not at lr 0.01")


def test_majority_fraction_counts_the_most_frequent_class():
    net = Sequential(Linear(3, 2, bias=True))
    net.layers[0].params["weight"][...] = [[1.0, 0, 0], [0, 0, 0]]
    net.layers[0].params["bias"][...] = [0.0, 0.0]
    Xs = np.array([[1.0, 0, 0], [2.0, 0, 0], [-1.0, 0, 0], [3.0, 0, 0]])
    assert majority_fraction(net, Xs) == 0.75


def test_readout_gd_converges_at_the_theory_rate():
    H = np.random.default_rng(1).normal(size=(200, 6)) * np.array([1, 1, 2, 3, 5, 8.0])
    out = readout_gd(H, steps=3000, tol=1e-10, rng=0)
    lam = np.linalg.eigvalsh(np.cov(H, rowvar=False))
    assert out["kappa"] == pytest.approx(lam[-1] / lam[0], rel=1e-10)
    e = out["errors"]
    assert e[-1] <= 1e-10 * e[0]
    assert np.all(e <= out["theory_rate"] ** np.arange(e.size) * e[0] * (1 + 1e-9))
    # 1% past the largest stable step (2 / lambda_max) the error grows
    bad = readout_gd(H, steps=400, lr=1.01 * 2 / lam[-1], rng=0)
    assert bad["errors"][-1] > bad["errors"][0]


def test_readout_gd_leaves_dead_units_out_and_flags_a_singular_covariance():
    H = np.random.default_rng(2).normal(size=(50, 4))
    H[:, 1] = 0.0  # a dead unit
    out = readout_gd(H, steps=10, rng=0)
    assert np.isfinite(out["kappa"]) and len(out["errors"]) == 11
    H[:, 2] = H[:, 3]  # two live units that are copies: singular
    out = readout_gd(H, steps=10, rng=0)
    assert out["kappa"] > 1e12 and out["theory_rate"] > 0.999
    with pytest.raises(ValueError, match="varies over the batch"):
        readout_gd(np.ones((5, 3)), steps=3)


def test_dead_units_and_condition_of_the_live_ones():
    H = np.random.default_rng(3).normal(size=(100, 5)) * np.array([1.0, 10.0, 1, 1, 1])
    assert dead_units(H) == 0
    kappa = covariance_condition(H)
    lam = np.linalg.eigvalsh(np.cov(H, rowvar=False))
    assert kappa == pytest.approx(lam[-1] / lam[0], rel=1e-10)
    H[:, 0] = 0.0
    assert dead_units(H) == 1
    lam = np.linalg.eigvalsh(np.cov(H[:, 1:], rowvar=False))
    assert covariance_condition(H) == pytest.approx(lam[-1] / lam[0], rel=1e-10)
    assert math.isnan(covariance_condition(np.c_[H[:, 1], np.zeros(100)]))


def test_log_variance_rate():
    assert log_variance_rate(2.0 ** np.arange(10)) == pytest.approx(math.log(2))
    assert log_variance_rate([4.0, 2.0, 1.0]) == pytest.approx(-math.log(2))
    with pytest.raises(ValueError, match="positive finite"):
        log_variance_rate([1.0, 0.0])


@pytest.mark.parametrize("bn", [False, True])
def test_torch_curve_equals_stacked_training_in_float64(bn):
    net = small(bn)
    ours = train_stacked([net], X, Y, 0.2, steps=10)[0]
    ref = torch_loss_curve(net, X, Y, 0.2, steps=10, dtype="float64")
    np.testing.assert_allclose(ref, ours, rtol=1e-10)
    f32 = torch_loss_curve(net, X, Y, 0.2, steps=10, dtype="float32")
    np.testing.assert_allclose(f32, ours, rtol=1e-3)
    with pytest.raises(ValueError, match="float32"):
        torch_loss_curve(net, X, Y, 0.2, steps=1, dtype="float16")


def test_stacked_training_of_an_mlp_without_bias():
    net = Sequential(Linear(12, 6, bias=False, rng=0), Linear(6, 5, bias=False, rng=1))
    losses = train_stacked([net], X, Y, 0.1, steps=5)
    hist = train_full_batch(net, CrossEntropyLoss(), X, Y, lr=0.1, steps=5, show_progress=False)
    np.testing.assert_allclose(losses[0], hist["train_loss"], rtol=1e-12)

"""coursekit.stacked: K networks trained at once equal K runs of train_minibatch."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.losses import CrossEntropyLoss
from coursekit.minibatch import train_minibatch
from coursekit.models import mlp
from coursekit.optim import SGD, Adagrad, Adam, Rprop
from coursekit.stacked import StackedMLP, sweep_stacked, train_stacked


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X[:60], y[:60], X[60:], y[60:]


@pytest.mark.parametrize(
    "optimizer",
    [Adam, Adagrad, lambda p, lr: SGD(p, lr=lr, momentum=0.9, nesterov=True)],
    ids=["adam", "adagrad", "nesterov"],
)
def test_each_member_is_a_train_minibatch_run(data, optimizer):
    X, y, Xv, yv = data
    seeds, lrs = [3, 7], [0.01, 0.05]
    hist = train_stacked(
        StackedMLP([6, 5, 3], seeds),
        X,
        y,
        optimizer,
        lrs,
        epochs=3,
        batch_size=16,
        X_val=Xv,
        y_val=yv,
        ema=0.9,
    )
    for k, (s, lr) in enumerate(zip(seeds, lrs, strict=True)):
        net = mlp([6, 5, 3], rng=s)
        ref = train_minibatch(
            net,
            CrossEntropyLoss(),
            X,
            y,
            optimizer(net.parameters(), lr),
            epochs=3,
            batch_size=16,
            X_val=Xv,
            y_val=yv,
            ema=0.9,
            rng=s,
        )
        for key in hist:
            np.testing.assert_allclose(hist[key][:, k], ref[key], rtol=1e-12, atol=1e-12)


def test_one_lr_for_all_and_cyclic_order(data):
    X, y, _, _ = data
    hist = train_stacked(StackedMLP([6, 4, 3], [1, 2]), X, y, SGD, 0.1, epochs=2, rule="cyclic")
    for k, s in enumerate([1, 2]):
        net = mlp([6, 4, 3], rng=s)
        ref = train_minibatch(
            net, CrossEntropyLoss(), X, y, SGD(net.parameters(), 0.1), epochs=2, rule="cyclic"
        )
        np.testing.assert_allclose(hist["train_loss"][:, k], ref["train_loss"], rtol=1e-12)


def test_a_diverging_member_is_frozen_and_the_others_go_on(data):
    X, y, _, _ = data
    hist = train_stacked(
        StackedMLP([6, 5, 3], [0, 0]), X, y, SGD, [1e200, 0.05], epochs=2, log="end"
    )
    assert hist["train_loss"].shape == (2, 2)
    assert hist["train_loss"][-1, 0] == np.inf and np.isnan(hist["train_acc"][-1, 0])
    assert np.isfinite(hist["train_loss"][-1, 1])


def test_sweep_stacked_scores_each_lr_and_seed(data):
    X, y, _, _ = data
    result = sweep_stacked(
        [6, 4, 3], {"SGD": SGD, "Adam": Adam}, [0.01, 0.1], [0, 1], X, y, epochs=2
    )
    assert result.scores["SGD"].shape == (2, 2) and result.metric == "train loss"
    net = mlp([6, 4, 3], rng=1)
    ref = train_minibatch(
        net, CrossEntropyLoss(), X, y, Adam(net.parameters(), 0.1), epochs=2, rng=1
    )
    assert result.scores["Adam"][1, 1] == pytest.approx(ref.last("train_loss"), rel=1e-12)


def test_bad_input_is_refused(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="activation"):
        StackedMLP([6, 3], [0], activation="sigmoid")
    with pytest.raises(ValueError, match="one per member"):
        train_stacked(StackedMLP([6, 3], [0, 1]), X, y, SGD, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="weight decay"):
        train_stacked(
            StackedMLP([6, 3], [0, 1]), X, y, lambda p, lr: SGD(p, lr, weight_decay=0.1), [0.1, 0.2]
        )
    with pytest.raises(ValueError, match="lr times"):
        train_stacked(StackedMLP([6, 3], [0, 1]), X, y, Rprop, [0.1, 0.2])
    with pytest.raises(ValueError, match="integer class labels"):
        StackedMLP([6, 3], [0]).loss(X, y.astype(float))


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_full_batch_case_equals_depth_train_stacked(data, act):
    """The two batched trainers share their case: full-batch SGD with momentum on an MLP
    without BN. stacked.train_stacked (one batch of all samples per epoch, cyclic order)
    and depth.train_stacked (full-batch GD on the same networks) give the same loss
    curves to 1e-12: depth's curve is the loss before each step, stacked's after each epoch."""
    from coursekit import depth

    X, y, _, _ = data
    seeds, lrs, steps = [3, 7, 11], [0.05, 0.2, 0.5], 15
    ours = train_stacked(
        StackedMLP([6, 5, 4, 3], seeds, activation=act),
        X,
        y,
        lambda p, lr: SGD(p, lr=lr, momentum=0.9),
        lrs,
        epochs=steps,
        batch_size=len(X),
        rule="cyclic",
    )["train_loss"]
    nets = [mlp([6, 5, 4, 3], activation=act, rng=s) for s in seeds]
    curves = depth.train_stacked(nets, X, y, lrs, steps, momentum=0.9)
    np.testing.assert_allclose(ours[:-1].T, curves, rtol=1e-12, atol=0)
    assert curves[:, -1].max() < 0.9 * curves[:, 0].min()  # they trained: not a vacuous match

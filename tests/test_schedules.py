"""Learning-rate schedules against ``torch.optim.lr_scheduler`` over 100 epochs.

Oracles: ``LambdaLR`` for the inverse decays, ``ExponentialLR``, ``ReduceLROnPlateau``.
The learning rate set at every epoch must agree to rtol 1e-12 (both sides compute the
same products and quotients; the only difference can be the order of rounding).
"""

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from coursekit.optim import (
    SGD,
    ExponentialDecay,
    InverseDecay,
    InverseSquareDecay,
    ReduceOnPlateau,
)

EPOCHS = 100
LR0 = 0.5


def torch_optimizer():
    return torch.optim.SGD([torch.zeros(2, dtype=torch.float64, requires_grad=True)], lr=LR0)


def lr_curves(make, make_torch, metrics=None):
    """The lr after every epoch, coursekit vs torch, with the optimiser stepped before the schedule."""
    w = np.zeros(2)
    opt, topt = SGD([w], lr=LR0), torch_optimizer()
    sched, tsched = make(opt), make_torch(topt)
    ours, theirs = [opt.lr], [topt.param_groups[0]["lr"]]
    for k in range(EPOCHS):
        opt.step([np.ones(2)])
        topt.step()
        if metrics is None:
            sched.step()
            tsched.step()
        else:
            sched.step(metrics[k])
            tsched.step(metrics[k])
        ours.append(opt.lr)
        theirs.append(topt.param_groups[0]["lr"])
    assert sched.lrs == ours  # the recorded curve is what was set
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize(
    "make, make_torch",
    [
        (InverseDecay, lambda o: lr_scheduler.LambdaLR(o, lambda k: 1 / (k + 1))),
        (InverseSquareDecay, lambda o: lr_scheduler.LambdaLR(o, lambda k: 1 / (k + 1) ** 2)),
        (
            lambda o: ExponentialDecay(o, gamma=0.95),
            lambda o: lr_scheduler.ExponentialLR(o, gamma=0.95),
        ),
    ],
    ids=["inverse", "inverse_square", "exponential"],
)
def test_decay_schedules_match_torch(make, make_torch):
    ours, theirs = lr_curves(make, make_torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[-1] < 0.05 * LR0  # it decayed: the comparison is not of two constants


def test_closed_forms():
    """Independent of torch: lr0/(k+1), lr0/(k+1)^2, lr0 gamma^k at k = 0..100."""
    k = np.arange(EPOCHS + 1)
    for make, expected in [
        (InverseDecay, LR0 / (k + 1)),
        (InverseSquareDecay, LR0 / (k + 1) ** 2),
        (lambda o: ExponentialDecay(o, 0.9), LR0 * 0.9**k),
    ]:
        sched = make(SGD([np.zeros(1)], lr=LR0))
        for _ in range(EPOCHS):
            sched.step()
        np.testing.assert_allclose(sched.lrs, expected, rtol=1e-12)


def noisy_plateau_metric(seed):
    """A loss that falls, then flattens with noise: several plateaus trigger reductions."""
    rng = np.random.default_rng(seed)
    k = np.arange(EPOCHS)
    return np.maximum(1.0 / (k + 1), 0.05) + 0.01 * rng.random(EPOCHS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": 0.5, "patience": 3},
        {"factor": 0.1, "patience": 5, "threshold": 1e-2, "cooldown": 2, "min_lr": 1e-3},
        {"factor": 0.5, "patience": 2, "threshold": 0.005, "threshold_mode": "abs"},
        {"mode": "max", "factor": 0.3, "patience": 4},
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = noisy_plateau_metric(0)
    if kwargs.get("mode") == "max":
        metrics = -metrics
    ours, theirs = lr_curves(
        lambda o: ReduceOnPlateau(o, **kwargs),
        lambda o: lr_scheduler.ReduceLROnPlateau(o, **kwargs),
        metrics,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len(np.unique(ours)) >= 3  # at least two reductions happened


def test_reduce_on_plateau_state_is_inspectable():
    opt = SGD([np.zeros(1)], lr=1.0)
    sched = ReduceOnPlateau(opt, factor=0.5, patience=1)
    for m in [1.0, 1.0, 1.0]:  # best, then two bad epochs > patience 1: cut
        sched.step(m)
    assert (sched.best, sched.num_bad_epochs, opt.lr) == (1.0, 0, 0.5)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda o: ExponentialDecay(o, gamma=1.5),
            r"ExponentialDecay gamma: expected a value in \(0.0, 1.0\], got 1.5",
        ),
        (
            lambda o: ReduceOnPlateau(o, factor=1.0),
            r"ReduceOnPlateau factor: expected a value in \(0.0, 1.0\), got 1.0",
        ),
        (
            lambda o: ReduceOnPlateau(o, patience=-1),
            r"ReduceOnPlateau patience: expected a value in \[0, inf\), got -1",
        ),
        (lambda o: ReduceOnPlateau(o, mode="up"), r"expected mode 'min' or 'max', got 'up'"),
        (
            lambda o: ReduceOnPlateau(o, threshold_mode="pct"),
            r"expected threshold_mode 'rel' or 'abs', got 'pct'",
        ),
        (
            lambda o: InverseDecay(torch_optimizer()),
            r"InverseDecay: expected a coursekit Optimizer, got SGD",
        ),
    ],
)
def test_invalid_arguments_raise(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(SGD([np.zeros(1)], lr=0.1))


def test_plateau_rejects_non_finite_metric():
    sched = ReduceOnPlateau(SGD([np.zeros(1)], lr=0.1))
    with pytest.raises(ValueError, match="expected a finite metric, got nan"):
        sched.step(float("nan"))


def test_exponential_decay_composes_with_manual_changes_like_torch():
    """Chainable like ExponentialLR: a manual change of lr is kept and decayed from there."""
    opt, topt = SGD([np.zeros(1)], lr=LR0), torch_optimizer()
    sched, tsched = ExponentialDecay(opt, gamma=0.9), lr_scheduler.ExponentialLR(topt, gamma=0.9)
    for k in range(20):
        if k == 10:
            opt.lr = topt.param_groups[0]["lr"] = 0.3
        opt.step([np.zeros(1)])
        topt.step()
        sched.step()
        tsched.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    assert opt.lr == pytest.approx(0.3 * 0.9**10, rel=1e-12)


def test_every_schedule_steps_the_same_way():
    """One protocol: step(metric). Schedules on a fixed curve ignore the metric;
    ReduceOnPlateau needs it and says so when it is missing."""
    for make in (InverseDecay, InverseSquareDecay, lambda o: ExponentialDecay(o, gamma=0.5)):
        a, b = SGD([np.zeros(1)], lr=LR0), SGD([np.zeros(1)], lr=LR0)
        sa, sb = make(a), make(b)
        for k in range(5):
            sa.step()
            sb.step(10.0 * k)
        assert sa.lrs == sb.lrs
    plateau = ReduceOnPlateau(SGD([np.zeros(1)], lr=LR0))
    with pytest.raises(ValueError, match="expected the monitored metric"):
        plateau.step()

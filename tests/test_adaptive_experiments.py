"""coursekit.adaptive_experiments: the batched runs equal one run at a time."""

from __future__ import annotations

import numpy as np
import pytest

import coursekit.adaptive_experiments as experiments
from coursekit.optim import GD, SGD, Adagrad, Adam, RMSprop
from coursekit.problems import Quadratic, Rosenbrock, optimize, steps_to_reach


@pytest.mark.parametrize(
    "optimizer",
    [GD, lambda p, lr: SGD(p, lr=lr, momentum=0.9), Adagrad, RMSprop, Adam],
    ids=["gd", "momentum", "adagrad", "rmsprop", "adam"],
)
def test_run_grid_equals_one_run_per_lr_and_start(optimizer):
    q = Quadratic.with_condition(10, dim=2, rotate=0.4)
    starts = np.array([[1.0, -2.0], [0.5, 0.7]])
    lrs = [0.05, 0.3]
    out = experiments.run_grid(q, optimizer, lrs, starts, 60, tol=1e-2, record_every=1)
    for i, lr in enumerate(lrs):
        for j, w0 in enumerate(starts):
            path = optimize(q, lambda p, lr=lr: optimizer(p, lr), w0, 60)
            hit = steps_to_reach(path, q.minimizer, 1e-2)
            assert out["hit"][i, j] == (np.inf if hit is None else hit)
            n = out["path"].shape[0]
            np.testing.assert_allclose(out["path"][:, i, j], path[:n], rtol=1e-12, atol=1e-14)


def test_run_grid_marks_divergence():
    out = experiments.run_grid(Rosenbrock(), GD, [1e-3, 0.1], np.array([[-1.5, 2.0]]), 50)
    assert np.isfinite(out["final"][0, 0]) and out["final"][1, 0] == np.inf


def test_cycle_gradients_have_mean_zero_and_one_big_gradient_per_cycle():
    g = experiments.cycle_gradients(20, runs=3, rng=0)
    assert g.shape == (200, 3)
    cycles = g.reshape(20, 10, 3)
    assert np.allclose(cycles.sum(axis=1), 0, atol=1e-12)
    assert np.all(np.sum(cycles < 0, axis=1) == 1)
    fixed = experiments.cycle_gradients(2)
    assert fixed[9, 0] == -0.9 and fixed[19, 0] == -0.9


def test_effective_lr_slope_of_a_power_law():
    n = np.array([[10.0, 100.0, 1000.0]])
    assert experiments.effective_lr_slope(n, n**-0.5) == pytest.approx(-0.5)
    assert experiments.effective_lr_slope(n, np.ones_like(n)) == pytest.approx(0.0, abs=1e-12)


def test_adam_step_bound_value_and_validation():
    assert experiments.adam_step_bound() == pytest.approx(7.2703, abs=1e-4)
    with pytest.raises(ValueError):
        experiments.adam_step_bound((0.99, 0.9))


def test_steps_table_says_never_for_runs_that_did_not_arrive():
    from coursekit.sweep import Sweep

    result = Sweep(
        {"A": np.array([0.1, 0.2, 0.4]), "B": np.array([1.0])},
        {"A": np.array([[9.0, 9, 9], [5, np.inf, 7], [np.inf] * 3]), "B": np.full((1, 3), np.inf)},
        [0, 1, 2],
        metric="steps",
    )
    table = experiments.steps_table(result)
    assert "7 [5, never]  (1 of 3 never get there)" in table
    assert "never, at any lr of the grid" in table

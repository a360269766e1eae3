"""Lecture 9's checked claims, each driven with the right input (OK) and with a plausible
wrong one (FAIL): the same coursekit functions and the same checks the cells use."""

from __future__ import annotations

import numpy as np
import pytest

import coursekit.adaptive_experiments as experiments
from coursekit import checks
from coursekit.data import load_digits_multiclass
from coursekit.optim import GD, SGD, Adagrad, Adam, RMSprop, Rprop
from coursekit.problems import Quadratic, Rosenbrock
from coursekit.stacked import sweep_stacked

METHODS = {
    "GD": GD,
    "GD+momentum": lambda p, lr: SGD(p, lr=lr, momentum=0.9),
    "AdaGrad": Adagrad,
    "RMSProp": RMSprop,
    "Adam": Adam,
}
QUAD_LRS = {
    "GD": [0.5, 1, 1.5, 1.98, 2.5],
    "GD+momentum": [0.25, 0.5, 1, 2, 4],
    "AdaGrad": 0.125 * 2.0 ** np.arange(7),
    "RMSProp": 0.03 * 2.0 ** np.arange(8),
    "Adam": 0.031 * 2.0 ** np.arange(9),
}


def _turn(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


@pytest.fixture(scope="module")
def quadratic():
    phi = np.random.default_rng(0).uniform(0, 2 * np.pi, 5)
    starts = 2 * np.c_[np.cos(phi), np.sin(phi)]

    def sweep(angle, lrs=QUAD_LRS, methods=METHODS):
        q = (
            Quadratic.with_condition(100, dim=2, rotate=angle)
            if angle
            else Quadratic.with_condition(100, dim=2)
        )
        return experiments.grid_sweep(
            q, starts @ _turn(angle).T, methods, lrs, range(5), 500, tol=1e-3
        )[0]

    return sweep, sweep(0.0), sweep(np.pi / 6)


def test_tuned_adam_beats_gd_on_the_rotated_valley_but_not_at_the_old_lr(quadratic):
    sweep, aligned, rotated = quadratic
    assert not rotated.at_edge("GD")
    for k in ("Adam", "GD+momentum"):
        assert checks.beats(rotated.best(k), rotated.best("GD"), factor=2).verdict() == "OK"
    # the lecture's old claim came from Adam at the learning rate of the aligned case
    old = sweep(np.pi / 6, {**QUAD_LRS, "Adam": [0.05]}, {"GD": GD, "Adam": Adam})
    assert checks.beats(old.best("Adam"), old.best("GD"), factor=2).verdict().startswith("FAIL")


def test_rotation_costs_the_diagonal_methods_but_a_quarter_turn_does_not(quadratic):
    sweep, aligned, rotated = quadratic
    for k in ("AdaGrad", "RMSProp"):
        assert checks.beats(aligned.best(k), rotated.best(k), factor=10).ok
        assert checks.beats(aligned.best(k), aligned.best("GD"), factor=2).ok
    quarter = sweep(np.pi / 2)  # the axes swapped: still aligned with them
    for k in ("AdaGrad", "RMSProp"):
        assert (
            checks.beats(aligned.best(k), quarter.best(k), factor=10).verdict().startswith("FAIL")
        )
    for k in ("GD", "GD+momentum"):
        assert np.allclose(aligned.scores[k], rotated.scores[k], rtol=0, atol=1)


def test_an_untuned_adam_does_not_beat_gd_on_the_aligned_valley(quadratic):
    sweep, aligned, _ = quadratic
    assert checks.beats(aligned.best("Adam"), aligned.best("GD"), factor=2).ok
    slow = sweep(0.0, {**QUAD_LRS, "Adam": [0.0156]}, {"GD": GD, "Adam": Adam})
    assert checks.beats(slow.best("Adam"), slow.best("GD"), factor=2).verdict().startswith("FAIL")


def test_gd_never_reaches_rosenbrocks_minimum_but_does_on_a_mild_valley():
    starts = np.array([-1.5, 2.0]) + 0.1 * np.random.default_rng(0).normal(size=(3, 2))
    lrs = [2.5e-4, 5e-4, 1e-3, 1.5e-3, 2e-3, 3e-3]
    gd = {"GD": GD}
    steep, _ = experiments.grid_sweep(Rosenbrock(), starts, gd, lrs, range(3), 2000, tol=1e-3)
    assert checks.passed(np.all(~np.isfinite(steep.scores["GD"]))) == "OK"
    mild, _ = experiments.grid_sweep(
        Rosenbrock(b=1.0), starts, gd, [0.1, 0.2, 0.4], range(3), 2000, tol=1e-3
    )
    assert checks.passed(np.all(~np.isfinite(mild.scores["GD"]))).startswith("FAIL")
    adam, _ = experiments.grid_sweep(
        Rosenbrock(), starts, {"Adam": Adam}, [0.05], range(3), 2000, tol=1e-3
    )
    assert checks.passed(np.isfinite(np.median(adam.best("Adam")))) == "OK"
    tiny, _ = experiments.grid_sweep(
        Rosenbrock(), starts, {"Adam": Adam}, [1e-4], range(3), 2000, tol=1e-3
    )
    assert checks.passed(np.isfinite(np.median(tiny.best("Adam")))).startswith("FAIL")


def test_adam_extreme_steps_fail_with_a_beta_off_by_ten_percent():
    betas = (0.9, 0.999)
    grow = (betas[1] / betas[0]) ** np.arange(300)
    got = experiments.adam_largest_step(grow, betas)
    assert checks.close(got, experiments.adam_step_bound(betas), rtol=1e-4) == "OK"
    assert checks.close(got, experiments.adam_step_bound((0.81, 0.999)), rtol=1e-4).startswith(
        "FAIL"
    )
    one = experiments.adam_largest_step([1.0], betas)
    assert checks.close(one, 0.1 / np.sqrt(0.001), rtol=1e-4) == "OK"
    assert checks.close(one, 0.19 / np.sqrt(0.001), rtol=1e-4).startswith("FAIL")


def test_adam_largest_step_equals_stepping_through_the_quiet_gradients():
    # writing the state after `quiet` zero gradients equals feeding them one by one
    grads = [0.3, -1.0, 2.0]
    w = np.zeros(1)
    opt = Adam([w], lr=1.0)
    largest = 0.0
    for g in [0.0] * 50 + grads:
        old = w[0]
        opt.step([np.array([g])])
        largest = max(largest, abs(w[0] - old))
    assert experiments.adam_largest_step(grads, quiet=50) == pytest.approx(largest, rel=1e-12)


def test_uncorrected_steps_fail_against_the_formula_with_a_beta_off():
    t = np.arange(1, 1001)
    steps = experiments.adam_constant_gradient_steps(1000, (0.9, 0.999), bias_correction=False)
    right = (1 - 0.9**t) / np.sqrt(1 - 0.999**t)
    wrong = (1 - 0.81**t) / np.sqrt(1 - 0.999**t)
    assert checks.verdict(np.abs(steps / right - 1).max(), 1e-6) == "OK"
    assert checks.verdict(np.abs(steps / wrong - 1).max(), 1e-6).startswith("FAIL")
    corrected = experiments.adam_constant_gradient_steps(1000, (0.9, 0.999))
    assert checks.verdict(np.abs(corrected - 1).max(), 1e-6) == "OK"


def test_annealing_prediction_needs_the_right_beta_and_the_remembered_v():
    a = np.random.default_rng(0).normal(size=1000)
    run = experiments.adam_noise_steps(a, 0.003, 4000, chains=200, last=1000, rng=1)
    near, scale = run["sizes"][-1000:].mean(), run["scale"].mean()
    theory = experiments.adam_noise_theory((0.9, 0.999))
    assert checks.close(near, theory * scale, rtol=0.02) == "OK"
    assert checks.passed(run["sizes"][:20].mean() > 4 * near) == "OK"
    wrong_beta = experiments.adam_noise_theory((0.81, 0.999))
    assert checks.close(near, wrong_beta * scale, rtol=0.02).startswith("FAIL")
    # a shorter run: v-hat still remembers the approach, and the stationary value is wrong
    short = experiments.adam_noise_steps(a, 0.003, 3000, chains=200, last=1000, rng=2)
    s_near, s_scale = short["sizes"][-1000:].mean(), short["scale"].mean()
    assert checks.close(s_near, theory * s_scale, rtol=0.02) == "OK"
    assert checks.close(s_near, theory, rtol=0.02).startswith("FAIL")


def test_scale_invariance_fails_when_eps_dominates():
    rosen, w0 = Rosenbrock(), [-1.5, 2.0]
    for make in (
        lambda p: Adam(p, lr=0.01),
        lambda p: RMSprop(p, lr=5e-3),
        lambda p: Adagrad(p, lr=0.5),
    ):
        assert experiments.scale_invariance(rosen, make, w0, 300, 1000.0) < 1e-6
    big_eps = experiments.scale_invariance(
        rosen, lambda p: Adam(p, lr=0.01, eps=0.1), w0, 300, 1000.0
    )
    assert checks.passed(big_eps < 1e-6).startswith("FAIL")
    assert experiments.scale_invariance(rosen, lambda p: SGD(p, lr=1e-3), w0, 300, 1000.0) == np.inf


def test_adagrad_slope_is_minus_a_half_and_sgd_or_a_wrong_exponent_fails():
    freq = np.geomspace(0.5, 0.005, 12)
    run = experiments.sparse_regression(freq, 4000, Adagrad, 0.5, chains=8, rng=0)
    effective = 0.5 / np.sqrt(run["optimizer"].state[0]["sum"])
    slope = experiments.effective_lr_slope(run["counts"], effective)
    assert checks.close(slope, -0.5, rtol=0, atol=0.1) == "OK"
    assert checks.close(slope, -1.0, rtol=0, atol=0.1).startswith("FAIL")  # forgot the root
    sgd = experiments.effective_lr_slope(run["counts"], np.full(effective.shape, 0.1))
    assert checks.close(sgd, -0.5, rtol=0, atol=0.1).startswith("FAIL")


def test_rprop_drift_needs_the_majority_sign():
    def far(grads):
        moved = {}
        for k, make in {
            "Rprop": lambda p: Rprop(p, lr=0.01),
            "RMSProp": lambda p: RMSprop(p, lr=0.01),
        }.items():
            trace = experiments.drift(make, grads)
            moved[k] = np.abs(trace[-1] - trace[len(grads) // 2])
        return checks.beats(moved["RMSProp"], moved["Rprop"], factor=100, rule="every").verdict()

    assert far(experiments.cycle_gradients(100, runs=5, rng=0)) == "OK"
    alternating = np.tile([[0.5], [-0.5]], (500, 5))  # mean zero, no majority sign
    assert far(alternating).startswith("FAIL")


def test_tuned_adam_beats_tuned_sgd_on_digits_but_not_an_untuned_one():
    X, y, _, _ = load_digits_multiclass(rng=0)
    lrs = {"SGD": [0.1, 0.2, 0.4, 0.8, 1.6], "Adam": [0.0025, 0.005, 0.01, 0.02, 0.04]}
    sweep = sweep_stacked([64, 32, 10], {"SGD": SGD, "Adam": Adam}, lrs, [0, 1, 2], X, y, epochs=5)
    assert sweep.compare("Adam", "SGD").verdict() == "OK"
    untuned = sweep_stacked([64, 32, 10], {"Adam": Adam}, [2.5e-4], [0, 1, 2], X, y, epochs=5)
    assert checks.beats(untuned.best("Adam"), sweep.best("SGD")).verdict().startswith("FAIL")

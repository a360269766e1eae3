"""Lecture 05's checked claims can fail: each check, fed a plausible wrong input, says FAIL.

The notebook's cells use the same functions (coursekit.theory, noisy_descent, convergence,
checks) with the right inputs and print OK.
"""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import checks, convergence, noisy_descent, theory
from coursekit.optim import GD, Newton
from coursekit.problems import Quadratic, optimize

PROBLEM = Quadratic.with_condition(50, dim=2, rotate=np.pi / 6)
W0 = np.array([-1.8, 0.8])
NOISY = Quadratic.from_spectrum([0.5, 1.0], rotation=np.pi / 6, b=np.array([1.0, 0.5]))


def _newton_factor(lr):
    path = optimize(PROBLEM, lambda p: Newton(p, lr=lr, hessian=PROBLEM.hessian), W0, 40)
    return theory.measured_rate(np.linalg.norm(path - PROBLEM.minimizer, axis=1), start=0)


@pytest.mark.parametrize("lr", [0.5, 1.5, 1.9])
def test_newton_factor_check_fails_with_a_step_one_percent_off(lr):
    assert checks.rate_close(_newton_factor(lr), abs(1 - lr), rtol=1e-6) == "OK"
    assert checks.rate_close(_newton_factor(1.01 * lr), abs(1 - lr), rtol=1e-6).startswith("FAIL")


def test_newton_bounce_and_divergence_checks_fail_off_the_edge():
    assert checks.close(_newton_factor(2.0), 1.0, rtol=1e-6) == "OK"
    assert checks.close(_newton_factor(2.02), 1.0, rtol=1e-6).startswith("FAIL")
    assert checks.close(_newton_factor(2.5), 1.5, rtol=1e-6) == "OK"
    e0 = np.linalg.norm(W0 - PROBLEM.minimizer)
    predicted = int(np.ceil(np.log(1e100 / e0) / np.log(1.5)))
    wrong = convergence.divergence_step(
        PROBLEM, lambda p: Newton(p, lr=2.6, hessian=PROBLEM.hessian), W0, 2000
    )
    assert checks.steps_close(wrong, predicted, rtol=0, atol=0.5).startswith("FAIL")


def test_gd_step_count_check_fails_when_gd_is_off_its_best_step():
    lr_star = theory.optimal_lr(PROBLEM.eigenvalues)
    e0 = np.linalg.norm(W0 - PROBLEM.minimizer)
    predicted = theory.steps_to_tolerance(theory.rate(PROBLEM.eigenvalues, lr_star), e0, 1e-6)
    for lr, ok in [(lr_star, True), (0.99 * lr_star, False), (0.5 * lr_star, False)]:
        n = len(optimize(PROBLEM, lambda p, lr=lr: GD(p, lr=lr), W0, 5000, tol=1e-6)) - 1
        assert (checks.steps_close(n, predicted, rtol=0, atol=1) == "OK") is ok, (lr, n, predicted)


def test_noise_floor_check_fails_against_the_floor_of_another_step():
    measured = noisy_descent.measured_floor(NOISY, 1.5, [3.0, -3.0], rng=1)
    assert checks.close(measured, theory.noise_floor(NOISY.eigenvalues, 1.5), rtol=0.05) == "OK"
    wrong = theory.noise_floor(NOISY.eigenvalues, 1.35)  # the floor of a step 10% smaller
    assert checks.close(measured, wrong, rtol=0.05).startswith("FAIL")


def test_noise_floor_formula_rejects_a_diverging_step():
    with pytest.raises(ValueError, match="diverges"):
        theory.noise_floor([0.5, 1.0], 2.0)


SHAPES = ["constant", "1/(k+1)", "1/(k+1)^2"]
GRIDS = {
    "constant": np.geomspace(0.004, 0.25, 7),
    "1/(k+1)": np.geomspace(0.5, 4, 7),
    "1/(k+1)^2": np.geomspace(0.5, 4, 7),
}


def test_schedule_comparison_fails_with_an_untuned_schedule_or_a_grid_edge():
    right = noisy_descent.noisy_quadratic_sweep(NOISY, SHAPES, GRIDS, [1, 2, 3], [3.0, -3.0])
    assert right.compare("1/(k+1)", "constant", factor=1.3).verdict() == "OK"
    assert right.compare("1/(k+1)", "1/(k+1)^2", factor=3).verdict() == "OK"
    untuned = dict(GRIDS, **{"1/(k+1)": [0.25]})  # a single, too small eta_0
    wrong = noisy_descent.noisy_quadratic_sweep(NOISY, SHAPES, untuned, [1, 2, 3], [3.0, -3.0])
    assert wrong.compare("1/(k+1)", "constant", factor=1.3).verdict().startswith("FAIL")
    edge = dict(GRIDS, constant=[0.004, 0.008])  # the constant rate's best is off the grid
    narrow = noisy_descent.noisy_quadratic_sweep(NOISY, SHAPES, edge, [1, 2, 3], [3.0, -3.0])
    assert narrow.compare("1/(k+1)", "constant", factor=1.3).verdict().startswith("FAIL")


def test_the_sweep_scores_are_those_of_separate_runs():
    """The vectorised simulation against a plain loop with coursekit.optim.GD."""
    result = noisy_descent.noisy_quadratic_sweep(
        NOISY, ["1/(k+1)"], [1.5], [4], [3.0, -3.0], steps=50, runs=7
    )
    rng = np.random.default_rng(4)
    W = np.tile([3.0, -3.0], (7, 1))
    opt = GD([W], lr=1.5)
    for k in range(50):
        opt.lr = 1.5 / (k + 1)
        opt.step([NOISY.grad(W) + rng.standard_normal(W.shape)])
    rms = np.sqrt(np.mean(np.sum((W - NOISY.minimizer) ** 2, axis=1)))
    assert result.scores["1/(k+1)"][0, 0] == pytest.approx(rms, rel=1e-12)


def test_escape_verdicts_fail_for_a_schedule_too_small_to_escape():
    basins = noisy_descent.TwoBasins()
    grids = {"constant": [0.1, 0.2, 0.3, 0.5, 1.0], "1/(1+k/100)": [0.5, 1.0, 1.5, 2.0]}
    shapes = ["constant", "1/(1+k/100)"]
    right = noisy_descent.escape_sweep(basins, shapes, grids, [1, 2, 3], runs=40)
    assert right.compare("1/(1+k/100)", "constant", factor=2).verdict() == "OK"
    small = dict(grids, **{"1/(1+k/100)": [0.1, 0.15]})  # never above 2 / 12.4 for long
    wrong = noisy_descent.escape_sweep(basins, shapes, small, [1, 2, 3], runs=40)
    assert wrong.compare("1/(1+k/100)", "constant", factor=2).verdict().startswith("FAIL")
    stuck = noisy_descent.final_positions(basins, "constant", 0.1, 5, runs=100)
    assert np.mean(basins.in_good_basin(stuck)) < 0.01
    escaped = noisy_descent.final_positions(basins, "1/(1+k/100)", 1.0, 5, runs=100)
    assert np.mean(basins.in_good_basin(escaped)) >= 0.95


def test_two_basins_geometry():
    basins = noisy_descent.TwoBasins()
    bad, good = basins.minima
    assert basins.value(good) < basins.value(bad)
    assert abs(basins.grad(bad)) < 1e-10 and abs(basins.grad(good)) < 1e-10
    assert basins.curvatures[0] > 12 and 1 < basins.curvatures[1] < 1.1  # unstable above 0.16
    assert bad < basins.barrier < good and abs(basins.grad(basins.barrier)) < 1e-3
    eps = 1e-6
    for w in [-1.3, 0.2, 2.7]:
        fd = (basins.value(w + eps) - basins.value(w - eps)) / (2 * eps)
        assert basins.grad(w) == pytest.approx(fd, rel=1e-6)


def test_robbins_monro_partial_sums():
    s1, s2 = noisy_descent.robbins_monro(noisy_descent.schedule_lrs("1/(k+1)", 1.0, 10**5))
    assert s1 == pytest.approx(np.log(10**5) + np.euler_gamma, rel=1e-4)
    assert s2 == pytest.approx(np.pi**2 / 6, rel=1e-4)
    s1, s2 = noisy_descent.robbins_monro(noisy_descent.schedule_lrs("exponential 0.98", 1.0, 10**4))
    assert s1 == pytest.approx(50.0, rel=1e-6)
    with pytest.raises(ValueError, match="expected a shape"):
        noisy_descent.schedule_lrs("cosine", 1.0, 10)


def test_exercise_e3_tolerance_rejects_the_floor_without_its_correction():
    """e3's self-check (answer within 5% of the measured floor at eta = 0.5) passes the
    formula's value and fails the small-step approximation eta / (2 lambda) that drops the
    (2 - eta lambda) correction (9% low); at 10% it passed."""
    measured = noisy_descent.measured_floor(NOISY, 0.5, [3.0, -3.0], rng=2)
    right = theory.noise_floor(NOISY.eigenvalues, 0.5)
    dropped = float(np.sqrt(np.sum(0.5 / (2 * NOISY.eigenvalues))))
    assert abs(right / measured - 1) < 0.05
    assert 0.05 < abs(dropped / measured - 1) < 0.1

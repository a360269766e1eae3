"""Lecture 07's checked claims can fail: each check, fed a plausible wrong input, says FAIL.

The notebook calls coursekit.convergence, coursekit.optim and coursekit.checks with the
right inputs and prints OK; here a beta 10% off, a learning rate 1% off, a GD 2x slower or
an untuned momentum must give FAIL. The vectorised simulation behind the (lr, beta) grid is
checked against coursekit's optimisers run one by one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from coursekit import checks, convergence, theory
from coursekit.optim import GD, Momentum, Nesterov
from coursekit.problems import Quadratic, optimize
from coursekit.theory import momentum_rate

KAPPA = 100
PROBLEM = Quadratic.with_condition(KAPPA, dim=2, rotate=np.pi / 6)
LAM = PROBLEM.eigenvalues
HB = theory.heavy_ball_optimal(LAM)
BETA_NAG = (np.sqrt(KAPPA) - 1) / (np.sqrt(KAPPA) + 1)
START = np.array([0.7, -1.3])


def _rate_verdict(make, lr, beta, nesterov, steps=1500):
    measured = convergence.contraction(PROBLEM, make, START, steps)
    return checks.rate_close(measured, momentum_rate(LAM, lr, beta, nesterov), rtol=0.02)


def test_rate_checks_pass_at_the_theory_parameters():
    lr_gd = theory.optimal_lr(LAM)
    assert _rate_verdict(lambda p: GD(p, lr=lr_gd), lr_gd, 0.0, False) == "OK"
    assert (
        _rate_verdict(
            lambda p: Momentum(p, lr=HB["lr"], beta=HB["beta"]), HB["lr"], HB["beta"], False
        )
        == "OK"
    )
    nag = lambda p: Nesterov(p, lr=1.0, beta=BETA_NAG)  # noqa: E731
    assert _rate_verdict(nag, 1.0, BETA_NAG, True) == "OK"


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_rate_check_fails_with_beta_ten_percent_off(factor):
    wrong = lambda p: Momentum(p, lr=HB["lr"], beta=factor * HB["beta"])  # noqa: E731
    assert _rate_verdict(wrong, HB["lr"], HB["beta"], False).startswith("FAIL")
    nag = lambda p: Nesterov(p, lr=1.0, beta=factor * BETA_NAG)  # noqa: E731
    assert _rate_verdict(nag, 1.0, BETA_NAG, True).startswith("FAIL")


def test_rate_check_fails_with_a_learning_rate_one_percent_off():
    wrong = lambda p: Momentum(p, lr=1.01 * HB["lr"], beta=HB["beta"])  # noqa: E731
    assert _rate_verdict(wrong, HB["lr"], HB["beta"], False).startswith("FAIL")
    lr_gd = theory.optimal_lr(LAM)
    gd = lambda p: GD(p, lr=1.01 * lr_gd)  # noqa: E731
    assert _rate_verdict(gd, lr_gd, 0.0, False).startswith("FAIL")


def test_a_short_window_would_not_reach_the_asymptotic_rate():
    """Why the lecture measures over 1500 steps: at Polyak's parameters the error behaves like
    k rho^k, and 100 steps still carry the factor (1 + 1/k) (as 2% of steps per decade)."""
    make = lambda p: Momentum(p, lr=HB["lr"], beta=HB["beta"])  # noqa: E731
    short = convergence.contraction(PROBLEM, make, START, 100)
    assert checks.rate_close(short, HB["rate"], rtol=0.02).startswith("FAIL")


# ----------------------------------------------------------------------------- the grid


def test_momentum_steps_equal_coursekit_runs():
    lam, E = np.linalg.eigh(PROBLEM.A)
    starts = np.array([[0.7, -1.3], [-1.8, 0.8]])
    for lr, beta, nesterov in [(2.5, 0.6, False), (1.2, 0.8, True), (1.7, 0.0, False)]:
        steps = convergence.momentum_steps(lam, starts @ E, [lr], [beta], nesterov=nesterov)
        cls = Nesterov if nesterov else Momentum
        for s, w0 in enumerate(starts):
            opt_w = []
            w = w0.copy()
            opt = cls([w], lr=lr, beta=beta)
            e0 = np.linalg.norm(w0)
            for k in range(1, 5001):
                opt.step([PROBLEM.grad(w)])
                here = opt.weights()[0] if nesterov else w
                if np.linalg.norm(here) <= 1e-6 * e0:
                    opt_w.append(k)
                    break
            assert steps[0, 0, s] == opt_w[0]


def test_gd_column_is_gd():
    lam, E = np.linalg.eigh(PROBLEM.A)
    lr = theory.optimal_lr(lam)
    n = convergence.momentum_steps(lam, START[None] @ E, [lr], [0.0])[0, 0, 0]
    path = optimize(PROBLEM, lambda p: GD(p, lr=lr), START, 5000)
    e = np.linalg.norm(path, axis=1)
    assert n == checks.reached(e, 1e-6 * e[0])


LRS = np.sort(np.r_[np.geomspace(0.5, 4, 25), theory.optimal_lr(LAM)])
BETAS = np.round(np.linspace(0, 0.95, 20), 2)
STARTS5 = np.random.default_rng(5).standard_normal((5, 2))


@pytest.fixture(scope="module")
def grid():
    return convergence.momentum_grid(PROBLEM, STARTS5, LRS, BETAS, max_steps=1000)


def test_speedup_checks_pass_on_the_grid(grid):
    for name, factor in [("momentum", 5), ("Nesterov", 3)]:
        assert grid.compare(name, "GD", factor=factor, rule="every").verdict() == "OK"
        measured, predicted = grid.speedup(name, LAM)
        assert checks.close(measured, predicted, rtol=0.2) == "OK", (measured, predicted)


@pytest.mark.parametrize("slower", [2.0, 1.3])
def test_speedup_check_fails_with_a_slower_gd(grid, slower):
    slow = dataclasses.replace(grid, steps=dict(grid.steps, GD=slower * grid.steps["GD"]))
    measured, predicted = slow.speedup("momentum", LAM)
    assert checks.close(measured, predicted, rtol=0.2).startswith("FAIL")


def test_the_old_coarse_grid_left_gd_off_its_best_step():
    """13 log-spaced rates from 0.5 to 4 straddle eta* = 1.98 (2.0 diverges): GD's best grid
    point was 1.68, about 12% more steps; the lecture's grid holds eta* itself."""
    coarse = convergence.momentum_grid(
        PROBLEM, STARTS5, np.geomspace(0.5, 4, 13), [0.0], max_steps=1000
    )
    fine = convergence.momentum_grid(PROBLEM, STARTS5, LRS, [0.0], max_steps=1000)
    lr_coarse, _, steps_coarse = coarse.best("GD")
    assert abs(lr_coarse - 1.68) < 0.01
    assert np.median(steps_coarse) > 1.1 * np.median(fine.best("GD")[2])


def test_beats_check_fails_with_an_untuned_momentum():
    untuned = convergence.momentum_grid(PROBLEM, STARTS5, LRS, [0.1], max_steps=1000)
    assert untuned.compare("momentum", "GD", factor=5, rule="every").verdict().startswith("FAIL")


def test_beats_check_fails_when_the_best_beta_is_the_largest_of_the_grid():
    """Nesterov's best beta is 0.8-0.85: a grid that stops at 0.6 puts its best on the edge."""
    short = convergence.momentum_grid(PROBLEM, STARTS5, LRS, BETAS[BETAS <= 0.6], max_steps=1000)
    assert short.at_beta_edge("Nesterov") and not short.at_beta_edge("GD")
    verdict = short.compare("Nesterov", "GD", factor=3, rule="every").verdict()
    assert verdict.startswith("FAIL") and "largest of the grid" in verdict


# ----------------------------------------------------------------------------- small checks


def test_effective_step_check_fails_with_beta_ten_percent_off():
    lr, beta = 0.1, 0.9
    for b, ok in [(beta, True), (0.9 * beta, False)]:
        w = np.zeros(1)
        opt = Momentum([w], lr=lr, beta=b)
        for _ in range(3000):
            opt.step([np.ones(1)])
        verdict = checks.close(-opt.state[0]["dW"][0], lr / (1 - beta), rtol=1e-9)
        assert (verdict == "OK") is ok


def test_critical_damping_check_fails_with_beta_ten_percent_off():
    for beta, ok in [(HB["beta"], True), (0.9 * HB["beta"], False)]:
        disc = [(1 + beta - HB["lr"] * lam) ** 2 - 4 * beta for lam in LAM]
        assert all(checks.verdict(abs(d), 1e-12 * 4 * beta) == "OK" for d in disc) is ok

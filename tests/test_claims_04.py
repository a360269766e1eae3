"""Lecture 04's checked claims can fail: each check, fed a plausible wrong input, says FAIL.

The notebook cells call the same coursekit functions (coursekit.convergence, checks) with
the right inputs and print OK; here they get a step 1% past eta*, a diverging rate, a
target never reached, a wrong regime or a wrong step, and must not.
"""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import checks, convergence, theory
from coursekit.optim import GD
from coursekit.problems import Quadratic, optimize

# ----------------------------------------------------------------------------- the kappa table


def test_kappa_row_fails_on_the_old_wrong_inputs():
    """The old check passed a diverging rate 1.004 against 0.998 (within 1%) and counted a
    target that was never reached as reached; the new verdict fails both."""
    rho = theory.optimal_rate(1000)
    assert abs(1.004 / rho - 1) < 0.01  # what the old relative check let through
    assert convergence.rate_row_verdict([1.004], rho, (6000,), 6908).startswith("FAIL")
    assert convergence.rate_row_verdict([rho], rho, (None,), 6908).startswith("FAIL")
    assert convergence.rate_row_verdict([rho], rho, (7000,), 6908).startswith("FAIL")
    assert convergence.rate_row_verdict([rho, rho], rho, (6000, 6900), 6908) == "OK"


@pytest.mark.parametrize("kappa", [2, 10, 1000])
def test_kappa_row_fails_one_percent_past_eta_star(kappa):
    right = convergence.gd_rate_row(kappa, rng=7)
    assert right.verdict() == "OK", right
    wrong = convergence.gd_rate_row(kappa, lr=1.01 * right.lr, rng=7)
    assert wrong.verdict().startswith("FAIL"), wrong


def test_kappa_row_rates_are_the_theory_and_steps_within_the_bound():
    row = convergence.gd_rate_row(100, rng=3)
    assert all(abs(r / row.theory - 1) < 1e-9 for r in row.rates)
    assert all(n is not None and n <= row.bound for n in row.steps)


# ----------------------------------------------------------------------------- one dimension


def test_regime_check_fails_when_the_step_is_past_two_over_a():
    """Measured regime at 2.02/a against the theory of 1.98/a: the check must disagree."""
    a = 2.0
    parabola = Quadratic([[a]])
    w = optimize(parabola, lambda p: GD(p, lr=2.02 / a), [1.0], 12)[:, 0]
    assert convergence.observed_regime(w) == "divergent"
    assert checks.passed(convergence.observed_regime(w) == theory.regime(1.98 / a, a)).startswith(
        "FAIL"
    )
    for factor in [0.5, 1.0, 1.5, 2.0, 2.5]:
        w = optimize(parabola, lambda p, f=factor: GD(p, lr=f / a), [1.0], 12)[:, 0]
        assert convergence.observed_regime(w) == theory.regime(factor / a, a)


def test_divergence_step_check_fails_on_a_step_one_percent_off():
    parabola = Quadratic([[2.0]])
    predicted = convergence.predicted_divergence_step(parabola, 2.5 / 2.0, [1.0])
    right = convergence.divergence_step(parabola, lambda p: GD(p, lr=2.5 / 2.0), [1.0])
    wrong = convergence.divergence_step(parabola, lambda p: GD(p, lr=1.01 * 2.5 / 2.0), [1.0])
    assert checks.steps_close(right, predicted, rtol=0, atol=0.5) == "OK"
    assert checks.steps_close(wrong, predicted, rtol=0, atol=0.5).startswith("FAIL")
    bounded = convergence.divergence_step(parabola, lambda p: GD(p, lr=0.5), [1.0], 100)
    assert checks.steps_close(bounded, predicted, rtol=0, atol=0.5).startswith("FAIL")


def test_per_direction_rates_fail_with_a_step_one_percent_off():
    q = Quadratic.from_spectrum([1.0, 10.0], rotation=np.pi / 6, b=[1.0, 1.0])
    expected = theory.per_direction_rate(q.eigenvalues, 0.15)
    right = convergence.per_direction_rates(q, 0.15, [-2.0, 2.0])
    wrong = convergence.per_direction_rates(q, 0.1515, [-2.0, 2.0])
    assert all(checks.close(m, t, rtol=1e-9) == "OK" for m, t in zip(right, expected))
    assert any(checks.close(m, t, rtol=1e-9) != "OK" for m, t in zip(wrong, expected))


# ----------------------------------------------------------------------------- regression


def _regression(seed=0, n=500):
    rng = np.random.default_rng(seed)
    mix = np.array([[3.0, 0, 0, 0], [2.5, 0.5, 0, 0], [0, 0, 1.0, 0], [0, 0, 0.8, 0.2]])
    X = rng.standard_normal((n, 4)) @ mix.T + np.array([2.0, -1.0, 0.5, 1.0])
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(n)
    return X, Quadratic(X.T @ X, X.T @ y, 0.5 * y @ y)


def test_regression_rate_check_fails_with_a_step_one_percent_off():
    """Rates near 1 on a log scale: lr 1% above 1/L shifts 1 - 1/kappa by 1% in steps per
    decade, which the 0.5% tolerance of the lecture's check catches."""
    X, reg = _regression()
    lr = theory.linear_regression_lr(X)
    theory_rate = 1 - 1 / reg.condition_number

    def rate(step):
        e = np.linalg.norm(
            optimize(reg, lambda p: GD(p, lr=step), np.zeros(4), 3000) - reg.minimizer, axis=1
        )
        return theory.measured_rate(e)

    assert checks.rate_close(rate(lr), theory_rate, rtol=0.005) == "OK"
    assert checks.rate_close(rate(1.01 * lr), theory_rate, rtol=0.005).startswith("FAIL")
    assert checks.rate_close(rate(0.99 * lr), theory_rate, rtol=0.005).startswith("FAIL")


def test_regression_divergence_step_check_fails_with_another_step():
    X, reg = _regression(1)
    lr = theory.linear_regression_lr(X)
    predicted = convergence.predicted_divergence_step(reg, 2.05 * lr, np.zeros(4))
    right = convergence.divergence_step(reg, lambda p: GD(p, lr=2.05 * lr), np.zeros(4))
    wrong = convergence.divergence_step(reg, lambda p: GD(p, lr=2.1 * lr), np.zeros(4))
    assert checks.steps_close(right, predicted, rtol=0, atol=0.5) == "OK"
    assert checks.steps_close(wrong, predicted, rtol=0, atol=0.5).startswith("FAIL")


# ----------------------------------------------------------------------------- contraction


def test_contraction_measures_the_rate_and_flags_divergence():
    q = Quadratic.with_condition(10, dim=2, rotate=np.pi / 6)
    lr = theory.optimal_lr(q.eigenvalues)
    w0 = np.array([1.0, -0.5])
    measured = convergence.contraction(q, lambda p: GD(p, lr=lr), w0, 200)
    assert checks.rate_close(measured, theory.optimal_rate(10), rtol=1e-6) == "OK"
    assert convergence.contraction(q, lambda p: GD(p, lr=2.5), w0, 5000) == np.inf


def test_observed_regime_rejects_too_short_runs():
    with pytest.raises(ValueError, match="at least 3 iterates"):
        convergence.observed_regime([1.0, 0.5])

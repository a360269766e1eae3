"""Lecture 3's checked claims can fail: each verdict, driven with a plausible wrong input
(the other loss, other starts, a wrong learning rate, a point off the fit), prints FAIL.

The verdict expressions are those of the lecture's checked cells; the experiments are
the coursekit functions the cells call.
"""

import numpy as np
import pytest

from coursekit.checks import close, passed, verdict
from coursekit.optim import GD
from coursekit.perceptron import (
    gauss_newton,
    perceptron_turns,
    predict,
    random_starts,
    sigmoid_unit_hessian,
    sigmoid_unit_loss,
    three_point_fit,
    three_points_plus_spoiler,
    train_perceptron,
    train_sigmoid_unit,
    train_sigmoid_units,
    turn_angle,
)
from coursekit.problems import Saddle, optimize
from coursekit.saddle import plateau_steps, steps_near

EPS = 0.01
X, Y = three_points_plus_spoiler(10.0)
P3 = three_point_fit(EPS)


def _large_basin(r):
    """The lecture's check on the squared error's basin."""
    return passed(0.25 < r.fraction < 0.75, f"(fraction {r.fraction:.2f})")


def _never_stuck(r):
    return passed(r.fraction == 0, f"({r.fraction:.1%} stuck)")


@pytest.fixture(scope="module")
def squared():
    return random_starts(n=200, rng=11)


def test_large_basin_ok_for_squared_error_fails_for_logistic_loss_and_small_starts(squared):
    assert _large_basin(squared) == "OK"
    assert _large_basin(random_starts(n=200, loss="logistic", rng=11)).startswith("FAIL")
    assert _large_basin(random_starts(n=200, box=0.25, rng=11)).startswith("FAIL")


def test_never_stuck_ok_for_logistic_loss_fails_for_squared_error(squared):
    assert _never_stuck(random_starts(n=200, loss="logistic", rng=11)) == "OK"
    assert _never_stuck(squared).startswith("FAIL")
    # small starts: none stuck; from [-0.5, 0.5]^3 a few percent already are
    assert _never_stuck(random_starts(n=200, box=0.25, rng=11)) == "OK"
    assert _never_stuck(random_starts(n=1000, box=0.5, rng=11)).startswith("FAIL")


def test_stuck_runs_are_at_a_minimum_not_on_a_slow_path(squared):
    """Ten times more steps changes no outcome (the lecture quotes this test)."""
    longer = random_starts(n=200, steps=30_000, rng=11)
    np.testing.assert_array_equal(longer.stuck, squared.stuck)
    assert squared.stuck.any() and (~squared.stuck).any()


def test_bound_check_fails_when_the_bound_is_tight(squared):
    def bound_irrelevant(a, b):
        changed = np.mean(a.stuck != b.stuck)
        return passed(changed < 0.02, f"({changed:.1%} changed)")

    free = random_starts(n=200, bound=None, rng=11)
    assert bound_irrelevant(squared, free) == "OK"
    tight = random_starts(n=200, bound=0.5, rng=11)
    assert bound_irrelevant(tight, free).startswith("FAIL")


def test_every_stuck_run_misclassifies_only_the_spoiler(squared):
    assert np.all(squared.wrong[squared.stuck] == 1)
    np.testing.assert_array_equal(squared.spoiler_wrong, squared.stuck)


def test_the_three_point_fit_does_not_move_under_squared_error_but_does_under_logistic():
    for loss, moves in [("mse", False), ("logistic", True)]:
        w, b, clipped = train_sigmoid_units(
            X, Y, P3[None, :2], P3[2:], lr=5.0, steps=3000, loss=loss, eps=EPS, bound=5.0
        )
        moved = np.abs(np.append(w[0], b[0]) - P3).max()
        check = passed(moved < 1e-12, f"({moved:.1e})")
        assert check.startswith("FAIL") == moves
        assert np.sum(predict(X, w[0], b[0]) != Y) == (0 if moves else 1)
    assert not clipped[0] or loss == "logistic"


def test_gradient_at_the_fit_is_the_spoilers_sigmoid_slope():
    _, gw, gb = sigmoid_unit_loss(X, Y, P3[:2], P3[2], loss="mse", eps=EPS)
    norm = np.linalg.norm(np.append(gw, gb))
    assert passed(norm < 1e-15) == "OK"
    # the same check on a spoiler at t = 1 (not deep in the tail) fails
    X1, Y1 = three_points_plus_spoiler(1.0)
    _, gw1, gb1 = sigmoid_unit_loss(X1, Y1, P3[:2], P3[2], loss="mse", eps=EPS)
    assert passed(np.linalg.norm(np.append(gw1, gb1)) < 1e-15).startswith("FAIL")


def test_gauss_newton_check_fails_away_from_the_fit():
    def matches(w, b):
        H = sigmoid_unit_hessian(X, Y, w, b, loss="mse", eps=EPS)
        H_gn = gauss_newton(X, w, b)
        return verdict(np.abs(H - H_gn).max() / np.abs(H_gn).max(), 1e-6)

    assert matches(P3[:2], P3[2]) == "OK"
    assert matches(np.array([1.0, -0.5]), 0.3).startswith("FAIL")


def test_plateau_check_fails_with_a_learning_rate_ten_percent_off():
    surface = Saddle()
    for x0 in [1e-6, 1e-9]:
        tr = optimize(surface, lambda p: GD(p, lr=0.1), [x0, 1.0], steps=300)
        near = steps_near(tr, [0.0, 0.0], 0.2)
        assert close(near, plateau_steps(x0, 1.0, 0.1, 0.2), rtol=0, atol=2) == "OK"
        wrong = plateau_steps(x0, 1.0, 0.11, 0.2)
        assert close(near, wrong, rtol=0, atol=2).startswith("FAIL")


def test_turn_angles_from_zero():
    w_p3, b_p3, _ = train_perceptron(X[:3], Y[:3])
    w_p, b_p, _ = train_perceptron(X, Y, epochs=10_000)
    assert round(float(turn_angle(w_p3, w_p))) == 53
    w_0, _, _ = train_sigmoid_unit(X, Y, lr=5.0, steps=3000, eps=EPS, bound=5.0)
    assert round(float(turn_angle(P3[:2], w_0))) == 46
    w_l, _, _ = train_sigmoid_unit(X, Y, lr=5.0, steps=3000, loss="logistic", eps=EPS, bound=5.0)
    assert round(float(turn_angle(P3[:2], w_l))) == 48


def test_spread_checks_tell_the_methods_apart(squared):
    """The logistic check ('every start turns by 45 to 50 degrees') fails on the
    perceptron's and the squared error's angles; the perceptron's wide-spread check
    fails on the logistic loss's."""
    logistic = random_starts(n=200, loss="logistic", rng=11)
    a_log, a_sq = logistic.turned(P3[:2]), squared.turned(P3[:2])
    a_p = perceptron_turns(10.0, squared.w0[:100], squared.b0[:100])

    def narrow(a):
        return passed(a.min() > 45 and a.max() < 50)

    def wide(a):
        return passed(a.min() < 1 and a.max() > 90)

    assert narrow(a_log) == "OK" and wide(a_p) == "OK"
    assert narrow(a_p).startswith("FAIL") and narrow(a_sq).startswith("FAIL")
    assert wide(a_log).startswith("FAIL")
    assert a_sq[squared.stuck].max() < 15 and a_sq[~squared.stuck].min() > 40


@pytest.mark.parametrize("rng", [0, 1])
def test_exercise_e2_wrong_side_rule_is_not_enough(rng):
    """e2's plausible wrong answer, 'stuck when the spoiler starts on the wrong side',
    fails the 96% bar; the worked solution's threshold passes it."""
    r = random_starts(n=500, rng=rng)
    assert np.mean((r.z_spoiler0 < 0) == r.stuck) < 0.96
    assert np.mean((r.z_spoiler0 < -6) == r.stuck) >= 0.96

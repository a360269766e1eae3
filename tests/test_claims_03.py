"""Lecture 3's checked claims can fail: each verdict, driven with a plausible wrong input
(the other loss, other starts, a wrong or untuned learning rate, a grid whose best sits at
its edge, a point off the fit), prints FAIL.

The verdict expressions are those of the lecture's checked cells; the experiments are
the coursekit functions the cells call.
"""

import numpy as np
import pytest

from coursekit.checks import beats, close, passed, verdict
from coursekit.optim import GD
from coursekit.perceptron import (
    gauss_newton,
    perceptron_turns,
    predict,
    random_starts,
    sigmoid_unit_hessian,
    sigmoid_unit_loss,
    stuck_sweep,
    three_point_fit,
    three_point_sweep,
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


LR_LOGISTIC = 2.0  # the lecture's step size for the logistic loss


def _large_basin(r):
    """The lecture's check on the squared error's basin."""
    return passed(0.3 < r.fraction < 0.55, f"(fraction {r.fraction:.2f})")


def _never_stuck(r):
    return passed(r.fraction == 0, f"({r.fraction:.1%} stuck)")


@pytest.fixture(scope="module")
def squared():
    return random_starts(n=200, rng=11)


def test_large_basin_ok_for_squared_error_fails_for_logistic_loss_and_small_starts(squared):
    assert _large_basin(squared) == "OK"
    assert _large_basin(random_starts(n=200, loss="logistic", lr=2.0, rng=11)).startswith("FAIL")
    assert _large_basin(random_starts(n=200, box=0.25, rng=11)).startswith("FAIL")


def test_never_stuck_ok_for_logistic_loss_fails_for_squared_error(squared):
    assert _never_stuck(random_starts(n=200, loss="logistic", lr=LR_LOGISTIC, rng=11)) == "OK"
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
    w_l, _, _ = train_sigmoid_unit(
        X, Y, lr=LR_LOGISTIC, steps=3000, loss="logistic", eps=EPS, bound=5.0
    )
    assert round(float(turn_angle(P3[:2], w_l))) == 47


def test_spread_checks_tell_the_methods_apart(squared):
    """The logistic check ('every start ends at the same boundary') fails on the
    perceptron's and the squared error's angles, and on the logistic loss run at the
    step size 5, past its 2 / lambda_max; the perceptron's wide-spread check fails on the
    logistic loss's."""
    logistic = random_starts(n=200, loss="logistic", lr=LR_LOGISTIC, rng=11)
    a_log, a_sq = logistic.turned(P3[:2]), squared.turned(P3[:2])
    a_p = perceptron_turns(10.0, squared.w0[:100], squared.b0[:100])
    a_log5 = random_starts(n=200, loss="logistic", lr=5.0, rng=11).turned(P3[:2])

    def narrow(a):
        return passed(np.ptp(a) < 0.01)

    def wide(a):
        return passed(a.min() < 1 and a.max() > 90)

    assert narrow(a_log) == "OK" and wide(a_p) == "OK"
    assert narrow(a_p).startswith("FAIL") and narrow(a_sq).startswith("FAIL")
    assert narrow(a_log5).startswith("FAIL")
    assert wide(a_log).startswith("FAIL")
    assert a_sq[squared.stuck].max() < 15 and a_sq[~squared.stuck].min() > 40


def test_separating_runs_end_on_the_bound_only_with_a_bound(squared):
    def on_edge(r):
        return passed(np.all(r.w[~r.stuck, 0] == 5.0))

    assert on_edge(squared) == "OK"
    assert on_edge(random_starts(n=200, bound=None, rng=11)).startswith("FAIL")


def test_fit_race_ok_tuned_fails_untuned_or_at_the_edge_of_the_grid():
    race = three_point_sweep(seeds=[3, 4, 5])
    cmp = race.compare("logistic loss", "squared error", factor=1e4, rule="every")
    assert cmp.verdict() == "OK"
    assert passed(race.best("logistic loss").max() < 1e-6) == "OK"
    assert passed(race.best("squared error").min() > 0.1) == "OK"
    # the logistic loss at the grid's smallest step size, against a tuned squared error
    untuned = beats(race.scores["logistic loss"][0], race.best("squared error"), factor=1e4)
    assert untuned.verdict().startswith("FAIL")
    # a grid that stops short: the logistic loss's best is its largest step size
    short = three_point_sweep(lrs=[1.0, 3.16], seeds=[3, 4, 5])
    assert (
        short.compare("logistic loss", "squared error", factor=1e4, rule="every")
        .verdict()
        .startswith("FAIL")
    )


@pytest.fixture(scope="module")
def by_lr():
    return stuck_sweep(lrs=(1.0, 8.0, 64.0), n=60, seeds=[3, 4, 5])


def test_stuck_share_check_fails_when_the_grid_reaches_unstable_step_sizes(by_lr):
    sq = by_lr.scores["squared error"].mean(axis=1)

    def same_share(shares):
        return passed(np.ptp(shares) <= 0.02, f"({np.round(shares, 3)})")

    assert same_share(sq[:2]) == "OK"
    assert passed(0.3 < sq[:2].min() and sq[:2].max() < 0.6) == "OK"
    assert same_share(sq).startswith("FAIL")  # at 64 far more starts end stuck


def test_logistic_beats_squared_error_at_every_step_size_fails_from_small_starts(by_lr):
    log, sq = by_lr.scores["logistic loss"][:2], by_lr.scores["squared error"][:2]
    assert beats(log, sq, rule="every").verdict() == "OK"
    assert beats(sq, log, rule="every").verdict().startswith("FAIL")
    small = stuck_sweep(lrs=(1.0, 8.0), n=50, seeds=[3, 4, 5], box=0.25)
    # from small starts neither loss gets stuck: a tie is not a win
    assert beats(log, small.scores["squared error"], rule="every").verdict().startswith("FAIL")


def test_logistic_step_size_check_fails_past_two_over_lambda_max():
    w, b, _ = train_sigmoid_unit(
        X, Y, lr=LR_LOGISTIC, steps=3000, w0=P3[:2], b0=P3[2], loss="logistic", eps=EPS, bound=5.0
    )
    assert w[0] == 5.0
    eta_max = (
        2
        / np.linalg.eigvalsh(
            sigmoid_unit_hessian(X, Y, w, b, loss="logistic", eps=EPS)[1:, 1:]
        ).max()
    )
    assert round(eta_max, 1) == 4.5

    below, above = (
        np.ptp(random_starts(n=40, loss="logistic", lr=f * eta_max, rng=13).turned(P3[:2]))
        for f in (0.9, 1.1)
    )
    assert passed(below < 0.01) == "OK"
    assert passed(above > 0.1) == "OK"
    # the verdicts swap when the step size is on the other side of 2 / lambda_max
    assert passed(above < 0.01).startswith("FAIL")
    assert passed(below > 0.1).startswith("FAIL")


def test_train_sigmoid_units_takes_one_learning_rate_per_run():
    P0 = np.array([[0.1, -0.2, 0.3], [0.5, 0.4, -0.1]])
    w, b, _ = train_sigmoid_units(X, Y, P0[:, :2], P0[:, 2], lr=np.array([1.0, 3.0]), steps=50)
    for s, lr in enumerate([1.0, 3.0]):
        w1, b1, _ = train_sigmoid_unit(X, Y, lr=lr, steps=50, w0=P0[s, :2], b0=P0[s, 2])
        np.testing.assert_allclose(w[s], w1, rtol=1e-12)
        assert abs(b[s] - b1) < 1e-12
    with pytest.raises(ValueError, match="one per start"):
        train_sigmoid_units(X, Y, P0[:, :2], P0[:, 2], lr=np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("rng", [0, 1])
def test_exercise_e2_wrong_side_rule_is_not_enough(rng):
    """e2's plausible wrong answer, 'stuck when the spoiler starts on the wrong side',
    fails the 96.5% bar; the worked solution's threshold passes it."""
    r = random_starts(n=500, rng=rng)
    assert np.mean((r.z_spoiler0 < 0) == r.stuck) < 0.965
    assert np.mean((r.z_spoiler0 < -6) == r.stuck) >= 0.965

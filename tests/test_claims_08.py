"""Lecture 8's checked claims, each driven with the right input (OK) and with a plausible
wrong one (FAIL): the same coursekit functions and the same checks the cells use."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import checks
from coursekit.data import load_digits_multiclass
from coursekit.optim import SGD
from coursekit.sgd_noise import (
    LeastSquares,
    ema_on_network,
    equal_cost_sweep,
    expected_excess,
    minibatch_variance,
    minibatch_variance_theory,
    noise_floor_first_order,
    per_sample_gradients,
    sgd_chains,
)
from coursekit.stacked import sweep_stacked


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    m, d = 1000, 10
    X = rng.normal(size=(m, d)) * np.geomspace(1, 0.7, d)
    y = X @ rng.normal(size=d) + 0.5 * rng.normal(size=m)
    return LeastSquares(X, y)


def test_minibatch_variance_needs_the_finite_population_correction(problem):
    G = per_sample_gradients(problem.X, problem.y, np.ones(problem.d))
    for b in (1, 16, 256):
        meas = minibatch_variance(G, b, epochs=300, rng=1)
        assert checks.close(meas, minibatch_variance_theory(G, b), rtol=0.1) == "OK"
    meas = minibatch_variance(G, 256, epochs=300, rng=1)
    # forgetting the correction (the with-replacement formula) is 25% off at b = 256
    wrong = minibatch_variance_theory(G, 256, replace=True)
    assert checks.close(meas, wrong, rtol=0.1).startswith("FAIL")
    # and batches drawn with replacement do not follow the corrected formula
    with_repl = minibatch_variance(G, 256, epochs=300, replace=True, rng=2)
    assert checks.close(with_repl, minibatch_variance_theory(G, 256), rtol=0.1).startswith("FAIL")


@pytest.fixture(scope="module")
def chains(problem):
    steps, per_lr = 2000, 400
    lrs = lambda k: np.repeat([0.02, 0.02 / (1 + k / 200)], per_lr)  # noqa: E731
    out = sgd_chains(
        problem, lrs, steps, 2 * per_lr, w0=problem.w_star, ema=0.99, record_from=steps - 500, rng=3
    )
    return out, per_lr, steps


def test_noise_floor_is_the_exact_value_not_the_first_order_one(problem, chains):
    out, per_lr, steps = chains
    measured = out["excess"][:, :per_lr].mean()
    exact = expected_excess(problem, np.full(steps, 0.02), problem.w_star)[-501:].mean()
    assert checks.close(measured, exact, rtol=0.05) == "OK"
    off = expected_excess(problem, np.full(steps, 0.022), problem.w_star)[-501:].mean()
    assert checks.close(measured, off, rtol=0.05).startswith("FAIL")  # lr 10% off
    first = noise_floor_first_order(problem, 0.02)
    assert checks.close(measured, first, rtol=0.05).startswith("FAIL")  # about 9% low


def test_annealing_check_fails_without_annealing(problem, chains):
    out, per_lr, steps = chains
    annealed, constant = out["excess"][-1, per_lr:], out["excess"][-1, :per_lr]
    exact = expected_excess(problem, [0.02 / (1 + k / 200) for k in range(steps)], problem.w_star)
    assert checks.close(annealed.mean(), exact[-1], rtol=0.15) == "OK"
    assert checks.beats(annealed, constant, factor=5).ok
    # a "schedule" whose k0 is so large that it never anneals
    flat = sgd_chains(
        problem,
        lambda k: 0.02 / (1 + k / 1e9),
        steps,
        400,
        w0=problem.w_star,
        record_from=steps,
        rng=4,
    )
    assert checks.beats(flat["excess"][-1], constant, factor=5).verdict().startswith("FAIL")


def test_ema_ratio_is_the_exact_one_and_a_gamma_off_fails(problem, chains):
    out, per_lr, steps = chains
    ratio = out["ema_excess"][:, :per_lr].mean() / out["excess"][:, :per_lr].mean()

    def exact(gamma):
        last, ema = expected_excess(problem, np.full(steps, 0.02), problem.w_star, ema=gamma)
        return ema[-501:].mean() / last[-501:].mean()

    assert checks.close(ratio, exact(0.99), 0.1) == "OK"
    assert checks.close(ratio, exact(0.891), 0.1).startswith("FAIL")  # gamma 10% off
    gain = checks.beats(
        out["ema_excess"][:, :per_lr].mean(0), out["excess"][:, :per_lr].mean(0), factor=1.5
    )
    assert gain.ok


def test_sgd_wins_early_gd_late_and_an_untuned_method_fails(problem):
    gd_lrs, sgd_lrs = np.geomspace(0.25, 4, 9), 0.00025 * 2.0 ** np.arange(10)
    after, _ = equal_cost_sweep(problem, (1, 10), gd_lrs, sgd_lrs, range(5), rng=5)
    assert after[1].compare("SGD b=1", "GD", factor=5).verdict() == "OK"
    assert after[10].compare("GD", "SGD b=1", factor=10).verdict() == "OK"
    # SGD at one large untuned lr loses its early lead; GD at an untuned small lr its late one
    untuned, _ = equal_cost_sweep(problem, (1,), gd_lrs, [0.128], range(5), rng=5)
    assert untuned[1].compare("SGD b=1", "GD", factor=5).verdict().startswith("FAIL")
    slow, _ = equal_cost_sweep(problem, (10,), [0.25], sgd_lrs, range(5), rng=5)
    assert slow[10].compare("GD", "SGD b=1", factor=10).verdict().startswith("FAIL")


@pytest.fixture(scope="module")
def digits():
    X, y, Xt, yt = load_digits_multiclass(rng=0)
    order = np.argsort(y, kind="stable")
    return X[order], y[order], Xt, yt


def test_shuffling_beats_cyclic_only_on_ordered_data(digits):
    X, y, _, _ = digits
    kw = dict(epochs=5, rule={"shuffled": "shuffle", "cyclic": "cyclic"})
    lrs = [0.1, 0.2, 0.4, 0.8, 1.6]
    both = {"shuffled": SGD, "cyclic": SGD}
    sorted_data = sweep_stacked([64, 32, 10], both, lrs, [0, 1, 2], X, y, **kw)
    assert sorted_data.compare("shuffled", "cyclic", factor=3).verdict() == "OK"
    mixed = np.random.default_rng(0).permutation(len(X))  # cyclic order of mixed classes
    unsorted = sweep_stacked([64, 32, 10], both, lrs, [0, 1, 2], X[mixed], y[mixed], **kw)
    assert unsorted.compare("shuffled", "cyclic", factor=3).verdict().startswith("FAIL")


def test_ema_lags_while_the_weights_travel_and_smooths_only_when_noise_dominates(digits):
    X, y, Xt, yt = digits

    def run(lr, seeds, gamma):
        return ema_on_network(X, y, Xt, yt, [lr], seeds, gamma=gamma, epochs=12, last=8)[lr]

    small, large = run(0.05, [0, 1, 2], 0.98), run(0.8, range(6), 0.98)
    lag = lambda r: checks.beats(r["last"], r["ema"], factor=1.05, rule="paired")  # noqa: E731
    calm = lambda r: checks.beats(r["wiggle_ema"], r["wiggle_last"], factor=1.25)  # noqa: E731
    assert lag(small).verdict() == "OK"
    assert calm(large).verdict() == "OK"
    # an "average" over two steps does not lag; at a small lr the average is the rougher curve
    assert lag(run(0.05, [0, 1, 2], 0.5)).verdict().startswith("FAIL")
    assert calm(small).verdict().startswith("FAIL")


def test_cyclic_order_reaches_a_fixed_biased_point_and_shuffling_does_not(problem):
    from coursekit.sgd_noise import sgd_epochs

    order = np.argsort(problem.y)
    ordered = LeastSquares(problem.X[order], problem.y[order])

    def same_point(ends):
        move = np.linalg.norm(ends[-1] - ends[-2]) / np.linalg.norm(ends[-1])
        return checks.verdict(move, 1e-8)

    gaps, ends = sgd_epochs(ordered, 0.02, 1, 30, "cyclic")
    assert same_point(ends) == "OK"
    assert checks.passed(gaps[-1] > 1e-4) == "OK"
    _, shuffled = sgd_epochs(ordered, 0.02, 1, 30, "shuffle", rng=0)
    assert same_point(shuffled).startswith("FAIL")
    # the whole set as one batch is GD: its fixed point is w*, no bias
    full, _ = sgd_epochs(ordered, 1.0, ordered.m, 30, "cyclic")
    assert checks.passed(full[-1] > 1e-4).startswith("FAIL")

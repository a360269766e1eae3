"""coursekit.sweep: each method at its own best learning rate, over seeds."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from coursekit.sweep import best_of, sweep


def gd_steps(slowdown=1.0, kappa=10.0):
    """Steps GD needs to shrink the error 1e6-fold on a quadratic with eigenvalues a and
    kappa * a (a drawn from the seed), times ``slowdown``: a method ``slowdown`` times slower."""

    def run(lr, seed):
        a = np.random.default_rng(seed).uniform(0.8, 1.2)
        rate = max(abs(1 - lr * a), abs(1 - lr * kappa * a))
        if rate >= 1:
            raise FloatingPointError("diverged")
        return slowdown * np.ceil(np.log(1e-6) / np.log(rate))

    return run


GRID = np.geomspace(0.01, 1.0, 21)


def test_best_lr_is_the_optimum_and_divergence_scores_inf():
    res = sweep({"GD": gd_steps()}, GRID, seeds=[0, 1, 2])
    assert 0.12 < res.best_lr("GD") < 0.25  # eta* = 2 / (11 a)
    assert np.isinf(res.scores["GD"][-1]).all()  # lr 1 diverges for every a
    assert not res.at_edge("GD")
    lo, hi = res.stable_range("GD", within=2)
    assert lo < res.best_lr("GD") <= hi
    assert "best lr" in res.table()


def test_a_two_times_slower_method_is_caught_and_an_equal_one_is_not_claimed():
    res = sweep({"fast": gd_steps(), "slow": gd_steps(2.0), "same": gd_steps()}, GRID, seeds=3)
    assert res.compare("fast", "slow", factor=1.5).ok
    assert not res.compare("slow", "fast").ok
    assert not res.compare("fast", "same", factor=1.1).ok


def test_a_best_lr_at_the_edge_of_the_grid_fails_the_comparison():
    narrow = sweep({"fast": gd_steps(), "slow": gd_steps(2.0)}, GRID[:8], seeds=3)
    assert narrow.at_edge("fast")
    cmp = narrow.compare("fast", "slow")
    assert not cmp.ok
    assert cmp.verdict().startswith("FAIL (best lr of fast, slow at the edge")


def test_best_of_and_validation():
    lr, scores = best_of(gd_steps(), GRID, seeds=[0, 1, 2])
    assert 0.12 < lr < 0.25 and scores.shape == (3,)
    with pytest.raises(ValueError, match="positive learning rates"):
        sweep({"GD": gd_steps()}, [0.1, -1.0])
    with pytest.raises(ValueError, match="at least one method"):
        sweep({}, GRID)


def test_plot_draws_one_line_per_method():
    res = sweep({"a": gd_steps(), "b": gd_steps(2.0)}, GRID, seeds=2)
    ax = res.plot()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert ax.get_xscale() == "log"

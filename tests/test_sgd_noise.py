"""coursekit.sgd_noise against exhaustive enumeration and brute-force simulation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coursekit.sgd_noise import (
    LeastSquares,
    expected_excess,
    minibatch_variance,
    minibatch_variance_theory,
    noise_floor,
    noise_floor_first_order,
    per_sample_gradients,
    sgd_chains,
)


def _small(m=6, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    return LeastSquares(X, X @ rng.normal(size=d) + rng.normal(size=m))


def test_variance_theory_equals_every_batch_enumerated():
    G = np.random.default_rng(1).normal(size=(6, 3))
    mean = G.mean(0)
    for b in range(1, 7):
        without = [
            np.sum((G[list(c)].mean(0) - mean) ** 2) for c in itertools.combinations(range(6), b)
        ]
        assert np.mean(without) == pytest.approx(
            minibatch_variance_theory(G, b), rel=1e-12, abs=1e-15
        )
    for b in (1, 2, 3):
        with_repl = [
            np.sum((G[list(c)].mean(0) - mean) ** 2) for c in itertools.product(range(6), repeat=b)
        ]
        assert np.mean(with_repl) == pytest.approx(
            minibatch_variance_theory(G, b, replace=True), rel=1e-12
        )


def test_measured_variance_is_unbiased_and_exact_for_single_samples():
    G = np.random.default_rng(2).normal(size=(40, 3))
    assert minibatch_variance(G, 1, epochs=1, rng=0) == pytest.approx(
        minibatch_variance_theory(G, 1), rel=1e-12
    )
    assert minibatch_variance(G, 40, epochs=3, rng=0) == pytest.approx(0, abs=1e-20)
    assert minibatch_variance(G, 8, epochs=2000, rng=0) == pytest.approx(
        minibatch_variance_theory(G, 8), rel=0.05
    )
    assert minibatch_variance(G, 8, epochs=2000, replace=True, rng=0) == pytest.approx(
        minibatch_variance_theory(G, 8, replace=True), rel=0.05
    )
    with pytest.raises(ValueError, match="batch size"):
        minibatch_variance(G, 41)


def test_problem_quantities():
    p = _small()
    assert np.allclose(per_sample_gradients(p.X, p.y, p.w_star).sum(0), 0, atol=1e-12)
    w = np.array([0.3, -0.7])
    f = lambda v: 0.5 * np.mean((p.X @ v - p.y) ** 2)  # noqa: E731
    assert p.excess(w) == pytest.approx(f(w) - f(p.w_star), rel=1e-12)
    g = per_sample_gradients(p.X, p.y, p.w_star)
    assert np.allclose(p.Sigma, g.T @ g / p.m)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_expected_excess_matches_brute_force_simulation(batch_size):
    p = _small(m=8, d=2, seed=3)
    lrs = 0.2 / (1 + np.arange(40) / 10)
    w0 = np.array([1.0, -2.0])
    exact, exact_ema = expected_excess(p, lrs, w0, batch_size, ema=0.7)
    sim = sgd_chains(p, lambda k: lrs[k], 40, 20_000, batch_size, w0=w0, ema=0.7, rng=4)
    for k in (1, 5, 40):
        se = sim["excess"][k].std() / np.sqrt(20_000)
        assert abs(sim["excess"][k].mean() - exact[k]) < 5 * se + 1e-12
        se = sim["ema_excess"][k].std() / np.sqrt(20_000)
        assert abs(sim["ema_excess"][k].mean() - exact_ema[k]) < 5 * se + 1e-12


def test_one_exact_step_by_hand():
    p = _small(m=5, d=2, seed=5)
    w0, lr = np.array([0.5, 0.5]), 0.1
    steps = [w0 - lr * p.X[i] * (p.X[i] @ w0 - p.y[i]) for i in range(p.m)]
    by_hand = np.mean([p.excess(w) for w in steps])
    assert expected_excess(p, [lr], w0)[1] == pytest.approx(by_hand, rel=1e-12)


def test_noise_floor_is_the_limit_and_first_order_for_small_lr():
    p = _small(m=30, d=3, seed=6)
    curve = expected_excess(p, np.full(3000, 0.05), np.zeros(3))
    assert curve[-1] == pytest.approx(noise_floor(p, 0.05), rel=1e-9)
    assert noise_floor_first_order(p, 1e-4) == pytest.approx(noise_floor(p, 1e-4), rel=1e-2)
    with pytest.raises(ValueError, match="too large"):
        noise_floor(p, 10.0)

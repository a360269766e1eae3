"""coursekit.subgradient: the minimum-norm subgradient, and which steps descend."""

import numpy as np
import pytest

from coursekit.subgradient import active_pieces, max_affine, min_norm_subgradient, step_change


def _brute_force(G, n=200_001):
    """Least-norm point of the segment/hull by a dense grid over two weights."""
    a = np.linspace(0, 1, n)
    pts = a[:, None] * G[0] + (1 - a[:, None]) * G[1]
    return pts[np.argmin(np.linalg.norm(pts, axis=1))]


@pytest.mark.parametrize("seed", range(5))
def test_two_rows_match_a_dense_search(seed):
    G = np.random.default_rng(seed).normal(size=(2, 3))
    np.testing.assert_allclose(min_norm_subgradient(G), _brute_force(G), atol=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_many_rows_satisfy_the_optimality_condition(seed):
    """g* is the least-norm point of the hull iff a_i . g* >= |g*|^2 for every row."""
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(5, 3)) + np.array([3.0, 0.0, 0.0])  # hull away from 0
    g = min_norm_subgradient(G)
    assert np.all(G @ g >= g @ g - 1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_minimum_norm_descends_while_some_vertex_subgradient_may_not(seed):
    """At a tie of affine pieces, -g* lowers f for small steps whenever g* != 0."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, 2))
    c = -(A @ np.zeros(2))  # all three pieces tie at w = 0
    assert len(active_pieces(A, c, np.zeros(2))) == 3

    def f(w):
        return max_affine(A, c, w)

    g = min_norm_subgradient(A)
    assert np.all(A @ g >= g @ g - 1e-9)  # optimality: g* is the least-norm hull point
    if np.linalg.norm(g) > 1e-8:  # else 0 is a subgradient: w = 0 is a minimum
        assert step_change(f, np.zeros(2), g, 1e-3) < 0
    else:
        assert all(step_change(f, np.zeros(2), -v, 1e-3) >= 0 for v in np.eye(2))


def test_the_lectures_example_rises_against_the_first_winner():
    A = np.array([[2.0, 1.0], [-2.0, 1.0]])

    def f(w):
        return max_affine(A, np.zeros(2), w)

    assert step_change(f, np.zeros(2), A[0], 0.1) == pytest.approx(0.3)
    np.testing.assert_allclose(min_norm_subgradient(A), [0.0, 1.0])
    # with a2 = (-1, 1) the equal split is no longer the minimum-norm subgradient
    B = np.array([[2.0, 1.0], [-1.0, 1.0]])
    assert not np.allclose(min_norm_subgradient(B), B.mean(axis=0))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"rows of a \(k, d\) array"):
        min_norm_subgradient(np.zeros(3))
    with pytest.raises(ValueError, match="lr"):
        step_change(lambda w: 0.0, np.zeros(2), np.ones(2), 0.0)

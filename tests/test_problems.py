"""coursekit.problems: values, gradients and Hessians against torch autograd (float64)."""

import numpy as np
import pytest
import torch

from coursekit.errors import DivergenceError
from coursekit.optim import GD
from coursekit.problems import (
    Quadratic,
    Rosenbrock,
    Saddle,
    critical_point_type,
    optimize,
)

RNG = np.random.default_rng(0)
A_ROT = Quadratic.from_spectrum(
    [0.5, 2.0, 7.0], rotation="random", rng=3, b=[1.0, -2.0, 0.5], c=1.5
)


def _torch_value(problem):
    if isinstance(problem, Quadratic):
        A, b = torch.tensor(problem.A), torch.tensor(problem.b)
        return lambda w: 0.5 * w @ A @ w - b @ w + problem.c
    if isinstance(problem, Rosenbrock):
        return lambda w: (problem.a - w[0]) ** 2 + problem.b * (w[1] - w[0] ** 2) ** 2
    return lambda w: w[0] ** 4 / 4 - w[0] ** 2 / 2 + w[1] ** 2 / 2


@pytest.mark.parametrize(
    "problem", [A_ROT, Rosenbrock(), Rosenbrock(a=-0.5, b=10), Saddle()], ids=repr
)
def test_value_grad_hessian_match_torch_autograd(problem):
    f = _torch_value(problem)
    for w in RNG.uniform(-2, 2, size=(5, problem.dim)):
        wt = torch.tensor(w, requires_grad=True)
        val = f(wt)
        (g,) = torch.autograd.grad(val, wt)
        H = torch.autograd.functional.hessian(f, torch.tensor(w))
        # float64 throughout: agreement to rounding (rtol 1e-12)
        np.testing.assert_allclose(problem.value(w), val.item(), rtol=1e-12)
        np.testing.assert_allclose(problem.grad(w), g.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(problem.hessian(w), H.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("problem", [A_ROT, Rosenbrock(), Saddle()], ids=repr)
def test_batched_calls_equal_pointwise_calls(problem):
    W = RNG.uniform(-2, 2, size=(4, 3, problem.dim))
    assert problem.value(W).shape == (4, 3)
    assert problem.hessian(W).shape == (4, 3, problem.dim, problem.dim)
    for idx in np.ndindex(4, 3):
        np.testing.assert_allclose(problem.value(W)[idx], problem.value(W[idx]), rtol=1e-14)
        np.testing.assert_allclose(problem.grad(W)[idx], problem.grad(W[idx]), rtol=1e-14)


def test_minimizers_are_stationary_and_lowest():
    for problem in [A_ROT, Rosenbrock(a=0.7)]:
        w_star = problem.minimizer
        np.testing.assert_allclose(problem.grad(w_star), 0.0, atol=1e-12)
        nearby = w_star + 1e-3 * RNG.standard_normal((20, problem.dim))
        assert np.all(problem.value(nearby) > problem.value(w_star))


def test_from_spectrum_has_the_eigenvalues_and_eigenvectors_asked_for():
    angle = 0.3
    q = Quadratic.from_spectrum([1.0, 4.0], rotation=angle)
    np.testing.assert_allclose(np.linalg.eigvalsh(q.A), [1.0, 4.0], rtol=1e-12)
    u = np.array([np.cos(angle), np.sin(angle)])  # first axis turned by the angle
    np.testing.assert_allclose(q.A @ u, 1.0 * u, atol=1e-12)
    assert q.lambda_min == pytest.approx(1.0) and q.lambda_max == pytest.approx(4.0)


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e3])
@pytest.mark.parametrize("rotate", [False, True, 0.4])
def test_with_condition_gives_that_condition_number(kappa, rotate):
    dim = 2 if not isinstance(rotate, bool) else 4
    q = Quadratic.with_condition(kappa, dim=dim, rotate=rotate, rng=1)
    assert np.linalg.cond(q.A) == pytest.approx(kappa, rel=1e-9)  # numpy's 2-norm cond
    assert q.condition_number == pytest.approx(kappa, rel=1e-9)
    np.testing.assert_allclose(q.minimizer, 0.0, atol=1e-12)


def test_invalid_input_names_what_was_expected():
    with pytest.raises(ValueError, match=r"kappa: expected a value in \[1.0, inf\), got 0.5"):
        Quadratic.with_condition(0.5)
    with pytest.raises(ValueError, match="square matrix"):
        Quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"b of shape \(2,\)"):
        Quadratic(np.eye(2), b=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"w of shape \(..., 2\), got shape \(3,\)"):
        Rosenbrock().grad(np.zeros(3))
    with pytest.raises(ValueError, match="positive definite"):
        _ = Quadratic(np.diag([1.0, -1.0])).condition_number
    with pytest.raises(ValueError, match="orthogonal"):
        Quadratic.from_spectrum([1.0, 2.0], rotation=np.ones((2, 2)))


def test_indefinite_quadratic_has_no_minimizer():
    assert Quadratic(np.diag([1.0, -1.0])).minimizer is None


def test_critical_points_of_saddle_surface_are_classified_from_the_hessian():
    s = Saddle()
    kinds = [critical_point_type(s.hessian(p)) for p in s.critical_points]
    assert kinds == ["minimum", "saddle", "minimum"]
    np.testing.assert_allclose(s.grad(s.critical_points), 0.0, atol=1e-15)


@pytest.mark.parametrize(
    ("eigs", "kind"),
    [
        ([1.0, 2.0], "minimum"),
        ([-1.0, -3.0], "maximum"),
        ([-1.0, 2.0], "saddle"),
        ([0.0, 2.0], "degenerate"),
        ([-1.0, 0.0, 1.0], "saddle"),
    ],
)
def test_critical_point_type_from_eigenvalues(eigs, kind):
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((len(eigs), len(eigs))))
    H = (q * np.array(eigs)) @ q.T  # a rotated Hessian with exactly these eigenvalues
    assert critical_point_type(H) == kind


def test_optimize_matches_an_explicit_gd_loop_and_leaves_w0_alone():
    w0 = np.array([1.0, -1.0, 2.0])
    before = w0.copy()
    traj = optimize(A_ROT, lambda p: GD(p, lr=0.1), w0, steps=25)
    np.testing.assert_array_equal(w0, before)
    w = before.copy()
    expected = [w.copy()]
    for _ in range(25):
        w = w - 0.1 * (A_ROT.A @ w - A_ROT.b)
        expected.append(w)
    assert traj.shape == (26, 3)
    np.testing.assert_allclose(traj, np.array(expected), rtol=1e-12, atol=1e-14)


def test_optimize_stops_at_tolerance():
    q = Quadratic(np.diag([1.0]))
    # error 0.5^k from 1: first below 1e-3 at k = 10 (0.5^10 = 9.8e-4)
    traj = optimize(q, lambda p: GD(p, lr=0.5), [1.0], steps=100, tol=1e-3)
    assert traj.shape == (11, 1)


def test_optimize_raises_divergence_error_naming_the_step():
    q = Quadratic(np.diag([1.0]))
    # lr = 3: w_k = (-2)^k, so ||w_k|| first exceeds 1e100 at k = 333 (2^332 < 1e100 < 2^333)
    with pytest.raises(DivergenceError, match="step 333") as info:
        optimize(q, lambda p: GD(p, lr=3.0), [1.0], steps=1000)
    assert info.value.trajectory.shape == (333, 1)


def test_optimize_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"w0 of shape \(..., 3\)"):
        optimize(A_ROT, lambda p: GD(p, lr=0.1), [1.0, 2.0], steps=3)
    with pytest.raises(ValueError, match="unique minimizer"):
        optimize(Saddle(), lambda p: GD(p, lr=0.1), [1.0, 2.0], steps=3, tol=1e-3)


def test_steps_to_reach_counts_gd_steps_like_a_loop():
    from coursekit.problems import steps_to_reach

    q = Quadratic.from_spectrum([1.0, 0.1])
    path = optimize(q, lambda p: GD(p, lr=1.0), np.array([1.0, 1.0]), 200)
    # along the 0.1 direction the error is 0.9^k; the other one vanishes after one step
    expected = int(np.ceil(np.log(1e-3) / np.log(0.9)))
    assert steps_to_reach(path, q.minimizer, 1e-3) == expected
    assert steps_to_reach(path[:10], q.minimizer, 1e-3) is None
    with pytest.raises(ValueError, match=r"expected a trajectory of shape \(T\+1, d\)"):
        steps_to_reach(np.zeros(3), 0.0, 1e-3)


def test_random_rotations_come_from_rng_and_none_is_the_course_seed(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SEED", "5")
    default = Quadratic.with_condition(10.0, dim=3, rotate=True)
    np.testing.assert_array_equal(default.A, Quadratic.with_condition(10.0, 3, True, rng=5).A)
    old = Quadratic.from_spectrum([1.0, 2.0, 3.0], rotation="random", seed=2)  # the old name
    new = Quadratic.from_spectrum([1.0, 2.0, 3.0], rotation="random", rng=2)
    np.testing.assert_array_equal(old.A, new.A)
    assert not np.array_equal(new.A, Quadratic.from_spectrum([1.0, 2.0, 3.0], "random", 3).A)
    with pytest.raises(TypeError, match="pass rng"):
        Quadratic.with_condition(10.0, rotate=True, rng=1, seed=1)

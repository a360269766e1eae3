"""coursekit.theory against measured gradient descent (and torch.optim for momentum)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import theory
from coursekit.optim import GD
from coursekit.problems import Quadratic, optimize


def _errors(problem, lr, w0, steps):
    traj = optimize(problem, lambda p: GD(p, lr=lr), w0, steps)
    return np.linalg.norm(traj - problem.minimizer, axis=1)


@pytest.mark.parametrize("kappa", [2.0, 10.0, 50.0, 300.0])
@pytest.mark.parametrize(("rotate", "dim"), [(False, 2), (0.7, 2), (True, 6)])
def test_measured_gd_rate_at_optimal_lr_is_kappa_minus_one_over_kappa_plus_one(kappa, rotate, dim):
    q = Quadratic.with_condition(kappa, dim=dim, rotate=rotate, rng=4)
    lr = theory.optimal_lr(q.eigenvalues)
    theory_rate = theory.optimal_rate(kappa)
    steps = int(np.ceil(np.log(1e-12) / np.log(theory_rate)))  # error falls ~12 decades
    e = _errors(q, lr, np.ones(dim), steps)
    # tolerance: 1% of the theoretical rate (relative)
    assert theory.measured_rate(e) == pytest.approx(theory_rate, rel=0.01)


def test_rate_matches_measured_rate_away_from_the_optimum():
    q = Quadratic.with_condition(20.0, dim=3, rotate=True, rng=0)
    for lr in [0.3, 1.0, 1.9]:
        e = _errors(q, lr, np.ones(3), 200)
        assert theory.measured_rate(e) == pytest.approx(theory.rate(q.eigenvalues, lr), rel=0.01)


def _regime_from_iterates(w):
    """Classify a 1-D GD run from its iterates only (independent of theory.regime)."""
    w = np.asarray(w).reshape(-1)
    if np.all(w[1:] == 0):
        return "one step"
    shrinking = np.all(np.abs(w[1:]) < np.abs(w[:-1]))
    if not shrinking:
        return "divergent"
    return "oscillating" if np.all(w[1:] * w[:-1] < 0) else "monotone"


@pytest.mark.parametrize("a", [0.5, 2.0, 8.0])
@pytest.mark.parametrize("factor", [0.5, 1.0, 1.5, 2.5])
def test_1d_regimes_measured_from_iterates_match_theory(a, factor):
    lr = factor / a  # eta_opt = 1/a
    traj = optimize(Quadratic([[a]]), lambda p: GD(p, lr=lr), [1.0], steps=20)
    assert _regime_from_iterates(traj) == theory.regime(lr, a)
    expected = {0.5: "monotone", 1.0: "one step", 1.5: "oscillating", 2.5: "divergent"}
    assert theory.regime(lr, a) == expected[factor]


def test_regime_at_exactly_twice_optimal_is_divergent():
    assert theory.regime(1.0, 2.0) == "divergent"  # factor -1: bounces forever


def test_steps_to_tolerance_counts_gd_steps():
    q = Quadratic.with_condition(10.0, rotate=0.3)
    lr = theory.optimal_lr(q.eigenvalues)
    e = _errors(q, lr, np.array([1.0, -0.5]), 400)
    tol = 3e-7
    measured = int(np.argmax(e <= tol))  # first step at or below tol
    assert theory.steps_to_tolerance(theory.optimal_rate(10.0), e[0], tol) == measured
    assert theory.steps_to_tolerance(0.5, 1.0, 2.0) == 0
    assert theory.steps_to_tolerance(0.0, 1.0, 1e-3) == 1


def test_o_one_over_k_bound_holds_on_a_convex_not_strongly_convex_quadratic():
    # eigenvalues down to 0: convex, L = 1, no strong convexity, minimisers form a line
    q = Quadratic.from_spectrum([0.0, 1e-3, 0.1, 1.0], rotation="random", rng=5)
    w0 = np.array([3.0, -1.0, 2.0, 1.0])
    traj = optimize(q, lambda p: GD(p, lr=1.0 / q.lambda_max), w0, steps=500)
    # closest minimiser: remove the components along the non-zero eigenvectors
    lam, E = np.linalg.eigh(q.A)
    w_star = E[:, lam < 1e-12] @ (E[:, lam < 1e-12].T @ w0)
    gap = q.value(traj[1:]) - q.value(w_star)
    k = np.arange(1, 501)
    bound = theory.smooth_convex_bound(k, q.lambda_max, np.linalg.norm(w0 - w_star))
    assert np.all(gap <= bound)
    assert theory.smooth_convex_bound(4, 2.0, 3.0) == pytest.approx(2.0 * 9.0 / 8.0)


def test_linear_regression_lr_is_one_over_the_autograd_hessians_top_eigenvalue():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)) @ np.array([[1.0, 0.9, 0.0], [0.0, 0.4, 0.0], [0, 0, 2.0]])
    y = rng.standard_normal(40)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    H = torch.autograd.functional.hessian(
        lambda w: 0.5 * ((Xt @ w - yt) ** 2).sum(), torch.zeros(3, dtype=torch.float64)
    )
    L = torch.linalg.eigvalsh(H).max().item()
    assert theory.linear_regression_lr(X) == pytest.approx(1.0 / L, rel=1e-12)


def test_measured_rate_of_exact_geometric_sequences():
    k = np.arange(50)
    assert theory.measured_rate(3.0 * 0.9**k) == pytest.approx(0.9, rel=1e-12)
    zigzag = np.abs((-0.6) ** k) * np.where(k % 2, 1.3, 1.0)  # ratios alternate around 0.6
    assert theory.measured_rate(zigzag, start=10, stop=40) == pytest.approx(0.6, rel=1e-12)
    with pytest.raises(ValueError, match="positive finite errors"):
        theory.measured_rate([1.0, 0.5, 0.0, 0.0])


def test_heavy_ball_optimum_matches_torch_sgd_momentum_and_the_iteration_matrix():
    kappa = 25.0
    q = Quadratic.with_condition(kappa, dim=2, rotate=0.5)
    hb = theory.heavy_ball_optimal(q.eigenvalues)
    assert hb["rate"] == pytest.approx((5.0 - 1.0) / (5.0 + 1.0), rel=1e-12)
    # spectral radius of the 2x2 iteration matrix on each eigen-direction (oracle 1)
    radius = max(
        np.abs(
            np.linalg.eigvals([[1 + hb["beta"] - hb["lr"] * lam, -hb["beta"]], [1.0, 0.0]])
        ).max()
        for lam in q.eigenvalues
    )
    assert radius == pytest.approx(hb["rate"], rel=1e-6)  # defective matrix: eig accurate to ~1e-8
    # torch.optim.SGD with momentum, float64 (oracle 2): measured rate within 1%
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=hb["lr"], momentum=hb["beta"])
    A = torch.tensor(q.A)
    errors = []
    for _ in range(300):  # error ~ k rho^k: the window [150, 300] reads rho * 1.005
        errors.append(w.detach().norm().item())
        opt.zero_grad()
        (0.5 * w @ A @ w).backward()
        opt.step()
    assert theory.measured_rate(errors) == pytest.approx(hb["rate"], rel=0.01)


def test_invalid_input_raises_naming_the_valid_range():
    with pytest.raises(ValueError, match=r"kappa: expected a value in \[1.0, inf\), got 0.5"):
        theory.optimal_rate(0.5)
    with pytest.raises(ValueError, match="positive finite eigenvalues"):
        theory.optimal_lr([-1.0, 2.0])
    with pytest.raises(ValueError, match=r"lr: expected a value in \(0.0, inf\)"):
        theory.regime(0.0, 1.0)
    with pytest.raises(ValueError, match=r"rate: expected a value in \[0.0, 1.0\)"):
        theory.steps_to_tolerance(1.2, 1.0, 1e-3)
    with pytest.raises(ValueError, match="k >= 1"):
        theory.smooth_convex_bound(0, 1.0, 1.0)


@settings(max_examples=50, deadline=None)
@given(
    eigs=st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=6),
    lr_fraction=st.floats(0.01, 1.5),
)
def test_per_direction_rates_equal_one_gd_step_in_the_eigenbasis(eigs, lr_fraction):
    eigs = np.array(eigs)
    lr = lr_fraction * 2.0 / eigs.max()
    q = Quadratic(np.diag(eigs))
    w1 = optimize(q, lambda p: GD(p, lr=lr), np.ones(eigs.size), steps=1)[1]
    np.testing.assert_allclose(
        np.abs(w1), theory.per_direction_rate(eigs, lr), rtol=1e-9, atol=1e-12
    )
    kappa = eigs.max() / eigs.min()
    opt = theory.optimal_lr(eigs)
    assert theory.rate(eigs, opt) == pytest.approx(theory.optimal_rate(kappa), rel=1e-9, abs=1e-12)

"""coursekit.perceptron: the perceptron separates; backprop on a sigmoid unit matches torch."""

import numpy as np
import pytest
import torch

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


def _separable(seed=0, n=60):
    """Points on both sides of the line u.x + c = 0 with margin >= 0.3 (u a unit vector)."""
    rng = np.random.default_rng(seed)
    u, c = np.array([0.6, 0.8]), -0.2
    X = rng.uniform(-3, 3, size=(4 * n, 2))
    dist = X @ u + c
    X, dist = X[np.abs(dist) >= 0.3][:n], dist[np.abs(dist) >= 0.3][:n]
    return X, (dist > 0).astype(int), u, c


def test_perceptron_separates_separable_data_within_novikoffs_bound():
    X, y, u, c = _separable()
    w, b, errors = train_perceptron(X, y, epochs=1000)
    assert errors[-1] == 0
    np.testing.assert_array_equal(predict(X, w, b), y)
    # Novikoff on augmented inputs (x, 1) and the unit separator (u, c)/||(u, c)||
    Xa = np.column_stack([X, np.ones(len(X))])
    s = np.where(y > 0, 1, -1)
    gamma = np.min(s * (Xa @ np.append(u, c))) / np.linalg.norm(np.append(u, c))
    R = np.linalg.norm(Xa, axis=1).max()
    assert errors.sum() <= (R / gamma) ** 2


def test_perceptron_accepts_plus_minus_one_labels_identically():
    X, y, _, _ = _separable(seed=1)
    w01, b01, e01 = train_perceptron(X, y)
    wpm, bpm, epm = train_perceptron(X, 2 * y - 1)
    np.testing.assert_array_equal(w01, wpm)
    assert b01 == bpm and np.array_equal(e01, epm)


@pytest.mark.parametrize("t", [10.0, 100.0, 1000.0])
def test_spoiler_perceptron_separates_backprop_from_three_point_solution_does_not(t):
    X, y = three_points_plus_spoiler(t)
    w, b, _ = train_perceptron(X, y, epochs=10_000)
    assert np.sum(predict(X, w, b) != y) == 0
    w3, b3, _ = train_sigmoid_unit(X[:3], y[:3], lr=2.0, steps=3000)
    assert np.sum(predict(X[:3], w3, b3) != y[:3]) == 0
    w4, b4, _ = train_sigmoid_unit(X, y, lr=2.0, steps=3000, w0=w3, b0=b3, bound=5.0)
    wrong = predict(X, w4, b4) != y
    np.testing.assert_array_equal(wrong, [False, False, False, True])  # only the spoiler


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_sigmoid_unit_step_matches_torch_autograd(loss):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    w0, b0, lr, eps = rng.standard_normal(3), 0.3, 0.5, 0.05
    w1, b1, losses = train_sigmoid_unit(X, y, lr=lr, steps=1, w0=w0, b0=b0, loss=loss, eps=eps)
    wt = torch.tensor(w0, requires_grad=True)
    bt = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    d = torch.tensor(np.where(y > 0, 1 - eps, eps))
    p = torch.sigmoid(torch.tensor(X) @ wt + bt)
    if loss == "mse":
        value = torch.nn.functional.mse_loss(p, d)
    else:
        value = torch.nn.functional.binary_cross_entropy(p, d)
    value.backward()
    assert losses[0] == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(w1, w0 - lr * wt.grad.numpy(), rtol=1e-12)
    assert b1 == pytest.approx(b0 - lr * bt.grad.item(), rel=1e-12)


def test_bounded_weights_stay_in_the_box():
    X, y = three_points_plus_spoiler(10.0)
    w, b, _ = train_sigmoid_unit(X, y, lr=5.0, steps=500, bound=1.5)
    assert np.all(np.abs(w) <= 1.5) and abs(b) <= 1.5


def test_bad_input_names_what_was_expected():
    X, _ = three_points_plus_spoiler()
    with pytest.raises(ValueError, match=r"labels in \{0, 1\} or \{-1, \+1\}"):
        train_perceptron(X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="expected loss 'mse' or 'logistic'"):
        train_sigmoid_unit(X, [0, 1, 1, 1], loss="hinge")
    with pytest.raises(ValueError, match=r"t: expected a value in \(0.0, inf\)"):
        three_points_plus_spoiler(-1.0)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
@pytest.mark.parametrize("bound", [None, 2.0])
def test_vectorised_runs_match_one_run_at_a_time(loss, bound):
    X, y = three_points_plus_spoiler(10.0)
    rng = np.random.default_rng(3)
    w0, b0 = rng.uniform(-3, 3, (5, 2)), rng.uniform(-3, 3, 5)
    # lr small enough that the runs are not chaotic (rounding would then decide)
    w, b, clipped = train_sigmoid_units(
        X, y, w0, b0, lr=0.2, steps=200, loss=loss, eps=0.05, bound=bound
    )
    for s in range(5):
        w1, b1, _ = train_sigmoid_unit(
            X, y, lr=0.2, steps=200, w0=w0[s], b0=b0[s], loss=loss, eps=0.05, bound=bound
        )
        np.testing.assert_allclose(w[s], w1, rtol=1e-12, atol=1e-14)
        assert b[s] == pytest.approx(b1, rel=1e-12, abs=1e-14)
    assert not clipped.any() if bound is None else clipped.any()


def test_three_point_fit_solves_the_equations_and_is_a_zero_of_both_losses():
    X, y = three_points_plus_spoiler(10.0)
    p = three_point_fit(0.01)
    assert p[0] == pytest.approx(np.log(99)) and p[1] == p[0] and p[2] == 0
    for loss in ["mse", "logistic"]:
        _, gw, gb = sigmoid_unit_loss(X[:3], y[:3], p[:2], p[2], loss=loss, eps=0.01)
        assert np.abs(np.append(gw, gb)).max() < 1e-12


def test_hessian_by_differences_matches_torch():
    X, y = three_points_plus_spoiler(3.0)
    w, b = np.array([0.7, -0.4]), 0.2
    for loss in ["mse", "logistic"]:
        H = sigmoid_unit_hessian(X, y, w, b, loss=loss, eps=0.05)

        def f(p, loss=loss):
            d = torch.tensor(np.where(y > 0, 0.95, 0.05))
            q = torch.sigmoid(torch.tensor(X) @ p[:2] + p[2])
            if loss == "mse":
                return torch.mean((q - d) ** 2)
            return torch.nn.functional.binary_cross_entropy(q, d)

        H_t = torch.autograd.functional.hessian(f, torch.tensor(np.append(w, b))).numpy()
        np.testing.assert_allclose(H, H_t, rtol=1e-6, atol=1e-9)


def test_gauss_newton_is_the_whole_hessian_at_an_exact_fit_only():
    X, y = three_points_plus_spoiler(10.0)
    p = three_point_fit(0.01)
    H = sigmoid_unit_hessian(X[:3], y[:3], p[:2], p[2], loss="mse")
    np.testing.assert_allclose(H, gauss_newton(X[:3], p[:2], p[2]), rtol=1e-6, atol=1e-12)
    # elsewhere the residual term (p - d) sigma''(z) counts (sigma'' = 0 only at z = 0)
    w, b = np.array([1.0, -0.5]), 0.3
    H1 = sigmoid_unit_hessian(X[:3], y[:3], w, b, loss="mse")
    assert np.abs(H1 - gauss_newton(X[:3], w, b)).max() > 1e-3


def test_turn_angle_and_perceptron_turns():
    assert turn_angle([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)
    assert turn_angle([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(180.0)
    np.testing.assert_allclose(turn_angle([[1.0, 0.0]], [[1.0, 0.0], [1.0, 1.0]]), [0.0, 45.0])
    with pytest.raises(ValueError, match="weight vector is zero"):
        turn_angle([0.0, 0.0], [1.0, 0.0])
    # a start that already separates all four points is never updated
    assert perceptron_turns(10.0, [[1.0, 0.0]], [0.5])[0] == 0.0
    assert perceptron_turns(10.0, [[0.0, 0.0]], [0.0])[0] == pytest.approx(53.13, abs=0.01)


def test_random_starts_follow_the_course_seed(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SEED", "4")
    a, b = random_starts(n=20, steps=10), random_starts(n=20, steps=10)
    np.testing.assert_array_equal(a.w0, b.w0)
    monkeypatch.setenv("COURSEKIT_SEED", "5")
    c = random_starts(n=20, steps=10)
    assert not np.array_equal(a.w0, c.w0)
    assert np.all(np.abs(a.w0) <= 5) and a.stderr >= 0
    with pytest.raises(ValueError, match="expected n >= 1"):
        random_starts(n=0)

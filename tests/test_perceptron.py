"""coursekit.perceptron: the perceptron separates; backprop on a sigmoid unit matches torch."""

import numpy as np
import pytest
import torch

from coursekit.perceptron import (
    predict,
    three_points_plus_spoiler,
    train_perceptron,
    train_sigmoid_unit,
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

"""The full-batch loop: plain GD by hand, a History, a named stop on divergence."""

import numpy as np
import pytest

from coursekit import data as D
from coursekit import layers as L
from coursekit import losses as Ls
from coursekit.training import DivergenceError, History, accuracy, train_full_batch


def test_one_step_equals_gradient_descent_by_hand():
    X, y = D.make_blobs(n=40, rng=0)
    model = L.MLP([2, 5, 2], activation="tanh", rng=0)
    twin = L.MLP([2, 5, 2], activation="tanh", rng=0)
    loss = Ls.CrossEntropyLoss()
    train_full_batch(model, loss, X, y, lr=0.3, steps=1)
    loss.forward(twin.forward(X), y)
    twin.backward(loss.backward())
    for p, g in zip(twin.parameters(), twin.gradients()):
        p -= 0.3 * g
    for a, b in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(a, b)


def test_training_separates_blobs_and_logs_history():
    s = D.train_test_split(*D.make_blobs(n=200, rng=1), rng=1)
    model = L.MLP([2, 8, 2], activation="relu", rng=1)
    h = train_full_batch(
        model,
        Ls.CrossEntropyLoss(),
        s.X_train,
        s.y_train,
        lr=0.5,
        steps=60,
        X_val=s.X_test,
        y_val=s.y_test,
        log_every=10,
    )
    assert h.keys() == ["step", "train_loss", "train_acc", "val_loss", "val_acc"]
    assert list(h["step"]) == [0, 10, 20, 30, 40, 50, 59]
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h.last("val_acc") > 0.9


def test_divergence_stops_with_the_step_named():
    X = np.array([[1e3, -1e3], [2e3, 5e2]])
    model = L.MLP([2, 4, 1], activation="identity", rng=0)
    with pytest.raises(DivergenceError, match=r"non-finite \(NaN or inf\) at step \d+"):
        train_full_batch(
            model, Ls.MSELoss(), X, np.ones((2, 1)), lr=10.0, steps=200, show_progress=False
        )


def test_history_series_and_errors():
    h = History()
    h.log(step=0, train_loss=1.0)
    h.log(step=5, train_loss=0.5, val_loss=0.7)
    steps, vals = h.series("val_loss")
    assert list(steps) == [5] and list(vals) == [0.7]
    assert "val_loss" in h and "nope" not in h
    with pytest.raises(KeyError, match="no values logged for 'nope'"):
        h["nope"]


def test_accuracy_binary_and_multiclass():
    assert accuracy(np.array([[0.1, 0.9], [2.0, 1.0]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[-1.0], [3.0]]), np.array([0.0, 1.0])) == 1.0
    assert accuracy(np.array([-0.5, 0.5]), np.array([-1, 1])) == 1.0


def test_bad_arguments_are_named():
    model = L.MLP([2, 2])
    with pytest.raises(ValueError, match="expected steps >= 1, got 0"):
        train_full_batch(model, Ls.MSELoss(), np.ones((1, 2)), np.ones((1, 2)), steps=0)
    with pytest.raises(ValueError, match="expected lr > 0, got -1"):
        train_full_batch(model, Ls.MSELoss(), np.ones((1, 2)), np.ones((1, 2)), lr=-1)


def test_default_metric_thresholds_probabilities_at_one_half():
    """With a sigmoid output and BCELoss the scores are probabilities, not logits."""
    X, y = D.make_blobs(n=100, rng=2)
    model = L.MLP([2, 6, 1], activation="tanh", output="sigmoid", rng=2)
    h = train_full_batch(model, Ls.BCELoss(), X, y[:, None].astype(float), lr=1.0, steps=100)
    probs = model.forward(X)
    assert abs(h.last("train_acc") - np.mean((probs[:, 0] > 0.5) == (y > 0))) < 0.05
    assert accuracy(np.array([0.2, 0.7]), np.array([0, 1]), threshold=0.5) == 1.0


def test_weights_that_overflow_stop_with_divergence_error_not_a_value_error():
    """A step can send weights to inf; the next forward then meets non-finite activations."""
    X, y = D.make_blobs(n=64, rng=3)
    layers = []
    for _ in range(12):
        layers += [L.Linear(2 if not layers else 32, 32, rng=len(layers)), L.ReLU()]
    model = L.Sequential(*layers, L.Linear(32, 2, rng=99))
    for layer in model.layers[::2]:
        layer.params["weight"] *= 6.0  # exploding forward signal
    with pytest.raises(DivergenceError, match=r"at step \d+"):
        train_full_batch(
            model, Ls.CrossEntropyLoss(), X * 1e3, y, lr=1.0, steps=50, show_progress=False
        )


def test_nan_in_the_data_is_an_input_error():
    X = np.array([[0.0, np.nan]])
    with pytest.raises(ValueError, match="train_full_batch X: expected finite values"):
        train_full_batch(L.MLP([2, 2]), Ls.MSELoss(), X, np.zeros((1, 2)), steps=1)

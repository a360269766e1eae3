"""Data sets are offline, seeded, shaped (N, D) and standardised with training statistics."""

import numpy as np
import pytest

from coursekit import data as D


def test_digits_binary_shapes_balance_and_standardisation():
    s = D.load_digits_binary(digit=2)
    assert s.X_train.shape[1] == 64 and len(s.X_train) + len(s.X_test) == 1797
    assert set(np.unique(s.y_train)) == {0.0, 1.0}
    assert 0.08 < s.y_train.mean() < 0.12  # about one image in ten is a 2
    std = s.X_train.std(axis=0)
    assert np.allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))


def test_digits_are_reproducible_and_seed_dependent():
    a, b, c = (
        D.load_digits_multiclass(rng=0),
        D.load_digits_multiclass(rng=0),
        D.load_digits_multiclass(rng=1),
    )
    assert np.array_equal(a.X_train, b.X_train) and not np.array_equal(a.X_train, c.X_train)
    assert sorted(np.unique(a.y_train)) == list(range(10))


@pytest.mark.parametrize("make", [D.make_blobs, D.make_xor, D.make_spirals])
def test_synthetic_sets_are_seeded(make):
    X1, y1 = make(rng=3)
    X2, y2 = make(rng=3)
    assert X1.ndim == 2 and X1.shape[1] == 2 and len(X1) == len(y1)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_xor_labels_follow_the_sign_rule():
    X, y = D.make_xor(n=400, noise=0.05)
    assert np.array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="expected a digit in 0..9, got 12"):
        D.load_digits_binary(12)
    with pytest.raises(ValueError, match=r"expected test_fraction in \(0, 1\), got 1.5"):
        D.train_test_split(np.ones((4, 2)), np.ones(4), 1.5)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        D.train_test_split(np.ones((4, 2)), np.ones(3))

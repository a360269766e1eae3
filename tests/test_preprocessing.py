"""coursekit.preprocessing against scikit-learn and scipy, and whitened covariance = I."""

import numpy as np
import pytest
from scipy.linalg import fractional_matrix_power
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from coursekit.preprocessing import condition_number, pca_whiten, standardize, zca_whiten

MIX = np.array([[2.0, 0.0, 0.0], [1.5, 0.3, 0.0], [-0.5, 0.2, 0.05]])


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)) @ MIX.T + np.array([3.0, -1.0, 0.5])


X_TRAIN, X_TEST = _data(300, 0), _data(50, 1)


def _cov(X):
    Xc = X - X.mean(axis=0)
    return Xc.T @ Xc / X.shape[0]


def test_standardize_matches_sklearn_standard_scaler_on_train_and_test():
    Z, t = standardize(X_TRAIN)
    ref = StandardScaler().fit(X_TRAIN)
    np.testing.assert_allclose(Z, ref.transform(X_TRAIN), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t(X_TEST), ref.transform(X_TEST), rtol=1e-12, atol=1e-12)


def test_standardize_leaves_a_constant_feature_centred_not_nan():
    X = np.column_stack([X_TRAIN[:, 0], np.full(len(X_TRAIN), 4.0)])
    Z, _ = standardize(X)
    np.testing.assert_array_equal(Z[:, 1], 0.0)


@pytest.mark.parametrize("whiten", [pca_whiten, zca_whiten])
def test_whitened_training_covariance_is_identity(whiten):
    Z, _ = whiten(X_TRAIN)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(_cov(Z), np.eye(3), atol=1e-10)  # eps = 0: exact up to rounding


def test_pca_whitening_matches_sklearn_pca_up_to_order_sign_and_ddof():
    Z, t = pca_whiten(X_TRAIN)
    ref = PCA(whiten=True).fit(X_TRAIN)  # descending order, variances with N - 1
    scale = np.sqrt(len(X_TRAIN) / (len(X_TRAIN) - 1))  # ours divides by sqrt(var with N)
    for ours, theirs in [(Z, ref.transform(X_TRAIN)), (t(X_TEST), ref.transform(X_TEST))]:
        theirs = theirs[:, ::-1] * scale
        signs = np.sign(np.sum(ours * theirs, axis=0))
        np.testing.assert_allclose(ours, theirs * signs, rtol=1e-8, atol=1e-8)


def test_zca_matrix_is_the_inverse_square_root_of_the_covariance():
    _, t = zca_whiten(X_TRAIN, eps=1e-3)
    expected = fractional_matrix_power(_cov(X_TRAIN) + 1e-3 * np.eye(3), -0.5)
    np.testing.assert_allclose(t.matrix, expected, rtol=1e-8, atol=1e-10)


def test_condition_number_before_and_after():
    second_moment = X_TRAIN.T @ X_TRAIN / len(X_TRAIN)
    assert condition_number(X_TRAIN) == pytest.approx(np.linalg.cond(second_moment), rel=1e-8)
    Z, _ = standardize(X_TRAIN)
    assert condition_number(Z) == pytest.approx(np.linalg.cond(np.corrcoef(X_TRAIN.T)), rel=1e-8)
    assert condition_number(zca_whiten(X_TRAIN)[0]) == pytest.approx(1.0, abs=1e-9)


def test_bad_input_names_what_was_expected():
    with pytest.raises(ValueError, match="expected 3 features"):
        standardize(X_TRAIN)[1](X_TEST[:, :2])
    with pytest.raises(ValueError, match=r"eps: expected a value in \[0.0, inf\)"):
        pca_whiten(X_TRAIN, eps=-1.0)
    singular = np.column_stack([X_TRAIN[:, 0], 2 * X_TRAIN[:, 0]])
    with pytest.raises(ValueError, match="expected eps > 0"):
        zca_whiten(singular)
    Z, _ = zca_whiten(singular, eps=1e-6)
    assert np.all(np.isfinite(Z))
    assert condition_number(singular) == float("inf")

"""Centred differences against closed-form derivatives."""

import numpy as np
import pytest

from coursekit import gradcheck as G


def test_numerical_gradient_of_a_cubic_is_accurate_and_restores_x():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    before = x.copy()
    num = G.numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert G.rel_error(num, 3 * before**2) < 1e-9  # centred error is h^2 * f''' / 6 = 1e-10
    assert np.array_equal(x, before)


def test_rel_error_is_scaled_by_the_largest_entry():
    assert G.rel_error([1.0, 1e-12], [1.0, 2e-12]) < 1e-11  # a tiny entry cannot dominate
    assert G.rel_error([1.0, 0.0], [1.1, 0.0]) == pytest.approx(0.1 / 1.1)
    assert G.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        G.rel_error(np.zeros(2), np.zeros(3))


def test_check_gradients_flags_a_wrong_gradient():
    w = np.array([1.0, -2.0, 0.5])
    good = G.check_gradients(lambda: float(np.sum(np.sin(w))), {"w": w}, {"w": np.cos(w)})
    bad = G.check_gradients(lambda: float(np.sum(np.sin(w))), {"w": w}, {"w": -np.sin(w)})
    assert good.ok and good.worst < 1e-9
    assert not bad.ok
    with pytest.raises(KeyError, match="no analytic gradient given for 'v'"):
        G.check_gradients(lambda: 0.0, {"v": w}, {})


def test_float32_is_refused():
    with pytest.raises(TypeError, match="expected a float64 array"):
        G.numerical_gradient(lambda v: 0.0, np.ones(2, dtype=np.float32))


def test_check_module_takes_a_single_layer_as_well_as_a_network():
    """One module API: a leaf names its parameters as a network does (no duck typing)."""
    from coursekit import layers as L
    from coursekit import losses as Ls

    rng = np.random.default_rng(0)
    X, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    leaf = G.check_module(L.Linear(3, 2, rng=0), Ls.MSELoss(), X, target)
    net = G.check_module(L.Sequential(L.Linear(3, 2, rng=0)), Ls.MSELoss(), X, target)
    assert list(leaf) == ["weight", "bias", "input"] and leaf.ok
    assert list(net) == ["0.weight", "0.bias", "input"] and net.ok


def test_rel_error_of_a_nan_or_inf_is_nan_so_checks_fail():
    """A softmax that overflowed to NaN used to score 0 (max(nan, x) is nan, nan > 0 is
    False): a check that could not fail."""
    from coursekit.checks import verdict

    good = np.array([0.665, 0.245, 0.09])
    for bad in [np.array([np.nan, np.nan, np.nan]), np.array([np.inf, 0.0, 0.0])]:
        assert np.isnan(G.rel_error(bad, good)) and np.isnan(G.rel_error(good, bad))
        assert verdict(G.rel_error(bad, good), 1e-12).startswith("FAIL")
    assert G.rel_error(good, good) == 0.0

"""coursekit.instruments: per-layer statistics against torch autograd, spectra and ranks
against numpy/torch linear algebra."""

import numpy as np
import pytest
import torch

from coursekit import instruments as ins
from coursekit.layers import Linear, ReLU, Sequential, Tanh
from coursekit.losses import CrossEntropyLoss, MSELoss
from coursekit.models import mlp


def _torch_copy(model):
    layers = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            t = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(layer.params["weight"]))
                t.bias.copy_(torch.from_numpy(layer.params["bias"]))
            layers.append(t)
        else:
            layers.append({"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh}[type(layer).__name__]())
    return layers


def test_layer_statistics_equal_torch_autograd():
    """Activations and dLoss/dh_i of every layer, and dLoss/dW, against torch (float64, 1e-12)."""
    rng = np.random.default_rng(0)
    model = Sequential(
        Linear(6, 8, rng=rng), Tanh(), Linear(8, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng)
    )
    X, y = rng.normal(size=(20, 6)), rng.integers(0, 3, 20)
    stats = ins.layer_statistics(model, X, CrossEntropyLoss(), y)

    tlayers, h, hs = _torch_copy(model), torch.from_numpy(X), []
    for t in tlayers:
        h = t(h)
        h.retain_grad()
        hs.append(h)
    torch.nn.functional.cross_entropy(h, torch.from_numpy(y)).backward()
    for i, (t, h) in enumerate(zip(tlayers, hs, strict=True)):
        a, g = h.detach().numpy(), h.grad.numpy()
        np.testing.assert_allclose(
            [stats.act_mean[i], stats.act_var[i]], [a.mean(), a.var()], rtol=1e-12
        )
        assert stats.grad_mean[i] == pytest.approx(
            g.mean(), abs=1e-12 * g.std()
        )  # can be 0 (+-1e-19)
        assert stats.grad_var[i] == pytest.approx(g.var(), rel=1e-12)
        if isinstance(t, torch.nn.Linear):
            assert stats.weight_grad_var[i] == pytest.approx(t.weight.grad.numpy().var(), rel=1e-12)
        else:
            assert np.isnan(stats.weight_grad_var[i])
    lin = stats.select(Linear)
    assert lin.names == ["Linear"] * 3 and len(lin) == 3
    assert np.all(np.isnan(ins.layer_statistics(model, X).grad_var))


def test_layer_statistics_validates():
    model = mlp([3, 4, 2])
    with pytest.raises(ValueError, match="both loss and target"):
        ins.layer_statistics(model, np.zeros((5, 3)), CrossEntropyLoss())
    with pytest.raises(TypeError, match="Sequential"):
        ins.layer_statistics(Linear(3, 2), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="no layer of kind 'Tanh'"):
        ins.layer_statistics(model, np.zeros((5, 3))).select(Tanh)


def test_forward_by_layer_ends_with_the_model_output():
    model = mlp([5, 7, 7, 2], activation="tanh", rng=1)
    X = np.random.default_rng(2).normal(size=(9, 5))
    hs = ins.forward_by_layer(model, X)
    assert [h.shape[1] for h in hs] == [7, 7, 7, 7, 2]
    np.testing.assert_array_equal(hs[-1], model.forward(X))


@pytest.mark.parametrize("n, d", [(50, 6), (4, 6)])
def test_covariance_spectrum_equals_eigvalsh_of_np_cov(n, d):
    H = np.random.default_rng(3).normal(size=(n, d)) @ np.diag([3.0, 2, 1, 1, 0.5, 0.1])
    ev = ins.covariance_spectrum(H)
    ref = np.sort(np.linalg.eigvalsh(np.cov(H, rowvar=False)))[::-1]
    np.testing.assert_allclose(ev, ref, atol=1e-12 * ref[0])
    assert np.all(np.diff(ev) <= 0) and np.all(ev >= 0)


@pytest.mark.parametrize("r", [1, 3, 6])
def test_numerical_rank_of_known_rank_matrices(r):
    """H = A B with A (40, r), B (r, 6): rank r, as np.linalg.matrix_rank and torch say."""
    rng = np.random.default_rng(r)
    H = (
        rng.normal(size=(40, r)) @ rng.normal(size=(r, 6)) + 5.0
    )  # a constant shift: centring removes it
    Hc = H - H.mean(axis=0)
    assert ins.numerical_rank(H) == r == np.linalg.matrix_rank(Hc)
    assert ins.numerical_rank(H, rtol=1e-3) == int(
        torch.linalg.matrix_rank(torch.from_numpy(Hc), rtol=1e-3)
    )


def test_numerical_rank_tolerance_and_constant_signal():
    H = np.random.default_rng(0).normal(size=(30, 3)) * np.array([1.0, 1e-4, 1e-9])
    assert [ins.numerical_rank(H, rtol) for rtol in (None, 1e-6, 1e-2)] == [3, 2, 1]
    assert ins.numerical_rank(np.ones((5, 4))) == 0
    with pytest.raises(ValueError, match=r"rtol in \[0, 1\)"):
        ins.numerical_rank(H, rtol=2.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        ins.numerical_rank(np.ones((1, 4)))


def test_rank_and_spectrum_by_layer_see_a_bottleneck():
    """A width-3 linear bottleneck keeps rank 3 through the next Linear; a ReLU restores full rank."""
    rng = np.random.default_rng(0)
    model = Sequential(
        Linear(10, 3, rng=rng), Linear(3, 10, rng=rng), ReLU(), Linear(10, 10, rng=rng)
    )
    X = rng.normal(size=(50, 10))
    np.testing.assert_array_equal(ins.rank_by_layer(model, X), [3, 3, 10, 10])
    np.testing.assert_array_equal(ins.rank_by_layer(model, X, kind=Linear), [3, 3, 10])
    spectra = ins.spectrum_by_layer(model, X, kind=(Linear, "ReLU"))
    assert len(spectra) == 4 and spectra[1].shape == (10,)
    assert spectra[1][3] < 1e-12 * spectra[1][0] < spectra[2][9]


def test_grad_output_back_propagates_a_given_gradient_like_torch():
    """grad_output=G is dLoss/dh_L for Loss = sum(h_L * G): compare with torch autograd."""
    rng = np.random.default_rng(1)
    model = Sequential(Linear(4, 5, rng=rng), ReLU(), Linear(5, 3, rng=rng))
    X, G = rng.normal(size=(10, 4)), rng.normal(size=(10, 3))
    stats = ins.layer_statistics(model, X, grad_output=G)
    h = torch.from_numpy(X).requires_grad_()
    hs = [h]
    for t in _torch_copy(model):
        hs.append(t(hs[-1]))
        hs[-1].retain_grad()
    (hs[-1] * torch.from_numpy(G)).sum().backward()
    np.testing.assert_allclose(stats.grad_var, [x.grad.numpy().var() for x in hs[1:]], rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(10, 3\)"):
        ins.layer_statistics(model, X, grad_output=G[:5])
    with pytest.raises(ValueError, match="not both"):
        ins.layer_statistics(model, X, MSELoss(), G, grad_output=G)


def test_effective_rank_closed_forms():
    """Participation ratio: D for isotropic data (up to sampling error), (sum l)^2/sum l^2 for a
    known diagonal spectrum, 1 for a rank-one signal, 0 for a constant one."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(20000, 8))
    assert ins.effective_rank(Z) == pytest.approx(8, rel=0.01)  # sampling error ~ sqrt(8/2e4)
    lam = np.array([4.0, 1.0, 1.0, 0.25])
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    Z = rng.normal(size=(8, 4))
    Z = np.linalg.qr(Z - Z.mean(axis=0))[0] * np.sqrt(7)  # centred, orthonormal columns * sqrt(N-1)
    H = Z @ np.diag(np.sqrt(lam)) @ Q.T  # covariance exactly Q diag(lam) Q^T
    assert ins.effective_rank(H) == pytest.approx(lam.sum() ** 2 / np.sum(lam**2), rel=1e-12)
    assert ins.effective_rank(rng.normal(size=(30, 1)) @ rng.normal(size=(1, 5))) == pytest.approx(
        1.0
    )
    assert ins.effective_rank(np.ones((4, 3))) == 0.0


def test_plot_by_layer_draws_one_line_per_series():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.plotting import plot_by_layer

    ax = plot_by_layer({"a": [1.0, 0.1, 0.0], "b": [2.0, 2.0, 2.0]}, logy=True, ylabel="var")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    assert (
        np.isnan(lines[0].get_ydata()[2]) and ax.get_yscale() == "log"
    )  # 0 left out on a log axis
    plt.close(ax.figure)

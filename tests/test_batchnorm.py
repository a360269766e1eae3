"""coursekit.batchnorm.BatchNorm1d against torch.nn.BatchNorm1d (float64) and finite differences."""

import numpy as np
import pytest
import torch

from coursekit.batchnorm import BatchNorm1d
from coursekit.gradcheck import check_module
from coursekit.layers import MLP, Linear, ReLU, Sequential
from coursekit.losses import CrossEntropyLoss, MSELoss
from coursekit.models import mlp

TOL = dict(rtol=1e-10, atol=1e-12)  # float64: both compute the same formulas, differences ~1e-15


def _pair(c=4, **kw):
    ours = BatchNorm1d(c, **kw)
    ref = torch.nn.BatchNorm1d(c, dtype=torch.float64, **kw)
    if ours.affine:  # non-trivial gamma, beta
        rng = np.random.default_rng(11)
        for k in ("weight", "bias"):
            ours.params[k][...] = rng.normal(size=c)
            with torch.no_grad():
                getattr(ref, k).copy_(torch.from_numpy(ours.params[k]))
    return ours, ref


def _step(ours, ref, x, g):
    """One forward/backward of both; returns (y, dx) of ours and of torch."""
    y = ours.forward(x)
    dx = ours.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    yt.backward(torch.from_numpy(g))
    return (y, dx), (yt.detach().numpy(), xt.grad.numpy())


def _assert_same(ours, ref, got, want):
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **TOL)
    if ours.affine:
        for k in ("weight", "bias"):
            np.testing.assert_allclose(ours.grads[k], getattr(ref, k).grad.numpy(), **TOL)
            getattr(ref, k).grad = None
    if ours.track_running_stats:
        for k in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(getattr(ours, k), getattr(ref, k).numpy(), **TOL)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": None},
        {"momentum": 0.7, "eps": 1e-3},
        {"affine": False},
        {"track_running_stats": False},
    ],
)
def test_train_then_eval_equal_torch_step_for_step(kw):
    """Five training batches (outputs, dx, dgamma, dbeta, running stats after each), then eval."""
    ours, ref = _pair(**kw)
    rng = np.random.default_rng(0)
    for step in range(5):
        n = 6 + step  # batch size changes: N/(N-1) in the running variance matters
        x = rng.normal(loc=2.0, scale=3.0, size=(n, 4))
        got, want = _step(ours, ref, x, rng.normal(size=(n, 4)))
        _assert_same(ours, ref, got, want)
    ours.eval()
    ref.eval()
    x = rng.normal(size=(3, 4))
    got, want = _step(ours, ref, x, rng.normal(size=(3, 4)))
    _assert_same(ours, ref, got, want)


def test_running_variance_is_unbiased_and_momentum_none_is_cumulative_average():
    """Closed form: with momentum=None after t batches, running_mean is the plain mean of the
    t batch means and running_var the mean of the t unbiased batch variances (and the prior 1 is gone)."""
    bn = BatchNorm1d(3, momentum=None)
    xs = [np.random.default_rng(s).normal(size=(5, 3)) * (s + 1) for s in range(4)]
    for x in xs:
        bn.forward(x)
    np.testing.assert_allclose(
        bn.running_mean, np.mean([x.mean(0) for x in xs], axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(
        bn.running_var, np.mean([x.var(0, ddof=1) for x in xs], axis=0), rtol=1e-12
    )
    assert int(bn.num_batches_tracked) == 4


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradients_by_finite_differences(mode):
    """Input, gamma and beta gradients against centred differences (relative error < 1e-6)."""
    rng = np.random.default_rng(4)
    bn = BatchNorm1d(5)
    bn.params["weight"][...] = rng.normal(size=5)
    bn.params["bias"][...] = rng.normal(size=5)
    for _ in range(3):  # non-trivial running statistics for eval mode
        bn.forward(rng.normal(1.0, 2.0, size=(8, 5)))
    bn.train(mode == "train")
    model = Sequential(bn)
    result = check_module(model, MSELoss(), rng.normal(size=(7, 5)), rng.normal(size=(7, 5)))
    assert result.ok, str(result)


def test_finite_differences_catch_a_wrong_backward():
    """The check above can fail: dropping the mean term of the backward is caught."""
    bn = BatchNorm1d(3)
    wrong = Sequential(bn)
    bn.backward = lambda g: g * bn.params["weight"] * bn._cache[1]  # eval-mode formula in training
    rng = np.random.default_rng(0)
    assert not check_module(wrong, MSELoss(), rng.normal(size=(6, 3)), rng.normal(size=(6, 3))).ok


def _torch_net(model):
    layers = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            layers.append(
                torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            )
        elif isinstance(layer, BatchNorm1d):
            layers.append(torch.nn.BatchNorm1d(layer.num_features, dtype=torch.float64))
        else:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()})
    return net


def test_inside_sequential_equals_torch_network_for_three_sgd_steps():
    """Linear-BN-ReLU-Linear-BN-ReLU-Linear trained 3 SGD steps, then evaluated: state_dict keys
    are torch's, and every parameter, buffer, loss and eval output agrees."""
    rng = np.random.default_rng(5)
    model = Sequential(
        Linear(6, 8, rng=rng),
        BatchNorm1d(8),
        ReLU(),
        Linear(8, 8, rng=rng),
        BatchNorm1d(8),
        ReLU(),
        Linear(8, 3, rng=rng),
    )
    net = _torch_net(model)
    assert list(model.state_dict()) == list(net.state_dict())
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = CrossEntropyLoss()
    for _ in range(3):
        X, y = rng.normal(size=(16, 6)), rng.integers(0, 3, 16)
        value = loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        for p, g in zip(model.parameters(), model.gradients(), strict=True):
            p -= 0.1 * g
        opt.zero_grad()
        ref = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        ref.backward()
        opt.step()
        assert value == pytest.approx(ref.item(), rel=1e-12)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(
            model.state_dict()[k], v.numpy(), rtol=1e-10, atol=1e-12, err_msg=k
        )
    model.eval()
    net.eval()
    X = rng.normal(size=(4, 6))
    np.testing.assert_allclose(
        model.forward(X), net(torch.from_numpy(X)).detach().numpy(), rtol=1e-10
    )


def test_bad_inputs_raise_clear_errors():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn.forward(np.ones((1, 3)))
    bn.eval()
    assert bn.forward(np.ones((1, 3))).shape == (1, 3)  # eval mode accepts one sample, like torch
    no_stats = BatchNorm1d(3, track_running_stats=False).eval()  # batch statistics even in eval
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        no_stats.forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(3, track_running_stats=False).eval()(torch.ones(1, 3))
    with pytest.raises(ValueError, match="expected 3 features"):
        bn.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"momentum: expected a value in \[0.0, 1.0\]"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps: expected a value in \(0.0, inf\)"):
        BatchNorm1d(3, eps=0.0)
    with pytest.raises(ValueError, match="num_features >= 1"):
        BatchNorm1d(0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        BatchNorm1d(2).backward(np.ones((3, 2)))


def test_mlp_batchnorm_layout_and_torch_keys():
    """Linear-BN-act blocks then a Linear; state_dict keys equal torch's for the same layout;
    batchnorm=False gives exactly coursekit's MLP (same weights from the same seed)."""
    model = mlp([5, 4, 4, 3], activation="tanh", batchnorm=True, rng=0)
    assert [type(m).__name__ for m in model.layers] == [
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Linear",
    ]
    ref = torch.nn.Sequential(
        torch.nn.Linear(5, 4),
        torch.nn.BatchNorm1d(4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 4),
        torch.nn.BatchNorm1d(4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 3),
    )
    assert list(model.state_dict()) == list(ref.state_dict())
    plain, bare = mlp([5, 4, 3], batchnorm=False, rng=1), MLP([5, 4, 3], rng=1)
    for (ka, a), (kb, b) in zip(plain.named_parameters(), bare.named_parameters(), strict=True):
        assert ka == kb
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at least two positive layer sizes"):
        mlp([5], batchnorm=True)


def test_load_state_dict_restores_the_running_statistics():
    """Parameters and buffers both come back: the running mean, variance and batch count
    saved before more training batches are those after loading (and they did change)."""
    rng = np.random.default_rng(0)
    model = mlp([4, 6, 3], batchnorm=True, rng=0)
    for _ in range(3):
        model.forward(rng.normal(2.0, 3.0, size=(8, 4)))
    saved = model.state_dict()
    for _ in range(3):
        model.forward(rng.normal(-1.0, 0.5, size=(8, 4)))
    bn = model[1]
    assert not np.allclose(bn.running_mean, saved["1.running_mean"])  # the test is not vacuous
    model.load_state_dict(saved)
    for key, value in model.named_buffers():
        np.testing.assert_array_equal(value, saved[key], err_msg=key)
    assert int(bn.num_batches_tracked) == 3
    model.eval()
    X = rng.normal(size=(5, 4))
    twin = mlp([4, 6, 3], batchnorm=True, rng=1)
    twin.load_state_dict(saved)
    np.testing.assert_array_equal(twin.eval()(X), model(X))

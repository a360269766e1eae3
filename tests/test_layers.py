"""Layers against PyTorch autograd (float64, rel. error < 1e-10) and centred differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import gradcheck
from coursekit import layers as L
from coursekit import losses as Ls
from coursekit.models import mlp
from tests.torch_oracle import max_rel, t, to_torch

TOL = 1e-10  # float64 agreement between two exact implementations of the same math
ACTS = ["sigmoid", "tanh", "relu", "identity"]
LOSSES = {
    "mse": (Ls.MSELoss, torch.nn.MSELoss),
    "bce_logits": (Ls.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
    "cross_entropy": (Ls.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
    "hinge": (Ls.HingeLoss, None),
}


def _target(kind, rng, n, c):
    if kind == "cross_entropy":
        labels = rng.integers(0, c, n)
        return labels, torch.from_numpy(labels)
    if kind == "bce_logits":
        d = rng.integers(0, 2, (n, c)).astype(float)
        return d, torch.from_numpy(d)
    if kind == "hinge":
        d = rng.choice([-1.0, 1.0], (n, c))
        return d, torch.from_numpy(d)
    d = rng.normal(size=(n, c))
    return d, torch.from_numpy(d)


def _torch_loss(kind, out, target):
    if kind == "hinge":
        return torch.clamp(1 - target * out, min=0).mean()
    return LOSSES[kind][1]()(out, target)


# (output activation, loss) pairs where the loss accepts what the output gives
OUTPUT_LOSS = [
    ("sigmoid", Ls.BCELoss, torch.nn.BCELoss),
    ("sigmoid", Ls.MSELoss, torch.nn.MSELoss),
    ("softmax", Ls.MSELoss, torch.nn.MSELoss),
    ("tanh", Ls.MSELoss, torch.nn.MSELoss),
]


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 6), min_size=2, max_size=4),
    n=st.integers(1, 5),
    act=st.sampled_from(ACTS),
    pair=st.sampled_from(OUTPUT_LOSS),
    seed=st.integers(0, 2**16),
)
def test_mlp_with_output_activation_equals_torch_autograd(sizes, n, act, pair, seed):
    output, ours_cls, theirs_cls = pair
    rng = np.random.default_rng(seed)
    model = mlp(sizes, activation=act, output=output, rng=seed)
    net = to_torch(model)
    X = rng.normal(size=(n, sizes[0]))
    d = rng.uniform(size=(n, sizes[-1]))
    loss = ours_cls()
    value = loss.forward(model.forward(X), d)
    grad_x = model.backward(loss.backward())
    x_t = t(X)
    value_t = theirs_cls()(net(x_t), torch.from_numpy(d))
    value_t.backward()
    assert abs(value - value_t.item()) <= TOL * max(1.0, abs(value))
    assert max_rel(grad_x, x_t.grad) < TOL
    for (_, g), (_, p) in zip(model.named_gradients(), net.named_parameters()):
        assert max_rel(g, p.grad) < TOL


def test_maxout_network_equals_torch_autograd():
    rng = np.random.default_rng(9)
    model = L.Sequential(L.Linear(5, 12, rng=1), L.Max(3), L.Linear(4, 2, rng=2))
    X = rng.normal(size=(7, 5))
    loss = Ls.CrossEntropyLoss()
    loss.forward(model.forward(X), np.arange(7) % 2)
    grad_x = model.backward(loss.backward())
    lin1, lin2 = (
        torch.nn.Linear(5, 12, dtype=torch.float64),
        torch.nn.Linear(4, 2, dtype=torch.float64),
    )
    with torch.no_grad():
        for lin, ours in ((lin1, model[0]), (lin2, model[2])):
            lin.weight.copy_(torch.from_numpy(ours.params["weight"]))
            lin.bias.copy_(torch.from_numpy(ours.params["bias"]))
    x_t = t(X)
    out = lin2(lin1(x_t).reshape(7, 4, 3).max(dim=2).values)
    torch.nn.CrossEntropyLoss()(out, torch.from_numpy(np.arange(7) % 2)).backward()
    assert max_rel(grad_x, x_t.grad) < TOL
    assert max_rel(model[0].grads["weight"], lin1.weight.grad) < TOL
    assert max_rel(model[2].grads["bias"], lin2.bias.grad) < TOL


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 7), min_size=2, max_size=4),
    n=st.integers(1, 6),
    act=st.sampled_from(ACTS),
    kind=st.sampled_from(sorted(LOSSES)),
    seed=st.integers(0, 2**16),
)
def test_mlp_gradients_equal_torch_autograd(sizes, n, act, kind, seed):
    rng = np.random.default_rng(seed)
    model = mlp(sizes, activation=act, rng=seed)
    net = to_torch(model)
    X = rng.normal(size=(n, sizes[0]))
    target, target_t = _target(kind, rng, n, sizes[-1])
    if kind == "cross_entropy" and sizes[-1] == 1:
        target, target_t = np.zeros(n, dtype=np.int64), torch.zeros(n, dtype=torch.long)
    loss = LOSSES[kind][0]()
    value = loss.forward(model.forward(X), target)
    grad_x = model.backward(loss.backward())

    x_t = t(X)
    value_t = _torch_loss(kind, net(x_t), target_t)
    value_t.backward()
    assert abs(value - value_t.item()) <= TOL * max(1.0, abs(value))
    assert max_rel(grad_x, x_t.grad) < TOL
    for (name, g), (tname, p) in zip(model.named_gradients(), net.named_parameters()):
        assert name == tname
        assert max_rel(g, p.grad) < TOL, name


@pytest.mark.parametrize("layer_cls", [L.Sigmoid, L.Tanh, L.ReLU, L.Identity, L.Softmax])
def test_activation_backward_matches_finite_differences(layer_cls):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 5))
    X[np.abs(X) < 1e-3] = 0.5  # keep ReLU's kink away from the finite-difference stencil
    weights = rng.normal(size=(4, 5))  # a random linear read-out makes the loss scalar
    layer = layer_cls()
    layer.forward(X)
    analytic = layer.backward(weights)
    numeric = gradcheck.numerical_gradient(
        lambda x: float(np.sum(weights * layer.forward(x))), X.copy()
    )
    assert gradcheck.rel_error(analytic, numeric) < gradcheck.DEFAULT_TOL


def test_softmax_jacobian_equals_torch_jacobian():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 6)) * 3
    ours = L.Softmax().jacobian(z)
    for n in range(3):
        theirs = torch.autograd.functional.jacobian(
            lambda v: torch.softmax(v, dim=0), torch.from_numpy(z[n])
        )
        assert max_rel(ours[n], theirs) < TOL
    # rows sum to zero (softmax ignores a common shift) and J is symmetric
    assert np.abs(ours.sum(axis=2)).max() < 1e-15
    assert np.abs(ours - ours.transpose(0, 2, 1)).max() < 1e-15


def test_softmax_backward_is_jacobian_product_and_matches_torch():
    rng = np.random.default_rng(3)
    z, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    layer = L.Softmax()
    layer.forward(z)
    ours = layer.backward(g)
    z_t = t(z)
    torch.softmax(z_t, dim=1).backward(torch.from_numpy(g))
    assert max_rel(ours, z_t.grad) < TOL


def test_softmax_is_stable_for_large_scores():
    y = L.softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    assert np.allclose(y, [[0.5, 0.5, 0.0]])


def test_max_subgradient_is_one_hot_at_argmax_like_torch():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 12))
    g = rng.normal(size=(6, 4))
    layer = L.Max(group_size=3)
    out = layer.forward(X)
    grad = layer.backward(g)
    x_t = t(X)
    out_t = x_t.reshape(6, 4, 3).max(dim=2).values
    out_t.backward(torch.from_numpy(g))
    assert max_rel(out, out_t) == 0.0
    assert max_rel(grad, x_t.grad) == 0.0
    assert np.count_nonzero(grad) == g.size  # exactly one entry per group receives gradient


def test_relu_subgradient_at_zero_is_zero_like_torch():
    x = np.array([[-1.0, 0.0, 2.0]])
    layer = L.ReLU()
    layer.forward(x)
    x_t = t(x)
    torch.relu(x_t).sum().backward()
    assert np.array_equal(layer.backward(np.ones((1, 3))), x_t.grad.numpy())
    assert layer.backward(np.ones((1, 3)))[0, 1] == 0.0


def test_linear_layout_and_init_like_torch():
    layer = L.Linear(5, 3, rng=0)
    assert layer.params["weight"].shape == (3, 5) and layer.params["bias"].shape == (3,)
    bound = 1 / np.sqrt(5)
    assert (
        np.abs(layer.params["weight"]).max() <= bound
        and np.abs(layer.params["bias"]).max() <= bound
    )


def test_mlp_structure_and_state_dict_round_trip():
    model = mlp([4, 8, 3], activation="tanh", output="softmax", rng=0)
    assert [type(m).__name__ for m in model.layers] == ["Linear", "Tanh", "Linear", "Softmax"]
    assert model.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3
    state = model.state_dict()
    twin = mlp([4, 8, 3], activation="tanh", output="softmax", rng=1)
    twin.load_state_dict(state)
    X = np.random.default_rng(0).normal(size=(2, 4))
    assert np.array_equal(model(X), twin(X))
    assert list(state) == [name for name, _ in to_torch(mlp([4, 8, 3], "tanh")).named_parameters()]


def test_gradient_check_catches_a_wrong_backward():
    class WrongTanh(L.Tanh):
        def _df(self, x, y):
            return 1.0 - y  # missing the square

    model = L.Sequential(L.Linear(3, 4, rng=0), WrongTanh(), L.Linear(4, 2, rng=1))
    X = np.random.default_rng(0).normal(size=(5, 3))
    result = gradcheck.check_module(model, Ls.MSELoss(), X, np.zeros((5, 2)))
    assert not result.ok and result.worst > 1e-3
    assert "FAIL" in str(result)


def test_float32_network_stays_float32():
    model = mlp([4, 3, 2], dtype=np.float32)
    out = model(np.ones((2, 4), dtype=np.float32))
    assert out.dtype == np.float32
    model.backward(np.ones_like(out))
    assert all(g.dtype == np.float32 for g in model.gradients())


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones((2, 4)), "expected 3 features in the last axis, got shape (2, 4)"),
        (np.ones(3), "expected an array of shape (N, D) (batch first), got shape (3,)"),
        (np.array([[1.0, np.nan, 0.0]]), "expected finite values, got 1 NaN/inf entries"),
        (np.array([["a", "b", "c"]]), "expected a numeric array"),
    ],
)
def test_linear_rejects_bad_input_with_a_clear_message(x, message):
    with pytest.raises((ValueError, TypeError)) as err:
        L.Linear(3, 2).forward(x)
    assert message in str(err.value)


def test_backward_checks_grad_shape_and_order():
    layer = L.Linear(3, 2)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((1, 2)))
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(4, 2\).*got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))


def test_unknown_activation_names_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown activation 'relux': expected one of \['identity', 'relu'"
    ):
        mlp([2, 3, 1], activation="relux")


def test_max_rejects_indivisible_width():
    with pytest.raises(ValueError, match="multiple of group_size=3, got 4"):
        L.Max(3).forward(np.ones((1, 4)))


@pytest.mark.parametrize("loss", [Ls.MSELoss(), Ls.CrossEntropyLoss(), Ls.BCEWithLogitsLoss()])
def test_float32_flows_through_losses_and_backward(loss):
    """No silent upcast: a float32 network's loss gradient and parameter gradients stay float32."""
    model = mlp([4, 3, 2], activation="tanh", output=None, dtype=np.float32)
    x = np.ones((5, 4), dtype=np.float32)
    target = np.array([0, 1, 0, 1, 1]) if isinstance(loss, Ls.CrossEntropyLoss) else np.ones((5, 2))
    loss.forward(model(x), target)
    grad = loss.backward()
    assert grad.dtype == np.float32
    model.backward(grad)
    assert all(g.dtype == np.float32 for g in model.gradients())
    assert L.softmax(np.ones((1, 3), dtype=np.float32)).dtype == np.float32


# ----------------------------------------------------------------------------- the module API
# One API at every level: a single layer answers the same calls as a network.


def test_a_leaf_layer_carries_the_whole_module_api():
    layer = L.Linear(3, 2, rng=0)
    assert [k for k, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.parameters()[0] is layer.params["weight"]  # the arrays themselves
    X = np.random.default_rng(0).normal(size=(4, 3))
    layer.forward(X)
    layer.backward(np.ones((4, 2)))
    assert [k for k, _ in layer.named_gradients()] == ["weight", "bias"]
    np.testing.assert_array_equal(layer.gradients()[1], [4.0, 4.0])
    assert layer.buffers() == [] and layer.named_buffers() == []
    assert layer.eval() is layer and not layer.training
    assert layer.train().training
    layer.zero_grad()
    assert all(np.all(g == 0) for g in layer.gradients())
    state = layer.state_dict()
    twin = L.Linear(3, 2, rng=1)
    weight = twin.params["weight"]
    twin.load_state_dict(state)
    assert twin.params["weight"] is weight  # copied in place: an optimiser keeps its arrays
    np.testing.assert_array_equal(twin(X), layer(X))
    assert L.ReLU().named_parameters() == [] and L.ReLU().state_dict() == {}


def test_a_network_names_parameters_gradients_and_buffers_like_torch():
    from coursekit.batchnorm import BatchNorm1d

    model = L.Sequential(L.Linear(3, 4, rng=0), BatchNorm1d(4), L.ReLU(), L.Linear(4, 2, rng=1))
    ref = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in ref.named_parameters()]
    assert [k for k, _ in model.named_buffers()] == [k for k, _ in ref.named_buffers()]
    assert list(model.state_dict()) == list(ref.state_dict())
    model.forward(np.random.default_rng(0).normal(size=(5, 3)))
    model.backward(np.ones((5, 2)))
    assert [k for k, _ in model.named_gradients()] == [k for k, _ in model.named_parameters()]
    assert len(model.buffers()) == 3
    model.eval()
    assert not any(m.training for _, m in model.named_modules())
    nested = L.Sequential(L.Sequential(L.Linear(2, 2, rng=0)), L.Tanh())
    assert [k for k, _ in nested.named_parameters()] == ["0.0.weight", "0.0.bias"]


FIRST_LAYERS = {
    "Linear": lambda: L.Linear(3, 3, rng=5),
    "Tanh": L.Tanh,
    "Softmax": L.Softmax,
    "BatchNorm1d": lambda: __import__("coursekit.batchnorm").batchnorm.BatchNorm1d(3),
    "Sequential": lambda: L.Sequential(L.ReLU(), L.Linear(3, 3, rng=6)),
}


@pytest.mark.parametrize("first", FIRST_LAYERS)
def test_backward_without_input_gradient_is_the_same_whatever_the_first_layer(first):
    """``input_grad=False`` returns None and leaves every parameter gradient as the full
    backward computes it, whether the first layer is a Linear, an activation, batch norm
    or a container."""
    X = np.random.default_rng(1).normal(size=(6, 3))
    grads = {}
    for input_grad in (True, False):
        model = L.Sequential(FIRST_LAYERS[first](), L.Linear(3, 2, rng=0), L.Tanh())
        model.forward(X)
        out = model.backward(np.ones((6, 2)), input_grad=input_grad)
        assert (out is None) == (not input_grad), f"input_grad={input_grad} returned {type(out)}"
        grads[input_grad] = model.named_gradients()
    for (k, a), (_, b) in zip(grads[True], grads[False], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert L.Sequential().backward(np.ones((2, 2)), input_grad=False) is None


def test_one_builder_for_numpy_and_torch_with_and_without_batch_norm():
    from coursekit.torch_utils import mlp_torch

    for bn in (False, True):
        ours = mlp([5, 4, 4, 3], "tanh", batchnorm=bn, rng=3)
        old = mlp([5, 4, 4, 3], "tanh", batchnorm=bn, rng=3)
        theirs = mlp([5, 4, 4, 3], "tanh", batchnorm=bn, backend="torch")
        assert [type(m).__name__ for m in ours.layers] == [type(m).__name__ for m in theirs]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for (ka, a), (kb, b) in zip(ours.state_dict().items(), old.state_dict().items()):
            assert ka == kb
            np.testing.assert_array_equal(a, b)
    plain = mlp([5, 4, 3], output="softmax", rng=2)
    for a, b in zip(plain.parameters(), L.MLP([5, 4, 3], output="softmax", rng=2).parameters()):
        np.testing.assert_array_equal(a, b)
    assert [type(m) for m in mlp_torch([5, 4, 3], output="softmax")] == [
        type(m) for m in mlp([5, 4, 3], output="softmax", backend="torch")
    ]
    assert mlp([2, 2], backend="torch", dtype=torch.float32)[0].weight.dtype == torch.float32
    with pytest.raises(ValueError, match="backend in"):
        mlp([2, 2], backend="jax")
    with pytest.raises(ValueError, match="rng must be None"):
        mlp([2, 2], backend="torch", rng=0)

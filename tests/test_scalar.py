"""The lecture's scalar (loop-over-neurons) backprop equals the vectorised layers exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import layers as L
from coursekit import losses as Ls
from coursekit import scalar as S
from coursekit.models import mlp


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    act=st.sampled_from(["sigmoid", "tanh", "relu"]),
    seed=st.integers(0, 2**16),
)
def test_scalar_and_vector_backprop_agree(sizes, act, seed):
    rng = np.random.default_rng(seed)
    model = mlp(sizes, activation=act, output="sigmoid", rng=seed)
    x = rng.normal(size=(1, sizes[0]))
    d = rng.uniform(size=(1, sizes[-1]))
    y = model.forward(x)
    loss = Ls.MSELoss(reduction="sum")  # = 2 x the lecture's L2 divergence 1/2 ||y - d||^2
    loss.forward(y, d)
    grad_x = model.backward(loss.backward() / 2)

    w, acts = S.from_sequential(model)
    z, ys = S.scalar_forward(w, acts, x[0])
    assert np.allclose(ys[-1][1:], y[0], rtol=1e-13, atol=1e-15)
    dw, dx = S.scalar_backward(w, acts, z, ys, np.array(ys[-1][1:]) - d[0])
    assert np.allclose(dx, grad_x[0], rtol=1e-12, atol=1e-15)
    linears = [m for m in model.layers if isinstance(m, L.Linear)]
    for dwk, lin in zip(dw, linears):
        assert np.allclose(dwk[0], lin.grads["bias"], rtol=1e-12, atol=1e-15)  # row 0: bias
        assert np.allclose(dwk[1:].T, lin.grads["weight"], rtol=1e-12, atol=1e-15)


def test_scalar_forward_uses_bias_as_weight_on_constant_one():
    w = [np.array([[0.5], [2.0]])]  # bias 0.5, weight 2
    z, y = S.scalar_forward(w, ["identity"], [3.0])
    assert y[0][0] == 1.0 and z[1][1] == 6.5 and y[1][1] == 6.5


def test_from_sequential_rejects_non_elementwise_layers():
    with pytest.raises(ValueError, match="expected Linear layers with elementwise activations"):
        S.from_sequential(L.Sequential(L.Linear(2, 2), L.Softmax()))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        S.scalar_forward([np.ones((2, 1))], ["swish"], [1.0])

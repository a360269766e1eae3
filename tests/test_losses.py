"""Losses against torch.nn losses in float64 (values and input gradients, rel. error < 1e-10)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import gradcheck
from coursekit import losses as Ls
from coursekit.layers import log_softmax, softmax, softmax_jacobian
from tests.torch_oracle import max_rel, t

TOL = 1e-10
shapes = st.tuples(st.integers(1, 8), st.integers(1, 6))


def _compare(ours, theirs, x, target, target_t):
    value = ours.forward(x, target)
    grad = ours.backward()
    x_t = t(x)
    value_t = theirs(x_t, target_t)
    value_t.backward()
    assert abs(value - value_t.item()) <= TOL * max(1.0, abs(value_t.item()))
    assert max_rel(grad, x_t.grad) < TOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_mse_bce_and_logits_match_torch(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    x, d = rng.normal(size=shape), rng.uniform(size=shape)
    _compare(
        Ls.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), x, d, torch.from_numpy(d)
    )
    _compare(
        Ls.BCEWithLogitsLoss(reduction),
        torch.nn.BCEWithLogitsLoss(reduction=reduction),
        x * 5,
        d,
        torch.from_numpy(d),
    )
    p = rng.uniform(0.01, 0.99, size=shape)
    _compare(
        Ls.BCELoss(reduction), torch.nn.BCELoss(reduction=reduction), p, d, torch.from_numpy(d)
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_cross_entropy_matches_torch_for_labels_and_probabilities(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape) * 4
    labels = rng.integers(0, shape[1], shape[0])
    _compare(
        Ls.CrossEntropyLoss(reduction),
        torch.nn.CrossEntropyLoss(reduction=reduction),
        z,
        labels,
        torch.from_numpy(labels),
    )
    probs = softmax(rng.normal(size=shape))
    _compare(
        Ls.CrossEntropyLoss(reduction),
        torch.nn.CrossEntropyLoss(reduction=reduction),
        z,
        probs,
        torch.from_numpy(probs),
    )


@pytest.mark.filterwarnings(
    "ignore:reduction. 'mean' divides the total loss:UserWarning"
)  # torch's own
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum"])
def test_kl_divergence_matches_torch(reduction):
    rng = np.random.default_rng(5)
    logy = log_softmax(rng.normal(size=(4, 5)))
    d = softmax(rng.normal(size=(4, 5)))
    d[0, 2] = 0.0  # a zero-probability target term contributes 0, as in torch
    _compare(
        Ls.KLDivLoss(reduction),
        torch.nn.KLDivLoss(reduction=reduction),
        logy,
        d,
        torch.from_numpy(d),
    )


def test_hinge_matches_torch_clamp_formulation():
    rng = np.random.default_rng(6)
    s = rng.normal(size=(20,)) * 2
    d = rng.choice([-1.0, 1.0], 20)
    _compare(
        Ls.HingeLoss(), lambda x, y: torch.clamp(1 - y * x, min=0).mean(), s, d, torch.from_numpy(d)
    )


def test_cross_entropy_gradient_is_y_minus_d_through_the_softmax_jacobian():
    """The fused gradient equals J^T (dCE/dy) with dCE/dy = -d / y: the lecture's derivation."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=(3, 4))
    d = Ls.one_hot(np.array([0, 3, 1]), 4)
    y = softmax(z)
    chain = np.einsum("ni,nij->nj", -d / y, softmax_jacobian(y))
    loss = Ls.CrossEntropyLoss(reduction="sum")
    loss.forward(z, d)
    assert np.abs(loss.backward() - chain).max() < 1e-14
    assert np.abs(chain - (y - d)).max() < 1e-14


def test_every_loss_passes_a_finite_difference_check():
    rng = np.random.default_rng(8)
    cases = [
        (Ls.MSELoss(), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))),
        (Ls.BCELoss(), rng.uniform(0.1, 0.9, (3, 2)), rng.uniform(size=(3, 2))),
        (Ls.BCEWithLogitsLoss(), rng.normal(size=(3, 2)), rng.uniform(size=(3, 2))),
        (Ls.CrossEntropyLoss(), rng.normal(size=(3, 4)), np.array([1, 0, 3])),
        (
            Ls.KLDivLoss("batchmean"),
            log_softmax(rng.normal(size=(3, 4))),
            softmax(rng.normal(size=(3, 4))),
        ),
        (Ls.HingeLoss(), np.array([0.3, -2.0, 1.7]), np.array([1.0, -1.0, -1.0])),
    ]
    for loss, x, d in cases:
        loss.forward(x, d)
        analytic = loss.backward()
        numeric = gradcheck.numerical_gradient(
            lambda v, loss=loss, d=d: loss.forward(v, d), x.copy()
        )
        assert gradcheck.rel_error(analytic, numeric) < gradcheck.DEFAULT_TOL, type(loss).__name__


def test_bce_saturates_like_torch():
    p = np.array([0.0, 1.0])
    d = np.array([1.0, 0.0])
    ours = Ls.BCELoss().forward(p, d)
    theirs = torch.nn.BCELoss()(torch.from_numpy(p), torch.from_numpy(d)).item()
    assert ours == theirs == 100.0


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: Ls.MSELoss().forward(np.ones((2, 3)), np.ones((3, 2))),
            "MSELoss target: expected shape (2, 3) to match MSELoss input, got (3, 2)",
        ),
        (
            lambda: Ls.BCELoss().forward(np.array([1.5]), np.array([1.0])),
            "expected probabilities in [0, 1]",
        ),
        (
            lambda: Ls.CrossEntropyLoss().forward(np.ones((2, 3)), np.array([0.5, 1.0])),
            "expected integer class indices",
        ),
        (
            lambda: Ls.CrossEntropyLoss().forward(np.ones((2, 3)), np.array([0, 3])),
            "expected labels in [0, 2]",
        ),
        (
            lambda: Ls.HingeLoss().forward(np.ones(2), np.array([0.0, 1.0])),
            "expected labels in {-1, +1}",
        ),
        (lambda: Ls.MSELoss(reduction="avg"), "expected reduction in ('mean', 'sum'), got 'avg'"),
        (
            lambda: Ls.MSELoss().forward(np.array([[np.inf]]), np.array([[0.0]])),
            "expected finite values",
        ),
        (lambda: Ls.MSELoss().backward(), "backward called before forward"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, RuntimeError)) as err:
        call()
    assert message in str(err.value)

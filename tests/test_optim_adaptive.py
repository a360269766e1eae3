"""Adagrad, RMSprop and Adam against torch.optim in float64, step for step.

Oracle: ``torch.optim`` on the same problem from the same start. On quadratics both
optimisers receive the same gradient, taken at coursekit's iterate, so the comparison
isolates the update rule: tolerance 1e-10 relative + 1e-12 absolute on every iterate
over 100 steps. Bitwise equality is out of reach because torch's CPU kernels fuse
multiply-adds (``addcmul``, ``lerp``, ``add(alpha=)``), which numpy cannot; with each
side taking its own gradient, a near-sign-like method close to the optimum can amplify
those 1e-16 differences, so the closed-loop MLP runs use a looser 1e-9.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.losses import CrossEntropyLoss
from coursekit.minibatch import batches
from coursekit.models import mlp
from coursekit.optim import Adagrad, Adam, RMSprop
from coursekit.torch_utils import to_torch

torch.set_num_threads(1)  # tiny tensors: extra threads only contend on a shared machine

RTOL, ATOL = 1e-10, 1e-12

CONFIGS = [
    (Adagrad, torch.optim.Adagrad, {}),
    (
        Adagrad,
        torch.optim.Adagrad,
        {
            "lr": 0.1,
            "lr_decay": 0.01,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.5,
            "eps": 1e-6,
        },
    ),
    (RMSprop, torch.optim.RMSprop, {}),
    (RMSprop, torch.optim.RMSprop, {"lr": 0.003, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.05}),
    (RMSprop, torch.optim.RMSprop, {"momentum": 0.9, "lr": 0.001}),
    (RMSprop, torch.optim.RMSprop, {"centered": True}),
    (
        RMSprop,
        torch.optim.RMSprop,
        {"centered": True, "momentum": 0.5, "weight_decay": 0.01, "lr": 0.003},
    ),
    (Adam, torch.optim.Adam, {}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"amsgrad": True, "lr": 0.01}),
    (Adam, torch.optim.Adam, {"amsgrad": True, "weight_decay": 0.01, "betas": (0.5, 0.9)}),
    # maximize and weight decay are written once, in the optimiser base
    (Adagrad, torch.optim.Adagrad, {"maximize": True, "weight_decay": 0.1, "lr": 0.1}),
    (RMSprop, torch.optim.RMSprop, {"maximize": True, "momentum": 0.5, "weight_decay": 0.05}),
    (Adam, torch.optim.Adam, {"maximize": True, "weight_decay": 0.1, "lr": 0.01}),
]
IDS = [f"{ck.__name__}-{i}" for i, (ck, _, _) in enumerate(CONFIGS)]
MLP_CASES = [0, 1, 2, 6, 7, 10]  # defaults and the most non-default setting of each


def random_quadratic(d=5, seed=0):
    """f(w) = 1/2 w^T A w - b^T w with A symmetric positive definite, eigenvalues in [0.1, 10]."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = Q @ np.diag(np.geomspace(0.1, 10, d)) @ Q.T
    return A, rng.normal(size=d), rng.normal(size=d)


def quadratic_trajectories(ck_cls, torch_cls, kwargs, steps=100, seed=0):
    A, b, w0 = random_quadratic(seed=seed)
    w = w0.copy()
    opt = ck_cls([w], **kwargs)
    wt = torch.tensor(w0, requires_grad=True)
    topt = torch_cls([wt], **kwargs)
    ours, theirs = [], []
    for _ in range(steps):
        wt.grad = torch.from_numpy(A @ w - b)  # the gradient at coursekit's iterate, for both
        opt.step([A @ w - b])
        topt.step()
        ours.append(w.copy())
        theirs.append(wt.detach().numpy().copy())
    return np.array(ours), np.array(theirs), opt, topt


@pytest.mark.parametrize("ck_cls, torch_cls, kwargs", CONFIGS, ids=IDS)
def test_quadratic_matches_torch(ck_cls, torch_cls, kwargs):
    ours, theirs, opt, topt = quadratic_trajectories(ck_cls, torch_cls, kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
    # the state is torch's too: same keys, same values
    tstate = topt.state[topt.param_groups[0]["params"][0]]
    assert set(opt.state[0]) == set(tstate)
    for key, value in tstate.items():
        np.testing.assert_allclose(opt.state[0][key], value.numpy(), rtol=RTOL, atol=ATOL)
    assert ours[-1].tolist() != ours[0].tolist()  # it moved


def mlp_trajectories(ck_cls, torch_cls, kwargs, batch_size, steps=100):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 6)), rng.integers(0, 3, size=40)
    model = mlp([6, 8, 3], activation="tanh", rng=2)
    net = to_torch(model)
    loss, tloss = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt, topt = ck_cls(model.parameters(), **kwargs), torch_cls(net.parameters(), **kwargs)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    order = np.random.default_rng(3)
    k = 0
    while k < steps:
        for idx in batches(len(X), batch_size, rng=order):
            loss.forward(model.forward(X[idx]), y[idx])
            model.backward(loss.backward())
            opt.step(model.gradients())
            topt.zero_grad()
            tloss(net(Xt[idx]), yt[idx]).backward()
            topt.step()
            k += 1
    return model, net


@pytest.mark.parametrize("batch_size", [40, 8], ids=["full-batch", "mini-batch"])
@pytest.mark.parametrize(
    "ck_cls, torch_cls, kwargs", [CONFIGS[i] for i in MLP_CASES], ids=[IDS[i] for i in MLP_CASES]
)
def test_mlp_matches_torch(ck_cls, torch_cls, kwargs, batch_size):
    model, net = mlp_trajectories(ck_cls, torch_cls, kwargs, batch_size)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p, net.state_dict()[name].numpy(), rtol=1e-9, atol=1e-11)


@settings(max_examples=20, deadline=None)
@given(
    lr=st.floats(1e-4, 0.5),
    b1=st.floats(0.0, 0.99),
    b2=st.floats(0.5, 0.9999),
    eps=st.floats(1e-10, 1e-2),
    wd=st.floats(0.0, 0.5),
    amsgrad=st.booleans(),
)
def test_adam_random_hyperparameters(lr, b1, b2, eps, wd, amsgrad):
    kw = {"lr": lr, "betas": (b1, b2), "eps": eps, "weight_decay": wd, "amsgrad": amsgrad}
    ours, theirs, _, _ = quadratic_trajectories(Adam, torch.optim.Adam, kw, steps=50)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@settings(max_examples=20, deadline=None)
@given(
    lr=st.floats(1e-4, 0.1),
    alpha=st.floats(0.5, 0.999),
    eps=st.floats(1e-10, 1e-2),
    wd=st.floats(0.0, 0.5),
    momentum=st.floats(0.0, 0.95),
    centered=st.booleans(),
)
def test_rmsprop_random_hyperparameters(lr, alpha, eps, wd, momentum, centered):
    # alpha >= 0.5: with alpha near 0 and centered=True, v - m^2 cancels to rounding noise
    # and both libraries divide by eps, so they agree only to the size of that noise
    kw = {
        "lr": lr,
        "alpha": alpha,
        "eps": eps,
        "weight_decay": wd,
        "momentum": momentum,
        "centered": centered,
    }
    ours, theirs, _, _ = quadratic_trajectories(RMSprop, torch.optim.RMSprop, kw, steps=50)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@settings(max_examples=20, deadline=None)
@given(
    lr=st.floats(1e-3, 1.0),
    lr_decay=st.floats(0.0, 0.5),
    wd=st.floats(0.0, 0.5),
    init=st.floats(0.0, 2.0),
    eps=st.floats(1e-10, 1e-2),
)
def test_adagrad_random_hyperparameters(lr, lr_decay, wd, init, eps):
    kw = {
        "lr": lr,
        "lr_decay": lr_decay,
        "weight_decay": wd,
        "initial_accumulator_value": init,
        "eps": eps,
    }
    ours, theirs, _, _ = quadratic_trajectories(Adagrad, torch.optim.Adagrad, kw, steps=50)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ the lecture's forms


def test_adam_first_step_is_lr_times_sign():
    """Closed form: after one step m_hat = g and v_hat = g^2, so the step is lr g / (|g| + eps)."""
    g = np.array([3.0, -0.02, 1e-3])
    w = np.zeros(3)
    Adam([w], lr=0.1, eps=1e-8).step([g])
    np.testing.assert_allclose(w, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-14)


def test_adam_without_bias_correction():
    """Closed form without correction: m_1 = (1-b1) g, v_1 = (1-b2) g^2."""
    g = np.array([2.0, -0.5])
    w = np.zeros(2)
    Adam([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8, bias_correction=False).step([g])
    expected = -0.1 * 0.1 * g / (np.sqrt(0.001) * np.abs(g) + 1e-8)
    np.testing.assert_allclose(w, expected, rtol=1e-14)


def test_eps_inside_sqrt_lecture_forms():
    """Lecture: w -= lr g / sqrt(s + eps), s = sum of g^2 (AdaGrad) or its EMA (RMSprop)."""
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    w = np.zeros(2)
    opt = Adagrad([w], lr=0.1, eps=0.01, eps_inside_sqrt=True)
    opt.step([g1])
    opt.step([g2])
    s1, s2 = g1**2, g1**2 + g2**2
    np.testing.assert_allclose(
        w, -0.1 * g1 / np.sqrt(s1 + 0.01) - 0.1 * g2 / np.sqrt(s2 + 0.01), rtol=1e-14
    )
    w = np.zeros(2)
    opt = RMSprop([w], lr=0.1, alpha=0.9, eps=0.01, eps_inside_sqrt=True)
    opt.step([g1])
    opt.step([g2])
    v1 = 0.1 * g1**2
    v2 = 0.9 * v1 + 0.1 * g2**2
    np.testing.assert_allclose(
        w, -0.1 * g1 / np.sqrt(v1 + 0.01) - 0.1 * g2 / np.sqrt(v2 + 0.01), rtol=1e-14
    )


@pytest.mark.parametrize("cls", [Adagrad, RMSprop, Adam])
def test_gradient_not_mutated(cls):
    w, g = np.ones(3), np.array([1.0, -2.0, 3.0])
    cls([w], lr=0.1, weight_decay=0.5).step([g])
    assert g.tolist() == [1.0, -2.0, 3.0]


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (Adagrad, {"lr_decay": -1.0}, r"lr_decay: expected a value in \[0.0, inf\)"),
        (Adagrad, {"initial_accumulator_value": -0.1}, r"initial_accumulator_value: expected"),
        (Adagrad, {"lr": 0.0}, r"lr: expected a value in \(0.0, inf\)"),
        (RMSprop, {"alpha": 1.0}, r"alpha: expected a value in \[0.0, 1.0\)"),
        (RMSprop, {"momentum": -0.5}, r"momentum: expected"),
        (RMSprop, {"eps": -1e-8}, r"eps: expected"),
        (Adam, {"betas": (1.0, 0.999)}, r"beta1 \(betas\[0\]\): expected a value in \[0.0, 1.0\)"),
        (Adam, {"betas": (0.9, -0.1)}, r"beta2"),
        (Adam, {"betas": (0.9,)}, r"expected a pair"),
        (Adam, {"weight_decay": -1.0}, r"weight_decay: expected"),
    ],
)
def test_invalid_hyperparameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([np.zeros(2)], **kwargs)

"""Lecture 1's checked claims can fail: each verdict, driven with a plausible wrong input
(a gradient missing a path or a slope, a wrong learning rate, an input that needs no
gradient, an undertrained classifier, a wide margin), prints FAIL.

The verdict expressions are those of the lecture's checked cells.
"""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from coursekit.checks import close, passed, verdict
from coursekit.data import load_digits_binary, make_blobs
from coursekit.gradcheck import check_gradients, check_module, rel_error
from coursekit.layers import Linear, Sequential, Sigmoid, sigmoid
from coursekit.linear import (
    DIVERGENCES,
    fit_linear_classifiers,
    objective,
    reference_solution,
    train_penalised,
)
from coursekit.losses import BCELoss, BCEWithLogitsLoss, MSELoss
from coursekit.models import mlp
from coursekit.training import accuracy, train_full_batch

from .exercise_answers import check_output

# section 1's network and numbers
x1, x2, d = 0.5, -1.0, 2.0
W1u, W2u, b_u = 0.8, -0.5, 0.1
W1v, W2v, b_v = -0.3, 0.6, -0.2
Wuo, Wvo, b_o = 1.2, -0.7, 0.3


def _hand(forget_slope=False):
    y_u = float(sigmoid(W1u * x1 + W2u * x2 + b_u))
    y_v = float(sigmoid(W1v * x1 + W2v * x2 + b_v))
    y_o = Wuo * y_u + Wvo * y_v + b_o
    g_o = y_o - d
    s_u = 1.0 if forget_slope else y_u * (1 - y_u)
    s_v = 1.0 if forget_slope else y_v * (1 - y_v)
    g_u, g_v = s_u * Wuo * g_o, s_v * Wvo * g_o
    return {
        "0.weight": np.array([[x1 * g_u, x2 * g_u], [x1 * g_v, x2 * g_v]]),
        "0.bias": np.array([g_u, g_v]),
        "2.weight": np.array([[y_u * g_o, y_v * g_o]]),
        "2.bias": np.array([g_o]),
    }


def _net():
    net = Sequential(Linear(2, 2), Sigmoid(), Linear(2, 1))
    net[0].params["weight"][...] = [[W1u, W2u], [W1v, W2v]]
    net[0].params["bias"][...] = [b_u, b_v]
    net[2].params["weight"][...] = [[Wuo, Wvo]]
    net[2].params["bias"][...] = [b_o]
    return net


def test_hand_gradient_check_fails_without_the_sigmoid_slope():
    net, x = _net(), np.array([[x1, x2]])

    def check(by_hand):
        result = check_gradients(
            lambda: 0.5 * float(((net(x) - d) ** 2).sum()), dict(net.named_parameters()), by_hand
        )
        return verdict(result.worst, 1e-8)

    assert check(_hand()) == "OK"
    assert check(_hand(forget_slope=True)).startswith("FAIL")


def test_optimizer_step_check_fails_for_a_learning_rate_one_percent_off():
    net, hand, eta = _net(), _hand(), 0.5
    for lr, ok in [(eta, True), (eta * 1.01, False)]:
        tnet = torch.nn.Sequential(
            torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1)
        ).double()
        tnet.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
        x_t = torch.tensor([[x1, x2]], dtype=torch.float64)
        (0.5 * ((tnet(x_t) - d) ** 2).sum()).backward()
        torch.optim.SGD(tnet.parameters(), lr=lr).step()
        worst = max(
            rel_error(p.detach().numpy(), net.state_dict()[k] - eta * hand[k])
            for k, p in tnet.named_parameters()
        )
        assert (verdict(worst, 1e-12) == "OK") == ok


def test_two_path_check_fails_with_one_path():
    a, b, d_t = 1.0, -0.5, 1.0
    W_cf, beta_f, W_cg, beta_g, W_fz, W_gz, beta_z = 1.5, -0.5, -1.0, 0.3, 2.0, 1.0, -0.2
    c = torch.tensor(
        float(sigmoid(0.6 * a - 0.4 * b + 0.1)), dtype=torch.float64, requires_grad=True
    )
    f, g = torch.sigmoid(W_cf * c + beta_f), torch.sigmoid(W_cg * c + beta_g)
    z = W_fz * f + W_gz * g + beta_z
    (0.5 * (z - d_t) ** 2).backward()
    dz = z.item() - d_t
    via_f = W_cf * f.item() * (1 - f.item()) * W_fz * dz
    via_g = W_cg * g.item() * (1 - g.item()) * W_gz * dz
    assert verdict(rel_error(via_f + via_g, c.grad.item()), 1e-12) == "OK"
    assert verdict(rel_error(via_f, c.grad.item()), 1e-12).startswith("FAIL")
    assert verdict(rel_error(via_g, c.grad.item()), 1e-12).startswith("FAIL")


def _flop_ratio(input_requires_grad):
    tmlp = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
    ).double()
    xb = torch.zeros(32, 64, dtype=torch.float64, requires_grad=input_requires_grad)
    with FlopCounterMode(display=False) as fwd:
        out = tmlp(xb)
    with FlopCounterMode(display=False) as bwd:
        out.sum().backward()
    return bwd.get_total_flops() / fwd.get_total_flops()


def test_flop_ratio_check_fails_when_the_input_needs_no_gradient():
    """Without an input gradient the first layer sends nothing down: the ratio drops
    below 2, and the check says so."""
    assert passed(_flop_ratio(True) == 2.0) == "OK"
    assert passed(_flop_ratio(False) == 2.0).startswith("FAIL")


def test_forward_pass_count_check_fails_when_the_input_is_checked_too():
    rng = np.random.default_rng(0)
    X, t = rng.normal(size=(8, 16)), rng.normal(size=(8, 1))
    for include_input, ok in [(False, True), (True, False)]:
        m = mlp([16, 4, 4, 1], activation="tanh", rng=0)
        calls = []
        m.forward = lambda X, forward=m.forward, calls=calls: calls.append(1) or forward(X)
        check_module(m, MSELoss(), X, t, include_input=include_input)
        assert (passed(len(calls) == 2 * m.num_parameters() + 1) == "OK") == ok


@pytest.fixture(scope="module")
def blobs():
    X, labels = make_blobs(n=200, centers=2, spread=1.0, distance=4.0, rng=21)
    return X, labels, fit_linear_classifiers(X, labels, lam=0.01, lr=0.1, steps=2000, rng=22)


def _params(model):
    return np.append(model.params["weight"], model.params["bias"])


def test_objective_check_ok_trained_fails_undertrained(blobs):
    X, labels, models = blobs
    short = fit_linear_classifiers(X, labels, lam=0.01, lr=0.1, steps=20, rng=22)
    for name in DIVERGENCES:
        best = objective(name, reference_solution(name, X, labels, 0.01), X, labels, 0.01)
        assert (
            close(objective(name, _params(models[name]), X, labels, 0.01), best, rtol=1e-3) == "OK"
        )
        assert close(
            objective(name, _params(short[name]), X, labels, 0.01), best, rtol=1e-3
        ).startswith("FAIL")
    ref = reference_solution("logistic", X, labels, 0.01)
    assert verdict(rel_error(_params(models["logistic"]), ref), 1e-3) == "OK"
    assert verdict(rel_error(_params(short["logistic"]), ref), 1e-3).startswith("FAIL")


def test_reference_objective_is_the_minimum(blobs):
    """scikit-learn's C = 1/(2 T lambda) solves the lecture's objective: perturbing its
    weights never lowers the objective, and C off by a factor 2 gives a worse point."""
    X, labels, _ = blobs
    rng = np.random.default_rng(0)
    for name in DIVERGENCES:
        ref = reference_solution(name, X, labels, 0.01)
        best = objective(name, ref, X, labels, 0.01)
        for _ in range(20):
            assert objective(name, ref + 1e-3 * rng.normal(size=3), X, labels, 0.01) >= best - 1e-9
        wrong_c = reference_solution(name, X, labels, 0.005)  # C = 1/(T lambda)
        assert close(objective(name, wrong_c, X, labels, 0.01), best, rtol=1e-3).startswith("FAIL")


def test_agreement_check_fails_for_an_untrained_classifier(blobs):
    X, labels, models = blobs
    svm = models["SVM (hinge)"]

    def agree(other):
        disagree = int(np.sum((svm(X)[:, 0] > 0) != (other(X)[:, 0] > 0)))
        return passed(disagree <= 4, f"({disagree} differ)")

    assert agree(models["logistic"]) == "OK"
    assert agree(Linear(2, 1, rng=5)).startswith("FAIL")


def test_support_vector_check_fails_for_a_wide_margin(blobs):
    X, labels, models = blobs
    d_pm = 2.0 * labels - 1.0

    def few(model):
        inside = (d_pm * model(X)[:, 0]) < 1
        return passed(inside.mean() < 0.2, f"({inside.mean():.0%})")

    assert few(models["SVM (hinge)"]) == "OK"
    wide = fit_linear_classifiers(X, labels, lam=1.0, lr=0.1, steps=2000, rng=22)["SVM (hinge)"]
    assert few(wide).startswith("FAIL")


def test_train_penalised_matches_torch_gradient_descent():
    X, labels = make_blobs(n=50, rng=3)
    model = Linear(2, 1, rng=4)
    w0 = {k: v.copy() for k, v in model.params.items()}
    train_penalised(model, BCEWithLogitsLoss(), X, labels[:, None].astype(float), 0.05, 0.2, 30)
    w = torch.tensor(w0["weight"], requires_grad=True)
    b = torch.tensor(w0["bias"], requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.2)
    for _ in range(30):
        opt.zero_grad()
        z = torch.tensor(X) @ w.T + b
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(
                z, torch.tensor(labels[:, None], dtype=torch.float64)
            )
            + 0.05 * (w**2).sum()
        )
        loss.backward()
        opt.step()
    np.testing.assert_allclose(model.params["weight"], w.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.params["bias"], b.detach().numpy(), rtol=1e-10)


def test_digits_checks_fail_for_an_undertrained_detector():
    digits = load_digits_binary(digit=2, rng=31)
    baseline = 1 - digits.y_test.mean()

    def checks(steps):
        net = mlp([64, 8, 1], activation="relu", output="sigmoid", rng=32)
        train_full_batch(
            net, BCELoss(), digits.X_train, digits.y_train[:, None], lr=0.5, steps=steps
        )
        acc = accuracy(net(digits.X_test)[:, 0], digits.y_test, threshold=0.5)
        return passed(acc > 0.97), passed(1 - acc < (1 - baseline) / 5)

    assert checks(300) == ("OK", "OK")
    assert all(v.startswith("FAIL") for v in checks(2))


# the self-checks of the exercises fail on plausible wrong answers, not only on the stub
LECTURE = "01_backprop.ipynb"
SECTION_1 = ["l01-03", "l01-04", "l01-06", "l01-08"]


@pytest.mark.parametrize(
    "answer, ok",
    [
        ("dDiv_dx1 = W1u * dDiv_dz_u + W1v * dDiv_dz_v", True),
        ("dDiv_dx1 = W1u * dDiv_dz_u", False),  # one path
        ("dDiv_dx1 = dDiv_dz_u + dDiv_dz_v", False),  # the edge weights forgotten
        ("dDiv_dx1 = x1 * (dDiv_dz_u + dDiv_dz_v)", False),  # the input, not the weight
    ],
)
def test_exercise_e1_two_paths_check_fails_on_plausible_wrong_answers(answer, ok):
    out = check_output(LECTURE, "e1", answer, setup=SECTION_1)
    assert ("e1: OK" in out) == ok, out


@pytest.mark.parametrize(
    "answer, ok",
    [
        ("def sigmoid_backward(y, grad_y):\n    return grad_y * y * (1 - y)", True),
        (
            "def sigmoid_backward(y, grad_y):\n    return grad_y * sigmoid(y) * (1 - sigmoid(y))",
            False,
        ),
        ("def sigmoid_backward(y, grad_y):\n    return grad_y * y", False),
        ("def sigmoid_backward(y, grad_y):\n    return (grad_y * y * (1 - y)).sum(axis=0)", False),
    ],
)
def test_exercise_e2_sigmoid_backward_check_fails_on_plausible_wrong_answers(answer, ok):
    out = check_output(LECTURE, "e2", answer)
    assert ("e2: OK" in out) == ok, out


@pytest.mark.parametrize(
    "answer, ok",
    [
        ("hinge_guess = (0.0, -1.0)", True),
        ("hinge_guess = (0.0, 1.0)", False),  # the sign
        ("hinge_guess = (-1.0, -1.0)", False),  # every point pulls
        ("hinge_guess = (0.0, -0.5)", False),  # proportional to the miss
    ],
)
def test_exercise_e3_hinge_check_fails_on_plausible_wrong_answers(answer, ok):
    out = check_output(LECTURE, "e3", answer)
    assert ("e3: OK" in out) == ok, out

"""Lecture 2's checked claims can fail: each verdict, driven with a plausible wrong input
(a naive softmax, a Jacobian without its off-diagonal, a gradient without sigma', an
untuned or unsaturated comparison, the wrong subgradient), prints FAIL.

The verdict expressions are those of the lecture's checked cells.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import beats, passed, verdict
from coursekit.data import load_digits_multiclass
from coursekit.gradcheck import rel_error
from coursekit.layers import Sigmoid, log_softmax, softmax, softmax_jacobian
from coursekit.losses import CrossEntropyLoss, KLDivLoss, MSELoss
from coursekit.models import mlp
from coursekit.saturation import logit_gradient, saturation_sweep
from coursekit.subgradient import max_affine, min_norm_subgradient, step_change
from coursekit.training import accuracy, train_full_batch

from .exercise_answers import check_output


def _naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("z", [[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
def test_softmax_check_fails_without_the_max_subtracted(z):
    z = np.array(z)
    reference = torch.softmax(torch.tensor(z), dim=0).numpy()
    assert verdict(rel_error(softmax(z), reference), 1e-12) == "OK"
    with np.errstate(over="ignore", invalid="ignore"):
        naive = _naive_softmax(z)
    assert verdict(rel_error(naive, reference), 1e-12).startswith("FAIL")


def test_jacobian_check_fails_without_the_off_diagonal():
    z = np.array([2.0, 1.0, 0.1, -1.0])
    y = softmax(z)
    J_torch = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t, dim=0), torch.tensor(z)
    ).numpy()
    assert verdict(rel_error(softmax_jacobian(y[None])[0], J_torch), 1e-14) == "OK"
    assert verdict(rel_error(np.diag(y * (1 - y)), J_torch), 1e-14).startswith("FAIL")
    # y - d through J: skipping the Jacobian (using -d/y itself) fails
    d = np.array([0.0, 1.0, 0.0, 0.0])
    J = softmax_jacobian(y[None])[0]
    assert verdict(rel_error(J.T @ (-d / y), y - d), 1e-12) == "OK"
    assert verdict(rel_error(-d / y, y - d), 1e-12).startswith("FAIL")


def test_saturation_table_check_fails_for_a_gradient_without_sigma_prime():
    z = np.array([0.0, -2.0, -5.0, -10.0, -20.0, -40.0])[:, None]
    d = np.ones_like(z)
    act, mse = Sigmoid(), MSELoss(reduction="sum")
    mse.forward(act.forward(z), d)
    g_mse = act.backward(mse.backward())[:, 0]
    z_t = torch.tensor(z, requires_grad=True)
    F.mse_loss(torch.sigmoid(z_t), torch.tensor(d), reduction="sum").backward()
    g_torch = z_t.grad.numpy()[:, 0]
    assert verdict(rel_error(g_mse, g_torch), 1e-12) == "OK"
    assert verdict(rel_error(g_mse, logit_gradient(z[:, 0], 1.0, "mse")), 1e-12) == "OK"
    forgot_slope = 2 * (1 / (1 + np.exp(-z[:, 0])) - 1)  # dDiv/dy, not dDiv/dz
    assert verdict(rel_error(forgot_slope, g_torch), 1e-12).startswith("FAIL")
    assert verdict(rel_error(g_mse, logit_gradient(z[:, 0], 1.0, "ce")), 1e-12).startswith("FAIL")


def test_logit_gradient_matches_torch_for_both_targets():
    z = np.linspace(-30, 30, 13)
    for d in [0.0, 1.0]:
        zt = torch.tensor(z, requires_grad=True)
        F.binary_cross_entropy_with_logits(zt, torch.full_like(zt, d), reduction="sum").backward()
        np.testing.assert_allclose(logit_gradient(z, d, "ce"), zt.grad.numpy(), rtol=1e-12)
        zt.grad = None
        F.mse_loss(torch.sigmoid(zt), torch.full_like(zt, d), reduction="sum").backward()
        np.testing.assert_allclose(logit_gradient(z, d, "mse"), zt.grad.numpy(), rtol=1e-9)
    with pytest.raises(ValueError, match="expected loss 'mse' or 'ce'"):
        logit_gradient(z, 1.0, "hinge")


@pytest.fixture(scope="module")
def sweeps():
    return {scale: saturation_sweep(scale, seeds=[3, 4, 5]) for scale in [10.0, 1.0, 0.1]}


def test_saturated_comparison_ok_tuned_and_fails_for_an_untuned_cross_entropy(sweeps):
    sat = sweeps[10.0]
    assert sat.compare("cross-entropy", "squared error", rule="every").verdict() == "OK"
    # cross-entropy at the smallest learning rate of the grid, against a tuned squared error
    untuned = beats(sat.scores["cross-entropy"][0], sat.best("squared error"), rule="every")
    assert untuned.verdict().startswith("FAIL")
    assert sat.compare("squared error", "cross-entropy", rule="every").verdict().startswith("FAIL")


def test_saturation_checks_fail_when_the_start_is_not_saturated(sweeps):
    def stays_above(result, name="squared error"):
        return passed(np.median(result.best(name)) > 0.01)

    def both_below(result):
        return passed(max(np.median(result.best(m)) for m in result.methods) < 0.01)

    assert stays_above(sweeps[10.0]) == "OK"
    # logits of size about 0.1 or 1: not saturated, and the squared error reaches < 1%
    assert stays_above(sweeps[0.1]).startswith("FAIL")
    assert stays_above(sweeps[1.0]).startswith("FAIL")
    assert stays_above(sweeps[10.0], "cross-entropy").startswith("FAIL")
    assert both_below(sweeps[0.1]) == "OK"
    assert both_below(sweeps[10.0]).startswith("FAIL")


def test_cross_entropy_below_one_percent_check_fails_for_the_squared_error(sweeps):
    def below(result, name):
        worst = max(result.best(name).max(), sweeps[0.1].best(name).max())
        return passed(worst < 0.01, f"(worst {worst:.3f})")

    assert below(sweeps[10.0], "cross-entropy") == "OK"
    assert below(sweeps[10.0], "squared error").startswith("FAIL")


def test_tie_checks_fail_for_the_other_subgradient():
    A = np.array([[2.0, 1.0], [-2.0, 1.0]])

    def f(v):
        return max_affine(A, np.zeros(2), v)

    first, best = A[0], min_norm_subgradient(A)
    assert passed(step_change(f, np.zeros(2), first, 0.1) > 0) == "OK"
    assert passed(step_change(f, np.zeros(2), best, 0.1) > 0).startswith("FAIL")
    lowers = [step_change(f, np.zeros(2), best, s) < 0 for s in [1e-3, 1e-2, 1e-1]]
    assert passed(all(lowers)) == "OK"
    raised = [step_change(f, np.zeros(2), first, s) < 0 for s in [1e-3, 1e-2, 1e-1]]
    assert passed(all(raised)).startswith("FAIL")


def test_digits_accuracy_check_fails_for_an_undertrained_classifier():
    data = load_digits_multiclass(rng=7)
    net = mlp([64, 32, 10], activation="relu", rng=8)
    train_full_batch(net, CrossEntropyLoss(), data.X_train, data.y_train, lr=0.5, steps=3)
    acc = accuracy(net(data.X_test), data.y_test)
    assert passed(acc > 0.93, f"(accuracy {acc:.3f})").startswith("FAIL")
    train_full_batch(net, CrossEntropyLoss(), data.X_train, data.y_train, lr=0.5, steps=247)
    assert passed(accuracy(net(data.X_test), data.y_test) > 0.93) == "OK"


def test_likelihood_checks_fail_on_a_wrong_formula():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    d = X @ np.array([1.5, -2.0, 0.5]) + 0.3 * rng.normal(size=50)
    w = np.linalg.lstsq(X, d, rcond=None)[0]
    sigma = 2.0
    nll_torch = (
        -torch.distributions.Normal(torch.tensor(X @ w), sigma)
        .log_prob(torch.tensor(d))
        .mean()
        .item()
    )
    mse = MSELoss().forward(X @ w, d)
    right = mse / (2 * sigma**2) + 0.5 * np.log(2 * np.pi * sigma**2)
    wrong = mse / (2 * sigma**2) + 0.5 * np.log(2 * np.pi * sigma)  # sigma, not sigma^2
    assert verdict(abs(right - nll_torch), 1e-12) == "OK"
    assert verdict(abs(wrong - nll_torch), 1e-12).startswith("FAIL")
    logits = rng.normal(size=(8, 5))
    D = rng.dirichlet(np.ones(5), size=8)
    kl = KLDivLoss(reduction="batchmean").forward(log_softmax(logits), D)
    ce = CrossEntropyLoss().forward(logits, D)
    entropy = -np.mean(np.sum(D * np.log(D), axis=1))
    assert verdict(abs(kl - (ce - entropy)), 1e-12) == "OK"
    assert verdict(abs(kl - (ce + entropy)), 1e-12).startswith("FAIL")


# the self-checks of the exercises fail on plausible wrong answers, not only on the stub
LECTURE = "02_vector_activations_losses.ipynb"


@pytest.mark.parametrize(
    "answer, ok",
    [
        (
            "def my_softmax(z):\n"
            "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)",
            True,
        ),
        # the maximum of the whole batch, not of each row
        (
            "def my_softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum(axis=-1, keepdims=True)",
            False,
        ),
        # no shift at all
        (
            "def my_softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)",
            False,
        ),
        # the sum over the whole batch
        (
            "def my_softmax(z):\n    e = np.exp(z - z.max(axis=-1, keepdims=True))\n    return e / e.sum()",
            False,
        ),
    ],
)
def test_exercise_e1_softmax_check_fails_on_plausible_wrong_answers(answer, ok):
    out = check_output(LECTURE, "e1", answer)
    assert ("e1: OK" in out) == ok, out


@pytest.mark.parametrize(
    "answer, ok",
    [
        ("ratio_guess = 2 * np.exp(-10)", True),  # sigma'(z) ~ e^z for z << 0
        ("ratio_guess = 1 / 11000", True),
        ("ratio_guess = np.exp(-10)", False),  # the 2 of the square forgotten
        ("ratio_guess = 1 / (1 + np.exp(10))", False),  # y itself
        ("ratio_guess = 0.25", False),  # the slope at 0
    ],
)
def test_exercise_e3_ratio_check_fails_on_a_factor_two(answer, ok):
    out = check_output(LECTURE, "e3", answer)
    assert ("e3: OK" in out) == ok, out

"""GD, SGD, Momentum, Nesterov, Newton, Rprop and QuickProp against independent oracles.

Oracles: ``torch.optim.SGD`` / ``torch.optim.Rprop`` in float64 (gradients from torch
autograd, step for step); the lecture's formulas written out literally; closed-form
minimisers of quadratics. Tolerance for parity with torch: every parameter, after every
step, agrees to a relative error of 1e-10 of its largest entry (the two sides round
differently, by ~1e-16 per operation; 100 steps stay far inside 1e-10).
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.losses import CrossEntropyLoss
from coursekit.models import mlp
from coursekit.optim import GD, SGD, Momentum, Nesterov, Newton, QuickProp, Rprop, RpropLecture
from coursekit.theory import momentum_rate

from .torch_oracle import max_rel, to_torch

RTOL = 1e-10
STEPS = 100


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: threads only add contention on a shared machine (restored afterwards)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# (coursekit optimiser, the torch optimiser it must reproduce), both built from a param list
PAIRS = {
    "gd": (lambda p: GD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd": (lambda p: SGD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "momentum": (
        lambda p: SGD(p, lr=0.02, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
    ),
    "dampening": (
        lambda p: SGD(p, lr=0.02, momentum=0.8, dampening=0.3),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8, dampening=0.3),
    ),
    "nesterov": (
        lambda p: SGD(p, lr=0.02, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
    ),
    "weight_decay": (
        lambda p: SGD(p, lr=0.02, momentum=0.5, weight_decay=0.1),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.5, weight_decay=0.1),
    ),
    "lecture_momentum": (
        lambda p: Momentum(p, lr=0.02, beta=0.9),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
    ),
    "lecture_nesterov": (
        lambda p: Nesterov(p, lr=0.02, beta=0.9),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
    ),
    "rprop": (lambda p: Rprop(p), lambda p: torch.optim.Rprop(p)),
    "rprop_custom": (
        lambda p: Rprop(p, lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.4)),
        lambda p: torch.optim.Rprop(p, lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.4)),
    ),
}


def random_quadratic(seed):
    """f(w1, w2) = 0.5 x^T A x - b^T x over x = [w1 (3,), w2 (2, 2) flattened], eigenvalues in [0.5, 5]."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    A = Q @ np.diag(rng.uniform(0.5, 5.0, 7)) @ Q.T
    b = rng.standard_normal(7)
    params = [rng.standard_normal(3), rng.standard_normal((2, 2))]

    def grads(ws):  # numpy gradient A x - b, split back into the parameter shapes
        g = A @ np.concatenate([w.ravel() for w in ws]) - b
        return [g[:3], g[3:].reshape(2, 2)]

    def torch_loss(ts):
        x = torch.cat([t.reshape(-1) for t in ts])
        return 0.5 * x @ torch.from_numpy(A) @ x - torch.from_numpy(b) @ x

    return params, grads, torch_loss


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", PAIRS)
def test_parity_with_torch_on_random_quadratic(name, seed):
    make_ck, make_torch = PAIRS[name]
    params, grads, torch_loss = random_quadratic(seed)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    opt, topt = make_ck(params), make_torch(tparams)
    for step in range(STEPS):
        opt.step(grads(params))
        topt.zero_grad()
        torch_loss(tparams).backward()
        topt.step()
        for p, t in zip(params, tparams, strict=True):
            assert max_rel(p, t) < RTOL, f"{name}: step {step} differs by {max_rel(p, t):.2e}"
    moved = max_rel(params[0], random_quadratic(seed)[0][0])
    assert moved > 1e-3, (
        f"{name}: the parameters barely moved ({moved:.1e}); the test would be vacuous"
    )


@pytest.mark.parametrize("name", PAIRS)
def test_parity_with_torch_on_mlp_loss(name):
    """Full-batch cross-entropy of a tanh MLP: coursekit backprop + optimiser vs torch."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32)
    model = mlp([4, 8, 3], activation="tanh", rng=5)
    net = to_torch(model)
    loss = CrossEntropyLoss()
    opt, topt = PAIRS[name][0](model.parameters()), PAIRS[name][1](net.parameters())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for step in range(STEPS):
        loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        opt.step(model.gradients())
        topt.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        topt.step()
        for (key, p), t in zip(model.named_parameters(), net.parameters(), strict=True):
            assert max_rel(p, t) < RTOL, (
                f"{name}: {key} differs by {max_rel(p, t):.2e} at step {step}"
            )


def test_sgd_maximize_matches_torch():
    """maximize=True ascends: on -f it reproduces torch's maximize step for step."""
    params, grads, torch_loss = random_quadratic(2)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    opt = SGD(params, lr=0.02, momentum=0.9, maximize=True)
    topt = torch.optim.SGD(tparams, lr=0.02, momentum=0.9, maximize=True)
    for _ in range(STEPS):
        opt.step([-g for g in grads(params)])
        topt.zero_grad()
        (-torch_loss(tparams)).backward()
        topt.step()
    assert all(max_rel(p, t) < RTOL for p, t in zip(params, tparams, strict=True))


# ----------------------------------------------------------------------------- lecture forms


def lecture_recursion(grad, w0, lr, beta, nesterov, steps):
    """The lecture's formulas verbatim: dW = beta dW - lr grad(W [+ beta dW]); W += dW."""
    W, dW, out = w0.copy(), np.zeros_like(w0), []
    for _ in range(steps):
        dW = beta * dW - lr * grad(W + beta * dW if nesterov else W)
        W = W + dW
        out.append(W)
    return np.array(out)


@pytest.mark.parametrize("nesterov", [False, True])
def test_lecture_forms_follow_the_lecture_formula(nesterov):
    params, grads, _ = random_quadratic(4)
    w0 = params[0].copy()
    A = np.diag([0.5, 2.0, 4.0])
    expected = lecture_recursion(lambda w: A @ w, w0, 0.05, 0.9, nesterov, STEPS)
    w = w0.copy()
    opt = (Nesterov if nesterov else Momentum)([w], lr=0.05, beta=0.9)
    for k in range(STEPS):
        opt.step([A @ w])  # for Nesterov, w holds the look-ahead point W + beta dW
        W = opt.weights()[0] if nesterov else w
        np.testing.assert_allclose(W, expected[k], rtol=1e-12, atol=1e-14)


def test_momentum_and_torch_forms_part_after_a_change_of_lr():
    """Documented difference: torch rescales its buffer by the new lr, the lecture's form does not."""
    w = np.array([1.0, -2.0])
    wt = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt, topt = Momentum([w], lr=0.1, beta=0.9), torch.optim.SGD([wt], lr=0.1, momentum=0.9)
    for k in range(10):
        if k == 5:
            opt.lr = topt.param_groups[0]["lr"] = 0.01
        opt.step([w.copy()])
        wt.grad = wt.detach().clone()
        topt.step()
        assert (max_rel(w, wt) < RTOL) == (k < 5), f"step {k}"


def test_momentum_effective_step_on_constant_gradient():
    """With g constant the step tends to -lr g / (1 - beta) (geometric series)."""
    w = np.zeros(1)
    opt = Momentum([w], lr=0.1, beta=0.9)
    for _ in range(300):
        opt.step([np.ones(1)])
    np.testing.assert_allclose(opt.state[0]["dW"], [-0.1 / (1 - 0.9)], rtol=1e-12)


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_momentum_rate_closed_forms(kappa):
    """beta = 0 is GD; Polyak's optimum gives (sqrt k - 1)/(sqrt k + 1); Nesterov 1 - 1/sqrt k."""
    lam = np.array([1.0 / kappa, 0.3, 1.0])
    assert momentum_rate(lam, 1.5, 0.0) == pytest.approx(np.abs(1 - 1.5 * lam).max(), rel=1e-12)
    r = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    lr_hb = 4 / (1 + np.sqrt(1 / kappa)) ** 2
    # repeated eigenvalues of M at the optimum: eigvals is accurate to ~sqrt(machine eps)
    assert momentum_rate(lam, lr_hb, r**2) == pytest.approx(r, rel=1e-6)
    assert momentum_rate(lam, 1.0, r, nesterov=True) == pytest.approx(
        1 - 1 / np.sqrt(kappa), rel=1e-6
    )


@pytest.mark.parametrize("cls, nesterov", [(Momentum, False), (Nesterov, True)])
def test_momentum_rate_matches_measured_contraction(cls, nesterov):
    """Measured geometric-mean contraction over steps 200..400 against the spectral radius (1%)."""
    lam = np.array([0.05, 1.0])
    w = np.array([1.0, 1.0])
    opt = cls([w], lr=0.5, beta=0.5)
    errors = []
    for _ in range(400):
        opt.step([lam * w])
        errors.append(np.linalg.norm(opt.weights()[0] if nesterov else w))
    measured = (errors[399] / errors[199]) ** (1 / 200)
    assert measured == pytest.approx(momentum_rate(lam, 0.5, 0.5, nesterov), rel=1e-2)


# ----------------------------------------------------------------------------- Newton


@st.composite
def spd_problems(draw):
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = draw(st.lists(st.floats(0.01, 100.0), min_size=d, max_size=d))
    return Q @ np.diag(lam) @ Q.T, rng.standard_normal(d), rng.standard_normal(d) * 10


@settings(max_examples=60, deadline=None)
@given(spd_problems())
def test_newton_solves_any_spd_quadratic_in_one_step(problem):
    """f = 0.5 w^T A w - b^T w: one step at lr = 1 lands on w* = A^{-1} b (closed form)."""
    A, b, w = problem
    w_star = np.linalg.solve(A, b)
    opt = Newton([w], lr=1.0, hessian=lambda _: A)
    opt.step([A @ w - b])
    # the solve is backward stable: error ~ eps * cond(A) <= 2.2e-16 * 1e4
    scale = np.linalg.cond(A) * (np.linalg.norm(w_star) + 1)
    assert np.linalg.norm(w - w_star) <= 1e-11 * scale


@pytest.mark.parametrize("lr", [0.5, 1.5, 2.0, 2.5])
def test_newton_error_contracts_by_one_minus_lr(lr):
    """On a quadratic e_{k+1} = (1 - lr) e_k: oscillates for lr in (1, 2), no convergence at >= 2."""
    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    w_star, w = np.linalg.solve(A, b), np.array([2.0, 3.0])
    opt = Newton([w], lr=lr, hessian=lambda _: A)
    e0 = w - w_star
    for _ in range(3):
        opt.step([A @ w - b])
    np.testing.assert_allclose(w - w_star, (1 - lr) ** 3 * e0, rtol=1e-10, atol=1e-14)


def saddle():
    H = np.diag([1.0, -1.0])  # f = 0.5 (x^2 - y^2), saddle at the origin
    return H, (lambda w: H @ w), (lambda _: H)


def test_newton_warns_on_indefinite_hessian_and_walks_to_the_saddle():
    H, grad, hess = saddle()
    w = np.array([1.0, 0.5])
    opt = Newton([w], hessian=hess)
    with pytest.warns(
        RuntimeWarning,
        match=r"step 0: Hessian is not positive definite \(eigenvalues \[-1\.\s+1\.\]",
    ):
        opt.step([grad(w)])
    np.testing.assert_allclose(w, [0.0, 0.0], atol=1e-15)  # uphill along y, onto the saddle


def test_newton_on_indefinite_options():
    H, grad, hess = saddle()
    w = np.array([1.0, 0.5])
    with pytest.raises(np.linalg.LinAlgError, match="step 0: Hessian is not positive definite"):
        Newton([w], hessian=hess, on_indefinite="raise").step([grad(w)])
    w_quiet = np.array([1.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "ignore" must not warn
        Newton([w_quiet], hessian=hess, on_indefinite="ignore").step([grad(w_quiet)])
    np.testing.assert_allclose(w_quiet, [0.0, 0.0], atol=1e-15)
    f = lambda w: 0.5 * w @ H @ w  # noqa: E731
    f0 = f(w)
    Newton([w], hessian=hess, on_indefinite="abs").step([grad(w)])
    np.testing.assert_allclose(w, [0.0, 1.0])  # |H| = I: plain gradient step, x to 0, y away
    assert f(w) < f0


def test_newton_raises_on_singular_hessian():
    w = np.array([1.0, 1.0])
    opt = Newton([w], hessian=lambda _: np.diag([1.0, 0.0]))
    with pytest.raises(np.linalg.LinAlgError, match="step 0: singular Hessian"):
        opt.step([np.array([1.0, 0.0])])


def test_newton_rejects_more_than_one_flat_parameter():
    with pytest.raises(
        ValueError, match=r"single flat parameter of shape \(d,\), got shapes \[\(2,\), \(3,\)\]"
    ):
        Newton([np.zeros(2), np.zeros(3)], hessian=lambda w: np.eye(2))
    with pytest.raises(ValueError, match=r"got shapes \[\(2, 2\)\]"):
        Newton([np.zeros((2, 2))], hessian=lambda w: np.eye(4))
    opt = Newton([np.zeros(2)], hessian=lambda w: np.eye(3))
    with pytest.raises(
        ValueError, match=r"expected a finite Hessian of shape \(2, 2\), got shape \(3, 3\)"
    ):
        opt.step([np.ones(2)])


# ----------------------------------------------------------------------------- QuickProp


@pytest.mark.parametrize("a, c, lr", [(2.0, 3.0, 0.3), (10.0, -1.0, 0.05), (0.5, 0.2, 1.5)])
def test_quickprop_one_secant_step_reaches_1d_minimum(a, c, lr):
    """f = a/2 (w - c)^2: gradient step first, then the secant is exact and lands on c."""
    w = np.array([0.0])
    opt = QuickProp([w], lr=lr)
    opt.step([a * (w - c)])
    np.testing.assert_allclose(w, [lr * a * c])  # the first step is -lr g
    opt.step([a * (w - c)])
    np.testing.assert_allclose(w, [c], rtol=1e-13)


def test_quickprop_per_coordinate_on_diagonal_quadratic():
    """Per coordinate lr * a = 0.4, 0.8, 1.2: the secant ratios stay inside the growth bound."""
    a, c = np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0, 0.5])
    w = np.zeros(3)
    opt = QuickProp([w], lr=0.4)
    for _ in range(2):
        opt.step([a * (w - c)])
    np.testing.assert_allclose(w, c, rtol=1e-13)


def test_quickprop_safeguards():
    # growth bound: lr * a = 0.01 makes the secant step 99x the first; clipped to 1.75x
    a, w = 1.0, np.array([1.0])
    opt = QuickProp([w], lr=0.01, max_growth=1.75)
    opt.step([a * w])
    first = opt.state[0]["prev_step"].copy()
    opt.step([a * w])
    np.testing.assert_allclose(opt.state[0]["prev_step"], 1.75 * first, rtol=1e-14)
    # concave secant (f = -w^2/2, gradient -w): a plain gradient step -lr g instead
    w = np.array([1.0])
    opt = QuickProp([w], lr=0.1)
    opt.step([-w])
    g = -w.copy()
    opt.step([g])
    np.testing.assert_allclose(opt.state[0]["prev_step"], -0.1 * g, rtol=1e-14)


# ----------------------------------------------------------------------------- Rprop


def test_rprop_lecture_backtracking_undoes_exactly_the_previous_step():
    """1-D quadratic, large steps: at the first sign change the parameter returns to where it was."""
    w = np.array([0.3])
    opt = RpropLecture([w], lr=0.25)
    trace = [w.copy()]
    for _ in range(6):
        g = 2.0 * (w - 1.0)
        flips = bool(opt.state[0]) and g[0] * opt.state[0]["prev"][0] < 0
        size_before = opt.state[0]["step_size"].copy() if opt.state[0] else None
        opt.step([g])
        trace.append(w.copy())
        if flips:
            np.testing.assert_allclose(w, trace[-3], rtol=0, atol=1e-15)  # back to before the jump
            np.testing.assert_allclose(opt.state[0]["step_size"], 0.5 * size_before)
            assert opt.state[0]["prev"][0] == 0.0  # this gradient is not counted
            break
    else:
        pytest.fail("no sign change happened; the test is vacuous")


def lecture_rprop_pseudocode(grad, w, delta, steps, alpha=1.2, beta=0.5, dmin=1e-6, dmax=50.0):
    """The lecture's 'Rprop (simplified)' loop, verbatim, for one scalar; returns the points visited."""
    prevD = grad(w)
    dw = np.sign(prevD) * delta
    visited = []
    for _ in range(steps):
        w = w - dw
        visited.append(w)
        D = grad(w)
        if np.sign(prevD) == np.sign(D):
            dw = np.sign(dw) * min(alpha * abs(dw), dmax)
            prevD = D
        else:
            w = w + dw
            dw = np.sign(dw) * max(beta * abs(dw), dmin)
    return visited


def test_rprop_lecture_visits_the_same_points_as_the_lecture_pseudocode():
    """In 1-D, skipping the restored points, RpropLecture retraces the slide's loop."""
    grad = lambda w: 4.0 * (w - 1.0) ** 3 + (w - 1.0)  # noqa: E731
    expected = lecture_rprop_pseudocode(grad, 0.0, 0.7, 30)
    w = np.array([0.0])
    opt = RpropLecture([w], lr=0.7)
    visited = []
    while len(visited) < 30:
        backtrack = bool(opt.state[0]) and grad(w[0]) * opt.state[0]["prev"][0] < 0
        opt.step([grad(w)])
        if not backtrack:
            visited.append(w[0])
    np.testing.assert_allclose(visited, expected, rtol=1e-13, atol=1e-15)
    assert abs(expected[-1] - 1.0) < 1e-3  # it did converge: the comparison covers many flips


# ----------------------------------------------------------------------------- validation

INVALID = [
    (lambda: SGD([np.zeros(2)], lr=-0.1), r"SGD lr: expected a value in \(0.0, inf\), got -0.1"),
    (
        lambda: SGD([np.zeros(2)], lr=0.1, momentum=-0.5),
        r"SGD momentum: expected a value in \[0.0, inf\), got -0.5",
    ),
    (
        lambda: SGD([np.zeros(2)], lr=0.1, weight_decay=-1),
        r"SGD weight_decay: expected a value in \[0.0, inf\)",
    ),
    (
        lambda: SGD([np.zeros(2)], lr=0.1, dampening=2),
        r"SGD dampening: expected a value in \[0.0, 1.0\], got 2.0",
    ),
    (
        lambda: SGD([np.zeros(2)], lr=0.1, nesterov=True),
        r"requires momentum > 0 and dampening == 0, got momentum=0.0",
    ),
    (
        lambda: SGD([np.zeros(2)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        r"got momentum=0.9, dampening=0.1",
    ),
    (
        lambda: Momentum([np.zeros(2)], lr=0.1, beta=1.0),
        r"Momentum beta: expected a value in \[0.0, 1.0\), got 1.0",
    ),
    (
        lambda: Nesterov([np.zeros(2)], lr=0.1, beta=-0.1),
        r"Nesterov beta: expected a value in \[0.0, 1.0\)",
    ),
    (lambda: GD([np.zeros(2)], lr=0), r"GD lr: expected a value in \(0.0, inf\), got 0.0"),
    (
        lambda: Rprop([np.zeros(2)], etas=(1.5, 1.2)),
        r"Rprop: expected 0 < etas\[0\] < 1 < etas\[1\], got \(1.5, 1.2\)",
    ),
    (lambda: Rprop([np.zeros(2)], etas=(0.5, 0.9)), r"got \(0.5, 0.9\)"),
    (
        lambda: Rprop([np.zeros(2)], step_sizes=(1.0, 0.1)),
        r"expected 0 <= step_sizes\[0\] <= step_sizes\[1\], got \(1.0, 0.1\)",
    ),
    (
        lambda: RpropLecture([np.zeros(2)], etas=(0.0, 1.2)),
        r"RpropLecture: expected 0 < etas\[0\] < 1 < etas\[1\]",
    ),
    (
        lambda: QuickProp([np.zeros(2)], lr=0.1, max_growth=0),
        r"QuickProp max_growth: expected a value in \(0.0, inf\), got 0.0",
    ),
    (lambda: Newton([np.zeros(2)], hessian=None), r"expected hessian to be a callable"),
    (
        lambda: Newton([np.zeros(2)], hessian=np.eye, on_indefinite="skip"),
        r"expected on_indefinite in \('warn', 'raise', 'abs', 'ignore'\), got 'skip'",
    ),
]


@pytest.mark.parametrize("make, message", INVALID)
def test_invalid_hyperparameters_raise_at_construction(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_step_rejects_wrong_gradients():
    opt = SGD([np.zeros(3)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"gradient 0 expected shape \(3,\), got \(2,\)"):
        opt.step([np.zeros(2)])
    with pytest.raises(FloatingPointError, match="NaN/inf"):
        opt.step([np.array([0.0, np.nan, 1.0])])


def test_lr_is_checked_whenever_it_changes():
    """The base owns lr: a schedule or a notebook setting it to 0, a negative value or NaN
    gets the same error as the constructor."""
    opt = SGD([np.zeros(2)], lr=0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05 and "lr=0.05" in repr(opt)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"SGD lr: expected a value in \(0.0, inf\)"):
            opt.lr = bad


def test_a_nan_gradient_is_divergence():
    from coursekit.errors import DivergenceError

    with pytest.raises(DivergenceError, match="gradient 0 has NaN/inf entries"):
        SGD([np.zeros(2)], lr=0.1).step([np.array([0.0, np.nan])])


def test_an_array_of_rates_makes_each_row_an_independent_run():
    # lecture 06's batched sweeps: parameter (runs, d), lr (runs, 1)
    from coursekit.optim import GD, QuickProp

    rng = np.random.default_rng(0)
    A = np.diag([0.1, 1.0])
    rates = np.array([[0.3], [1.0], [1.9]])
    for cls in (GD, QuickProp):
        w = np.tile(rng.normal(size=2), (3, 1))
        singles = [w[i].copy() for i in range(3)]
        opt = cls([w], lr=rates)
        single_opts = [cls([s], lr=float(r)) for s, r in zip(singles, rates[:, 0])]
        for _ in range(20):
            opt.step([w @ A])
            for s, o in zip(singles, single_opts):
                o.step([s @ A])
        np.testing.assert_allclose(w, np.stack(singles), rtol=1e-12, atol=0)


def test_an_array_of_rates_must_be_positive_and_finite():
    from coursekit.optim import GD

    for bad in (np.array([[0.1], [0.0]]), np.array([[0.1], [np.nan]]), np.array([-1.0])):
        with pytest.raises(ValueError, match="expected positive finite rates"):
            GD([np.zeros((2, 2))], lr=bad)

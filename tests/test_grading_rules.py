"""No points for delegating: every question of every assignment, answered by calling an
implementation of the thing it asks for, earns nothing, and the notes say why.

The delegations take every form the issue names: a direct call, a wrapper, ``importlib``
and ``getattr``, an alias (``measure_rate = ...``), ``functools.partial``, code run by
``exec``, a ``torch.optim`` optimiser held in a list, a dict or a closure, torch autograd
in a numpy question, a ufunc from scipy. Each is graded against the instructor's reference
(hidden checks included), in one kernel per assignment shared with the mutants
(``test_grading_mutants.py`` runs both tables); only the delegating question's checks run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from coursekit.grading import reference
from coursekit.grading.grade import _imports
from coursekit.grading.kernel_guard import rule_match

ROOT = Path(__file__).resolve().parents[1]

#: assignment -> [(answer id, answer cell source, how it delegates)]
DELEGATIONS: dict[str, list[tuple[str, str, str]]] = {
    "01_backprop_numpy": [
        (
            "a1",
            """import torch


def linear_forward(x, W, b):
    return torch.nn.functional.linear(*(torch.tensor(a) for a in (x, W, b))).numpy()


def linear_backward(grad_y, x, W):
    xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(W, requires_grad=True)
    bt = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.linear(xt, Wt, bt).backward(torch.tensor(grad_y))
    return xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()
""",
            "torch autograd in a numpy question",
        ),
        (
            "a2",
            """from scipy.special import expit


def sigmoid_forward(z):
    return expit(z)


def sigmoid_backward(grad_y, y):
    return grad_y * y * (1 - y)


def relu_forward(z):
    return np.maximum(z, 0.0)


def relu_backward(grad_y, z):
    return grad_y * (z > 0)
""",
            "a scipy ufunc (invisible to the call monitor, seen in the source)",
        ),
        (
            "a3",
            """def softmax_cross_entropy(scores, labels):
    import torch

    st = torch.tensor(scores, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(st, torch.tensor(labels))
    loss.backward()
    return loss.item(), st.grad.numpy()
""",
            "torch's loss and autograd",
        ),
        (
            "a4",
            """import functools

from coursekit import gradcheck

numerical_gradient = functools.partial(gradcheck.numerical_gradient)
""",
            "coursekit.gradcheck behind functools.partial",
        ),
        (
            "a5",
            """import torch


def mlp_loss_and_grads(params, X, labels):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.relu(torch.tensor(X) @ p["W1"].T + p["b1"])
    loss = torch.nn.functional.cross_entropy(h @ p["W2"].T + p["b2"], torch.tensor(labels))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}
""",
            "backprop by torch autograd",
        ),
        (
            "a6",
            """def train_mlp(X, labels, hidden=64, classes=10, lr=0.1, epochs=30, batch_size=32, seed=0):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier((hidden,), max_iter=epochs, random_state=seed).fit(X, labels)
    W1, W2 = clf.coefs_
    b1, b2 = clf.intercepts_
    return {"W1": W1.T, "b1": b1, "W2": W2.T, "b2": b2}
""",
            "scikit-learn's MLP",
        ),
        (
            "a7",
            """from coursekit import gradcheck


class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, grad_y):
        self.grad_W, self.grad_b = grad_y.T @ self.x, grad_y.sum(axis=0)
        return grad_y @ self.W

    def params(self):
        return {"W": self.W, "b": self.b}

    def grads(self):
        return {"W": self.grad_W, "b": self.grad_b}


class ReLU:
    def forward(self, z):
        self.z = z
        return np.maximum(z, 0.0)

    def backward(self, grad_y):
        return grad_y * (self.z > 0)

    def params(self):
        return {}

    def grads(self):
        return {}


class Sigmoid(ReLU):
    def forward(self, z):
        self.y = 1 / (1 + np.exp(-z))
        return self.y

    def backward(self, grad_y):
        return grad_y * self.y * (1 - self.y)


def gradient_check(layer, x, seed=0):
    x = np.array(x, dtype=float)
    R = np.random.default_rng(seed).normal(size=np.shape(layer.forward(x)))
    got = {"x": layer.backward(R), **layer.grads()}
    loss = lambda _: float(np.sum(R * layer.forward(x)))  # noqa: E731
    arrays = {"x": x, **layer.params()}
    return {k: gradcheck.rel_error(got[k], gradcheck.numerical_gradient(loss, a)) for k, a in arrays.items()}
""",
            "coursekit.gradcheck inside the gradient check",
        ),
        (
            "a8",
            """import torch

def planted_bug():
    return ("ScaleShift", "gamma")


class ScaleShiftFixed(ScaleShift):
    def backward(self, grad_y):
        x, g, b = (torch.tensor(a, requires_grad=True) for a in (self.x, self.gamma, self.beta))
        (x * g + b).backward(torch.tensor(grad_y))
        self.grad_gamma, self.grad_beta = g.grad.numpy(), b.grad.numpy()
        return x.grad.numpy()


def fixed_layer_class():
    return ScaleShiftFixed
""",
            "the fixed backward by torch autograd",
        ),
        (
            "a9",
            """from coursekit import layers as _layers


class MLP:
    def __init__(self, sizes, activation=ReLU, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Linear(rng.normal(scale=d_in**-0.5, size=(d_out, d_in)), np.zeros(d_out)))
            if i < len(sizes) - 2:
                self.layers.append(activation())

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_scores):
        for layer in reversed(self.layers):
            grad_scores = layer.backward(grad_scores)
        return grad_scores


def train(model, X, labels, lr=0.1, epochs=20, batch_size=32, seed=0):
    rng, history = np.random.default_rng(seed), []
    for _ in range(epochs):
        order, total = rng.permutation(len(X)), 0.0
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            scores = model.forward(X[batch])
            probs = _layers.softmax(scores)
            total += -np.log(probs[np.arange(len(batch)), labels[batch]]).sum()
            probs[np.arange(len(batch)), labels[batch]] -= 1
            model.backward(probs / len(batch))
            for layer in model.layers:
                for name, param in layer.params().items():
                    param -= lr * layer.grads()[name]
        history.append(total / len(X))
    return history
""",
            "coursekit.layers.softmax in the training loop",
        ),
    ],
    "02_optimisers": [
        (
            "a1",
            '''exec("""
def gd_step(w, g, lr):
    import torch
    p = torch.tensor(w, requires_grad=True)
    p.grad = torch.tensor(g)
    torch.optim.SGD([p], lr=lr).step()
    return p.detach().numpy()
""")
''',
            "torch.optim.SGD in code run by exec",
        ),
        (
            "a2",
            """from coursekit import theory


def optimal_lr_and_rate(A):
    lam = np.linalg.eigvalsh(A)
    return theory.optimal_lr(lam), theory.optimal_rate(lam[-1] / lam[0])


def measure_rate(errors):
    return theory.measured_rate(errors, len(errors) // 2)


def gd_errors(A, b, w0, lr, steps):
    w_star, w, errors = np.linalg.solve(A, b), np.array(w0, dtype=float), []
    for _ in range(steps + 1):
        errors.append(np.linalg.norm(w - w_star))
        w = gd_step(w, A @ w - b, lr)
    return np.array(errors)
""",
            "a wrapper around coursekit.theory (the issue's example)",
        ),
        (
            "a3",
            """import torch


def momentum_step(w, g, state, lr, beta):
    if state is None:
        p = torch.tensor(w, requires_grad=True)
        state = {"p": p, "opt": torch.optim.SGD([p], lr=lr, momentum=beta)}
    state["p"].grad = torch.tensor(g)
    state["opt"].step()
    new = state["p"].detach().numpy().copy()
    return new, {**state, "dW": new - w}


def nesterov_step(w, grad_fn, state, lr, beta):
    dW = np.zeros_like(w) if state is None else state["dW"]
    new_dW = beta * dW - lr * grad_fn(w + beta * dW)
    return w + new_dW, {"dW": new_dW}
""",
            "torch.optim.SGD held in the state dict",
        ),
        (
            "a4",
            """import importlib


def rprop_step(w, g, state, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    torch = importlib.import_module("torch")
    if state is None:
        p = torch.tensor(w, requires_grad=True)
        state = [p, getattr(torch.optim, "Rprop")([p], lr=lr, etas=etas, step_sizes=step_sizes)]
    state[0].grad = torch.tensor(g)
    state[1].step()
    return state[0].detach().numpy().copy(), state
""",
            "torch.optim.Rprop through importlib and getattr",
        ),
        (
            "a5",
            """from coursekit import optim


class _Wrapped:
    def __init__(self):
        self.opt = None

    def __call__(self, w, g, state, lr, max_growth=1.75):
        if state is None:
            state = {"p": np.array(w, dtype=float)}
            state["opt"] = optim.QuickProp([state["p"]], lr=lr)
        state["opt"].step([g])
        return state["p"].copy(), state


quickprop_step = _Wrapped()
""",
            "coursekit.optim.QuickProp in a callable object",
        ),
        (
            "a6",
            """from coursekit import theory

heavy_ball_params = lambda A: tuple(  # noqa: E731
    theory.heavy_ball_optimal(np.linalg.eigvalsh(A))[k] for k in ("lr", "beta")
)


def momentum_errors(A, b, w0, lr, beta, steps):
    w_star, w, state, errors = np.linalg.solve(A, b), np.array(w0, dtype=float), None, []
    for _ in range(steps + 1):
        errors.append(np.linalg.norm(w - w_star))
        w, state = momentum_step(w, A @ w - b, state, lr, beta)
    return np.array(errors)
""",
            "coursekit.theory in a lambda",
        ),
        (
            "a7",
            """import coursekit.optim


def newton_step(w, g, H, lr=1.0):
    p = np.array(w, dtype=float)
    coursekit.optim.Newton([p], lr=lr, hessian=lambda _: H).step([g])
    return p
""",
            "coursekit.optim.Newton",
        ),
        (
            "a8",
            """def stability_threshold(run, lr=1.0, rel_tol=1e-2):
    lo, hi = lr, lr
    while run(lo)[-1] > run(lo)[0]:
        lo = lo / 2
    while run(hi)[-1] <= run(hi)[0]:
        hi = hi * 2
    while hi - lo > rel_tol * lo:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if run(mid)[-1] > run(mid)[0] else (mid, hi)
    return lo


def gd_threshold(A, b, w0):
    return 2 / np.linalg.eigvalsh(A)[-1]


def nesterov_threshold(A, b, w0, beta):
    return 2 * (1 + beta) / ((1 + 2 * beta) * np.linalg.eigvals(A).real.max())
""",
            "the eigenvalues instead of an experiment",
        ),
        (
            "a9",
            """from coursekit.noisy_descent import schedule_lrs


def noisy_gd_errors(A, b, w0, lrs, sigma, rng):
    w_star, w = np.linalg.solve(A, b), np.array(w0, dtype=float)
    errors = [np.linalg.norm(w - w_star)]
    for lr in lrs:
        w = w - lr * (A @ w - b + sigma * rng.standard_normal(len(w)))
        errors.append(np.linalg.norm(w - w_star))
    return np.array(errors)


def decaying_lrs(lr0, steps):
    return schedule_lrs("1/(1+k/100)", lr0, steps)
""",
            "coursekit.noisy_descent's schedules",
        ),
    ],
    "03_training_at_scale": [
        (
            "a1",
            """def build_mlp(sizes):
    from coursekit import torch_utils

    return torch_utils.mlp_torch(sizes)
""",
            "coursekit.torch_utils, the q1 oracle",
        ),
        (
            "a2",
            """class HandSGD:
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        self.inner = [torch.optim.SGD(self.params, lr=lr, momentum=momentum, weight_decay=weight_decay)]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.inner[0].step()
""",
            "torch.optim.SGD wrapped in a list (the issue's example)",
        ),
        (
            "a3",
            """def _make(params, **kw):
    opt = torch.optim.Adam(params, **kw)
    return lambda: opt.step()


class HandAdam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self._step = _make(self.params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self._step()
""",
            "torch.optim.Adam in a closure",
        ),
        (
            "a4",
            """from coursekit import torch_utils


@torch.no_grad()
def evaluate(model, X, y):
    scores = model(X)
    loss = torch.nn.functional.cross_entropy(scores, y).item()
    return loss, (scores.argmax(dim=1) == y).double().mean().item()


def train_epochs(model, opt, X, y, epochs, batch_size, seed=0):
    h = torch_utils.train_torch(model, X, y, opt, epochs=epochs, batch_size=batch_size, seed=seed)
    return list(h["train_loss"][1:])
""",
            "coursekit.torch_utils.train_torch, the q4 oracle",
        ),
        (
            "a5",
            """from coursekit.data import train_test_split
def split_validation(n, fraction, seed):
    split = train_test_split(np.arange(n)[:, None], np.arange(n), fraction, rng=seed)
    return split.y_train, split.y_test
""",
            "coursekit.data.train_test_split (coursekit.data is allowed, this function is not)",
        ),
        (
            "a6",
            """import copy
from coursekit.torch_utils import train_torch
def run_pipeline(X, y, test, seed=0):
    fit, val = split_validation(len(X), 0.2, seed)
    acc, kept = {}, {}
    for lr in (1e-3, 3e-3, 1e-2):
        for bs in (32, 128):
            torch.manual_seed(seed)
            model = build_mlp([64, 32, 10])
            h = train_torch(model, X[fit], y[fit], lambda p, lr=lr: torch.optim.Adam(p, lr=lr),
                            epochs=12, batch_size=bs, X_val=X[val], y_val=y[val], seed=seed)
            acc[lr, bs], kept[lr, bs] = float(max(h["val_accuracy"])), copy.deepcopy(model)
    lr, bs = max(acc, key=acc.get)
    curves = {k: [v] for k, v in acc.items()}
    model = kept[lr, bs]
    return {"lr": lr, "batch_size": bs, "val_acc": acc, "curves": curves, "model": model,
            "test_acc": test.accuracy(model)}
""",
            "coursekit.torch_utils.train_torch for the sweep",
        ),
        (
            "a7",
            """import time
from coursekit import gpu
def samples_per_second(step, batch_size, steps, sync, clock=time.perf_counter, warmup=3):
    for _ in range(warmup):
        step()
    timing = gpu.time_steps(step, "cpu", steps)
    return batch_size / timing.done
""",
            "coursekit.gpu.time_steps",
        ),
    ],
    "04_init_batchnorm": [
        (
            "a1",
            """import importlib

_init = importlib.import_module("coursekit.init")


def xavier_variance(fan_in, fan_out):
    return 2.0 / (fan_in + fan_out)


def xavier_uniform_bound(fan_in, fan_out, gain=1.0):
    return gain * math.sqrt(3.0 * xavier_variance(fan_in, fan_out))


def he_std(fan_in, gain=None):
    gain = getattr(_init, "calculate_gain")("relu") if gain is None else gain
    return gain / math.sqrt(fan_in)
""",
            "coursekit.init through importlib and getattr",
        ),
        (
            "a2",
            """import torch


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    t = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.manual_seed(int(rng.integers(2**31)))
    return torch.nn.init.xavier_uniform_(t, gain=gain).numpy()


def he_normal(fan_in, fan_out, rng):
    t = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.manual_seed(int(rng.integers(2**31)))
    return torch.nn.init.kaiming_normal_(t, nonlinearity="relu").numpy()
""",
            "torch.nn.init",
        ),
        (
            "a3",
            """import torch


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    y = torch.nn.functional.batch_norm(
        torch.tensor(x), None, None, torch.tensor(gamma), torch.tensor(beta), training=True, eps=eps
    )
    return y.numpy(), (x, gamma, eps)
""",
            "torch's batch norm",
        ),
        (
            "a4",
            """import torch


def batchnorm_backward(grad_y, cache):
    x_hat, inv_std, gamma = cache
    x = x_hat / inv_std
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gamma, requires_grad=True)
    bt = torch.zeros_like(gt, requires_grad=True)
    y = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    y.backward(torch.tensor(grad_y))
    return xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()
""",
            "backward by torch autograd (the issue's example)",
        ),
        (
            "a5",
            """def update_running_stats(running_mean, running_var, x, momentum=0.1):
    import torch

    bn = torch.nn.BatchNorm1d(x.shape[1], momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor(running_mean))
        bn.running_var.copy_(torch.tensor(running_var))
    bn(torch.tensor(x))
    return bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()


def batchnorm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
""",
            "torch.nn.BatchNorm1d",
        ),
        (
            "a6",
            """from coursekit.gradcheck import numerical_gradient
def gradient_error(forward, backward, x, gamma, beta, G):
    _, cache = forward(x.copy(), gamma.copy(), beta.copy())
    analytic = backward(G.copy(), cache)
    errors = []
    for k, arg in enumerate((x, gamma, beta)):
        def loss(v, k=k):
            args = [x, gamma, beta]
            args[k] = v
            return float((forward(*args)[0] * G).sum())
        num = numerical_gradient(loss, arg.copy())
        scale = max(np.abs(analytic[k]).max(), np.abs(num).max(), 1e-300)
        errors.append(np.abs(analytic[k] - num).max() / scale)
    return max(errors)
""",
            "coursekit.gradcheck.numerical_gradient",
        ),
        (
            "a7",
            """def deep_loss_and_grads(params, X, labels, bn):
    import torch
    P = [{k: torch.tensor(v, requires_grad=True) for k, v in layer.items()} for layer in params]
    h = torch.tensor(X)
    for layer in P[:-1]:
        z = h @ layer["W"].T
        if bn:
            z = torch.nn.functional.batch_norm(z, None, None, layer["gamma"], layer["beta"], training=True)
        else:
            z = z + layer["b"]
        h = torch.relu(z)
    loss = torch.nn.functional.cross_entropy(h @ P[-1]["W"].T + P[-1]["b"], torch.tensor(labels))
    loss.backward()
    return loss.item(), [{k: t.grad.numpy() for k, t in layer.items()} for layer in P]
""",
            "torch autograd for the deep network's gradients",
        ),
    ],
}

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_question_has_a_delegating_answer(solution):
    """Questions come from the reference: a new question needs a delegation here."""
    ref = reference.load(solution)
    covered = {ref.question_of(key) for key, _, _ in DELEGATIONS.get(solution.stem, [])}
    assert covered == set(ref.questions)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_rules_are_stated_and_setup_binds_nothing_forbidden(solution):
    """Every assignment states its rules in its metadata, and no setup cell binds a name the
    rules forbid to some answer (checks import their oracles themselves)."""
    ref = reference.load(solution)
    assert ref.rules.get("forbid"), "the notebook metadata states no rules"
    for cell in ref.cells:
        if cell.kind != "code":
            continue
        tops = [
            n for n in ast.parse(cell.source).body if isinstance(n, ast.Import | ast.ImportFrom)
        ]
        for node in tops:
            for name, dotted in _imports(node).items():
                for answer in ref.answers():
                    rules = ref.rules_for(answer.key)
                    assert not rule_match(dotted, rules["forbid"], rules["allow"]), (
                        f"setup cell {cell.index} binds {name} = {dotted}, forbidden to {answer.key}"
                    )

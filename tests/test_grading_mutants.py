"""Plausible mistakes lose points, on their own question only; delegating answers none.

Each mutant is made from a solution's answer code by one textual change (an off-by-one, a
sign, a transpose, a forgotten bias correction, the wrong axis of a mean, a look-ahead
gradient at the wrong point, ``steps`` instead of ``steps + 1`` values...). Graded
against the instructor's reference (hidden checks included), it must lose points on the
question of the answer it changes, and every question whose answers or checks call that
answer directly must keep its full marks (the grader reruns it with the instructor's
version of the broken answer: one mistake costs one question). Questions that use it only
through another answer are left out to save time (in assignment 1, q6 retrains a network
for every mistake in a1-a3); that the rerun substitutes whole chains is tested on the toy
course (``test_grading.py``).

All mutants of an assignment, and its delegating answers (``test_grading_rules.py``), share
one kernel (``grade.Session``), and only the questions that can see the changed answer are
checked. The count of mutants killed per assignment is printed (``-s``) and asserted.

The default test command grades one mutant per answer (and every mutant a hint test
names), about a third of the table, to keep the whole command inside ten minutes on two cores;
``COURSEKIT_MUTANTS=all python -m pytest tests/test_grading_mutants.py`` grades them all
(do that after changing a solution or its checks).
"""

from __future__ import annotations

import io
import os
import tokenize
from pathlib import Path

import pytest

from coursekit.grading import grade, reference
from coursekit.grading.notebook import Cell, top_level_names, used_names
from tests.test_grading_rules import DELEGATIONS

ROOT = Path(__file__).resolve().parents[1]

#: assignment -> [(answer id, find, replace, what the mistake is)]; ``find`` must occur in
#: the solution's answer cell, and its first occurrence is replaced.
MUTANTS: dict[str, list[tuple[str, str, str, str]]] = {
    "01_backprop_numpy": [
        ("a1", "return x @ W.T + b", "return x @ W.T", "linear forward without the bias"),
        ("a1", "grad_y.T @ x", "x.T @ grad_y", "grad_W transposed"),
        ("a1", "grad_y.sum(axis=0)", "grad_y.mean(axis=0)", "grad_b averaged over the batch"),
        ("a1", "grad_y.sum(axis=0)", "grad_y.sum(axis=1)", "grad_b summed over the wrong axis"),
        ("a1", "return grad_y @ W,", "return -grad_y @ W,", "grad_x with the wrong sign"),
        (
            "a2",
            "e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
            "return 1 / (1 + np.exp(-z))",
            "sigmoid that overflows",
        ),
        (
            "a2",
            "e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
            "return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))",
            "np.where with both branches computed",
        ),
        ("a2", "return grad_y * y * (1 - y)", "return grad_y * y * (y - 1)", "sigmoid' sign"),
        ("a2", "return grad_y * (z > 0)", "return grad_y * (z >= 0)", "ReLU' = 1 at z = 0"),
        (
            "a2",
            "return np.maximum(z, 0.0)",
            "return np.where(z > 0, z, 0.01 * z)",
            "leaky ReLU instead of ReLU",
        ),
        ("a3", "return float(loss), grad / n", "return float(loss), grad", "gradient not / N"),
        (
            "a3",
            "shifted = scores - scores.max(axis=1, keepdims=True)",
            "shifted = scores",
            "no max shift (overflows for large scores)",
        ),
        (
            "a3",
            "scores.max(axis=1, keepdims=True)",
            "scores.max(axis=0, keepdims=True)",
            "max over the wrong axis",
        ),
        ("a3", "labels].mean()", "labels].sum()", "loss summed, not averaged"),
        ("a3", "labels] -= 1.0", "labels] += 1.0", "one-hot added instead of subtracted"),
        (
            "a4",
            "(f_plus - f_minus) / (2 * eps)",
            "(f_plus - f_minus) / eps",
            "divides by h, not 2h",
        ),
        (
            "a4",
            "x[i] = old - eps\n        f_minus = f(x)",
            "x[i] = old\n        f_minus = f(x)",
            "one-sided difference",
        ),
        ("a4", "        x[i] = old\n", "", "does not put the entry back"),
        (
            "a4",
            "grad = np.zeros_like(x)",
            "x = x.copy()\n    grad = np.zeros_like(x)",
            "perturbs a copy (f closing over x sees nothing)",
        ),
        ("a5", "grad_z1 = relu_backward(grad_h, z1)", "grad_z1 = grad_h", "skips ReLU's backward"),
        (
            "a5",
            'linear_backward(grad_s, h, params["W2"])',
            'linear_backward(grad_s, z1, params["W2"])',
            "pre-activation into W2's gradient",
        ),
        (
            "a5",
            "loss, grad_s = softmax_cross_entropy(scores, labels)",
            "loss, grad_s = softmax_cross_entropy(scores, labels)\n    grad_s = grad_s * len(X)",
            "gradient of the summed loss",
        ),
        ("a6", "params[k] -= lr * grads[k]", "params[k] += lr * grads[k]", "gradient ascent"),
        (
            "a6",
            "rng.normal(scale=1 / np.sqrt(d), size=(hidden, d))",
            "np.zeros((hidden, d))",
            "first layer initialised to zero",
        ),
        (
            "a6",
            "labels[batch])",
            "labels[start : start + batch_size])",
            "labels not shuffled with their images",
        ),
        (
            "a7",
            "self.y = sigmoid_forward(z)\n        return self.y",
            "self.y = z\n        return sigmoid_forward(z)",
            "Sigmoid keeps its input where backward wants its output",
        ),
        (
            "a7",
            'analytic = {"x": layer.backward(weights)}',
            'analytic = {"x": layer.backward(np.ones_like(weights))}',
            "gradient check: backward fed ones, the loss weighted at random",
        ),
        (
            "a7",
            'for name, array in [("x", x), *layer.params().items()]:',
            'for name, array in [("x", x)]:',
            "gradient check: the parameters never checked",
        ),
        (
            "a7",
            "numeric = numerical_gradient(loss, array)",
            "numeric = numerical_gradient(loss, array.copy())",
            "gradient check: perturbs a copy of the parameter",
        ),
        (
            "a8",
            'return ("ScaleShift", "gamma")',
            'return ("ScaleShift", "beta")',
            "bug: wrong gradient named",
        ),
        ("a8", 'return ("ScaleShift", "gamma")', 'return ("SiLU", "x")', "bug: wrong layer named"),
        (
            "a8",
            "self.grad_gamma = (grad_y * self.x).sum(axis=0)",
            "self.grad_gamma = (grad_y * self.x).mean(axis=0)",
            "fix averages over the batch",
        ),
        ("a8", "self.grad_gamma = (grad_y * self.x).sum(axis=0)", "pass", "nothing fixed"),
        (
            "a9",
            "if i < len(sizes) - 2:",
            "if i < len(sizes) - 1:",
            "activation after the output layer",
        ),
        (
            "a9",
            "for layer in reversed(self.layers):",
            "for layer in self.layers:",
            "backward in forward order",
        ),
        (
            "a9",
            "param -= lr * layer.grads()[name]",
            "param += lr * layer.grads()[name]",
            "MLP: ascent",
        ),
        (
            "a9",
            "labels[batch])",
            "labels[start : start + batch_size])",
            "MLP: labels not shuffled with their images",
        ),
        (
            "a9",
            "history.append(sum(losses) / len(X))",
            "history.extend(losses)",
            "MLP: one loss per batch, not per epoch",
        ),
    ],
    "03_training_at_scale": [
        ("a1", "if i < len(sizes) - 2:", "if True:", "ReLU after the last layer too"),
        ("a1", "layers.append(torch.nn.ReLU())", "pass", "no ReLU between the layers"),
        ("a1", "torch.nn.ReLU()", "torch.nn.Tanh()", "Tanh instead of ReLU"),
        ("a1", "dtype=torch.float64)", "dtype=torch.float32)", "float32 layers"),
        ("a2", "p.grad + self.weight_decay * p", "p.grad - self.weight_decay * p", "decay sign"),
        (
            "a2",
            "self.buffers[i] = g.clone()",
            "self.buffers[i] = torch.zeros_like(g)",
            "momentum buffer starts at zero",
        ),
        (
            "a2",
            "self.buffers[i].mul_(self.momentum).add_(g)",
            "self.buffers[i].mul_(self.momentum).add_((1 - self.momentum) * g)",
            "dampened buffer",
        ),
        ("a2", "g = self.buffers[i]", "pass", "steps with g, not with the buffer"),
        (
            "a3",
            "m_hat = m / (1 - b1**self.t)\n            v_hat = v / (1 - b2**self.t)",
            "m_hat, v_hat = m, v",
            "forgotten bias correction",
        ),
        (
            "a3",
            "self.t += 1\n        b1, b2 = self.betas\n"
            "        for p, m, v in zip(self.params, self.m, self.v, strict=True):\n",
            "b1, b2 = self.betas\n"
            "        for p, m, v in zip(self.params, self.m, self.v, strict=True):\n"
            "            self.t += 1\n",
            "step counter advanced per parameter",
        ),
        ("a3", "(v_hat.sqrt() + self.eps)", "(v_hat + self.eps).sqrt()", "eps inside the root"),
        (
            "a3",
            "g = p.grad + self.weight_decay * p if self.weight_decay else p.grad",
            "g = p.grad",
            "weight decay ignored",
        ),
        ("a3", "(1 - b2) * g * g", "(1 - b2) * g.abs()", "|g| instead of g squared"),
        ("a4", "scores.argmax(dim=1)", "scores.argmax(dim=0)", "argmax over the batch axis"),
        (
            "a4",
            "cross_entropy(scores, y).item()",
            'cross_entropy(scores, y, reduction="sum").item()',
            "summed loss",
        ),
        (
            "a4",
            "rng, losses = np.random.default_rng(seed), []\n    for _ in range(epochs):\n",
            "losses = []\n    for _ in range(epochs):\n        rng = np.random.default_rng(seed)\n",
            "the same shuffle every epoch",
        ),
        ("a4", "            opt.zero_grad()\n", "", "gradients never zeroed"),
        (
            "a4",
            "losses.append(evaluate(model, X, y)[0])",
            "losses.append(torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).item())",
            "last batch's loss instead of the epoch's",
        ),
        (
            "a5",
            "perm = np.random.default_rng(seed).permutation(n)",
            "perm = np.arange(n)",
            "no shuffle: a block of rows validates",
        ),
        ("a5", "k = round(fraction * n)", "k = int(fraction * n)", "int() one short of round()"),
        (
            "a5",
            "return perm[k:], perm[:k]",
            "return perm[:k], perm[k:]",
            "fit and validation swapped",
        ),
        ("a5", "np.random.default_rng(seed)", "np.random.default_rng()", "seed ignored"),
        (
            "a6",
            "max(val_acc, key=val_acc.get)",
            "min(val_acc, key=val_acc.get)",
            "chooses the worst setting",
        ),
        (
            "a6",
            "val_acc[lr, batch_size] = curve, max(curve)",
            "val_acc[lr, batch_size] = curve, test.accuracy(best)",
            "chooses on the test set",
        ),
        (
            "a6",
            "test.accuracy(model),\n    }",
            "test.accuracy(model) and val_acc[lr, batch_size],\n    }",
            "reports the validation accuracy as the test accuracy",
        ),
        (
            "a6",
            "for lr in (3e-3, 1e-2, 3e-2):",
            "for lr in (3e-3, 1e-2):",
            "two learning rates only",
        ),
        (
            "a6",
            "test.accuracy(model),\n    }",
            'test.accuracy(model),\n        "printed": print(f"test {test.accuracy(model):.3f}"),\n    }',
            "reads the test set twice (prints it, then reports it)",
        ),
        (
            "a7",
            "        step()\n    sync()\n    return",
            "        step()\n    return",
            "no sync at the end",
        ),
        (
            "a7",
            "    sync()\n    start = clock()",
            "    start = clock()",
            "no sync before the clock starts",
        ),
        (
            "a7",
            "return batch_size * steps / (clock() - start)",
            "return steps / (clock() - start)",
            "steps per second, not samples",
        ),
        (
            "a7",
            "    for _ in range(warmup):\n        step()\n    sync()\n    start = clock()",
            "    start = clock()\n    for _ in range(warmup):\n        step()\n    sync()",
            "the warm-up is timed",
        ),
    ],
    "04_init_batchnorm": [
        (
            "a1",
            "return 2.0 / (fan_in + fan_out)",
            "return (1 / fan_in + 1 / fan_out) / 2",
            "arithmetic mean instead of harmonic",
        ),
        (
            "a1",
            "return 2.0 / (fan_in + fan_out)",
            "return 1.0 / (fan_in + fan_out)",
            "Var w halved",
        ),
        (
            "a1",
            "math.sqrt(3.0 * xavier_variance(fan_in, fan_out))",
            "math.sqrt(xavier_variance(fan_in, fan_out))",
            "uniform bound without the 3",
        ),
        ("a1", "return gain / math.sqrt(fan_in)", "return gain / fan_in", "He: no square root"),
        ("a1", "return gain / math.sqrt(fan_in)", "return math.sqrt(2.0 / fan_in)", "gain ignored"),
        (
            "a2",
            "rng.uniform(-a, a, size=(fan_out, fan_in))",
            "rng.uniform(-a, a, size=(fan_in, fan_out))",
            "transposed weights",
        ),
        (
            "a2",
            "a = xavier_uniform_bound(fan_in, fan_out, gain)",
            "a = xavier_uniform_bound(fan_in, fan_out)",
            "gain dropped",
        ),
        (
            "a2",
            "rng.uniform(-a, a, size=(fan_out, fan_in))",
            "rng.normal(0.0, a, size=(fan_out, fan_in))",
            "normal with the uniform's bound as std",
        ),
        ("a2", "0.0, he_std(fan_in),", "0.0, he_std(fan_in) ** 2,", "variance used as a std"),
        ("a2", "0.0, he_std(fan_in),", "0.0, he_std(fan_out),", "He with fan_out"),
        (
            "a3",
            "mu = x.mean(axis=0)\n    var = ((x - mu) ** 2).mean(axis=0)",
            "mu = x.mean(axis=1, keepdims=True)\n    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)",
            "mean over the wrong axis (layer norm)",
        ),
        ("a3", "var = ((x - mu) ** 2).mean(axis=0)", "var = x.var(axis=0, ddof=1)", "unbiased var"),
        ("a3", "1.0 / np.sqrt(var + eps)", "1.0 / (np.sqrt(var) + eps)", "eps outside the root"),
        (
            "a3",
            "var = ((x - mu) ** 2).mean(axis=0)",
            "var = (x**2).mean(axis=0) - mu**2",
            "E[x^2] - mu^2 (cancels for large means)",
        ),
        (
            "a3",
            "return gamma * x_hat + beta,",
            "return beta * x_hat + gamma,",
            "gamma and beta swapped",
        ),
        (
            "a4",
            "grad_x = (gamma * inv_std / n) * (n * grad_y - grad_beta - x_hat * grad_gamma)",
            "grad_x = gamma * inv_std * grad_y",
            "ignores that mu and sigma depend on x",
        ),
        (
            "a4",
            "n * grad_y - grad_beta - x_hat * grad_gamma",
            "n * grad_y - x_hat * grad_gamma",
            "drops the mean term",
        ),
        ("a4", "(gamma * inv_std / n)", "(gamma * inv_std)", "off by a factor N"),
        (
            "a4",
            "grad_gamma = (grad_y * x_hat).sum(axis=0)",
            "grad_gamma = (grad_y * x_hat).mean(axis=0)",
            "grad_gamma averaged",
        ),
        ("a5", "x.var(axis=0, ddof=1)", "x.var(axis=0)", "biased variance in the running average"),
        (
            "a5",
            "(1 - momentum) * running_mean + momentum * x.mean(axis=0)",
            "momentum * running_mean + (1 - momentum) * x.mean(axis=0)",
            "momentum convention flipped",
        ),
        ("a5", "(x - running_mean)", "(x - x.mean(axis=0))", "eval mode uses the batch mean"),
        ("a5", "np.sqrt(running_var + eps)", "np.sqrt(running_var)", "eval mode without eps"),
        (
            "a6",
            "x[i] = old - eps\n        f_minus = f(x)",
            "x[i] = old\n        f_minus = f(x)",
            "one-sided difference over 2 eps",
        ),
        (
            "a6",
            "(f_plus - f_minus) / (2 * eps)",
            "(f_plus - f_minus) / eps",
            "divides by eps, not 2 eps",
        ),
        ("a6", "        x[i] = old\n        grad[i]", "        grad[i]", "x not restored"),
        (
            "a6",
            "for k, arg in enumerate((x, gamma, beta)):",
            "for k, arg in enumerate((x,)):",
            "checks grad_x only",
        ),
        (
            "a6",
            "errors.append(np.abs(analytic[k] - num).max() / scale)",
            "errors.append(np.abs(analytic[k] - num).max())",
            "absolute error, not relative",
        ),
        ("a7", "    g /= n\n", "", "gradient not / N"),
        ("a7", 'grad["W"] = g.T @ h_in', 'grad["W"] = h_in.T @ g', "grad_W transposed"),
        ("a7", "g = g * (z > 0)", "g = g * (h_in > 0)", "ReLU mask of the layer's input"),
        (
            "a7",
            "g.sum(axis=0)}]",
            "g.mean(axis=0)}]",
            "output bias gradient averaged",
        ),
        ("a7", "g[rows, labels] -= 1.0", "g[rows, labels] += 1.0", "one-hot added"),
    ],
    "02_optimisers": [
        ("a1", "return w - lr * g", "return w + lr * g", "ascent: sign of the step"),
        ("a1", "return w - lr * g", "w -= lr * g\n    return w", "updates its input in place"),
        ("a1", "return w - lr * g", "return w - g", "forgets the learning rate"),
        ("a2", "2.0 / (lam[0] + lam[-1])", "1.0 / (lam[0] + lam[-1])", "eta* off by a factor 2"),
        ("a2", "kappa = lam[-1] / lam[0]", "kappa = lam[0] / lam[-1]", "kappa inverted"),
        ("a2", "(1.0 / (n - 1 - m))", "(1.0 / (n - m))", "off-by-one in the rate's exponent"),
        ("a2", "e[-1] / e[m]", "e[-1] / e[0]", "rate over the whole sequence"),
        ("a2", "range(steps + 1)", "range(steps)", "steps values instead of steps + 1"),
        (
            "a2",
            "errors.append(np.linalg.norm(w - w_star))\n        w = gd_step(w, A @ w - b, lr)",
            "w = gd_step(w, A @ w - b, lr)\n        errors.append(np.linalg.norm(w - w_star))",
            "records the error after the step",
        ),
        ("a2", "w_star = np.linalg.solve(A, b)", "w_star = np.zeros_like(b)", "assumes w* = 0"),
        (
            "a3",
            "dW = beta * dW_prev - lr * g",
            "dW = beta * dW_prev - (1 - beta) * lr * g",
            "momentum as an average of gradients",
        ),
        ("a3", "dW = beta * dW_prev - lr * g", "dW = beta * dW_prev + lr * g", "momentum ascent"),
        (
            "a3",
            'return w + dW, {"dW": dW}',
            'return w + dW, {"dW": dW_prev}',
            "state never updated",
        ),
        ("a3", "grad_fn(w + beta * dW_prev)", "grad_fn(w)", "Nesterov: gradient at w"),
        (
            "a3",
            "grad_fn(w + beta * dW_prev)",
            "grad_fn(w - beta * dW_prev)",
            "look-ahead backwards",
        ),
        ("a3", "grad_fn(w + beta * dW_prev)", "grad_fn(w + dW_prev)", "look-ahead without beta"),
        ("a4", "g = np.where(prod < 0, 0.0, g)", "pass", "Rprop: no pause after a sign change"),
        (
            "a4",
            "np.where(prod > 0, etas[1], np.where(prod < 0, etas[0], 1.0))",
            "np.where(prod > 0, etas[0], np.where(prod < 0, etas[1], 1.0))",
            "etas swapped",
        ),
        (
            "a4",
            'np.clip(state["step_size"] * factor, *step_sizes)',
            'state["step_size"] * factor',
            "step sizes not clipped",
        ),
        (
            "a4",
            "g = np.where(prod < 0, 0.0, g)\n    return w - np.sign(g) * step_size",
            "g_step = np.where(prod < 0, 0.0, g)\n    return w - np.sign(g_step) * step_size",
            "stores the gradient before zeroing",
        ),
        ("a5", "(denom * dw_prev < 0)", "(denom * dw_prev > 0)", "QuickProp: curvature sign"),
        (
            "a5",
            "np.clip(ratio, -max_growth, max_growth) * dw_prev",
            "ratio * dw_prev",
            "growth not clipped",
        ),
        ("a5", "denom = g_prev - g", "denom = g - g_prev", "secant with the wrong sign"),
        ("a5", "-lr * g)", "lr * g)", "fallback step uphill"),
        ("a6", "((hi - lo) / (hi + lo)) ** 2", "((hi - lo) / (hi + lo))", "beta not squared"),
        ("a6", "4.0 / (hi + lo) ** 2", "2.0 / (hi + lo) ** 2", "heavy-ball lr off by 2"),
        (
            "a6",
            "lo, hi = np.sqrt(lam[0]), np.sqrt(lam[-1])",
            "lo, hi = lam[0], lam[-1]",
            "eigenvalues where their roots belong",
        ),
        ("a6", "range(steps + 1)", "range(steps)", "momentum: steps errors, not steps + 1"),
        (
            "a6",
            "errors.append(np.linalg.norm(w - w_star))\n        w, state = momentum_step(",
            "w, state = momentum_step(",
            "records no error (appends after the loop body)",
        ),
        ("a7", "w - lr * np.linalg.solve(H, g)", "w - np.linalg.solve(H, g)", "Newton ignores lr"),
        ("a7", "w - lr * np.linalg.solve(H, g)", "w + lr * np.linalg.solve(H, g)", "Newton uphill"),
        ("a7", "w - lr * np.linalg.solve(H, g)", "w - lr * g / np.diag(H)", "diagonal Newton"),
        (
            "a8",
            "gd_errors(A, b, w0, lr, 500)",
            "gd_errors(A, b, w0, lr, 50)",
            "probe stops too early",
        ),
        (
            "a8",
            "hi = mid\n            else:\n                lo = mid",
            "lo = mid\n            else:\n                hi = mid",
            "bisection moves the wrong end",
        ),
        ("a8", "return lo", "return hi", "returns the diverging end of the bracket"),
        (
            "a8",
            "nesterov_step(w, lambda p: A @ p - b, state, lr, beta)",
            "momentum_step(w, A @ w - b, state, lr, beta)",
            "heavy ball probed as Nesterov",
        ),
        (
            "a9",
            "sigma * rng.standard_normal(len(w))",
            "rng.standard_normal(len(w))",
            "noise not scaled by sigma",
        ),
        (
            "a9",
            "    for lr in lrs:\n        noisy_grad = A @ w - b + sigma * rng.standard_normal(len(w))",
            "    noise = rng.standard_normal(len(w))\n    for lr in lrs:\n"
            "        noisy_grad = A @ w - b + sigma * noise",
            "the same noise at every step",
        ),
        (
            "a9",
            "errors = [np.linalg.norm(w - w_star)]",
            "errors = []",
            "starting error not recorded",
        ),
        (
            "a9",
            "return lr0 / (1.0 + np.arange(steps) / 100.0)",
            "return lr0 / (1.0 + np.arange(steps)) ** 2",
            "schedule decays too fast (1/k^2)",
        ),
        (
            "a9",
            "return lr0 / (1.0 + np.arange(steps) / 100.0)",
            "return np.full(steps, lr0)",
            "constant rate, no decay",
        ),
    ],
}


#: (assignment, mutant) -> what the failing line must say: the targeted hints for known
#: pitfalls, and where a trajectory first departs.
HINTS = {
    ("01_backprop_numpy", "grad_b averaged over the batch"): "divide by the batch size twice?",
    ("01_backprop_numpy", "gradient not / N"): "the batch size: did you forget to divide by it?",
    ("01_backprop_numpy", "grad_W transposed"): "transposed?",
    ("01_backprop_numpy", "np.where with both branches computed"): "np.where evaluates both",
    ("01_backprop_numpy", "ReLU' = 1 at z = 0"): "differs only where the input is exactly 0",
    ("01_backprop_numpy", "sigmoid' sign"): "off by a sign",
    ("02_optimisers", "ascent: sign of the step"): "first departs at step 1, w[0]",
    ("02_optimisers", "steps values instead of steps + 1"): "50 steps recorded, expected 51",
    ("02_optimisers", "momentum: steps errors, not steps + 1"): "60 steps recorded, expected 61",
    ("02_optimisers", "Nesterov: gradient at w"): "not at the look-ahead point",
    ("03_training_at_scale", "step counter advanced per parameter"): (
        "a step counter advanced once per parameter instead of once per step?"
    ),
    ("03_training_at_scale", "forgotten bias correction"): "first departs at step 1, in 0.weight",
    ("04_init_batchnorm", "off by a factor N"): "did you forget to divide by it?",
    ("04_init_batchnorm", "x not restored"): "put each entry back",
}


def _prose(source: str) -> list[tuple[int, int]]:
    """Character ranges of comments and string literals (docstrings) in ``source``."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    spans = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            (r0, c0), (r1, c1) = tok.start, tok.end
            spans.append((starts[r0 - 1] + c0, starts[r1 - 1] + c1))
    return spans


def mutate(source: str, find: str, replace: str) -> str:
    """``source`` with the first occurrence of ``find`` in code (not in a comment such as a
    ``### HINT`` line, nor in a docstring) replaced."""
    spans = _prose(source)
    start = source.find(find)
    while start >= 0:
        if not any(a <= start < b for a, b in spans):
            return source[:start] + replace + source[start + len(find) :]
        start = source.find(find, start + 1)
    raise AssertionError(f"{find!r} is not in the code of the solution's answer")


def apply(ref: reference.Reference, mutant) -> tuple[dict[str, str], set[str], str]:
    """The solution's answers with one mutated; the questions to check; the mutant's question."""
    key, find, replace, _ = mutant
    answers = {c.key: c.source for c in ref.cells if c.kind == "answer"}
    answers[key] = mutate(answers[key], find, replace)
    cells = [
        Cell("answer", answers[c.key], c.key, index=c.index) if c.kind == "answer" else c
        for c in ref.cells
    ]
    question = ref.question_of(key)
    names = set(top_level_names(answers[key]))
    direct = {
        q
        for q in ref.questions
        for c in cells
        if (c.kind == "check" and c.key == q or c.kind == "answer" and ref.question_of(c.key) == q)
        and c.key != key
        and names & used_names(c.source)
    }
    return answers, {question} | direct, question


SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9]*.ipynb"))


PER_ANSWER = 1
"""Mutants graded per answer in the default test command (all of them with
``COURSEKIT_MUTANTS=all``: run that after editing a solution or its checks)."""


def selected(name: str) -> list[tuple[str, str, str, str]]:
    """The mutants of ``name`` the test grades: all with ``COURSEKIT_MUTANTS=all``; else the
    first :data:`PER_ANSWER` of each answer plus every one a hint test names (every question
    keeps at least one mutant; the full table, three or more per question, is checked by
    ``test_every_question_has_three_mutants``)."""
    if os.environ.get("COURSEKIT_MUTANTS", "").lower() == "all":
        return list(MUTANTS[name])
    hinted = {m for (a, m) in HINTS if a == name}
    seen: dict[str, int] = {}
    chosen = []
    for mutant in MUTANTS[name]:
        seen[mutant[0]] = seen.get(mutant[0], 0) + 1
        if seen[mutant[0]] <= PER_ANSWER or mutant[3] in hinted:
            chosen.append(mutant)
    return chosen


def run_mutants(session: grade.Session, name: str) -> tuple[int, int, list[str]]:
    """Grade the selected mutants of an assignment; (killed, total, what went wrong)."""
    ref, killed, problems = session.ref, 0, []
    chosen = selected(name)
    for mutant in chosen:
        answers, only, question = apply(ref, mutant)
        report = session.grade(answers, f"{name} {mutant[0]}: {mutant[3]}", only)
        lost = {q.id for q in report.questions if q.earned < q.possible}
        killed += question in lost
        hint = HINTS.get((name, mutant[3]))
        if hint and hint not in report.question(question).message:
            problems.append(f"{mutant[0]} ({mutant[3]}): no {hint!r} in the message")
        if question not in lost:
            problems.append(f"{mutant[0]} ({mutant[3]}) scored full marks on {question}")
        if lost - {question}:
            problems.append(f"{mutant[0]} ({mutant[3]}) also cost {sorted(lost - {question})}")
    return killed, len(chosen), problems


def run_delegations(session: grade.Session, name: str) -> list[str]:
    """Grade every delegating answer of an assignment; what went wrong."""
    ref, problems = session.ref, []
    solution = {c.key: c.source for c in ref.cells if c.kind == "answer"}
    for key, source, how in DELEGATIONS[name]:
        question = ref.question_of(key)
        report = session.grade({**solution, key: source}, f"{key}: {how}", {question})
        row = report.question(question)
        said = [n for n in report.notes if n.startswith(f"{question}: no points")]
        if row.earned or not said or "rules forbid" not in row.message:
            problems.append(f"{key} ({how}): {row.earned}/{row.possible}, {row.message!r}")
    return problems


def _table_tests(name):
    """Mutants and delegating answers of one assignment, sharing one kernel."""

    @pytest.fixture(scope="class")
    @classmethod
    def session(cls):
        ref = reference.load(ROOT / "solutions" / f"{name}.ipynb")
        with grade.Session(ref, timeout=120) as shared:
            yield shared

    def test_mutants_lose_points_on_their_question_only(self, session):
        killed, total, problems = run_mutants(session, name)
        print(f"\n{name}: {killed}/{total} mutants killed")
        assert not problems, "\n".join(problems)

    def test_delegating_answers_earn_nothing(self, session):
        problems = run_delegations(session, name)
        assert not problems, "\n".join(problems)

    return {
        "session": session,
        "test_mutants_lose_points_on_their_question_only": test_mutants_lose_points_on_their_question_only,
        "test_delegating_answers_earn_nothing": test_delegating_answers_earn_nothing,
    }


# one class per assignment: pytest-xdist (--dist loadscope) spreads them over workers, and
# each class grades all its answer sets in one kernel
for _solution in SOLUTIONS:
    _name = "TestAnswerTables_" + _solution.stem
    globals()[_name] = type(_name, (), _table_tests(_solution.stem))
del _solution, _name


def test_every_hint_names_a_mutant():
    assert all(m in {x[3] for x in MUTANTS[a]} for a, m in HINTS)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_question_has_three_mutants(solution):
    """Questions come from the reference: a new question without mutants fails here."""
    ref = reference.load(solution)
    assert solution.stem in MUTANTS, f"no mutants for {solution.stem}"
    count = {q: 0 for q in ref.questions}
    for key, *_ in MUTANTS[solution.stem]:
        count[ref.question_of(key)] += 1
    assert all(n >= 3 for n in count.values()), count

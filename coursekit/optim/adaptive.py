r"""Adaptive methods: a step size per coordinate, from the history of the gradients.

All three follow ``torch.optim`` (same names, defaults, state keys and order of
operations) and agree with it step for step in float64; each docstring writes the
algorithm out and says where the lecture's form differs. Notation: $g_t$ is the gradient
at step $t = 1, 2, \dots$; squares, roots and divisions are per coordinate. ``maximize``
and ``weight_decay`` (an L2 penalty, $g_t \leftarrow g_t + \lambda w_{t-1}$) are applied
to $g_t$ first, by :class:`~coursekit.optim.base.Optimizer`, as in torch.

Where ``eps`` sits is the usual difference between lectures and libraries: PyTorch
divides by $\sqrt{s} + \epsilon$, some lectures by $\sqrt{s + \epsilon}$. ``Adagrad`` and
``RMSprop`` take ``eps_inside_sqrt=True`` for the lecture's form; both agree when
$s \gg \epsilon$.
"""

from __future__ import annotations

import numpy as np

from .._checks import in_range
from .base import Optimizer

__all__ = ["Adagrad", "RMSprop", "Adam"]


def _root(s: np.ndarray, eps: float, inside: bool) -> np.ndarray:
    return np.sqrt(s + eps) if inside else np.sqrt(s) + eps


def _lerp_(m: np.ndarray, g: np.ndarray, weight: float) -> None:
    """``m <- m + weight (g - m)`` in place, rounded as ``torch.lerp`` rounds it."""
    if weight < 0.5:
        m += weight * (g - m)
    else:
        m[...] = g - (g - m) * (1 - weight)


class Adagrad(Optimizer):
    r"""AdaGrad: divide each coordinate by the root of its summed squared gradients.

    Algorithm (``torch.optim.Adagrad``), for each parameter $w$::

        input: lr (eta), lr_decay, weight_decay (lambda), initial_accumulator_value (s_0),
               eps, eps_inside_sqrt, maximize
        s = s_0 (state "sum")
        for t = 1, 2, ...:
            if maximize:      g_t = -g_t
            if lambda != 0:   g_t = g_t + lambda * w_{t-1}
            eta_t = eta / (1 + (t - 1) * lr_decay)
            s_t = s_{t-1} + g_t^2
            w_t = w_{t-1} - eta_t * g_t / (sqrt(s_t) + eps)    [sqrt(s_t + eps) if eps_inside_sqrt]

    Coordinates with large past gradients get small steps, and every step size only
    shrinks: good on convex problems, too aggressive on long non-convex runs.

    Lecture form: $w_t = w_{t-1} - \eta g_t / \sqrt{s_t + \epsilon}$, i.e.
    ``eps_inside_sqrt=True`` (then ``eps`` must be > 0 to avoid 0/0 on a zero gradient).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        eps_inside_sqrt: bool = False,
        maximize: bool = False,
    ):
        super().__init__(params, lr, weight_decay=weight_decay, maximize=maximize)
        self.lr_decay = in_range(float(lr_decay), "Adagrad lr_decay", low=0.0)
        self.initial_accumulator_value = in_range(
            float(initial_accumulator_value), "Adagrad initial_accumulator_value", low=0.0
        )
        self.eps = in_range(float(eps), "Adagrad eps", low=0.0)
        self.eps_inside_sqrt = bool(eps_inside_sqrt)

    def lr_at(self, state):
        return self.lr / (1 + (state["step"] - 1) * self.lr_decay)

    def _direction(self, i, p, g, state):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, self.initial_accumulator_value)
        state["step"] += 1
        state["sum"] += g * g
        return g / _root(state["sum"], self.eps, self.eps_inside_sqrt)


class RMSprop(Optimizer):
    r"""RMSprop: divide by the root of an exponential moving average of squared gradients.

    Algorithm (``torch.optim.RMSprop``), for each parameter $w$::

        input: lr (eta), alpha, eps, weight_decay (lambda), momentum (mu), centered,
               eps_inside_sqrt, maximize
        v_0 = 0 (state "square_avg"), m_0 = 0 ("grad_avg"), b_0 = 0 ("momentum_buffer")
        for t = 1, 2, ...:
            if maximize:      g_t = -g_t
            if lambda != 0:   g_t = g_t + lambda * w_{t-1}
            v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
            if centered:
                m_t = alpha * m_{t-1} + (1 - alpha) * g_t
                r_t = sqrt(v_t - m_t^2) + eps
            else:
                r_t = sqrt(v_t) + eps                          [sqrt(v_t + eps) if eps_inside_sqrt]
            if mu > 0:
                b_t = mu * b_{t-1} + g_t / r_t
                w_t = w_{t-1} - eta * b_t
            else:
                w_t = w_{t-1} - eta * g_t / r_t

    Unlike AdaGrad's sum, the average forgets: the denominator tracks the *recent*
    gradient size, similar for adjacent mini-batches, which is what Rprop's sign lacks.
    ``centered=True`` divides by an estimate of the gradient's standard deviation.

    Lecture form: ``alpha`` is the lecture's $\beta$, and the lecture divides by
    $\sqrt{v_t + \epsilon}$ (``eps_inside_sqrt=True``). Hinton's original slides start
    $v_0$ at 1 or at the first $g^2$; here, as in PyTorch, $v_0 = 0$, so the first
    steps are larger than $\eta$ ($|\text{step}_1| = \eta / \sqrt{1 - \alpha}$).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        eps_inside_sqrt: bool = False,
        maximize: bool = False,
    ):
        super().__init__(params, lr, weight_decay=weight_decay, maximize=maximize)
        self.alpha = in_range(float(alpha), "RMSprop alpha", low=0.0, high=1.0, high_open=True)
        self.eps = in_range(float(eps), "RMSprop eps", low=0.0)
        self.momentum = in_range(
            float(momentum), "RMSprop momentum", low=0.0, high=1.0, high_open=True
        )
        self.centered = bool(centered)
        self.eps_inside_sqrt = bool(eps_inside_sqrt)

    def _direction(self, i, p, g, state):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if self.centered:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        if self.centered:
            m = state["grad_avg"]
            _lerp_(m, g, 1 - self.alpha)
            v = v + -m * m
        denom = _root(v, self.eps, self.eps_inside_sqrt)
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            return buf
        return g / denom


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, RMSprop's scaling, both corrected for starting at zero.

    Algorithm (``torch.optim.Adam``), for each parameter $w$::

        input: lr (eta), betas (beta1, beta2), eps, weight_decay (lambda), amsgrad,
               bias_correction, maximize
        m_0 = 0 (state "exp_avg"), v_0 = 0 ("exp_avg_sq"), vmax_0 = 0 ("max_exp_avg_sq")
        for t = 1, 2, ...:
            if maximize:      g_t = -g_t
            if lambda != 0:   g_t = g_t + lambda * w_{t-1}
            m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
            v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
            if amsgrad:       vmax_t = max(vmax_{t-1}, v_t);  v_t = vmax_t
            if bias_correction:
                m_t' = m_t / (1 - beta1^t);  v_t' = v_t / (1 - beta2^t)
            else:
                m_t' = m_t;  v_t' = v_t
            w_t = w_{t-1} - eta * m_t' / (sqrt(v_t') + eps)

    Since $E[g]^2 \le E[g^2]$, the step per coordinate is about
    $\eta |E g| / \sqrt{E g^2} \le \eta$: full speed only when successive gradients
    agree, and smaller near an optimum where they cancel (automatic annealing).

    The lecture writes the same rule (eps outside the root, as PyTorch).
    ``bias_correction=False`` drops the two corrections, the form without them that some
    slides show; PyTorch has no such switch. Without correction a constant gradient
    gives steps $\eta (1-\beta_1^t)/\sqrt{1-\beta_2^t}$ instead of $\eta$: 3.2 $\eta$ at
    $t = 1$ and 6.6 $\eta$ at $t = 12$ with the defaults.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        bias_correction: bool = True,
        maximize: bool = False,
    ):
        super().__init__(params, lr, weight_decay=weight_decay, maximize=maximize)
        if len(betas) != 2:
            raise ValueError(f"Adam betas: expected a pair (beta1, beta2), got {betas!r}")
        b1 = in_range(float(betas[0]), "Adam beta1 (betas[0])", low=0.0, high=1.0, high_open=True)
        b2 = in_range(float(betas[1]), "Adam beta2 (betas[1])", low=0.0, high=1.0, high_open=True)
        self.betas = (b1, b2)
        self.eps = in_range(float(eps), "Adam eps", low=0.0)
        self.amsgrad = bool(amsgrad)
        self.bias_correction = bool(bias_correction)

    def _direction(self, i, p, g, state):
        b1, b2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, g, 1 - b1)
        v *= b2
        v += (1 - b2) * g * g
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        c1, c2 = (1 - b1**t, 1 - b2**t) if self.bias_correction else (1.0, 1.0)
        denom = np.sqrt(v) / np.sqrt(c2) + self.eps
        return m / c1 / denom

r"""QuickProp (Fahlman 1988): Newton's method per coordinate with a secant second derivative."""

from __future__ import annotations

import numpy as np

from .._checks import in_range
from .base import Optimizer

__all__ = ["QuickProp"]


class QuickProp(Optimizer):
    r"""Per-coordinate Newton steps with the curvature estimated from the last two gradients.

    Each coordinate is treated as a 1-D problem and its second derivative is replaced by
    the finite difference (secant) $c_t = (g_t - g_{t-1}) / \Delta w_{t-1}$, so the
    Newton step $-g_t / c_t$ becomes
    $\Delta w_t = \Delta w_{t-1}\, g_t / (g_{t-1} - g_t)$. On a 1-D quadratic the secant is
    the exact curvature, so one such step lands on the minimum.

    Algorithm, for each coordinate of each parameter $w$::

        input: lr (eta), max_growth (mu = 1.75)
        g_0 = 0 (state "prev_grad"), dw_0 = 0 ("prev_step")
        for t = 1, 2, ...:
            if dw_{t-1} != 0 and (g_{t-1} - g_t) * dw_{t-1} < 0:   # secant curvature c_t > 0
                dw_t = clip(g_t / (g_{t-1} - g_t), -mu, mu) * dw_{t-1}
            else:                                                  # first step, or c_t <= 0
                dw_t = -eta * g_t
            w_t = w_{t-1} + dw_t

    The safeguards follow Fahlman 1988: a gradient step where the previous step was zero
    or the secant is unusable ($c_t \le 0$: a flat or concave fit, whose "Newton step"
    would go to a maximum; this includes $g_t = g_{t-1}$), and the **maximum growth**
    $|\Delta w_t| \le \mu |\Delta w_{t-1}|$.

    Choices that differ from Fahlman's paper: a concave secant gives a gradient step (he
    takes the maximal step $\mu \Delta w_{t-1}$), and no gradient term $-\eta g_t$ is
    added to secant steps (it would spoil the one-step property on quadratics).
    """

    def __init__(self, params, lr: float = 1e-2, max_growth: float = 1.75):
        super().__init__(params, lr)
        self.max_growth = in_range(
            float(max_growth), "QuickProp max_growth", low=0.0, low_open=True
        )

    def _update(self, i, p, g, state):
        if not state:
            state["prev_grad"] = np.zeros_like(p)
            state["prev_step"] = np.zeros_like(p)  # zero: the first step is a gradient step
        g_prev, dw_prev = state["prev_grad"], state["prev_step"]
        denom = g_prev - g
        # secant usable where dw_prev != 0 and the curvature c = -denom / dw_prev is > 0
        usable = (dw_prev != 0) & (denom * dw_prev < 0)
        ratio = np.divide(g, denom, out=np.zeros_like(p), where=usable)
        np.clip(ratio, -self.max_growth, self.max_growth, out=ratio)
        step = np.where(usable, ratio * dw_prev, -self.lr * g)
        p += step
        g_prev[...] = g
        dw_prev[...] = step

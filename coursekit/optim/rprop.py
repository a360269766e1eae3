r"""Resilient propagation: per-coordinate steps driven by the *sign* of the gradient.

Each coordinate keeps its own step size ``Delta``, grown by ``etas[1]`` (the lecture's
alpha = 1.2) while the gradient keeps its sign and shrunk by ``etas[0]`` (beta = 0.5)
when it flips (a minimum was jumped over), clipped to ``step_sizes = (min, max)``.
The move is ``-sign(g) * Delta``: the gradient's size is never used.

:class:`RpropLecture` undoes the step that jumped over the minimum (weight
backtracking, as in the lecture and Riedmiller & Braun 1993); :class:`Rprop` is the
variant PyTorch ships (``torch.optim.Rprop``), which never moves back.
:class:`RpropSlide` is the lecture slide's loop transcribed literally; it works in 1-D
and freezes in several dimensions (its remembered sign goes stale), which is why
:class:`RpropLecture` reads a fresh gradient after every move back.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer

__all__ = ["Rprop", "RpropLecture", "RpropSlide"]


def _check_rprop(name, etas, step_sizes):
    etaminus, etaplus = (float(e) for e in etas)
    if not 0.0 < etaminus < 1.0 < etaplus:
        raise ValueError(f"{name}: expected 0 < etas[0] < 1 < etas[1], got {tuple(etas)}")
    lo, hi = (float(s) for s in step_sizes)
    if not 0.0 <= lo <= hi:
        raise ValueError(
            f"{name}: expected 0 <= step_sizes[0] <= step_sizes[1], got {tuple(step_sizes)}"
        )
    return (etaminus, etaplus), (lo, hi)


class Rprop(Optimizer):
    r"""``torch.optim.Rprop``: same arguments, defaults and update, in float64 numpy.

    Algorithm, for each coordinate of each parameter $w$ (products and signs per
    coordinate)::

        input: lr (Delta_0), etas (eta-, eta+), step_sizes (Delta_min, Delta_max), maximize
        g_0 = 0 (state "prev"), Delta = Delta_0 (state "step_size")
        for t = 1, 2, ...:
            if maximize:            g_t = -g_t
            if g_t * g_{t-1} > 0:   Delta = min(Delta * eta+, Delta_max)
            if g_t * g_{t-1} < 0:   Delta = max(Delta * eta-, Delta_min);  g_t = 0
            w_t = w_{t-1} - sign(g_t) * Delta
            store g_t as g_{t-1}

    On a sign change the coordinate does not move and its stored gradient is zero, so the
    next step neither grows nor shrinks. Unlike the lecture's Rprop
    (:class:`RpropLecture`) the step that overshot is *not* undone. ``opt.state[i]``
    holds ``"prev"`` and ``"step_size"``, PyTorch's names. As in PyTorch, ``lr`` only sets
    the initial step sizes: changing it (e.g. by a schedule) after the first step has no
    effect. Validation as PyTorch's (``0 < etas[0] < 1 < etas[1]``) plus
    ``0 <= step_sizes[0] <= step_sizes[1]`` and ``lr > 0``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50.0),
        maximize: bool = False,
    ):
        super().__init__(params, lr, maximize=maximize)
        self.etas, self.step_sizes = _check_rprop("Rprop", etas, step_sizes)

    def _update(self, i, p, g, state):
        if not state:
            state["prev"] = np.zeros_like(p)
            state["step_size"] = np.full_like(p, self.lr)
        prod = g * state["prev"]
        factor = np.where(prod > 0, self.etas[1], np.where(prod < 0, self.etas[0], 1.0))
        step_size = state["step_size"]
        np.clip(step_size * factor, *self.step_sizes, out=step_size)
        g = np.where(prod < 0, 0.0, g)
        p -= np.sign(g) * step_size
        state["prev"][...] = g


class RpropLecture(Optimizer):
    r"""The lecture's Rprop with weight backtracking (Riedmiller & Braun 1993, "Rprop+").

    Algorithm, for each coordinate of each parameter $w$::

        input: lr (Delta_0), etas (beta, alpha) = (0.5, 1.2), step_sizes (Delta_min, Delta_max)
        g_0 = 0 (state "prev"), Delta = Delta_0 ("step_size"), dw = 0 ("delta")
        for t = 1, 2, ...:
            if g_t * g_{t-1} > 0:            # same sign: grow and step
                Delta = min(alpha * Delta, Delta_max);  dw = -sign(g_t) * Delta;  store g_t
            elif g_t * g_{t-1} < 0:          # the last step jumped over a minimum: undo it
                Delta = max(beta * Delta, Delta_min);   dw = -dw;  store 0
            else:                            # first step, after a backtrack, or g_t = 0
                dw = -sign(g_t) * Delta;  store g_t
            w_t = w_{t-1} + dw

    Storing 0 after a backtrack makes the next step neither grow nor shrink.

    How this maps onto the lecture's pseudo-code: there, one iteration that sees a sign
    change moves back *and* takes the shrunk step forward in the direction of the old
    gradient. Here the undo is one call and the shrunk step forward is the next call,
    whose direction comes from the gradient evaluated at the restored point. In 1-D the
    two produce the same sequence of distinct points (this form visits the restored point
    once more); in several dimensions the fresh gradient avoids following a stale sign
    after the other coordinates have moved. ``opt.state[i]`` holds ``"prev"``,
    ``"step_size"`` and ``"delta"`` (the last change made to the parameter). Like
    :class:`Rprop`, ``lr`` is only the initial step size.
    """

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
        super().__init__(params, lr)
        self.etas, self.step_sizes = _check_rprop("RpropLecture", etas, step_sizes)

    def _update(self, i, p, g, state):
        if not state:
            state["prev"] = np.zeros_like(p)
            state["step_size"] = np.full_like(p, self.lr)
            state["delta"] = np.zeros_like(p)
        prod = g * state["prev"]
        grow, flip = prod > 0, prod < 0
        size = state["step_size"]
        size[grow] = np.minimum(size[grow] * self.etas[1], self.step_sizes[1])
        size[flip] = np.maximum(size[flip] * self.etas[0], self.step_sizes[0])
        delta = np.where(flip, -state["delta"], -np.sign(g) * size)
        p += delta
        state["delta"][...] = delta
        state["prev"][...] = np.where(flip, 0.0, g)


class RpropSlide(Optimizer):
    r"""The slide's "Rprop (simplified)" loop, literally, one gradient evaluation per step.

    The slide keeps, per coordinate, a signed step $\Delta w$ and the derivative
    ``prevD`` seen at the last point that was *kept*::

        first call:   prevD = D(w);  dw = sign(prevD) * Delta_0;  w = w - dw
        every call:   D = D(w)                           # at the point just reached
                      if sign(D) == sign(prevD):  dw = sign(dw) min(alpha |dw|, Delta_max)
                                                  prevD = D
                      else:                       w = w + dw          # return
                                                  dw = sign(dw) max(beta |dw|, Delta_min)
                      w = w - dw                                      # the next move

    (one call does the slide's "return, shrink" and the next iteration's move, so every
    call costs one gradient evaluation.) After a return the slide neither re-reads the
    derivative at the restored point nor updates ``prevD``: the next move goes in the
    *old* direction. In 1-D that is right (the minimum is still ahead). In several
    dimensions the other coordinates move in the meantime, and the derivative at the
    restored point may have changed sign: the coordinate should turn round, but every
    move in the old direction meets a "sign change" against the stale ``prevD``, returns
    and halves its step, until the step sits at $\Delta_{min}$ and the coordinate
    is frozen. On a rotated quadratic both coordinates freeze away from the minimum.
    :class:`RpropLecture` avoids this by reading the gradient at the restored point.

    ``opt.state[i]`` holds ``"prev"`` (prevD), ``"delta"`` (the signed ``dw``) and
    ``"step_size"`` ($|\Delta w|$). Arguments as :class:`RpropLecture`.
    """

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
        super().__init__(params, lr)
        self.etas, self.step_sizes = _check_rprop("RpropSlide", etas, step_sizes)

    def _update(self, i, p, g, state):
        if not state:
            state["prev"] = g.copy()
            state["delta"] = np.sign(g) * self.lr
            state["step_size"] = np.abs(state["delta"])
            p -= state["delta"]
            return
        dw, prev = state["delta"], state["prev"]
        same = np.sign(g) == np.sign(prev)
        size = np.abs(dw)
        grown = np.minimum(size * self.etas[1], self.step_sizes[1])
        shrunk = np.maximum(size * self.etas[0], self.step_sizes[0])
        p += np.where(same, 0.0, dw)  # return to the last kept point
        prev[...] = np.where(same, g, prev)
        dw[...] = np.sign(dw) * np.where(same, grown, shrunk)
        state["step_size"][...] = np.abs(dw)
        p -= dw

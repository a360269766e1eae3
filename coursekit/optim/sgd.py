r"""Gradient descent with and without momentum: PyTorch's ``SGD`` and the lecture's forms.

Two conventions for the same heavy-ball method ($g = \nabla L(w)$):

* PyTorch (:class:`SGD`) keeps a *gradient* buffer and scales it by the current ``lr``::

      b <- mu * b + (1 - dampening) * g      (b <- g on the first step)
      w <- w - lr * b

* the lecture (:class:`Momentum`, Sutskever et al. 2013) keeps the *step* itself::

      dW <- beta * dW - lr * g               (dW = 0 before the first step)
      W  <- W + dW

With a constant ``lr``, ``mu = beta`` and no dampening the iterates are identical and
``dW = -lr * b``. They differ only when ``lr`` changes during training: PyTorch rescales
all past gradients by the new ``lr``, the lecture's form keeps the steps already taken.
The rate theory of both forms on a quadratic is :func:`coursekit.theory.momentum_rate`.
"""

from __future__ import annotations

import numpy as np

from .._checks import in_range
from .base import Optimizer

__all__ = ["GD", "SGD", "Momentum", "Nesterov"]


class GD(Optimizer):
    r"""Plain gradient descent, $w \leftarrow w - \eta\, g$.

    Algorithm, for each parameter $w$ with gradient $g_t$ at step $t = 1, 2, \dots$::

        input: lr (eta > 0)
        for t = 1, 2, ...:
            w_t = w_{t-1} - eta * g_t

    ``params``: list of float arrays of any shape (updated in place).
    Stateless: ``opt.state[i]`` stays empty.
    """

    def _direction(self, i, p, g, state):
        return g


class SGD(Optimizer):
    r"""``torch.optim.SGD``: same arguments, defaults and update, in float64 numpy.

    Algorithm, for each parameter $w$ with gradient $g_t$ at step $t = 1, 2, \dots$::

        input: lr (eta), momentum (mu), dampening (tau), weight_decay (lambda),
               nesterov, maximize
        for t = 1, 2, ...:
            if maximize:       g_t = -g_t
            if lambda != 0:    g_t = g_t + lambda * w_{t-1}
            if mu != 0:
                if t > 1:      b_t = mu * b_{t-1} + (1 - tau) * g_t
                else:          b_t = g_t
                if nesterov:   g_t = g_t + mu * b_t
                else:          g_t = b_t
            w_t = w_{t-1} - eta * g_t

    ``opt.state[i]["momentum_buffer"]`` is $b$. With ``momentum == 0`` there is no
    buffer and this is plain gradient descent; ``weight_decay`` is an L2 penalty added to
    the gradient.

    Conventions: this is PyTorch's $b \leftarrow \mu b + g$, $w \leftarrow w - \eta b$.
    Sutskever's form $v \leftarrow \mu v - \eta g$, $w \leftarrow w + v$ (the lecture's,
    :class:`Momentum`) gives the same iterates for a constant ``lr`` with $v = -\eta b$.
    With ``nesterov=True`` the parameters hold the *look-ahead* point of the lecture's
    Nesterov method (see :class:`Nesterov`).

    Validation follows PyTorch (``momentum >= 0``, ``weight_decay >= 0``, Nesterov needs
    ``momentum > 0`` and ``dampening == 0``) with two differences: ``lr`` must be ``> 0``
    (PyTorch accepts 0, which never moves) and ``dampening`` must lie in ``[0, 1]``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ):
        super().__init__(params, lr, weight_decay=weight_decay, maximize=maximize)
        self.momentum = in_range(float(momentum), "SGD momentum", low=0.0)
        self.dampening = in_range(float(dampening), "SGD dampening", low=0.0, high=1.0)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum}, dampening={self.dampening}"
            )
        self.nesterov = bool(nesterov)

    def _direction(self, i, p, g, state):
        if self.momentum == 0:
            return g
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
        else:
            buf *= self.momentum
            buf += (1 - self.dampening) * g
        return g + self.momentum * buf if self.nesterov else buf


class Momentum(Optimizer):
    r"""Momentum in the lecture's form: a running average of past *steps*.

    $$\Delta W^{(k)} = \beta\, \Delta W^{(k-1)} - \eta\, \nabla L(W^{(k-1)}), \qquad
    W^{(k)} = W^{(k-1)} + \Delta W^{(k)}, \qquad \Delta W^{(0)} = 0.$$

    Algorithm, for each parameter $W$ with gradient $g_k$ at step $k = 1, 2, \dots$::

        input: lr (eta), beta
        dW_0 = 0
        for k = 1, 2, ...:
            dW_k = beta * dW_{k-1} - eta * g_k
            W_k  = W_{k-1} + dW_k

    ``opt.state[i]["dW"]`` is the last step $\Delta W$. On a constant gradient the
    step tends to $-\eta g / (1 - \beta)$: momentum multiplies the learning rate by
    $1/(1-\beta)$ along directions where the gradient keeps its sign.

    Equals ``SGD(params, lr, momentum=beta)`` step for step while ``lr`` is constant
    (``dW = -lr * momentum_buffer``); after a change of ``lr`` this form keeps the steps
    already taken, PyTorch's rescales them.
    """

    def __init__(self, params, lr: float, beta: float = 0.9):
        super().__init__(params, lr)
        self.beta = in_range(
            float(beta), f"{type(self).__name__} beta", low=0.0, high=1.0, high_open=True
        )

    def _update(self, i, p, g, state):
        dW = state.get("dW")
        if dW is None:
            dW = state["dW"] = np.zeros_like(p)
        dW *= self.beta
        dW -= self.lr * g
        p += dW


class Nesterov(Momentum):
    r"""Nesterov's accelerated gradient in the lecture's form: the gradient at the look-ahead.

    $$\Delta W^{(k)} = \beta\, \Delta W^{(k-1)}
        - \eta\, \nabla L\big(W^{(k-1)} + \beta\, \Delta W^{(k-1)}\big), \qquad
    W^{(k)} = W^{(k-1)} + \Delta W^{(k)}.$$

    The gradient is needed at the look-ahead point $W + \beta\,\Delta W$, not at
    $W$. As in the lecture's training loop ("first extend the previous step, then
    compute the gradient there"), the parameter arrays you hand in are kept **at the
    look-ahead point** between steps, so ``opt.step(grads)`` takes the gradient at the
    parameters as every optimiser does, on a quadratic and on an MLP alike. One step is::

        W  = params - beta * dW          # back from the look-ahead to the iterate
        dW = beta * dW - lr * grads      # grads were taken at the look-ahead
        W  = W + dW
        params = W + beta * dW           # extend the new step: the next look-ahead

    :meth:`weights` returns the lecture's iterates $W^{(k)}$. The parameters follow
    exactly the iterates of ``SGD(params, lr, momentum=beta, nesterov=True)`` (PyTorch's
    Nesterov is this method written in the look-ahead variable); the tests check both
    identities against the literal formula above.
    """

    def _update(self, i, p, g, state):
        dW = state.get("dW")
        if dW is None:
            dW = state["dW"] = np.zeros_like(p)
        p -= self.beta * dW  # W^(k-1)
        dW *= self.beta
        dW -= self.lr * g
        p += (1 + self.beta) * dW  # W^(k) + beta dW^(k)

    def weights(self) -> list[np.ndarray]:
        """The lecture's iterates ``W = params - beta * dW`` (new arrays, one per parameter)."""
        return [
            p - self.beta * s["dW"] if "dW" in s else p.copy()
            for p, s in zip(self.params, self.state, strict=True)
        ]

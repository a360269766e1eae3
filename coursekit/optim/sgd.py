"""Gradient descent with and without momentum: PyTorch's ``SGD`` and the lecture's forms.

Two conventions for the same heavy-ball method (``g = grad L(w)``):

* PyTorch (:class:`SGD`) keeps a *gradient* buffer and scales it by the current ``lr``::

      b <- mu * b + (1 - dampening) * g      (b <- g on the first step)
      w <- w - lr * b

* the lecture (:class:`Momentum`, Sutskever et al. 2013) keeps the *step* itself::

      dW <- beta * dW - lr * g               (dW = 0 before the first step)
      W  <- W + dW

With a constant ``lr``, ``mu = beta`` and no dampening the iterates are identical and
``dW = -lr * b``. They differ only when ``lr`` changes during training: PyTorch rescales
all past gradients by the new ``lr``, the lecture's form keeps the steps already taken.
"""

from __future__ import annotations

import numpy as np

from .._checks import in_range
from .base import Optimizer

__all__ = ["GD", "SGD", "Momentum", "Nesterov", "momentum_rate"]


class GD(Optimizer):
    r"""Plain gradient descent, :math:`w \leftarrow w - \eta\, g`.

    ``params``: list of float arrays of any shape (updated in place); ``lr``: :math:`\eta > 0`.
    Stateless: ``opt.state[i]`` stays empty.
    """

    def _update(self, i, p, g, state):
        p -= self.lr * g


class SGD(Optimizer):
    r"""``torch.optim.SGD``: same arguments, defaults and update, in float64 numpy.

    .. math::
        g &\leftarrow \pm\nabla L(w) + \lambda w \\
        b &\leftarrow \mu b + (1 - \tau) g \quad (b \leftarrow g \text{ on the first step}) \\
        g &\leftarrow g + \mu b \text{ if nesterov else } b \\
        w &\leftarrow w - \eta g

    with :math:`\eta` = ``lr``, :math:`\mu` = ``momentum``, :math:`\tau` = ``dampening``,
    :math:`\lambda` = ``weight_decay`` (an L2 penalty added to the gradient) and the sign
    flipped when ``maximize``. With ``momentum == 0`` there is no buffer and this is plain
    gradient descent. ``opt.state[i]["momentum_buffer"]`` is ``b``.

    Note on conventions: this is PyTorch's ``v = mu v + g; w -= lr v``. Sutskever's form
    ``v = mu v - lr g; w += v`` (the lecture's, :class:`Momentum`) gives the same iterates
    for a constant ``lr`` with ``v = -lr b``. With ``nesterov=True`` the parameters hold
    the *look-ahead* point of the lecture's Nesterov method (see :class:`Nesterov`).

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
        super().__init__(params, lr)
        self.momentum = in_range(float(momentum), "SGD momentum", low=0.0)
        self.dampening = in_range(float(dampening), "SGD dampening", low=0.0, high=1.0)
        self.weight_decay = in_range(float(weight_decay), "SGD weight_decay", low=0.0)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum}, dampening={self.dampening}"
            )
        self.nesterov = bool(nesterov)
        self.maximize = bool(maximize)

    def _update(self, i, p, g, state):
        g = -g if self.maximize else g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Momentum(Optimizer):
    r"""Momentum in the lecture's form: a running average of past *steps*.

    .. math::
        \Delta W^{(k)} = \beta\, \Delta W^{(k-1)} - \eta\, \nabla L(W^{(k-1)}), \qquad
        W^{(k)} = W^{(k-1)} + \Delta W^{(k)}, \qquad \Delta W^{(0)} = 0.

    ``opt.state[i]["dW"]`` is the last step :math:`\Delta W`. On a constant gradient the
    step tends to :math:`-\eta g / (1 - \beta)`: momentum multiplies the learning rate by
    :math:`1/(1-\beta)` along directions where the gradient keeps its sign.

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

    .. math::
        \Delta W^{(k)} = \beta\, \Delta W^{(k-1)}
            - \eta\, \nabla L\big(W^{(k-1)} + \beta\, \Delta W^{(k-1)}\big), \qquad
        W^{(k)} = W^{(k-1)} + \Delta W^{(k)}.

    The gradient is needed at the look-ahead point :math:`W + \beta\,\Delta W`, not at
    :math:`W`. As in the lecture's training loop ("first extend the previous step, then
    compute the gradient there"), the parameter arrays you hand in are kept **at the
    look-ahead point** between steps, so ``opt.step(grads)`` takes the gradient at the
    parameters as every optimiser does, on a quadratic and on an MLP alike. One step is::

        W  = params - beta * dW          # back from the look-ahead to the iterate
        dW = beta * dW - lr * grads      # grads were taken at the look-ahead
        W  = W + dW
        params = W + beta * dW           # extend the new step: the next look-ahead

    :meth:`weights` returns the lecture's iterates :math:`W^{(k)}`. The parameters follow
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


def momentum_rate(eigenvalues, lr: float, beta: float, nesterov: bool = False) -> float:
    r"""Asymptotic contraction factor of :class:`Momentum` / :class:`Nesterov` on a quadratic.

    On :math:`E = \tfrac12 w^\top A w - b^\top w` each eigen-direction of ``A``
    (eigenvalue :math:`\lambda`) evolves on its own: the error :math:`z` and the step
    :math:`\Delta` follow :math:`(z, \Delta) \leftarrow M (z, \Delta)` with, for
    :math:`a = 1 - \eta\lambda`,

    .. math::
        M_{\text{momentum}} = \begin{pmatrix} a & \beta \\ -\eta\lambda & \beta \end{pmatrix},
        \qquad
        M_{\text{Nesterov}} = \begin{pmatrix} a & \beta a \\ -\eta\lambda & \beta a \end{pmatrix}.

    The error shrinks asymptotically by the largest spectral radius of :math:`M` over the
    eigenvalues, which this returns (``>= 1``: no convergence). ``beta = 0`` gives plain
    GD's :math:`\max_i |1 - \eta\lambda_i|`; Polyak's optimal momentum gives
    :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)`, Nesterov with :math:`\eta = 1/\lambda_{max}`,
    :math:`\beta = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)` gives :math:`1 - 1/\sqrt\kappa`.
    Where :math:`M` has a repeated eigenvalue the error behaves like :math:`k\rho^k`, so a
    rate measured over a finite run comes out slightly larger.
    """
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError(f"momentum_rate: expected finite eigenvalues, got {lam}")
    a = 1 - lr * lam
    c = beta * a if nesterov else np.full_like(lam, beta)
    M = np.stack([np.stack([a, c], -1), np.stack([-lr * lam, c], -1)], -2)  # (d, 2, 2)
    return float(np.abs(np.linalg.eigvals(M)).max())

r"""The one interface every coursekit optimiser shares.

Like ``torch.optim``, an optimiser is built on a list of parameter arrays and updates
them **in place**; unlike torch, the gradients are passed to ``step`` explicitly,
because numpy arrays carry no ``.grad``::

    w = np.array([1.0, 2.0])
    opt = SGD([w], lr=0.1)
    for _ in range(100):
        opt.step([problem.grad(w)])

    model = mlp([64, 32, 10])
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    ...
    model.backward(loss.backward())
    opt.step(model.gradients())

What every optimiser does the same way is written once, in :class:`Optimizer`:

- the checks of ``params``, of the gradients (shapes; a NaN/inf gradient raises
  :class:`~coursekit.errors.DivergenceError`) and of ``lr`` ($> 0$, also when a schedule
  changes it between steps);
- ``maximize`` and ``weight_decay``: the gradient an update rule sees is
  $g \leftarrow -g$ when maximising, then $g \leftarrow g + \lambda w$ (an L2 penalty),
  in that order, as in ``torch.optim``;
- the learning rate: a rule that moves the parameters by $-\eta_t d_t$ returns only
  the direction $d_t$ (:meth:`Optimizer._direction`); the base multiplies by
  $\eta_t$ (:meth:`Optimizer.lr_at`, the current ``lr`` unless the rule decays it).
  Rules where ``lr`` is not such a factor (the lecture's momentum keeps
  $-\eta g$ inside its step, Rprop's ``lr`` is only the first step size) override
  :meth:`Optimizer._update` instead.

State is explicit and inspectable: ``opt.state[i]`` is a dict for parameter ``i``
(momentum buffer, step sizes, previous gradient...), created lazily on the first step
as PyTorch does; ``opt.steps`` counts calls to ``step``.

To add an optimiser: subclass :class:`Optimizer`, validate the hyper-parameters in
``__init__`` (pass ``weight_decay``/``maximize`` to ``super().__init__`` when the rule has
them), implement ``_direction`` (or ``_update``), write the algorithm as pseudo-code in
the class docstring, and test it step for step against ``torch.optim`` in float64 when
PyTorch has it (``tests/test_optim_*.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import in_range
from ..errors import DivergenceError

__all__ = ["Optimizer"]


class Optimizer:
    r"""Base class: the checks, ``lr``, ``weight_decay`` and ``maximize`` of every optimiser.

    ``step(grads)`` does, for each parameter $w$ with gradient $g$ (``i`` its index)::

        check g (shape, finite)
        g <- -g                      if maximize
        g <- g + weight_decay * w    if weight_decay != 0
        _update(i, w, g, state[i])   # default: d = _direction(i, w, g, state[i]); w <- w - lr_at(state[i]) * d
    """

    def __init__(self, params, lr: float, *, weight_decay: float = 0.0, maximize: bool = False):
        name = type(self).__name__
        if isinstance(params, np.ndarray):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError(f"{name}: expected a non-empty list of parameter arrays")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"{name}: parameter {i} must be a float numpy array "
                    f"(updated in place), got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
                )
        self.params: list[np.ndarray] = params
        self.lr = lr
        self.weight_decay = in_range(float(weight_decay), f"{name} weight_decay", low=0.0)
        self.maximize = bool(maximize)
        self.state: list[dict] = [{} for _ in params]
        self.steps = 0

    @property
    def lr(self) -> Any:  # a float, or an array of per-run rates
        r"""The learning rate $\eta > 0$; a schedule may change it between steps.

        An array of positive rates that broadcasts against the parameters is accepted too:
        with a parameter of shape ``(runs, d)`` and ``lr`` of shape ``(runs, 1)``, each row
        is an independent run with its own rate (the batched sweeps of lecture 06).
        """
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        name = f"{type(self).__name__} lr"
        if isinstance(value, np.ndarray) and value.ndim > 0:
            rates = np.asarray(value, dtype=float)
            if not (np.all(rates > 0) and np.all(np.isfinite(rates))):
                raise ValueError(f"{name}: expected positive finite rates, got {value!r}")
            self._lr = rates
            return
        self._lr = in_range(float(value), name, low=0.0, low_open=True)

    def step(self, grads) -> None:
        """Apply one update given the gradients, one array per parameter, in order."""
        name = type(self).__name__
        if isinstance(grads, np.ndarray) and len(self.params) == 1:
            grads = [grads]
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(
                f"{name}.step: expected {len(self.params)} gradient arrays, got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            g = np.asarray(g)
            if g.shape != p.shape:
                raise ValueError(
                    f"{name}.step: gradient {i} expected shape {p.shape}, got {g.shape}"
                )
            if not np.all(np.isfinite(g)):
                raise DivergenceError(
                    f"{name}.step {self.steps}: gradient {i} has NaN/inf entries "
                    "(the iterates diverged; lower the learning rate)"
                )
            self._update(i, p, self._regularised(p, g), self.state[i])
        self.steps += 1

    def _regularised(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The gradient the rule sees: sign flipped when maximising, plus the L2 term.
        A new array whenever it differs from ``g`` (the caller's gradient is never changed)."""
        if self.maximize:
            g = -g
        if self.weight_decay:
            g = g + self.weight_decay * p
        return g

    def lr_at(self, state: dict) -> float:
        r"""The factor $\eta_t$ of this step; the current ``lr`` unless a rule decays it."""
        return self.lr

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        d = self._direction(i, p, g, state)  # first: it advances the state lr_at may read
        p -= self.lr_at(state) * d

    def _direction(
        self, i: int, p: np.ndarray, g: np.ndarray, state: dict
    ) -> np.ndarray:  # pragma: no cover - abstract
        r"""The direction $d_t$ of the step $w \leftarrow w - \eta_t d_t$, updating ``state``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = {"lr": self.lr}
        hyper.update(
            {k: v for k, v in vars(self).items() if k not in ("params", "state", "steps", "_lr")}
        )
        inner = ", ".join(f"{k}={v}" for k, v in hyper.items())
        return f"{type(self).__name__}({inner})"

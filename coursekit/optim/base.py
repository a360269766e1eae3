"""The one interface every coursekit optimiser shares.

Like ``torch.optim``, an optimiser is built on a list of parameter arrays and updates
them **in place**; unlike torch, the gradients are passed to ``step`` explicitly,
because numpy arrays carry no ``.grad``::

    w = np.array([1.0, 2.0])
    opt = SGD([w], lr=0.1)
    for _ in range(100):
        opt.step([problem.grad(w)])

    model = MLP([64, 32, 10])
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    ...
    model.backward(loss.backward())
    opt.step(model.gradients())

State is explicit and inspectable: ``opt.state[i]`` is a dict for parameter ``i``
(momentum buffer, step sizes, previous gradient...), created lazily on the first step
as PyTorch does; ``opt.steps`` counts calls to ``step``. ``opt.lr`` may be changed
between steps (that is what a schedule does).
"""

from __future__ import annotations

import numpy as np

from .._checks import in_range

__all__ = ["Optimizer"]


class Optimizer:
    """Base class. Subclasses implement ``_update(i, p, g, state)``, changing ``p`` in place."""

    def __init__(self, params, lr: float):
        if isinstance(params, np.ndarray):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError(
                f"{type(self).__name__}: expected a non-empty list of parameter arrays"
            )
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} must be a float numpy array "
                    f"(updated in place), got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
                )
        self.params = params
        self.lr = in_range(float(lr), f"{type(self).__name__} lr", low=0.0, low_open=True)
        self.state: list[dict] = [{} for _ in params]
        self.steps = 0

    def step(self, grads) -> None:
        """Apply one update given the gradients, one array per parameter, in order."""
        if isinstance(grads, np.ndarray) and len(self.params) == 1:
            grads = [grads]
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(
                f"{type(self).__name__}.step: expected {len(self.params)} gradient arrays, got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(self.params, grads)):
            g = np.asarray(g)
            if g.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: gradient {i} expected shape {p.shape}, got {g.shape}"
                )
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(
                    f"{type(self).__name__}.step {self.steps}: gradient {i} has NaN/inf entries "
                    "(the iterates diverged; lower the learning rate)"
                )
            self._update(i, p, g, self.state[i])
        self.steps += 1

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, state: dict
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self):
        hyper = {k: v for k, v in vars(self).items() if k not in ("params", "state", "steps")}
        inner = ", ".join(f"{k}={v}" for k, v in hyper.items())
        return f"{type(self).__name__}({inner})"

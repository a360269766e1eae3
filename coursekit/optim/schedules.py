r"""Learning-rate schedules: they set ``optimizer.lr`` between steps, like PyTorch's schedulers.

Usage, as in ``torch.optim.lr_scheduler``: build the schedule on an optimiser, then call
``schedule.step()`` once per epoch *after* ``optimizer.step(...)``::

    opt = SGD([w], lr=0.5)
    sched = InverseDecay(opt)            # opt.lr = 0.5, 0.25, 0.1667, ...
    for epoch in range(100):
        opt.step([problem.grad(w)])
        sched.step()

``sched.last_epoch`` counts calls to ``step`` (``k`` below), ``sched.base_lr`` is the
optimiser's ``lr`` when the schedule was built ($\eta_0$), and ``sched.lrs`` lists
every learning rate the schedule has set, starting with $\eta_0$, for plotting.

One protocol for every schedule: ``step(metric=None)`` once per epoch. A schedule that
monitors a metric (:class:`ReduceOnPlateau`) needs it; the others ignore it, so a
training loop calls every schedule the same way,
``schedule.step(validation_loss)`` (:func:`coursekit.minibatch.train_minibatch` does).
"""

from __future__ import annotations

import math

from .._checks import in_range
from .base import Optimizer

__all__ = ["Schedule", "InverseDecay", "InverseSquareDecay", "ExponentialDecay", "ReduceOnPlateau"]


class Schedule:
    """Base class: subclasses implement ``_next_lr()``, the ``lr`` for epoch ``last_epoch``."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected a coursekit Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.lrs = [self.base_lr]

    def step(self, metric: float | None = None) -> None:
        """Advance one epoch and set ``optimizer.lr``; ``metric`` (the monitored loss) is
        ignored by schedules that follow a fixed curve."""
        self.last_epoch += 1
        self._set(self._next_lr())

    def _set(self, lr: float) -> None:
        self.optimizer.lr = lr
        self.lrs.append(lr)

    def get_last_lr(self) -> float:
        """The learning rate set last (PyTorch's name; a float, not a list of groups)."""
        return self.optimizer.lr

    def _next_lr(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(base_lr={self.base_lr}, last_epoch={self.last_epoch})"


class InverseDecay(Schedule):
    r"""$\eta_k = \eta_0 / (k + 1)$ (the lecture's "linear decay").

    Same as ``LambdaLR(opt, lambda k: 1 / (k + 1))``. The steps sum to infinity (the
    harmonic series) while their squares do not: the classic Robbins-Monro condition.
    """

    def _next_lr(self):
        return self.base_lr / (self.last_epoch + 1)


class InverseSquareDecay(Schedule):
    r"""$\eta_k = \eta_0 / (k + 1)^2$ (the lecture's "quadratic decay").

    Same as ``LambdaLR(opt, lambda k: 1 / (k + 1) ** 2)``. The steps sum to
    $\eta_0 \pi^2 / 6$, so the iterates can travel only a bounded distance: decays
    this fast can stop short of the minimum.
    """

    def _next_lr(self):
        return self.base_lr / (self.last_epoch + 1) ** 2


class ExponentialDecay(Schedule):
    r"""$\eta_k = \eta_0 \gamma^k$, ``torch.optim.lr_scheduler.ExponentialLR``.

    The lecture writes $\eta_0 e^{-\beta k}$, i.e. $\gamma = e^{-\beta}$. As in
    PyTorch the update is multiplicative (``lr <- gamma * lr`` each epoch), so it composes
    with other changes of ``optimizer.lr``. ``gamma`` must lie in ``(0, 1]``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = in_range(
            float(gamma), "ExponentialDecay gamma", low=0.0, high=1.0, low_open=True
        )

    def _next_lr(self):
        return self.optimizer.lr * self.gamma


class ReduceOnPlateau(Schedule):
    r"""``torch.optim.lr_scheduler.ReduceLROnPlateau``: cut ``lr`` when a metric stalls.

    Call ``step(metric)`` once per epoch with the monitored value (a loss for
    ``mode="min"``). A value is an *improvement* on the best so far when

    * ``mode="min"``: ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or
      ``metric < best - threshold`` (``"abs"``); ``mode="max"``: the mirror image.

    After more than ``patience`` epochs without improvement,
    $\eta \leftarrow \max(\text{factor}\cdot\eta, \text{min\_lr})$ (skipped when the
    change is below ``eps``), the bad-epoch count restarts, and the next ``cooldown``
    epochs are not counted. This is the lecture's "train with a fixed rate until the loss
    stagnates, then multiply it by alpha < 1" rule. State: ``best``, ``num_bad_epochs``,
    ``cooldown_counter``, PyTorch's names.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ):
        super().__init__(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceOnPlateau: expected mode 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceOnPlateau: expected threshold_mode 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor = in_range(float(factor), "ReduceOnPlateau factor", 0.0, 1.0, True, True)
        self.patience = in_range(int(patience), "ReduceOnPlateau patience", low=0)
        self.threshold = in_range(float(threshold), "ReduceOnPlateau threshold", low=0.0)
        self.cooldown = in_range(int(cooldown), "ReduceOnPlateau cooldown", low=0)
        self.min_lr = in_range(float(min_lr), "ReduceOnPlateau min_lr", low=0.0)
        self.eps = in_range(float(eps), "ReduceOnPlateau eps", low=0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _is_better(self, a: float) -> bool:
        sign = 1.0 if self.mode == "min" else -1.0
        if self.threshold_mode == "rel":
            return sign * a < sign * self.best * (1 - sign * self.threshold)
        return sign * a < sign * self.best - self.threshold

    def step(self, metric: float | None = None) -> None:
        """Record this epoch's ``metric`` (required) and cut ``optimizer.lr`` if it has plateaued."""
        if metric is None:
            raise ValueError(
                "ReduceOnPlateau.step: expected the monitored metric (e.g. the validation "
                "loss), got None"
            )
        current = float(metric)
        if not math.isfinite(current):
            raise ValueError(f"ReduceOnPlateau.step: expected a finite metric, got {current}")
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        lr = self.optimizer.lr
        if self.num_bad_epochs > self.patience:
            new_lr = max(lr * self.factor, self.min_lr)
            if lr - new_lr > self.eps:
                lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._set(lr)

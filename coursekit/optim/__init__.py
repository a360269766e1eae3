"""Optimisers behind one interface (see :mod:`coursekit.optim.base`)."""

from .base import Optimizer

__all__ = ["Optimizer"]

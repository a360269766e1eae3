"""Optimisers behind one interface (see :mod:`coursekit.optim.base`), and LR schedules.

``from coursekit.optim import SGD, Adam`` works; each class lives in the module named
in ``_EXPORTS`` and is imported on first use, so a notebook pays only for what it uses.
"""

from importlib import import_module

from .base import Optimizer

_EXPORTS = {
    # plain and accelerated gradient descent (PyTorch's SGD and the lecture's forms)
    "GD": "sgd",
    "SGD": "sgd",
    "Momentum": "sgd",
    "Nesterov": "sgd",
    # second order and per-dimension methods
    "Newton": "newton",
    "Rprop": "rprop",
    "RpropLecture": "rprop",
    "RpropSlide": "rprop",
    "QuickProp": "quickprop",
    # adaptive methods
    "Adagrad": "adaptive",
    "RMSprop": "adaptive",
    "Adam": "adaptive",
    # learning-rate schedules
    "Schedule": "schedules",
    "InverseDecay": "schedules",
    "InverseSquareDecay": "schedules",
    "ExponentialDecay": "schedules",
    "ReduceOnPlateau": "schedules",
}

__all__ = ["Optimizer", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'coursekit.optim' has no attribute {name!r}")

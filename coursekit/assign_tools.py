r"""Small tools the graded assignments hand to the student (assignment 3's sealed test set).

- :class:`SealedTest`: a test set that can be read only through :meth:`SealedTest.accuracy`,
  which counts how often it is called and fingerprints the parameters of the model it
  measured. A pipeline that reports "the best test accuracy" honestly calls it exactly once,
  after its last training step, and reports the number it returned; assignment 3's q6 check
  reads ``calls``, ``fingerprint`` and ``result`` to say so. The student is trusted not to
  read the private tensors; the checks only judge what the pipeline did with the counter.

  This is the discipline of a held-out test set (lecture 08: the test set is used once, at
  the end, after every choice has been made on a validation set), made visible.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

__all__ = ["SealedTest", "fingerprint"]


def fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes (on the host, in order): equal iff the weights are."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class SealedTest:
    r"""A held-out test set ``X`` (N, D), ``y`` (N,) that a pipeline may read once.

    ``accuracy(model)`` returns the fraction of samples whose largest score is the label
    (a Python float; the model is evaluated without building a graph, on the device of its
    parameters). Every call is counted in ``calls``; the last one's value is ``result``
    and the fingerprint of the model's weights at that moment is ``fingerprint``. It does
    not refuse a second call: the check reports it.
    """

    def __init__(self, X, y):
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim != 2 or y.shape != (len(X),):
            raise ValueError(f"expected X (N, D) and y (N,), got {X.shape} and {y.shape}")
        self._X, self._y = X, y
        self.calls = 0
        self.result: float | None = None
        self.fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self._y)

    def accuracy(self, model: torch.nn.Module) -> float:
        """Test accuracy of ``model`` (counted: a pipeline calls this once, last)."""
        param = next(model.parameters())
        X = torch.as_tensor(self._X, dtype=param.dtype, device=param.device)
        y = torch.as_tensor(self._y, device=param.device)
        with torch.no_grad():
            acc = (model(X).argmax(dim=1) == y).double().mean().item()
        self.calls += 1
        self.result, self.fingerprint = acc, fingerprint(model)
        return acc

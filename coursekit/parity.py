r"""A coursekit optimiser against its ``torch.optim`` counterpart, step by step, on one network.

:func:`side_by_side` trains a :class:`coursekit.layers.Sequential` network with a coursekit
optimiser and its copy in PyTorch (:func:`coursekit.torch_utils.to_torch`, float64) with a
``torch.optim`` optimiser, full batch on the same data, and returns the largest difference
between any parameter of the two after any step. Autograd is the independent oracle for the
gradients, ``torch.optim`` for the update rule: two implementations of the same method
agree to rounding (about 1e-15), a method with another hyperparameter does not.
"""

from __future__ import annotations

import numpy as np

__all__ = ["side_by_side"]


def side_by_side(model, optimizer, torch_optimizer, X, y, steps: int = 50) -> float:
    r"""Largest $|w_{coursekit} - w_{torch}|$ over all parameters and ``steps`` steps.

    ``optimizer``: ``make(params)`` for a coursekit optimiser (e.g. ``lambda p: Rprop(p)``);
    ``torch_optimizer``: ``make(params)`` for a torch one (e.g.
    ``lambda p: torch.optim.Rprop(p)``). Loss: mean cross-entropy on class indices ``y``
    (``CrossEntropyLoss`` and ``torch.nn.functional.cross_entropy``). ``model`` is trained
    in place; its torch copy is made first, so both start from the same weights.
    """
    import torch

    from .losses import CrossEntropyLoss
    from .torch_utils import to_torch

    net = to_torch(model)
    loss = CrossEntropyLoss()
    opt, topt = optimizer(model.parameters()), torch_optimizer(net.parameters())
    Xt, yt = torch.from_numpy(np.asarray(X, dtype=np.float64)), torch.from_numpy(np.asarray(y))
    worst = 0.0
    for _ in range(int(steps)):
        loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        opt.step(model.gradients())
        topt.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        topt.step()
        for p, t in zip(model.parameters(), net.parameters(), strict=True):
            worst = max(worst, float(np.abs(p - t.detach().numpy()).max()))
    return worst

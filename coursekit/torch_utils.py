"""PyTorch helpers for the GPU sections: the device, seeding, models and a training loop.

Everything runs on CUDA when ``torch.cuda.is_available()`` and on the CPU otherwise.
:func:`train_torch` returns the same :class:`~coursekit.training.History` as
:func:`coursekit.minibatch.train_minibatch` (same keys, same batch order for the same
seed), so a numpy model and its torch copy can be trained side by side and compared.
Results on CUDA differ from the CPU's in the last digits (other kernels, float32 by
default in most code): compare them with tolerances, never digit for digit.
"""

from __future__ import annotations

import copy
import random
import time

import numpy as np
import torch

from .layers import ACTIVATIONS, Linear, Sequential
from .minibatch import _check_batching, batches, num_batches
from .training import DivergenceError, History, progress

__all__ = [
    "device",
    "device_message",
    "seed_everything",
    "mlp_torch",
    "to_torch",
    "copy_params_to_torch",
    "copy_params_from_torch",
    "train_torch",
    "run_epoch_torch",
    "throughput",
]

_TORCH_ACTIVATIONS = {
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "identity": torch.nn.Identity,
    "softmax": lambda: torch.nn.Softmax(dim=-1),
}


def device_message(dev: torch.device) -> str:
    """A one-line description: ``"using CUDA (NVIDIA H100)"`` or ``"using CPU (no CUDA device found)"``."""
    if dev.type == "cuda":
        return f"using CUDA ({torch.cuda.get_device_name(dev)})"
    if torch.cuda.is_available():
        return "using CPU (CUDA is available but was not requested)"
    return "using CPU (no CUDA device found)"


def device(prefer: str = "cuda", verbose: bool = True) -> torch.device:
    """``cuda`` when asked for and available, else ``cpu``; prints which unless ``verbose=False``."""
    if prefer not in ("cuda", "cpu"):
        raise ValueError(f"device: expected prefer='cuda' or 'cpu', got {prefer!r}")
    dev = torch.device("cuda" if prefer == "cuda" and torch.cuda.is_available() else "cpu")
    if verbose:
        print(device_message(dev))
    return dev


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what this seeds
    torch.manual_seed(seed)  # also seeds every CUDA device


def mlp_torch(
    sizes, activation: str = "relu", output: str | None = None, dtype=torch.float64
) -> torch.nn.Sequential:
    """``torch.nn.Sequential`` laid out like :class:`coursekit.layers.MLP` (same state_dict keys).

    ``mlp_torch([64, 32, 10])`` is ``Linear(64, 32), ReLU(), Linear(32, 10)``; torch's own
    initialisation (the same distribution as coursekit's, other random numbers).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"mlp_torch: expected at least two positive layer sizes, got {sizes}")
    names = [activation] + ([] if output is None else [output])
    for name in names:
        if name not in _TORCH_ACTIVATIONS:
            raise ValueError(
                f"mlp_torch: unknown activation {name!r}, expected one of {sorted(_TORCH_ACTIVATIONS)}"
            )
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(_TORCH_ACTIVATIONS[activation]())
    if output is not None:
        layers.append(_TORCH_ACTIVATIONS[output]())
    return torch.nn.Sequential(*layers)


def to_torch(model: Sequential, dtype=torch.float64) -> torch.nn.Sequential:
    """A torch copy of a coursekit ``Sequential`` (Linear, BatchNorm1d, activations): same
    weights, same running statistics, same train/eval mode."""
    from .batchnorm import BatchNorm1d

    layers: list[torch.nn.Module] = []
    by_class = {cls: name for name, cls in ACTIVATIONS.items()}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear):
            layers.append(
                torch.nn.Linear(
                    layer.in_features, layer.out_features, bias="bias" in layer.params, dtype=dtype
                )
            )
        elif isinstance(layer, BatchNorm1d):
            layers.append(
                torch.nn.BatchNorm1d(
                    layer.num_features,
                    eps=layer.eps,
                    momentum=layer.momentum,
                    affine=layer.affine,
                    track_running_stats=layer.track_running_stats,
                    dtype=dtype,
                )
            )
        elif type(layer) in by_class:
            layers.append(_TORCH_ACTIVATIONS[by_class[type(layer)]]())
        else:
            raise TypeError(
                f"to_torch: layer {i} is {type(layer).__name__}; "
                "expected Linear, BatchNorm1d or an activation"
            )
    module = torch.nn.Sequential(*layers)
    copy_params_to_torch(model, module)
    return module.train(model.training)


def copy_params_to_torch(model: Sequential, module: torch.nn.Module) -> None:
    """Copy every coursekit parameter and buffer (BatchNorm's running statistics) into
    ``module``, matching names such as ``"0.weight"`` and ``"1.running_mean"``."""
    ref = module.state_dict()
    ours = model.state_dict()
    if set(ours) != set(ref):
        raise KeyError(
            f"copy_params_to_torch: coursekit names {sorted(ours)} differ from torch's {sorted(ref)}"
        )
    module.load_state_dict(
        {k: torch.as_tensor(v, dtype=ref[k].dtype, device=ref[k].device) for k, v in ours.items()}
    )


def copy_params_from_torch(module: torch.nn.Module, model: Sequential) -> None:
    """Copy ``module``'s parameters into the coursekit model's arrays, in place."""
    model.load_state_dict(
        {k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items()}
    )


def _as_tensors(X, y, dtype, dev):
    Xt = torch.as_tensor(np.asarray(X), dtype=dtype, device=dev)
    yt = torch.as_tensor(np.asarray(y), device=dev)
    return Xt, (yt.long() if yt.dtype in (torch.int32, torch.int64) else yt.to(dtype))


@torch.no_grad()
def _evaluate(module, loss_fn, X, y, prefix):
    module.eval()
    out = module(X)
    record = {f"{prefix}_loss": loss_fn(out, y).item()}
    if y.dtype == torch.long:
        record[f"{prefix}_acc"] = (out.argmax(dim=1) == y).double().mean().item()
    module.train()
    return record


def run_epoch_torch(
    module,
    loss_fn,
    X,
    y,
    optimizer,
    batch_size,
    rule="shuffle",
    drop_last=False,
    rng=None,
    epoch=0,
    it=0,
):
    """One epoch of mini-batch steps in PyTorch, the twin of :func:`coursekit.minibatch.run_epoch`.

    ``X``, ``y`` tensors on the module's device; batches from
    :func:`~coursekit.minibatch.batches` with the numpy generator ``rng``. Returns the
    iteration count after the epoch; raises :class:`DivergenceError` when the last batch
    loss is NaN/inf (checked once per epoch, so the GPU is not synchronised every step).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    for idx in batches(len(X), batch_size, rule, drop_last, rng):
        idx_t = torch.as_tensor(idx, device=X.device)
        optimizer.zero_grad()
        value = loss_fn(module(X[idx_t]), y[idx_t])
        value.backward()
        optimizer.step()
        it += 1
    if not torch.isfinite(value):
        raise DivergenceError(
            f"the batch loss became non-finite (NaN or inf) by epoch {epoch}, "
            f"iteration {it}: training diverged; lower the learning rate"
        )
    return it


def train_torch(
    module: torch.nn.Module,
    X,
    y,
    optimizer: torch.optim.Optimizer,
    epochs: int = 10,
    batch_size: int = 32,
    X_val=None,
    y_val=None,
    loss_fn=None,
    rule: str = "shuffle",
    drop_last: bool = False,
    dev: torch.device | None = None,
    seed: int = 0,
    show_progress: bool | None = None,
) -> History:
    """Mini-batch training in PyTorch, logged like :func:`~coursekit.minibatch.train_minibatch`.

    ``module`` is moved to ``dev`` (default: :func:`device`, silently) before training;
    ``optimizer`` must be built on ``module.parameters()``, before or after the move.
    ``X`` ``(N, D)`` numpy or tensor, converted to the module's dtype; ``y`` class indices
    (default loss ``CrossEntropyLoss``; accuracy is logged for integer labels). Records:
    ``step`` (epochs done, from 0), ``iteration``, ``lr``, ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc``. Batches come from :func:`coursekit.minibatch.batches` with
    ``numpy.random.default_rng(seed)``, the same order as ``train_minibatch(rng=seed)``.
    Only the loss at the end of an epoch is checked for NaN/inf (checking each batch
    would synchronise the GPU every step); a divergence raises :class:`DivergenceError`.
    """
    dev = device(verbose=False) if dev is None else torch.device(dev)
    seed_everything(seed)
    module.to(dev)
    dtype = next(module.parameters()).dtype
    X, y = _as_tensors(X, y, dtype, dev)
    _check_batching(len(X), batch_size, rule)
    data = {"train": (X, y)}
    if X_val is not None:
        data["val"] = _as_tensors(X_val, y_val, dtype, dev)
    loss_fn = torch.nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    rng, hist = np.random.default_rng(seed), History()

    def log(step, it):
        record = {"step": step, "iteration": it, "lr": optimizer.param_groups[0]["lr"]}
        for prefix, (Xs, ys) in data.items():
            record.update(_evaluate(module, loss_fn, Xs, ys, prefix))
        hist.log(**record)

    log(0, 0)
    it = 0
    show = (
        epochs * num_batches(len(X), batch_size, drop_last) > 5000
        if show_progress is None
        else show_progress
    )
    for epoch in progress(range(1, epochs + 1), total=epochs, desc="epochs", disable=not show):
        it = run_epoch_torch(
            module, loss_fn, X, y, optimizer, batch_size, rule, drop_last, rng, epoch, it
        )
        log(epoch, it)
    return hist


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _train_batches(module, loss_fn, X, y, opt, batch_size, gen, count):
    for _ in range(count):
        idx = torch.as_tensor(gen.integers(0, len(X), size=batch_size), device=X.device)
        opt.zero_grad()
        loss_fn(module(X[idx]), y[idx]).backward()
        opt.step()


def throughput(
    module: torch.nn.Module,
    X,
    y,
    batch_sizes,
    dev: torch.device | None = None,
    lr: float = 0.01,
    min_time: float = 0.2,
    loss_fn=None,
) -> dict[int, float]:
    """Training samples per second (forward, backward, SGD step) for each batch size.

    A copy of ``module`` is trained on random batches of ``X``, ``y`` on ``dev``: three
    warm-up batches, then batches until ``min_time`` seconds have passed (at least five),
    timed with the device synchronised. Returns ``{batch_size: samples/s}``. Timings
    depend on the machine and its load: print them in unchecked cells only.
    """
    dev = device(verbose=False) if dev is None else torch.device(dev)
    loss_fn = torch.nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    result = {}
    for b in batch_sizes:
        _check_batching(len(X), b, "random")
        net = copy.deepcopy(module).to(dev)
        Xt, yt = _as_tensors(X, y, next(net.parameters()).dtype, dev)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        gen = np.random.default_rng(0)
        _train_batches(net, loss_fn, Xt, yt, opt, b, gen, 3)
        _sync(dev)
        count, start = 0, time.perf_counter()
        while count < 5 or time.perf_counter() - start < min_time:
            _train_batches(net, loss_fn, Xt, yt, opt, b, gen, 5)
            count += 5
        _sync(dev)
        result[int(b)] = count * b / (time.perf_counter() - start)
    return result

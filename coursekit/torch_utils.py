r"""PyTorch helpers for the GPU sections: the device, seeding, models and a training loop.

Everything runs on CUDA when ``torch.cuda.is_available()`` and on the CPU otherwise.
:func:`train_torch` keeps the contract of :mod:`coursekit.training` and returns the same
:class:`~coursekit.history.History` as :func:`coursekit.minibatch.train_minibatch` (same
keys, same batch order for the same ``rng``), so a numpy model and its torch copy can be
trained side by side and compared. It moves the module to the device *before* the
optimiser exists (pass a factory, ``optimizer=lambda params: torch.optim.Adam(params)``),
so no optimiser state is left on another device. Results on CUDA differ from the CPU's
in the last digits (other kernels, float32 by default in most code): compare them with
tolerances, never digit for digit.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TypeAlias, Union

import numpy as np
import torch

from . import seeding
from ._checks import rng_or_seed
from .history import History, progress
from .layers import ACTIVATIONS, Linear, Sequential
from .minibatch import _check_batching, batches, num_batches
from .models import mlp, torch_activation
from .training import check_data, diverged, evaluate_all, metric_for_targets, resolve_metric

__all__ = [
    "device",
    "device_message",
    "mlp_torch",
    "to_torch",
    "copy_params_to_torch",
    "copy_params_from_torch",
    "train_torch",
    "run_epoch_torch",
    "throughput",
    "default_metric_torch",
]

# an optimiser, or better a factory params -> optimiser (see train_torch)
OptimizerArg: TypeAlias = Union[torch.optim.Optimizer, Callable[..., torch.optim.Optimizer]]  # noqa: UP007


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


def mlp_torch(
    sizes, activation: str = "relu", output: str | None = None, dtype=torch.float64
) -> torch.nn.Sequential:
    """``coursekit.models.mlp(sizes, activation, output=output, backend="torch", dtype=dtype)``.

    Kept for solutions/03 until it moves to :func:`coursekit.models.mlp`; use that.
    """
    return mlp(sizes, activation, output=output, backend="torch", dtype=dtype)


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
            layers.append(torch_activation(by_class[type(layer)]))
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
    Xt = torch.as_tensor(X, dtype=dtype, device=dev)
    yt = torch.as_tensor(y, device=dev)
    return Xt, (yt.long() if yt.dtype in (torch.int32, torch.int64) else yt.to(dtype))


def _host(x) -> np.ndarray:
    """A numpy copy of a tensor (float64 for floating dtypes numpy lacks), or ``x`` as an array."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.is_floating_point() and x.dtype not in (torch.float32, torch.float64):
            x = x.double()
        return x.cpu().numpy()
    return np.asarray(x)


def default_metric_torch(loss_fn, targets=None):
    """:func:`coursekit.training.default_metric` for a ``torch.nn`` loss: argmax for
    ``CrossEntropyLoss``/``NLLLoss``, a threshold of 0.5 for ``BCELoss``, 0 for
    ``BCEWithLogitsLoss``/``SoftMarginLoss``, else read from the targets. The metric
    takes numpy arrays (:func:`train_torch` hands it the outputs copied to the host)."""
    from .training import binary_accuracy, class_accuracy

    if isinstance(loss_fn, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
        return class_accuracy
    if isinstance(loss_fn, torch.nn.BCELoss):
        return binary_accuracy(0.5)
    if isinstance(loss_fn, (torch.nn.BCEWithLogitsLoss, torch.nn.SoftMarginLoss)):
        return binary_accuracy(0.0)
    return metric_for_targets(targets)


def _same_device(a: torch.device, b: torch.device) -> bool:
    """``cuda`` and ``cuda:0`` are the same device when one of them has no index."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


_FACTORY_HINT = (
    "pass a factory instead, e.g. optimizer=lambda params: torch.optim.Adam(params, lr=1e-3): "
    "train_torch builds it after moving the module to the device"
)


def _check_optimizer(opt: torch.optim.Optimizer, module: torch.nn.Module, dev: torch.device):
    """An optimiser built before :func:`train_torch` is accepted only if it optimises
    exactly the module's parameters and every state tensor lives where its parameter now
    lives: ``torch.optim.Adagrad`` creates its state when it is built, so one built on a
    CPU module keeps that state on the CPU after the module moves to CUDA."""
    own = {id(p) for p in module.parameters()}
    theirs = [p for group in opt.param_groups for p in group["params"]]
    if {id(p) for p in theirs} != own:
        foreign = sum(id(p) not in own for p in theirs)
        raise ValueError(
            f"train_torch: the optimiser does not optimise exactly this module's parameters "
            f"({foreign} of its {len(theirs)} are not among the module's {len(own)}): it was "
            f"built on another module, on part of it, or before moving the module to {dev} "
            f"replaced them; {_FACTORY_HINT}"
        )
    for p in theirs:
        if not _same_device(p.device, dev):
            raise ValueError(
                f"train_torch: an optimised parameter is on {p.device}, not on {dev}; "
                + _FACTORY_HINT
            )
        for key, value in opt.state.get(p, {}).items():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                if not _same_device(value.device, dev):
                    raise ValueError(
                        f"train_torch: the optimiser's state {key!r} is on {value.device} but "
                        f"the module is on {dev} (the optimiser was built before the module "
                        f"moved); {_FACTORY_HINT}"
                    )


def _optimizer_for(optimizer: OptimizerArg, module: torch.nn.Module, dev: torch.device):
    if isinstance(optimizer, torch.optim.Optimizer):
        _check_optimizer(optimizer, module, dev)
        return optimizer
    if not callable(optimizer):
        raise TypeError(
            "train_torch: expected optimizer to be a function params -> torch.optim.Optimizer "
            f"or a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    opt = optimizer(module.parameters())
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(
            f"train_torch: the optimizer factory returned {type(opt).__name__}, "
            "expected a torch.optim.Optimizer"
        )
    return opt


def run_epoch_torch(
    module,
    loss_fn,
    X,
    y,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    *,
    rule: str = "shuffle",
    drop_last: bool = False,
    rng=None,
    epoch: int = 0,
    it: int = 0,
) -> int:
    """One epoch of mini-batch steps in PyTorch, the twin of :func:`coursekit.minibatch.run_epoch`.

    ``X``, ``y`` tensors on the module's device; batches from
    :func:`~coursekit.minibatch.batches` with the numpy generator ``rng`` (``None``: the
    course seed). Returns the iteration count after the epoch; raises
    :class:`~coursekit.errors.DivergenceError` when the last batch loss is NaN/inf
    (checked once per epoch, so the GPU is not synchronised every step).
    """
    rng = seeding.make_rng(rng)
    value = None
    for idx in batches(len(X), batch_size, rule, drop_last, rng):
        idx_t = torch.as_tensor(idx, device=X.device)
        optimizer.zero_grad()
        value = loss_fn(module(X[idx_t]), y[idx_t])
        value.backward()
        optimizer.step()
        it += 1
    if value is not None and not torch.isfinite(value):
        raise diverged("the batch loss", f"by epoch {epoch}, iteration {it}")
    return it


def train_torch(
    module: torch.nn.Module,
    X,
    y,
    optimizer: OptimizerArg,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    X_val=None,
    y_val=None,
    loss_fn=None,
    rule: str = "shuffle",
    drop_last: bool = False,
    dev: torch.device | str | None = None,
    rng=None,
    metric="accuracy",
    show_progress: bool | None = None,
    seed=None,
) -> History:
    """Mini-batch training in PyTorch, logged like :func:`~coursekit.minibatch.train_minibatch`.

    ``module`` is moved to ``dev`` (default: :func:`device`, silently) first. Then the
    optimiser: ``optimizer`` is best a factory, ``lambda params: torch.optim.Adagrad(params,
    lr=0.1)``, called on the moved module's parameters, so its state is created on the
    device. An optimiser built beforehand is accepted only when it optimises exactly
    the module's parameters and holds no state on another device (a ``ValueError`` says
    what to pass instead): ``torch.optim.Adagrad`` creates its state when built, so one
    built on a CPU module cannot follow the module to CUDA.

    ``X`` ``(N, D)`` numpy or tensor, converted to the module's dtype; ``y`` targets
    (class indices for the default ``CrossEntropyLoss``), checked as every loop checks
    them (:func:`coursekit.training.check_data`). ``metric="accuracy"`` picks the decision
    rule from the loss (:func:`default_metric_torch`), ``None`` logs none, or pass a
    function ``(scores, labels) -> float`` of numpy arrays. Records: ``step`` (epochs
    done, from 0), ``iteration``, ``lr``, ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``, evaluated in ``eval()`` mode. ``rng``: the batches come from
    :func:`coursekit.minibatch.batches` with ``make_rng(rng)``, the same order as
    ``train_minibatch(rng=rng)``; an integer or ``None`` (the course seed) also seeds
    torch, numpy's global generator and ``random`` first (:func:`coursekit.seeding.seed`).
    ``seed=`` is the old name of ``rng`` (kept for solutions/03 until it moves to ``rng=``). Only the loss at the end of
    an epoch is checked for NaN/inf (checking each batch would synchronise the GPU every
    step); a divergence raises :class:`~coursekit.errors.DivergenceError`.
    """
    rng = rng_or_seed(rng, seed, "train_torch")  # kept for solutions/03 until it moves to rng=
    dev = device(verbose=False) if dev is None else torch.device(dev)
    Xh, yh, Xvh, yvh = check_data(
        _host(X),
        _host(y),
        None if X_val is None else _host(X_val),
        None if y_val is None else _host(y_val),
        name="train_torch",
    )
    if int(epochs) < 1:
        raise ValueError(f"train_torch: expected epochs >= 1, got {epochs}")
    _check_batching(len(Xh), batch_size, rule)
    if not isinstance(rng, np.random.Generator):
        rng = seeding.seed(rng)
    module.to(dev)
    opt = _optimizer_for(optimizer, module, dev)
    loss_fn = torch.nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    chosen = resolve_metric(metric, lambda: default_metric_torch(loss_fn, yh), "train_torch")
    on_host = None if chosen is None else (lambda out, t: chosen(_host(out), _host(t)))
    dtype = next(module.parameters()).dtype
    data = {"train": _as_tensors(X if isinstance(X, torch.Tensor) else Xh, yh, dtype, dev)}
    if Xvh is not None:
        Xv = X_val if isinstance(X_val, torch.Tensor) else Xvh
        data["val"] = _as_tensors(Xv, yvh, dtype, dev)
    gen, hist = seeding.make_rng(rng), History()

    def log(epoch: int, it: int) -> None:
        record = {"step": epoch, "iteration": it, "lr": opt.param_groups[0]["lr"]}
        with torch.no_grad():
            record.update(evaluate_all(module, loss_fn, data, on_host, f"after epoch {epoch}"))
        hist.log(**record)

    module.train()
    log(0, 0)
    it = 0
    show = (
        epochs * num_batches(len(Xh), batch_size, drop_last) > 5000
        if show_progress is None
        else show_progress
    )
    Xt, yt = data["train"]
    for epoch in progress(range(1, epochs + 1), total=epochs, desc="epochs", disable=not show):
        it = run_epoch_torch(
            module,
            loss_fn,
            Xt,
            yt,
            opt,
            batch_size,
            rule=rule,
            drop_last=drop_last,
            rng=gen,
            epoch=epoch,
            it=it,
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

r"""What a GPU changes: placement, precision, and timing that waits for the device.

Everything here runs on CUDA when it is asked for and on the CPU otherwise, through the
same code: the CUDA-only calls (``torch.cuda.synchronize``, pinned memory, the TF32
switch, device properties) sit behind small guards that do nothing, or the CPU's
equivalent, on the CPU. Lecture 12 and ``benchmarks/bench_gpu.py`` are built on it.

- :class:`Placement`: *where* tensors live and *in which precision*, the one place every
  tensor of an experiment is created (``placement.tensor(X)``, ``placement.mlp(sizes)``,
  ``placement.sgd(model)``). A model and its optimiser built through it cannot live on
  two devices, and :meth:`Placement.check` says which tensor strayed if one did.
- :class:`Precision` and :data:`PRECISIONS`: float64, float32, TF32 (float32 storage,
  matrix products on TF32 tensor cores: CUDA only, plain float32 elsewhere), bfloat16
  with float32 master weights (``torch.autocast``), and bfloat16 weights (no float32
  copy: the wrong way, kept to show what is lost).
- :func:`time_steps`: seconds per step read twice in one run, before and after
  :func:`synchronize`. A CUDA call returns as soon as its kernel is *queued*, so the
  first reading measures how fast Python queues work, the second how fast the device
  does it. On the CPU the two agree.
- :func:`scan_batch_sizes`: step time against batch size, doubling until the samples
  per second stop growing; :func:`fit_step_time` fits $t(b) = t_0 + b/R$.
- :func:`mlp_efficiency`: FLOP/s of a training step of a wide MLP against the rate of
  its own matrix products measured in the same run.
- :func:`copy_pipelines`: batches copied from the host each step (pageable memory, or
  pinned memory with ``non_blocking=True``) against data already on the device.
- :func:`precision_losses`, :func:`batch_scaling` (:func:`steps_to_accuracy` over
  batch sizes, learning rate scaled), :func:`reduction_gap`: the loss each precision
  reaches, the steps to a target accuracy against the batch size, and how far two runs
  that differ only in the order of a sum drift apart.

Timings depend on the machine and its load: print them in unchecked cells. The
``*_verdict`` functions turn measurements into text that holds on the CPU and on CUDA.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from .checks import close, passed
from .seeding import make_rng

__all__ = [
    "synchronize",
    "describe",
    "Precision",
    "PRECISIONS",
    "get_precision",
    "tf32_supported",
    "tf32",
    "Placement",
    "mlp_step_flops",
    "counted_flops",
    "largest_batch",
    "batch_order",
    "TrainStep",
    "StepTiming",
    "clock",
    "time_steps",
    "measure",
    "median_times",
    "BatchScan",
    "scan_batch_sizes",
    "fit_step_time",
    "sync_verdict",
    "rise_verdict",
    "Efficiency",
    "matmul_rate",
    "mlp_efficiency",
    "efficiency_verdict",
    "Pipelines",
    "copy_pipelines",
    "copy_verdict",
    "precision_losses",
    "precision_verdicts",
    "stalls_verdict",
    "steps_to_accuracy",
    "batch_scaling",
    "scaling_verdict",
    "reduction_gap",
    "calm_verdict",
    "drift_verdict",
]


# ----------------------------------------------------------------------------- the device


def _as_device(dev) -> torch.device:
    return dev if isinstance(dev, torch.device) else torch.device(dev)


def synchronize(dev) -> None:
    """Wait until the device has finished all queued work (CUDA); nothing to wait for on
    the CPU, whose operations return when they are done."""
    dev = _as_device(dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def describe(dev) -> str:
    """One line about the device: name, multiprocessors and memory on CUDA; the processor,
    torch's thread count and vector instruction set on the CPU. Machine-dependent: print
    it in an unchecked cell."""
    dev = _as_device(dev)
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        return (
            f"{p.name}: {p.multi_processor_count} multiprocessors, "
            f"{p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}; "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}"
        )
    cpu = platform.processor() or platform.machine()
    return (
        f"CPU ({cpu}), {torch.get_num_threads()} torch thread(s), "
        f"{torch.backends.cpu.get_cpu_capability()}; torch {torch.__version__}"
    )


# ----------------------------------------------------------------------------- precision


def tf32_supported(dev) -> bool:
    """TF32 tensor cores exist on CUDA devices of compute capability 8.0 (Ampere) and later;
    nowhere else."""
    dev = _as_device(dev)
    return dev.type == "cuda" and torch.cuda.get_device_capability(dev) >= (8, 0)


@contextmanager
def tf32(enabled: bool = True):
    r"""Let CUDA float32 matrix products run on TF32 tensor cores (10 mantissa bits instead
    of 23, float32 accumulation), and restore the previous setting on exit.

    It sets ``torch.backends.cuda.matmul.fp32_precision`` (``"tf32"`` or ``"ieee"``) where
    torch has it, else the older ``allow_tf32`` flag; torch refuses a mix of the two
    interfaces, so the old one is used only where the new one does not exist. The switch
    concerns CUDA only: float32 on the CPU is unchanged.
    """
    matmul = torch.backends.cuda.matmul
    if _has_new_tf32_api():
        old = matmul.fp32_precision
        matmul.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = old
    else:  # torch < 2.9
        old = matmul.allow_tf32
        matmul.allow_tf32 = bool(enabled)
        try:
            yield
        finally:
            matmul.allow_tf32 = old


def _has_new_tf32_api() -> bool:
    try:
        torch.backends.cuda.matmul.fp32_precision  # noqa: B018 - probing the attribute
    except (AttributeError, RuntimeError):
        return False
    return True


@dataclass(frozen=True)
class Precision:
    r"""How numbers are stored and multiplied.

    ``dtype``: parameters, data and optimiser state. ``autocast_dtype``: the dtype matrix
    products run in under ``torch.autocast`` (mixed precision: the float32 parameters
    stay the master copy, each product casts its inputs down and accumulates in float32),
    ``None`` for none. ``tf32``: float32 products on TF32 tensor cores (CUDA only; on the
    CPU, float32). Significand bits (with the implicit one): float64 53, float32 24, TF32
    11, bfloat16 8, so one rounding errs by up to $2^{-53}$, $2^{-24}$, $2^{-11}$, $2^{-8}$.
    """

    name: str
    dtype: torch.dtype
    autocast_dtype: torch.dtype | None = None
    tf32: bool = False

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype the matrix products take their inputs in."""
        return self.autocast_dtype or self.dtype

    def available(self, dev) -> bool:
        """False only for TF32 off CUDA (it runs, as plain float32) and bfloat16 on a CUDA
        device without it."""
        dev = _as_device(dev)
        if self.tf32:
            return tf32_supported(dev)
        if torch.bfloat16 in (self.dtype, self.autocast_dtype) and dev.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return True

    def matmul(self):
        """The TF32 switch for this precision (on for ``tf32``, off otherwise), restored on
        exit: it must cover the backward pass too, whose products run after the forward
        pass's context has closed."""
        return tf32(self.tf32)

    def autocast(self, dev):
        """``torch.autocast`` to the compute dtype for a forward pass (mixed precision), or
        a context that does nothing."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(_as_device(dev).type, dtype=self.autocast_dtype)


PRECISIONS: dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("float64", torch.float64),
        Precision("float32", torch.float32),
        Precision("tf32", torch.float32, tf32=True),
        Precision("bfloat16", torch.float32, autocast_dtype=torch.bfloat16),
        Precision("bfloat16 weights", torch.bfloat16),
    )
}
"""The course's precisions, by name: ``"float64"``, ``"float32"``, ``"tf32"``,
``"bfloat16"`` (float32 master weights, bfloat16 products) and ``"bfloat16 weights"``."""


def get_precision(precision: Precision | str) -> Precision:
    """A :class:`Precision` from itself or its name in :data:`PRECISIONS`."""
    if isinstance(precision, Precision):
        return precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


# ----------------------------------------------------------------------------- placement


_NP_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


class Placement:
    r"""The device and precision of an experiment: every tensor is created here.

    ``Placement("cuda", "bfloat16")``; ``device`` a ``torch.device`` or its name,
    ``precision`` a :class:`Precision` or its name. ``tensor``, ``labels``, ``index``,
    ``host`` and ``mlp`` create data, indices and models with this device and dtype, so
    nothing of an experiment is left on another device; ``sgd`` builds the optimiser
    after the model is on the device (an optimiser built first can hold state on the old
    one). No ``.cuda()`` or ``.to()`` anywhere else.
    """

    __slots__ = ("device", "precision")

    def __init__(self, device, precision: Precision | str = "float32"):
        dev = _as_device(device)
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    "Placement: device 'cuda' asked for, but no CUDA device is available"
                )
            if dev.index is None:  # "cuda": the current device, named so check() compares it
                dev = torch.device("cuda", torch.cuda.current_device())
        self.device: torch.device = dev
        self.precision: Precision = get_precision(precision)

    def __repr__(self) -> str:
        return f"Placement({str(self.device)!r}, {self.precision.name!r})"

    @property
    def dtype(self) -> torch.dtype:
        return self.precision.dtype

    def __str__(self) -> str:
        return f"{self.device.type} {self.precision.name}"

    def tensor(self, array) -> torch.Tensor:
        """A floating tensor in this placement's dtype on its device (a copy of ``array``)."""
        t = (
            array.detach()
            if isinstance(array, torch.Tensor)
            else torch.as_tensor(np.asarray(array))
        )
        return t.to(device=self.device, dtype=self.dtype, copy=True)

    def labels(self, y) -> torch.Tensor:
        """Class indices (numpy or a tensor anywhere) as an ``int64`` tensor on the device."""
        return self.index(y)

    def index(self, idx) -> torch.Tensor:
        """Integer indices (any shape; numpy or a tensor anywhere) as an ``int64`` tensor on
        the device, in one copy."""
        if isinstance(idx, torch.Tensor):
            return idx.detach().to(device=self.device, dtype=torch.int64)
        return torch.as_tensor(np.asarray(idx, dtype=np.int64), device=self.device)

    def randn(self, *shape: int, rng=None) -> torch.Tensor:
        """Standard normal numbers of ``shape``, drawn on the device by torch's generator
        for that device, seeded from ``rng`` (``None``: the course seed): fast for the
        large inputs of a timing, and not the same numbers on another device or dtype.
        For data whose values matter, draw with numpy and use :meth:`tensor`."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(make_rng(rng).integers(2**62)))
        return torch.randn(shape, generator=gen, device=self.device, dtype=self.dtype)

    def host(self, array, pin: bool = False) -> torch.Tensor:
        """A CPU tensor in this placement's dtype, in page-locked ("pinned") memory when
        ``pin`` and the device is CUDA: the device's copy engine reads pinned memory
        directly, so a copy from it can run while the host goes on
        (``.to(dev, non_blocking=True)``). There is no pinning without CUDA."""
        t = torch.as_tensor(np.asarray(array)).to(dtype=self.dtype, copy=True)
        return t.pin_memory() if pin and self.device.type == "cuda" else t

    def host_labels(self, y, pin: bool = False) -> torch.Tensor:
        """Class indices as an ``int64`` CPU tensor, pinned as in :meth:`host`."""
        t = torch.as_tensor(np.asarray(y, dtype=np.int64)).clone()
        return t.pin_memory() if pin and self.device.type == "cuda" else t

    def mlp(self, sizes: Sequence[int], rng=None) -> torch.nn.Sequential:
        r"""``Linear(sizes[0], sizes[1]), ReLU(), ...`` with no activation after the last
        layer, created on the device in this dtype.

        He-normal weights $W \sim \mathcal N(0, 2/n_\text{in})$ and zero biases drawn by
        numpy from ``rng`` (``None``: the course seed), so the same ``rng`` gives the same
        starting weights on every device and in every precision; torch's generator is not
        touched.
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"mlp: expected at least two positive layer sizes, got {sizes}")
        gen = make_rng(rng)
        layers: list[torch.nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layer = torch.nn.utils.skip_init(
                torch.nn.Linear, a, b, device=self.device, dtype=self.dtype
            )
            with torch.no_grad():
                layer.weight.copy_(self.tensor(gen.standard_normal((b, a)) * math.sqrt(2 / a)))
                layer.bias.zero_()
            layers.append(layer)
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def sgd(self, model: torch.nn.Module, lr: float, momentum: float = 0.0):
        """``torch.optim.SGD`` on ``model``'s parameters, after checking that the model lives
        here; fused into one kernel (fewer launches per step) for float32 and float64
        parameters. Not for bfloat16 ones: torch 2.13's fused CPU kernel returns wrong
        bfloat16 weights (4.3 apart from the plain loop's after 20 steps), so those take
        the multi-tensor (``foreach``) loop."""
        self.check(model)
        params = list(model.parameters())
        if self.dtype not in (torch.float32, torch.float64):
            return torch.optim.SGD(params, lr=lr, momentum=momentum)
        try:
            return torch.optim.SGD(params, lr=lr, momentum=momentum, fused=True)
        except (RuntimeError, ValueError, TypeError):
            return torch.optim.SGD(params, lr=lr, momentum=momentum)

    def check(self, model: torch.nn.Module) -> None:
        """Raise ``ValueError`` naming the first parameter that is not on this device in
        this dtype (the device with its index: ``cuda:1`` is not ``cuda:0``)."""
        for name, p in model.named_parameters():
            if p.device != self.device or p.dtype != self.dtype:
                raise ValueError(
                    f"{name} is a {p.dtype} tensor on {p.device}; this placement expects "
                    f"{self.dtype} on {self.device}: build the model with Placement.mlp "
                    "(or move it) before creating its optimiser"
                )

    def step(self, model, optimizer, loss_fn, X, y) -> torch.Tensor:
        """One training step in this precision: forward and loss under autocast (when the
        precision has it), ``zero_grad``, backward and ``optimizer.step()``, all with the
        precision's TF32 switch. Returns the loss tensor, unread: nothing here waits for
        the device."""
        with self.precision.matmul():
            with self.precision.autocast(self.device):
                value = loss_fn(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
        return value

    @contextmanager
    def evaluating(self):
        """No gradients, the precision's TF32 switch and autocast: for forward passes only."""
        with torch.no_grad(), self.precision.matmul(), self.precision.autocast(self.device):
            yield

    def sync(self) -> None:
        synchronize(self.device)


# ----------------------------------------------------------------------------- one step


def mlp_step_flops(sizes: Sequence[int], batch: int) -> int:
    r"""Floating-point operations of the matrix products in one training step of an MLP.

    A layer $a \to b$ on a batch of $n$ costs $2nab$ forward ($XW^\top$), $2nab$ for the
    weight gradient ($\delta^\top X$) and $2nab$ for the input gradient ($\delta W$),
    except in the first layer, whose input needs no gradient:
    $F = 6n\sum_l a_l b_l - 2n a_0 b_0$. Biases, activations, the loss and the update
    are $O(nb)$ and left out (torch's ``FlopCounterMode`` counts the same).
    """
    sizes = [int(s) for s in sizes]
    pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return int(batch) * (6 * sum(pairs) - 2 * pairs[0])


def counted_flops(fn: Callable[[], object]) -> int:
    """The FLOPs torch itself counts while running ``fn`` once
    (``torch.utils.flop_counter.FlopCounterMode``: matrix products only), an oracle for
    :func:`mlp_step_flops` independent of it."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def largest_batch(placement: Placement, sizes: Sequence[int], cap: int) -> int:
    """The largest power of two up to ``cap`` whose training step of an MLP of ``sizes``
    fits comfortably in the device's free memory (on CUDA: a quarter of it, counting four
    numbers per unit and sample for activations, gradients and temporaries); ``cap`` on
    the CPU."""
    cap = 2 ** int(math.log2(cap))
    if placement.device.type != "cuda":
        return cap
    free, _ = torch.cuda.mem_get_info(placement.device)
    per_sample = 4 * sum(int(s) for s in sizes) * placement.dtype.itemsize
    fits = max(1, free // 4 // per_sample)
    return min(cap, 2 ** int(math.log2(fits)))


def batch_order(n: int, batch: int, steps: int, rng=None) -> np.ndarray:
    """The sample indices of ``steps`` mini-batches, shape ``(steps, batch)``: shuffled
    epochs (a new permutation each epoch, as ``DataLoader(shuffle=True, drop_last=True)``),
    the incomplete batch at the end of each epoch dropped. Made on the host at once, so
    a training loop copies them to the device in one go, not once per step."""
    if not 1 <= batch <= n:
        raise ValueError(f"batch_order: expected 1 <= batch <= {n} samples, got {batch}")
    gen, per_epoch = make_rng(rng), n // batch
    epochs = -(-steps // per_epoch)
    rows = [
        gen.permutation(n)[: per_epoch * batch].reshape(per_epoch, batch) for _ in range(epochs)
    ]
    return np.concatenate(rows)[:steps]


class TrainStep:
    r"""One training step of an MLP on a batch that is already on the device.

    ``TrainStep(placement, sizes, batch)``: inputs and targets are made once, on the
    device; each call runs forward (in the precision's context), loss, ``zero_grad``,
    backward and an SGD step (fused where torch has it, :meth:`Placement.sgd`), and returns the loss *tensor* without reading it, so
    nothing in a step waits for the device (no ``.item()``, no host copy). Targets:
    ``"mse"`` against random targets of width ``sizes[-1]`` (the benchmark's big MLP) or
    ``"cross_entropy"`` against class labels. ``data=(X, y)`` uses those samples instead,
    repeated to fill the batch (row $i$ is sample $i \bmod N$).
    """

    def __init__(
        self,
        placement: Placement,
        sizes: Sequence[int],
        batch: int,
        lr: float = 1e-3,
        momentum: float = 0.0,
        loss: str = "mse",
        data=None,
        rng=None,
    ):
        if loss not in ("mse", "cross_entropy"):
            raise ValueError(f"TrainStep: expected loss 'mse' or 'cross_entropy', got {loss!r}")
        self.placement, self.sizes, self.batch = placement, [int(s) for s in sizes], int(batch)
        gen = make_rng(rng)
        self.model = placement.mlp(self.sizes, rng=gen)
        self.optimizer = placement.sgd(self.model, lr=lr, momentum=momentum)
        if data is None:
            self.X = self._random((self.batch, self.sizes[0]), gen)
            if loss == "mse":
                self.y = self._random((self.batch, self.sizes[-1]), gen)
            else:
                self.y = placement.labels(gen.integers(0, self.sizes[-1], size=self.batch))
        else:
            X, y = data
            rows = placement.index(np.arange(self.batch) % len(X))
            self.X, self.y = placement.tensor(X)[rows], placement.labels(y)[rows]
        self.loss_fn = (
            torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy
        )

    def _random(self, shape, gen):
        return self.placement.randn(*shape, rng=gen)

    @property
    def flops(self) -> int:
        """FLOPs of the matrix products of one step (:func:`mlp_step_flops`)."""
        return mlp_step_flops(self.sizes, self.batch)

    def __call__(self) -> torch.Tensor:
        return self.placement.step(self.model, self.optimizer, self.loss_fn, self.X, self.y)


# ----------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class StepTiming:
    """Seconds per call, read twice in one timed run: ``queued`` when the loop returned
    (before synchronising), ``done`` after :func:`synchronize`."""

    queued: float
    done: float
    calls: int

    @property
    def ratio(self) -> float:
        """``done / queued``: 1 when the host waited for every call, more when the device
        was still working after the loop had returned."""
        return self.done / self.queued if self.queued > 0 else math.inf


def clock(dev) -> Callable[[], float]:
    """The clock a timing reads: wall time (``time.perf_counter``) on CUDA and for CPU work
    on several threads; the CPU time of this process (``time.process_time``) when torch
    computes on one CPU thread, so that other programs taking turns on the same core do
    not count as the step's time (on a shared machine they can double the wall time)."""
    if _as_device(dev).type == "cpu" and torch.get_num_threads() == 1:
        return time.process_time
    return time.perf_counter


def time_steps(fn: Callable[[], object], dev, calls: int) -> StepTiming:
    """Run ``fn`` ``calls`` times and read the clock (:func:`clock`) twice: when the loop
    returns, and after the device has finished (:func:`synchronize` first, so earlier
    work is not counted). Without the second reading a CUDA timing measures only how
    fast the kernels were queued."""
    dev = _as_device(dev)
    if calls < 1:
        raise ValueError(f"time_steps: expected at least one call, got {calls}")
    now = clock(dev)
    synchronize(dev)
    start = now()
    for _ in range(calls):
        fn()
    queued = now()
    synchronize(dev)
    done = now()
    return StepTiming((queued - start) / calls, (done - start) / calls, calls)


def measure(fn, dev, min_time: float = 0.05, warmup: int = 2, max_calls: int = 1000) -> StepTiming:
    """:func:`time_steps` with the number of calls chosen to last about ``min_time``
    seconds (at least 3), after ``warmup`` calls and one synchronised calibration call."""
    for _ in range(warmup):
        fn()
    one = time_steps(fn, dev, 1).done
    calls = int(np.clip(min_time / max(one, 1e-9), 3, max_calls))
    return time_steps(fn, dev, calls)


def median_times(
    fns: Sequence[Callable], dev, min_time: float = 0.05, rounds: int = 3, reduce: str = "median"
):
    """Seconds per call of each function, timed in alternating blocks of about
    ``min_time`` seconds, ``rounds`` times in turn: a machine whose speed drifts (other
    processes, clocks) then slows all of them alike. Each block waits for the device.
    ``reduce``: the ``"median"`` of the blocks, or their ``"min"``, the least disturbed
    (noise only ever adds time)."""
    if reduce not in ("median", "min"):
        raise ValueError(f"median_times: expected reduce 'median' or 'min', got {reduce!r}")
    for fn in fns:  # warm-up: allocations, kernel selection
        fn()
    calls = []
    for fn in fns:
        one = time_steps(fn, dev, 1).done
        calls.append(int(np.clip(min_time / max(one, 1e-9), 1, 1000)))
    blocks: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, n, out in zip(fns, calls, blocks):
            out.append(time_steps(fn, dev, n).done)
    pick = np.median if reduce == "median" else np.min
    return [float(pick(b)) for b in blocks]


# ----------------------------------------------------------------------------- batch scan


@dataclass
class BatchScan:
    """Step time against batch size on one device (:func:`scan_batch_sizes`)."""

    device: str
    batch: list[int]
    queued: list[float]
    done: list[float]
    saturated: bool

    @property
    def samples_per_s(self) -> np.ndarray:
        return np.array(self.batch) / np.array(self.done)

    def table(self) -> str:
        """Plain text: batch, ms per step queued and done, samples per second."""
        rows = [f"{'batch':>9s} {'queued ms':>10s} {'done ms':>9s} {'samples/s':>12s}"]
        for b, q, d in zip(self.batch, self.queued, self.done):
            rows.append(f"{b:9d} {1e3 * q:10.3f} {1e3 * d:9.3f} {b / d:12,.0f}")
        return "\n".join(rows)


def scan_batch_sizes(
    make_step: Callable[[int], Callable],
    dev,
    start: int = 1,
    max_batch: int = 4096,
    gain: float = 1.15,
    patience: int = 2,
    min_time: float = 0.05,
    show_progress: bool = False,
) -> BatchScan:
    """Step time at batch ``start``, ``2 start``, ... until samples per second grew by
    less than ``gain`` (15%) over ``patience`` doublings in a row (saturated), or
    ``max_batch`` is reached. ``make_step(b)`` returns a step on a batch of ``b``."""
    from .training import progress

    dev = _as_device(dev)
    scan = BatchScan(dev.type, [], [], [], False)
    b, flat = int(start), 0
    total = int(math.log2(max_batch / start)) + 1
    bar = progress(total=total, desc=f"batch sizes ({dev.type})", disable=not show_progress)
    while b <= max_batch:
        step = make_step(b)
        t = measure(step, dev, min_time)
        del step
        rate = b / t.done
        if scan.batch and rate < gain * scan.batch[-1] / scan.done[-1]:
            flat += 1
        else:
            flat = 0
        scan.batch.append(b)
        scan.queued.append(t.queued)
        scan.done.append(t.done)
        bar.update(1)
        if flat >= patience:
            scan.saturated = True
            break
        b *= 2
    bar.close()
    return scan


def fit_step_time(batch, seconds) -> tuple[float, float]:
    r"""Fit $t(b) = t_0 + b/R$ to step times, least squares on the *relative* error
    (each row divided by $t_i$, so the fastest steps count as much as the slowest).
    Returns $(t_0, R)$: the fixed cost of a step in seconds (launches, Python, memory
    traffic that does not grow with $b$) and the samples per second of the arithmetic.
    Samples per second are $b/(t_0 + b/R)$: half of $R$ at $b_{1/2} = t_0 R$."""
    b, t = np.asarray(batch, dtype=float), np.asarray(seconds, dtype=float)
    A = np.stack([np.ones_like(b), b], axis=1) / t[:, None]
    (t0, inv_r), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(t0), float(1 / inv_r) if inv_r > 0 else math.inf


def sync_verdict(scan: BatchScan, factor: float = 2.0, agree: float = 0.05) -> str:
    """Does the unsynchronised clock go wrong exactly where the device queues work?

    On CUDA the time read before synchronising must be at least ``factor`` times too
    short at the largest batch (the device still had the work queued); on the CPU, whose
    calls return when done, the two readings must agree within ``agree`` at every batch.
    """
    ratios = np.array(scan.done) / np.array(scan.queued)
    if scan.device == "cpu":
        worst = float(np.max(np.abs(ratios - 1)))
        return passed(worst < agree, f"(the two CPU readings differ by {worst:.0%})")
    return passed(
        ratios[-1] >= factor,
        f"(on {scan.device} the unsynchronised time at batch {scan.batch[-1]} is only "
        f"{ratios[-1]:.2f}x too short; was the loop synchronising every step?)",
    )


def rise_verdict(scan: BatchScan, factor: float = 10.0) -> str:
    """Samples per second at the largest batch at least ``factor`` times those at the
    smallest: fixed costs, not arithmetic, limit small batches."""
    rate = scan.samples_per_s
    return passed(
        rate[-1] >= factor * rate[0],
        f"(only {rate[-1] / rate[0]:.1f}x from batch {scan.batch[0]} to {scan.batch[-1]})",
    )


# ----------------------------------------------------------------------------- FLOP/s


@dataclass(frozen=True)
class Efficiency:
    """A training step against the matrix products it is made of, in FLOP/s."""

    placement: str
    step_flops: int
    step_s: float
    matmul_flops_per_s: float

    @property
    def flops_per_s(self) -> float:
        return self.step_flops / self.step_s

    @property
    def ratio(self) -> float:
        return self.flops_per_s / self.matmul_flops_per_s


def _matmul_shapes(placement: Placement, n: int, w: int, gen):
    """The three products of a square layer's step: forward ``X W^T``, input gradient
    ``D W`` and weight gradient ``D^T X``, with preallocated outputs."""
    dt = placement.precision.compute_dtype
    make = lambda *shape: placement.randn(*shape, rng=gen).to(dt)  # noqa: E731
    X, D, W = make(n, w), make(n, w), make(w, w)
    out_nw, out_nw2, out_ww = make(n, w), make(n, w), make(w, w)

    def products():
        torch.mm(X, W.t(), out=out_nw)
        torch.mm(D, W, out=out_nw2)
        torch.mm(D.t(), X, out=out_ww)

    return products


def matmul_rate(placement: Placement, n: int, w: int, min_time: float = 0.1, rng=None) -> float:
    r"""FLOP/s of the matrix products of a layer's training step, $(n, w) \times (w, w)$
    in its three layouts (forward, input and weight gradient, $6nw^2$ FLOPs), in the
    precision's compute dtype with its TF32 setting: the rate a step made only of these
    products would reach."""
    products = _matmul_shapes(placement, n, w, make_rng(rng))
    with placement.precision.matmul():
        (t,) = median_times([products], placement.device, min_time)
    return 6 * n * w * w / t


def mlp_efficiency(
    placement: Placement,
    width: int,
    batch: int,
    depth: int = 3,
    min_time: float = 0.1,
    rounds: int = 3,
    rng=None,
) -> Efficiency:
    r"""FLOP/s of a training step of a ``depth``-layer MLP of ``width`` units on a batch
    (:class:`TrainStep`, MSE, fused SGD) against the rate of its own matrix products
    (:func:`matmul_rate`'s three layouts), timed in alternating blocks in the same call.
    The gap is the step's other work: bias, ReLU and loss (memory-bound, $O(nw)$ per
    layer), the optimiser's update, and launching it all."""
    gen = make_rng(rng)
    step = TrainStep(placement, [width] * (depth + 1), batch, rng=gen)
    products = _matmul_shapes(placement, batch, width, gen)

    def products_in_context():
        with placement.precision.matmul():
            products()

    t_step, t_mm = median_times([step, products_in_context], placement.device, min_time, rounds)
    return Efficiency(str(placement), step.flops, t_step, 6 * batch * width * width / t_mm)


def efficiency_verdict(eff: Efficiency, at_least: float = 0.5) -> str:
    """The step reaches at least ``at_least`` of its matrix products' rate: its other work
    costs less than its products."""
    return passed(
        eff.ratio >= at_least,
        f"({eff.placement}: {eff.ratio:.0%} of the matmul rate, expected >= {at_least:.0%})",
    )


# ----------------------------------------------------------------------------- copies


@dataclass(frozen=True)
class Pipelines:
    """The outcome of :func:`copy_pipelines`."""

    device: str
    seconds: dict[str, float]  # per step, by pipeline
    copied: dict[str, bool]  # did the batch the model saw live in memory of its own?
    spread: float  # largest relative difference between the three models' weights


def copy_pipelines(
    placement: Placement,
    sizes: Sequence[int],
    X,
    y,
    batch: int,
    steps: int = 10,
    rounds: int = 5,
    rng=None,
) -> Pipelines:
    """Three ways to feed the same batches to the same model, timed in alternating blocks
    (``rounds`` blocks of ``steps`` steps each; the fastest block of each counts).

    ``"on device"``: the whole data set copied once, each batch a slice of it.
    ``"pageable copy"``: each batch sliced from an ordinary CPU tensor and copied with
    ``.to(dev)``, which returns only when the copy is done. ``"pinned copy"``: sliced
    from page-locked memory and copied with ``non_blocking=True``, which queues the copy
    and returns. On the CPU there is nothing to copy (``.to(cpu)`` returns the tensor
    itself): the three do the same work. ``X`` holds ``steps * batch`` samples or more
    (in the order they are used).
    """
    gen = make_rng(rng)
    n = steps * batch
    if len(X) < n:
        raise ValueError(f"copy_pipelines: expected at least {n} samples, got {len(X)}")
    init_seed = int(gen.integers(2**31))
    host = {"pageable copy": placement.host(X[:n]), "pinned copy": placement.host(X[:n], True)}
    labels = {
        "pageable copy": placement.host_labels(y[:n]),
        "pinned copy": placement.host_labels(y[:n], True),
    }
    X_dev, y_dev = placement.tensor(X[:n]), placement.labels(y[:n])
    dev = placement.device
    names = ["on device", "pageable copy", "pinned copy"]
    copied = dict.fromkeys(names, False)

    def batch_of(name, rows):
        if name == "on device":
            return X_dev[rows], y_dev[rows], False
        source = host[name][rows]
        xb = source.to(dev, non_blocking=name == "pinned copy")
        yb = labels[name][rows].to(dev, non_blocking=name == "pinned copy")
        return xb, yb, xb.data_ptr() != source.data_ptr()

    def pipeline(name):
        model = placement.mlp(sizes, rng=init_seed)
        opt = placement.sgd(model, lr=0.01, momentum=0.9)
        count = [0]

        def block():
            for _ in range(steps):
                i = count[0] % steps
                count[0] += 1
                xb, yb, copied[name] = batch_of(name, slice(i * batch, (i + 1) * batch))
                placement.step(model, opt, torch.nn.functional.cross_entropy, xb, yb)

        return model, block

    built = {name: pipeline(name) for name in names}
    times = median_times([built[k][1] for k in names], dev, 0.0, rounds, reduce="min")
    flat = {
        k: torch.cat([p.detach().double().flatten().cpu() for p in m.parameters()])
        for k, (m, _) in built.items()
    }
    ref = flat["on device"]
    spread = max(float((v - ref).norm() / ref.norm()) for v in flat.values())
    seconds = {k: t / steps for k, t in zip(names, times)}
    return Pipelines(dev.type, seconds, copied, spread)


def copy_verdict(result: Pipelines, slack: float = 1.25) -> str:
    """Data already on the device is never slower than copying it there. On the CPU no
    copy is made at all (``.to("cpu")`` hands back the same memory), so there is nothing
    to time; elsewhere the copies must really be made, and the data on the device must
    take at most ``slack`` times the time of the faster copy (timing noise)."""
    copies = [result.copied["pageable copy"], result.copied["pinned copy"]]
    if result.device == "cpu":
        return passed(not any(copies), "(a pipeline copied its batches on the CPU)")
    best = min(result.seconds["pageable copy"], result.seconds["pinned copy"])
    ratio = result.seconds["on device"] / best
    return passed(
        all(copies) and ratio <= slack,
        f"(copies made: {copies}; on device {ratio:.2f}x the time of the faster copy)",
    )


# ----------------------------------------------------------------------------- training runs


def _flat_params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _sgd_steps(placement, model, X, y, order, lr, momentum, reverse_rows=False, record=False):
    """SGD with momentum over the batches in ``order`` (a device index tensor, one row per
    step); with ``record`` the flattened parameters after every step, ``(steps + 1, P)``."""
    opt = placement.sgd(model, lr=lr, momentum=momentum)
    if reverse_rows:
        order = order.flip(1)
    trail = (
        torch.empty(
            (len(order) + 1, sum(p.numel() for p in model.parameters())),
            dtype=placement.dtype,
            device=placement.device,
        )
        if record
        else None
    )
    if record:
        trail[0] = _flat_params(model)
    for k in range(len(order)):
        idx = order[k]
        placement.step(model, opt, torch.nn.functional.cross_entropy, X[idx], y[idx])
        if record:
            trail[k + 1] = _flat_params(model)
    return trail


def _sizes(model) -> list[int]:
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [m.in_features for m in linear] + [linear[-1].out_features]


@torch.no_grad()
def _loss64(model, X64, y64) -> float:
    """Cross-entropy of ``model``'s weights evaluated in float64 on the CPU."""
    ref = Placement("cpu", "float64").mlp(_sizes(model), rng=0)
    ref.load_state_dict({k: v.detach().double().cpu() for k, v in model.state_dict().items()})
    return float(torch.nn.functional.cross_entropy(ref(X64), y64))


def precision_losses(
    X,
    y,
    sizes: Sequence[int],
    dev,
    precisions: Sequence[str] = ("float64", "float32", "tf32", "bfloat16", "bfloat16 weights"),
    batch: int = 64,
    steps: int = 200,
    lr: float = 0.003,
    momentum: float = 0.9,
    rng=None,
) -> dict[str, float]:
    """The training loss each precision reaches: the same starting weights, the same
    batches, SGD with momentum, then the final weights evaluated in float64 on the CPU
    (so the comparison is of the weights reached, not of the arithmetic that scores them)."""
    gen = make_rng(rng)
    init_seed, order = int(gen.integers(2**31)), batch_order(len(X), batch, steps, gen)
    X64, y64 = Placement("cpu", "float64").tensor(X), torch.as_tensor(np.asarray(y, dtype=np.int64))
    out = {}
    for name in precisions:
        pl = Placement(dev, name)
        model = pl.mlp(sizes, rng=init_seed)
        _sgd_steps(pl, model, pl.tensor(X), pl.labels(y), pl.index(order), lr, momentum)
        out[name] = _loss64(model, X64, y64)
    return out


def precision_verdicts(losses: dict[str, float], reference: str = "float64", rtol: float = 0.05):
    """``{name: verdict}``: each precision's final loss within ``rtol`` of the reference's."""
    ref = losses[reference]
    return {k: close(v, ref, rtol) for k, v in losses.items() if k != reference}


def stalls_verdict(
    losses: dict[str, float],
    name: str = "bfloat16 weights",
    reference: str = "float64",
    factor: float = 1.2,
) -> str:
    """``name`` ends more than ``factor`` times above the reference's loss: updates smaller
    than half a weight's spacing in its format were rounded away."""
    ratio = losses[name] / losses[reference]
    return passed(
        ratio > factor, f"({name} ends at {ratio:.2f}x {reference}'s loss, expected > {factor:g}x)"
    )


def _checkpoints(max_steps: int, resolution: float) -> list[int]:
    """Steps after which to evaluate: each of the first ``1/resolution``, then every
    ``ceil(k * resolution)`` steps, so a step count is known to within ``resolution``."""
    out, k = [], 1
    while k <= max_steps:
        out.append(k)
        k += max(1, int(k * resolution))
    return out


def steps_to_accuracy(
    placement: Placement,
    X,
    y,
    sizes: Sequence[int],
    batch: int,
    lr: float,
    target: float = 0.99,
    max_steps: int = 2000,
    momentum: float = 0.9,
    resolution: float = 0.02,
    chunk: int = 25,
    rng=None,
) -> int | None:
    """Steps of mini-batch SGD with momentum until the accuracy on all of ``X`` reaches
    ``target``, or ``None`` if it does not within ``max_steps`` (a diverged run never
    does). The accuracy is evaluated after each of the first ``1/resolution`` steps and
    then every ``resolution`` of the steps so far (the count is exact to 2% by default),
    on the device, and read once per ``chunk`` evaluations, so the loop does not wait for
    the device at every step. ``rng`` draws the starting weights, then the batches."""
    gen = make_rng(rng)
    model = placement.mlp(sizes, rng=int(gen.integers(2**31)))
    order = placement.index(batch_order(len(X), batch, max_steps, gen))
    Xd, yd = placement.tensor(X), placement.labels(y)
    opt = placement.sgd(model, lr=lr, momentum=momentum)
    marks = _checkpoints(max_steps, resolution)
    acc = torch.zeros(chunk, device=placement.device)
    done = 0
    for first in range(0, len(marks), chunk):
        group = marks[first : first + chunk]
        for j, mark in enumerate(group):
            while done < mark:
                idx = order[done]
                placement.step(model, opt, torch.nn.functional.cross_entropy, Xd[idx], yd[idx])
                done += 1
            with placement.evaluating():
                acc[j] = (model(Xd).argmax(dim=1) == yd).float().mean()
        hits = np.flatnonzero(acc[: len(group)].cpu().numpy() >= target)
        if hits.size:
            return group[int(hits[0])]
    return None


def batch_scaling(
    placement: Placement,
    X,
    y,
    sizes: Sequence[int],
    batches: Sequence[int],
    lr: float,
    base_batch: int = 8,
    scale: bool = True,
    target: float = 0.99,
    runs: int = 3,
    rng=None,
) -> dict[int, int | None]:
    r"""Median steps to ``target`` accuracy (:func:`steps_to_accuracy`) over ``runs`` runs
    for each batch size, with the learning rate $\eta_b = \eta\, b / b_0$ (the linear
    scaling rule; $b_0$ = ``base_batch``) or, with ``scale=False``, $\eta$ at every batch.
    Run $i$ starts from the same weights and draws the same batch order seed at every
    batch size. ``None`` where the median run never got there."""
    gen = make_rng(rng)
    run_seeds = [int(s) for s in gen.integers(2**31, size=runs)]
    out = {}
    for b in batches:
        lr_b = lr * b / base_batch if scale else lr
        found = [
            steps_to_accuracy(placement, X, y, sizes, b, lr_b, target, rng=s) for s in run_seeds
        ]
        med = float(np.median([math.inf if f is None else f for f in found]))
        out[int(b)] = None if math.isinf(med) else int(round(med))
    return out


def scaling_verdict(
    steps: dict[int, int | None],
    small: tuple[int, int],
    large: tuple[int, int],
    speedup: float = 2.5,
    ceiling: float = 2.0,
) -> str:
    """Linear scaling of the learning rate works for small batches and stops paying for
    large ones: from ``small[0]`` to ``small[1]`` the steps fall by more than ``speedup``,
    from ``large[0]`` to ``large[1]`` by less than ``ceiling``. A batch whose run never
    reached the target fails."""
    counts = [steps.get(b) for b in (*small, *large)]
    missing = [b for b, c in zip((*small, *large), counts) if c is None]
    if missing:
        return f"FAIL (batch {missing[0]} never reached the target)"
    a, b, c, d = (float(n) for n in counts if n is not None)
    s, g = a / b, c / d
    return passed(
        s > speedup and g < ceiling,
        f"(steps fall {s:.1f}x from batch {small[0]} to {small[1]} (expected > {speedup:g}x) "
        f"and {g:.1f}x from {large[0]} to {large[1]} (expected < {ceiling:g}x))",
    )


def reduction_gap(
    X,
    y,
    sizes: Sequence[int],
    dev,
    precision: str = "float32",
    lr: float = 0.03,
    steps: int = 300,
    batch: int = 64,
    momentum: float = 0.9,
    rng=None,
) -> dict[str, np.ndarray]:
    r"""How far apart runs drift that differ only in the order of a sum.

    Reference: the CPU, in ``precision``, batches in their order. ``"rows reversed"``:
    the same on ``dev`` with every batch's rows in reverse order: the same samples, the
    same mathematics, but the sums over the batch (the loss, every weight gradient)
    added up in another order, so rounded differently. ``"device"`` (only when ``dev`` is
    not the CPU): the same batches on ``dev``, whose kernels sum in their own order.
    Returns, per name, $\|\theta_k - \theta_k^\text{ref}\| / \|\theta_k^\text{ref}\|$
    after each step $k = 0..$``steps``.
    """
    gen = make_rng(rng)
    init_seed, order = int(gen.integers(2**31)), batch_order(len(X), batch, steps, gen)
    dev = _as_device(dev)

    def trail(device, reverse):
        pl = Placement(device, precision)
        model = pl.mlp(sizes, rng=init_seed)
        t = _sgd_steps(
            pl,
            model,
            pl.tensor(X),
            pl.labels(y),
            pl.index(order),
            lr,
            momentum,
            reverse_rows=reverse,
            record=True,
        )
        return t.double().cpu()

    ref = trail("cpu", False)
    runs = {"rows reversed": trail(dev, True)}
    if dev.type != "cpu":
        runs["device"] = trail(dev, False)
    return {k: ((v - ref).norm(dim=1) / ref.norm(dim=1)).numpy() for k, v in runs.items()}


def calm_verdict(gaps: dict[str, np.ndarray], tol: float = 1e-5) -> str:
    """Every run stays within ``tol`` (relative) of the reference at every step."""
    worst = max(float(np.max(g)) for g in gaps.values())
    return passed(worst < tol, f"(largest relative difference {worst:.1e}, tolerance {tol:.0e})")


def drift_verdict(gaps: dict[str, np.ndarray], factor: float = 1e6) -> str:
    """Every run's difference from the reference grows more than ``factor``-fold from its
    first nonzero value to the last step: rounding differences are amplified, the runs
    part ways. A run that never differs at all has not drifted."""

    def growth(g):
        nonzero = np.flatnonzero(np.asarray(g)[1:] > 0)
        return float(g[-1] / g[1 + nonzero[0]]) if nonzero.size else 0.0

    worst = min(growth(g) for g in gaps.values())
    return passed(
        worst > factor, f"(the smallest growth is {worst:.1e}-fold, expected > {factor:.0e})"
    )

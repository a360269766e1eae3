"""coursekit.gpu on the CPU, and the GPU check.

The tests without a marker run in the normal test command, on the CPU.

**The GPU check** (marker ``gpu``) runs only on a machine with CUDA, and only when asked
for, in one command from the repository root::

    python3 -m pytest -o addopts="" -m gpu -v -rs tests/test_gpu.py

It runs every lecture with a GPU section (08, 09, 11, 12) on CUDA and compares each
checked cell's text with the stored one (the CPU's), grades assignment 3's solution
against itself (hidden checks included), runs coursekit's torch helpers on CUDA against
the CPU (``to_torch``, ``train_torch``, ``throughput``, ``coursekit.gpu``), and runs
``benchmarks/bench_gpu.py`` at width 4096, batch 8192. It needs a Python with torch built
for CUDA, numpy and pytest, plus coursekit installed without touching torch
(``pip install --no-deps -e .``) and its other dependencies (README, "The GPU check").
``-o addopts=""`` drops the suite's xdist and nbval options, so neither is needed.
It writes ``test-artifacts/gpu/``: ``report.md`` and ``report.json`` (the figures),
``check.log``, and each lecture executed on CUDA with its outputs. Without CUDA, or
without ``-m gpu``, each of its tests is skipped at once with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit import gpu
from coursekit.models import mlp

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "gpu"
GPU_LECTURES = sorted(
    p for n in ("08", "09", "11", "12") for p in (ROOT / "lectures").glob(f"{n}_*.ipynb")
)
ASSIGNMENT_3 = ROOT / "solutions" / "03_training_at_scale.ipynb"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ============================================================== coursekit.gpu on the CPU


def test_placement_creates_everything_on_its_device_in_its_dtype():
    pl = gpu.Placement("cpu", "float64")
    model = pl.mlp([5, 4, 3], rng=0)
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in model.parameters())
    assert pl.tensor(np.ones((2, 5), dtype=np.float32)).dtype == torch.float64
    assert pl.labels([1, 2]).dtype == torch.int64
    assert str(pl) == "cpu float64"
    pl.check(model)
    with pytest.raises(ValueError, match="0.weight is a torch.float32 tensor"):
        pl.check(model.float())


def test_same_rng_same_start_in_every_precision_and_torch_rng_untouched():
    state = torch.random.get_rng_state()
    a = gpu.Placement("cpu", "float64").mlp([6, 5, 2], rng=3)
    b = gpu.Placement("cpu", "float32").mlp([6, 5, 2], rng=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p.float(), q, rtol=0, atol=0)
    w = a[0].weight.detach().numpy()
    assert abs(w.std() / np.sqrt(2 / 6) - 1) < 0.6 and not a[0].bias.detach().any()


def test_placement_refuses_cuda_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        gpu.Placement("cuda")


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="expected one of"):
        gpu.Placement("cpu", "float16")


def test_tf32_switch_is_restored_and_only_concerns_cuda():
    before = torch.backends.cuda.matmul.fp32_precision
    with gpu.tf32(True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        with gpu.tf32(False):
            assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert torch.backends.cuda.matmul.fp32_precision == before
    assert not gpu.get_precision("tf32").available("cpu")
    assert gpu.get_precision("bfloat16").available("cpu")


def test_bfloat16_weights_get_the_plain_sgd_loop():
    # torch 2.13's fused CPU SGD returns wrong bfloat16 weights; coursekit avoids it
    pl = gpu.Placement("cpu", "bfloat16 weights")
    opt = pl.sgd(pl.mlp([4, 3], rng=0), lr=0.1)
    assert not opt.defaults.get("fused")
    assert gpu.Placement("cpu").sgd(gpu.Placement("cpu").mlp([4, 3], rng=0), 0.1).defaults["fused"]


def test_autocast_runs_products_in_bfloat16_with_float32_weights():
    pl = gpu.Placement("cpu", "bfloat16")
    model = pl.mlp([4, 3], rng=0)
    with pl.evaluating():
        out = model(pl.tensor(np.ones((2, 4))))
    assert out.dtype == torch.bfloat16 and model[0].weight.dtype == torch.float32


def test_train_step_runs_and_its_loss_falls():
    pl = gpu.Placement("cpu", "float32")
    step = gpu.TrainStep(pl, [8, 16, 3], 64, lr=0.5, loss="cross_entropy", rng=0)
    first = step().item()
    for _ in range(30):
        last = step().item()
    assert last < first
    assert step.flops == gpu.mlp_step_flops([8, 16, 3], 64) == 64 * (6 * (128 + 48) - 2 * 128)
    with pytest.raises(ValueError, match="expected loss"):
        gpu.TrainStep(pl, [2, 2], 4, loss="hinge")


def test_train_step_tiles_given_data():
    pl = gpu.Placement("cpu", "float32")
    X, y = np.arange(12.0).reshape(3, 4), np.array([0, 1, 2])
    step = gpu.TrainStep(pl, [4, 3], 7, loss="cross_entropy", data=(X, y), rng=0)
    assert step.y.tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert torch.equal(step.X[4], pl.tensor(X[1]))


def test_batch_order_is_shuffled_epochs_without_the_partial_batch():
    order = gpu.batch_order(10, 4, 5, rng=0)
    assert order.shape == (5, 4)
    for epoch in (order[0:2], order[2:4]):
        assert len(set(epoch.ravel())) == 8  # two full batches of distinct samples
    assert not np.array_equal(order[0:2], order[2:4])
    with pytest.raises(ValueError, match="batch"):
        gpu.batch_order(3, 4, 1)


def test_time_steps_reads_queued_and_done():
    calls = []
    t = gpu.time_steps(lambda: calls.append(1), "cpu", 7)
    assert len(calls) == 7 and t.calls == 7 and 0 <= t.queued <= t.done
    assert gpu.clock("cpu") in (time.process_time, time.perf_counter)
    with pytest.raises(ValueError, match="at least one call"):
        gpu.time_steps(lambda: None, "cpu", 0)


def test_fit_step_time_recovers_overhead_and_rate():
    b = np.array([1, 4, 16, 64, 256, 1024])
    t0, R = gpu.fit_step_time(b, 1e-3 + b / 5e4)
    assert math.isclose(t0, 1e-3, rel_tol=1e-9) and math.isclose(R, 5e4, rel_tol=1e-9)


def test_scan_stops_when_samples_per_second_level_off():
    fake_time = {}

    def make(b):
        def step():
            fake_time[b] = fake_time.get(b, 0) + 1

        return step

    scan = gpu.scan_batch_sizes(make, "cpu", max_batch=64, min_time=0.0)
    assert scan.batch[0] == 1 and scan.batch[-1] <= 64 and set(fake_time) == set(scan.batch)
    assert "samples/s" in scan.table()


def test_largest_batch_on_the_cpu_is_the_cap():
    assert gpu.largest_batch(gpu.Placement("cpu"), [64, 256, 10], 5000) == 4096


def test_describe_and_efficiency_on_the_cpu():
    assert "CPU" in gpu.describe("cpu")
    eff = gpu.mlp_efficiency(gpu.Placement("cpu"), 32, 64, depth=2, min_time=0.005, rounds=1)
    assert eff.step_flops == gpu.mlp_step_flops([32, 32, 32], 64) and eff.ratio > 0
    assert gpu.matmul_rate(gpu.Placement("cpu"), 32, 16, min_time=0.005) > 0


def test_bench_gpu_runs_on_the_cpu(tmp_path):
    bench = _bench()
    rows = bench.main(
        ["--device", "cpu", "--width", "32", "--batch", "32", "--depth", "2",
         "--precisions", "float32", "--min-time", "0.005", "--json", str(tmp_path / "b.json")]
    )  # fmt: skip
    assert [r["precision"] for r in rows] == ["float32"] and rows[0]["step_tflops"] > 0
    assert json.loads((tmp_path / "b.json").read_text())[0]["device"] == "cpu"
    assert bench.table(rows).startswith("| device |") and bench.target_line(rows) is None


# ============================================================== the GPU check

REPORT: dict = {"lectures": {}, "helpers": {}}


def _selected(config) -> bool:
    expr = config.getoption("markexpr") or ""
    return bool(re.search(r"(?<!not )\bgpu\b", expr))


def test_the_gpu_check_runs_only_when_asked_for():
    class Config:
        def __init__(self, expr):
            self.expr = expr

        def getoption(self, name):
            return self.expr

    assert _selected(Config("gpu")) and _selected(Config("gpu and not slow"))
    assert not _selected(Config("")) and not _selected(Config("not gpu"))


@pytest.fixture(scope="module")
def cuda(request):
    if not torch.cuda.is_available():
        pytest.skip(
            "GPU check: no CUDA device (torch.cuda.is_available() is False); it needs torch "
            "built for CUDA on a machine with a GPU"
        )
    if not _selected(request.config):
        pytest.skip(
            'GPU check: run it with  python3 -m pytest -o addopts="" -m gpu tests/test_gpu.py'
        )
    return torch.device("cuda")


@pytest.fixture(scope="module")
def report(cuda):
    start = time.perf_counter()
    REPORT["device"] = gpu.describe(cuda)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "check.log").write_text(f"GPU check on {REPORT['device']}\n")
    yield REPORT
    REPORT["seconds"] = round(time.perf_counter() - start, 1)
    (ARTIFACTS / "report.json").write_text(json.dumps(REPORT, indent=2, default=str))
    (ARTIFACTS / "report.md").write_text(_markdown(REPORT))


def _log(text: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "check.log", "a") as f:
        f.write(text.rstrip() + "\n")


def _markdown(r: dict) -> str:
    out = [f"# GPU check: {r.get('device', '?')}", "", f"total {r.get('seconds', '?')} s", ""]
    out += [
        "| lecture | seconds | checked cells | same text as the CPU | ran on CUDA |",
        "|---|---|---|---|---|",
    ]
    for name, v in r["lectures"].items():
        out.append(f"| {name} | {v['seconds']} | {v['checked']} | {v['same']} | {v['cuda']} |")
    if "assignment_3" in r:
        a = r["assignment_3"]
        out += [
            "",
            f"assignment 3 against its reference: {a['total']} / {a['possible']} ({a['seconds']} s)",
        ]
    if r["helpers"]:
        out += ["", "## helpers on CUDA", ""] + [f"* {k}: {v}" for k, v in r["helpers"].items()]
    if "bench" in r:
        out += [
            "",
            "## benchmarks/bench_gpu.py",
            "",
            r["bench"]["table"],
            "",
            r["bench"].get("target") or "",
        ]
    for name, figures in r.get("figures", {}).items():
        out += ["", f"## {name}, figures (unchecked cells)", "", "```", figures.rstrip(), "```"]
    return "\n".join(out) + "\n"


def _stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


FIGURE_CELLS = {
    "12": ["gpu-01", "gpu-03", "gpu-06", "gpu-09", "gpu-16", "gpu-23", "gpu-30", "gpu-34"],
}


@pytest.mark.gpu
@pytest.mark.parametrize("path", GPU_LECTURES, ids=lambda p: p.stem)
def test_lecture_on_cuda(path, report):
    """The lecture top to bottom on CUDA: the same checked text as stored (the CPU's)."""
    from coursekit.notebooks import checked_text, execute

    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute(nb, path.parent, timeout=600, allow_errors=True)
    seconds = round(time.perf_counter() - start, 1)
    nbformat.write(nb, ARTIFACTS / path.name)
    text = "\n".join(_stream_text(c) for c in nb.cells if c.cell_type == "code")
    errors = [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    want, got = checked_text(stored), checked_text(nb)
    diffs = [
        f"checked cell {i}:\n--- stored (CPU)\n{t}--- on CUDA\n{got.get(i)}"
        for i, t in want.items()
        if got.get(i) != t
    ]
    on_cuda = "using CUDA" in text
    report["lectures"][path.stem] = {
        "seconds": seconds,
        "checked": len(want),
        "same": len(want) - len(diffs),
        "cuda": on_cuda,
        "errors": errors,
        "diffs": diffs,
    }
    number = path.stem[:2]
    figures = [_stream_text(c) for c in nb.cells if c.get("id") in FIGURE_CELLS.get(number, [])]
    figures += [_stream_text(c) for c in nb.cells if "throughput(" in c.get("source", "")]
    if any(figures):
        report.setdefault("figures", {})[path.stem] = "\n".join(f for f in figures if f)
    _log(
        f"== {path.name}: {seconds} s, {len(want) - len(diffs)}/{len(want)} checked cells same\n{text}"
    )
    assert not errors, "\n".join(errors)
    assert on_cuda, f"{path.name} did not print 'using CUDA': it ran on the CPU"
    assert not diffs, "\n".join(diffs)


@pytest.mark.gpu
def test_assignment_3_on_cuda(report):
    """Assignment 3's solution graded against itself (hidden checks included), on CUDA."""
    from coursekit.grading import grade, reference

    start = time.perf_counter()
    result = grade.grade(ASSIGNMENT_3, reference.load(ASSIGNMENT_3), timeout=300)
    report["assignment_3"] = {
        "total": result.total,
        "possible": result.possible,
        "seconds": round(time.perf_counter() - start, 1),
    }
    _log(result.table())
    assert result.full_marks, result.table()


@pytest.mark.gpu
def test_to_torch_on_cuda(cuda, report):
    """A coursekit network with batch norm, copied to torch and moved to CUDA, computes
    the numpy forward pass to 1e-12 in float64, as on the CPU."""
    from coursekit.torch_utils import to_torch

    model = mlp([16, 32, 32, 4], activation="relu", batchnorm=True)
    X = np.random.default_rng(0).standard_normal((64, 16))
    expected = model.forward(X)
    errors = {}
    for dev in ("cpu", cuda):
        module = to_torch(model).to(dev)
        out = module(torch.as_tensor(X, device=dev)).detach().cpu().numpy()
        errors[str(dev)] = float(np.abs(out - expected).max() / np.abs(expected).max())
    report["helpers"]["to_torch, float64, max relative error"] = errors
    assert max(errors.values()) < 1e-12, errors


@pytest.mark.gpu
def test_train_torch_on_cuda_matches_cpu(cuda, report):
    """Three epochs on the digits in float64: the CUDA history equals the CPU's to 1e-9."""
    from coursekit.data import load_digits_multiclass
    from coursekit.torch_utils import train_torch

    X, y, X_te, y_te = load_digits_multiclass(rng=0)
    start = gpu.Placement("cpu", "float64").mlp([64, 32, 10], rng=1).state_dict()
    hists = {}
    for dev in ("cpu", cuda):
        module = gpu.Placement(dev, "float64").mlp([64, 32, 10], rng=1)
        module.load_state_dict(start)
        opt = torch.optim.Adagrad(module.parameters(), lr=0.05)  # state made on the device
        hists[str(dev)] = train_torch(
            module, X, y, opt, epochs=3, batch_size=32, X_val=X_te, y_val=y_te, dev=dev, seed=0
        )
    a, b = hists["cpu"], hists[str(cuda)]
    diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in ("train_loss", "val_loss", "val_acc"))
    report["helpers"]["train_torch, CUDA vs CPU float64, max history difference"] = diff
    assert diff < 1e-9, diff


@pytest.mark.gpu
def test_throughput_on_cuda(cuda, report):
    from coursekit.data import load_digits_multiclass
    from coursekit.torch_utils import throughput

    X, y, _, _ = load_digits_multiclass(rng=0)
    net = mlp([64, 256, 256, 10], backend="torch", dtype=torch.float32)
    rates = throughput(net, X.astype(np.float32), y, [16, 1024], dev=cuda, min_time=0.1)
    report["helpers"]["throughput on CUDA, samples/s at batch 16 and 1024"] = {
        b: round(r) for b, r in rates.items()
    }
    assert rates[1024] > 10 * rates[16]  # launch-bound: the step time barely grows


@pytest.mark.gpu
def test_train_step_never_waits_for_the_device(cuda, report):
    """No host synchronisation inside a training step, in every precision (torch raises
    on a synchronising call in sync debug mode "error")."""
    for name in gpu.PRECISIONS:
        step = gpu.TrainStep(gpu.Placement(cuda, name), [256, 256, 256], 512, rng=0)
        step()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    report["helpers"]["TrainStep without host synchronisation"] = "every precision"


@pytest.mark.gpu
def test_gpu_module_on_cuda(cuda, report):
    """coursekit.gpu's experiments on CUDA give the CPU's verdicts; TF32 really changes
    float32 products on a device that has it."""
    from coursekit.data import load_digits_multiclass

    X, y, _, _ = load_digits_multiclass(rng=0)
    pl = gpu.Placement(cuda, "float32")
    model = pl.mlp([64, 32, 10], rng=0)
    assert all(p.device.type == cuda.type for p in model.parameters())
    losses = {str(d): gpu.precision_losses(X, y, [64, 64, 10], d, rng=7) for d in ("cpu", cuda)}
    for name in ("float64", "float32"):
        assert abs(losses[str(cuda)][name] / losses["cpu"][name] - 1) < 1e-4, losses
    assert gpu.precision_verdicts(losses[str(cuda)])["bfloat16"] == "OK"
    assert gpu.stalls_verdict(losses[str(cuda)]) == "OK"
    data = (pl.tensor(X), pl.labels(y))
    scan = gpu.scan_batch_sizes(
        lambda b: gpu.TrainStep(pl, [64, 256, 256, 10], b, loss="cross_entropy", data=data, rng=0),
        cuda,
        start=1024,
        max_batch=gpu.largest_batch(pl, [64, 256, 256, 10], 2**22),
    )
    assert gpu.sync_verdict(scan) == "OK", scan.table()
    rows = np.random.default_rng(0).integers(0, len(X), size=10 * 16384)
    pipes = gpu.copy_pipelines(pl, [64, 256, 256, 10], X[rows], y[rows], 16384, 10, rng=0)
    assert gpu.copy_verdict(pipes) == "OK", pipes
    if gpu.tf32_supported(cuda):
        a = pl.tensor(np.random.default_rng(1).standard_normal((512, 512)))
        with gpu.tf32(False):
            exact = a @ a
        with gpu.tf32(True):
            rounded = a @ a
        rel = float((exact - rounded).abs().max() / exact.abs().max())
        report["helpers"]["TF32 against IEEE float32 product, relative difference"] = rel
        assert 1e-5 < rel < 1e-2, rel
    report["helpers"]["precision losses, CPU vs CUDA"] = losses
    report["helpers"]["copy pipelines, ms per step at batch 16384"] = {
        k: round(1e3 * v, 3) for k, v in pipes.seconds.items()
    }
    report["helpers"]["scan from batch 1024, samples/s"] = dict(
        zip(scan.batch, np.round(scan.samples_per_s).tolist())
    )


@pytest.mark.gpu
def test_bench_gpu_on_cuda(cuda, report):
    """benchmarks/bench_gpu.py at width 4096, batch 8192: the figures for the note."""
    bench = _bench()
    rows = bench.run(
        "cuda", 4096, 8192, 4, bench.DEFAULTS["cuda"]["precisions"], min_time=0.1, rounds=3
    )
    report["bench"] = {"rows": rows, "table": bench.table(rows), "target": bench.target_line(rows)}
    _log(bench.table(rows) + "\n" + str(bench.target_line(rows)))
    for r in rows:
        assert 0 < r["ratio"] < 1.1, r

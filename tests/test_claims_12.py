"""Lecture 12's checked verdicts can fail: each is driven here with a plausible wrong input
(and with the right one), through the coursekit.gpu function the lecture's cell calls.

The timing verdicts are driven with made-up timings of the kind a wrong loop produces (a
GPU loop that synchronised every step, a CPU pipeline that copied its batches); the
training verdicts with real runs on the CPU, as small as the lecture's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit import gpu
from coursekit.checks import close
from coursekit.data import load_digits_multiclass


@pytest.fixture(scope="module")
def digits():
    X, y, _, _ = load_digits_multiclass(rng=0)
    return X, y


def _scan(device, queued, done, batch=(1, 1024)):
    return gpu.BatchScan(device, list(batch), list(queued), list(done), True)


# ---------------------------------------------------------------- 1. timing without synchronising


def test_sync_verdict_ok_when_each_device_behaves_as_it_should():
    assert gpu.sync_verdict(_scan("cpu", [1e-3, 0.1], [1e-3, 0.1])) == "OK"
    assert gpu.sync_verdict(_scan("cuda", [1.3e-3, 1.4e-3], [1.3e-3, 30e-3])) == "OK"


def test_sync_verdict_fails_for_a_gpu_loop_that_synchronised_every_step():
    # loss.item() inside the loop: the host waited at every step, both readings agree
    scan = _scan("cuda", [1.3e-3, 29e-3], [1.3e-3, 30e-3])
    assert gpu.sync_verdict(scan).startswith("FAIL")


def test_sync_verdict_fails_when_cpu_readings_disagree():
    assert gpu.sync_verdict(_scan("cpu", [1e-3, 0.05], [1e-3, 0.1])).startswith("FAIL")


def test_sync_verdict_on_a_real_cpu_scan():
    pl = gpu.Placement("cpu", "float32")
    scan = gpu.scan_batch_sizes(
        lambda b: gpu.TrainStep(pl, [8, 16, 4], b, loss="cross_entropy", rng=0),
        "cpu",
        max_batch=8,
        min_time=0.005,
    )
    assert scan.batch == [1, 2, 4, 8] or scan.saturated
    assert gpu.sync_verdict(scan) == "OK"


def test_rise_verdict_fails_when_samples_per_second_barely_rise():
    assert gpu.rise_verdict(_scan("cpu", [1e-3, 0.1], [1e-3, 0.1])) == "OK"  # 10.24x
    assert gpu.rise_verdict(_scan("cpu", [1e-3, 0.5], [1e-3, 0.5])).startswith("FAIL")


# ---------------------------------------------------------------- 2. copies


def _pipes(device, seconds, copied):
    names = ["on device", "pageable copy", "pinned copy"]
    return gpu.Pipelines(device, dict(zip(names, seconds)), dict(zip(names, copied)), 0.0)


def test_copy_verdict_on_a_real_cpu_run(digits):
    X, y = digits
    pipes = gpu.copy_pipelines(gpu.Placement("cpu", "float32"), [64, 16, 10], X, y, 32, 4, 2, rng=0)
    assert gpu.copy_verdict(pipes) == "OK"
    assert pipes.spread == 0.0  # the same numbers, the same arithmetic: bit for bit


def test_copy_verdict_fails_for_wrong_inputs():
    assert gpu.copy_verdict(_pipes("cuda", [1.3e-3, 3e-3, 1.6e-3], [False, True, True])) == "OK"
    # a CPU pipeline that copies its batches (e.g. .clone()) does work that is not needed
    assert gpu.copy_verdict(_pipes("cpu", [1e-3, 1e-3, 1e-3], [False, True, False])).startswith(
        "FAIL"
    )
    # on CUDA: data on the device slower than a copy, or a "copy" that never happened
    assert gpu.copy_verdict(_pipes("cuda", [3e-3, 3e-3, 2e-3], [False, True, True])).startswith(
        "FAIL"
    )
    assert gpu.copy_verdict(_pipes("cuda", [1e-3, 1e-3, 1e-3], [False, False, False])).startswith(
        "FAIL"
    )


# ---------------------------------------------------------------- 3. precision


@pytest.fixture(scope="module")
def losses(digits):
    X, y = digits
    return gpu.precision_losses(X, y, [64, 64, 10], "cpu", rng=3)


def test_precisions_reach_float64s_loss_and_bfloat16_weights_do_not(losses):
    checks = gpu.precision_verdicts(losses, rtol=0.05)
    assert [checks[k] for k in ("float32", "tf32", "bfloat16")] == ["OK"] * 3
    assert checks["bfloat16 weights"].startswith("FAIL")  # the plausible wrong way to use bf16
    assert gpu.stalls_verdict(losses) == "OK"


def test_stalls_verdict_fails_for_mixed_precision(losses):
    # autocast with float32 master weights keeps the small updates: no stall to see
    assert gpu.stalls_verdict(losses, name="bfloat16").startswith("FAIL")


def test_float32_and_float64_runs_agree_closely(losses):
    assert abs(losses["float32"] / losses["float64"] - 1) < 1e-4


# ---------------------------------------------------------------- 4. FLOPs


@pytest.mark.parametrize(
    "sizes,batch", [([64, 256, 256, 10], 32), ([5, 3], 7), ([16, 16, 16, 16, 16], 64)]
)
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_step_flops_equal_torchs_count(sizes, batch, precision):
    step = gpu.TrainStep(gpu.Placement("cpu", precision), sizes, batch, rng=0)
    assert gpu.counted_flops(step) == gpu.mlp_step_flops(sizes, batch) == step.flops


def test_flops_check_fails_for_the_forgotten_first_layer_saving():
    w, n, depth = 16, 32, 3
    counted = gpu.counted_flops(gpu.TrainStep(gpu.Placement("cpu"), [w] * (depth + 1), n, rng=0))
    assert close(counted, gpu.mlp_step_flops([w] * (depth + 1), n), rtol=1e-12) == "OK"
    assert close(counted, 6 * n * w * w * depth, rtol=1e-12).startswith("FAIL")


def test_efficiency_verdict():
    assert gpu.efficiency_verdict(gpu.Efficiency("cuda bf16", 100, 1.0, 105.0), 0.9) == "OK"
    assert gpu.efficiency_verdict(gpu.Efficiency("cuda bf16", 100, 1.0, 200.0), 0.9).startswith(
        "FAIL"
    )


# ---------------------------------------------------------------- 5. batch size


def test_scaling_verdict_fails_without_scaling_the_learning_rate(digits):
    X, y = digits
    pl = gpu.Placement("cpu", "float32")
    kw = dict(lr=0.01, base_batch=8, runs=1, rng=4)
    scaled = gpu.batch_scaling(pl, X, y, [64, 64, 10], [8, 32, 256, 1024], **kw)
    assert gpu.scaling_verdict(scaled, (8, 32), (256, 1024), 2.6, 2.6) == "OK"
    # the same lr at every batch: a larger batch saves few steps
    unscaled = gpu.batch_scaling(pl, X, y, [64, 64, 10], [32], scale=False, **kw)
    verdict = gpu.scaling_verdict({**scaled, **unscaled}, (8, 32), (256, 1024), 2.6, 2.6)
    assert verdict.startswith("FAIL"), verdict


def test_scaling_verdict_fails_when_a_target_is_never_reached():
    steps = {8: 400, 32: 100, 256: None, 1024: 12}
    assert "never reached" in gpu.scaling_verdict(steps, (8, 32), (256, 1024))
    # perfect scaling all the way: the large batches did not stop paying
    assert gpu.scaling_verdict(
        {8: 400, 32: 100, 256: 48, 1024: 12}, (8, 32), (256, 1024), 2.6, 2.6
    ).startswith("FAIL")


# ---------------------------------------------------------------- 6. run-to-run differences


@pytest.fixture(scope="module")
def gaps(digits):
    X, y = digits
    return {
        lr: gpu.reduction_gap(X, y, [64, 64, 10], "cpu", "float32", lr=lr, steps=200, rng=5)
        for lr in (0.03, 0.3)
    }


def test_calm_and_chaotic_runs_are_told_apart(gaps):
    assert gpu.calm_verdict(gaps[0.03], tol=1e-5) == "OK"
    assert gpu.drift_verdict(gaps[0.3], factor=1e6) == "OK"
    assert gpu.calm_verdict(gaps[0.3], tol=1e-5).startswith("FAIL")
    assert gpu.drift_verdict(gaps[0.03], factor=1e6).startswith("FAIL")


def test_the_same_order_gives_the_same_bits(digits):
    X, y = digits
    pl = gpu.Placement("cpu", "float32")
    a, b = pl.mlp([64, 8, 10], rng=1), pl.mlp([64, 8, 10], rng=1)
    order = pl.index(gpu.batch_order(len(X), 16, 20, rng=2))
    Xd, yd = pl.tensor(X), pl.labels(y)
    ta = gpu._sgd_steps(pl, a, Xd, yd, order, 0.3, 0.9, record=True)
    tb = gpu._sgd_steps(pl, b, Xd, yd, order, 0.3, 0.9, record=True)
    assert torch.equal(ta, tb)
    tc = gpu._sgd_steps(pl, pl.mlp([64, 8, 10], rng=1), Xd, yd, order, 0.3, 0.9, True, True)
    assert not torch.equal(ta, tc) and float((ta - tc).abs().max()) < 1e-3


def test_verdicts_need_finite_numbers_and_a_difference():
    assert gpu.calm_verdict({"x": np.array([0.0, np.nan])}).startswith("FAIL")
    assert gpu.drift_verdict({"same bits": np.zeros(5)}).startswith("FAIL")
    assert gpu.drift_verdict({"late": np.array([0.0, 0.0, 1e-9, 1e-2])}) == "OK"


# ---------------------------------------------------------------- device mixing


def test_placement_check_tells_two_gpus_apart(monkeypatch):
    """'cuda' is resolved to the current device's index, and check() compares devices with
    their index: a model on cuda:0 does not pass for a placement on cuda:1 (comparing only
    the type, as before, let it through to fail later inside a step)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    pl = gpu.Placement("cuda", "float32")
    assert pl.device == torch.device("cuda", 1)

    class Param:
        device, dtype = torch.device("cuda", 0), torch.float32

    class Model:
        def named_parameters(self):
            return [("0.weight", Param())]

    with pytest.raises(
        ValueError, match="on cuda:0; this placement expects torch.float32 on cuda:1"
    ):
        pl.check(Model())

"""Lecture 06's checked claims can fail, and the batched experiments equal plain runs.

The notebook calls coursekit.per_coordinate, coursekit.parity and coursekit.checks with the
right inputs and prints OK; here the same functions get a plausible wrong input (an untuned
baseline, a GD off its best step, a hyperparameter 10% off) and must print FAIL.
"""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import checks, per_coordinate, theory
from coursekit.data import make_xor
from coursekit.layers import MLP
from coursekit.losses import CrossEntropyLoss
from coursekit.optim import GD, SGD, QuickProp, Rprop, RpropLecture, RpropSlide
from coursekit.problems import Quadratic
from coursekit.training import train_full_batch
from tests.test_optim_classic import lecture_rprop_pseudocode

STARTS = np.random.default_rng(0).standard_normal((4, 2)) * 1.5


# ----------------------------------------------------------------------------- the slide's loop


def test_rprop_slide_is_the_slide_loop_in_one_dimension():
    grad = lambda w: 4.0 * (w - 1.0) ** 3 + (w - 1.0)  # noqa: E731
    expected = lecture_rprop_pseudocode(grad, 0.0, 0.7, 30)
    w = np.array([0.0])
    opt = RpropSlide([w], lr=0.7)
    visited = []
    for _ in range(30):
        opt.step([grad(w)])
        visited.append(w[0])
    np.testing.assert_allclose(visited, expected, rtol=1e-13, atol=1e-15)


def test_rprop_slide_freezes_on_a_rotated_quadratic_and_not_on_an_aligned_one():
    rotated = Quadratic.with_condition(10, dim=2, rotate=np.pi / 6)
    aligned = Quadratic.with_condition(10, dim=2)
    make = lambda p: RpropSlide(p, lr=0.1, step_sizes=(1e-12, 50))  # noqa: E731
    w = np.array([-1.8, 0.8])
    opt = make([w])
    for _ in range(300):
        opt.step([rotated.grad(w)])
    assert np.linalg.norm(w) > 0.1
    assert np.all(opt.state[0]["step_size"] <= 1e-12)
    assert np.all(np.sign(rotated.grad(w)) != np.sign(opt.state[0]["prev"]))  # stale signs
    counts = per_coordinate.evaluations_to_reach(aligned, make, STARTS, max_evals=500)
    assert all(c is not None for c in counts)


# ----------------------------------------------------------------------------- quadratic table


def test_evaluations_to_reach_equals_separate_runs():
    q = Quadratic.with_condition(10, dim=2, rotate=np.pi / 6)
    for make in [
        lambda p: Rprop(p, lr=0.1, step_sizes=(1e-12, 50)),
        lambda p: QuickProp(p, lr=1.0),
        lambda p: GD(p, lr=theory.optimal_lr(q.eigenvalues)),
    ]:
        together = per_coordinate.evaluations_to_reach(q, make, STARTS)
        alone = [per_coordinate.evaluations_to_reach(q, make, s[None])[0] for s in STARTS]
        assert together == alone


def test_gd_equals_theory_check_fails_for_a_gd_off_its_best_step():
    tab = per_coordinate.quadratic_table(
        [10],
        STARTS,
        methods={
            "right": per_coordinate.QUADRATIC_METHODS["GD at eta*"],
            "slow": lambda p, q: GD(p, lr=0.5 * theory.optimal_lr(q.eigenvalues)),
        },
        rotations=(("rotated", np.pi / 6),),
    )
    row = tab["rotated", 10]
    ok = lambda name: all(  # noqa: E731
        checks.steps_close(n, t, rtol=0, atol=1) == "OK"
        for n, t in zip(row[name], row["GD theory"], strict=True)
    )
    assert ok("right") and not ok("slow")


def test_per_coordinate_advantage_checks_fail_against_a_slowed_gd():
    """'Rprop needs 5x fewer evaluations than GD' on the aligned problem holds, but so would
    'QuickProp is 3x faster than GD' on the rotated one if GD ran at a fifth of its step."""
    tab = per_coordinate.quadratic_table(
        [100],
        STARTS,
        methods={
            "GD at eta*": per_coordinate.QUADRATIC_METHODS["GD at eta*"],
            "GD slowed": lambda p, q: GD(p, lr=0.2 * theory.optimal_lr(q.eigenvalues)),
            "QuickProp": per_coordinate.QUADRATIC_METHODS["QuickProp"],
        },
    )
    rot = tab["rotated", 100]
    assert not checks.beats(rot["QuickProp"], rot["GD at eta*"], factor=3).ok
    assert checks.beats(rot["QuickProp"], rot["GD slowed"], factor=3).ok


# ----------------------------------------------------------------------------- the network


@pytest.mark.parametrize(
    "name, make",
    [
        ("GD", lambda p, lr: GD(p, lr=lr)),
        ("GD + momentum 0.9", lambda p, lr: SGD(p, lr=lr, momentum=0.9)),
        ("Rprop (torch)", lambda p, lr: Rprop(p, lr=lr)),
        ("Rprop (lecture)", lambda p, lr: RpropLecture(p, lr=lr)),
        ("QuickProp", lambda p, lr: QuickProp(p, lr=lr)),
    ],
)
def test_batched_network_training_equals_train_full_batch(name, make):
    losses = per_coordinate.network_losses(
        per_coordinate.NETWORK_METHODS[name], [0.05, 0.5], [3, 4], 30
    )
    X, y = make_xor(200, noise=0.5, rng=4)
    model = MLP([2, 8, 2], activation="tanh", rng=5)
    hist = train_full_batch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        steps=31,
        optimizer=make(model.parameters(), 0.5),
        show_progress=False,
        metric=None,
    )
    np.testing.assert_allclose(losses[:, 1, 1], hist["train_loss"], rtol=1e-10, atol=1e-13)


def test_network_comparison_fails_against_an_untuned_or_edge_grid():
    grids = {"GD": np.geomspace(0.25, 16, 7), "Rprop (torch)": [0.01, 0.1, 1.0, 10.0, 30.0]}
    right = per_coordinate.network_sweep(grids, [1, 2, 3], steps=60)
    assert right.compare("Rprop (torch)", "GD").verdict() == "OK"
    edge = per_coordinate.network_sweep(dict(grids, GD=[0.25, 0.5]), [1, 2, 3], steps=60)
    assert edge.compare("Rprop (torch)", "GD").verdict().startswith("FAIL")  # GD's best off grid
    slow = per_coordinate.network_sweep(
        dict(grids, **{"Rprop (torch)": [1e-4, 3e-4, 1e-3]}), [1, 2, 3], steps=60
    )
    assert slow.compare("Rprop (torch)", "GD").verdict().startswith("FAIL")


def test_a_blown_up_network_run_scores_badly():
    """tanh saturates and log-softmax is stable, so a far too large step gives a huge but
    finite loss: the sweep ranks it last without special treatment."""
    losses = per_coordinate.network_losses(
        per_coordinate.NETWORK_METHODS["GD"], [1e4, 1.0], [1], 20
    )
    assert losses[-1, 0, 0] > 100 * losses[0, 0, 0] and losses[-1, 1, 0] < losses[0, 1, 0]


# ----------------------------------------------------------------------------- torch parity


def test_side_by_side_fails_with_an_eta_off_by_ten_percent():
    import torch

    from coursekit.parity import side_by_side

    X, y = make_xor(100, noise=0.5, rng=2)
    same = side_by_side(
        MLP([2, 8, 2], activation="tanh", rng=3),
        lambda p: Rprop(p),
        lambda p: torch.optim.Rprop(p),
        X,
        y,
        steps=20,
    )
    off = side_by_side(
        MLP([2, 8, 2], activation="tanh", rng=3),
        lambda p: Rprop(p),
        lambda p: torch.optim.Rprop(p, etas=(0.5, 1.32)),
        X,
        y,
        steps=20,
    )
    assert checks.verdict(same, 1e-12) == "OK"
    assert checks.verdict(off, 1e-12).startswith("FAIL")


def test_rprop_drift_check_fails_for_the_other_variant():
    batch = [0.1] * 9 + [-0.9]
    drift = {}
    for name, cls in [("torch", Rprop), ("lecture", RpropLecture)]:
        w = np.array([0.0])
        opt = cls([w], lr=0.01, step_sizes=(0.01, 0.01))
        for g in batch * 10:
            opt.step([np.array([g])])
        drift[name] = w[0] / 10
    assert checks.close(drift["torch"], -0.09, rtol=0, atol=1e-12) == "OK"
    assert checks.close(drift["lecture"], -0.09, rtol=0, atol=1e-12).startswith("FAIL")

"""coursekit.explorer: trajectories against explicit loops, plots, and the no-front-end fallback."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from coursekit.errors import DivergenceError
from coursekit.explorer import (
    EXPLORER_W0,
    explore,
    explorer_problem,
    explorer_trajectory,
)
from coursekit.plotting import plot_contours, plot_log_error
from coursekit.problems import Quadratic, Rosenbrock


def test_explorer_problem_has_the_requested_condition_number():
    q = explorer_problem(30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(q.A), [1 / 30.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize(("lr", "kappa"), [(0.3, 10.0), (1.8, 100.0)])
def test_gd_trajectory_equals_an_explicit_gd_loop(lr, kappa):
    A = explorer_problem(kappa).A
    w = EXPLORER_W0.copy()
    expected = [w.copy()]
    for _ in range(30):
        w = w - lr * (A @ w)
        expected.append(w)
    np.testing.assert_allclose(explorer_trajectory("gd", lr, 0.0, kappa, 30), expected, rtol=1e-12)


def test_momentum_trajectory_equals_an_explicit_heavy_ball_loop():
    A, lr, beta = explorer_problem(20.0).A, 0.5, 0.7
    w, v = EXPLORER_W0.copy(), np.zeros(2)
    expected = [w.copy()]
    for _ in range(30):
        v = beta * v - lr * (A @ w)
        w = w + v
        expected.append(w)
    traj = explorer_trajectory("momentum", lr, beta, 20.0, 30)
    np.testing.assert_allclose(traj, expected, rtol=1e-12, atol=1e-15)


def test_newton_lands_on_the_minimum_in_one_step():
    traj = explorer_trajectory("newton", 1.0, 0.0, 1000.0, 3)
    np.testing.assert_allclose(traj[1:], 0.0, atol=1e-12)


def test_divergent_trajectory_raises_and_unknown_method_is_named():
    with pytest.raises(DivergenceError, match="step"):
        explorer_trajectory("gd", 3.0, 0.0, 10.0, 500)  # |1 - 3 * 1| = 2 > 1
    with pytest.raises(ValueError, match="expected a method in"):
        explorer_trajectory("lbfgs", 0.1, 0.0, 10.0, 5)


def test_explore_without_a_front_end_draws_a_static_figure():
    assert matplotlib.get_backend().lower() == "agg"
    ax = explore(method="momentum", lr=0.5, beta=0.5, kappa=10.0)  # no IPython kernel here
    assert isinstance(ax, plt.Axes)
    assert "momentum" in ax.get_title()
    ax = explore(method="gd", lr=3.0, kappa=10.0, steps=500)
    assert "diverged" in ax.get_title()
    plt.close("all")


def test_explore_widget_box_has_an_lr_log_slider_that_redraws(monkeypatch):
    import ipywidgets as w

    import coursekit.explorer as explorer

    calls = []
    monkeypatch.setattr(explorer, "_draw", lambda **kw: calls.append(kw))
    box = explore(widgets=True)
    assert isinstance(box, w.VBox)
    slider = box.controls["lr"]
    assert isinstance(slider, w.FloatLogSlider) and slider.description == "lr"
    methods = box.controls["method"].options
    assert {"gd", "momentum", "nesterov", "newton", "rprop", "quickprop"} <= set(methods)
    assert calls[-1]["lr"] == 1.0  # drawn once for the initial values
    slider.value = 0.25
    assert len(calls) == 2 and calls[-1]["lr"] == 0.25  # moving the slider redraws
    plt.close("all")


def test_plot_contours_draws_each_trajectory_and_the_minimum():
    traj = explorer_trajectory("gd", 1.0, 0.0, 10.0, 20)
    ax = plot_contours(explorer_problem(10.0), {"gd": traj, "gd again": traj[:5]})
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["gd"].get_xydata(), traj)
    assert len(ax.get_lines()) == 3  # two trajectories + the minimum's star
    plot_contours(Rosenbrock(), xlim=(-2, 2), ylim=(-1, 3))
    with pytest.raises(ValueError, match="2-D problem"):
        plot_contours(Quadratic(np.eye(3)))
    plt.close("all")


def test_plot_log_error_theory_line_has_slope_log10_rate():
    e = 2.0 * 0.8 ** np.arange(30)
    ax = plot_log_error({"gd": e}, theory_rates={"gd": 0.8})
    theory_line = [ln for ln in ax.get_lines() if ln.get_label().startswith("theory")][0]
    x, y = theory_line.get_xydata().T
    np.testing.assert_allclose(np.diff(y) / np.diff(x), np.log10(0.8), rtol=1e-12)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.log10(e), rtol=1e-12)
    plt.close("all")

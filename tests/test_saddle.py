"""coursekit.saddle: the plateau estimate and the count of steps near a point."""

import numpy as np
import pytest

from coursekit.optim import GD
from coursekit.problems import Saddle, optimize
from coursekit.saddle import plateau_steps, steps_near


def test_plateau_estimate_matches_gd_on_the_saddle_within_two_steps():
    for lr in [0.05, 0.1, 0.2]:
        for x0 in [1e-4, 1e-8]:
            tr = optimize(Saddle(), lambda p, lr=lr: GD(p, lr=lr), [x0, 1.0], steps=800)
            assert abs(steps_near(tr, [0, 0], 0.2) - plateau_steps(x0, 1.0, lr, 0.2)) <= 2


def test_plateau_grows_by_a_constant_per_decade_of_x0():
    a, b, c = (plateau_steps(x0, 1.0, 0.1, 0.2) for x0 in [1e-3, 1e-6, 1e-9])
    assert b - a == pytest.approx(c - b) == pytest.approx(np.log(1e3) / np.log(1.1))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"0 < \|x0\| < r < \|y0\|"):
        plateau_steps(0.5, 1.0, 0.1, 0.2)
    with pytest.raises(ValueError, match="lr"):
        plateau_steps(1e-3, 1.0, 1.5, 0.2)
    with pytest.raises(ValueError, match=r"shape \(T, d\)"):
        steps_near(np.zeros(3), [0.0], 0.1)
    assert steps_near(np.array([[0.0, 0.0], [1.0, 0.0]]), [0.0, 0.0], 0.5) == 1

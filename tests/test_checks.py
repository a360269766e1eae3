"""coursekit.checks: every verdict helper prints FAIL on a plausible wrong input."""

import math

import numpy as np
import pytest

from coursekit import checks


def test_verdict_and_passed():
    assert checks.verdict(1e-13, 1e-12) == "OK"
    assert checks.verdict(2e-12, 1e-12).startswith("FAIL (error 2.0e-12")
    assert checks.verdict(math.nan, 1.0).startswith("FAIL (error nan")
    assert checks.passed(True) == "OK"
    assert checks.passed(False, "(why)") == "FAIL (why)"


def test_close_fails_one_percent_off_and_on_nan():
    assert checks.close(1.004, 1.0, rtol=0.005) == "OK"
    assert checks.close(1.01, 1.0, rtol=0.005).startswith("FAIL (measured 1.01, expected 1")
    assert checks.close(math.nan, 1.0, rtol=0.5).startswith("FAIL")
    assert checks.close(math.inf, 1.0, rtol=0.5).startswith("FAIL")
    with pytest.raises(ValueError, match="rtol"):
        checks.close(1, 1, rtol=0)


def test_rate_close_is_a_log_scale_comparison():
    assert checks.rate_close(0.998, 0.998) == "OK"
    # 0.6% apart on a plain scale, but one diverges
    assert "does not converge" in checks.rate_close(1.004, 0.998)
    # 0.01% apart, 1% in steps per decade: fails at rtol 0.5% and passes at 2%
    assert checks.rate_close(0.99802, 0.998, rtol=0.005).startswith("FAIL (steps per decade")
    assert checks.rate_close(0.99802, 0.998, rtol=0.02) == "OK"
    assert checks.rate_close(0.5, 0.5) == "OK"
    assert checks.rate_close(math.nan, 0.5).startswith("FAIL")
    with pytest.raises(ValueError, match="theory rate"):
        checks.rate_close(0.5, 1.0)
    assert checks.steps_per_decade(0.1) == pytest.approx(1.0)


def test_reached_and_steps_close_fail_a_target_never_reached():
    assert checks.reached([1.0, 0.5, 0.1, 0.01], 0.1) == 2
    assert checks.reached([1.0, np.nan, 2.0], 0.1) is None
    assert checks.reached([0, 1, 2], 2, below=False) == 2
    assert checks.steps_close(None, 100, rtol=0.1).startswith("FAIL (target never reached")
    assert checks.steps_close(105, 100, rtol=0.1) == "OK"
    assert checks.steps_close(200, 100, rtol=0.1).startswith("FAIL")


def test_beats_rules_and_divergence():
    fast, slow = [100, 110, 120], [300, 310, 320]
    assert checks.beats(fast, slow).ok
    assert not checks.beats(slow, fast).ok
    # a factor-2 margin: 2x slower GD is caught, 1.5x is not enough to claim it
    assert checks.beats(fast, slow, factor=2).ok
    assert not checks.beats(fast, [150, 160, 170], factor=2).ok
    # a tie is no win, even at zero: 0 * factor <= 0 must not claim "A beats B 2x"
    assert not checks.beats([0, 0, 0], [0, 0, 0], factor=2).ok
    assert not checks.beats([5, 5], [5, 5]).ok
    assert checks.beats([0, 0, 0], [1, 2, 3], factor=2).ok
    # 'every': the worst of A must beat the best of B
    assert not checks.beats([100, 400], [300, 310], rule="every").ok
    assert checks.beats([100, 400], [300, 500], rule="paired").ok
    # diverged runs: A fails with any, B counts them as infinitely bad
    assert not checks.beats([100, math.inf], slow).ok
    assert checks.beats(fast, [math.nan, math.inf, 5]).ok
    cmp = checks.beats(fast, slow, names=("Adam", "GD"))
    assert cmp.verdict() == "OK"
    assert "median over 3 runs of Adam" in cmp.rests_on()
    assert "Adam: median 110 [100, 120]; GD: median 310 [300, 320]" == cmp.summary()
    assert checks.beats([1, 2], [0.5, 0.6], lower_is_better=False).ok
    with pytest.raises(ValueError, match="rule"):
        checks.beats(fast, slow, rule="mean")


def test_exercise_reports_and_never_raises(capsys):
    with checks.exercise("e1"):
        raise NotImplementedError
    with checks.exercise("e1"):
        checks.answered(...)
    with checks.exercise("e2"):
        raise AssertionError("one is not two")
    with checks.exercise("e3"):
        _ = 1 / 0
    with checks.exercise("e4"):
        assert checks.answered(3) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("e1: not attempted yet")
    assert out[1].startswith("e1: not attempted yet")
    assert out[2] == "e2: not yet: one is not two"
    assert out[3].startswith("e3: your code raised ZeroDivisionError: division by zero")
    assert out[4] == "e4: OK"

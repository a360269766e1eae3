r"""How long gradient descent lingers near a saddle point (lecture 3).

Near the saddle of :class:`coursekit.problems.Saddle`, $f \approx (y^2 - x^2)/2$, so a
gradient step with learning rate $\eta$ multiplies $y$ by $1 - \eta$ (towards the saddle)
and $x$ by $1 + \eta$ (away from it). Started at $(x_0, y_0)$ with $|x_0| \ll r$, the
iterate enters the disc of radius $r$ around the saddle after about
$\log(r/y_0)/\log(1 - \eta)$ steps and leaves it after about $\log(r/x_0)/\log(1 + \eta)$
steps, so it spends

$$\frac{\log(r/x_0)}{\log(1 + \eta)} - \frac{\log(r/y_0)}{\log(1 - \eta)}$$

steps inside: a plateau whose length grows like $\log(1/x_0)$.

- :func:`plateau_steps`: that estimate (the linear model).
- :func:`steps_near`: the count, measured on a trajectory.
"""

from __future__ import annotations

import numpy as np

from ._checks import in_range

__all__ = ["plateau_steps", "steps_near"]


def plateau_steps(x0: float, y0: float, lr: float, r: float) -> float:
    r"""Steps gradient descent spends within radius ``r`` of the saddle at the origin, by
    the linear model $\log(r/x_0)/\log(1 + \eta) - \log(r/y_0)/\log(1 - \eta)$.

    Needs $0 < |x_0| < r < |y_0|$ (start outside the disc, close to the ridge $x = 0$)
    and $0 < \eta < 1$.
    """
    x0, y0 = abs(float(x0)), abs(float(y0))
    lr = in_range(float(lr), "plateau_steps lr", low=0.0, high=1.0, low_open=True, high_open=True)
    r = in_range(float(r), "plateau_steps r", low=0.0, low_open=True)
    if not 0 < x0 < r < y0:
        raise ValueError(
            f"plateau_steps: expected 0 < |x0| < r < |y0|, got x0={x0!r}, r={r!r}, y0={y0!r}"
        )
    return float(np.log(r / x0) / np.log1p(lr) - np.log(r / y0) / np.log1p(-lr))


def steps_near(trajectory, point, r: float) -> int:
    """Number of iterates (rows of ``trajectory``, shape ``(T, d)``) within distance ``r``
    of ``point`` ``(d,)``."""
    tr = np.asarray(trajectory, dtype=float)
    if tr.ndim != 2:
        raise ValueError(f"steps_near: expected a trajectory of shape (T, d), got {tr.shape}")
    r = in_range(float(r), "steps_near r", low=0.0, low_open=True)
    return int(np.sum(np.linalg.norm(tr - np.asarray(point, dtype=float), axis=1) < r))

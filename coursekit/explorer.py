r"""An interactive explorer of optimisers on a 2-D quadratic (its plots are in :mod:`coursekit.plotting`).

``explore()`` shows sliders for the learning rate, beta and the condition number over a
contour plot of a 2-D quadratic with the optimiser's trajectory, redrawn live. Without
a Jupyter kernel (a plain script, a test) it draws the static figure for the initial
values instead. The trajectory itself comes from the pure function
:func:`explorer_trajectory`, so it can be tested without any front end.
"""

from __future__ import annotations

import numpy as np

from .errors import DivergenceError
from .plotting import plot_contours
from .problems import Quadratic, optimize

__all__ = [
    "explorer_trajectory",
    "explorer_problem",
    "explore",
    "METHODS",
]

METHODS = ("gd", "momentum", "nesterov", "newton", "rprop", "quickprop", "adam")
EXPLORER_W0 = np.array([-1.8, 0.8])
EXPLORER_ANGLE = np.pi / 6


def explorer_problem(kappa: float) -> Quadratic:
    """The explorer's quadratic: eigenvalues ``1/kappa`` and 1, axes turned by 30 degrees."""
    return Quadratic.with_condition(kappa, dim=2, rotate=EXPLORER_ANGLE)


def _make_optimizer(method: str, lr: float, beta: float, problem):
    from . import optim

    makers = {
        "gd": lambda p: optim.GD(p, lr=lr),
        "momentum": lambda p: optim.Momentum(p, lr=lr, beta=beta),
        "nesterov": lambda p: optim.Nesterov(p, lr=lr, beta=beta),
        "newton": lambda p: optim.Newton(p, lr=lr, hessian=problem.hessian),
        "rprop": lambda p: optim.Rprop(p, lr=lr),
        "quickprop": lambda p: optim.QuickProp(p, lr=lr),
        "adam": lambda p: optim.Adam(p, lr=lr, betas=(beta, 0.999)),
    }
    if method not in makers:
        raise ValueError(f"explorer: expected a method in {METHODS}, got {method!r}")
    return makers[method]


def explorer_trajectory(
    method: str = "gd", lr: float = 1.0, beta: float = 0.9, kappa: float = 10.0, steps: int = 50
) -> np.ndarray:
    r"""The iterates ``(steps + 1, 2)`` of ``method`` on :func:`explorer_problem` from (-1.8, 0.8).

    ``lr`` is the optimiser's learning rate (Rprop's initial step size), ``beta`` the
    momentum of momentum/Nesterov (Adam's $\beta_1$). Pure: no plotting, no widgets.
    Raises :class:`~coursekit.errors.DivergenceError` when the iterates blow up.
    """
    problem = explorer_problem(kappa)
    return optimize(problem, _make_optimizer(method, lr, beta, problem), EXPLORER_W0, steps)


def _draw(method, lr, beta, kappa, steps, ax=None):
    """One explorer frame: contours, trajectory, and the distance reached (or divergence)."""
    import matplotlib.pyplot as plt

    try:
        traj, note = explorer_trajectory(method, lr, beta, kappa, steps), None
    except DivergenceError as err:
        traj, note = err.trajectory, "diverged"
    ax = plot_contours(explorer_problem(kappa), {method: traj}, ax=ax)
    end = f"||w|| = {np.linalg.norm(traj[-1]):.2e}" if note is None else note
    ax.set_title(f"{method}, lr={lr:.3g}, kappa={kappa:.3g}: {end}", fontsize=9)
    plt.show()
    return ax


def _has_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def explore(
    method: str = "gd",
    lr: float = 1.0,
    beta: float = 0.5,
    kappa: float = 10.0,
    steps: int = 40,
    widgets: bool | None = None,
):
    """Interactive explorer: method dropdown and sliders ``lr`` (log scale), ``beta``, ``kappa``.

    In a Jupyter kernel it returns an ``ipywidgets.VBox`` whose output (an image) is
    redrawn whenever a control moves; elsewhere (or with ``widgets=False``) it draws the
    static figure for the given values and returns its axes. ``adam`` is offered when
    ``coursekit.optim.Adam`` can be imported.
    """
    if widgets is None:
        widgets = _has_kernel()
    if not widgets:
        return _draw(method, lr, beta, kappa, steps)
    import ipywidgets as w

    methods = [m for m in METHODS if m != "adam" or _adam_available()]
    controls = {
        "method": w.Dropdown(options=methods, value=method, description="method"),
        "lr": w.FloatLogSlider(value=lr, base=10, min=-2, max=0.5, step=0.05, description="lr"),
        "beta": w.FloatSlider(value=beta, min=0.0, max=0.99, step=0.01, description="beta"),
        "kappa": w.FloatLogSlider(
            value=kappa, base=10, min=0, max=3, step=0.1, description="kappa"
        ),
        "steps": w.IntSlider(value=steps, min=1, max=200, description="steps"),
    }
    out = w.interactive_output(_draw, controls)
    box = w.VBox(
        [
            w.HBox([controls["method"], controls["lr"]]),
            w.HBox([controls["beta"], controls["kappa"], controls["steps"]]),
            out,
        ]
    )
    box.controls = controls

    # A page exported without a widget front end (the course site, nbconvert) shows no
    # widget: the box's display data also carries a picture of the current frame, which
    # such a page shows instead (JupyterLab, rendering the widget, ignores it).
    widget_bundle = box._repr_mimebundle_

    def _repr_mimebundle_(**kwargs):
        import base64
        import io

        from matplotlib.figure import Figure

        data = widget_bundle(**kwargs)
        fig = Figure(figsize=(4.5, 4))
        values = {k: c.value for k, c in controls.items()}
        _draw(ax=fig.subplots(), **values)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        data["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
        return data

    box._repr_mimebundle_ = _repr_mimebundle_
    return box


def _adam_available() -> bool:
    try:
        from .optim import Adam  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return True

r"""Plot helpers: each takes ``ax=None`` (a new figure) and returns the axes.

Decision boundaries, training curves, the learning-rate sensitivity figure, contours of
2-D problems with optimiser trajectories, log-error curves against the theory's slope,
and statistics by layer.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "get_ax",
    "plot_decision_boundary",
    "plot_history",
    "plot_sweep",
    "plot_contours",
    "plot_log_error",
    "plot_by_layer",
]


def get_ax(ax=None, figsize=(4.5, 3.5)):
    """``ax`` itself, or the axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_decision_boundary(
    predict, X, y, ax=None, xlim=None, ylim=None, resolution: int = 200, title: str | None = None
):
    """Shade the class a 2-D classifier predicts and scatter the data.

    ``predict``: a function ``(M, 2) -> (M,)`` class labels, or a coursekit model whose
    output is one score per sample (class 1 when > 0) or one per class (argmax).
    ``xlim``/``ylim`` default to the data range with a margin.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: expected X of shape (N, 2), got {X.shape}")
    ax = get_ax(ax)
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-12)
    xlim = xlim or (X[:, 0].min() - pad[0], X[:, 0].max() + pad[0])
    ylim = ylim or (X[:, 1].min() - pad[1], X[:, 1].max() + pad[1])
    gx, gy = np.meshgrid(
        np.linspace(xlim[0], xlim[1], resolution), np.linspace(ylim[0], ylim[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    out = np.asarray(predict(grid))  # a function, or a model (calling it runs forward)
    if out.ndim == 2 and out.shape[1] > 1:
        labels = out.argmax(axis=1)
    else:
        labels = out.reshape(-1)
        if labels.dtype.kind == "f":
            labels = (labels > 0).astype(int)
    ax.contourf(gx, gy, labels.reshape(gx.shape), alpha=0.25, cmap="coolwarm")
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=np.asarray(y).reshape(-1),
        cmap="coolwarm",
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_history(
    history,
    keys=("train_loss",),
    ax=None,
    logy: bool = False,
    label_prefix: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
):
    """Draw the named series of a :class:`coursekit.training.History` against the step.

    Labels given are set; labels not given are left as they are on an existing ``ax``
    (so a second call drawing onto the same axes keeps them), and the x label of a new
    figure is "step".
    """
    fresh = ax is None
    ax = get_ax(ax)
    for key in [keys] if isinstance(keys, str) else keys:
        x, v = history.series(key)
        ax.plot(x, v, label=f"{label_prefix}{key}")
    if logy:
        ax.set_yscale("log")
    if xlabel is not None or fresh:
        ax.set_xlabel(xlabel or "step")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_sweep(result, ax=None, methods=None, title: str | None = None, ylim=None):
    """The learning-rate sensitivity figure of a :class:`coursekit.sweep.Sweep`.

    For each method: the median score over seeds against the learning rate (log axes),
    a band from the smallest to the largest seed, and a marker at the best learning rate.
    Diverged runs (score inf) leave a gap, with an x at the top of the axes.
    """
    ax = get_ax(ax, figsize=(5.5, 3.6))
    for name in methods or result.methods:
        lrs, sc = result.lrs[name], result.scores[name]
        finite = np.where(np.isfinite(sc), sc, np.nan)
        with np.errstate(all="ignore"):
            med = np.where(np.all(np.isfinite(sc), axis=1), np.median(sc, axis=1), np.nan)
        (line,) = ax.plot(lrs, med, "o-", ms=3, label=name)
        ok = ~np.all(np.isnan(finite), axis=1)
        if ok.any():
            ax.fill_between(
                lrs[ok],
                np.nanmin(finite[ok], axis=1),
                np.nanmax(finite[ok], axis=1),
                color=line.get_color(),
                alpha=0.2,
                lw=0,
            )
        diverged = ~np.all(np.isfinite(sc), axis=1)
        if diverged.any():
            ax.plot(
                lrs[diverged],
                np.ones(diverged.sum()),
                "x",
                color=line.get_color(),
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
        i = result.best_index(name)
        if i >= 0:
            ax.plot(lrs[i], med[i], "*", ms=11, color=line.get_color())
    ax.set_xscale("log")
    if result.lower_is_better:
        ax.set_yscale("log")
    ax.set(xlabel="learning rate", ylabel=f"{result.metric} (median, min-max over seeds)")
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.set_title(
        title or f"{result.metric} against learning rate ({len(result.seeds)} seeds; x: diverged)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return ax


def plot_contours(
    problem,
    trajectories=None,
    ax=None,
    xlim=(-2.0, 2.0),
    ylim=(-2.0, 2.0),
    levels: int = 15,
    resolution: int = 200,
    legend_loc: str = "upper right",
):
    """Contours of a 2-D ``problem`` with trajectories ``{label: (T, 2) array}`` on top.

    ``legend_loc`` is matplotlib's ``loc`` for the trajectories' legend.

    Levels are log-spaced in $f - f_{min}$ (over the grid), so the narrow valley of an
    ill-conditioned quadratic shows as many thin ellipses, not one blob. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if problem.dim != 2:
        raise ValueError(f"plot_contours: expected a 2-D problem, got dim {problem.dim}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    xs = np.linspace(xlim[0], xlim[1], resolution)
    ys = np.linspace(ylim[0], ylim[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (H, W, 2): one vectorised call
    Z = problem.value(grid)
    Z = Z - Z.min()
    top = Z.max()
    ax.contour(
        xs, ys, Z, levels=np.geomspace(top * 1e-4, top, int(levels)), colors="0.6", linewidths=0.7
    )
    for label, traj in (trajectories or {}).items():
        traj = np.asarray(traj)
        ax.plot(traj[:, 0], traj[:, 1], ".-", ms=3, lw=1, label=label)
    if problem.minimizer is not None:
        ax.plot(*problem.minimizer, "k*", ms=10)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$w_1$", ylabel="$w_2$", aspect="equal")
    if trajectories:
        ax.legend(fontsize=8, loc=legend_loc)
    return ax


def plot_log_error(errors: dict, ax=None, theory_rates: dict | None = None):
    r"""$\log_{10}$ of each error sequence against the step, with the theory's slope dashed.

    ``errors``: ``{label: (T,) array}`` (e.g. $\|w_k - w^*\|$); ``theory_rates``:
    ``{label: rate}`` draws $\log_{10} e_0 + k \log_{10}\rho$ in the same colour. Zero
    errors (a method that lands exactly) are not drawn. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    theory_rates = theory_rates or {}
    for label, e in errors.items():
        e = np.asarray(e, dtype=float)
        k = np.arange(e.size)
        pos = e > 0
        (line,) = ax.plot(k[pos], np.log10(e[pos]), lw=1.5, label=label)
        if label in theory_rates and e[0] > 0:
            rho = theory_rates[label]
            slope = np.log10(rho) if rho > 0 else -np.inf
            ax.plot(
                k,
                np.log10(e[0]) + k * slope,
                "--",
                color=line.get_color(),
                lw=1,
                label=f"theory {rho:.3f}",
            )
    ax.set(xlabel="step k", ylabel="log10 error")
    ax.legend(fontsize=8)
    return ax


def plot_by_layer(
    series: dict,
    ax=None,
    ylabel: str = "",
    logy: bool = False,
    title: str | None = None,
    first_layer: int = 1,
):
    """One line per entry of ``series`` (label -> values by layer), layers numbered from ``first_layer``.

    Returns the axes (a new figure when ``ax`` is None). ``logy`` for variances that grow or
    vanish geometrically; non-positive values are then left out of the line.
    """
    ax = get_ax(ax)
    for label, values in series.items():
        values = np.asarray(values, dtype=float)
        if logy:
            values = np.where(values > 0, values, np.nan)
        ax.plot(np.arange(first_layer, first_layer + values.size), values, marker=".", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="layer", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax

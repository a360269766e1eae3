r"""Fair comparisons: each method at its own best learning rate, over several seeds.

"Adam beats SGD" means little when Adam's learning rate was tuned and SGD's was not.
:func:`sweep` runs every method over a grid of learning rates and several seeds and
returns a :class:`Sweep`: a score per (learning rate, seed) for each method (lower is
better: a final loss, or the steps to a target), the best learning rate of each method
by the median over seeds, and the comparison of two methods each at its best.

    result = sweep({"GD": run_gd, "Adam": run_adam}, lrs=np.geomspace(1e-3, 1, 7),
                   seeds=coursekit.seeds(3))
    print(result.table())                  # best lr, median [min, max], grid-edge warning
    cmp = result.compare("Adam", "GD")     # a checks.Comparison at the best lrs
    result.plot()                          # score against lr: the sensitivity figure

``run(lr, seed)`` returns the score of one run. A run that diverges (raises
:class:`FloatingPointError`, of which ``DivergenceError`` is one, or returns NaN/inf)
scores ``inf``; so does a run that never reaches a target, when the score is the steps
to it (return ``inf`` for it). A best learning rate at the edge of its grid means the grid was too
narrow: the verdict of a comparison then says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .checks import Comparison, beats
from .seeding import seeds as course_seeds

__all__ = ["Sweep", "sweep", "best_of"]


@dataclass
class Sweep:
    """Scores of each method over its learning-rate grid (rows) and the seeds (columns)."""

    lrs: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    seeds: list[int]
    metric: str = "final loss"
    lower_is_better: bool = True
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(self.scores)

    def _check(self, method: str) -> None:
        if method not in self.scores:
            raise KeyError(f"Sweep: no method {method!r}; swept {self.methods}")

    def median(self, method: str) -> np.ndarray:
        """Median score over seeds at each learning rate (inf where a run diverged)."""
        self._check(method)
        return np.median(self.scores[method], axis=1)

    def best_index(self, method: str) -> int:
        med = self.median(method)
        key = med if self.lower_is_better else -med
        if not np.any(np.isfinite(key)):
            return -1
        return int(np.nanargmin(np.where(np.isfinite(key), key, np.inf)))

    def best_lr(self, method: str) -> float:
        """The learning rate with the best median score (NaN when every run diverged)."""
        i = self.best_index(method)
        return float("nan") if i < 0 else float(self.lrs[method][i])

    def best(self, method: str) -> np.ndarray:
        """Scores over seeds at the method's best learning rate."""
        i = self.best_index(method)
        if i < 0:
            return np.full(len(self.seeds), np.inf if self.lower_is_better else -np.inf)
        return self.scores[method][i]

    def at_edge(self, method: str) -> bool:
        """True when the best learning rate is the first or last of the grid: a wider grid
        might find a better one, so a comparison resting on it is not fair yet."""
        i = self.best_index(method)
        return i in (0, len(self.lrs[method]) - 1) and len(self.lrs[method]) > 1

    def stable_range(self, method: str, within: float = 10.0) -> tuple[float, float]:
        """The smallest and largest learning rate whose median score is within a factor
        ``within`` of the best (finite runs only): how forgiving the method is."""
        med, best = self.median(method), self.median(method)[self.best_index(method)]
        if not np.isfinite(best):
            return (float("nan"), float("nan"))
        ok = np.isfinite(med) & (
            med <= best * within if self.lower_is_better else med >= best / within
        )
        lrs = self.lrs[method][ok]
        return float(lrs.min()), float(lrs.max())

    def compare(self, a: str, b: str, factor: float = 1.0, rule: str = "median") -> Comparison:
        """:func:`coursekit.checks.beats` of method ``a`` against ``b``, each at its own best
        learning rate. The result fails when either best sits at the edge of its grid."""
        cmp = beats(
            self.best(a), self.best(b), (a, b), factor, rule, lower_is_better=self.lower_is_better
        )
        if self.at_edge(a) or self.at_edge(b):
            edge = [m for m in (a, b) if self.at_edge(m)]
            return _EdgeComparison(
                cmp.a, cmp.b, cmp.names, cmp.factor, cmp.rule, cmp.lower_is_better, tuple(edge)
            )
        return cmp

    def table(self, fmt: str = ".3g", lr_fmt: str = ".3g") -> str:
        """One line per method: best lr, median score there with [min, max] over seeds."""
        width = max(len(m) for m in self.methods)
        lines = [
            f"{'method':<{width}}  best lr   {self.metric} at best lr: median [min, max] "
            f"over {len(self.seeds)} seeds"
        ]
        for m in self.methods:
            x = self.best(m)
            lr = self.best_lr(m)
            if not np.all(np.isfinite(x)):
                body = (
                    f"{int(np.sum(~np.isfinite(x)))} of {len(x)} runs scored inf "
                    "(diverged or never reached the target)"
                )
            else:
                body = (
                    f"{format(float(np.median(x)), fmt)} "
                    f"[{format(float(x.min()), fmt)}, {format(float(x.max()), fmt)}]"
                )
            edge = "  (best lr at the edge of the grid)" if self.at_edge(m) else ""
            lines.append(f"{m:<{width}}  {format(lr, lr_fmt):>8}  {body}{edge}")
        return "\n".join(lines)

    def plot(self, ax=None, **kw):
        """Score against learning rate, median with the min-max band: see
        :func:`coursekit.plotting.plot_sweep`."""
        from .plotting import plot_sweep

        return plot_sweep(self, ax=ax, **kw)


@dataclass(frozen=True)
class _EdgeComparison(Comparison):
    edge: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return False

    def verdict(self) -> str:
        return (
            f"FAIL (best lr of {', '.join(self.edge)} at the edge of its grid: widen the grid; "
            f"{self.summary()})"
        )


def _score(run: Callable, lr: float, seed: int, lower_is_better: bool) -> float:
    bad = np.inf if lower_is_better else -np.inf
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(run(lr, seed))
    except FloatingPointError:
        return bad
    return value if np.isfinite(value) else bad


def sweep(
    runs: Mapping[str, Callable[[float, int], float]],
    lrs: Sequence[float] | Mapping[str, Sequence[float]],
    seeds: Sequence[int] | int = 3,
    metric: str = "final loss",
    lower_is_better: bool = True,
    show_progress: bool | None = None,
) -> Sweep:
    """Run ``runs[name](lr, seed)`` for every learning rate of the grid and every seed.

    ``lrs``: one grid for all methods or a grid per method (log-spaced grids,
    ``np.geomspace``, suit learning rates). ``seeds``: a list of integer seeds, or a
    count, then taken from :func:`coursekit.seeding.seeds` (derived from the course
    seed). Returns a :class:`Sweep`. A progress bar is shown for more than 20 runs.
    """
    if not runs:
        raise ValueError("sweep: expected at least one method in runs")
    seed_list = course_seeds(seeds) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("sweep: expected at least one seed")
    grids: dict[str, np.ndarray] = {}
    for name in runs:
        raw = lrs[name] if isinstance(lrs, Mapping) else lrs
        grid = np.asarray(raw, dtype=float).reshape(-1)
        if grid.size == 0 or not np.all(grid > 0) or not np.all(np.isfinite(grid)):
            raise ValueError(
                f"sweep: expected a grid of positive learning rates for {name!r}, got {grid}"
            )
        grids[name] = grid
    total = sum(g.size for g in grids.values()) * len(seed_list)
    from .history import progress

    show = total > 20 if show_progress is None else show_progress
    bar = progress(total=total, desc="sweep", disable=not show)
    scores = {}
    for name, run in runs.items():
        table = np.empty((grids[name].size, len(seed_list)))
        for i, lr in enumerate(grids[name]):
            for j, s in enumerate(seed_list):
                table[i, j] = _score(run, float(lr), s, lower_is_better)
                bar.update(1)
        scores[name] = table
    bar.close()
    return Sweep(grids, scores, seed_list, metric, lower_is_better)


def best_of(
    run: Callable[[float, int], float],
    lrs: Sequence[float],
    seeds: Sequence[int] | int = 3,
    lower_is_better: bool = True,
) -> tuple[float, np.ndarray]:
    """``(best_lr, scores over seeds at it)`` for one method: :func:`sweep` of one run."""
    result = sweep({"run": run}, lrs, seeds, lower_is_better=lower_is_better, show_progress=False)
    return result.best_lr("run"), result.best("run")

r"""The perceptron rule against gradient descent on a sigmoid unit (lecture 3).

Brady, Raghavan & Slawny (1989): on three points a single sigmoid unit trained by
backprop and the perceptron both find the separating line. Add one far "spoiler" point
and the perceptron still separates all four. Gradient descent on the *squared error*
of a sigmoid unit started at the three-point fit does not move: the spoiler sits deep
in the flat tail of the sigmoid, so its term in the gradient carries the factor
$\sigma'(z) \approx e^{-ut}$. The fit is a local minimum of the four-point loss with a
large basin of attraction: :func:`random_starts` measures the fraction of random starts
that end in it. The logistic loss has no such basin (it is convex, and the spoiler's
term in its gradient is $(p - d)\,x$, not $(p - d)\,p(1 - p)\,x$).

- :func:`three_points_plus_spoiler`, :func:`three_point_fit`: the data and the exact fit.
- :func:`train_perceptron`, :func:`train_sigmoid_unit`: one run of each method.
- :func:`train_sigmoid_units`: many runs of gradient descent at once (vectorised).
- :func:`random_starts`: runs from random starts in a box, with the outcome of each.
- :func:`perceptron_turns`: how far the perceptron's boundary turns when the spoiler is
  added, from given starts; :func:`turn_angle`: the angle between two boundaries.
- :func:`sigmoid_unit_hessian`, :func:`gauss_newton`: the Hessian of the loss by
  differences of the gradient, and its Gauss-Newton part.
- :func:`three_point_sweep`: how close each loss gets to the three-point fit, each at its
  own learning rate; :func:`stuck_sweep`: the fraction of random starts that end stuck,
  for both losses over a learning-rate grid (both return a :class:`coursekit.sweep.Sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_batch, in_range
from .layers import sigmoid
from .seeding import make_rng
from .seeding import seeds as course_seeds
from .sweep import Sweep

__all__ = [
    "three_points_plus_spoiler",
    "three_point_fit",
    "train_perceptron",
    "train_sigmoid_unit",
    "train_sigmoid_units",
    "sigmoid_unit_loss",
    "sigmoid_unit_hessian",
    "gauss_newton",
    "predict",
    "turn_angle",
    "RandomStarts",
    "random_starts",
    "perceptron_turns",
    "LOSS_NAMES",
    "three_point_sweep",
    "stuck_sweep",
]

LOSS_NAMES = {"logistic loss": "logistic", "squared error": "mse"}
"""The two losses compared, by the names the lecture prints, and their ``loss=`` keys."""


def three_points_plus_spoiler(t: float = 100.0):
    """The lecture's data: ``X`` ``(4, 2)`` and labels ``y`` ``(4,)`` in {0, 1}.

    Rows: (1, 0) and (0, 1) are class 1, (-1, 0) is class 0, and the spoiler
    (0, -t) is class 1. The first three rows are the three-point problem. For every
    ``t > 0`` the four points are linearly separable, e.g. by $x_1 + 0.5 > 0$.
    """
    t = in_range(float(t), "three_points_plus_spoiler t", low=0.0, low_open=True)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -t]])
    return X, np.array([1, 1, 0, 1])


def _signed_labels(y, n: int) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if y.size != n or not np.all(np.isin(y, [-1, 0, 1])):
        raise ValueError(
            f"expected {n} labels in {{0, 1}} or {{-1, +1}}, got {np.unique(y)} ({y.size} labels)"
        )
    return np.where(y > 0, 1.0, -1.0)


def predict(X, w, b: float) -> np.ndarray:
    r"""Class 1 where $w^\top x + b > 0$, else 0: shape ``(N,)``."""
    return (as_batch(X, "X") @ w + b > 0).astype(int)


def train_perceptron(X, y, epochs: int = 100, lr: float = 1.0, w0=None, b0: float = 0.0):
    r"""Rosenblatt's rule: for each sample with $y_n (w^\top x_n + b) \le 0$, $w \mathrel{+}= \eta y_n x_n$, $b \mathrel{+}= \eta y_n$.

    ``X`` ``(N, D)``; ``y`` in {0, 1} or {-1, +1}. Samples are visited in order; the
    loop over samples is the algorithm itself (each update changes the next
    prediction), so it is not vectorised. Stops after the first epoch without a
    mistake. Returns ``(w, b, errors)`` with ``errors[e]`` the number of mistakes
    (updates) made in epoch e. On separable data with margin $\gamma$ and radius R
    (of $(x, 1)$) the total number of mistakes is at most $(R/\gamma)^2$ (Novikoff).
    """
    X = as_batch(X, "train_perceptron X")
    s = _signed_labels(y, X.shape[0])
    lr = in_range(float(lr), "train_perceptron lr", low=0.0, low_open=True)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    b = float(b0)
    errors = []
    for _ in range(int(epochs)):
        mistakes = 0
        for x_n, s_n in zip(X, s, strict=True):
            if s_n * (x_n @ w + b) <= 0:
                w += lr * s_n * x_n
                b += lr * s_n
                mistakes += 1
        errors.append(mistakes)
        if mistakes == 0:
            break
    return w, b, np.array(errors)


def train_sigmoid_unit(
    X,
    y,
    lr: float = 1.0,
    steps: int = 1000,
    w0=None,
    b0: float = 0.0,
    loss: str = "mse",
    eps: float = 0.01,
    bound: float | None = None,
):
    r"""Full-batch gradient descent ("backprop") on one sigmoid unit $\hat y = \sigma(w^\top x + b)$.

    Targets are $d_n = 1 - \epsilon$ for class 1 and $\epsilon$ for class 0 (the lecture's
    achievable $1 - \epsilon$). ``loss="mse"``: $\frac1N\sum_n (\hat y_n - d_n)^2$;
    ``loss="logistic"``: mean binary cross-entropy against $d_n$. With ``bound``, every
    weight and the bias are clipped to ``[-bound, bound]`` after each step (projected
    GD: the lecture's "bounded weights"). Returns ``(w, b, losses)``, ``losses`` of
    length ``steps`` (the loss before each step).
    """
    X = as_batch(X, "train_sigmoid_unit X")
    in_range(float(eps), "train_sigmoid_unit eps", low=0.0, high=0.5, high_open=True)
    d = _targets(y, X.shape[0], eps)
    _check_loss(loss, "train_sigmoid_unit")
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    b = float(b0)
    losses = np.empty(int(steps))
    for k in range(int(steps)):
        losses[k], grad_w, grad_b = _loss_and_gradient(X, d, w, b, loss)
        w -= lr * grad_w
        b -= lr * grad_b
        if bound is not None:
            w, b = np.clip(w, -bound, bound), float(np.clip(b, -bound, bound))
    return w, b, losses


def sigmoid_unit_loss(X, y, w, b: float, loss: str = "mse", eps: float = 0.01):
    r"""Loss of one sigmoid unit and its gradient: returns ``(value, dL/dw (D,), dL/db)``.

    With $z = X w + b$, $p = \sigma(z)$ and targets $d$ (see :func:`train_sigmoid_unit`):
    MSE gives $\partial L/\partial z_n = \tfrac2N (p_n - d_n)\, p_n (1 - p_n)$, which
    vanishes for a point deep in the sigmoid's flat tail even when it is misclassified;
    the logistic loss gives $\tfrac1N (p_n - d_n)$, which does not.
    """
    X = as_batch(X, "sigmoid_unit_loss X")
    _check_loss(loss, "sigmoid_unit_loss")
    return _loss_and_gradient(X, _targets(y, X.shape[0], eps), np.asarray(w, dtype=float), b, loss)


def _check_loss(loss: str, where: str) -> None:
    if loss not in ("mse", "logistic"):
        raise ValueError(f"{where}: expected loss 'mse' or 'logistic', got {loss!r}")


def _loss_and_gradient(X, d, w, b, loss):
    z = X @ w + b
    p = sigmoid(z)
    n = X.shape[0]
    if loss == "mse":
        value = np.mean((p - d) ** 2)
        dz = 2.0 * (p - d) * p * (1.0 - p) / n
    else:
        log_p, log_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
        value = -np.mean(d * log_p + (1 - d) * log_q)
        dz = (p - d) / n
    return float(value), X.T @ dz, float(dz.sum())


def three_point_fit(eps: float = 0.01) -> np.ndarray:
    r"""The exact fit of the three points, $(w_1, w_2, b) = (u, u, 0)$ with
    $u = \sigma^{-1}(1 - \epsilon) = \log\frac{1 - \epsilon}{\epsilon}$: shape ``(3,)``.

    It solves $w_1 + b = u$, $w_2 + b = u$, $-w_1 + b = -u$, so every one of the three
    points gets exactly its target $1 - \epsilon$ or $\epsilon$; it is the unique
    minimiser (loss 0) of both the squared error and the logistic loss on them.
    """
    in_range(float(eps), "three_point_fit eps", low=0.0, high=0.5, low_open=True, high_open=True)
    u = float(np.log((1 - eps) / eps))
    return np.array([u, u, 0.0])


def _targets(y, n: int, eps: float) -> np.ndarray:
    return np.where(_signed_labels(y, n) > 0, 1.0 - eps, eps)


def train_sigmoid_units(
    X,
    y,
    w0,
    b0,
    lr: float | np.ndarray = 1.0,
    steps: int = 1000,
    loss: str = "mse",
    eps: float = 0.01,
    bound: float | None = None,
):
    r""":func:`train_sigmoid_unit` from S starts at once: S independent runs, vectorised.

    ``w0`` ``(S, D)`` and ``b0`` ``(S,)`` are the starts. Every run takes the same
    ``steps`` of full-batch gradient descent on the same loss as
    :func:`train_sigmoid_unit` (run ``s`` equals ``train_sigmoid_unit(..., w0=w0[s],
    b0=b0[s])`` to rounding); ``lr`` is one learning rate for all runs or one per run,
    shape ``(S,)`` (a learning-rate sweep in a single call). Returns ``(w (S, D), b (S,), clipped (S,))``:
    ``clipped[s]`` says whether the ``bound`` ever changed a weight of run ``s``, i.e.
    whether the box was active at all (always ``False`` without a bound).
    """
    X = as_batch(X, "train_sigmoid_units X")
    d = _targets(
        y,
        X.shape[0],
        in_range(float(eps), "train_sigmoid_units eps", low=0.0, high=0.5, high_open=True),
    )
    _check_loss(loss, "train_sigmoid_units")
    w0 = as_batch(w0, "train_sigmoid_units w0", features=X.shape[1])
    b0 = np.asarray(b0, dtype=float).reshape(-1)
    if b0.shape != (w0.shape[0],):
        raise ValueError(
            f"train_sigmoid_units b0: expected shape ({w0.shape[0]},) to match w0, got {b0.shape}"
        )
    A = np.column_stack([X, np.ones(X.shape[0])])  # (N, D + 1): the bias is a weight on 1
    P = np.column_stack([w0, b0])  # (S, D + 1)
    n = X.shape[0]
    rate = np.asarray(lr, dtype=float)
    if rate.ndim == 1 and rate.shape == (P.shape[0],):
        rate = rate[:, None]
    elif rate.ndim != 0:
        raise ValueError(
            f"train_sigmoid_units lr: expected a number or one per start, shape "
            f"({P.shape[0]},), got shape {rate.shape}"
        )
    if not np.all(rate > 0):
        raise ValueError("train_sigmoid_units lr: expected learning rates > 0")
    clipped = np.zeros(P.shape[0], dtype=bool)
    for _ in range(int(steps)):
        p = sigmoid(P @ A.T)  # (S, N)
        if loss == "mse":
            dz = 2.0 * (p - d) * p * (1.0 - p) / n
        else:
            dz = (p - d) / n
        P -= rate * (dz @ A)
        if bound is not None:
            inside = np.clip(P, -bound, bound)
            clipped |= np.any(inside != P, axis=1)
            P = inside
    return P[:, :-1].copy(), P[:, -1].copy(), clipped


def turn_angle(w_a, w_b) -> np.ndarray:
    r"""Angle in degrees, in $[0, 180]$, between the normals $w_a$ and $w_b$ of two
    decision boundaries $w^\top x + b = 0$ (how far the boundary turned): shape of the
    broadcast batch, ``(...)`` for inputs ``(..., D)``."""
    a, b = np.asarray(w_a, dtype=float), np.asarray(w_b, dtype=float)
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError("turn_angle: a weight vector is zero, so it has no boundary to turn")
    cos = np.sum(a * b, axis=-1) / (na * nb)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@dataclass
class RandomStarts:
    r"""Runs of :func:`train_sigmoid_units` from random starts (see :func:`random_starts`).

    ``w0 (S, D)``, ``b0 (S,)``: the starts; ``w (S, D)``, ``b (S,)``: where each run
    ended; ``wrong (S,)``: points each run misclassifies at the end; ``clipped (S,)``:
    whether the weight bound was ever active. ``stuck`` = at least one point wrong.
    """

    X: np.ndarray
    y: np.ndarray
    w0: np.ndarray
    b0: np.ndarray
    w: np.ndarray
    b: np.ndarray
    wrong: np.ndarray
    clipped: np.ndarray
    loss: str

    @property
    def stuck(self) -> np.ndarray:
        return self.wrong > 0

    @property
    def fraction(self) -> float:
        """Fraction of runs that end with a point misclassified."""
        return float(np.mean(self.stuck))

    @property
    def stderr(self) -> float:
        r"""Binomial standard error of :attr:`fraction`, $\sqrt{f(1 - f)/S}$."""
        f = self.fraction
        return float(np.sqrt(f * (1 - f) / len(self.wrong)))

    @property
    def spoiler_wrong(self) -> np.ndarray:
        """Whether each run ends with the spoiler (the last row of ``X``) misclassified."""
        return self.X[-1] @ self.w.T + self.b <= 0

    @property
    def z_spoiler0(self) -> np.ndarray:
        """The spoiler's (last row of ``X``) weighted input $z = w^\\top x + b$ at each start."""
        return self.w0 @ self.X[-1] + self.b0

    def turned(self, reference) -> np.ndarray:
        """Degrees each final boundary makes with the ``reference`` normal ``(D,)``."""
        return turn_angle(np.asarray(reference, dtype=float)[None, :], self.w)


def random_starts(
    t: float = 10.0,
    n: int = 500,
    box: float = 5.0,
    loss: str = "mse",
    lr: float = 5.0,
    steps: int = 3000,
    eps: float = 0.01,
    bound: float | None = 5.0,
    rng=None,
) -> RandomStarts:
    r"""Gradient descent on the three points plus the spoiler at $(0, -t)$ from ``n``
    random starts $(w_1, w_2, b)$ drawn uniformly from $[-\text{box}, \text{box}]^3$.

    ``rng=None`` draws the starts from the course seed. The other arguments are those
    of :func:`train_sigmoid_units` (the lecture's ``lr=5``, 3000 steps, weights
    clipped to ``[-5, 5]``). Returns a :class:`RandomStarts`; its ``fraction`` is the
    share of starts in the basin of a non-separating minimum (Brady, Raghavan & Slawny
    1989: "local minima with a large basin of attraction").
    """
    if int(n) < 1:
        raise ValueError(f"random_starts: expected n >= 1 starts, got {n}")
    in_range(float(box), "random_starts box", low=0.0, low_open=True)
    X, y = three_points_plus_spoiler(t)
    P0 = make_rng(rng).uniform(-box, box, size=(int(n), 3))
    w, b, clipped = train_sigmoid_units(
        X, y, P0[:, :2], P0[:, 2], lr=lr, steps=steps, loss=loss, eps=eps, bound=bound
    )
    wrong = np.sum((X @ w.T + b > 0).astype(int) != y[:, None], axis=0)
    return RandomStarts(X, y, P0[:, :2], P0[:, 2], w, b, wrong, clipped, loss)


def perceptron_turns(t: float, w0, b0, epochs: int = 10_000) -> np.ndarray:
    r"""Degrees the perceptron's boundary turns when the spoiler is added, from each start.

    For each start ``(w0[s], b0[s])`` the perceptron is trained on the three points and,
    from the same start, on all four (:func:`train_perceptron`); the result is the angle
    between the two normals, shape ``(S,)``. A start that already separates the points
    is never updated, so it turns by 0.
    """
    X, y = three_points_plus_spoiler(t)
    w0 = as_batch(w0, "perceptron_turns w0", features=2)
    b0 = np.asarray(b0, dtype=float).reshape(-1)
    out = np.empty(len(w0))
    for s, (ws, bs) in enumerate(zip(w0, b0, strict=True)):
        w3, _, _ = train_perceptron(X[:3], y[:3], epochs=epochs, w0=ws, b0=bs)
        w4, _, _ = train_perceptron(X, y, epochs=epochs, w0=ws, b0=bs)
        out[s] = turn_angle(w3, w4)
    return out


def sigmoid_unit_hessian(X, y, w, b: float, loss: str = "mse", eps: float = 0.01, h: float = 1e-5):
    r"""Hessian of :func:`sigmoid_unit_loss` in $(w, b)$, ``(D + 1, D + 1)``, by central
    differences of the analytic gradient (step ``h``), symmetrised."""
    p0 = np.append(np.asarray(w, dtype=float), float(b))
    k = p0.size
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        _, gw_p, gb_p = sigmoid_unit_loss(X, y, (p0 + e)[:-1], (p0 + e)[-1], loss, eps)
        _, gw_m, gb_m = sigmoid_unit_loss(X, y, (p0 - e)[:-1], (p0 - e)[-1], loss, eps)
        H[i] = (np.append(gw_p, gb_p) - np.append(gw_m, gb_m)) / (2 * h)
    return (H + H.T) / 2


def gauss_newton(X, w, b: float) -> np.ndarray:
    r"""The Gauss-Newton part of the squared error's Hessian, $\frac2N\sum_n
    \sigma'(z_n)^2\, \tilde x_n \tilde x_n^\top$ with $\tilde x = (x, 1)$: ``(D + 1, D + 1)``.

    The full Hessian adds $\frac2N\sum_n (p_n - d_n)\,\sigma''(z_n)\,\tilde x_n \tilde
    x_n^\top$, which vanishes where every residual $p_n - d_n$ or every $\sigma''(z_n)$
    does (at an exact fit, and for points deep in the sigmoid's tails).
    """
    X = as_batch(X, "gauss_newton X")
    A = np.column_stack([X, np.ones(X.shape[0])])
    p = sigmoid(A @ np.append(np.asarray(w, dtype=float), float(b)))
    s = p * (1 - p)
    return 2.0 / X.shape[0] * (A * s[:, None] ** 2).T @ A


def _seed_list(seeds, name: str) -> list[int]:
    return course_seeds(seeds, name) if isinstance(seeds, int) else [int(x) for x in seeds]


def three_point_sweep(
    lrs=None, seeds=3, steps: int = 3000, box: float = 0.5, eps: float = 0.01
) -> Sweep:
    r"""How close gradient descent on the three points gets to their exact fit, for the
    logistic loss and the squared error, each over a grid of learning rates.

    For each seed a start $(w_1, w_2, b)$ is drawn uniformly from $[-\text{box},
    \text{box}]^3$ (``seeds``: a count derived from the course seed, or a list); from it
    both losses take ``steps`` of full-batch gradient descent on the three points (no
    bound) at every learning rate of ``lrs`` (default ``np.geomspace(1, 1000, 7)``). The
    score is the distance $\max_i |p_i - p^\star_i|$ to the fit $p^\star = (u, u, 0)$
    (:func:`three_point_fit`) at the end, lower is better; a run whose weights overflow
    scores ``inf``. Returns a :class:`coursekit.sweep.Sweep` with methods
    ``"logistic loss"`` and ``"squared error"``, so that each loss is compared at its
    own best learning rate.
    """
    lrs = np.geomspace(1.0, 1000.0, 7) if lrs is None else np.asarray(lrs, dtype=float)
    in_range(float(box), "three_point_sweep box", low=0.0, low_open=True)
    seed_list = _seed_list(seeds, "three-point starts")
    X, y = three_points_plus_spoiler(10.0)
    X, y = X[:3], y[:3]
    starts = np.stack([make_rng(s).uniform(-box, box, size=3) for s in seed_list])
    P0 = np.tile(starts, (lrs.size, 1))  # run (i, j): learning rate i, seed j
    lr_runs = np.repeat(lrs, len(seed_list))
    target = three_point_fit(eps)
    scores = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for name, loss in LOSS_NAMES.items():
            w, b, _ = train_sigmoid_units(
                X, y, P0[:, :2], P0[:, 2], lr=lr_runs, steps=steps, loss=loss, eps=eps
            )
            dist = np.abs(np.column_stack([w, b]) - target).max(axis=1)
            dist = np.where(np.isfinite(dist), dist, np.inf)
            scores[name] = dist.reshape(lrs.size, len(seed_list))
    return Sweep(
        {name: lrs for name in LOSS_NAMES}, scores, seed_list, metric="distance to the fit"
    )


def stuck_sweep(
    lrs=(1.0, 2.0, 5.0, 10.0),
    seeds=3,
    n: int = 200,
    t: float = 10.0,
    box: float = 5.0,
    steps: int = 3000,
    eps: float = 0.01,
    bound: float | None = 5.0,
) -> Sweep:
    r"""The fraction of random starts that end stuck (a point misclassified, see
    :func:`random_starts`), for the logistic loss and the squared error, at every
    learning rate of ``lrs``.

    For each seed (``seeds``: a count derived from the course seed, or a list), ``n``
    starts are drawn uniformly from $[-\text{box}, \text{box}]^3$; every learning rate and
    both losses run from those same starts (``steps`` of projected gradient descent with
    weights clipped to ``[-bound, bound]``). Returns a :class:`coursekit.sweep.Sweep`
    with methods ``"logistic loss"`` and ``"squared error"``, scored by the fraction of
    starts stuck, ``(len(lrs), len(seeds))`` per method.
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    if int(n) < 1:
        raise ValueError(f"stuck_sweep: expected n >= 1 starts, got {n}")
    in_range(float(box), "stuck_sweep box", low=0.0, low_open=True)
    seed_list = _seed_list(seeds, "spoiler learning rates")
    X, y = three_points_plus_spoiler(t)
    starts = np.concatenate([make_rng(s).uniform(-box, box, size=(int(n), 3)) for s in seed_list])
    P0 = np.tile(starts, (lrs.size, 1))  # learning rate, then seed, then start
    lr_runs = np.repeat(lrs, starts.shape[0])
    scores = {}
    for name, loss in LOSS_NAMES.items():
        w, b, _ = train_sigmoid_units(
            X, y, P0[:, :2], P0[:, 2], lr=lr_runs, steps=steps, loss=loss, eps=eps, bound=bound
        )
        wrong = np.sum((X @ w.T + b > 0).astype(int) != y[:, None], axis=0)
        scores[name] = (wrong > 0).reshape(lrs.size, len(seed_list), int(n)).mean(axis=2)
    return Sweep(
        {name: lrs for name in LOSS_NAMES}, scores, seed_list, metric="fraction of starts stuck"
    )

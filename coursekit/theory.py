r"""Closed-form convergence theory of gradient descent, to compare measurements with.

On a quadratic $f(w) = \tfrac12 w^\top A w - b^\top w$ with Hessian eigenvalues
$\lambda_1 \le \dots \le \lambda_d$, GD $w_{k+1} = w_k - \eta \nabla f(w_k)$ acts on each
eigen-coordinate $z_i$ of the error $w - w^*$ separately:

$$z_i^{(k+1)} = (1 - \eta\lambda_i)\, z_i^{(k)},$$

so direction i converges at rate $|1 - \eta\lambda_i|$ (best step $1/\lambda_i$), the
whole error at rate $\max_i |1 - \eta\lambda_i|$, minimised by
$\eta^* = 2/(\lambda_{min} + \lambda_{max})$ where it equals $(\kappa - 1)/(\kappa + 1)$,
$\kappa = \lambda_{max}/\lambda_{min}$.
"""

from __future__ import annotations

import numpy as np

from ._checks import in_range

__all__ = [
    "per_direction_lr",
    "per_direction_rate",
    "optimal_lr",
    "rate",
    "optimal_rate",
    "steps_to_tolerance",
    "regime",
    "smooth_convex_bound",
    "linear_regression_lr",
    "measured_rate",
    "heavy_ball_optimal",
    "momentum_rate",
    "noise_floor",
]


def _eigs(eigenvalues, name: str = "eigenvalues") -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    if lam.size == 0 or not np.all(lam > 0) or not np.all(np.isfinite(lam)):
        raise ValueError(
            f"{name}: expected positive finite eigenvalues (a convex quadratic), got {lam}"
        )
    return lam


def per_direction_lr(eigenvalues) -> np.ndarray:
    r"""$\eta_i = 1/\lambda_i$: the step that solves direction i in one step."""
    return 1.0 / _eigs(eigenvalues)


def per_direction_rate(eigenvalues, lr: float) -> np.ndarray:
    r"""$|1 - \eta\lambda_i|$ for each eigenvalue: the factor the error shrinks by per step."""
    return np.abs(1.0 - lr * _eigs(eigenvalues))


def optimal_lr(eigenvalues) -> float:
    r"""$\eta^* = 2 / (\lambda_{min} + \lambda_{max})$, the step that minimises :func:`rate`."""
    lam = _eigs(eigenvalues)
    return 2.0 / (lam.min() + lam.max())


def rate(eigenvalues, lr: float) -> float:
    r"""$\max_i |1 - \eta\lambda_i|$: GD's worst-direction contraction factor (< 1 converges)."""
    return float(per_direction_rate(eigenvalues, lr).max())


def optimal_rate(kappa: float) -> float:
    r"""$(\kappa - 1)/(\kappa + 1)$: GD's rate at $\eta^*$ for condition number $\kappa \ge 1$."""
    kappa = in_range(float(kappa), "optimal_rate kappa", low=1.0)
    return (kappa - 1.0) / (kappa + 1.0)


def steps_to_tolerance(rate: float, initial_error: float, tol: float) -> int:
    r"""Smallest k with $\rho^k e_0 \le \mathrm{tol}$: $\lceil \log(\mathrm{tol}/e_0) / \log\rho \rceil$."""
    rate = in_range(float(rate), "steps_to_tolerance rate", low=0.0, high=1.0, high_open=True)
    e0 = in_range(float(initial_error), "steps_to_tolerance initial_error", low=0.0)
    tol = in_range(float(tol), "steps_to_tolerance tol", low=0.0, low_open=True)
    if e0 <= tol:
        return 0
    if rate == 0.0:
        return 1
    # the small slack keeps exact powers (rate**k * e0 == tol) from rounding up a step
    return int(np.ceil(np.log(tol / e0) / np.log(rate) - 1e-9))


def regime(lr: float, a: float, rtol: float = 1e-9) -> str:
    r"""How GD behaves on the 1-D quadratic $f(w) = \tfrac a2 w^2$ (curvature ``a`` > 0).

    The error is multiplied by $1 - \eta a$ each step, and $\eta_{opt} = 1/a$:

    - ``"monotone"``: $\eta < 1/a$ (factor in (0, 1): creeps towards the minimum);
    - ``"one step"``: $\eta = 1/a$ (factor 0: exact after one step);
    - ``"oscillating"``: $1/a < \eta < 2/a$ (factor in (-1, 0): overshoots, converges);
    - ``"divergent"``: $\eta \ge 2/a$ (|factor| >= 1: never converges; at exactly
      $2/a$ it bounces between $\pm w_0$ forever).
    """
    lr = in_range(float(lr), "regime lr", low=0.0, low_open=True)
    a = in_range(float(a), "regime a", low=0.0, low_open=True)
    x = lr * a
    if np.isclose(x, 1.0, rtol=rtol, atol=0):
        return "one step"
    if x < 1.0:
        return "monotone"
    if x < 2.0 and not np.isclose(x, 2.0, rtol=rtol, atol=0):
        return "oscillating"
    return "divergent"


def smooth_convex_bound(k, L: float, initial_distance: float):
    r"""$f(w_k) - f^* \le L\,\|w_0 - w^*\|^2 / (2k)$ for GD with step $1/L$ on a convex L-smooth f.

    ``k`` (int or array, k >= 1); ``initial_distance`` is $\|w_0 - w^*\|$ for any minimiser
    $w^*$ (take the closest one when there are many). The bound is $O(1/k)$: no
    strong convexity is needed, unlike the linear rates above.
    """
    L = in_range(float(L), "smooth_convex_bound L", low=0.0, low_open=True)
    k = np.asarray(k, dtype=float)
    if np.any(k < 1):
        raise ValueError(f"smooth_convex_bound: expected step counts k >= 1, got min {k.min()}")
    return L * float(initial_distance) ** 2 / (2.0 * k)


def linear_regression_lr(X) -> float:
    r"""$1/\lambda_{max}(X^\top X)$: the step 1/L for the loss $\tfrac12\|Xw - y\|^2$.

    Convention: with the *sum* loss $\tfrac12\|Xw - y\|^2$ the Hessian is $X^\top X$, so
    $L = \lambda_{max}(X^\top X)$. With the *mean* loss $\tfrac1{2N}\|Xw - y\|^2$ (used for
    whitening in lecture 04) the Hessian is $X^\top X / N$ and the step is N times this one.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"linear_regression_lr: expected X of shape (N, D), got shape {X.shape}")
    return 1.0 / float(np.linalg.eigvalsh(X.T @ X)[-1])


def measured_rate(errors, start: int | None = None, stop: int | None = None) -> float:
    r"""Geometric-mean contraction factor of an error sequence: $(e_{stop}/e_{start})^{1/(stop-start)}$.

    ``errors[k]`` is e.g. $\|w_k - w^*\|$. By default the second half of the sequence
    is used (``start = len // 2``, ``stop = len - 1``), where the slowest direction has
    taken over. It is the mean of the per-step ratios on a log scale, so oscillating
    errors (ratios alternating around the rate) still give the right number. Every
    error in the window must be positive and finite.
    """
    e = np.asarray(errors, dtype=float).reshape(-1)
    n = e.size
    start = n // 2 if start is None else int(start) % n
    stop = n - 1 if stop is None else int(stop) % n
    if stop <= start:
        raise ValueError(
            f"measured_rate: expected start < stop within {n} errors, got {start}, {stop}"
        )
    window = e[start : stop + 1]
    if not np.all(np.isfinite(window)) or not np.all(window > 0):
        raise ValueError(
            "measured_rate: expected positive finite errors in the window "
            f"[{start}, {stop}]; got min {window.min():.3g} (stop before the error reaches 0)"
        )
    return float(np.exp((np.log(e[stop]) - np.log(e[start])) / (stop - start)))


def heavy_ball_optimal(eigenvalues) -> dict:
    r"""Optimal heavy-ball momentum on a quadratic (Polyak 1964).

    For $w_{k+1} = w_k - \eta \nabla f(w_k) + \beta (w_k - w_{k-1})$, which is both the
    lecture's form ($v \leftarrow \beta v - \eta g$, $w \leftarrow w + v$) and PyTorch's
    ($b \leftarrow \beta b + g$, $w \leftarrow w - \eta b$) written on the iterates:

    $\eta = 4/(\sqrt{\lambda_{max}} + \sqrt{\lambda_{min}})^2$,
    $\beta = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2$, asymptotic rate
    $(\sqrt\kappa - 1)/(\sqrt\kappa + 1)$. Returns ``{"lr", "beta", "rate"}``. At these
    values the iteration is critically damped, so the error behaves like $k\rho^k$ and a
    measured rate approaches ``rate`` only slowly.
    """
    lam = _eigs(eigenvalues)
    lo, hi = np.sqrt(lam.min()), np.sqrt(lam.max())
    r = (hi - lo) / (hi + lo)
    return {"lr": 4.0 / (hi + lo) ** 2, "beta": r**2, "rate": r}


def momentum_rate(eigenvalues, lr: float, beta: float, nesterov: bool = False) -> float:
    r"""Asymptotic contraction factor of heavy-ball momentum or Nesterov on a quadratic.

    On $E = \tfrac12 w^\top A w - b^\top w$ each eigen-direction of ``A`` (eigenvalue
    $\lambda$) evolves on its own: the error $z$ and the step $\Delta$ follow
    $(z, \Delta) \leftarrow M (z, \Delta)$ with, for $a = 1 - \eta\lambda$,

    $$M_{\text{momentum}} = \begin{pmatrix} a & \beta \\ -\eta\lambda & \beta \end{pmatrix},
    \qquad
    M_{\text{Nesterov}} = \begin{pmatrix} a & \beta a \\ -\eta\lambda & \beta a \end{pmatrix}.$$

    The error shrinks asymptotically by the largest spectral radius of $M$ over the
    eigenvalues, which this returns (``>= 1``: no convergence). It holds for
    :class:`~coursekit.optim.Momentum` / :class:`~coursekit.optim.Nesterov` and for
    ``SGD(momentum=beta, nesterov=...)``, whose iterates are the same. ``beta = 0`` gives
    plain GD's $\max_i |1 - \eta\lambda_i|$; Polyak's optimal momentum gives
    $(\sqrt\kappa - 1)/(\sqrt\kappa + 1)$, Nesterov with $\eta = 1/\lambda_{max}$,
    $\beta = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)$ gives $1 - 1/\sqrt\kappa$.
    Where $M$ has a repeated eigenvalue the error behaves like $k\rho^k$, so a rate
    measured over a finite run comes out slightly larger.
    """
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError(f"momentum_rate: expected finite eigenvalues, got {lam}")
    a = 1 - lr * lam
    c = beta * a if nesterov else np.full_like(lam, beta)
    M = np.stack([np.stack([a, c], -1), np.stack([-lr * lam, c], -1)], -2)  # (d, 2, 2)
    return float(np.abs(np.linalg.eigvals(M)).max())


def noise_floor(eigenvalues, lr: float, sigma: float = 1.0) -> float:
    r"""RMS distance to the minimum at which GD with a constant step and noisy gradients settles.

    With $\tilde g = \nabla f(w) + \sigma\xi$ ($\xi$ standard normal, independent per
    coordinate and step) on a quadratic, each eigen-coordinate of the error follows
    $z \leftarrow (1 - \eta\lambda) z - \eta\sigma\xi$, whose variance settles at
    $\eta\sigma^2 / (\lambda(2 - \eta\lambda))$ when $0 < \eta\lambda < 2$. Returns
    $\sqrt{\sum_i \eta\sigma^2 / (\lambda_i (2 - \eta\lambda_i))}$: no number of steps
    goes below it, only a smaller $\eta$.
    """
    lam = _eigs(eigenvalues)
    lr = in_range(float(lr), "noise_floor lr", low=0.0, low_open=True)
    if np.any(lr * lam >= 2):
        raise ValueError(f"noise_floor: lr {lr:g} diverges (lr * lambda_max >= 2)")
    return float(np.sqrt(np.sum(lr * sigma**2 / (lam * (2 - lr * lam)))))

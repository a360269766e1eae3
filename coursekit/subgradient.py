r"""Subgradients at a tie of a max, and which of them give a descent direction (lecture 2).

For $f(w) = \max_i a_i^\top w + c_i$, at a point where several pieces tie for the max
(the *active* set), every convex combination $g = \sum_i \alpha_i a_i$ of the active
gradients is a subgradient. Moving against one of them need not lower $f$: for a small
step, $f(w - \eta g) - f(w) = -\eta \min_{i\ \text{active}} a_i^\top g$, which is positive
as soon as $g$ points away from one active piece ($a_i^\top g < 0$). The subgradient of
minimum norm, $g^\star$, has $a_i^\top g^\star \ge \|g^\star\|^2$ for every active $i$
(it is the projection of 0 onto their convex hull), so $-g^\star$ lowers $f$ whenever
$g^\star \ne 0$; it is the direction of steepest descent. When $g^\star = 0$ the point is
a minimum.

- :func:`min_norm_subgradient`: the point of least norm in the convex hull of some vectors.
- :func:`max_affine`: $f(w) = \max_i a_i^\top w + c_i$, and :func:`active_pieces`.
- :func:`step_change`: $f(w - \eta g) - f(w)$, the change one step makes.
"""

from __future__ import annotations

import numpy as np

from ._checks import in_range

__all__ = ["min_norm_subgradient", "max_affine", "active_pieces", "step_change"]


def _rows(G, name: str) -> np.ndarray:
    G = np.asarray(G, dtype=float)
    if G.ndim != 2 or G.shape[0] < 1 or not np.all(np.isfinite(G)):
        raise ValueError(
            f"{name}: expected finite vectors as the rows of a (k, d) array, got {G.shape}"
        )
    return G


def min_norm_subgradient(G) -> np.ndarray:
    r"""The vector of least Euclidean norm in the convex hull of the rows of ``G``
    ``(k, d)``: $g^\star = G^\top\alpha^\star$ with $\alpha^\star = \arg\min
    \|G^\top\alpha\|^2$ over $\alpha \ge 0$, $\sum_i \alpha_i = 1$. Shape ``(d,)``.

    Exact for the small ``k`` of a tie (at most 12 rows): for every subset $S$ of the rows
    it finds the least-norm point of their affine hull (a linear system), keeps it when
    its weights are all non-negative, and returns the shortest of those. Two rows reduce
    to the projection of 0 onto a segment.
    """
    G = _rows(G, "min_norm_subgradient G")
    k = G.shape[0]
    if k > 12:
        raise ValueError(f"min_norm_subgradient: expected at most 12 rows (a tie), got {k}")
    if k == 1:
        return G[0].copy()
    if k == 2:
        a, b = G
        diff = a - b
        denom = diff @ diff
        alpha = 0.5 if denom == 0 else float(np.clip(-(b @ diff) / denom, 0.0, 1.0))
        return alpha * a + (1 - alpha) * b
    best, best_norm = None, np.inf
    for mask in range(1, 2**k):
        S = [i for i in range(k) if mask >> i & 1]
        Q = G[S] @ G[S].T
        # KKT of min a^T Q a subject to sum a = 1: [[2Q, 1], [1^T, 0]] [a; mu] = [0; 1]
        m = len(S)
        K = np.zeros((m + 1, m + 1))
        K[:m, :m], K[:m, m], K[m, :m] = 2 * Q, 1.0, 1.0
        rhs = np.zeros(m + 1)
        rhs[m] = 1.0
        sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        weights = sol[:m]
        if np.any(weights < -1e-12) or abs(weights.sum() - 1) > 1e-9:
            continue
        g = np.clip(weights, 0, None) @ G[S]
        norm = float(g @ g)
        if norm < best_norm - 1e-15:
            best, best_norm = g, norm
    if best is None:  # a single row is always a feasible subset: only NaN ends here
        raise ValueError("min_norm_subgradient: expected finite gradients")
    return best


def max_affine(A, c, w) -> float:
    r"""$f(w) = \max_i a_i^\top w + c_i$: ``A`` ``(k, d)``, ``c`` ``(k,)``, ``w`` ``(d,)``."""
    A = _rows(A, "max_affine A")
    return float(np.max(A @ np.asarray(w, dtype=float) + np.asarray(c, dtype=float)))


def active_pieces(A, c, w, tol: float = 1e-12) -> np.ndarray:
    """Indices of the pieces that attain the max at ``w`` (within ``tol``)."""
    A = _rows(A, "active_pieces A")
    values = A @ np.asarray(w, dtype=float) + np.asarray(c, dtype=float)
    return np.flatnonzero(values >= values.max() - tol)


def step_change(f, w, g, lr: float) -> float:
    r"""$f(w - \eta g) - f(w)$: negative when the step against ``g`` lowers ``f``."""
    lr = in_range(float(lr), "step_change lr", low=0.0, low_open=True)
    w = np.asarray(w, dtype=float)
    return float(f(w - lr * np.asarray(g, dtype=float)) - f(w))

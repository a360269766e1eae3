r"""Two linear classifiers trained by (sub)gradient descent, and their reference solutions
(lecture 1).

One linear unit $z = w^\top x + b$ with labels $d \in \{-1, +1\}$ becomes a soft-margin
SVM with the hinge $\max(0, 1 - dz)$ and logistic regression with $\log(1 + e^{-dz})$
(the binary cross-entropy of $\sigma(z)$ against $(1 + d)/2$). Both minimise

$$\frac1T \sum_t Div(z_t, d_t) + \lambda \|w\|^2$$

(the bias is not penalised). scikit-learn's ``SVC(kernel="linear")`` and
``LogisticRegression`` minimise $\frac12\|w\|^2 + C\sum_t Div_t$, the same objective
times $1/(2T\lambda)$ when $C = 1/(2T\lambda)$: an independent solver for the same
minimiser.

- :func:`train_penalised`: the plain gradient-descent loop of the lecture.
- :func:`fit_linear_classifiers`: both classifiers on one data set, from one start.
- :func:`reference_solution`: scikit-learn's weights for the same objective.
- :func:`objective`: the penalised objective at given weights.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_batch, in_range
from .layers import Linear
from .losses import BCEWithLogitsLoss, HingeLoss

__all__ = [
    "train_penalised",
    "fit_linear_classifiers",
    "reference_solution",
    "objective",
    "DIVERGENCES",
]

DIVERGENCES = ("SVM (hinge)", "logistic")
"""The two classifiers, by the names the lecture prints."""


def train_penalised(model: Linear, loss, X, target, lam: float, lr: float, steps: int) -> Linear:
    r"""Full-batch (sub)gradient descent on ``loss`` $+ \lambda\|W\|^2$, in place.

    Each step: forward, divergence, backward, then $W \leftarrow W - \eta(\nabla_W Loss +
    2\lambda W)$ and $b \leftarrow b - \eta\nabla_b Loss$. For the hinge, ``HingeLoss``
    takes the subgradient 0 at the kink. Returns ``model``.
    """
    lam = in_range(float(lam), "train_penalised lam", low=0.0)
    lr = in_range(float(lr), "train_penalised lr", low=0.0, low_open=True)
    X = as_batch(X, "train_penalised X")
    for _ in range(int(steps)):
        loss.forward(model(X), target)
        model.backward(loss.backward())
        model.params["weight"] -= lr * (model.grads["weight"] + 2 * lam * model.params["weight"])
        model.params["bias"] -= lr * model.grads["bias"]
    return model


def _targets(labels):
    labels = np.asarray(labels).reshape(-1)
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"expected labels in {{0, 1}}, got {np.unique(labels)}")
    d_pm = 2.0 * labels - 1.0
    return {
        "SVM (hinge)": (HingeLoss, d_pm[:, None]),
        "logistic": (BCEWithLogitsLoss, labels[:, None].astype(float)),
    }


def fit_linear_classifiers(
    X, labels, lam: float = 0.01, lr: float = 0.1, steps: int = 2000, rng=None
) -> dict[str, Linear]:
    """Both classifiers of the lecture, each a ``Linear(D, 1)`` from the same initial
    weights (drawn from ``rng``; ``None`` means the course seed), trained by
    :func:`train_penalised`. ``labels`` in {0, 1}. Returns ``{name: model}``."""
    X = as_batch(X, "fit_linear_classifiers X")
    start = Linear(X.shape[1], 1, rng=rng)
    models = {}
    for name, (loss, target) in _targets(labels).items():
        model = Linear(X.shape[1], 1)
        for key, value in start.params.items():
            model.params[key][...] = value
        models[name] = train_penalised(model, loss(), X, target, lam, lr, steps)
    return models


def reference_solution(name: str, X, labels, lam: float) -> np.ndarray:
    """scikit-learn's minimiser of the same objective, as ``(w_1, ..., w_D, b)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    X = as_batch(X, "reference_solution X")
    C = 1.0 / (2 * len(X) * in_range(float(lam), "reference_solution lam", low=0.0, low_open=True))
    if name == "SVM (hinge)":
        ref = SVC(kernel="linear", C=C, tol=1e-10).fit(X, labels)
    elif name == "logistic":
        ref = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, labels)
    else:
        raise ValueError(f"reference_solution: expected one of {DIVERGENCES}, got {name!r}")
    return np.append(ref.coef_, ref.intercept_)


def objective(name: str, params, X, labels, lam: float) -> float:
    r"""$\frac1T\sum_t Div(z_t, d_t) + \lambda\|w\|^2$ at ``params`` $= (w_1, \dots, w_D, b)$,
    with the hinge (``"SVM (hinge)"``) or the logistic divergence (``"logistic"``)."""
    X = as_batch(X, "objective X")
    params = np.asarray(params, dtype=float).reshape(-1)
    if params.size != X.shape[1] + 1:
        raise ValueError(
            f"objective: expected {X.shape[1] + 1} parameters (w, b), got {params.size}"
        )
    d = 2.0 * np.asarray(labels, dtype=float).reshape(-1) - 1.0
    z = X @ params[:-1] + params[-1]
    if name == "SVM (hinge)":
        div = np.maximum(0.0, 1.0 - d * z)
    elif name == "logistic":
        div = np.logaddexp(0.0, -d * z)
    else:
        raise ValueError(f"objective: expected one of {DIVERGENCES}, got {name!r}")
    return float(div.mean() + lam * params[:-1] @ params[:-1])

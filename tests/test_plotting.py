"""Plot helpers take ax=None, return the axes, and keep what the caller set."""

import matplotlib.pyplot as plt  # the Agg backend is set in conftest.py
import numpy as np
import pytest

from coursekit import data as D
from coursekit.models import mlp
from coursekit.plotting import plot_decision_boundary, plot_history
from coursekit.training import History


def _history():
    h = History()
    for k in range(3):
        h.log(step=k, train_loss=1 / (k + 1), val_loss=2 / (k + 1))
    return h


def test_plot_history_keeps_labels_of_an_existing_axes():
    h = _history()
    ax = plot_history(h, ["train_loss"], xlabel="epoch", ylabel="loss")
    assert plot_history(h, ["val_loss"], ax=ax) is ax
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert len(ax.lines) == 2
    assert plot_history(h, "train_loss").get_xlabel() == "step"
    plt.close("all")


def test_decision_boundary_draws_on_the_given_axes_with_explicit_ranges():
    X, y = D.make_blobs(n=40, rng=0)
    model = mlp([2, 4, 2], rng=0)
    _, ax = plt.subplots()
    out = plot_decision_boundary(model, X, y, ax=ax, xlim=(-5, 5), ylim=(-4, 4), resolution=20)
    assert out is ax and ax.get_xlim() == (-5, 5) and ax.get_ylim() == (-4, 4)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\), got \(3,\)"):
        plot_decision_boundary(model, np.zeros(3), y[:3])
    plt.close("all")

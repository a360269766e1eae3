"""Mini-batch iteration, the parameter EMA and the mini-batch training loop.

Oracles: counting (every index once per epoch), closed forms (the EMA as an explicit
weighted sum), the full-batch gradient (a batch of all samples gives it exactly), and
torch.optim through :mod:`coursekit.torch_utils` in ``tests/test_torch_utils.py``.
"""

import numpy as np
import pytest

from coursekit.errors import DivergenceError
from coursekit.losses import CrossEntropyLoss, MSELoss
from coursekit.minibatch import ParameterEMA, batches, num_batches, run_epoch, train_minibatch
from coursekit.models import mlp
from coursekit.optim import Adam
from coursekit.optim.base import Optimizer
from coursekit.training import train_full_batch


class PlainSGD(Optimizer):
    """w <- w - lr g, written here so these tests do not depend on coursekit.optim.sgd."""

    def _update(self, i, p, g, state):
        p -= self.lr * g


@pytest.mark.parametrize("rule", ["shuffle", "cyclic"])
@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (7, 7), (5, 1)])
def test_every_index_once_per_epoch(rule, n, b):
    rng = np.random.default_rng(0)
    for _ in range(3):
        idx = list(batches(n, b, rule=rule, rng=rng))
        assert sorted(np.concatenate(idx).tolist()) == list(range(n))
        assert [len(i) for i in idx] == [b] * (n // b) + ([n % b] if n % b else [])


def test_shuffle_changes_order_between_epochs_and_cyclic_does_not():
    rng = np.random.default_rng(0)
    first, second = (np.concatenate(list(batches(50, 10, rng=rng))) for _ in range(2))
    assert first.tolist() != second.tolist()
    cyc = [np.concatenate(list(batches(50, 10, rule="cyclic", rng=rng))) for _ in range(2)]
    assert cyc[0].tolist() == cyc[1].tolist() == list(range(50))


@pytest.mark.parametrize("rule", ["shuffle", "random"])
def test_same_seed_same_batches(rule):
    a = [i.tolist() for i in batches(30, 7, rule=rule, rng=5)]
    b = [i.tolist() for i in batches(30, 7, rule=rule, rng=5)]
    c = [i.tolist() for i in batches(30, 7, rule=rule, rng=6)]
    assert a == b and a != c


@pytest.mark.parametrize(
    "n, b, drop_last, sizes",
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, True, [3, 3, 3]),
        (10, 10, True, [10]),
    ],
)
def test_drop_last_sizes(n, b, drop_last, sizes):
    for rule in ("shuffle", "cyclic", "random"):
        got = [len(i) for i in batches(n, b, rule=rule, drop_last=drop_last)]
        assert got == sizes
        assert num_batches(n, b, drop_last) == len(sizes)


def test_random_rule_draws_with_replacement_uniformly():
    """With replacement: repeats occur (P(no repeat in 1000 draws from 1000) ~ 1e-432);
    uniform: over 200 epochs each index is drawn 200 times on average, binomial std ~14."""
    rng = np.random.default_rng(0)
    one = np.concatenate(list(batches(1000, 100, rule="random", rng=rng)))
    assert len(np.unique(one)) < 1000
    counts = np.bincount(
        np.concatenate(
            [np.concatenate(list(batches(1000, 100, rule="random", rng=rng))) for _ in range(200)]
        ),
        minlength=1000,
    )
    assert abs(counts.mean() - 200) < 1e-12 and counts.std() < 20 and counts.min() > 120


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, r"batch_size in \[1, 10\]"),
        ({"batch_size": 11}, r"batch_size in \[1, 10\]"),
        ({"batch_size": 2.5}, r"batch_size"),
        ({"batch_size": 2, "rule": "sequential"}, r"rule in \('shuffle', 'cyclic', 'random'\)"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        list(batches(10, **kwargs))


def test_mean_of_batch_gradients_is_full_gradient():
    """The unbiased estimate, exactly: with equal batches, the mean of batch gradients of a
    mean loss is the full-batch gradient (MSE, linear in the per-sample terms)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    model, loss = mlp([3, 4, 2], activation="tanh", rng=1), MSELoss()

    def grads(idx):
        loss.forward(model.forward(X[idx]), Y[idx])
        model.backward(loss.backward())
        return [g.copy() for g in model.gradients()]

    full = grads(np.arange(12))
    parts = [grads(i) for i in batches(12, 4, rng=0)]
    for k, g in enumerate(full):
        np.testing.assert_allclose(
            np.mean([p[k] for p in parts], axis=0), g, rtol=1e-12, atol=1e-15
        )


def test_ema_matches_closed_form():
    """w'_k = gamma^k w_0 + sum_j (1-gamma) gamma^(k-j) w_j, computed by hand."""
    w = np.array([1.0, -2.0])
    ema = ParameterEMA([w], decay=0.8)
    seq = [w.copy()]
    for k in range(1, 6):
        w[...] = [k, k**2]
        seq.append(w.copy())
        ema.update()
    expected = 0.8**5 * seq[0] + sum(0.2 * 0.8 ** (5 - j) * seq[j] for j in range(1, 6))
    np.testing.assert_allclose(ema.averaged[0], expected, rtol=1e-14)
    with ema.swap():
        np.testing.assert_allclose(w, expected, rtol=1e-14)
    assert w.tolist() == [5.0, 25.0]  # restored after the block
    ema.copy_to()
    np.testing.assert_allclose(w, expected, rtol=1e-14)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_ema_decay_range(decay):
    with pytest.raises(ValueError, match=r"decay: expected a value in \(0.0, 1.0\)"):
        ParameterEMA([np.zeros(2)], decay)


def digits_like(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def test_full_batch_minibatch_equals_full_batch_gd():
    """batch_size = n with SGD is full-batch GD: same losses as train_full_batch."""
    X, y = digits_like()
    m1, m2 = mlp([5, 6, 3], rng=0), mlp([5, 6, 3], rng=0)
    h1 = train_minibatch(
        m1, CrossEntropyLoss(), X, y, PlainSGD(m1.parameters(), lr=0.3), epochs=8, batch_size=60
    )
    h2 = train_full_batch(m2, CrossEntropyLoss(), X, y, lr=0.3, steps=9)
    np.testing.assert_allclose(h1["train_loss"], h2["train_loss"], rtol=1e-12)
    assert h1["step"].tolist() == list(range(9)) and h1["iteration"].tolist() == list(range(9))


def test_history_keys_and_ema():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    h = train_minibatch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        Adam(model.parameters(), lr=0.01),
        epochs=3,
        batch_size=16,
        X_val=X[:20],
        y_val=y[:20],
        ema=0.9,
    )
    assert set(h.keys()) == {
        "step",
        "iteration",
        "lr",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "ema_train_loss",
        "ema_train_acc",
        "ema_val_loss",
        "ema_val_acc",
    }
    assert h["iteration"].tolist() == [0, 4, 8, 12]
    assert h["ema_train_loss"][0] == h["train_loss"][0]  # the average starts at the weights
    assert h["ema_train_loss"][-1] != h["train_loss"][-1]


def test_callable_schedule_sets_lr_each_iteration():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    opt = PlainSGD(model.parameters(), lr=1.0)
    seen = []
    h = train_minibatch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        opt,
        epochs=2,
        batch_size=20,
        schedule=lambda k: seen.append(k) or 0.1 / (k + 1),
    )
    assert seen == list(range(6)) and h["lr"][-1] == pytest.approx(0.1 / 6)


def test_log_batches_records_each_iteration():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    h = train_minibatch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        PlainSGD(model.parameters(), lr=0.1),
        epochs=2,
        batch_size=20,
        log_batches=True,
    )
    steps, losses = h.series("batch_loss")
    np.testing.assert_allclose(steps, np.arange(1, 7) / 3)
    assert len(losses) == 6 and np.all(np.isfinite(losses))


def test_divergence_names_epoch_and_iteration():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    with pytest.raises(DivergenceError, match=r"epoch \d+, iteration \d+"):
        train_minibatch(
            model,
            MSELoss(),
            X,
            np.eye(3)[y],
            PlainSGD(model.parameters(), lr=1e6),
            metric=None,
            epochs=50,
            batch_size=10,
        )


def test_run_epoch_counts_iterations():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    it = run_epoch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        PlainSGD(model.parameters(), lr=0.1),
        16,
        drop_last=True,
        iteration=5,
    )
    assert it == 5 + 60 // 16


def test_epoch_schedules_from_coursekit_optim():
    """ExponentialDecay is stepped once per epoch: lr = lr0 gamma^epoch; ReduceOnPlateau gets a loss."""
    from coursekit.optim import ExponentialDecay, ReduceOnPlateau

    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    opt = PlainSGD(model.parameters(), lr=0.2)
    h = train_minibatch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        opt,
        epochs=3,
        batch_size=20,
        schedule=ExponentialDecay(opt, gamma=0.5),
    )
    np.testing.assert_allclose(h["lr"], [0.2, 0.2, 0.1, 0.05])
    opt = PlainSGD(model.parameters(), lr=0.2)
    plateau = ReduceOnPlateau(opt)
    h = train_minibatch(
        model, CrossEntropyLoss(), X, y, opt, epochs=2, batch_size=20, schedule=plateau
    )
    assert plateau.best == min(h["train_loss"][1:])  # it saw each epoch's training loss


def test_ema_matches_torch_averaged_model():
    """Oracle: torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn (float64)."""
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    w = np.array([0.5, -1.0, 2.0])
    lin = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
    avg = AveragedModel(lin, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=False)
    avg.update_parameters(lin)  # torch's first update copies; ours starts as a copy
    ema = ParameterEMA([w], decay=0.9)
    rng = np.random.default_rng(0)
    for _ in range(20):
        w += rng.normal(size=3)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
        avg.update_parameters(lin)
        ema.update()
    theirs = avg.module.weight.detach().numpy().ravel()
    np.testing.assert_allclose(ema.averaged[0], theirs, rtol=1e-12, atol=1e-14)


def test_plateau_schedule_gets_the_validation_loss_every_epoch():
    """A schedule that monitors a metric is stepped once per epoch with the loss the loop
    logged: the validation loss when there is validation data."""
    from coursekit.optim import ReduceOnPlateau

    class Recording(ReduceOnPlateau):
        def __init__(self, optimizer):
            super().__init__(optimizer, patience=0)
            self.metrics = []

        def step(self, metric=None):
            self.metrics.append(metric)
            super().step(metric)

    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    opt = PlainSGD(model.parameters(), lr=0.2)
    plateau = Recording(opt)
    h = train_minibatch(
        model, CrossEntropyLoss(), X[:40], y[:40], opt, epochs=4, batch_size=20,
        X_val=X[40:], y_val=y[40:], schedule=plateau,
    )  # fmt: skip
    assert plateau.metrics == h["val_loss"][1:].tolist()
    assert plateau.metrics != h["train_loss"][1:].tolist()
    assert h["lr"].tolist()[1:] == plateau.lrs[:-1]  # each epoch ran at the lr set before it


def test_schedule_of_the_wrong_type_is_named():
    X, y = digits_like()
    model = mlp([5, 6, 3], rng=0)
    with pytest.raises(TypeError, match="expected schedule to be a coursekit Schedule"):
        train_minibatch(
            model, CrossEntropyLoss(), X, y, PlainSGD(model.parameters(), lr=0.1), schedule=0.1
        )


def test_batch_order_comes_from_the_course_seed_by_default(monkeypatch):
    """rng=None is the course seed: the same batches as rng=COURSEKIT_SEED, and others
    under another course seed."""
    X, y = digits_like()

    def run(**kw):
        model = mlp([5, 6, 3], rng=0)
        opt = PlainSGD(model.parameters(), lr=0.1)
        return train_minibatch(model, CrossEntropyLoss(), X, y, opt, epochs=2, **kw)

    monkeypatch.setenv("COURSEKIT_SEED", "3")
    assert run()["train_loss"].tolist() == run(rng=3)["train_loss"].tolist()
    assert run()["train_loss"].tolist() != run(rng=4)["train_loss"].tolist()
    assert [i.tolist() for i in batches(10, 3)] == [i.tolist() for i in batches(10, 3, rng=3)]

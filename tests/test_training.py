"""The full-batch loop: plain GD by hand, a History, a named stop on divergence."""

import numpy as np
import pytest

from coursekit import data as D
from coursekit import layers as L
from coursekit import losses as Ls
from coursekit.errors import DivergenceError
from coursekit.models import mlp
from coursekit.training import History, accuracy, train_full_batch


def test_one_step_equals_gradient_descent_by_hand():
    X, y = D.make_blobs(n=40, rng=0)
    model = mlp([2, 5, 2], activation="tanh", rng=0)
    twin = mlp([2, 5, 2], activation="tanh", rng=0)
    loss = Ls.CrossEntropyLoss()
    train_full_batch(model, loss, X, y, lr=0.3, steps=1)
    loss.forward(twin.forward(X), y)
    twin.backward(loss.backward())
    for p, g in zip(twin.parameters(), twin.gradients()):
        p -= 0.3 * g
    for a, b in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(a, b)


def test_training_separates_blobs_and_logs_history():
    s = D.train_test_split(*D.make_blobs(n=200, rng=1), rng=1)
    model = mlp([2, 8, 2], activation="relu", rng=1)
    h = train_full_batch(
        model,
        Ls.CrossEntropyLoss(),
        s.X_train,
        s.y_train,
        lr=0.5,
        steps=60,
        X_val=s.X_test,
        y_val=s.y_test,
        log_every=10,
    )
    assert h.keys() == ["step", "train_loss", "train_acc", "val_loss", "val_acc"]
    assert list(h["step"]) == [0, 10, 20, 30, 40, 50, 59]
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h.last("val_acc") > 0.9


def test_divergence_stops_with_the_step_named():
    X = np.array([[1e3, -1e3], [2e3, 5e2]])
    model = mlp([2, 4, 1], activation="identity", rng=0)
    with pytest.raises(DivergenceError, match=r"non-finite \(NaN or inf\) at step \d+"):
        train_full_batch(
            model, Ls.MSELoss(), X, np.ones((2, 1)), lr=10.0, steps=200, show_progress=False
        )


def test_history_series_and_errors():
    h = History()
    h.log(step=0, train_loss=1.0)
    h.log(step=5, train_loss=0.5, val_loss=0.7)
    steps, vals = h.series("val_loss")
    assert list(steps) == [5] and list(vals) == [0.7]
    assert "val_loss" in h and "nope" not in h
    with pytest.raises(KeyError, match="no values logged for 'nope'"):
        h["nope"]


def test_accuracy_binary_and_multiclass():
    assert accuracy(np.array([[0.1, 0.9], [2.0, 1.0]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[-1.0], [3.0]]), np.array([0.0, 1.0])) == 1.0
    assert accuracy(np.array([-0.5, 0.5]), np.array([-1, 1])) == 1.0


def test_bad_arguments_are_named():
    model = mlp([2, 2])
    with pytest.raises(ValueError, match="expected steps >= 1, got 0"):
        train_full_batch(model, Ls.MSELoss(), np.ones((1, 2)), np.ones((1, 2)), steps=0)
    with pytest.raises(ValueError, match="expected lr > 0, got -1"):
        train_full_batch(model, Ls.MSELoss(), np.ones((1, 2)), np.ones((1, 2)), lr=-1)


def test_default_metric_thresholds_probabilities_at_one_half():
    """With a sigmoid output and BCELoss the scores are probabilities, not logits."""
    X, y = D.make_blobs(n=100, rng=2)
    model = mlp([2, 6, 1], activation="tanh", output="sigmoid", rng=2)
    h = train_full_batch(model, Ls.BCELoss(), X, y[:, None].astype(float), lr=1.0, steps=100)
    probs = model.forward(X)
    assert abs(h.last("train_acc") - np.mean((probs[:, 0] > 0.5) == (y > 0))) < 0.05
    assert accuracy(np.array([0.2, 0.7]), np.array([0, 1]), threshold=0.5) == 1.0


def test_weights_that_overflow_stop_with_divergence_error_not_a_value_error():
    """A step can send weights to inf; the next forward then meets non-finite activations."""
    X, y = D.make_blobs(n=64, rng=3)
    layers = []
    for _ in range(12):
        layers += [L.Linear(2 if not layers else 32, 32, rng=len(layers)), L.ReLU()]
    model = L.Sequential(*layers, L.Linear(32, 2, rng=99))
    for layer in model.layers[::2]:
        layer.params["weight"] *= 6.0  # exploding forward signal
    with pytest.raises(DivergenceError, match=r"at step \d+"):
        train_full_batch(
            model, Ls.CrossEntropyLoss(), X * 1e3, y, lr=1.0, steps=50, show_progress=False
        )


def test_nan_in_the_data_is_an_input_error():
    X = np.array([[0.0, np.nan]])
    with pytest.raises(ValueError, match="train_full_batch X: expected finite values"):
        train_full_batch(mlp([2, 2]), Ls.MSELoss(), X, np.zeros((1, 2)), steps=1)


# ----------------------------------------------------------------------------- one contract
# The three loops (numpy full batch, numpy mini-batch, torch) share arguments, input
# checks, the metric chosen from the loss, evaluation in eval mode and the divergence error.

import torch  # noqa: E402

from coursekit import torch_utils as tu  # noqa: E402
from coursekit.errors import NonFiniteError  # noqa: E402
from coursekit.minibatch import train_minibatch  # noqa: E402
from coursekit.optim import GD  # noqa: E402
from coursekit.training import check_data, default_metric, evaluate  # noqa: E402


def test_three_loops_report_the_same_accuracy_on_digits_two_vs_rest_with_bce():
    """BCELoss on sigmoid outputs: every loop thresholds the probabilities at 0.5.

    Full-batch GD for 20 steps in each loop from the same weights (the mini-batch loops
    with one batch of every sample, in order, so each step is the same sum): the same
    weights give the same accuracy, exactly, and the same losses to 1e-10 (float64;
    torch sums in another order). Thresholding the probabilities at 0, as the mini-batch
    loop once did, predicts "2" for every image and scores about 0.10.
    """
    s = D.load_digits_binary(rng=0)
    y, y_val = s.y_train[:, None], s.y_test[:, None]
    n, epochs, lr = len(s.X_train), 20, 0.5
    nets = [mlp([64, 8, 1], activation="tanh", output="sigmoid", rng=0) for _ in range(3)]
    kw = {"X_val": s.X_test, "y_val": y_val}
    h_full = train_full_batch(nets[0], Ls.BCELoss(), s.X_train, y, lr=lr, steps=epochs + 1, **kw)
    h_mini = train_minibatch(
        nets[1], Ls.BCELoss(), s.X_train, y, GD(nets[1].parameters(), lr=lr),
        epochs=epochs, batch_size=n, rule="cyclic", **kw,
    )  # fmt: skip
    h_torch = tu.train_torch(
        tu.to_torch(nets[2]), s.X_train, y, lambda p: torch.optim.SGD(p, lr=lr),
        epochs=epochs, batch_size=n, rule="cyclic", loss_fn=torch.nn.BCELoss(), dev="cpu", **kw,
    )  # fmt: skip
    for key in ("train_acc", "val_acc"):
        final = [h_full[key][-1], h_mini[key][-1], h_torch[key][-1]]
        assert final[0] == final[1] == final[2], (key, final)
        assert final[0] > 0.95, (key, final)  # all "not 2" would score ~0.90, all "2" ~0.10
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(h_mini[key][-1], h_full[key][-1], rtol=1e-10)
        np.testing.assert_allclose(h_torch[key][-1], h_full[key][-1], rtol=1e-10)


def test_default_metric_follows_the_loss_and_the_targets():
    probs, labels = np.array([[0.2], [0.7], [0.6]]), np.array([[0.0], [1.0], [0.0]])
    assert default_metric(Ls.BCELoss())(probs, labels) == pytest.approx(2 / 3)
    assert default_metric(Ls.BCEWithLogitsLoss())(probs, labels) == pytest.approx(1 / 3)
    scores = np.array([[2.0, 1.0], [0.0, 3.0]])
    assert default_metric(Ls.CrossEntropyLoss())(scores, np.array([0, 1])) == 1.0
    assert default_metric(Ls.CrossEntropyLoss())(scores, np.eye(2)) == 1.0  # one-hot targets
    # MSE has no decision rule of its own: it is read from the targets
    assert default_metric(Ls.MSELoss(), labels)(probs, labels) == pytest.approx(2 / 3)
    assert default_metric(Ls.MSELoss(), 2 * labels - 1)(probs - 0.5, 2 * labels - 1) == 2 / 3
    assert default_metric(Ls.MSELoss(), np.eye(2))(scores, np.eye(2)) == 1.0
    assert default_metric(Ls.MSELoss(), np.array([[0.3], [1.7]])) is None  # regression


def test_regression_targets_log_no_accuracy():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    h = train_full_batch(mlp([3, 4, 2], rng=0), Ls.MSELoss(), X, Y, lr=0.1, steps=3)
    assert h.keys() == ["step", "train_loss"]


LOOPS = ["full_batch", "minibatch", "torch"]


def _run(loop, model, loss, X, y, **kw):
    """One short run of ``loop`` on a coursekit model (the torch loop on its copy)."""
    if loop == "full_batch":
        return train_full_batch(model, loss, X, y, lr=0.1, steps=2, **kw)
    if loop == "minibatch":
        return train_minibatch(model, loss, X, y, GD(model.parameters(), lr=0.1), epochs=1, **kw)
    torch_loss = {Ls.CrossEntropyLoss: torch.nn.CrossEntropyLoss, Ls.MSELoss: torch.nn.MSELoss}
    return tu.train_torch(
        tu.to_torch(model), X, y, lambda p: torch.optim.SGD(p, lr=0.1), epochs=1,
        loss_fn=torch_loss[type(loss)](), dev="cpu", **kw,
    )  # fmt: skip


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize(
    "change, message",
    [
        ({"X_val": np.zeros((3, 2))}, "expected X_val and y_val together, got only X_val"),
        ({"X_val": np.zeros((3, 5)), "y_val": np.zeros(3, int)}, r"X_val: expected 2 features"),
        ({"X_val": np.zeros((3, 2)), "y_val": np.zeros(4, int)}, r"y_val: expected 3 targets"),
        ({"X_val": np.full((3, 2), np.nan), "y_val": np.zeros(3, int)}, "X_val: expected finite"),
        ({"y": np.zeros(7, int)}, r"y: expected 40 targets"),
        ({"X": np.full((40, 2), np.inf)}, r"X: expected finite values"),
    ],
    ids=["val-alone", "val-features", "val-length", "val-nan", "y-length", "x-inf"],
)
def test_every_loop_checks_its_inputs_the_same_way(loop, change, message):
    X, y = D.make_blobs(n=40, rng=0)
    args = {"X": X, "y": y, **change}
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(ValueError, match=f"train_{loop}"):
        _run(loop, mlp([2, 3, 2], rng=0), Ls.CrossEntropyLoss(), X, y, **args)
    with pytest.raises(ValueError, match=message):
        _run(loop, mlp([2, 3, 2], rng=0), Ls.CrossEntropyLoss(), X, y, **args)


def test_check_data_reports_non_finite_targets_with_their_type():
    with pytest.raises(NonFiniteError, match="loop y: expected finite values"):
        check_data(np.zeros((2, 1)), np.array([0.0, np.nan]), name="loop")


class _ModeSpy(L.Identity):
    """An identity layer that records (batch size, training mode) at every forward."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append((len(x), self.training))
        return super().forward(x)


class _TorchModeSpy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append((len(x), self.training))
        return x


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_evaluates_in_eval_mode_and_trains_in_training_mode(loop):
    """Validation (7 samples) and, in the mini-batch loops, the end-of-epoch evaluation of
    the 40 training samples run in eval mode; the training batches (16, 16, 8 or all 40
    in full batch) in training mode; the model is left in training mode."""
    X, y = D.make_blobs(n=47, rng=1)
    spy = _ModeSpy()
    model = L.Sequential(L.Linear(2, 2, rng=0), spy)
    kw = {"X_val": X[40:], "y_val": y[40:]}
    if loop == "torch":
        net = torch.nn.Sequential(torch.nn.Linear(2, 2, dtype=torch.float64), _TorchModeSpy())
        tu.train_torch(
            net, X[:40], y[:40], lambda p: torch.optim.SGD(p, lr=0.1), epochs=1,
            batch_size=16, dev="cpu", **kw,
        )  # fmt: skip
        seen, final = net[1].seen, net.training
    else:
        if loop == "full_batch":
            train_full_batch(model, Ls.CrossEntropyLoss(), X[:40], y[:40], steps=2, **kw)
        else:
            opt = GD(model.parameters(), lr=0.1)
            train_minibatch(
                model, Ls.CrossEntropyLoss(), X[:40], y[:40], opt, epochs=1, batch_size=16, **kw
            )
        seen, final = spy.seen, model.training
    evals = {n for n, training in seen if not training}
    trains = {n for n, training in seen if training}
    assert 7 in evals and 7 not in trains
    assert trains == ({40} if loop == "full_batch" else {16, 8})
    if loop != "full_batch":  # full batch logs the loss of its own (training-mode) step
        assert 40 in evals
    assert final


def test_evaluate_restores_the_mode_it_found():
    model = mlp([2, 2], rng=0).eval()
    evaluate(model, Ls.CrossEntropyLoss(), np.zeros((3, 2)), np.zeros(3, int))
    assert not model.training
    model.train()
    evaluate(model, Ls.CrossEntropyLoss(), np.zeros((3, 2)), np.zeros(3, int))
    assert model.training


class _Raises(L.Identity):
    """A layer that raises a given error in forward once ``armed``."""

    def __init__(self, error):
        super().__init__()
        self.error, self.armed = error, False

    def forward(self, x):
        if self.armed:
            raise self.error
        self.armed = True
        return super().forward(x)


def test_divergence_is_recognised_by_the_error_type_not_its_message():
    """A NonFiniteError, whatever its text, is divergence; another ValueError that merely
    says "finite" is a bug to report, not a divergence to swallow."""
    X, y = D.make_blobs(n=20, rng=0)

    def run(error):
        model = L.Sequential(L.Linear(2, 2, rng=0), _Raises(error))
        return train_full_batch(model, Ls.CrossEntropyLoss(), X, y, steps=3)

    with pytest.raises(DivergenceError, match=r"at step 1"):
        run(NonFiniteError("activations overflowed"))
    with pytest.raises(ValueError, match="expected finite values") as info:
        run(ValueError("expected finite values in my own check"))
    assert not isinstance(info.value, DivergenceError)


def test_arguments_after_the_data_are_keyword_only():
    X, y = D.make_blobs(n=20, rng=0)
    with pytest.raises(TypeError):
        train_full_batch(mlp([2, 2]), Ls.CrossEntropyLoss(), X, y, 0.1)  # lr by position

"""The PyTorch helpers: device choice, model copies, and train_torch against train_minibatch.

Oracles: coursekit's own forward pass for the copied models (1e-12), and the numpy
mini-batch loop with coursekit's Adam for train_torch with torch.optim.Adam: the same
seed gives the same batches, so the two histories agree to 1e-9 in float64.
"""

import numpy as np
import pytest
import torch

from coursekit import torch_utils as tu
from coursekit.errors import DivergenceError
from coursekit.losses import CrossEntropyLoss
from coursekit.minibatch import train_minibatch
from coursekit.models import mlp
from coursekit.optim import Adam

torch.set_num_threads(1)  # tiny tensors: extra threads only contend on a shared machine


def test_device_without_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tu.device().type == "cpu"
    assert capsys.readouterr().out.strip() == "using CPU (no CUDA device found)"
    assert tu.device(prefer="cpu", verbose=False).type == "cpu"
    assert capsys.readouterr().out == ""


def test_device_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert tu.device(verbose=False).type == "cuda"
    assert tu.device(prefer="cpu", verbose=False).type == "cpu"
    with pytest.raises(ValueError, match="prefer='cuda' or 'cpu', got 'tpu'"):
        tu.device("tpu")


def test_mlp_torch_has_coursekit_layout():
    ours = mlp([6, 5, 4, 3], activation="tanh", output="softmax")
    net = tu.mlp_torch([6, 5, 4, 3], activation="tanh", output="softmax")
    theirs = net.state_dict()
    assert [(k, v.shape) for k, v in ours.named_parameters()] == [
        (k, tuple(v.shape)) for k, v in theirs.items()
    ]
    assert [type(m).__name__ for m in net] == [type(m).__name__ for m in ours.layers]
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        tu.mlp_torch([2, 2], activation="swish")


def test_copies_compute_the_same_function():
    model = mlp([6, 5, 3], activation="sigmoid", rng=0)
    net = tu.to_torch(model)
    X = np.random.default_rng(1).normal(size=(4, 6))
    np.testing.assert_allclose(
        net(torch.tensor(X)).detach().numpy(), model.forward(X), rtol=1e-12, atol=1e-14
    )
    with torch.no_grad():
        net[0].weight.mul_(2.0)
    tu.copy_params_from_torch(net, model)
    np.testing.assert_allclose(
        model.forward(X), net(torch.tensor(X)).detach().numpy(), rtol=1e-12, atol=1e-14
    )
    tu.copy_params_to_torch(mlp([6, 5, 3], rng=5), net)
    np.testing.assert_array_equal(
        net[2].bias.detach().numpy(), mlp([6, 5, 3], rng=5).parameters()[3]
    )


def test_copy_to_mismatched_module_names_keys():
    with pytest.raises(KeyError, match="differ from torch's"):
        tu.copy_params_to_torch(mlp([6, 5, 3]), mlp([6, 3], backend="torch"))


def test_train_torch_matches_numpy_loop():
    """Same weights, same batches (seed 4), Adam on both sides: identical histories."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 6)), rng.integers(0, 3, size=50)
    Xv, yv = rng.normal(size=(20, 6)), rng.integers(0, 3, size=20)
    model = mlp([6, 8, 3], rng=1)
    net = tu.to_torch(model)
    h_np = train_minibatch(
        model,
        CrossEntropyLoss(),
        X,
        y,
        Adam(model.parameters(), lr=0.01),
        epochs=4,
        batch_size=16,
        X_val=Xv,
        y_val=yv,
        rng=4,
    )
    h_t = tu.train_torch(
        net,
        X,
        y,
        torch.optim.Adam(net.parameters(), lr=0.01),
        epochs=4,
        batch_size=16,
        X_val=Xv,
        y_val=yv,
        seed=4,
        dev=torch.device("cpu"),
    )
    assert h_t.keys() == h_np.keys()
    for key in h_np.keys():
        np.testing.assert_allclose(h_t[key], h_np[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert h_np["train_loss"][-1] < h_np["train_loss"][0]


def test_train_torch_divergence():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)) * 1e3, rng.integers(0, 2, size=20)
    net = mlp([3, 4, 2], backend="torch")
    with pytest.raises(DivergenceError, match=r"by epoch \d+, iteration \d+"):
        tu.train_torch(
            net, X, y, torch.optim.SGD(net.parameters(), lr=1e30), epochs=3, batch_size=5, dev="cpu"
        )


def test_throughput_reports_every_batch_size():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 2, size=64)
    net = mlp([4, 8, 2], backend="torch")
    before = [p.clone() for p in net.parameters()]
    rates = tu.throughput(net, X, y, [8, 32], dev="cpu", min_time=0.01)
    assert sorted(rates) == [8, 32] and all(r > 0 for r in rates.values())
    assert all(
        torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True)
    )  # trained a copy


def test_to_torch_copies_batchnorm_with_running_statistics():

    model = mlp([4, 6, 3], batchnorm=True)
    X = np.random.default_rng(0).normal(size=(8, 4))
    model.forward(X)  # one training step of running statistics
    net = tu.to_torch(model)
    assert isinstance(net[1], torch.nn.BatchNorm1d) and net.training
    assert np.allclose(net[1].running_var.numpy(), model[1].running_var, rtol=1e-15)
    model.eval()
    net.eval()
    with torch.no_grad():
        assert np.allclose(
            net(torch.from_numpy(X)).numpy(), model.forward(X), rtol=1e-12, atol=1e-14
        )


# ----------------------------------------------------------------------------- devices
# train_torch moves the module first, then builds the optimiser, so no optimiser state is
# left on another device. Without CUDA, the 'meta' device stands in for a second device.


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, 2, size=n)


def test_an_optimiser_factory_is_built_on_the_moved_module():
    """The factory sees the parameters already on the target device."""
    X, y = _data()
    net = mlp([3, 4, 2], backend="torch")
    seen = []

    class Stop(Exception):
        pass

    def factory(params):
        seen.extend(p.device.type for p in params)
        raise Stop

    with pytest.raises(Stop):
        tu.train_torch(net, X, y, factory, epochs=1, dev="meta")
    assert seen and set(seen) == {"meta"}


def test_an_optimiser_factory_trains_like_an_optimiser_built_before():
    X, y = _data()
    a, b = mlp([3, 4, 2], backend="torch"), mlp([3, 4, 2], backend="torch")
    b.load_state_dict(a.state_dict())
    kw = {"epochs": 3, "batch_size": 8, "dev": "cpu", "rng": 1}
    h_factory = tu.train_torch(a, X, y, optimizer=lambda p: torch.optim.Adagrad(p, lr=0.1), **kw)
    h_built = tu.train_torch(b, X, y, torch.optim.Adagrad(b.parameters(), lr=0.1), **kw)
    np.testing.assert_array_equal(h_factory["train_loss"], h_built["train_loss"])
    assert h_factory["train_loss"][-1] < h_factory["train_loss"][0]


def test_an_optimiser_with_state_on_another_device_is_refused():
    """Adagrad creates its state when built: built on the CPU module, it cannot follow the
    module to another device (CUDA in a lecture). Without CUDA: its state is put on the
    'meta' device by hand, and the module trained on the CPU; and an Adagrad built on the
    CPU module is refused when the module goes to 'meta'."""
    X, y = _data()
    net = mlp([3, 4, 2], backend="torch")
    opt = torch.optim.Adagrad(net.parameters(), lr=0.1)
    first = next(net.parameters())
    opt.state[first]["sum"] = opt.state[first]["sum"].to("meta")
    with pytest.raises(ValueError, match=r"state 'sum' is on meta but the module is on cpu.*fac"):
        tu.train_torch(net, X, y, opt, epochs=1, dev="cpu")
    net = mlp([3, 4, 2], backend="torch")
    with pytest.raises(ValueError, match=r"pass a factory instead"):
        tu.train_torch(net, X, y, torch.optim.Adagrad(net.parameters(), lr=0.1), dev="meta")


def test_an_optimiser_of_other_parameters_is_refused():
    X, y = _data()
    net, other = mlp([3, 4, 2], backend="torch"), mlp([3, 4, 2], backend="torch")
    with pytest.raises(
        ValueError, match=r"not optimise exactly this module's parameters.*optimizer=lambda"
    ):
        tu.train_torch(net, X, y, torch.optim.SGD(other.parameters(), lr=0.1), dev="cpu")
    with pytest.raises(ValueError, match="on part of it"):  # a subset is not enough
        tu.train_torch(net, X, y, torch.optim.SGD(net[0].parameters(), lr=0.1), dev="cpu")
    with pytest.raises(TypeError, match="factory returned"):
        tu.train_torch(net, X, y, lambda params: None, dev="cpu")


def test_rng_and_its_old_name_seed_give_the_same_run():
    X, y = _data()
    runs = []
    for kw in ({"rng": 5}, {"seed": 5}):
        net = mlp([3, 4, 2], backend="torch")
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(0.1)
        h = tu.train_torch(net, X, y, lambda p: torch.optim.SGD(p, lr=0.1), dev="cpu", **kw)
        runs.append(h["train_loss"].tolist())
    assert runs[0] == runs[1]
    with pytest.raises(TypeError, match="pass rng"):
        tu.train_torch(net, X, y, lambda p: torch.optim.SGD(p, lr=0.1), rng=1, seed=1)


def test_the_course_seed_seeds_torch(monkeypatch):
    from coursekit import seeding

    monkeypatch.setenv("COURSEKIT_SEED", "7")
    assert seeding.seed() == 7 == seeding.course_seed()
    a = torch.rand(2)
    seeding.seed(7)
    assert torch.equal(a, torch.rand(2))


def test_bce_accuracy_in_torch_thresholds_probabilities():
    """The torch loop picks its metric from the loss as the numpy loops do."""
    X, y = _data(40, seed=3)
    y = (X[:, 0] > 0).astype(float)[:, None]
    net = torch.nn.Sequential(torch.nn.Linear(3, 1, dtype=torch.float64), torch.nn.Sigmoid())
    h = tu.train_torch(
        net, X, y, lambda p: torch.optim.SGD(p, lr=1.0), epochs=30, batch_size=40,
        loss_fn=torch.nn.BCELoss(), dev="cpu",
    )  # fmt: skip
    with torch.no_grad():
        probs = net(torch.from_numpy(X)).numpy()
    assert h.last("train_acc") == np.mean((probs > 0.5) == (y > 0.5)) > 0.9

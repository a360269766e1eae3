"""coursekit.assign_tools.SealedTest: counts its reads and fingerprints the model it measured."""

import numpy as np
import pytest
import torch

from coursekit.assign_tools import SealedTest, fingerprint


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4, dtype=torch.float64))


def test_accuracy_counts_reads_and_fingerprints_the_weights():
    X = np.random.default_rng(0).normal(size=(20, 3))
    model = _model()
    with torch.no_grad():
        y = model(torch.as_tensor(X)).argmax(dim=1).numpy()
    test = SealedTest(X, y)
    assert (test.calls, test.result, len(test)) == (0, None, 20)
    assert test.accuracy(model) == 1.0
    assert test.calls == 1 and test.fingerprint == fingerprint(model)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # trained after the test: the fingerprint tells
    assert fingerprint(model) != test.fingerprint
    test.accuracy(_model(1))
    assert test.calls == 2  # a second read is counted, not refused


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"expected X \(N, D\) and y \(N,\)"):
        SealedTest(np.zeros((4, 2)), np.zeros(3))

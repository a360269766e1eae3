"""coursekit.seeding: one course seed, read from $COURSEKIT_SEED."""

import random

import numpy as np
import pytest
import torch

from coursekit import seeding
from coursekit.layers import Linear


def test_course_seed_from_environment(monkeypatch):
    monkeypatch.delenv("COURSEKIT_SEED", raising=False)
    assert seeding.course_seed() == 0
    monkeypatch.setenv("COURSEKIT_SEED", "7")
    assert seeding.course_seed() == 7
    monkeypatch.setenv("COURSEKIT_SEED", "seven")
    with pytest.raises(ValueError, match="COURSEKIT_SEED: expected a non-negative integer"):
        seeding.course_seed()
    monkeypatch.setenv("COURSEKIT_SEED", "-1")
    with pytest.raises(ValueError, match="non-negative"):
        seeding.course_seed()


def test_seed_seeds_every_generator(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SEED", "3")
    assert seeding.seed() == 3
    first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    seeding.seed()
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first  # noqa: NPY002
    assert seeding.seed(5) == 5


def test_none_means_the_course_seed(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SEED", "0")
    w0 = Linear(3, 2).params["weight"].copy()
    assert np.array_equal(Linear(3, 2).params["weight"], w0)
    monkeypatch.setenv("COURSEKIT_SEED", "1")
    assert not np.array_equal(Linear(3, 2).params["weight"], w0)
    assert np.array_equal(Linear(3, 2, rng=0).params["weight"], w0)
    g = np.random.default_rng(4)
    assert seeding.make_rng(g) is g
    with pytest.raises(ValueError, match="rng: expected a non-negative integer seed"):
        seeding.make_rng(1.5)


def test_streams_and_seeds_are_independent_and_follow_the_course_seed(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SEED", "0")
    a, b = seeding.stream("noise").random(3), seeding.stream("init").random(3)
    assert not np.allclose(a, b)
    assert np.array_equal(seeding.stream("noise").random(3), a)
    assert not np.array_equal(seeding.stream("noise", offset=1).random(3), a)
    s0 = seeding.seeds(5)
    assert len(set(s0)) == 5
    monkeypatch.setenv("COURSEKIT_SEED", "1")
    assert not np.array_equal(seeding.stream("noise").random(3), a)
    assert seeding.seeds(5) != s0
    with pytest.raises(ValueError, match="positive number of seeds"):
        seeding.seeds(0)

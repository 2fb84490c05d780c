"""Datasets: seeded, the documented geometry and label conventions, the lecture table."""

import math
import random

import pytest

from nn import lecture_table, make_circles, make_moons, make_spiral, make_xor

MAKERS = [make_moons, make_circles, make_xor, lambda **kw: make_spiral(20, **kw)]


@pytest.mark.parametrize("make", MAKERS)
def test_same_seed_same_data_other_seed_other_data(make):
    kwargs = {"noise": 0.1} if make is make_xor else {}
    if make is make_xor:
        kwargs["n"] = 12
    assert make(seed=3, **kwargs) == make(seed=3, **kwargs)
    assert make(seed=3, **kwargs)[0] != make(seed=4, **kwargs)[0]


def test_global_random_state_untouched():
    random.seed(11)
    expected = random.random()
    random.seed(11)
    make_moons(50, seed=1)
    make_spiral(10, seed=1)
    assert random.random() == expected


def test_moons_shape_labels_and_geometry():
    X, y = make_moons(101, noise=0.0, seed=0)
    assert len(X) == len(y) == 101
    assert y.count(0) == 51 and y.count(1) == 50
    for (a, b), label in zip(X, y):
        if label == 0:  # upper half circle, radius 1, centre (0, 0)
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # lower half circle, radius 1, centre (1, 0.5)
            assert math.hypot(a - 1, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12
    assert y != sorted(y)  # shuffled


def test_noise_moves_the_points():
    clean, _ = make_moons(50, noise=0.0, seed=0)
    noisy, _ = make_moons(50, noise=0.2, seed=0)
    radii = [math.hypot(a, b) for a, b in noisy]
    assert clean != noisy and max(radii) > 1.05


def test_pm1_labels():
    _, y01 = make_moons(20, seed=2)
    _, ypm = make_moons(20, seed=2, labels="pm1")
    assert ypm == [1 if label == 1 else -1 for label in y01]
    assert set(make_circles(10, labels="pm1")[1]) == {-1, 1}
    assert make_xor(labels="pm1")[1] == [-1, 1, 1, -1]


def test_circles_radii():
    X, y = make_circles(40, noise=0.0, factor=0.3)
    for (a, b), label in zip(X, y):
        assert math.hypot(a, b) == pytest.approx(1.0 if label == 0 else 0.3)
    assert y.count(1) == 20


def test_xor_truth_table_and_noisy_copies():
    assert make_xor() == ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    X, y = make_xor(40, noise=0.05, seed=1)
    for (a, b), label in zip(X, y):
        corner = (round(a), round(b))
        assert label == (corner[0] != corner[1])
        assert math.hypot(a - corner[0], b - corner[1]) < 0.4


def test_spiral_geometry():
    X, y = make_spiral(25, classes=4, noise=0.0, turns=0.6)
    assert len(X) == 100 and sorted(set(y)) == [0, 1, 2, 3]
    for (a, b), k in zip(X, y):
        r = math.hypot(a, b)
        assert r <= 1 + 1e-12
        if r > 1e-9:
            angle = 2 * math.pi * (k / 4 + 0.6 * r)
            assert a == pytest.approx(r * math.cos(angle)) and b == pytest.approx(r * math.sin(angle))


def test_lecture_table_is_the_notes_table():
    # The "Training Data" slide of the Week 2 notes: x1, x2, y
    notes = [(1, 0.875, 1), (0.25, 1, 0.4), (0.75, 0.25, 0.6)]
    X, y = lecture_table()
    assert X == [[x1, x2] for x1, x2, _ in notes]
    assert y == [target for _, _, target in notes]
    X[0][0] = 99.0  # a fresh copy each call
    assert lecture_table()[0][0][0] == 1.0


@pytest.mark.parametrize("call, error, message", [
    (lambda: make_moons(1), ValueError, "n must be >= 2"),
    (lambda: make_moons(10.5), TypeError, "n must be an int"),
    (lambda: make_moons(10, noise=-1), ValueError, "noise must be a finite number >= 0"),
    (lambda: make_moons(10, noise=float("nan")), ValueError, "noise"),
    (lambda: make_moons(10, labels="yes"), ValueError, "labels must be '01'"),
    (lambda: make_circles(10, factor=1.5), ValueError, r"factor .* must be in \(0, 1\)"),
    (lambda: make_xor(0), ValueError, "n must be >= 1"),
    (lambda: make_spiral(10, classes=1), ValueError, "classes must be >= 2"),
    (lambda: make_spiral(10, turns=0), ValueError, "turns must be a number > 0"),
    (lambda: make_spiral(10, seed="a"), TypeError, "seed must be an int or None"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()

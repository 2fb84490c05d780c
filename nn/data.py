"""Small datasets to train on: pure Python, seeded, returned as ``(X, y)`` lists.

``X`` is a list of samples, each a list of floats (the inputs); ``y`` is a list
of labels, one per sample. Label conventions:

* two-class sets (moons, circles, xor) use **0 and 1** by default, for a sigmoid
  output with ``binary_cross_entropy`` or a linear output with
  ``binary_cross_entropy_with_logits``; pass ``labels="pm1"`` for **-1 and +1**,
  for a tanh or linear output with ``hinge_loss``, ``logistic_loss`` or ``mse``;
* ``make_spiral`` uses class indices **0, 1, ..., classes - 1**, for
  ``cross_entropy`` on one output per class.

The same ``seed`` always gives the same data (each call has its own
``random.Random``; the global random state is untouched). ``lecture_table()``
returns the regression example of the lecture notes.
"""

from __future__ import annotations

import math
import random
from numbers import Integral, Real
from typing import Any

__all__ = ["make_moons", "make_circles", "make_xor", "make_spiral", "lecture_table"]

Dataset = tuple[list[list[float]], list]


def _check_count(name: str, n: Any, owner: str, low: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {type(n).__name__} {n!r}")
    if n < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {n}")
    return int(n)


def _check_noise(noise: Any, owner: str) -> float:
    if isinstance(noise, bool) or not isinstance(noise, Real):
        raise TypeError(f"{owner}: noise must be a number, got {type(noise).__name__} {noise!r}")
    if not float(noise) >= 0 or math.isinf(noise):
        raise ValueError(f"{owner}: noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _rng(seed: Any, owner: str) -> random.Random:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        raise TypeError(f"{owner}: seed must be an int or None, got {type(seed).__name__} {seed!r}")
    return random.Random(None if seed is None else int(seed))


def _binary_labels(y: list[int], labels: str, owner: str) -> list[int]:
    """0/1 labels as asked: "01" keeps them, "pm1" maps 0 -> -1 and 1 -> +1."""
    if labels == "01":
        return y
    if labels == "pm1":
        return [2 * label - 1 for label in y]
    raise ValueError(f"{owner}: labels must be '01' (0 and 1) or 'pm1' (-1 and +1), got {labels!r}")


def _shuffled(X: list[list[float]], y: list, rng: random.Random) -> Dataset:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def make_moons(n: int = 100, noise: float = 0.1, seed: int | None = 0,
               labels: str = "01") -> Dataset:
    """Two interleaving half circles ("moons"), a classic non-linear problem.

    Class 0 lies on the upper half circle of radius 1 centred at (0, 0), class 1
    on the lower half circle centred at (1, 0.5); ``n // 2`` points in class 1
    and the rest in class 0, evenly spread along each arc, then Gaussian noise
    of standard deviation ``noise`` is added to both coordinates and the samples
    are shuffled.

    Args:
        n: number of samples (>= 2).
        noise: standard deviation of the Gaussian noise (>= 0).
        seed: seed of the random generator (None: a different set each call).
        labels: "01" for labels 0/1, "pm1" for -1/+1.

    Returns:
        ``(X, y)``: n samples ``[x1, x2]`` and their labels.

    >>> X, y = make_moons(6, noise=0.0, seed=1)
    >>> len(X), sorted(y)
    (6, [0, 0, 0, 1, 1, 1])
    """
    owner = "make_moons"
    n = _check_count("n", n, owner, low=2)
    noise = _check_noise(noise, owner)
    rng = _rng(seed, owner)
    n_inner = n // 2
    n_outer = n - n_inner
    X: list[list[float]] = []
    y: list[int] = []
    for i in range(n_outer):
        angle = math.pi * i / (n_outer - 1) if n_outer > 1 else 0.0
        X.append([math.cos(angle), math.sin(angle)])
        y.append(0)
    for i in range(n_inner):
        angle = math.pi * i / (n_inner - 1) if n_inner > 1 else 0.0
        X.append([1.0 - math.cos(angle), 0.5 - math.sin(angle)])
        y.append(1)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    X, y = _shuffled(X, y, rng)
    return X, _binary_labels(y, labels, owner)


def make_circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0,
                 labels: str = "01") -> Dataset:
    """A small circle inside a large one: class 0 on the outer circle (radius 1),
    class 1 on the inner circle (radius ``factor``), both centred at (0, 0).

    ``n // 2`` points in class 1, the rest in class 0, evenly spaced in angle;
    then Gaussian noise of standard deviation ``noise`` and a shuffle.

    Args:
        n: number of samples (>= 2).
        noise: standard deviation of the Gaussian noise (>= 0).
        factor: radius of the inner circle, in (0, 1).
        seed: seed of the random generator.
        labels: "01" or "pm1".
    """
    owner = "make_circles"
    n = _check_count("n", n, owner, low=2)
    noise = _check_noise(noise, owner)
    if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 < factor < 1:
        raise ValueError(f"{owner}: factor (inner radius) must be in (0, 1), got {factor!r}")
    rng = _rng(seed, owner)
    n_inner = n // 2
    n_outer = n - n_inner
    X: list[list[float]] = []
    y: list[int] = []
    for count, radius, label in ((n_outer, 1.0, 0), (n_inner, float(factor), 1)):
        for i in range(count):
            angle = 2 * math.pi * i / count
            X.append([radius * math.cos(angle) + rng.gauss(0.0, noise),
                      radius * math.sin(angle) + rng.gauss(0.0, noise)])
            y.append(label)
    X, y = _shuffled(X, y, rng)
    return X, _binary_labels(y, labels, owner)


def make_xor(n: int = 4, noise: float = 0.0, seed: int | None = 0, labels: str = "01") -> Dataset:
    """The XOR problem, which no single neuron can solve.

    With the defaults it is exactly the truth table, in this order::

        x1 x2 | y
         0  0 | 0
         0  1 | 1
         1  0 | 1
         1  1 | 0

    For ``n > 4``, sample i is corner ``i % 4`` of that table plus Gaussian noise
    of standard deviation ``noise`` on each coordinate (no shuffle).

    Args:
        n: number of samples (>= 1).
        noise: standard deviation of the Gaussian noise (>= 0).
        seed: seed of the random generator.
        labels: "01" or "pm1".

    >>> make_xor()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    owner = "make_xor"
    n = _check_count("n", n, owner)
    noise = _check_noise(noise, owner)
    rng = _rng(seed, owner)
    corners = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
    X: list[list[float]] = []
    y: list[int] = []
    for i in range(n):
        a, b = corners[i % 4]
        if noise:
            a, b = a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)
        X.append([a, b])
        y.append(int(corners[i % 4][0]) ^ int(corners[i % 4][1]))
    return X, _binary_labels(y, labels, owner)


def make_spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2,
                seed: int | None = 0, turns: float = 0.6) -> Dataset:
    """Interleaved spiral arms, one per class: a hard multi-class problem.

    Arm k starts at the origin and winds outwards: its i-th point has radius
    ``r = i / (n_per_class - 1)`` and angle ``2 pi (k / classes + turns * r)``
    plus Gaussian noise of standard deviation ``noise`` on the angle (in
    radians). Point = ``(r cos angle, r sin angle)``. Samples are shuffled.

    Args:
        n_per_class: points per arm (>= 2).
        classes: number of arms = classes (>= 2); labels 0 .. classes - 1.
        noise: standard deviation of the angular noise (>= 0).
        seed: seed of the random generator.
        turns: how many full turns each arm makes (> 0).

    Returns:
        ``(X, y)`` with ``n_per_class * classes`` samples and int class labels.
    """
    owner = "make_spiral"
    n_per_class = _check_count("n_per_class", n_per_class, owner, low=2)
    classes = _check_count("classes", classes, owner, low=2)
    noise = _check_noise(noise, owner)
    if isinstance(turns, bool) or not isinstance(turns, Real) or not 0 < turns < math.inf:
        raise ValueError(f"{owner}: turns must be a number > 0, got {turns!r}")
    rng = _rng(seed, owner)
    X: list[list[float]] = []
    y: list[int] = []
    for k in range(classes):
        for i in range(n_per_class):
            r = i / (n_per_class - 1)
            angle = 2 * math.pi * (k / classes + turns * r) + rng.gauss(0.0, noise)
            X.append([r * math.cos(angle), r * math.sin(angle)])
            y.append(k)
    return _shuffled(X, y, rng)


def lecture_table() -> tuple[list[list[float]], list[float]]:
    """The training data of the lecture notes' worked regression example.

    Source: the Week 2 notes "Training a Neural Network" (seed file 000 of the
    lecture notes), section "Example", slide "Training Data", for a network with
    two inputs, identity activations and the loss ``L = 1/2 sum (yhat_i - y_i)^2``::

        x1    x2     y
        1     0.875  1
        0.25  1      0.4
        0.75  0.25   0.6

    Returns:
        ``(X, y)``: three samples ``[x1, x2]`` and their real-valued targets.

    >>> lecture_table()
    ([[1.0, 0.875], [0.25, 1.0], [0.75, 0.25]], [1.0, 0.4, 0.6])
    """
    X = [[1.0, 0.875], [0.25, 1.0], [0.75, 0.25]]
    y = [1.0, 0.4, 0.6]
    return X, y

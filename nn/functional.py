"""Functions on lists of Values: ``softmax``, ``log_softmax``, ``logsumexp``.

Each is built from engine ops only, so its gradient comes from the graph.
They are numerically stable by the usual trick: subtract the largest input
``m`` first, since ``logsumexp(z) = m + log(sum_j exp(z_j - m))`` for *any*
constant m. Choosing m = max(z) keeps every ``exp`` at most 1, so nothing
overflows even for inputs of 1000. ``m`` enters the graph as a constant: the
identity holds for every m, so the gradient is exact without differentiating
through the max.

>>> from engine import Value
>>> probs = softmax([Value(1000.0), Value(1000.0)])   # exp(1000) would overflow
>>> [p.data for p in probs]
[0.5, 0.5]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

from engine import Value

__all__ = ["softmax", "log_softmax", "logsumexp", "softplus", "value_sum"]


def _values(xs: Any, where: str) -> list[Value]:
    if isinstance(xs, (Value, Real, str, bytes)) or not hasattr(xs, "__iter__"):
        raise TypeError(f"{where} needs a list of Values (one per class), got {type(xs).__name__}")
    out = []
    for k, x in enumerate(xs, start=1):
        if isinstance(x, Value):
            out.append(x)
        elif isinstance(x, Real) and not isinstance(x, bool):
            out.append(Value(float(x)))
        else:
            raise TypeError(f"{where}: entry {k} must be a Value or a number, got "
                            f"{type(x).__name__} {x!r}")
    if not out:
        raise ValueError(f"{where} needs at least one value, got an empty list")
    return out


def value_sum(values: Sequence[Value]) -> Value:
    """``values[0] + values[1] + ...``, left to right (no extra ``0 +`` node, unlike ``sum``)."""
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def logsumexp(xs: Sequence[Value | float]) -> Value:
    """``log(sum_j exp(x_j))``, computed stably (see the module docstring).

    Its gradient with respect to ``x_i`` is ``softmax(x)_i``. With infinite
    inputs it gives what PyTorch gives: +inf if any x is +inf (gradient nan for
    the +inf entries, 0 for the others), -inf if every x is -inf (gradient nan).
    """
    xs = _values(xs, "logsumexp")
    m = max(x.data for x in xs)
    if m == -math.inf:
        # Every x is -inf: the sum of exps is 0 and log(0) = -inf, whose slope 1/0
        # times exp(-inf) = 0 makes a nan gradient, as in PyTorch. log refuses 0, so
        # the node is sqrt(sum) + m: the same value (0 + -inf), an infinite slope at 0.
        return value_sum([x.exp() for x in xs]) ** 0.5 + m
    if m == math.inf:  # inf - inf would be nan: unshifted, exp(inf) = inf, log(inf) = inf
        return value_sum([x.exp() for x in xs]).log()
    return value_sum([(x - m).exp() for x in xs]).log() + m


def softplus(x: Value) -> Value:
    """``log(1 + exp(x))``, stably: ``x + log(1 + exp(-x))`` for x >= 0, so ``exp`` never
    overflows. Both branches are the exact function, so the gradient is ``sigmoid(x)``
    everywhere (including 0)."""
    if not isinstance(x, Value):
        raise TypeError(f"softplus needs a Value, got {type(x).__name__} {x!r}")
    if x.data >= 0:
        return x + ((-x).exp() + 1).log()
    return (x.exp() + 1).log()


def softmax(xs: Sequence[Value | float]) -> list[Value]:
    """``exp(x_i) / sum_j exp(x_j)`` for each i: probabilities that sum to 1."""
    xs = _values(xs, "softmax")
    m = max(x.data for x in xs)
    exps = [(x - m).exp() for x in xs]
    total = value_sum(exps)
    return [e / total for e in exps]


def log_softmax(xs: Sequence[Value | float]) -> list[Value]:
    """``x_i - logsumexp(x)`` for each i: the log-probabilities, without ``log(0)``."""
    xs = _values(xs, "log_softmax")
    lse = logsumexp(xs)
    return [x - lse for x in xs]

"""Two independent oracles for gradients: central differences and PyTorch float64.

Neither uses any of chainrule's code, so a wrong derivative rule cannot hide
behind itself.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Sequence

import pytest


def central_difference(f: Callable[[list[float]], float], xs: Sequence[float], h: float = 1e-6):
    """Numerical gradient of f at xs: (f(x + h e_i) - f(x - h e_i)) / 2h for each i."""
    grads = []
    for i in range(len(xs)):
        up = list(xs)
        down = list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


def torch_or_skip():
    """Import torch, or skip the test with a reason that the summary prints."""
    try:
        import torch
    except ImportError:
        pytest.skip("PyTorch is not installed: comparisons with PyTorch float64 skipped "
                    "(CI installs torch==2.13.0)")
    return torch


def torch_grads(f, xs: Sequence[float]):
    """Value and gradient of f (written on torch tensors) at xs, in float64."""
    torch = torch_or_skip()
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.item(), [0.0 if t.grad is None else t.grad.item() for t in leaves]


# --- one rule, run the same way in both engines ---------------------------------------
# The tests read everything about an op from its rule: how to call it (its form and
# symbol, or its name), where to sample it (its domain) and its edge points. Adding an
# op to engine.ops.RULES adds it to every op test, with no edit here unless PyTorch
# names the function differently (then one entry in TORCH_NAMES).

#: rule name -> PyTorch's function (a path in the torch module), where it is not
#: ``torch.<rule name>``, e.g. "softplus": "nn.functional.softplus"
TORCH_NAMES: dict[str, str] = {}

_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul,
              "/": operator.truediv, "^": operator.pow}

#: The constants tried for ops with a constant argument (the c of x ** c).
CONSTANTS = (2.5, 3.0, 2.0, 0.5, 1.0, 0.0, -1.0, -1.5)

#: Points where floats misbehave: each op is checked at every combination of them
#: (its own ``Domain.edges`` added), against PyTorch and array form against scalar form.
EDGE_POINTS = (0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 1e-310,
               1e-300, -1e-300, 1e-10, 1e300, -1e300, 1.7976931348623157e308,
               -1.7976931348623157e308, 1.0, -1.0, 0.5, 2.5, -2.0, 3.0, 710.0)


def takes_constant(rule) -> bool:
    """True for ops with a constant argument after their Value inputs (``x ** c``)."""
    return len(inspect.signature(rule.apply).parameters) > rule.arity


def op_call(rule, c: float | None = None) -> Callable:
    """The expression that runs ``rule`` on chainrule Values and torch tensors alike.

    Derived from the rule: its operator for the infix forms (``a + b``, ``-x``,
    ``x ** c``), else the Value method named like the rule (``x.tanh()``) and
    PyTorch's function of that name (``torch.tanh(x)``, or ``TORCH_NAMES``).
    """
    if rule.form == "function":
        name = rule.name

        def call(*xs):
            if not type(xs[0]).__module__.startswith("torch"):
                return getattr(xs[0], name)(*xs[1:])
            import torch

            function = torch
            for part in TORCH_NAMES.get(name, name).split("."):
                function = getattr(function, part)
            return function(*xs)

        return call
    if rule.form == "negation":
        return operator.neg
    if rule.arity == 1:  # a unary power: x ** c
        return lambda x: x**c
    return _OPERATORS[rule.symbol]


def edge_points(rule, k: int) -> list[float]:
    """The edge points tried for operand ``k`` of ``rule``: EDGE_POINTS and its own."""
    points = list(EDGE_POINTS)
    return points + [p for p in rule.domain[k].edges if repr(p) not in map(repr, points)]


def domain_floats(domain):
    """A hypothesis strategy for one operand: ``[low, high]``, away from ``away_from``."""
    from hypothesis import strategies as st

    s = st.floats(domain.low, domain.high, allow_nan=False, allow_infinity=False)
    if domain.away_from:
        s = s.filter(lambda x: all(abs(x - p) > domain.margin for p in domain.away_from))
    return s


def same_float(x: float, y: float, rel: float = 0.0) -> bool:
    """x and y are the same number: both nan, or equal (``rel``: up to that relative
    difference, for libm functions that may differ in the last bit)."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return math.isfinite(x) and math.isfinite(y) and math.isclose(x, y, rel_tol=rel)

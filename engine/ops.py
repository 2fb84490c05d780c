"""The rule table: every operation the engine knows, with its derivative rule.

This file is the single source of truth for what each op computes and how it
is differentiated. ``Value`` (forward pass), ``backward()`` (chain rule), the
graph drawer and the step-by-step explainer all read it, so what the tools show
is exactly what runs.

Each ``Rule`` holds:

* ``apply``: a function on plain floats returning the output **and** the local
  partial derivative of the output with respect to each input, e.g. for
  ``mul``: ``(a, b) -> (a*b, b, a)``. Nodes store these local derivatives;
  ``backward()`` then only multiplies and adds (``input.grad += local * node.grad``).
* ``formulas`` / ``latex``: the local derivative with respect to each input,
  written for people (plain text and LaTeX), using the names in ``operands``.

Extending the engine means adding one ``Rule`` here, one ``Value`` method that
calls it, and nothing else: the op tests are generated from this table.

Domain errors raised by ``apply`` are plain messages about the math; ``Value``
adds the node's label and value before the user sees them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Rule", "RULES", "rule"]

_INF = math.inf


@dataclass(frozen=True)
class Rule:
    """One op: how to compute it and how to differentiate it.

    ``operands`` names the inputs in order (``("a", "b")`` for binary ops,
    ``("x",)`` for unary ones); ``formulas[i]`` / ``latex[i]`` is the partial
    derivative of ``out`` with respect to ``operands[i]``. Ops with a constant
    argument (``x ** c``) take it as an extra last argument to ``apply`` and
    their formulas may mention ``c``.
    """

    name: str
    symbol: str
    operands: tuple[str, ...]
    apply: Callable[..., tuple[float, ...]]
    expression: str
    formulas: tuple[str, ...]
    latex: tuple[str, ...]
    doc: str

    @property
    def arity(self) -> int:
        """How many Value inputs the op takes (1 or 2)."""
        return len(self.operands)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"d/d{o} = {f}" for o, f in zip(self.operands, self.formulas)
        )
        return f"Rule({self.name}: out = {self.expression}; {parts})"


def _ratio(num: float, den: float) -> float:
    """num / den, but a zero denominator gives +-inf or nan as IEEE (and PyTorch) do.

    Used only for local derivatives at singular points (sqrt at 0, x**0.5 at 0),
    where the derivative really is infinite; a zero divisor in the *forward*
    pass is an error the user must see, and is checked separately.
    """
    if den != 0.0:
        return num / den
    if num == 0.0 or num != num:
        return math.nan
    return math.copysign(_INF, num) * math.copysign(1.0, den)


# --- forward + local derivatives, on floats --------------------------------
# Each returns (out, d out/d input_0[, d out/d input_1]).


def _add(a: float, b: float) -> tuple[float, float, float]:
    return a + b, 1.0, 1.0


def _sub(a: float, b: float) -> tuple[float, float, float]:
    return a - b, 1.0, -1.0


def _mul(a: float, b: float) -> tuple[float, float, float]:
    return a * b, b, a


def _div(a: float, b: float) -> tuple[float, float, float]:
    if b == 0.0:
        raise ZeroDivisionError("division by zero (the divisor b is 0)")
    inv = 1.0 / b
    return a * inv, inv, -a * inv * inv


def _neg(x: float) -> tuple[float, float]:
    return -x, -1.0


def _pow_const(x: float, c: float) -> tuple[float, float]:
    if x < 0.0 and not c.is_integer():
        raise ValueError(
            f"a negative base to the non-integer power {c} is not a real number"
        )
    if x == 0.0 and c < 0.0:
        raise ZeroDivisionError(f"0 to the negative power {c}")
    try:
        out = x**c
        local = 0.0 if c == 0.0 else (
            c * x ** (c - 1.0) if x != 0.0 or c >= 1.0 else _ratio(c, 0.0)
        )
    except OverflowError:
        raise OverflowError(f"the result of x**{c} is too large for a float") from None
    return out, local


def _pow(a: float, b: float) -> tuple[float, float, float]:
    if a < 0.0:
        raise ValueError(
            "a negative base with a Value exponent has no real derivative "
            "with respect to the exponent (it needs log(base))"
        )
    if a == 0.0:
        if b < 0.0:
            raise ZeroDivisionError(f"0 to the negative power {b}")
        # d/da: b * 0**(b-1); d/db: 0**b * log(0), taken as 0 for b >= 0 as PyTorch does.
        da = 0.0 if b == 0.0 else (b if b == 1.0 else (0.0 if b > 1.0 else _INF))
        return (1.0 if b == 0.0 else 0.0), da, 0.0
    try:
        out = a**b
        return out, b * a ** (b - 1.0), out * math.log(a)
    except OverflowError:
        raise OverflowError("the result of a**b is too large for a float") from None


def _exp(x: float) -> tuple[float, float]:
    try:
        out = math.exp(x)
    except OverflowError:
        raise OverflowError(
            "exp overflows a float for inputs above about 709.78"
        ) from None
    return out, out


def _log(x: float) -> tuple[float, float]:
    if x <= 0.0:
        raise ValueError("log is defined only for inputs > 0")
    return math.log(x), 1.0 / x


def _tanh(x: float) -> tuple[float, float]:
    t = math.tanh(x)
    return t, 1.0 - t * t


def _sigmoid(x: float) -> tuple[float, float]:
    # Two algebraically equal forms, each used where exp cannot overflow.
    if x >= 0.0:
        s = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        s = e / (1.0 + e)
    return s, s * (1.0 - s)


def _relu(x: float) -> tuple[float, float]:
    # x > 0 is False at 0 (derivative 0 there, as in PyTorch) and for nan.
    if x > 0.0:
        return x, 1.0
    return (x if x != x else 0.0), 0.0


def _sin(x: float) -> tuple[float, float]:
    return math.sin(x), math.cos(x)


def _cos(x: float) -> tuple[float, float]:
    return math.cos(x), -math.sin(x)


def _sqrt(x: float) -> tuple[float, float]:
    if x < 0.0:
        raise ValueError("sqrt is defined only for inputs >= 0")
    r = math.sqrt(x)
    return r, _ratio(0.5, r)


def _abs(x: float) -> tuple[float, float]:
    # sign(x), with 0 at 0 as PyTorch's subgradient choice.
    return abs(x), (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 * x)


def _r(name, symbol, operands, apply, expression, formulas, latex, doc) -> Rule:
    return Rule(name, symbol, tuple(operands), apply, expression,
                tuple(formulas), tuple(latex), doc)


#: The table. Keys are the ``op`` strings that nodes carry.
RULES: dict[str, Rule] = {r.name: r for r in (
    _r("add", "+", "ab", _add, "a + b", ("1", "1"), ("1", "1"),
       r"a + b: \partial/\partial a = 1, \partial/\partial b = 1"),
    _r("sub", "-", "ab", _sub, "a - b", ("1", "-1"), ("1", "-1"),
       r"a - b: \partial/\partial a = 1, \partial/\partial b = -1"),
    _r("mul", "*", "ab", _mul, "a * b", ("b", "a"), ("b", "a"),
       r"a b: \partial/\partial a = b, \partial/\partial b = a"),
    _r("div", "/", "ab", _div, "a / b", ("1/b", "-a/b^2"),
       (r"\frac{1}{b}", r"-\frac{a}{b^2}"),
       r"a / b: \partial/\partial a = 1/b, \partial/\partial b = -a/b^2"),
    _r("neg", "-", "x", _neg, "-x", ("-1",), ("-1",), r"-x: d/dx = -1"),
    _r("pow_const", "**", "x", _pow_const, "x ** c", ("c * x^(c-1)",),
       (r"c\,x^{c-1}",), r"x^c (c a number): d/dx = c x^{c-1}"),
    _r("pow", "**", "ab", _pow, "a ** b", ("b * a^(b-1)", "a^b * log(a)"),
       (r"b\,a^{b-1}", r"a^b \ln a"),
       r"a^b: \partial/\partial a = b a^{b-1}, \partial/\partial b = a^b \ln a"),
    _r("exp", "exp", "x", _exp, "exp(x)", ("exp(x)",), (r"e^{x}",),
       r"e^x: d/dx = e^x"),
    _r("log", "log", "x", _log, "log(x)", ("1/x",), (r"\frac{1}{x}",),
       r"\ln x: d/dx = 1/x"),
    _r("tanh", "tanh", "x", _tanh, "tanh(x)", ("1 - tanh(x)^2",),
       (r"1 - \tanh^2 x",), r"\tanh x: d/dx = 1 - \tanh^2 x"),
    _r("sigmoid", "sigmoid", "x", _sigmoid, "sigmoid(x)",
       ("sigmoid(x) * (1 - sigmoid(x))",), (r"\sigma(x)\,(1 - \sigma(x))",),
       r"\sigma(x) = 1/(1+e^{-x}): d/dx = \sigma(x)(1-\sigma(x))"),
    _r("relu", "relu", "x", _relu, "relu(x)", ("1 if x > 0 else 0",),
       (r"[x > 0]",), r"\max(x, 0): d/dx = 1 if x > 0 else 0 (0 at 0)"),
    _r("sin", "sin", "x", _sin, "sin(x)", ("cos(x)",), (r"\cos x",),
       r"\sin x: d/dx = \cos x"),
    _r("cos", "cos", "x", _cos, "cos(x)", ("-sin(x)",), (r"-\sin x",),
       r"\cos x: d/dx = -\sin x"),
    _r("sqrt", "sqrt", "x", _sqrt, "sqrt(x)", ("1 / (2 * sqrt(x))",),
       (r"\frac{1}{2\sqrt{x}}",), r"\sqrt{x}: d/dx = 1/(2\sqrt{x})"),
    _r("abs", "abs", "x", _abs, "abs(x)", ("sign(x)",),
       (r"\operatorname{sign} x",), r"|x|: d/dx = sign(x) (0 at 0)"),
)}


def rule(op: str) -> Rule:
    """The rule for ``op`` (a node's ``op`` string), with a clear error if unknown."""
    try:
        return RULES[op]
    except KeyError:
        known = ", ".join(sorted(RULES))
        raise KeyError(f"no rule for op {op!r}; known ops: {known}") from None

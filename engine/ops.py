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
* ``apply_array``: the same computation on NumPy arrays (one value per sample
  of a batch), returning the output and the local derivatives as arrays (or
  plain numbers where they are constant). The compiled tape (``engine/tape.py``)
  replays a recorded graph with it, one vectorised call per node; it sits next
  to ``apply`` so that the two cannot drift apart, and the tests check that
  they agree. NumPy is imported only when the tape asks for it (``use_numpy``);
  the tape calls these inside ``np.errstate(divide="ignore", invalid="ignore")``,
  since an infinite derivative (sqrt at 0) is a result, not an error.
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
from typing import Any

__all__ = ["Rule", "RULES", "rule", "use_numpy"]

_INF = math.inf

#: NumPy, once ``use_numpy()`` has loaded it; only the ``apply_array`` forms use it,
#: so the scalar engine runs (and imports quickly) without NumPy installed.
np: Any = None


def use_numpy() -> Any:
    """Import NumPy for the array forms of the rules (``Rule.apply_array``) and return it.

    Raises ImportError with the install command if NumPy is missing.
    """
    global np
    if np is None:
        try:
            import numpy
        except ImportError as error:
            raise ImportError(
                "the compiled tape (engine.tape) needs NumPy, which is not installed; "
                "install it with: pip install 'chainrule[numpy]' (the scalar engine "
                "works without it)"
            ) from error
        np = numpy
    return np


@dataclass(frozen=True)
class Rule:
    """One op: how to compute it and how to differentiate it.

    ``operands`` names the inputs in order (``("a", "b")`` for binary ops,
    ``("x",)`` for unary ones); ``formulas[i]`` / ``latex[i]`` is the partial
    derivative of ``out`` with respect to ``operands[i]``. Ops with a constant
    argument (``x ** c``) take it as an extra last argument to ``apply`` and
    their formulas may mention ``c``. ``apply_array`` is ``apply`` on NumPy
    arrays (see the module docstring).
    """

    name: str
    symbol: str
    operands: tuple[str, ...]
    apply: Callable[..., tuple[float, ...]]
    expression: str
    formulas: tuple[str, ...]
    latex: tuple[str, ...]
    doc: str
    apply_array: Callable[..., tuple[Any, ...]] | None = None

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


def _check_overflow(out: Any, x: Any, message: str) -> None:
    """Raise OverflowError where a finite input gave an infinite output, as floats do."""
    if not np.isfinite(out).all() and np.any(np.isinf(out) & np.isfinite(x)):
        raise OverflowError(message)


# --- forward + local derivatives, on floats (apply) and on arrays (apply_array) ---
# Each returns (out, d out/d input_0[, d out/d input_1]).


def _add(a: float, b: float) -> tuple[float, float, float]:
    return a + b, 1.0, 1.0


def _add_array(a, b):
    return a + b, 1.0, 1.0


def _sub(a: float, b: float) -> tuple[float, float, float]:
    return a - b, 1.0, -1.0


def _sub_array(a, b):
    return a - b, 1.0, -1.0


def _mul(a: float, b: float) -> tuple[float, float, float]:
    return a * b, b, a


def _mul_array(a, b):
    return a * b, b, a


def _div(a: float, b: float) -> tuple[float, float, float]:
    if b == 0.0:
        raise ZeroDivisionError("division by zero (the divisor b is 0)")
    inv = 1.0 / b
    return a * inv, inv, -a * inv * inv


def _div_array(a, b):
    if np.any(b == 0.0):
        raise ZeroDivisionError("division by zero (the divisor b is 0)")
    inv = 1.0 / b
    return a * inv, inv, -a * inv * inv


def _neg(x: float) -> tuple[float, float]:
    return -x, -1.0


def _neg_array(x):
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


def _pow_const_array(x, c: float):
    if not c.is_integer() and np.any(x < 0.0):
        raise ValueError(
            f"a negative base to the non-integer power {c} is not a real number"
        )
    if c < 0.0 and np.any(x == 0.0):
        raise ZeroDivisionError(f"0 to the negative power {c}")
    out = x**c
    _check_overflow(out, x, f"the result of x**{c} is too large for a float")
    # c x^(c-1) is +inf at x = 0 for 0 < c < 1, as _ratio gives in the scalar form.
    local = 0.0 if c == 0.0 else c * x ** (c - 1.0)
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


def _pow_array(a, b):
    if np.any(a < 0.0):
        raise ValueError(
            "a negative base with a Value exponent has no real derivative "
            "with respect to the exponent (it needs log(base))"
        )
    zero = a == 0.0
    if np.any(zero & (b < 0.0)):
        raise ZeroDivisionError("0 to the negative power b")
    out = a**b
    _check_overflow(out, a + b, "the result of a**b is too large for a float")
    # At a = 0 the scalar form's special cases: d/da is 0 for b = 0, d/db is 0.
    da = np.where(b == 0.0, 0.0, b * a ** (b - 1.0))
    db = np.where(zero, 0.0, out * np.log(np.where(zero, 1.0, a)))
    return out, da, db


def _exp(x: float) -> tuple[float, float]:
    try:
        out = math.exp(x)
    except OverflowError:
        raise OverflowError(
            "exp overflows a float for inputs above about 709.78"
        ) from None
    return out, out


def _exp_array(x):
    out = np.exp(x)
    _check_overflow(out, x, "exp overflows a float for inputs above about 709.78")
    return out, out


def _log(x: float) -> tuple[float, float]:
    if x <= 0.0:
        raise ValueError("log is defined only for inputs > 0")
    return math.log(x), 1.0 / x


def _log_array(x):
    if np.any(x <= 0.0):
        raise ValueError("log is defined only for inputs > 0")
    return np.log(x), 1.0 / x


def _tanh(x: float) -> tuple[float, float]:
    t = math.tanh(x)
    return t, 1.0 - t * t


def _tanh_array(x):
    t = np.tanh(x)
    return t, 1.0 - t * t


def _sigmoid(x: float) -> tuple[float, float]:
    # Two algebraically equal forms, each used where exp cannot overflow.
    if x >= 0.0:
        s = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        s = e / (1.0 + e)
    return s, s * (1.0 - s)


def _sigmoid_array(x):
    e = np.exp(-np.abs(x))  # exp(-x) where x >= 0, exp(x) where x < 0: never overflows
    s = np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s, s * (1.0 - s)


def _relu(x: float) -> tuple[float, float]:
    # x > 0 is False at 0 (derivative 0 there, as in PyTorch) and for nan.
    if x > 0.0:
        return x, 1.0
    return (x if x != x else 0.0), 0.0


def _relu_array(x):
    # np.maximum keeps nan, as the scalar form does.
    return np.maximum(x, 0.0), (x > 0.0).astype(np.float64)


def _sin(x: float) -> tuple[float, float]:
    return math.sin(x), math.cos(x)


def _sin_array(x):
    return np.sin(x), np.cos(x)


def _cos(x: float) -> tuple[float, float]:
    return math.cos(x), -math.sin(x)


def _cos_array(x):
    return np.cos(x), -np.sin(x)


def _sqrt(x: float) -> tuple[float, float]:
    if x < 0.0:
        raise ValueError("sqrt is defined only for inputs >= 0")
    r = math.sqrt(x)
    return r, _ratio(0.5, r)


def _sqrt_array(x):
    if np.any(x < 0.0):
        raise ValueError("sqrt is defined only for inputs >= 0")
    r = np.sqrt(x)
    return r, 0.5 / r  # +inf at 0, as _ratio gives


def _abs(x: float) -> tuple[float, float]:
    # sign(x), with 0 at 0 as PyTorch's subgradient choice.
    return abs(x), (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 * x)


def _abs_array(x):
    return np.abs(x), np.sign(x)


def _r(name, symbol, operands, apply, apply_array, expression, formulas, latex, doc) -> Rule:
    return Rule(name, symbol, tuple(operands), apply, expression,
                tuple(formulas), tuple(latex), doc, apply_array)


#: The table. Keys are the ``op`` strings that nodes carry.
RULES: dict[str, Rule] = {r.name: r for r in (
    _r("add", "+", "ab", _add, _add_array, "a + b", ("1", "1"), ("1", "1"),
       r"a + b: \partial/\partial a = 1, \partial/\partial b = 1"),
    _r("sub", "-", "ab", _sub, _sub_array, "a - b", ("1", "-1"), ("1", "-1"),
       r"a - b: \partial/\partial a = 1, \partial/\partial b = -1"),
    _r("mul", "*", "ab", _mul, _mul_array, "a * b", ("b", "a"), ("b", "a"),
       r"a b: \partial/\partial a = b, \partial/\partial b = a"),
    _r("div", "/", "ab", _div, _div_array, "a / b", ("1/b", "-a/b^2"),
       (r"\frac{1}{b}", r"-\frac{a}{b^2}"),
       r"a / b: \partial/\partial a = 1/b, \partial/\partial b = -a/b^2"),
    _r("neg", "-", "x", _neg, _neg_array, "-x", ("-1",), ("-1",), r"-x: d/dx = -1"),
    _r("pow_const", "**", "x", _pow_const, _pow_const_array, "x ** c", ("c * x^(c-1)",),
       (r"c\,x^{c-1}",), r"x^c (c a number): d/dx = c x^{c-1}"),
    _r("pow", "**", "ab", _pow, _pow_array, "a ** b", ("b * a^(b-1)", "a^b * log(a)"),
       (r"b\,a^{b-1}", r"a^b \ln a"),
       r"a^b: \partial/\partial a = b a^{b-1}, \partial/\partial b = a^b \ln a"),
    _r("exp", "exp", "x", _exp, _exp_array, "exp(x)", ("exp(x)",), (r"e^{x}",),
       r"e^x: d/dx = e^x"),
    _r("log", "log", "x", _log, _log_array, "log(x)", ("1/x",), (r"\frac{1}{x}",),
       r"\ln x: d/dx = 1/x"),
    _r("tanh", "tanh", "x", _tanh, _tanh_array, "tanh(x)", ("1 - tanh(x)^2",),
       (r"1 - \tanh^2 x",), r"\tanh x: d/dx = 1 - \tanh^2 x"),
    _r("sigmoid", "sigmoid", "x", _sigmoid, _sigmoid_array, "sigmoid(x)",
       ("sigmoid(x) * (1 - sigmoid(x))",), (r"\sigma(x)\,(1 - \sigma(x))",),
       r"\sigma(x) = 1/(1+e^{-x}): d/dx = \sigma(x)(1-\sigma(x))"),
    _r("relu", "relu", "x", _relu, _relu_array, "relu(x)", ("1 if x > 0 else 0",),
       (r"[x > 0]",), r"\max(x, 0): d/dx = 1 if x > 0 else 0 (0 at 0)"),
    _r("sin", "sin", "x", _sin, _sin_array, "sin(x)", ("cos(x)",), (r"\cos x",),
       r"\sin x: d/dx = \cos x"),
    _r("cos", "cos", "x", _cos, _cos_array, "cos(x)", ("-sin(x)",), (r"-\sin x",),
       r"\cos x: d/dx = -\sin x"),
    _r("sqrt", "sqrt", "x", _sqrt, _sqrt_array, "sqrt(x)", ("1 / (2 * sqrt(x))",),
       (r"\frac{1}{2\sqrt{x}}",), r"\sqrt{x}: d/dx = 1/(2\sqrt{x})"),
    _r("abs", "abs", "x", _abs, _abs_array, "abs(x)", ("sign(x)",),
       (r"\operatorname{sign} x",), r"|x|: d/dx = sign(x) (0 at 0)"),
)}


def rule(op: str) -> Rule:
    """The rule for ``op`` (a node's ``op`` string), with a clear error if unknown."""
    try:
        return RULES[op]
    except KeyError:
        known = ", ".join(sorted(RULES))
        raise KeyError(f"no rule for op {op!r}; known ops: {known}") from None

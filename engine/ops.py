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
  they agree, at every edge point too (0, -0.0, +-inf, nan, tiny, huge). NumPy
  is imported only when the tape asks for it (``use_numpy``); the tape calls
  these with NumPy's warnings off (``np.errstate(all="ignore")``): an infinite
  derivative (sqrt at 0) is a result, not an error, and the domain errors the
  scalar forms raise are checked explicitly, so both forms raise the same.
* ``expression`` / ``latex`` and ``derivatives`` / ``derivatives_latex``: the op
  and its local derivative with respect to each input, written for people
  (plain text and LaTeX), using the names in ``operands``. A test evaluates
  each text derivative at points of the op's domain and checks it equals the
  local derivative ``apply`` returns.
* ``domain``: per operand, where the op can be sampled and checked, and its
  edge points; the tests read it (one place for every op).
* ``hints``: the fix an error message suggests, per error type.

Extending the engine means adding one ``Rule`` here and one ``Value`` method that
calls it: the op tests are generated from this table (DEVELOPERS.md, "Adding an
op"; a test also asks for the op's row in the README's cheat sheet).

Domain errors raised by ``apply`` are plain messages about the math; ``Value``
adds the node's label and value, and the rule's hint, before the user sees them.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

__all__ = ["Rule", "Domain", "RULES", "rule", "use_numpy", "define_op", "remove_op",
           "user_ops", "Op", "BUILTINS"]

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
class Domain:
    """Where one operand of an op can be checked: the op tests read it.

    Samples are drawn from ``[low, high]``, at least ``margin`` away from each
    point of ``away_from`` (a kink such as relu's 0, or a pole such as a
    divisor's 0). ``edges`` are the points where the op takes a special branch
    (0 for sqrt, +-0.0 for relu...): the array form must agree with the scalar
    form there too.
    """

    low: float
    high: float
    away_from: tuple[float, ...] = ()
    margin: float = 1e-3
    edges: tuple[float, ...] = ()


@dataclass(frozen=True, eq=False)
class Rule:
    """One op: how to compute it, how to differentiate it, how to write it.

    ``operands`` names the inputs in order (``("a", "b")`` for binary ops,
    ``("x",)`` for unary ones). Ops with a constant argument (``x ** c``) take
    it as an extra last argument to ``apply`` and may mention ``c`` in their
    formulas. ``derivatives[i]`` / ``derivatives_latex[i]`` is the partial
    derivative of the output with respect to ``operands[i]``, written with those
    names; the teaching tools put the student's names in their place.

    Text formulas use one notation (``engine/teach/notation.py`` writes every
    node the same way): ``*`` and ``/`` with spaces, ``^`` for powers,
    functions as ``tanh(x)``. ``form`` says how the op is written around its
    operands: ``"sum"`` (``a + b``), ``"product"`` (``a * b``), ``"power"``
    (``a^b``), ``"negation"`` (``-x``) or ``"function"`` (``tanh(x)``).
    ``hints`` maps an error type that ``apply`` raises to the fix the error
    message suggests.
    """

    name: str
    symbol: str
    operands: tuple[str, ...]
    form: str
    apply: Callable[..., tuple[float, ...]]
    apply_array: Callable[..., tuple[Any, ...]] | None
    expression: str
    latex: str
    derivatives: tuple[str, ...]
    derivatives_latex: tuple[str, ...]
    domain: tuple[Domain, ...]
    hints: Mapping[type, str] = field(default_factory=dict)

    @property
    def arity(self) -> int:
        """How many Value inputs the op takes (1 or 2)."""
        return len(self.operands)

    def hint(self, error: BaseException) -> str:
        """The fix to suggest for ``error`` raised by this op's ``apply``."""
        for kind, text in self.hints.items():
            if isinstance(error, kind):
                return text
        return "check the inputs"

    def __repr__(self) -> str:
        parts = ", ".join(
            f"d/d{o} = {f}" for o, f in zip(self.operands, self.derivatives)
        )
        return f"Rule({self.name}: out = {self.expression}; {parts})"


def _ratio(num: float, den: float) -> float:
    """num / den, but a zero denominator gives +-inf or nan as IEEE (and PyTorch) do.

    Used only for local derivatives at singular points (sqrt at 0), where the
    derivative really is infinite; a zero divisor in the *forward* pass is an
    error the user must see, and is checked separately.
    """
    if den != 0.0:
        return num / den
    if num == 0.0 or num != num:
        return math.nan
    return math.copysign(_INF, num) * math.copysign(1.0, den)


def _odd_integer(y: float) -> bool:
    return y % 2.0 == 1.0  # False for inf and nan (their remainder is nan)


def _ieee_power(x: float, y: float) -> float:
    """x ** y as IEEE 754 (and NumPy and PyTorch) define it, for local derivatives.

    Python's ``**`` raises where IEEE gives an infinity (``0.0 ** -1``, ``1e-300 ** -2``)
    and returns a complex number for a negative base to a fractional power; a
    derivative that is infinite (or undefined) is a result, not an error.
    """
    if x < 0.0 and math.isfinite(y) and not y.is_integer():
        return math.nan
    try:
        return x**y
    except ZeroDivisionError:  # 0 to a negative power: +inf, or -inf for -0.0 ** odd
        return math.copysign(_INF, x) if _odd_integer(y) else _INF
    except OverflowError:  # beyond the float range: negative only for x < 0 and odd y
        return -_INF if x < 0.0 and _odd_integer(y) else _INF


def _ieee_log(x: float) -> float:
    """The natural log as IEEE defines it at 0 (-inf), for local derivatives."""
    return math.log(x) if x > 0.0 else (-_INF if x == 0.0 else math.nan)


def _check_overflow(out: Any, message: str, *inputs: Any) -> None:
    """Raise OverflowError where finite inputs gave an infinite output, as Python's floats do
    (``math.exp(710.0)``, ``10.0 ** 400``); an infinite input giving inf is not an overflow."""
    infinite = np.isinf(out)
    if infinite.any():
        for x in inputs:
            infinite = infinite & np.isfinite(x)
        if np.any(infinite):
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
    # A true division, not a * (1 / b): exact to the last bit, and right for tiny
    # divisors (1e-10 / 1e-310 is 1e300, where 1 / 1e-310 is already inf).
    # d/db = -a / b^2, computed as -(a / b) / b, as PyTorch does (b * b may underflow).
    out = a / b
    return out, 1.0 / b, -(out / b)


def _div_array(a, b):
    if np.any(b == 0.0):
        raise ZeroDivisionError("division by zero (the divisor b is 0)")
    out = a / b
    return out, 1.0 / b, -(out / b)


def _neg(x: float) -> tuple[float, float]:
    return -x, -1.0


def _neg_array(x):
    return -x, -1.0


def _pow_const(x: float, c: float) -> tuple[float, float]:
    if x < 0.0 and math.isfinite(c) and not c.is_integer():
        raise ValueError(
            f"a negative base to the non-integer power {c} is not a real number"
        )
    if x == 0.0 and c < 0.0:
        raise ZeroDivisionError(f"0 to the negative power {c}")
    try:
        out = x**c
    except OverflowError:
        raise OverflowError(f"the result of x^{c} is too large for a float") from None
    # Only the value can overflow into an error: a derivative too large for a float
    # (1e-300 ** -1 has the derivative -1e600) is inf, as in PyTorch.
    return out, (0.0 if c == 0.0 else c * _ieee_power(x, c - 1.0))


def _pow_const_array(x, c: float):
    if math.isfinite(c) and not c.is_integer() and np.any(x < 0.0):
        raise ValueError(
            f"a negative base to the non-integer power {c} is not a real number"
        )
    if c < 0.0 and np.any(x == 0.0):
        raise ZeroDivisionError(f"0 to the negative power {c}")
    out = x**c
    _check_overflow(out, f"the result of x^{c} is too large for a float", x, c)
    if c == 0.5:  # NumPy takes sqrt for ** 0.5, which keeps -0.0; pow (and float) give +0.0
        out = out + 0.0
    return out, (0.0 if c == 0.0 else c * x ** (c - 1.0))


def _pow(a: float, b: float) -> tuple[float, float, float]:
    if a < 0.0:
        raise ValueError(
            "a negative base with a Value exponent has no real derivative "
            "with respect to the exponent (it needs log(base))"
        )
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"0 to the negative power {b}")
    try:
        out = a**b
    except OverflowError:
        raise OverflowError("the result of a^b is too large for a float") from None
    # PyTorch's conventions where the formulas meet 0 * inf: d/da is 0 for b = 0
    # (a^0 is the constant 1), d/db is 0 at a = 0 for b >= 0 (0^b log 0 -> 0).
    da = 0.0 if b == 0.0 else b * _ieee_power(a, b - 1.0)
    db = 0.0 if a == 0.0 and b >= 0.0 else out * _ieee_log(a)
    return out, da, db


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
    _check_overflow(out, "the result of a^b is too large for a float", a, b)
    da = np.where(b == 0.0, 0.0, b * a ** (b - 1.0))
    db = np.where(zero & (b >= 0.0), 0.0, out * np.log(a))
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
    _check_overflow(out, "exp overflows a float for inputs above about 709.78", x)
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
    if x > 0.0:
        return x, 1.0
    if x != x:  # nan: the value stays nan; the derivative is 1, as PyTorch's (0 only where x <= 0)
        return x, 1.0
    return 0.0, 0.0  # derivative 0 at 0, as PyTorch's


def _relu_array(x):
    # np.maximum keeps nan, as the scalar form does.
    return np.maximum(x, 0.0), np.where(x <= 0.0, 0.0, 1.0)


def _sin(x: float) -> tuple[float, float]:
    if math.isinf(x):  # math.sin raises there; IEEE (and NumPy, PyTorch) give nan
        return math.nan, math.nan
    return math.sin(x), math.cos(x)


def _sin_array(x):
    return np.sin(x), np.cos(x)


def _cos(x: float) -> tuple[float, float]:
    if math.isinf(x):
        return math.nan, math.nan
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
    # sign(x), with 0 at 0 (PyTorch's subgradient choice) and at nan (as PyTorch's sign)
    return abs(x), (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0)


def _abs_array(x):
    return np.abs(x), (x > 0.0) - (x < 0.0).astype(np.float64)


_ANY = Domain(-5.0, 5.0)

#: The table. Keys are the ``op`` strings that nodes carry. Read an entry as a
#: line of a cheat sheet: the op, its expression, then its partial derivatives.
RULES: dict[str, Rule] = {r.name: r for r in (
    Rule(name="add", symbol="+", operands=("a", "b"), form="sum",
         apply=_add, apply_array=_add_array,
         expression="a + b", latex="a + b",
         derivatives=("1", "1"), derivatives_latex=("1", "1"),
         domain=(_ANY, _ANY)),
    Rule(name="sub", symbol="-", operands=("a", "b"), form="sum",
         apply=_sub, apply_array=_sub_array,
         expression="a - b", latex="a - b",
         derivatives=("1", "-1"), derivatives_latex=("1", "-1"),
         domain=(_ANY, _ANY)),
    Rule(name="mul", symbol="*", operands=("a", "b"), form="product",
         apply=_mul, apply_array=_mul_array,
         expression="a * b", latex=r"a \, b",
         derivatives=("b", "a"), derivatives_latex=("b", "a"),
         domain=(_ANY, _ANY)),
    Rule(name="div", symbol="/", operands=("a", "b"), form="product",
         apply=_div, apply_array=_div_array,
         expression="a / b", latex=r"\frac{a}{b}",
         derivatives=("1 / b", "-a / b^2"),
         derivatives_latex=(r"\frac{1}{b}", r"-\frac{a}{b^{2}}"),
         domain=(_ANY, Domain(-5.0, 5.0, away_from=(0.0,), margin=0.2)),
         hints={ZeroDivisionError: "check the divisor; add a small epsilon if it can be 0"}),
    Rule(name="neg", symbol="-", operands=("x",), form="negation",
         apply=_neg, apply_array=_neg_array,
         expression="-x", latex="-x",
         derivatives=("-1",), derivatives_latex=("-1",),
         domain=(_ANY,)),
    Rule(name="pow_const", symbol="^", operands=("x",), form="power",
         apply=_pow_const, apply_array=_pow_const_array,
         expression="x^c", latex="x^{c}",
         derivatives=("c * x^(c - 1)",), derivatives_latex=(r"c \, x^{c - 1}",),
         domain=(Domain(0.1, 4.0, edges=(0.0,)),),
         hints={ValueError: "a negative base needs an integer exponent: take abs() "
                            "first, or use an integer power",
                ZeroDivisionError: "0 to a negative power is infinite: keep the base "
                                   "away from 0 (add a small epsilon)",
                OverflowError: "the power is beyond the float range: scale the base "
                               "or the exponent down"}),
    Rule(name="pow", symbol="^", operands=("a", "b"), form="power",
         apply=_pow, apply_array=_pow_array,
         expression="a^b", latex="a^{b}",
         derivatives=("b * a^(b - 1)", "a^b * log(a)"),
         derivatives_latex=(r"b \, a^{b - 1}", r"a^{b} \ln a"),
         domain=(Domain(0.1, 4.0, edges=(0.0,)), Domain(-3.0, 3.0)),
         hints={ValueError: "use a positive base, or a number exponent (x ** 2) if "
                            "the base can be negative",
                ZeroDivisionError: "0 to a negative power is infinite: keep the base "
                                   "away from 0 (add a small epsilon)",
                OverflowError: "the power is beyond the float range: scale the base "
                               "or the exponent down"}),
    Rule(name="exp", symbol="exp", operands=("x",), form="function",
         apply=_exp, apply_array=_exp_array,
         expression="exp(x)", latex="e^{x}",
         derivatives=("exp(x)",), derivatives_latex=("e^{x}",),
         domain=(_ANY,),
         hints={OverflowError: "scale the input down, or use a stable formula "
                               "(e.g. log-sum-exp)"}),
    Rule(name="log", symbol="log", operands=("x",), form="function",
         apply=_log, apply_array=_log_array,
         expression="log(x)", latex=r"\ln x",
         derivatives=("1 / x",), derivatives_latex=(r"\frac{1}{x}",),
         domain=(Domain(0.05, 20.0),),
         hints={ValueError: "log needs x > 0: add a small epsilon or clamp the input"}),
    Rule(name="tanh", symbol="tanh", operands=("x",), form="function",
         apply=_tanh, apply_array=_tanh_array,
         expression="tanh(x)", latex=r"\tanh x",
         derivatives=("1 - tanh(x)^2",), derivatives_latex=(r"1 - \tanh^{2} x",),
         domain=(Domain(-4.0, 4.0),)),
    Rule(name="sigmoid", symbol="sigmoid", operands=("x",), form="function",
         apply=_sigmoid, apply_array=_sigmoid_array,
         expression="sigmoid(x)", latex=r"\sigma(x)",
         derivatives=("sigmoid(x) * (1 - sigmoid(x))",),
         derivatives_latex=(r"\sigma(x) \, (1 - \sigma(x))",),
         domain=(Domain(-8.0, 8.0, edges=(0.0, -745.0, 745.0)),)),
    Rule(name="relu", symbol="relu", operands=("x",), form="function",
         apply=_relu, apply_array=_relu_array,
         expression="relu(x)", latex=r"\operatorname{relu}(x)",
         derivatives=("1 if x > 0 else 0",), derivatives_latex=(r"[x > 0]",),
         domain=(Domain(-5.0, 5.0, away_from=(0.0,), edges=(0.0, -0.0)),)),
    Rule(name="sin", symbol="sin", operands=("x",), form="function",
         apply=_sin, apply_array=_sin_array,
         expression="sin(x)", latex=r"\sin x",
         derivatives=("cos(x)",), derivatives_latex=(r"\cos x",),
         domain=(Domain(-6.0, 6.0),)),
    Rule(name="cos", symbol="cos", operands=("x",), form="function",
         apply=_cos, apply_array=_cos_array,
         expression="cos(x)", latex=r"\cos x",
         derivatives=("-sin(x)",), derivatives_latex=(r"-\sin x",),
         domain=(Domain(-6.0, 6.0),)),
    Rule(name="sqrt", symbol="sqrt", operands=("x",), form="function",
         apply=_sqrt, apply_array=_sqrt_array,
         expression="sqrt(x)", latex=r"\sqrt{x}",
         derivatives=("1 / (2 * sqrt(x))",), derivatives_latex=(r"\frac{1}{2 \sqrt{x}}",),
         domain=(Domain(0.05, 20.0, edges=(0.0,)),),
         hints={ValueError: "sqrt needs x >= 0: take abs() or clamp the input first"}),
    Rule(name="abs", symbol="abs", operands=("x",), form="function",
         apply=_abs, apply_array=_abs_array,
         expression="abs(x)", latex=r"\lvert x \rvert",
         derivatives=("sign(x)",), derivatives_latex=(r"\operatorname{sign} x",),
         domain=(Domain(-5.0, 5.0, away_from=(0.0,), edges=(0.0,)),)),
)}


def rule(op: str) -> Rule:
    """The rule for ``op`` (a node's ``op`` string), with a clear error if unknown."""
    try:
        return RULES[op]
    except KeyError:
        known = ", ".join(sorted(RULES))
        raise KeyError(f"no rule for op {op!r}; known ops: {known}") from None


# --- students' own ops: define_op ---------------------------------------------------------
#
# ``define_op`` writes one more ``Rule`` into the table from a student's two functions
# (the forward pass and its derivative, on floats), so everything that reads the table
# (backward, the drawer, explain, formula, the tape) treats the op as a built-in. The
# ops it made are remembered here: only they may be redefined (re-running a notebook
# cell) or removed; the built-ins may not.

#: The ops of the table when the engine was loaded: define_op never replaces them.
BUILTINS: frozenset[str] = frozenset(RULES)

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = frozenset({"x", "a", "b", "c", "if", "else", "and", "or", "not", "sign"})
_DEFAULT_DOMAIN = Domain(-5.0, 5.0, edges=(0.0,))

_defined: dict[str, Op] = {}  # name -> the Op that define_op made, for user ops only

DomainLike = Domain | tuple[float, float]


class Op:
    """A student's op, made by ``define_op``: call it on Values (or numbers) to build nodes.

    ``op(x)`` (or ``op(a, b)``) returns a Value whose ``op`` is ``op.name``, with the
    derivative stored as its local gradient, like ``x.tanh()``. Attributes: ``name``,
    ``arity``, ``forward``, ``derivative`` (one function, or a tuple of two), and
    ``rule`` (its entry in ``RULES``).
    """

    def __init__(self, name: str, forward: Callable[..., float],
                 derivative: Callable[..., float] | tuple[Callable[..., float], ...],
                 arity: int) -> None:
        self.name = name
        self.__name__ = name
        self.forward = forward
        self.derivative = derivative
        self.arity = arity
        self.__doc__ = f"{name}: a user op made by engine.define_op"

    @property
    def rule(self) -> Rule:
        """This op's entry in the rule table."""
        if _defined.get(self.name) is not self:
            raise ValueError(
                f"op {self.name!r} was removed from the rule table or defined again; "
                f"use the function the latest define_op({self.name!r}, ...) returned"
            )
        return RULES[self.name]

    def __call__(self, *inputs: Any) -> Any:
        from .value import Value  # value.py imports this file: import at call time

        rule = self.rule
        if len(inputs) != self.arity:
            raise TypeError(
                f"{rule.expression} takes {self.arity} input(s), got {len(inputs)}: "
                f"call {self.name}({', '.join(rule.operands)})"
            )
        nodes = []
        for name, x in zip(rule.operands, inputs):
            if isinstance(x, Value):
                nodes.append(x)
            elif isinstance(x, Real) and not isinstance(x, bool):
                nodes.append(Value(float(x)))  # a number mixed in: a constant leaf
            else:
                raise TypeError(
                    f"{rule.expression}: {name} must be a Value or a number, got "
                    f"{type(x).__name__} {x!r}"
                )
        return nodes[0].apply(self.name, *nodes[1:])

    def __repr__(self) -> str:
        rule = RULES.get(self.name)
        if rule is None or _defined.get(self.name) is not self:
            return f"<op {self.name} (removed or redefined)>"
        parts = "; ".join(f"d/d{o} = {f}" for o, f in zip(rule.operands, rule.derivatives))
        return f"<op {self.name}: out = {rule.expression}; {parts}>"


def _positional(function: Callable[..., Any]) -> int | None:
    """How many positional arguments ``function`` needs (None if it takes any number)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have none: do not guess
        return None
    needed = 0
    for p in signature.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            needed += 1
    return needed


def _describe(x: Any) -> str:
    return f"{type(x).__name__} {x!r}"


def _real(name: str, what: str, result: Any, inputs: tuple[float, ...],
          operands: tuple[str, ...]) -> float:
    """``result`` (the value ``what`` returned at ``inputs``) as a float, or a clear error.

    A bool, a complex number or anything not a real number is a TypeError; nan
    from finite inputs is a ValueError (the op is undefined there), an infinity
    from finite inputs an OverflowError, as for the built-in ops. ``what`` is
    ``"forward"`` or ``"derivative"``; an infinite derivative (sqrt's at 0) is allowed.
    """
    at = ", ".join(f"{o} = {v!r}" for o, v in zip(operands, inputs))
    if isinstance(result, bool) or getattr(getattr(result, "dtype", None), "kind", "") == "b":
        raise TypeError(
            f"{name}: its {what} returned a bool ({result!r}) at {at}; return a number, "
            "e.g. 1.0 if ... else 0.0"
        )
    dtype_kind = getattr(getattr(result, "dtype", None), "kind", "f")
    if not (isinstance(result, Real) or (getattr(result, "ndim", None) == 0
                                         and dtype_kind in "fiu")):
        hint = ("a complex number: the op must be real; keep the input where it is "
                "defined (math, not cmath)") if isinstance(result, complex) else \
            "return one float, computed from the float(s) it gets"
        raise TypeError(f"{name}: its {what} returned {_describe(result)} at {at}; {hint}")
    value = float(result)
    finite = all(math.isfinite(v) for v in inputs)
    if finite and value != value:
        raise ValueError(
            f"its {what} returned nan at {at}, where every input is finite; the op is "
            f"undefined there"
        )
    if finite and what == "forward" and math.isinf(value):
        raise OverflowError(f"its forward returned {value!r} at {at}, where every input is finite")
    return value


def _as_domain(name: str, given: Any, arity: int) -> tuple[Domain, ...]:
    """One ``Domain`` per operand from ``domain=`` (None, a Domain, a (low, high) pair,
    or one of those per operand)."""
    if given is None:
        return (_DEFAULT_DOMAIN,) * arity

    def one(d: Any) -> Domain:
        if isinstance(d, Domain):
            out = d
        elif (isinstance(d, (tuple, list)) and len(d) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d)):
            low, high = float(d[0]), float(d[1])
            edges = (0.0,) if low < 0.0 < high else ()
            out = Domain(low, high, edges=edges)
        else:
            raise TypeError(
                f"define_op({name!r}): domain must be a Domain or a (low, high) pair of "
                f"numbers{' per operand' if arity == 2 else ''}, got {_describe(d)}"
            )
        if not (math.isfinite(out.low) and math.isfinite(out.high) and out.low < out.high):
            raise ValueError(
                f"define_op({name!r}): a domain needs finite low < high, got "
                f"[{out.low}, {out.high}]"
            )
        return out

    if arity == 2 and isinstance(given, (tuple, list)) and len(given) == 2 and all(
            isinstance(d, (Domain, tuple, list)) for d in given):
        return (one(given[0]), one(given[1]))
    return (one(given),) * arity


def _latex_name(name: str) -> str:
    return r"\operatorname{" + name.replace("_", r"\_") + "}"


def _sample(domain: Domain) -> float:
    """One point inside ``domain``, away from its special points, to try the functions at."""
    for t in (0.618, 0.382, 0.809, 0.191):
        x = domain.low + t * (domain.high - domain.low)
        if all(abs(x - p) >= domain.margin for p in domain.away_from):
            return x
    return domain.low + 0.5 * (domain.high - domain.low)


def define_op(
    name: str,
    forward: Callable[..., float],
    derivative: Callable[..., float] | tuple[Callable[..., float], Callable[..., float]],
    *,
    formula: str | tuple[str, str] | None = None,
    latex: str | tuple[str, str] | None = None,
    symbol: str | None = None,
    array: bool | tuple[Callable[..., Any], Any] | None = None,
    domain: Any = None,
) -> Op:
    """Add an op of your own to the rule table; returns the function that builds its nodes.

    Args:
        name: the op's name, an identifier (``"softsign"``); nodes carry it as ``op``.
        forward: the op on plain floats: ``forward(x)``, or ``forward(a, b)``.
        derivative: its derivative on floats: one function of ``x``, or for a
            two-input op a tuple ``(d/da, d/db)`` of functions of ``a, b``.
        formula: the derivative as text in the operand names ``x`` (or ``a``, ``b``:
            a tuple of two), in the table's notation (``"1 / (1 + abs(x))^2"``; a name
            other than the operands, a function call or ``name'`` is refused);
            default ``"softsign'(x)"`` (``"d_1 f(a, b)"``, ``"d_2 f(a, b)"``).
        latex: the same in LaTeX; default ``\\operatorname{softsign}'(x)``. Where the
            teaching tools can read ``formula``, they write its LaTeX from it.
        symbol: how the drawer labels the op's node; default the name.
        array: the op on NumPy arrays, for the compiled tape (``engine.tape``):
            ``True`` if ``forward`` and ``derivative`` already work on arrays as
            written, or a pair ``(forward_array, derivative_array)`` (the second a
            tuple for two inputs). Default: the tape calls the float functions once
            per sample (the same numbers, slower).
        domain: where the op's inputs may be sampled (``check_op`` reads it): a
            ``Domain``, a ``(low, high)`` pair, or one per operand; default ``(-5, 5)``
            with an edge point at 0.

    The functions get and return plain floats. A bool, a complex number or any
    other non-real result is a TypeError; nan from finite inputs a ValueError (the
    op is undefined there: raise ValueError yourself for inputs it does not take);
    an infinite value from finite inputs an OverflowError, as for ``exp``.
    ``define_op`` tries both functions once inside the domain, so such mistakes
    show at once. Defining the same name again replaces your op (re-running a
    notebook cell); a built-in op's name is refused. ``remove_op(name)`` removes it.

    >>> softsign = define_op("softsign", lambda x: x / (1 + abs(x)),
    ...                      lambda x: 1 / (1 + abs(x)) ** 2, formula="1 / (1 + abs(x))^2")
    >>> from engine import Value
    >>> x = Value(1.0, label="x")
    >>> y = softsign(x)
    >>> y.backward()
    >>> y.data, x.grad
    (0.5, 0.25)
    >>> remove_op("softsign")
    """
    where = f"define_op({name!r})"
    if not isinstance(name, str) or not _NAME.match(name):
        raise (TypeError if not isinstance(name, str) else ValueError)(
            f"define_op: the name must be an identifier of letters, digits and _ starting "
            f"with a letter (e.g. 'softsign'), got {_describe(name)}"
        )
    if name in BUILTINS or (name in RULES and name not in _defined):
        raise ValueError(
            f"{where}: {name!r} is a built-in op of the rule table "
            f"({RULES[name].expression}); pick another name, e.g. 'my_{name}'"
        )
    if name in _RESERVED:
        raise ValueError(
            f"{where}: {name!r} is an operand name or a word of the formulas' notation; "
            f"pick another name, e.g. 'my_{name}'"
        )
    if not callable(forward):
        raise TypeError(
            f"{where}: forward must be a function of the input(s) returning a float "
            f"(e.g. lambda x: x / (1 + abs(x))), got {_describe(forward)}"
        )
    arity = _positional(forward)
    if isinstance(derivative, (tuple, list)):
        derivatives = tuple(derivative)
    elif callable(derivative):
        derivatives = (derivative,)
    else:
        raise TypeError(
            f"{where}: derivative must be a function (one input) or a tuple of two "
            f"functions (d/da, d/db) for two inputs, got {_describe(derivative)}"
        )
    for k, d in enumerate(derivatives):
        if not callable(d):
            raise TypeError(f"{where}: derivative {k + 1} must be a function, got {_describe(d)}")
    if arity is None:
        arity = len(derivatives)
    if arity not in (1, 2):
        raise ValueError(
            f"{where}: forward takes {arity} inputs; an op takes one (x) or two (a, b): "
            "build bigger ones from these"
        )
    if len(derivatives) != arity:
        wanted = ("one function of x" if arity == 1
                  else "a tuple of two functions of a, b: (d/da, d/db)")
        raise TypeError(
            f"{where}: forward takes {arity} input(s), so derivative must be {wanted}; "
            f"got {len(derivatives)} function(s)"
        )
    for k, d in enumerate(derivatives):
        takes = _positional(d)
        if takes is not None and takes != arity:
            raise TypeError(
                f"{where}: derivative {k + 1} takes {takes} input(s), forward {arity}; "
                f"each derivative is a function of the same input(s) as forward"
            )
    operands = ("x",) if arity == 1 else ("a", "b")
    args = ", ".join(operands)
    texts = _formulas(where, "formula", formula, arity,
                      (f"{name}'(x)",) if arity == 1
                      else (f"d_1 {name}(a, b)", f"d_2 {name}(a, b)"))
    latexes = _formulas(where, "latex", latex, arity,
                        (f"{_latex_name(name)}'(x)",) if arity == 1
                        else (rf"\partial_{{1}} {_latex_name(name)}(a, b)",
                              rf"\partial_{{2}} {_latex_name(name)}(a, b)"))
    if symbol is None:
        symbol = name
    if not isinstance(symbol, str) or not symbol.strip():
        raise TypeError(f"{where}: symbol must be a non-empty str (how the drawer labels "
                        f"the node), got {_describe(symbol)}")
    domains = _as_domain(name, domain, arity)

    def apply(*xs: float) -> tuple[float, ...]:
        out = _real(name, "forward", forward(*xs), xs, operands)
        return (out, *(_real(name, "derivative", d(*xs), xs, operands) for d in derivatives))

    rule = Rule(
        name=name, symbol=symbol, operands=operands, form="function",
        apply=apply, apply_array=_array_form(where, name, apply, forward, derivatives, array),
        expression=f"{name}({args})", latex=rf"{_latex_name(name)}\left({args}\right)",
        derivatives=texts, derivatives_latex=latexes, domain=domains,
        hints={ValueError: f"keep {name}'s input(s) where it is defined (its domain)",
               ZeroDivisionError: f"keep {name}'s input(s) away from where it divides by 0",
               OverflowError: f"scale {name}'s input(s) down"},
    )
    _try(where, rule, forward, derivatives)
    op = Op(name, forward, derivative if arity == 2 else derivatives[0], arity)
    RULES[name] = rule
    _defined[name] = op
    return op


_TOKEN = re.compile(r"\s+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|.", re.S)
_WORDS = frozenset({"if", "else", "and", "or", "not"})


def _formulas(where: str, what: str, given: Any, arity: int,
              default: tuple[str, ...]) -> tuple[str, ...]:
    if given is None:
        return default
    texts = (given,) if isinstance(given, str) else given
    if (not isinstance(texts, (tuple, list)) or len(texts) != arity
            or not all(isinstance(t, str) and t.strip() for t in texts)):
        wanted = "a str" if arity == 1 else "a tuple of two str (d/da, d/db)"
        raise TypeError(f"{where}: {what} must be {wanted}, one per input, got {_describe(given)}")
    if what == "formula":  # a name that is no operand would be shown as it is: refuse it
        operands = ("x",) if arity == 1 else ("a", "b")
        for text in texts:
            tokens = [t for t in _TOKEN.findall(text) if not t.isspace()]
            for k, t in enumerate(tokens):
                after = tokens[k + 1] if k + 1 < len(tokens) else ""
                if (t[0].isalpha() or t[0] == "_") and after not in ("(", "'") \
                        and t not in operands and t not in _WORDS:
                    raise ValueError(
                        f"{where}: the formula {text!r} uses {t!r}, which is not an operand; "
                        f"write the derivative in {' and '.join(operands)} (functions as "
                        f"tanh(x))"
                    )
    return tuple(t.strip() for t in texts)


def _try(where: str, rule: Rule, forward: Callable[..., Any],
         derivatives: tuple[Callable[..., Any], ...]) -> None:
    """Call the op once inside its domain, so a mistake shows where the op is defined."""
    xs = tuple(_sample(d) for d in rule.domain)
    at = ", ".join(f"{o} = {x:.4g}" for o, x in zip(rule.operands, xs))
    try:
        rule.apply(*xs)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
        if isinstance(error, TypeError) and str(error).startswith(rule.name + ":"):
            raise TypeError(f"{where}: {str(error)[len(rule.name) + 2:]}") from None
        fix = ("" if isinstance(error, TypeError) else
               "; if the op is not defined there, pass domain=(low, high) with inputs it takes")
        raise type(error)(
            f"{where}: trying it at {at} (a point of its domain) raised "
            f"{type(error).__name__}: {error}{fix}"
        ) from error
    except Exception as error:  # the student's code failed: say where, keep the cause
        raise TypeError(
            f"{where}: trying it at {at} raised {type(error).__name__}: {error}; forward "
            "and derivative get plain floats (not Values) and return a float"
        ) from error


def _array_form(where: str, name: str, apply: Callable[..., tuple[float, ...]],
                forward: Callable[..., Any], derivatives: tuple[Callable[..., Any], ...],
                array: Any) -> Callable[..., tuple[Any, ...]]:
    """The op on NumPy arrays for the tape: the given array functions, checked as the
    float ones are, or else the float form called once per sample."""
    if array is None or array is False:
        def per_sample(*xs: Any) -> tuple[Any, ...]:
            # No array form given: the float functions, once per sample (the same numbers).
            arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in xs))
            results = [apply(*map(float, point)) for point in zip(*(a.ravel() for a in arrays))]
            columns = np.array(results, dtype=np.float64).reshape(-1, 1 + len(xs))
            return tuple(columns[:, k].reshape(arrays[0].shape) for k in range(1 + len(xs)))
        return per_sample
    if array is True:
        array_forward, array_derivatives = forward, derivatives
    elif isinstance(array, (tuple, list)) and len(array) == 2 and callable(array[0]):
        array_forward = array[0]
        ds = array[1]
        array_derivatives = tuple(ds) if isinstance(ds, (tuple, list)) else (ds,)
        if len(array_derivatives) != len(derivatives) or not all(map(callable, array_derivatives)):
            raise TypeError(
                f"{where}: array=(forward_array, derivative_array) needs "
                f"{'one derivative function' if len(derivatives) == 1 else 'a tuple of two'}"
                f" for the derivative, like derivative=, got {_describe(ds)}")
    else:
        raise TypeError(
            f"{where}: array must be True (forward and derivative work on NumPy arrays as "
            f"written) or a pair (forward_array, derivative_array), got {_describe(array)}")

    def vectorised(*xs: Any) -> tuple[Any, ...]:
        out = _real_array(name, "forward", array_forward(*xs), xs)
        return (out, *(_real_array(name, "derivative", d(*xs), xs) for d in array_derivatives))
    return vectorised


def _real_array(name: str, what: str, result: Any, inputs: tuple[Any, ...]) -> Any:
    """``_real`` for the array form: real floats, nan and inf checked per sample."""
    values = np.asarray(result)
    if values.dtype.kind not in "fiu":
        raise TypeError(
            f"{name}: its array {what} returned an array of {values.dtype} "
            f"(dtype kind {values.dtype.kind!r}); return real floats")
    values = values.astype(np.float64)
    finite = np.ones(np.broadcast(*inputs).shape, dtype=bool)
    for x in inputs:
        finite = finite & np.isfinite(x)
    if np.any(np.isnan(values) & finite):
        raise ValueError(f"its array {what} returned nan where every input is finite; the op "
                         "is undefined there")
    if what == "forward" and np.any(np.isinf(values) & finite):
        raise OverflowError("its array forward returned an infinity where every input is "
                            "finite")
    return float(values) if values.ndim == 0 else values  # a constant: one float, as the rules


def remove_op(name: str) -> None:
    """Remove an op that ``define_op`` added (a built-in op cannot be removed)."""
    if name not in _defined:
        what = "a built-in op" if name in RULES else "not an op of the table"
        raise ValueError(f"remove_op({name!r}): {name!r} is {what}; only ops made by "
                         "define_op can be removed")
    del _defined[name]
    del RULES[name]


def user_ops() -> dict[str, Op]:
    """The ops ``define_op`` has added, by name (a copy)."""
    return dict(_defined)

"""``Value``: a scalar that remembers how it was computed.

Every arithmetic operation on Values creates a new node that records its
``op`` (a key of the rule table in ``engine/ops.py``), its ``inputs`` (an ordered
tuple: ``a * a`` lists ``a`` twice) and the local derivative of its output with
respect to each input, evaluated at the forward values. ``backward()`` (in
``engine/backward.py``) then only has to multiply and add.

The node interface that the graph drawer, the explainer and any extension may
rely on is small and public: ``data``, ``grad``, ``label``, ``op``, ``inputs``,
``local_grads``, ``rule``, ``arg`` (the constant of ``x ** c``, else None) and
``scope`` (the nn modules that made the node, outermost first).

Design notes (why it looks like this):

* ``__slots__`` and inputs held in two fields rather than a tuple: a node is one
  small object, the only one the garbage collector tracks per node.
* A node holds references to its inputs, never to itself or its outputs, so
  there are no reference cycles: dropping the root frees the graph at once.
* Numbers mixed with Values become constant leaf nodes, so ``x * 2`` is drawn
  as a product of two nodes, like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real
from typing import Any

from .backward import backward as _backward
from .backward import backward_order
from .ops import RULES, Rule

__all__ = ["Value", "no_grad", "is_grad_enabled"]

Number = int | float

# Module state: is a graph being recorded, and inside which objects (nn modules,
# outermost first) new nodes are being made. Both are switched by the context
# managers below; nodes read them once, when they are made, and share the tuple.
_grad_enabled = True
_scope: tuple = ()

_RULES = RULES  # ops look their rule up here on every call, so a rule swapped
# into the table (a test, an extension) takes effect at once


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block."""
    return _grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Build no graph inside this block: results are plain leaves.

    Use it for evaluation (accuracy, decision-boundary grids): it is faster and
    keeps no memory alive. Like ``torch.no_grad()``, it nests and restores the
    previous state on exit, even after an exception.
    """
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextmanager
def scope(owner: Any) -> Iterator[None]:
    """Extension API: nodes made inside this block remember ``owner``.

    Blocks nest: a node made by a neuron inside a layer inside an MLP has
    ``node.scope == (mlp, layer, neuron)``, outermost first. ``nn`` modules wrap
    their forward computation in it, so the drawer can group a network's nodes
    by neuron or layer. Costs one small tuple per block, nothing per node.

    The scope protocol: the teaching tools (``engine/teach/``) know an owner
    only through these attributes, each optional, and never import ``nn``:

    * ``kind`` (str): what it is; ``"neuron"`` and ``"layer"`` are the kinds
      ``draw_graph(group=..., collapse=True)`` clusters or merges;
    * ``name`` (str): how drawings and explanations name it, e.g. ``"neuron 1.2"``
      (default: the class name);
    * ``parameters()``: the leaf Values it owns (weights, biases), drawn as
      parameters and placed inside its cluster;
    * ``formula`` (str): what a collapsed node shows, e.g. ``"tanh(w.x + b)"``.

    Any object offering them can be a scope owner: a student's own module
    class, a plain object, even a string (then only its class name is used).
    """
    global _scope
    previous = _scope
    _scope = previous + (owner,)
    try:
        yield
    finally:
        _scope = previous


def _as_float(data: Any, what: str) -> float:
    """Convert a real number to float, or raise a TypeError that names it."""
    if type(data) is float:
        return data
    # float subclasses too (numpy.float64 is one): .data is always a plain float,
    # so every node computes with Python floats, whatever number started it.
    if isinstance(data, Real) or _is_zero_dim_array(data):
        try:
            return float(data)
        except OverflowError:  # an int beyond the float range (10 ** 400)
            raise OverflowError(
                f"{what} got an integer too large for a float ({len(str(abs(int(data))))} "
                f"digits); scale it down or pass a float"
            ) from None
    if isinstance(data, Value):
        raise TypeError(
            f"{what} got a Value ({data!r}); pass its number (.data) or use the Value itself"
        )
    raise TypeError(
        f"{what} needs a real number (int or float), got {type(data).__name__} {data!r}"
    )


def _is_zero_dim_array(data: Any) -> bool:
    # A 0-d numpy array (or torch tensor) of real numbers: what x.sum() returns.
    # Python and numpy scalars (int, float, bool, numpy.float32...) are numbers.Real.
    dtype = getattr(data, "dtype", None)
    return getattr(data, "ndim", None) == 0 and getattr(dtype, "kind", "f") in "fiub"


class Value:
    """A scalar node in a computation graph.

    >>> a = Value(2.0, label="a")
    >>> b = a * a + 1          # a is used twice: two edges into the product
    >>> b.backward()
    >>> a.grad                 # d(a*a + 1)/da = 2a
    4.0

    Attributes:
        data: the number (a float).
        grad: d(root)/d(self) after ``root.backward()``; leaves accumulate it
            across calls until ``zero_grad``, interior nodes are reset each call.
        label: a name for display ("" if none).
        op: the rule-table key of the op that made this node ("" for a leaf).
        inputs: ordered tuple of the Values it was computed from.
        local_grads: d(self)/d(input) for each input, evaluated at the forward values.
    """

    __slots__ = ("data", "grad", "label", "op", "_a", "_b", "_da", "_db", "_arg", "_scope")

    data: float
    grad: float
    _a: Value | None
    _b: Value | None
    # the local derivatives: floats on an op's node, None where there is no input;
    # Any, because the hot loops of backward.py read them without a None check
    _da: Any
    _db: Any
    _arg: float | None
    label: str
    op: str

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._a = self._b = self._da = self._db = self._arg = None
        self._scope = _scope

    # --- the node interface ------------------------------------------------

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The Values this node was computed from, in operand order."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(inputs[i]) for each input, as stored by the forward pass."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._da,)
        return (self._da, self._db)

    @property
    def rule(self) -> Rule | None:
        """The rule-table entry of this node's op (None for a leaf)."""
        return _RULES[self.op] if self.op else None

    @property
    def arg(self) -> float | None:
        """The constant argument of the op (the ``c`` of ``x ** c``), else None."""
        return self._arg

    @property
    def scope(self) -> tuple:
        """The objects (e.g. nn modules) in whose ``scope()`` blocks this node was made,
        outermost first; ``()`` outside any."""
        return self._scope

    def is_leaf(self) -> bool:
        """True for nodes made by the user (or under ``no_grad``), not by an op."""
        return self._a is None

    # --- recording an op ---------------------------------------------------

    def _describe(self) -> str:
        name = f"{self.label!r} " if self.label else ""
        return f"node {name}with value {self.data!r}"

    def _unary(self, op: str, arg: float | None = None) -> Value:
        rule = _RULES[op]
        try:
            if arg is None:
                data, da = rule.apply(self.data)
            else:
                data, da = rule.apply(self.data, arg)
        except (ValueError, ZeroDivisionError, OverflowError) as error:
            raise _with_context(error, rule, (self,)) from None
        out = _new(Value)
        out.data = data
        out.grad = 0.0
        out.label = ""
        out._b = out._db = None
        out._scope = _scope
        if _grad_enabled:
            out.op = op
            out._a = self
            out._da = da
            out._arg = arg
        else:
            out.op = ""
            out._a = out._da = out._arg = None
        return out

    def _binary(self, op: str, other: Value) -> Value:
        rule = _RULES[op]
        try:
            data, da, db = rule.apply(self.data, other.data)
        except (ValueError, ZeroDivisionError, OverflowError) as error:
            raise _with_context(error, rule, (self, other)) from None
        out = _new(Value)
        out.data = data
        out.grad = 0.0
        out.label = ""
        out._arg = None
        out._scope = _scope
        if _grad_enabled:
            out.op = op
            out._a = self
            out._b = other
            out._da = da
            out._db = db
        else:
            out.op = ""
            out._a = out._b = out._da = out._db = None
        return out

    # --- arithmetic ----------------------------------------------------------

    def __add__(self, other: Value | Number) -> Value:
        """a + b"""
        return self._binary("add", other if type(other) is Value else _const(other, "+"))

    def __radd__(self, other: Number) -> Value:
        """b + a with b a number"""
        return _const(other, "+")._binary("add", self)

    def __sub__(self, other: Value | Number) -> Value:
        """a - b"""
        return self._binary("sub", other if type(other) is Value else _const(other, "-"))

    def __rsub__(self, other: Number) -> Value:
        """b - a with b a number"""
        return _const(other, "-")._binary("sub", self)

    def __mul__(self, other: Value | Number) -> Value:
        """a * b"""
        return self._binary("mul", other if type(other) is Value else _const(other, "*"))

    def __rmul__(self, other: Number) -> Value:
        """b * a with b a number"""
        return _const(other, "*")._binary("mul", self)

    def __truediv__(self, other: Value | Number) -> Value:
        """a / b"""
        return self._binary("div", other if type(other) is Value else _const(other, "/"))

    def __rtruediv__(self, other: Number) -> Value:
        """b / a with b a number"""
        return _const(other, "/")._binary("div", self)

    def __neg__(self) -> Value:
        """-x"""
        return self._unary("neg")

    def __pos__(self) -> Value:
        return self

    def __pow__(self, other: Value | Number) -> Value:
        """x ** c (c a number: one input) or a ** b (b a Value: two inputs)"""
        if isinstance(other, Value):
            return self._binary("pow", other)
        return self._unary("pow_const", _as_float(other, "Value ** exponent"))

    def __rpow__(self, other: Number) -> Value:
        """c ** x with c a number: the base becomes a constant node"""
        return _const(other, "**")._binary("pow", self)

    # --- functions -----------------------------------------------------------

    def exp(self) -> Value:
        """e^x"""
        return self._unary("exp")

    def log(self) -> Value:
        """natural log, ln x (x > 0)"""
        return self._unary("log")

    def tanh(self) -> Value:
        """tanh x"""
        return self._unary("tanh")

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x)"""
        return self._unary("sigmoid")

    def relu(self) -> Value:
        """max(x, 0), with derivative 0 at 0"""
        return self._unary("relu")

    def sin(self) -> Value:
        """sin x"""
        return self._unary("sin")

    def cos(self) -> Value:
        """cos x"""
        return self._unary("cos")

    def sqrt(self) -> Value:
        """square root (x >= 0)"""
        return self._unary("sqrt")

    def abs(self) -> Value:
        """|x|, with derivative 0 at 0"""
        return self._unary("abs")

    __abs__ = abs

    # --- backward --------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``grad`` of every node this one depends on with d(self)/d(node).

        Gradient semantics are PyTorch's: the root is seeded with 1; **leaf**
        gradients accumulate over calls (call ``zero_grad`` between steps);
        every **interior** node's grad is reset first, so it shows the
        derivative of this latest call. See ``engine.backward.backward``.
        """
        _backward(self)

    def zero_grad(self) -> None:
        """Set the grad of this node and of every node it depends on to 0."""
        for node in backward_order(self):
            node.grad = 0.0

    # --- conversions and display -------------------------------------------

    def __float__(self) -> float:
        return self.data

    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data(other)

    # == stays identity (Values are graph nodes and dict keys); compare .data.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        parts = [f"data={self.data:.6g}", f"grad={self.grad:.6g}"]
        if self.label:
            parts.insert(0, f"label={self.label!r}")
        if self.op:
            parts.append(f"op={self.op!r}")
        return f"Value({', '.join(parts)})"


# Ops make their result with ``object.__new__`` and set every slot themselves,
# skipping ``__init__``'s checks: their data is already a float they computed.
_new = object.__new__


_MAX_EXACT = 2**53  # ints up to this convert to float without overflow (and exactly)


def _const(number: Any, symbol: str) -> Value:
    """A number mixed with Values becomes a constant leaf node."""
    kind = type(number)
    # The common case (x * 2, 1 - y), without the checks; ints too large for a
    # float take the checked path below, which says so.
    if kind is float or (kind is int and -_MAX_EXACT <= number <= _MAX_EXACT):
        out = _new(Value)
        out.data = float(number)
        out.grad = 0.0
        out.label = out.op = ""
        out._a = out._b = out._da = out._db = out._arg = None
        out._scope = _scope
        return out
    if isinstance(number, Value):  # a Value subclass on the right
        return number
    try:
        data = _as_float(number, f"Value {symbol} operand")
    except TypeError:
        raise TypeError(
            f"unsupported operand for {symbol!r} with a Value: {type(number).__name__} "
            f"{number!r}; use an int, a float or a Value"
        ) from None
    return Value(data)


def _data(other: Value | Number) -> float:
    return other.data if isinstance(other, Value) else _as_float(other, "comparison")


def _with_context(error: Exception, rule: Rule, inputs: tuple[Value, ...]) -> Exception:
    """The same exception type, its message naming the op, the node and a fix."""
    described = ", ".join(
        f"{name} = {node._describe()}" for name, node in zip(rule.operands, inputs)
    )
    fix = rule.hint(error)
    message = f"{rule.name} ({rule.expression}) with {described}: {error}. Fix: {fix}."
    return type(error)(message)

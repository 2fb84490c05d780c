"""``Value``: a scalar that remembers how it was computed.

Every arithmetic operation on Values creates a new node that records its
``op`` (a key of the rule table in ``engine/ops.py``), its ``inputs`` (an ordered
tuple: ``a * a`` lists ``a`` twice) and the local derivative of its output with
respect to each input, evaluated at the forward values. ``backward()`` (in
``engine/backward.py``) then only has to multiply and add.

The node interface that the graph drawer, the explainer and any extension may
rely on is small and public: ``data``, ``grad``, ``label``, ``op``, ``inputs``,
``local_grads``, ``rule``, ``arg`` (the constant of ``x ** c``, else None) and
``scope`` (the nn modules that made the node, outermost first). An extension builds
a node of any rule of the table with ``Value.apply(op, *others)`` (what the function
``engine.define_op`` returns does).

Design notes (why it looks like this):

* ``__slots__`` and inputs held in two fields rather than a tuple: a node is one
  small object, the only one the garbage collector tracks per node.
* A node holds references to its inputs, never to itself or its outputs, so
  there are no reference cycles: dropping the root frees the graph at once.
* Numbers mixed with Values become constant leaf nodes, so ``x * 2`` is drawn
  as a product of two nodes, like any other.
* Grad mode and scope are per thread and per asyncio task (one context
  variable, read once per op), as PyTorch's grad mode is per thread: see
  ``no_grad`` and the note above ``_state``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from numbers import Real
from typing import Any, TypeVar, cast

from .backward import backward as _backward
from .backward import backward_order
from .ops import RULES, Rule
from .ops import rule as _rule

__all__ = ["Value", "no_grad", "is_grad_enabled", "scope", "gc_paused"]

Number = int | float
F = TypeVar("F", bound=Callable[..., Any])

# The recording state, per thread and per asyncio task: ``(recording, scope)``, is a
# graph being recorded, and inside which objects (nn modules, outermost first) new
# nodes are being made. ``no_grad`` and ``scope`` below switch it; an op reads it
# once, when it makes its node (nodes share the scope tuple).
#
# Why a context variable, and why one: PyTorch's grad mode is per thread, and a
# process-wide flag let one thread evaluating under no_grad() switch off another
# thread's training. A ContextVar is per thread (a new thread starts with the
# default) and per asyncio task (a task starts with a copy of its creator's), and
# reading it is one C call that hits a per-variable cache: about twice a module
# global's cost, once per op, so both values live in one tuple, read with one call.
_state: ContextVar[tuple[bool, tuple]] = ContextVar("chainrule_state", default=(True, ()))
_current = _state.get

_RULES = RULES  # ops look their rule up here on every call, so a rule swapped
# into the table (a test, an extension) takes effect at once


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block (of this thread or asyncio task)."""
    return _current()[0]


class _Switch:
    """A block that changes the recording state and restores it on exit, even after an
    exception; usable as a decorator too. A class rather than a generator function:
    ``nn`` enters a ``scope`` for every neuron of every sample, and this is cheaper."""

    def __init__(self) -> None:
        self._tokens: list[Token] = []  # a stack: one instance may be entered twice

    def _entered(self, recording: bool, owners: tuple) -> tuple[bool, tuple]:
        raise NotImplementedError

    def _fresh(self) -> _Switch:
        raise NotImplementedError

    def __enter__(self) -> None:
        self._tokens.append(_state.set(self._entered(*_current())))

    def __exit__(self, *exc: object) -> None:
        _state.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
        """As a decorator: each call of ``function`` runs inside a fresh block."""

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return function(*args, **kwargs)

        return cast(F, run)


class no_grad(_Switch):  # lower case, like torch.no_grad: used as a function
    """Build no graph inside this block: results are plain leaves.

    Use it for evaluation (accuracy, decision-boundary grids): it is faster and
    keeps no memory alive. Like ``torch.no_grad()``, it nests and restores the
    previous state on exit, even after an exception, and works as a decorator.

    The mode belongs to the thread (and the asyncio task) that enters the block:
    another thread keeps recording meanwhile, and a new thread starts with
    recording on, whatever the thread that started it is doing (as in PyTorch).
    An asyncio task starts with the mode of the code that created it (a copy:
    its own ``no_grad()`` blocks change nothing outside it). The cost: every op
    reads the mode with one context-variable call instead of a module global
    (see the note above ``_state``; bench/NOTES.md has the measurements).
    """

    def _entered(self, recording: bool, owners: tuple) -> tuple[bool, tuple]:
        return False, owners

    def _fresh(self) -> no_grad:
        return no_grad()

    def __repr__(self) -> str:
        return "no_grad()"


class scope(_Switch):
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

    Like ``no_grad()``, the scope belongs to the thread (and asyncio task) that
    enters the block: two threads running modules at once each see their own.
    """

    def __init__(self, owner: Any) -> None:
        super().__init__()
        self.owner = owner

    def _entered(self, recording: bool, owners: tuple) -> tuple[bool, tuple]:
        return recording, owners + (self.owner,)

    def _fresh(self) -> scope:
        return scope(self.owner)

    def __repr__(self) -> str:
        return f"scope({self.owner!r})"


class gc_paused(contextlib.ContextDecorator):  # lower case: used like no_grad()
    """Pause CPython's cyclic garbage collector inside this block.

    A graph of Values holds no reference cycles (a node points only to its
    inputs), so freeing it needs no collector: reference counting does it the
    moment the last reference goes. But the collector still runs every few
    hundred allocations and, once in a while, walks every object of the process,
    every node included: on a training loop that builds big graphs that costs
    more than the arithmetic. ``nn.fit``, ``nn.predict``, ``nn.accuracy``,
    ``gradcheck`` and ``explain`` pause it themselves; wrap a loop of your own::

        with gc_paused():
            for step in range(100):
                loss = sum((model(x)[0] - t) ** 2 for x, t in zip(X, y))
                model.zero_grad()
                loss.backward()
                ...

    It also works as a decorator (``@gc_paused()``). Blocks nest, in one thread
    or several (the collector is one per process): it is switched back on when the
    outermost block exits, normally, by an exception or by Ctrl-C, and only if
    it was on when that block was entered. ``gc.collect()`` still works inside. What the pause gives up: cycles made inside the block (by code
    of your own) wait until the block ends to be freed.
    """

    _lock = threading.Lock()
    _depth = 0  # blocks entered and not yet left, over all threads
    _restore = False  # switch the collector back on when the depth returns to 0

    def __enter__(self) -> gc_paused:
        cls = gc_paused
        with cls._lock:
            if cls._depth == 0:
                cls._restore = gc.isenabled()
                gc.disable()
            cls._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        cls = gc_paused
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._restore:
                cls._restore = False
                gc.enable()

    def __repr__(self) -> str:
        return "gc_paused()"


def _as_float(data: Any, what: str) -> float:
    """Convert a real number to float, or raise a TypeError that names it.

    Bools are refused: ``True`` is an int to Python, but a number in a graph
    that is really a flag is almost always a mistake (a mask, a comparison);
    ``nn`` refuses them as model inputs too.
    """
    if type(data) is float:
        return data
    if _is_bool(data):
        raise TypeError(
            f"{what} got a bool ({data!r}); pass a number: float(flag), "
            "or 1.0 if flag else 0.0"
        )
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


def _is_bool(data: Any) -> bool:
    # Python's bool, and NumPy's (numpy.bool_, a 0-d bool array)
    return isinstance(data, bool) or getattr(getattr(data, "dtype", None), "kind", "") == "b"


def _is_zero_dim_array(data: Any) -> bool:
    # A 0-d numpy array (or torch tensor) of real numbers: what x.sum() returns.
    # Python and numpy scalars (int, float, numpy.float32...) are numbers.Real.
    dtype = getattr(data, "dtype", None)
    return getattr(data, "ndim", None) == 0 and getattr(dtype, "kind", "f") in "fiu"


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

    # NumPy hands ``array + value`` to ``Value.__radd__`` (which refuses an array)
    # instead of making an object array of Values: both orders give the same error.
    __array_ufunc__ = None

    data: float
    grad: float
    label: str
    op: str
    # The recorded op, read by ``inputs`` and ``local_grads``: the inputs (None where
    # absent: both for a leaf, _b for a unary op) and the local derivative with
    # respect to each (0.0 where that input is absent).
    _a: Value | None
    _b: Value | None
    _da: float
    _db: float
    _arg: float | None
    _scope: tuple

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        if label:
            _check_text(label)
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._a = self._b = self._arg = None
        self._da = self._db = 0.0
        self._scope = _current()[1]

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
        out._b = None
        out._db = 0.0
        recording, out._scope = _current()
        if recording:
            out.op = op
            out._a = self
            out._da = da
            out._arg = arg
        else:
            out.op = ""
            out._a = out._arg = None
            out._da = 0.0
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
        recording, out._scope = _current()
        if recording:
            out.op = op
            out._a = self
            out._b = other
            out._da = da
            out._db = db
        else:
            out.op = ""
            out._a = out._b = None
            out._da = out._db = 0.0
        return out

    def apply(self, op: str, *others: Value | Number, arg: float | None = None) -> Value:
        """Extension API: a node of the rule ``op`` of ``engine.RULES``, with this Value
        as its first operand and ``others`` (Values or numbers) as the rest.

        This is how an op's function builds its node, a built-in or one made by
        ``engine.define_op``: ``x.apply("tanh")`` is ``x.tanh()``, ``a.apply("mul", b)``
        is ``a * b``; ``arg`` is the constant of an op that takes one
        (``x.apply("pow_const", arg=2.0)`` is ``x ** 2``). Numbers among ``others``
        become constant leaves, as in ``x * 2``.

        >>> a = Value(3.0, label="a")
        >>> y = a.apply("mul", 2)
        >>> y.data, y.op
        (6.0, 'mul')
        """
        rule = _rule(op)
        if len(others) != rule.arity - 1:
            wanted = rule.arity - 1
            raise TypeError(
                f"Value.apply({op!r}): {rule.name} ({rule.expression}) takes {rule.arity} "
                f"operand(s), this Value and {wanted} more; got {len(others)} more"
            )
        if arg is not None:
            arg = _as_float(arg, f"Value.apply({op!r}, arg=...)")
        if rule.arity == 1:
            return self._unary(rule.name, arg)
        if arg is not None:
            raise TypeError(f"Value.apply({op!r}): a two-operand op takes no constant arg")
        other = others[0]
        return self._binary(rule.name, other if isinstance(other, Value)
                            else _const(other, rule.symbol))

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
        out._a = out._b = out._arg = None
        out._da = out._db = 0.0
        out._scope = _current()[1]
        return out
    if isinstance(number, Value):  # a Value subclass on the right
        return number
    what = f"Value {symbol} operand"
    if _is_bool(number):
        _as_float(number, what)  # raises the TypeError that says what to pass instead
    try:
        data = _as_float(number, what)
    except TypeError:
        scalars = ("a Value is one number: combine it with each element, e.g. "
                   f"[x {symbol} v for v in values]" if getattr(number, "ndim", 0)
                   else "use an int, a float or a Value")
        raise TypeError(
            f"unsupported operand for {symbol!r} with a Value: {type(number).__name__} "
            f"{number!r}; {scalars}"
        ) from None
    return Value(data)


def _check_text(label: str) -> None:
    """Refuse a label that is not valid text: a lone surrogate (half of a UTF-16 pair,
    what a badly decoded file or a cut emoji leaves) cannot be written to a file,
    a drawing or a page."""
    try:
        label.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"Value label {label!r} is not valid text: {label[error.start]!r} at position "
            f"{error.start} is a lone surrogate (half of a character, e.g. from a badly "
            "decoded file or a cut emoji); remove it, or decode the text with "
            "errors='replace'"
        ) from None


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

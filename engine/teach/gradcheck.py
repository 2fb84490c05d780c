"""Numerical gradient checking: does ``backward()`` agree with finite differences?

For each input x, the central difference

    (f(x + eps) - f(x - eps)) / (2 eps)

approximates d f/d x with an error of order eps^2, using nothing but forward
evaluations. A derivative rule that is wrong, or a graph that is wired wrongly,
shows up as a row whose analytic and numeric gradients disagree. Check new ops
and new models this way before trusting them.

The check passes for an input when ``|analytic - numeric| <= atol + rtol * |numeric|``
(the test ``numpy.isclose`` uses). Near a kink (relu or abs at 0) the numeric
slope is meaningless: move the point a little.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..backward import backward_order
from ..value import Value, gc_paused, no_grad
from .notation import magnitude, number, visible
from .tables import html_table, text_table

__all__ = ["GradcheckRow", "GradcheckReport", "gradcheck"]


@dataclass(frozen=True, eq=False)
class GradcheckRow:
    """One input's verdict.

    Attributes:
        label: the input's name (its label, a given name, or ``input <i>``).
        input: the Value checked.
        analytic: d f/d input from ``backward()``.
        numeric: the central-difference estimate.
        error: relative error ``|analytic - numeric| / max(|analytic|, |numeric|)``
            (0 when both are 0).
        ok: ``|analytic - numeric| <= atol + rtol * |numeric|``.
    """

    label: str
    input: Value
    analytic: float
    numeric: float
    error: float
    ok: bool

    def __repr__(self) -> str:
        return (f"GradcheckRow({visible(self.label)!r}, analytic={number(self.analytic)}, "
                f"numeric={number(self.numeric)}, error={magnitude(self.error)}, ok={self.ok})")


class GradcheckReport(Sequence):
    """The rows of a gradient check (a sequence of ``GradcheckRow``), one per input.

    ``report.ok`` is True when every input passed; ``print(report)`` shows a
    table; Jupyter shows it as HTML.
    """

    HEADERS = ("input", "analytic", "numeric", "relative error", "ok")
    RIGHT = (False, True, True, True, False)

    def __init__(self, rows: Sequence[GradcheckRow], value: float, eps: float,
                 rtol: float, atol: float) -> None:
        self._rows = tuple(rows)
        self.value = value
        self.eps = eps
        self.rtol = rtol
        self.atol = atol

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        return self._rows[index]

    def __iter__(self) -> Iterator[GradcheckRow]:
        return iter(self._rows)

    @property
    def ok(self) -> bool:
        """True when every input's analytic gradient matches its numeric one."""
        return all(row.ok for row in self._rows)

    @property
    def failures(self) -> list[GradcheckRow]:
        """The rows that did not pass."""
        return [row for row in self._rows if not row.ok]

    @property
    def max_error(self) -> float:
        """The largest relative error (0 for no inputs)."""
        return max((row.error for row in self._rows), default=0.0)

    def rows(self) -> list[list[str]]:
        """The table's cells as strings (see ``HEADERS``), in the one notation: the
        gradients at the current precision (``notation.precision``), the error
        to 2 significant digits."""
        return [[visible(r.label), number(r.analytic), number(r.numeric),
                 magnitude(r.error), "ok" if r.ok else "FAIL"] for r in self._rows]

    def _summary(self) -> str:
        verdict = "all ok" if self.ok else f"{len(self.failures)} of {len(self)} FAILED"
        return (f"gradcheck: {verdict} (f = {number(self.value)}, eps={number(self.eps)}, "
                f"rtol={number(self.rtol)}, atol={number(self.atol)})")

    def __str__(self) -> str:
        return self._summary() + "\n" + text_table(self.HEADERS, self.rows(), right=self.RIGHT)

    def __repr__(self) -> str:
        return (f"GradcheckReport(ok={self.ok}, {len(self)} inputs, "
                f"max relative error {magnitude(self.max_error)})")

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        classes = ["" if r.ok else "fail" for r in self._rows]
        table = html_table(self.HEADERS, self.rows(), right=self.RIGHT,
                           caption=self._summary(), row_classes=classes,
                           table_class="chainrule-gradcheck")
        style = "<style>table.chainrule-gradcheck tr.fail td{color:#b00020;font-weight:bold}</style>"
        return f"<div>{style}{table}</div>"


def _named_inputs(inputs: Any) -> list[tuple[str, Value]]:
    """Accept Values, (name, Value) pairs (``named_parameters()``) or a name -> Value mapping."""
    if isinstance(inputs, Value):
        inputs = [inputs]
    elif isinstance(inputs, Mapping):
        inputs = list(inputs.items())
    try:
        items = list(inputs)
    except TypeError:
        raise TypeError(
            f"gradcheck: inputs must be a list of Values (e.g. [a, b] or model.parameters()), "
            f"got {type(inputs).__name__} {inputs!r}"
        ) from None
    named = []
    for i, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Value):
            name, value = str(item[0]), item[1]
        elif isinstance(item, Value):
            name, value = item.label or f"input {i}", item
        else:
            raise TypeError(
                f"gradcheck: input {i} is {type(item).__name__} {item!r}, not a Value; "
                "pass the leaf Values the function depends on"
            )
        if not value.is_leaf():
            raise ValueError(
                f"gradcheck: input {i} ({name!r}) is computed by an op ({value.op!r}); "
                "pass leaves (the Values you created, or model.parameters()): "
                "f rebuilds everything else from them"
            )
        named.append((name, value))
    return named


def _caller(f: Callable, n: int) -> Callable[[list[Value]], Any]:
    """Call ``f(*inputs)`` if it accepts them, else ``f()`` (a closure over a model)."""
    if not callable(f):
        raise TypeError(f"gradcheck: f must be callable, got {type(f).__name__} {f!r}")
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have none: pass the inputs
        return lambda values: f(*values)
    try:
        signature.bind(*range(n))
        return lambda values: f(*values)
    except TypeError:
        pass
    try:
        signature.bind()
        return lambda values: f()
    except TypeError:
        raise TypeError(
            f"gradcheck: f must take the {n} inputs as arguments, or no arguments "
            f"(a closure, e.g. lambda: loss(model)); its signature is {signature}"
        ) from None


def _scalar(out: Any) -> Value:
    """f's result as one Value (a one-element list, e.g. a model's output, is unwrapped)."""
    if isinstance(out, (list, tuple)) and len(out) == 1:
        out = out[0]
    if not isinstance(out, Value):
        raise TypeError(
            f"gradcheck: f must return a single Value (e.g. a loss), got "
            f"{type(out).__name__} {out!r}"
        )
    return out


def _relative_error(a: float, n: float) -> float:
    diff = abs(a - n)
    scale = max(abs(a), abs(n))
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0.0 else math.inf


def gradcheck(f: Callable[..., Value], inputs: Any, eps: float = 1e-6,
              rtol: float = 1e-5, atol: float = 1e-8) -> GradcheckReport:
    """Compare ``backward()``'s gradient of ``f`` with central differences, per input.

    Args:
        f: builds the scalar to check from the inputs, anew on every call:
            either a function of the inputs, ``f(*inputs)``, or a function of
            no arguments (e.g. ``lambda: loss(model)``) that reads them.
        inputs: the leaf Values to check (``[a, b]``, ``model.parameters()``),
            or ``(name, Value)`` pairs such as ``model.named_parameters()``.
        eps: the step of the central difference.
        rtol, atol: an input passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Each input's ``.data`` is moved by +-eps in place and restored exactly. All
    gradients in the graph are left as they were before the call.

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> report = gradcheck(lambda a, b: a * b + a.tanh(), [a, b])
    >>> report.ok
    True
    >>> [round(row.analytic, 4) for row in report]
    [-2.9293, 2.0]
    """
    for name, x in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not x >= 0 or x == math.inf:
            raise ValueError(f"gradcheck: {name} must be a finite number >= 0, got {x!r}")
    if eps == 0:
        raise ValueError("gradcheck: eps must be > 0 (try 1e-6)")
    with gc_paused():  # many small graphs: see engine.value.gc_paused
        named = _named_inputs(inputs)
        call = _caller(f, len(named))
        values = [v for _, v in named]

        # analytic: one backward pass; every gradient it touches is restored afterwards
        out = _scalar(call(values))
        order = backward_order(out)
        saved = {node: node.grad for node in order}
        saved.update((v, v.grad) for v in values)
        for v in values:
            v.grad = 0.0
        try:
            for node in order:
                if node.is_leaf():
                    node.grad = 0.0
            out.backward()
            analytic = [v.grad for v in values]
        finally:
            for node, g in saved.items():
                node.grad = g

        # numeric: two forward passes per input, without building graphs
        rows = []
        for (name, v), a in zip(named, analytic):
            original = v.data
            try:
                with no_grad():
                    v.data = original + eps
                    nudged = _scalar(call(values))
                    if nudged is out:
                        raise ValueError(
                            "gradcheck: f returned the same Value twice; it must rebuild the "
                            "expression from the inputs on every call (e.g. lambda: loss(model), "
                            "not lambda: loss)"
                        )
                    up = nudged.data
                    v.data = original - eps
                    down = _scalar(call(values)).data
            finally:
                v.data = original  # exactly the number it was
            n = (up - down) / (2.0 * eps)
            ok = abs(a - n) <= atol + rtol * abs(n)  # False when either is nan
            rows.append(GradcheckRow(name, v, a, n, _relative_error(a, n), ok))
        return GradcheckReport(rows, out.data, eps, rtol, atol)

"""Grading gradients derived by hand: ``check_gradients`` and ``assert_gradients``.

A typical assignment: "derive d f/d x and d f/d y for f(x, y) = tanh(x y) + x^2 and
write them as a function". The teacher writes ``f`` once with Values (the
reference: chainrule's ``backward()`` gives its gradient) and grades the
student's function at a few points:

>>> from engine.teach.grading import check_gradients
>>> def f(x, y):                       # the teacher's reference, built from Values
...     return (x * y).tanh() + x ** 2
>>> def student(x, y):                 # the student's hand-derived gradient
...     import math
...     s = 1 - math.tanh(x * y) ** 2
...     return [s * y + 2 * x, s * x]
>>> report = check_gradients(student, f, [(0.5, -1.0), (2.0, 0.25)], names=["x", "y"])
>>> report.ok, report.score
(True, 1.0)

``report.to_dict()`` is JSON for an autograder; ``assert_gradients`` raises an
``AssertionError`` that names each wrong partial derivative, for a pytest test or
an nbgrader / otter-grader test cell (see ``docs/grading.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from ..value import Value, gc_paused
from .notation import number
from .tables import html_table, text_table

__all__ = ["check_gradients", "assert_gradients", "GradingReport", "GradingRow"]


@dataclass(frozen=True)
class GradingRow:
    """One partial derivative at one point.

    Attributes:
        point: the input numbers, in order.
        name: which input the derivative is taken with respect to.
        expected: the reference's gradient, by ``backward()``.
        got: the student's number (nan when it gave none that could be read).
        ok: ``|got - expected| <= atol + rtol * |expected|``.
    """

    point: tuple[float, ...]
    name: str
    expected: float
    got: float
    ok: bool


@dataclass(frozen=True)
class GradingReport(Sequence):
    """The rows of ``check_gradients``, one per (point, input); a sequence of ``GradingRow``.

    ``ok`` is True when every row is; ``score`` is the fraction of rows right;
    ``wrong`` names each wrong partial as ``"d/dx at (0.5, -1)"``; ``problems``
    lists what could not be graded at all (a student function that raised, or
    returned the wrong number of values).
    """

    rows: tuple[GradingRow, ...]
    rtol: float
    atol: float
    problems: tuple[str, ...] = ()

    HEADERS = ("point", "d/d", "expected", "got", "")
    RIGHT = (False, False, True, True, False)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):  # int or slice, as for a tuple
        return self.rows[index]

    def __iter__(self) -> Iterator[GradingRow]:
        return iter(self.rows)

    @property
    def ok(self) -> bool:
        return not self.problems and all(row.ok for row in self.rows)

    @property
    def score(self) -> float:
        """The fraction of partial derivatives that are right (0 to 1)."""
        return sum(row.ok for row in self.rows) / len(self.rows) if self.rows else 0.0

    @property
    def wrong(self) -> list[str]:
        return [f"d/d{row.name} at {_point(row.point)}" for row in self.rows if not row.ok]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ok, score, each row (nan and inf written as strings)."""
        def num(x: float) -> float | str:
            return x if math.isfinite(x) else str(x)

        return {"ok": self.ok, "score": self.score, "rtol": self.rtol, "atol": self.atol,
                "problems": list(self.problems),
                "rows": [{"point": [num(p) for p in row.point], "name": row.name,
                          "expected": num(row.expected), "got": num(row.got), "ok": row.ok}
                         for row in self.rows]}

    def _cells(self) -> list[list[str]]:
        return [[_point(row.point), row.name,
                 *((number(row.expected), number(row.got)) if row.ok
                   else _pair(row.expected, row.got)),
                 "ok" if row.ok else "WRONG"] for row in self.rows]

    def text(self) -> str:
        head = (f"{sum(r.ok for r in self.rows)} of {len(self.rows)} partial derivatives "
                f"right (score {self.score:.0%})")
        lines = [head, text_table(self.HEADERS, self._cells(), self.RIGHT)]
        lines += [f"- {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"GradingReport(score={self.score:.3g}, ok={self.ok}, {len(self.rows)} rows)"

    def _repr_html_(self) -> str:
        classes = ["" if row.ok else "wrong" for row in self.rows]
        return html_table(self.HEADERS, self._cells(), self.RIGHT,
                          caption=self.text().splitlines()[0], row_classes=classes)


def _pair(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with the fewest digits (at least the usual) that tell them apart."""
    for digits in range(4, 18):
        e, g = number(expected, digits), number(got, digits)
        if e != g:
            return e, g
    return number(expected, 17), number(got, 17)


def _point(point: Sequence[float]) -> str:
    return "(" + ", ".join(number(p) for p in point) + ")"


def _points(inputs: Any) -> list[tuple[float, ...]]:
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence) or not inputs:
        raise TypeError("check_gradients: inputs must be a non-empty list of points, each a "
                        "tuple of numbers, e.g. [(0.5, -1.0), (2.0, 0.25)]")
    points = []
    for point in inputs:
        if isinstance(point, Real) and not isinstance(point, bool):
            point = (point,)
        if not isinstance(point, Sequence) or not all(
                isinstance(p, Real) and not isinstance(p, bool) for p in point):
            raise TypeError(f"check_gradients: each point must be a tuple of numbers, got "
                            f"{point!r}")
        points.append(tuple(float(p) for p in point))
    if len({len(p) for p in points}) != 1:
        raise ValueError("check_gradients: every point needs the same number of inputs")
    return points


def check_gradients(student: Callable[..., Sequence[float]], reference: Callable[..., Value],
                    inputs: Any, names: Sequence[str] | None = None,
                    rtol: float = 1e-6, atol: float = 1e-9) -> GradingReport:
    """Grade a student's gradient function against ``backward()`` on a reference.

    Args:
        student: ``student(*point)`` returns the gradient at the point, one number
            per input, in order (a list or tuple; a single number for one input).
        reference: ``reference(*leaves)`` builds the function from Value leaves
            (one per input); its gradient comes from ``backward()``.
        inputs: the points to grade at, e.g. ``[(0.5, -1.0), (2.0, 0.25)]`` (a
            number stands for a one-input point).
        names: the inputs' names for the report (default ``x1, x2, ...``).
        rtol, atol: a number is right when ``|got - expected| <= atol + rtol * |expected|``.

    Returns:
        A ``GradingReport``. A student function that raises or returns the wrong
        number of values gets every row of that point wrong and a line in
        ``problems`` saying why; it never stops the grading.

    Raises:
        TypeError: bad ``inputs``, or ``reference`` not returning a Value (the
            teacher's mistake, so it stops).
        ValueError: ``names`` of the wrong length, or negative tolerances.
    """
    points = _points(inputs)
    n = len(points[0])
    names = [f"x{i + 1}" for i in range(n)] if names is None else [str(x) for x in names]
    if len(names) != n:
        raise ValueError(f"check_gradients: {len(names)} names for {n} inputs")
    for what, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, bool) or not isinstance(tol, Real) or not 0 <= tol < math.inf:
            raise ValueError(f"check_gradients: {what} must be a finite number >= 0, got {tol!r}")
    rows: list[GradingRow] = []
    problems: list[str] = []
    with gc_paused():
        for point in points:
            leaves = [Value(p, label=name) for p, name in zip(point, names)]
            out = reference(*leaves)
            if not isinstance(out, Value):
                raise TypeError(f"check_gradients: reference must return a Value built from "
                                f"its arguments, got {type(out).__name__}")
            out.backward()
            expected = [leaf.grad for leaf in leaves]
            got = _student_numbers(student, point, n, problems)
            for name, e, g in zip(names, expected, got):
                ok = math.isfinite(g) and abs(g - e) <= atol + rtol * abs(e)
                rows.append(GradingRow(point, name, e, g, ok))
    return GradingReport(tuple(rows), float(rtol), float(atol), tuple(problems))


def _student_numbers(student: Callable, point: tuple[float, ...], n: int,
                     problems: list[str]) -> list[float]:
    where = _point(point)
    try:
        answer = student(*point)
    except Exception as error:  # the student's code: report it, grade on
        problems.append(f"at {where} the function raised {type(error).__name__}: {error}")
        return [math.nan] * n
    if isinstance(answer, Real) and not isinstance(answer, bool):
        answer = [answer]
    try:
        numbers = [float(a) for a in answer]
    except (TypeError, ValueError):
        problems.append(f"at {where} the function returned {answer!r}, not {n} number(s)")
        return [math.nan] * n
    if len(numbers) != n:
        problems.append(f"at {where} the function returned {len(numbers)} number(s) for "
                        f"{n} input(s): return one partial derivative per input, in order")
        return [math.nan] * n
    return numbers


def assert_gradients(student: Callable[..., Sequence[float]], reference: Callable[..., Value],
                     inputs: Any, names: Sequence[str] | None = None,
                     rtol: float = 1e-6, atol: float = 1e-9) -> GradingReport:
    """``check_gradients``, raising an ``AssertionError`` that lists what is wrong.

    For a pytest test or an autograder's test cell; returns the report when all
    is right. The message names each wrong partial with both numbers, never the
    formula, so it can be shown to students.
    """
    report = check_gradients(student, reference, inputs, names=names, rtol=rtol, atol=atol)
    if not report.ok:
        lines = [f"{len(report.wrong)} of {len(report)} partial derivatives wrong "
                 f"(score {report.score:.0%}):"]
        lines += [f"  d/d{row.name} at {_point(row.point)}: expected "
                  f"{_pair(row.expected, row.got)[0]}, got {_pair(row.expected, row.got)[1]}"
                  for row in report if not row.ok]
        lines += [f"  {p}" for p in report.problems]
        raise AssertionError("\n".join(lines))
    return report

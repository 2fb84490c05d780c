"""Grading an op's derivative rule: ``check_op`` compares it with central differences.

An op's rule (``engine.ops.RULES``, a built-in or one made by ``engine.define_op``)
computes its value and its local derivative with respect to each input. Here the
derivative is checked where it is used, at points across the op's domain and at
its edge points (just inside its ends, just beside its kinks, its special
points), against the central difference of the op's own value,

    (f(x + h) - f(x - h)) / (2 h),    h = eps * max(1, |x|),

whose error is of order h^2. Where the rule's text formula can be read
(``1 / (1 + abs(x))^2``), its value is checked too: it is what ``explain`` and
the drawings show, so it must agree with what backward uses.

A point passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` (the test
``gradcheck`` uses) and the formula, if read, gives the analytic value within the
same tolerance. Near a kink the numeric slope is meaningless: the default points
keep ``Domain.margin`` away from ``Domain.away_from``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..ops import RULES, Domain, Op, Rule, _as_domain
from ..ops import rule as _rule
from .notation import magnitude, number
from .tables import html_table, text_table
from .templates import parse

__all__ = ["check_op", "OpCheckReport", "OpCheckRow"]

_SAMPLES = 9  # points per operand across the domain (5 per operand for two operands)


@dataclass(frozen=True, eq=False)
class OpCheckRow:
    """The verdict on one partial derivative at one point.

    Attributes:
        point: the inputs, one per operand (``(x,)`` or ``(a, b)``).
        operand: which partial derivative (``"x"``, ``"a"`` or ``"b"``).
        analytic: the rule's local derivative there (what backward() uses).
        numeric: the central difference of the op's value.
        written: the rule's text formula evaluated there (None where it cannot be read).
        error: relative error ``|analytic - numeric| / max(|analytic|, |numeric|)``.
        ok: the analytic value matches the numeric one (and the formula, if read).
        edge: True for an edge point (an end of the domain, beside a kink, a special point).
        note: why the point failed: the derivative does not match the slope, the
            formula does not give the derivative's value, or the op raised an error.
    """

    point: tuple[float, ...]
    operand: str
    analytic: float
    numeric: float
    written: float | None
    error: float
    ok: bool
    edge: bool = False
    note: str = ""

    @property
    def reason(self) -> str:
        """Why the row failed, in one word: ``slope``, ``formula`` or ``error`` ("" if ok)."""
        if self.ok:
            return ""
        if self.note.startswith("the op raised"):
            return "error"
        return "formula" if self.note.startswith("the formula") else "slope"

    def where(self, operands: Sequence[str]) -> str:
        """The point as ``x = 0.5`` or ``a = 1, b = -2``."""
        return ", ".join(f"{o} = {number(v)}" for o, v in zip(operands, self.point))

    def __repr__(self) -> str:
        at = ", ".join(number(v) for v in self.point)
        return (f"OpCheckRow(({at}), d/d{self.operand}: analytic={number(self.analytic)}, "
                f"numeric={number(self.numeric)}, ok={self.ok})")


class OpCheckReport(Sequence):
    """The rows of ``check_op`` (a sequence of ``OpCheckRow``): one per point and operand.

    ``report.ok`` is True when every row passed; ``report.failures`` lists the
    rows that did not, ``report.failed_points`` their points; ``print(report)``
    shows a table; Jupyter shows it as HTML.
    """

    HEADERS = ("point", "partial", "analytic", "numeric", "formula", "relative error", "ok")
    RIGHT = (False, False, True, True, True, True, False)

    def __init__(self, rule: Rule, rows: Sequence[OpCheckRow], eps: float, rtol: float,
                 atol: float) -> None:
        self.name = rule.name
        self.expression = rule.expression
        self.operands = rule.operands
        self.formulas = rule.derivatives
        self._rows = tuple(rows)
        self.eps, self.rtol, self.atol = eps, rtol, atol

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        return self._rows[index]

    def __iter__(self) -> Iterator[OpCheckRow]:
        return iter(self._rows)

    @property
    def ok(self) -> bool:
        """True when every point passed (and there was at least one)."""
        return bool(self._rows) and all(r.ok for r in self._rows)

    @property
    def failures(self) -> list[OpCheckRow]:
        """The rows that did not pass."""
        return [r for r in self._rows if not r.ok]

    @property
    def failed_points(self) -> list[tuple[float, ...]]:
        """The points where some partial derivative failed, in order, each once."""
        seen: list[tuple[float, ...]] = []
        for r in self.failures:
            if r.point not in seen:
                seen.append(r.point)
        return seen

    def _points(self) -> list[tuple[float, ...]]:
        points: list[tuple[float, ...]] = []
        for r in self._rows:
            if r.point not in points:
                points.append(r.point)
        return points

    def summary(self) -> str:
        """One line: the op, the verdict and, if it failed, where."""
        total = len(self._points())
        head = f"check_op {self.name} ({self.expression})"
        if self.ok:
            return f"{head}: ok at all {total} points"
        if not self._rows:
            return f"{head}: no points to check"
        failed = self.failed_points
        shown = "; ".join(self._where(p) for p in failed[:5])
        more = f"; ... {len(failed) - 5} more" if len(failed) > 5 else ""
        why: list[str] = []
        for r in self.failures:
            if r.note and r.note not in why and len(why) < 2:
                why.append(r.note)
        return f"{head}: FAILED at {len(failed)} of {total} points: {shown}{more}; why: " + \
            "; ".join(why)

    def _where(self, point: tuple[float, ...]) -> str:
        return ", ".join(f"{o} = {number(v)}" for o, v in zip(self.operands, point))

    def rows(self) -> list[list[str]]:
        """The table's cells as strings (see ``HEADERS``)."""
        out = []
        for r in self._rows:
            verdict = "ok" if r.ok else f"FAIL ({r.reason})"
            out.append([r.where(self.operands) + (" (edge)" if r.edge else ""),
                        f"d/d{r.operand}", number(r.analytic), number(r.numeric),
                        "" if r.written is None else number(r.written),
                        magnitude(r.error), verdict])
        return out

    def _settings(self) -> str:
        return f"eps={number(self.eps)}, rtol={number(self.rtol)}, atol={number(self.atol)}"

    def __str__(self) -> str:
        return (f"{self.summary()} ({self._settings()})\n"
                + text_table(self.HEADERS, self.rows(), right=self.RIGHT))

    def __repr__(self) -> str:
        failed = len(self.failed_points)
        verdict = "ok" if self.ok else f"{failed} of {len(self._points())} points failed"
        first = f", first at {self._where(self.failed_points[0])}" if failed else ""
        return f"OpCheckReport({self.name}: {verdict}{first})"

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        classes = ["" if r.ok else "fail" for r in self._rows]
        table = html_table(self.HEADERS, self.rows(), right=self.RIGHT,
                           caption=f"{self.summary()} ({self._settings()})",
                           row_classes=classes, table_class="chainrule-opcheck")
        style = ("<style>table.chainrule-opcheck tr.fail td{color:#b00020;"
                 "font-weight:bold}</style>")
        return f"<div>{style}{table}</div>"


def _resolve(op: Any) -> Rule:
    if isinstance(op, Op):
        return op.rule
    if isinstance(op, Rule):
        return op
    if isinstance(op, str):
        try:
            return _rule(op)
        except KeyError as error:
            raise ValueError(f"check_op: {error.args[0]}") from None
    raise TypeError(
        "check_op needs an op: the function define_op returned, an op's name "
        f"('tanh') or a Rule; got {type(op).__name__} {op!r}"
    )


def _linspace(domain: Domain, count: int) -> list[float]:
    """``count`` points spread inside the domain (never on its ends), away from its kinks."""
    width = domain.high - domain.low
    points = []
    for k in range(count):
        x = domain.low + (k + 0.5) / count * width
        if all(abs(x - p) >= domain.margin for p in domain.away_from):
            points.append(x)
    return points


def _edges(domain: Domain) -> list[float]:
    """Just inside each end, just beside each kink, and the special points in between."""
    m = domain.margin
    found = [domain.low + m, domain.high - m]
    for p in domain.away_from:
        found += [p - m, p + m]
    for p in domain.edges:
        if (math.isfinite(p) and domain.low < p < domain.high
                and all(abs(p - q) >= m for q in domain.away_from)):
            found.append(p)
    inside = []
    for x in found:
        x = x + 0.0  # -0.0 and 0.0 are one point here
        if domain.low <= x <= domain.high and x not in inside:
            inside.append(x)
    return inside


def _points(rule: Rule, domains: tuple[Domain, ...]) -> list[tuple[tuple[float, ...], bool]]:
    """The default points: (point, is_edge) pairs."""
    grid: list[tuple[float, ...]]
    edges: list[tuple[float, ...]]
    if rule.arity == 1:
        (d,) = domains
        grid = [(x,) for x in _linspace(d, _SAMPLES)]
        edges = [(x,) for x in _edges(d)]
    else:
        da, db = domains
        grid = [(a, b) for a in _linspace(da, 5) for b in _linspace(db, 5)]
        mid_a, mid_b = _linspace(da, 3)[-1:] or [da.low], _linspace(db, 3)[-1:] or [db.low]
        edges = [(a, mid_b[0]) for a in _edges(da)]
        edges += [(mid_a[0], b) for b in _edges(db)]
    # a grid point that is also an edge point (0 in a symmetric domain) is checked once
    chosen = [(p, p in edges) for p in grid]
    return chosen + [(p, True) for p in dict.fromkeys(edges) if p not in grid]


def _given_points(rule: Rule, points: Any) -> list[tuple[tuple[float, ...], bool]]:
    out = []
    for p in points:
        xs = (p,) if rule.arity == 1 and not isinstance(p, (tuple, list)) else tuple(p)
        if len(xs) != rule.arity or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs):
            shape = "a number" if rule.arity == 1 else "a pair of numbers (a, b)"
            raise TypeError(f"check_op({rule.name!r}): each point must be {shape}, got {p!r}")
        out.append((tuple(float(v) for v in xs), False))
    if not out:
        raise ValueError(f"check_op({rule.name!r}): points is empty; give at least one")
    return out


def _close(x: float, y: float, rtol: float, atol: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= atol + rtol * abs(y)  # False for nan


def _relative(x: float, y: float) -> float:
    scale = max(abs(x), abs(y))
    if scale == 0.0:
        return 0.0
    diff = abs(x - y)
    return diff / scale if math.isfinite(diff / scale) else math.inf


_SIGN = {"sign": lambda x: (x > 0.0) - (x < 0.0)}


def _evaluate(tree: tuple, xs: tuple[float, ...]) -> float:
    """A formula's tree (``templates.parse``) at the inputs ``xs``; functions are the
    one-operand ops of the rule table (their value) and ``sign``. KeyError for others."""
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "slot":
        return xs[tree[1]]
    if kind == "neg":
        return -_evaluate(tree[1], xs)
    if kind == "call":
        if len(tree[2]) != 1:
            raise KeyError(tree[1])
        x = _evaluate(tree[2][0], xs)
        if tree[1] in _SIGN:
            return float(_SIGN[tree[1]](x))
        found = RULES.get(tree[1])
        if found is None or found.arity != 1 or found.form != "function":
            raise KeyError(tree[1])
        return found.apply(x)[0]
    if kind == "cmp":
        a, b = _evaluate(tree[2], xs), _evaluate(tree[3], xs)
        return float({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b, "==": a == b,
                      "!=": a != b}[tree[1]])
    if kind == "cond":
        return _evaluate(tree[1], xs) if _evaluate(tree[2], xs) else _evaluate(tree[3], xs)
    op, a, b = tree[1], _evaluate(tree[2], xs), _evaluate(tree[3], xs)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    return float(a**b)


def _readable(rule: Rule) -> list[tuple | None]:
    """Each text derivative as a tree, or None where it cannot be read or evaluated."""
    trees: list[tuple | None] = []
    for text in rule.derivatives:
        try:
            tree = parse(text, rule.operands)
            _evaluate(tree, tuple(_linspace(d, 3)[0] if _linspace(d, 3) else d.low
                                  for d in rule.domain))
        except (ValueError, KeyError, TypeError, ZeroDivisionError, OverflowError):
            tree = None  # "softsign'(x)", or a function the checker does not know
        trees.append(tree)
    return trees


def check_op(op: Any, *, points: Sequence[Any] | None = None, domain: Any = None,
             eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8) -> OpCheckReport:
    """Grade an op's derivative rule with central differences; returns an ``OpCheckReport``.

    Args:
        op: the function ``engine.define_op`` returned, an op's name in the rule
            table (``"tanh"``) or a ``Rule``.
        points: where to check: numbers (one input) or ``(a, b)`` pairs; default
            9 points across the domain (5 x 5 for two inputs) and its edge points.
        domain: overrides the rule's domain for the default points: a ``Domain``,
            a ``(low, high)`` pair, or one per operand.
        eps: the relative step of the central difference (``h = eps * max(1, |x|)``).
        rtol, atol: a point passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    A point where the op raises an error (it is not defined there) fails, with the
    error in the row's ``note``: keep the points (or ``domain``) where it is defined.

    >>> report = check_op("tanh")
    >>> report.ok, len(report)
    (True, 11)
    >>> print(report.summary())
    check_op tanh (tanh(x)): ok at all 11 points
    """
    rule = _resolve(op)
    where = f"check_op({rule.name!r})"
    for name, x in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x < math.inf:
            raise ValueError(f"{where}: {name} must be a finite number >= 0, got {x!r}")
    if eps == 0:
        raise ValueError(f"{where}: eps must be > 0 (try 1e-6)")
    if re.search(r"\bc\b", rule.expression):
        raise ValueError(
            f"{where}: {rule.expression} takes a constant c; check a function of the "
            "inputs alone, e.g. with gradcheck(lambda x: x ** 2, [x])")
    if points is not None and domain is not None:
        raise TypeError(f"{where}: give points or domain, not both")
    if points is not None:
        chosen = _given_points(rule, points)
    else:
        domains = rule.domain if domain is None else _as_domain(rule.name, domain, rule.arity)
        chosen = _points(rule, domains)
    trees = _readable(rule)
    rows: list[OpCheckRow] = []
    for xs, edge in chosen:
        rows.extend(_check_point(rule, xs, edge, trees, eps, rtol, atol))
    return OpCheckReport(rule, rows, eps, rtol, atol)


_ERRORS = (ValueError, ZeroDivisionError, OverflowError, TypeError)


def _check_point(rule: Rule, xs: tuple[float, ...], edge: bool, trees: list[tuple | None],
                 eps: float, rtol: float, atol: float) -> list[OpCheckRow]:
    nan = math.nan
    try:
        _, *analytic = rule.apply(*xs)
    except _ERRORS as error:
        note = f"the op raised {type(error).__name__} here: {error}"
        return [OpCheckRow(xs, o, nan, nan, None, nan, False, edge, note) for o in rule.operands]
    rows = []
    for k, operand in enumerate(rule.operands):
        h = eps * max(1.0, abs(xs[k]))
        up, down = list(xs), list(xs)
        up[k] += h
        down[k] -= h
        try:
            numeric = (rule.apply(*up)[0] - rule.apply(*down)[0]) / (2.0 * h)
        except _ERRORS as error:
            rows.append(OpCheckRow(xs, operand, analytic[k], nan, None, nan, False, edge,
                                   f"the op raised {type(error).__name__} at {xs[k]} +- {h:g}: "
                                   f"{error}"))
            continue
        written = None
        note = ""
        ok = _close(analytic[k], numeric, rtol, atol)
        if not ok:
            note = (f"d/d{operand} does not match the slope of {rule.expression} "
                    "(central differences)")
        tree = trees[k]
        if tree is not None:
            try:
                written = float(_evaluate(tree, xs))
            except (ZeroDivisionError, OverflowError, ValueError, TypeError):
                written = nan
            if not _close(written, analytic[k], rtol, atol):
                ok = False
                note = note or (f"the formula d/d{operand} = {rule.derivatives[k]} does not "
                                "give the derivative function's value")
        rows.append(OpCheckRow(xs, operand, analytic[k], numeric, written,
                               _relative(analytic[k], numeric), ok, edge, note))
    return rows

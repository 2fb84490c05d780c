"""Exercises that check themselves: ``exercise(root, ask=[...])`` and ``Exercise.check``.

A student computes some gradients of a graph by hand; ``check`` says which are
wrong and, walking the backward order, where the first mistake was made:

* the gradient of each asked node is what the chain rule gives from the
  gradients *the student gave* for the nodes above it (the nodes it feeds), so
  an answer that is wrong only because an earlier answer was wrong, and that
  applies the chain rule consistently to it, is "carried": the mistake began
  earlier. ``Feedback.first_mistake`` is the first wrong answer, in backward
  order, whose own chain rule step is wrong;
* each mistake gets a hint that names the rule or the path that was missed and
  never the right number: the gradient's contributions (one per edge out of the
  node, ``upstream * local``) are compared with the answer to recognise a
  missed path, a sign slip, or a local derivative (or an upstream gradient) left
  out of a product.

>>> from engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> L = c + a; L.label = "L"
>>> ex = exercise(L, ask=["c", "a", "b"])
>>> fb = ex.check({"c": 1, "a": -3, "b": 2})
>>> fb.ok, fb.wrong, fb.first_mistake
(False, ('a',), 'a')
>>> print(fb.hint)
grad(a) collects from 2 paths (through L and through c); your value matches the one through c only: add the other path's contribution
>>> ex.check({"c": 1, "a": -2, "b": 2}).ok
True

The page (``Exercise.to_html(path)``) has an input box per asked gradient and a
Check button that does the same checks in the browser, offline. It holds the
right answers (that is how it checks them without a server): grade with
``check`` and ``Feedback.to_dict()``.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backward import backward_order
from ..value import Value
from .files import atomic_write
from .notation import Notation, number, visible
from .tables import html_table, text_table

__all__ = ["exercise", "Exercise", "Feedback", "Answer"]

#: At most this many contributions are searched for a missed path (2**n subsets).
MAX_SUBSET = 10

RIGHT, WRONG, CARRIED, MISSING = "right", "wrong", "carried", "missing"


def _close(x: float, y: float, tolerance: float) -> bool:
    return abs(x - y) <= tolerance * max(1.0, abs(y))


@dataclass(frozen=True)
class Answer:
    """One asked gradient as checked.

    Attributes:
        name: the node's name (its label, or how the notation writes it).
        answer: the student's number, or None when not answered.
        status: ``"right"``, ``"wrong"`` (this step of the chain rule is wrong),
            ``"carried"`` (wrong, but the chain rule applied rightly to an earlier
            wrong answer) or ``"missing"``.
        kind: for a wrong answer, what it looks like: ``"missed path"``, ``"sign"``,
            ``"missing local"``, ``"missing upstream"``, ``"other"``; else ``""``.
        hint: what to look at, without the right number (``""`` when right).
        carried_from: for a carried answer, the earlier wrong answers it follows from.
    """

    name: str
    answer: float | None
    status: str
    kind: str = ""
    hint: str = ""
    carried_from: tuple[str, ...] = ()

    @property
    def right(self) -> bool:
        return self.status == RIGHT

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "answer": self.answer, "status": self.status,
                "right": self.right, "kind": self.kind, "hint": self.hint,
                "carried_from": list(self.carried_from)}


class Feedback:
    """What ``Exercise.check`` found: printable, an HTML table in Jupyter, JSON-ready.

    Attributes:
        ok: every asked gradient answered and right.
        answers: one ``Answer`` per asked gradient, in backward order.
        wrong: the names of the wrong answers (carried ones included), backward order.
        missing: the names not answered.
        first_mistake: the first wrong answer, in backward order, whose chain rule
            step is wrong (its inputs, the answers above it, being right), or None.
        mistakes: every such origin (a student can make two separate mistakes).
        hint: the hint for ``first_mistake`` (``""`` when there is none).
        score: the fraction of asked gradients answered right, from 0 to 1.
    """

    def __init__(self, answers: Sequence[Answer], tolerance: float) -> None:
        self.answers = tuple(answers)
        self.tolerance = tolerance
        self.wrong = tuple(a.name for a in self.answers if a.status in (WRONG, CARRIED))
        self.missing = tuple(a.name for a in self.answers if a.status == MISSING)
        self.mistakes = tuple(a.name for a in self.answers if a.status == WRONG)
        self.first_mistake = self.mistakes[0] if self.mistakes else None
        self.ok = all(a.right for a in self.answers)
        right = sum(a.right for a in self.answers)
        self.score = right / len(self.answers) if self.answers else 1.0
        by_name = {a.name: a for a in self.answers}
        self.hint = by_name[self.first_mistake].hint if self.first_mistake else ""

    def __getitem__(self, name: str) -> Answer:
        for a in self.answers:
            if a.name == name:
                return a
        raise KeyError(f"Feedback: no asked gradient named {name!r}; the names are "
                       f"{[a.name for a in self.answers]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``json.dumps``), for an autograder; holds no right answer."""
        return {"ok": self.ok, "score": self.score, "wrong": list(self.wrong),
                "missing": list(self.missing), "first_mistake": self.first_mistake,
                "mistakes": list(self.mistakes), "hint": self.hint,
                "tolerance": self.tolerance,
                "answers": [a.to_dict() for a in self.answers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Feedback:
        """The ``Feedback`` that ``to_dict`` wrote (e.g. read back from JSON)."""
        answers = [Answer(a["name"], a["answer"], a["status"], a["kind"], a["hint"],
                          tuple(a["carried_from"])) for a in data["answers"]]
        return cls(answers, data["tolerance"])

    def summary(self) -> str:
        right = sum(a.right for a in self.answers)
        said = f"{right} of {len(self.answers)} right (score {self.score:.2f})"
        if self.ok:
            return said + ": all right."
        if self.first_mistake:
            said += f"; first mistake: grad({self.first_mistake}): {self.hint}"
        if self.missing:
            said += f"; not answered: {', '.join(self.missing)}"
        return said

    def _rows(self) -> list[list[str]]:
        return [[a.name, "" if a.answer is None else number(a.answer), a.status,
                 a.hint if a.status != CARRIED else
                 f"follows from your grad({', '.join(a.carried_from)})"]
                for a in self.answers]

    def __str__(self) -> str:
        return self.summary() + "\n" + text_table(("gradient", "yours", "", "hint"),
                                                  self._rows())

    def __repr__(self) -> str:
        return (f"Feedback(ok={self.ok}, score={self.score:.2f}, wrong={list(self.wrong)}, "
                f"first_mistake={self.first_mistake!r})")

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(self.summary())}</p>"
                + html_table(("gradient", "yours", "", "hint"), self._rows()))


class Exercise:
    """Gradients of a graph to compute by hand (made by ``exercise``).

    Attributes:
        root: the node whose gradients are asked (d root / d node).
        ask: the asked nodes, in backward order.
        names: their names, in the same order (the keys ``check`` takes).
        tolerance: how close an answer must be: ``|answer - right| <= tolerance *
            max(1, |right|)``.
    """

    def __init__(self, root: Value, ask: Sequence[Value], tolerance: float) -> None:
        self.root = root
        self.notation = Notation(root)
        self.order = backward_order(root)
        rank = {node: k for k, node in enumerate(self.order)}
        self.ask = tuple(sorted(ask, key=rank.__getitem__))
        self.names = tuple(self.notation.name(n) for n in self.ask)
        self.tolerance = tolerance
        self._solution = self._pass({})

    # --- the arithmetic ---------------------------------------------------------

    def _pass(self, given: Mapping[Value, float]) -> dict[Value, float]:
        """The chain rule from the root down, using the ``given`` gradients where there
        are some: each node's gradient is the sum over its users of the gradient *used*
        for the user (given, else computed) times the local derivative."""
        computed: dict[Value, float] = {self.root: 1.0}
        for node in self.order:
            used = given.get(node, computed.get(node, 0.0))
            for inp, local in zip(node.inputs, node.local_grads):
                computed[inp] = computed.get(inp, 0.0) + used * local
        return computed

    def _contributions(self, node: Value, given: Mapping[Value, float]) -> list[tuple[Value, float, float]]:
        """``(user, upstream used, local)`` for each edge out of ``node``."""
        computed = self._pass(given)
        out = []
        for user in self.order:
            for inp, local in zip(user.inputs, user.local_grads):
                if inp is node:
                    out.append((user, given.get(user, computed.get(user, 0.0)), local))
        return out

    def _positions(self, node: Value) -> list[int]:
        """For each edge out of ``node`` (as ``_contributions`` lists them), its position."""
        return [p for user in self.order for p, inp in enumerate(user.inputs) if inp is node]

    def solution(self) -> dict[str, float]:
        """The right answers, by name (for the teacher)."""
        return {name: self._solution.get(node, 0.0) for name, node in zip(self.names, self.ask)}

    # --- checking ---------------------------------------------------------------

    def _answers(self, answers: object) -> dict[Value, float]:
        if not isinstance(answers, Mapping):
            raise TypeError("Exercise.check: answers must be a dict from names to numbers, "
                            f"e.g. {{{self.names[0]!r}: 1.5}}, got {type(answers).__name__}")
        by_name = dict(zip(self.names, self.ask))
        out: dict[Value, float] = {}
        for key, value in answers.items():
            if isinstance(key, Value):
                if key not in self.ask:
                    raise ValueError(f"Exercise.check: {key!r} is not an asked node; the asked "
                                     f"names are {list(self.names)}")
                node = key
            elif isinstance(key, str):
                if key not in by_name:
                    raise ValueError(f"Exercise.check: no asked gradient named {key!r}; the "
                                     f"asked names are {list(self.names)}")
                node = by_name[key]
            else:
                raise TypeError(f"Exercise.check: answer keys are names (str), got "
                                f"{type(key).__name__} {key!r}")
            name = self.notation.name(node)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"Exercise.check: the answer for {name!r} must be a number, "
                                f"got {type(value).__name__} {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"Exercise.check: the answer for {name!r} must be a finite "
                                 f"number, got {value!r}")
            out[node] = float(value)
        return out

    def check(self, answers: Mapping[str, float]) -> Feedback:
        """Check hand-computed gradients: ``{name: value}`` (names as in ``names``;
        the asked Values work as keys too). Unanswered names count as not right.

        Raises:
            TypeError: ``answers`` is not a dict, a key is not a name or a value not a number.
            ValueError: a name is not asked, or a value is nan or infinite.
        """
        given = self._answers(answers)
        expected = self._pass(given)  # what the chain rule gives from the student's answers
        results = []
        for node, name in zip(self.ask, self.names):
            if node not in given:
                results.append(Answer(name, None, MISSING, hint="not answered"))
                continue
            value = given[node]
            if _close(value, self._solution.get(node, 0.0), self.tolerance):
                results.append(Answer(name, value, RIGHT))
                continue
            above = self._wrong_above(node, given)
            if above and _close(value, expected.get(node, 0.0), self.tolerance):
                results.append(Answer(name, value, CARRIED, "carried",
                                      f"your chain rule step is right, but it uses your "
                                      f"grad({', '.join(above)}), which is wrong: fix that first",
                                      tuple(above)))
                continue
            kind, hint = self._diagnose(node, value, given)
            results.append(Answer(name, value, WRONG, kind, hint))
        return Feedback(results, self.tolerance)

    def _wrong_above(self, node: Value, given: Mapping[Value, float]) -> list[str]:
        """The asked nodes above ``node`` (on its paths to the root) answered wrong."""
        above: set[Value] = set()
        frontier = [node]
        users: dict[Value, list[Value]] = {}
        for n in self.order:
            for inp in n.inputs:
                users.setdefault(inp, []).append(n)
        while frontier:
            for user in users.get(frontier.pop(), []):
                if user not in above:
                    above.add(user)
                    frontier.append(user)
        return [self.notation.name(n) for n in self.ask if n in above and n in given
                and not _close(given[n], self._solution.get(n, 0.0), self.tolerance)]

    def _diagnose(self, node: Value, value: float, given: Mapping[Value, float]) -> tuple[str, str]:
        """What a wrong answer looks like, as (kind, hint); the hint holds no number."""
        name = self.notation.name(node)
        parts = self._contributions(node, given)
        tol = self.tolerance
        through = [self.notation.name(user) for user, _, _ in parts]
        if len(set(through)) < len(through):  # a * a: one user, two edges
            through = [f"{t} (input {p + 1})" for t, p in zip(through, self._positions(node))]
        contrib = [up * local for _, up, local in parts]
        total = sum(contrib)
        n = len(parts)
        if node is self.root:
            return "other", (f"the gradient of the output with respect to itself is "
                             f"d{name}/d{name}")
        if n == 0:
            return "other", (f"grad({name}) gets nothing from any node above it: "
                             "it does not feed the output")
        rule = (f"grad({name}) is the sum of {n} contributions grad(node) * d(node)/d({name}), "
                f"one per edge out of {name} (into {', '.join(through)})") if n > 1 else \
               (f"grad({name}) = grad({through[0]}) * d({through[0]})/d({name})")
        if n > 1 and n <= MAX_SUBSET:
            for size in range(1, n):
                for subset in itertools.combinations(range(n), size):
                    if _close(value, sum(contrib[k] for k in subset), tol) and \
                            not _close(value, total, tol):
                        took = " and ".join(through[k] for k in subset)
                        ways = " and ".join(f"through {t}" for t in through)
                        return "missed path", (
                            f"grad({name}) collects from {n} paths ({ways}); your value "
                            f"matches the one through {took} only: add the other "
                            + ("paths' contributions" if n - size > 1 else
                               "path's contribution"))
        if total != 0 and _close(value, -total, tol):
            return "sign", (f"your value has the right size but the wrong sign: {rule}; "
                            "check the sign of each local derivative")
        for k, (_user, up, local) in enumerate(parts):
            u = through[k]
            if contrib[k] != 0 and _close(value, total - 2 * contrib[k], tol):
                return "sign", (f"the contribution through {u} has the wrong sign: check "
                                f"d({u})/d({name})")
            if local != 1 and _close(value, total - contrib[k] + up, tol):
                return "missing local", (f"through {u} you used grad({u}) without multiplying "
                                         f"by the local derivative d({u})/d({name})")
            if up != 1 and _close(value, total - contrib[k] + local, tol):
                return "missing upstream", (f"through {u} you used d({u})/d({name}) without "
                                            f"multiplying by the upstream gradient grad({u})")
        return "other", f"{rule}; recompute each factor"

    # --- display ----------------------------------------------------------------

    def _hidden(self) -> set[Value]:
        """The asked nodes and every node below them (toward the leaves): their
        gradients are computed from the asked ones, so showing them would tell."""
        hidden = set(self.ask)
        for node in self.order:  # users before their inputs
            if node in hidden:
                hidden.update(node.inputs)
        return hidden

    def _rows(self) -> list[list[str]]:
        asked, hidden = set(self.ask), self._hidden()
        return [[self.notation.name(n), number(n.data),
                 "?" if n in asked else "hidden" if n in hidden
                 else number(self._solution.get(n, 0.0))]
                for n in self.order]

    def _shown_grads(self) -> dict[Value, float]:
        hidden = self._hidden()
        return {n: self._solution.get(n, 0.0) for n in self.order if n not in hidden}

    def graph(self, **options: Any):
        """The graph with the asked gradients hidden (``?``), and those below them, which
        would tell them; options go to ``draw_graph``."""
        from .draw import draw_graph

        return draw_graph(self.root, grads=self._shown_grads(), **options)

    def question(self) -> str:
        root = self.notation.name(self.root)
        return (f"Compute by hand the gradient of {root} with respect to "
                + ", ".join(self.names) + " (d " + root + " / d node).")

    def __str__(self) -> str:
        return self.question() + "\n" + text_table(("node", "data", "grad"), self._rows(),
                                                   right=(False, True, True))

    def __repr__(self) -> str:
        return f"Exercise(root={self.notation.name(self.root)!r}, ask={list(self.names)})"

    def _repr_html_(self) -> str:
        picture = ""
        try:
            picture = self.graph()._repr_html_() or ""
        except Exception:  # noqa: BLE001 - a picture is a bonus; the table has it all
            picture = ""
        return (f"<p>{html.escape(self.question())}</p>" + picture
                + html_table(("node", "data", "grad"), self._rows(), right=(False, True, True)))

    # --- the page ---------------------------------------------------------------

    def page_data(self) -> dict[str, Any]:
        """What the page's script needs to check answers as ``check`` does."""
        keys = {node: k for k, node in enumerate(self.order)}
        return {
            "root": keys[self.root],
            "tolerance": self.tolerance,
            "maxSubset": MAX_SUBSET,
            "names": [self.notation.name(n) for n in self.order],
            "edges": [[keys[n], keys[inp], local, position] for n in self.order
                      for position, (inp, local) in enumerate(zip(n.inputs, n.local_grads))],
            "ask": [keys[n] for n in self.ask],
            "solution": [self._solution.get(n, 0.0) for n in self.order],
        }

    def render_html(self, title: str | None = None) -> str:
        """The exercise page's HTML text (see ``to_html``)."""
        from .assets import read as read_asset

        if title is not None and not isinstance(title, str):
            raise TypeError(f"Exercise.to_html: title must be a str, got {type(title).__name__}")
        title = visible(title) if title is not None else \
            f"Exercise: gradients of {self.notation.name(self.root)}"
        try:
            picture = self.graph()._repr_html_() or ""
        except Exception:  # noqa: BLE001 - too big to draw: the table has it all
            picture = ""
        boxes = "".join(
            f'<p class="ask"><label for="ans-{k}">grad(<code>{html.escape(name)}</code>) =</label> '
            f'<input id="ans-{k}" data-k="{k}" type="text" inputmode="decimal" autocomplete="off">'
            f' <span class="verdict" id="verdict-{k}"></span></p>'
            for k, name in enumerate(self.names))
        payload = (json.dumps(self.page_data(), ensure_ascii=False)
                   .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))
        return read_asset("exercise.html").format(
            title=html.escape(title), style=read_asset("page.css"),
            question=html.escape(self.question()), graph=picture,
            table=html_table(("node", "data", "grad"), self._rows(), right=(False, True, True),
                             table_class="steps"),
            boxes=boxes, payload=payload, script=read_asset("exercise.js"))

    def to_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write the exercise page: the graph and table with the asked gradients hidden,
        an input box per asked gradient, a Check button and the feedback in place; one
        file, offline. Returns the path written.

        Raises:
            TypeError: ``path`` is not a str or path, ``title`` not a str.
        """
        if not isinstance(path, (str, Path)):
            raise TypeError(f"Exercise.to_html: path must be a str or pathlib.Path, got "
                            f"{type(path).__name__} {path!r}")
        return atomic_write(Path(path), self.render_html(title))


def exercise(root: Value, ask: Iterable[Value | str] | None = None, *,
             tolerance: float = 1e-6) -> Exercise:
    """An exercise on ``root``'s graph: compute the gradients of the ``ask`` nodes by hand.

    Args:
        root: the output (d root / d node is asked).
        ask: labels (or names, as the tools write them) or Values of the graph;
            default: every labelled node but the root.
        tolerance: an answer is right when ``|answer - right| <= tolerance *
            max(1, |right|)``.

    Raises:
        TypeError: ``root`` is not a Value, ``ask`` not a list of names or Values,
            ``tolerance`` not a number.
        ValueError: a name or node of ``ask`` is not in the graph, a label names two
            nodes, ``ask`` is empty, or ``tolerance`` is negative.

    >>> from engine import Value
    >>> x = Value(3.0, label="x")
    >>> y = x * x; y.label = "y"
    >>> exercise(y, ask=["x"]).check({"x": 6}).ok
    True
    """
    if not isinstance(root, Value):
        raise TypeError(f"exercise: root must be a Value (the output whose gradients are "
                        f"asked), got {type(root).__name__} {root!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
        raise TypeError(f"exercise: tolerance must be a number such as 1e-6, got "
                        f"{type(tolerance).__name__} {tolerance!r}")
    if not tolerance >= 0:
        raise ValueError(f"exercise: tolerance must be >= 0, got {tolerance!r}")
    order = backward_order(root)
    notation = Notation(root)
    if ask is None:
        nodes = [n for n in order if n.label and n is not root]
        if not nodes:
            raise ValueError("exercise: no labelled node to ask about; give ask=[...] "
                             "(labels or Values of the graph)")
    else:
        if isinstance(ask, (str, Value)) or not isinstance(ask, Iterable):
            raise TypeError(f"exercise: ask= takes a list of labels or Values, e.g. "
                            f"ask=['a', 'b'], got {type(ask).__name__} {ask!r}")
        in_graph = set(order)
        nodes = []
        for k, item in enumerate(ask):
            if isinstance(item, Value):
                if item not in in_graph:
                    raise ValueError(f"exercise: ask item {k}, {item!r}, is not in the graph "
                                     "of root")
                node = item
            elif isinstance(item, str):
                named = [n for n in order if notation.name(n) == item]
                if not named:
                    named = [n for n in order if n.label == item]
                if not named:
                    known = [notation.name(n) for n in order if n.label]
                    raise ValueError(f"exercise: no node named {item!r} in the graph; its "
                                     f"labels are {known}")
                if len(named) > 1:
                    raise ValueError(f"exercise: the label {item!r} names {len(named)} nodes; "
                                     "give the Values themselves in ask=[...]")
                node = named[0]
            else:
                raise TypeError(f"exercise: ask item {k} must be a label (str) or a Value, "
                                f"got {type(item).__name__} {item!r}")
            if node not in nodes:
                nodes.append(node)
        if not nodes:
            raise ValueError("exercise: ask=[] asks nothing; name at least one node")
    return Exercise(root, nodes, float(tolerance))

"""The backward pass, narrated: one step per edge, with every number in it.

``explain(root)`` does what ``root.backward()`` does, in the same order and
with the same arithmetic, and records each application of the chain rule

    input.grad += upstream * local

as a ``Step``: which node passes gradient to which input, the upstream gradient
d(root)/d(node), the local derivative d(node)/d(input) (its formula from the
rule table in ``engine/ops.py`` and the value the forward pass stored), the
contribution (upstream x local) and the input's gradient so far. The numbers
are the ones ``backward()`` computes, bit for bit: the tests check it with
``==``.

Every step runs; what is *shown* can be chosen, and never changes a number. By
default the steps into constants are left out (the numbers mixed into the
expression, targets given as numbers, a mean's divisor, the 1/2 of a loss: see
``constant_nodes``) and those into an ``nn`` model's inputs (``data_leaves``);
``explain(root, constants=True)`` shows them, ``explain(root, only=[w])`` keeps the
steps on the paths into ``w``. The text says what it left out.

Each step also has its chain rule in LaTeX (``Step.chain_latex``), with the graph's
names and numbers; ``Explanation.to_latex`` gives them all as an ``align*`` block.

The ``Explanation`` prints as a text table, shows as an HTML table in Jupyter (with
each step's chain rule typeset by the notebook's MathJax),
draws the graph at any step (``.graph(step=k)``, needs Graphviz), steps through it
with a notebook slider (``.stepper()``, needs ipywidgets) and writes a
self-contained step-through web page (``.to_html(path)``, see ``engine/page.py``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backward import backward_order
from ..value import Value
from .notation import Notation, factor, latex_number, number, number_piece
from .tables import html_table, text_table
from .templates import ATOM, LEFT_FACTOR, RIGHT_FACTOR, Piece

__all__ = ["Step", "Explanation", "explain", "constant_nodes", "data_leaves"]

#: Rows shown by the Jupyter displays before "... N more steps" (print shows all).
DISPLAY_ROWS = 200


@dataclass(frozen=True, eq=False)
class Step:
    """One application of the chain rule: ``input.grad += upstream * local``.

    Attributes:
        number: 1-based position in the backward pass.
        node: the node passing its gradient back.
        position: which of ``node.inputs`` receives it (0 or 1; ``a * a`` has both).
        input: ``node.inputs[position]``.
        upstream: d(root)/d(node), final when this step runs.
        formula: the rule's local derivative as text, ``node.rule.derivatives[position]``,
            in the rule's operand names (``"b"`` for d(a*b)/da).
        latex: the same in LaTeX, ``node.rule.derivatives_latex[position]``.
        local: d(node)/d(input), the value stored by the forward pass.
        contribution: ``local * upstream``, exactly as ``backward()`` computes it.
        grad_before: the input's gradient before this step (a leaf may carry
            gradient from an earlier ``backward()``: leaves accumulate).
        grad: the input's gradient after this step (``grad_before + contribution``).
        node_name, input_name: the nodes' names in the one notation
            (``engine/teach/notation.py``): labels, short expressions or ``v<k>``.
        local_formula: ``formula`` with the operands replaced by the inputs' names,
            e.g. ``"1 - tanh(a)^2"``; for ``c ** a``: ``"a * c^(a - 1)"``.
        local_latex: the same in LaTeX, e.g. ``"1 - \\tanh^{2} a"``.
        notation: how the graph's nodes are written (names, definitions).
        first: True if no earlier step of this pass added to ``input`` (then, with
            ``grad_before == 0``, ``chain_latex`` writes ``=``, else ``+=``).
    """

    number: int
    node: Value
    position: int
    input: Value
    upstream: float
    formula: str
    latex: str
    local: float
    contribution: float
    grad_before: float
    grad: float
    node_name: str = field(repr=False)
    input_name: str = field(repr=False)
    local_formula: str = field(repr=False)
    local_latex: str = field(repr=False, default="")
    notation: Notation | None = field(repr=False, default=None)
    first: bool = field(repr=False, default=True)

    def product(self) -> str:
        """The contribution as arithmetic: ``1 * b = 1 * (-3)``, the formula then its
        value (the formula once, when it is just a number, as for ``+``)."""
        upstream = factor(number_piece(self.upstream))
        local = factor(number_piece(self.local))
        text = f"{upstream} * {local}"
        if self.notation is not None:
            written = factor(self.notation.local_piece(self.node, self.position))
        else:
            written = self.local_formula
        if written != local:
            text = f"{upstream} * {written} = {text}"
        return text

    def where(self) -> str:
        """``where v8 = ...`` for the short names this step uses, or ``""``."""
        if self.notation is None:
            return ""
        return self.notation.where_text((self.node, self.input), (self.local_formula,))

    def _partial(self, top: Value, bottom: Value) -> str:
        notation = self.notation if self.notation is not None else Notation(top)
        return (rf"\frac{{\partial {_wrapped(notation, top)}}}"
                rf"{{\partial {_wrapped(notation, bottom)}}}")

    def chain_parts(self) -> tuple[str, str, str]:
        r"""``chain_latex`` in three parts: the left side, the relation (``=`` or
        ``\mathrel{+}=``) and the rest (what ``Explanation.to_latex`` aligns)."""
        notation = self.notation if self.notation is not None else Notation(self.node)
        root = notation.root
        lhs = self._partial(root, self.input)
        rel = "=" if self.first and self.grad_before == 0.0 else r"\mathrel{+}="
        chain = self._partial(self.node, self.input)
        if self.node is not root:  # from the root, d(root)/d(root) = 1 is left out
            chain = f"{self._partial(root, self.node)}\\,{chain}"
        up = number_piece(self.upstream, latex=True)
        local_written = notation.local_piece(self.node, self.position, latex=True)
        local_number = number_piece(self.local, latex=True)
        parts = [] if chain == lhs else [chain]
        for local in (local_written, local_number):
            text = _times(up, local)
            if not parts or text != parts[-1]:
                parts.append(text)
        result = latex_number(self.contribution)
        if result != parts[-1]:
            parts.append(result)
        rest = " = ".join(parts)
        if rel != "=":
            rest += rf", \text{{ now }} {lhs} = {latex_number(self.grad)}"
        return lhs, rel, rest

    def chain_latex(self) -> str:
        r"""The step's chain rule in LaTeX (no ``$``), with the graph's names and the
        numbers: ``=`` for the input's first contribution, ``\mathrel{+}=`` (and the
        new total) when it accumulates. Factors ``1`` are left out of the products.

        >>> from engine import Value
        >>> w, x = Value(0.5, label="w"), Value(0.43, label="x")
        >>> z = w * x; z.label = "z"
        >>> L = z * 0.65; L.label = "L"
        >>> print(explain(L)[1].chain_latex())
        \frac{\partial L}{\partial w} = \frac{\partial L}{\partial z}\,\frac{\partial z}{\partial w} = 0.65 \, x = 0.65 \cdot 0.43 = 0.2795
        """
        lhs, rel, rest = self.chain_parts()
        return f"{lhs} {rel} {rest}"

    def sentence(self) -> str:
        """The step in words and numbers, e.g. for a caption.

        >>> from engine import Value
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> c = a * b; c.label = "c"
        >>> print(explain(c)[0].sentence())
        grad(a) += grad(c) * d(c)/d(a) = 1 * b = 1 * (-3) = -3; now grad(a) = -3
        """
        said = (
            f"grad({self.input_name}) += grad({self.node_name}) * "
            f"d({self.node_name})/d({self.input_name}) = {self.product()} = "
            f"{number(self.contribution)}"
            f"; now grad({self.input_name}) = {number(self.grad)}"
        )
        where = self.where()
        return f"{said} ({where})" if where else said

    def __repr__(self) -> str:
        return (
            f"Step({self.number}: {self.node_name} -> {self.input_name} "
            f"[input {self.position}], upstream={number(self.upstream)}, "
            f"local={self.local_formula!r}={number(self.local)}, "
            f"contribution={number(self.contribution)}, grad={number(self.grad)})"
        )


def _wrapped(notation: Notation, node: Value) -> str:
    """A node's LaTeX name as the argument of ``\\partial``: in parentheses unless it is
    one symbol (``\\partial w_{1}``, ``\\partial \\left(a \\, b\\right)``)."""
    piece = notation._latex_pieces()[node]
    text = piece.text()
    return text if piece.kind == ATOM else rf"\left({text}\right)"


def _times(upstream: Piece, local: Piece) -> str:
    """``upstream \\cdot local`` in LaTeX, a factor 1 left out."""
    if local.text() == "1":
        return upstream.text()
    if upstream.text() == "1":
        return local.text()
    left = upstream.text() if upstream.kind in LEFT_FACTOR else rf"\left({upstream.text()}\right)"
    right = local.text() if local.kind in RIGHT_FACTOR else rf"\left({local.text()}\right)"
    dot = r" \cdot " if right[:1].isdigit() or right[:1] == "-" else r" \, "
    return left + dot + right


class Explanation(Sequence):
    """The steps of one backward pass, in the order ``backward()`` applied them.

    A read-only sequence of ``Step`` (``explanation[0]`` is step number 1).
    ``print(explanation)`` gives a text table; Jupyter shows an HTML table.

    Attributes:
        root: the node the pass started from.
        seed: the root's gradient after seeding (1, or more if ``root`` is a leaf
            that already had a gradient).
        order: the nodes in backward order (root first).
        hidden_constants: how many steps into constants ran but are not shown
            (``explain(root, constants=True)`` shows them).
        hidden_data: how many steps into a model's inputs and targets (``data_leaves``)
            ran but are not shown (``constants=True`` shows them too).
        hidden_off_path: how many steps off the paths into ``only`` are not shown.
        only: the nodes ``explain(root, only=...)`` kept the paths into, or None.
        notation: how every node is written (``engine/teach/notation.py``).
        names: the name of every node (``notation.name``).
    """

    def __init__(self, root: Value, seed: float, steps: Sequence[Step],
                 order: Sequence[Value], notation: Notation,
                 before: Mapping[Value, float], *, hidden_constants: int = 0,
                 hidden_data: int = 0, hidden_off_path: int = 0, only: Sequence[Value] | None = None) -> None:
        self.root = root
        #: steps that ran but are not shown: into constants, or off the ``only=`` paths
        self.hidden_constants = hidden_constants
        self.hidden_data = hidden_data
        self.hidden_off_path = hidden_off_path
        self.only = only
        self.seed = seed
        self.order = tuple(order)
        self.notation = notation
        self.names = {node: notation.name(node) for node in self.order}
        self._steps = tuple(steps)
        self._before = dict(before)  # leaves that already had a gradient
        # the number of the last step that adds to each node: after it, the grad is final
        self._last: dict[Value, int] = {}
        for step in self._steps:
            self._last[step.input] = step.number

    # --- the sequence --------------------------------------------------------

    def __len__(self) -> int:
        return len(self._steps)

    def __getitem__(self, index):  # int or slice, as for a tuple
        return self._steps[index]

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps)

    # --- the state at a step -------------------------------------------------

    def _check_step(self, k: int | None) -> int:
        if k is None:
            return len(self)
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"step must be an int from 0 to {len(self)}, got {k!r}")
        if not 0 <= k <= len(self):
            raise ValueError(
                f"step {k} is out of range: this explanation has steps 1 to {len(self)} "
                "(step 0 is the state right after seeding the root)"
            )
        return k

    def grads_at(self, k: int | None = None) -> dict[Value, float]:
        """Gradients known after step ``k`` (0: only the seeded root; default: all).

        Nodes that no step has reached yet are absent from the mapping.
        """
        k = self._check_step(k)
        grads = {self.root: self.seed}
        for step in self._steps[:k]:
            grads[step.input] = step.grad
        return grads

    def done_at(self, k: int | None = None) -> set[Value]:
        """Nodes whose gradient is final after step ``k``: every user has passed its share."""
        k = self._check_step(k)
        return {self.root} | {node for node, last in self._last.items() if last <= k}

    def graph(self, step: int | None = None, **options: Any):
        """Draw the graph after step ``step`` (default: the end), with ``engine.draw``.

        The step's edge is drawn as the current one, the gradients known so far
        are shown, and nodes whose gradient is not yet final are drawn lighter.
        Other keyword options go to ``draw_graph`` (e.g. ``rankdir="TB"``).
        """
        from .draw import draw_graph

        k = self._check_step(step)
        current = None
        if k >= 1:
            s = self._steps[k - 1]
            current = (s.node, s.position)
        return draw_graph(self.root, grads=self.grads_at(k), current=current,
                          done=self.done_at(k), **options)

    def to_html(self, path: str | Path, title: str | None = None, graph: bool = True,
                **draw_options: Any) -> Path:
        """Write a self-contained web page that steps through this backward pass.

        One HTML file (no network needed) with the drawn graph, Previous/Next
        buttons and arrow keys; see ``engine.teach.page``. ``graph=False`` writes a
        table-only page, as does a graph too big to lay out (the page then says
        so); other options go to ``draw_graph`` (e.g. ``rankdir="TB"``). The file
        is written atomically (``engine.teach.files.atomic_write``).
        Returns the path written (a ``pathlib.Path``).

        Raises:
            TypeError: ``path`` is not a path, ``title`` not a str or ``graph`` not a bool.
        """
        from .page import write_page

        return write_page(self, path, title=title, graph=graph, **draw_options)

    def stepper(self, **draw_options: Any):
        """A slider to step through this backward pass inside a notebook.

        See ``engine.teach.stepper.stepper``; keyword options go to ``draw_graph``.
        """
        from .stepper import stepper

        return stepper(self, **draw_options)

    # --- display ---------------------------------------------------------------

    HEADERS = ("step", "node", "input", "upstream", "local derivative", "local",
               "contribution", "input grad")
    RIGHT = (True, False, False, True, False, True, True, True)

    def rows(self) -> list[list[str]]:
        """The table's cells as strings, one row per step (see ``HEADERS``)."""
        return [
            [str(s.number), s.node_name, s.input_name, number(s.upstream),
             s.local_formula,
             number(s.local), number(s.contribution), number(s.grad)]
            for s in self._steps
        ]

    def start(self) -> str:
        """What step 0 says: the root's gradient is seeded (and what is not shown)."""
        root = self.names[self.root]
        said = f"Start: grad({root}) = {number(self.seed)} (d {root} / d itself)"
        where = self.notation.where_text((self.root,))
        said = f"{said} ({where})" if where else said
        hidden = self.hidden()
        return f"{said}. {hidden}" if hidden else said

    def hidden(self) -> str:
        """What the shown steps leave out, and how to show it (``""`` if nothing).

        >>> from engine import Value
        >>> x = Value(3.0, label="x")
        >>> y = x * 2; y.label = "y"
        >>> explain(y).hidden()
        '1 step into a constant not shown (explain(y, constants=True) shows it)'
        """
        said = []
        root = self.names[self.root] if self.root.label else "root"
        kinds = []
        if self.hidden_constants:
            n = self.hidden_constants
            kinds.append(f"{n} step{'s' if n > 1 else ''} into "
                         + ("constants" if n > 1 else "a constant"))
        if self.hidden_data:
            n = self.hidden_data
            kinds.append(f"{n} step{'s' if n > 1 else ''} into the model's inputs")
        if kinds:
            many = self.hidden_constants + self.hidden_data > 1
            said.append(" and ".join(kinds) + f" not shown (explain({root}, constants=True) "
                        f"shows {'them' if many else 'it'})")
        if self.hidden_off_path:
            n = self.hidden_off_path
            said.append(f"{n} step{'s' if n > 1 else ''} off the paths into only=[...] not "
                        "shown (leave only= out to see them)")
        return "; ".join(said)

    def _title(self) -> str:
        root = self.names[self.root]
        return (f"Backward pass from {root}: grad({root}) = {number(self.seed)}; "
                "each step: input grad += upstream * local")

    def where(self, steps: Sequence[Step] | None = None) -> list[tuple[str, str]]:
        """The definitions ``(v<k>, expression)`` of the short names that ``steps``
        (default: all) and the title use, innermost first."""
        steps = self._steps if steps is None else steps
        nodes = [self.root] + [n for s in steps for n in (s.node, s.input)]
        return self.notation.where(nodes, [s.local_formula for s in steps])

    def where_latex(self, steps: Sequence[Step] | None = None) -> list[str]:
        r"""The definitions of the short names that ``steps`` (default: all) use, in
        LaTeX, one equation each (``v_{8} = a^{2} + b``), innermost first; ``[]``
        when no short name is used.

        >>> from engine import Value
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> explain(a * b).where_latex()
        []
        """
        steps = self._steps if steps is None else steps
        nodes = [self.root] + [n for s in steps for n in (s.node, s.input, *s.node.inputs)]
        return [f"{name} = {text}" for name, text in
                self.notation.where_latex(nodes, [s.local_formula for s in steps])]

    def to_latex(self) -> str:
        r"""The steps as a LaTeX ``align*`` block, for slides or notes: one line per
        step (its ``chain_latex``, aligned at the relation), then the short names'
        definitions, if any, after ``\intertext{where}``. Needs ``amsmath``.

        >>> from engine import Value
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> c = a * b; c.label = "c"
        >>> print(explain(c).to_latex())
        \begin{align*}
        \frac{\partial c}{\partial a} &= b = -3 \\
        \frac{\partial c}{\partial b} &= a = 2
        \end{align*}
        """
        lines = []
        for s in self._steps:
            lhs, rel, rest = s.chain_parts()
            lines.append(f"{lhs} &{rel} {rest}")
        where = [d.replace(" = ", " &= ", 1) for d in self.where_latex()]
        empty = (r"&\text{no steps: the root is a leaf}" if self.root.is_leaf()
                 else r"&\text{no steps shown}")
        body = " \\\\\n".join(lines) if lines else empty
        if where:
            body += "\n\\intertext{where}\n" + " \\\\\n".join(where)
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    def _notes(self) -> list[str]:
        hidden = self.hidden()
        return ([f"({hidden})"] if hidden else []) + [
            f"note: {self.names[leaf]} already had grad {number(g)} before this pass "
            "(leaf gradients accumulate; call zero_grad() first to start from 0)"
            for leaf, g in self._before.items()
        ]

    def text(self, max_rows: int | None = None) -> str:
        """The text table; with ``max_rows``, the first rows and a count of the rest.

        Short names (``v<k>``) used in the rows shown are defined below the table.
        """
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)):
            raise TypeError(f"Explanation.text: max_rows must be an int or None, got "
                            f"{type(max_rows).__name__} {max_rows!r}")
        if max_rows is not None and max_rows < 0:
            raise ValueError(f"Explanation.text: max_rows must be >= 0, got {max_rows}")
        rows = self.rows()
        shown = self._steps if max_rows is None else self._steps[:max_rows]
        lines = [self._title(), ""]
        if not rows:
            lines.append("(no steps: the root is a leaf)" if self.root.is_leaf()
                         else "(no steps shown)")
        elif not shown:
            lines.append(f"(0 of {len(rows)} steps shown; print() shows them all)")
        else:
            lines.append(text_table(self.HEADERS, rows[:len(shown)], right=self.RIGHT))
            if len(shown) < len(rows):
                lines.append(f"... {len(rows) - len(shown)} more steps (print() shows them all)")
        where = self.where(shown)
        if where:
            lines.append("where")
            lines.extend(f"  {name} = {text}" for name, text in where)
        lines.extend(self._notes())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        hidden = self.hidden_constants + self.hidden_data + self.hidden_off_path
        shown = f"{len(self)} steps" + (f" ({hidden} more not shown)" if hidden else "")
        return f"Explanation(root={self.names[self.root]!r}, {shown}, {len(self.order)} nodes)"

    def _repr_pretty_(self, p, cycle: bool) -> None:
        """IPython's plain-text display: the table (long ones shortened)."""
        p.text(repr(self) if cycle else self.text(max_rows=DISPLAY_ROWS))

    def _repr_html_(self) -> str:
        """Jupyter's display: an HTML table, every name escaped, with each step's chain
        rule typeset (JupyterLab and Notebook run MathJax on ``\\(...\\)``)."""
        rows = self.rows()
        more = max(0, len(rows) - DISPLAY_ROWS)
        shown = self._steps[:DISPLAY_ROWS]
        cells = [row + [rf"\({s.chain_latex()}\)"] for row, s in zip(rows, shown)]
        table = html_table(self.HEADERS + ("chain rule",), cells,
                           right=self.RIGHT + (False,),
                           caption=self._title(), table_class="chainrule-explanation")
        extra = [f"... {more} more steps (print() shows them all)"] if more else []
        where = self.where(shown)
        if where:
            extra.append("where " + "; ".join(f"{n} = {t}" for n, t in where))
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in extra + self._notes())
        where_latex = self.where_latex(shown)
        if where_latex:
            typeset = ", \\quad ".join(where_latex)
            notes += f"<p>where \\({html.escape(typeset)}\\)</p>"
        return f"<div>{table}{notes}</div>"


def _targets(only: object, order: Sequence[Value], root: Value) -> set[Value] | None:
    """``only`` checked: None, or the set of nodes whose paths to keep."""
    if only is None:
        return None
    if isinstance(only, Value):
        raise TypeError("explain: only= takes a list of Values (the leaves whose paths to "
                        f"keep), got one Value {only!r}; write only=[{only.label or 'x'}]")
    if isinstance(only, (str, bytes)) or not isinstance(only, Iterable):
        raise TypeError("explain: only= takes a list of Values (the leaves whose paths to "
                        f"keep, e.g. only=[w] or only=model.parameters()), got "
                        f"{type(only).__name__} {only!r}")
    wanted = list(only)
    known = set(order)
    for k, node in enumerate(wanted):
        if not isinstance(node, Value):
            raise TypeError(f"explain: only=[...] must hold Values, but item {k} is "
                            f"{type(node).__name__} {node!r}")
        if node not in known:
            raise ValueError(f"explain: only=[...] item {k}, {node!r}, is not in the graph "
                             f"of the root {root!r}: pass nodes the root was computed from")
    return set(wanted)


def constant_nodes(order: Sequence[Value]) -> set[Value]:
    """The nodes of a graph that are constants: unlabelled leaves (the numbers mixed
    into expressions, such as the ``2`` of ``x * 2``, a target passed as a number, a
    mean's divisor) and unlabelled nodes computed from constants only. ``order`` lists
    every node after its inputs (``notation.forward_order``).

    >>> from engine import Value
    >>> from engine.teach.notation import forward_order
    >>> x = Value(3.0, label="x")
    >>> [n.data for n in constant_nodes(forward_order(x * 2))]
    [2.0]
    """
    constant: set[Value] = set()
    for node in order:
        if node.label:
            continue
        if node.is_leaf() or all(i in constant for i in node.inputs):
            constant.add(node)
    return constant


def data_leaves(order: Sequence[Value]) -> set[Value]:
    """The leaves of a model's graph that are none of its parameters: the inputs and
    targets a model or a loss made from the numbers passed to it (``x1``, ``x2``).

    A graph is a model's when some of its nodes were made inside a ``scope`` whose
    owner has ``parameters()`` (the scope protocol, ``engine.value.scope``); a graph
    with no such owner has no data leaves: a student's own labelled leaf is never
    hidden. Constants (``constant_nodes``) are not counted here.

    >>> from engine import Value
    >>> x = Value(1.0, label="x")
    >>> data_leaves([x, x * 2])
    set()
    """
    owners: dict[int, Any] = {}
    for node in order:
        for owner in node.scope:
            owners.setdefault(id(owner), owner)
    parameters: set[Value] = set()
    found = False
    for owner in owners.values():
        get = getattr(owner, "parameters", None)
        if not callable(get):
            continue
        try:
            owned = list(get())
        except Exception:  # a student's owner whose parameters() fails: not a model
            continue
        found = True
        parameters.update(p for p in owned if isinstance(p, Value))
    if not found:
        return set()
    return {node for node in order
            if node.is_leaf() and node.label and node not in parameters}


def explain(root: Value, *, constants: bool = False,
            only: Iterable[Value] | None = None) -> Explanation:
    """Run the backward pass from ``root``, recording every step.

    It changes gradients exactly as ``root.backward()`` would (interior nodes
    reset, root seeded with 1, leaves accumulate), so call it *instead of*
    ``backward()``, not after it (or zero the gradients first). Every step runs;
    the options choose which are *shown*, and never change a gradient.

    Args:
        root: the Value to differentiate (e.g. the loss).
        constants: show the steps into constants too (numbers mixed into the
            expression, targets given as numbers, a mean's divisor, the 1/2 of a
            loss; see ``constant_nodes``) and into a model's inputs (``x1``, ``x2``:
            ``data_leaves``). Hidden by default; the text says how many. Label a
            leaf of your own expression to see its gradient.
        only: keep only the steps on the paths from ``root`` into these nodes
            (e.g. ``only=[w]`` or ``only=model.parameters()``).

    Raises:
        TypeError: ``root`` is not a Value, ``constants`` is not a bool, or ``only``
            is not a list of Values.
        ValueError: a node of ``only`` is not in the graph of ``root``.

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b; c.label = "c"
    >>> e = explain(c)
    >>> print(e)
    Backward pass from c: grad(c) = 1; each step: input grad += upstream * local
    <BLANKLINE>
    step  node  input  upstream  local derivative  local  contribution  input grad
    ----  ----  -----  --------  ----------------  -----  ------------  ----------
       1  c     a             1  b                    -3            -3          -3
       2  c     b             1  a                     2             2           2
    >>> a.grad, b.grad
    (-3.0, 2.0)
    >>> len(explain(a * b * 2)), len(explain(a * b * 2, constants=True))
    (3, 4)
    >>> [s.input.label for s in explain(a * b * 2, only=[b])]
    ['', 'b']
    """
    if not isinstance(root, Value):
        raise TypeError(
            f"explain() needs the Value to differentiate (e.g. the loss), got "
            f"{type(root).__name__} {root!r}"
        )
    if not isinstance(constants, bool):
        raise TypeError(f"explain: constants must be True or False (show the steps into "
                        f"numbers such as the 2 of x * 2), got {type(constants).__name__} "
                        f"{constants!r}")
    order = backward_order(root)
    notation = Notation(root)
    targets = _targets(only, notation.order, root)
    names = {node: notation.name(node) for node in order}
    constant = constant_nodes(notation.order)
    data = data_leaves(notation.order)
    if targets is None:
        shown = set(notation.order) if constants else \
            set(notation.order) - constant - data
    else:  # the nodes from which a target can be reached: the inputs of kept steps
        shown = set()
        for node in notation.order:  # inputs first
            if node in targets or any(i in shown for i in node.inputs):
                shown.add(node)
    # the same three phases as engine.backward.backward, with a record of each edge
    for node in order:
        if node._a is not None:
            node.grad = 0.0
    before = {n: n.grad for n in order if n.grad != 0.0 and n is not root}
    root.grad += 1.0
    seed = root.grad
    steps: list[Step] = []
    reached: set[Value] = set()
    hidden_constants = hidden_data = hidden_off_path = 0
    for node in order:
        rule = node.rule
        if rule is None:  # a leaf: nothing to pass back
            continue
        g = node.grad
        for i, (x, local) in enumerate(zip(node.inputs, node.local_grads)):
            contribution = local * g  # the exact expression backward() evaluates
            grad_before = x.grad
            x.grad += contribution
            first = x not in reached
            reached.add(x)
            if x not in shown:  # it ran; it is not shown
                if targets is not None:
                    hidden_off_path += 1
                elif x in data:
                    hidden_data += 1
                else:
                    hidden_constants += 1
                continue
            steps.append(Step(
                number=len(steps) + 1, node=node, position=i, input=x, upstream=g,
                formula=rule.derivatives[i], latex=rule.derivatives_latex[i], local=local,
                contribution=contribution, grad_before=grad_before, grad=x.grad,
                node_name=names[node], input_name=names[x],
                local_formula=notation.local_formula(node, i),
                local_latex=notation.local_latex(node, i), notation=notation, first=first,
            ))
    return Explanation(root, seed, steps, order, notation, before,
                       hidden_constants=hidden_constants, hidden_data=hidden_data,
                       hidden_off_path=hidden_off_path,
                       only=None if targets is None else tuple(targets))

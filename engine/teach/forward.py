"""The forward pass, narrated: each node's value from its inputs, inputs first.

Before ``backward()`` can apply the chain rule, the forward pass has computed
every node and stored its local derivatives. ``forward_steps(root)`` tells that
pass as a list of ``ForwardStep``, one per op node, in an order where every input
comes before the nodes that use it (``notation.forward_order``, the order of the
short names ``v<k>``)::

    c = a * b + tanh(a) = -6 + 0.964 = -5.036

Each step is written in the one notation (``notation.py``): the node's name, its
op written with its inputs' names, the same with their numbers (negative ones in
parentheses, so the line reads to its number), and the value. The text and the
LaTeX come from the rule table's ``expression`` and ``latex`` templates, so a new
op is narrated with no change here. The step-through page and the notebook
stepper show these steps before the backward pass.

>>> from engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> for step in forward_steps(c):
...     print(step.text())
c = a * b = 2 * (-3) = -6
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..value import Value
from .explain import constant_nodes
from .notation import Notation, latex_number, number, number_piece, write

__all__ = ["ForwardStep", "forward_steps", "forward_inputs"]


@dataclass(frozen=True, eq=False)
class ForwardStep:
    """One node computed from its inputs in the forward pass.

    Attributes:
        number: 1-based position in the forward pass.
        node: the node computed.
        name: its name in the one notation (label, short expression or ``v<k>``).
        expression: its op written with its inputs' names, ``a * b``.
        numbers: the same with the inputs' values, ``2 * (-3)``.
        value: the node's value, ``node.data``.
        latex: ``name = expression = numbers = value`` in LaTeX (repeats left out).
        latex_parts: those parts of ``latex``, in order.
    """

    number: int
    node: Value
    name: str
    expression: str
    numbers: str
    value: float
    latex: str = field(repr=False, default="")
    latex_parts: tuple[str, ...] = field(repr=False, default=())

    def parts(self) -> list[str]:
        """``[name, expression, numbers, value]`` with a part equal to the one before it
        left out (``a * b`` is both the name and the expression of an unlabelled node)."""
        return _once([self.name, self.expression, self.numbers, number(self.value)])

    def text(self) -> str:
        """``name = expression = numbers = value``, each part once: ``c = a * b = 2 * (-3) = -6``."""
        return " = ".join(self.parts())

    def sentence(self) -> str:
        """The step for a caption: ``compute c = a * b = 2 * (-3) = -6``."""
        return f"compute {self.text()}"

    def __repr__(self) -> str:
        return f"ForwardStep({self.number}: {self.text()})"


def _once(parts: Sequence[str]) -> list[str]:
    """The parts without a part equal to the one before it (``1 = 1`` is written ``1``)."""
    out: list[str] = []
    for part in parts:
        if not out or part != out[-1]:
            out.append(part)
    return out


def forward_steps(root: Value, notation: Notation | None = None, *,
                  constants: bool = True) -> list[ForwardStep]:
    """The forward pass that computed ``root``: one ``ForwardStep`` per op node,
    every input before the nodes that use it (leaves have no step: they are given).

    ``notation`` (default: ``Notation(root)``) names the nodes; pass an
    explanation's ``.notation`` so that both passes use the same names.
    ``constants=False`` leaves out the nodes computed from constants only (as
    ``explain`` leaves out the steps into them by default).

    >>> from engine import Value
    >>> x = Value(3.0, label="x")
    >>> y = x * (Value(2.0) + 4.0)
    >>> [s.text() for s in forward_steps(y)]
    ['2 + 4 = 6', 'x * (2 + 4) = 3 * 6 = 18']
    >>> [s.text() for s in forward_steps(y, constants=False)]
    ['x * (2 + 4) = 3 * 6 = 18']

    Raises:
        TypeError: ``root`` is not a Value, ``notation`` not a Notation, or
            ``constants`` not a bool.
    """
    if not isinstance(root, Value):
        raise TypeError(f"forward_steps() needs the Value whose forward pass to tell (e.g. the "
                        f"loss), got {type(root).__name__} {root!r}")
    if notation is None:
        notation = Notation(root)
    elif not isinstance(notation, Notation):
        raise TypeError(f"forward_steps: notation must be a Notation (e.g. an explanation's "
                        f".notation) or None, got {type(notation).__name__} {notation!r}")
    if not isinstance(constants, bool):
        raise TypeError(f"forward_steps: constants must be True or False (False leaves out "
                        f"the nodes computed from constants only), got {constants!r}")
    skipped = set() if constants else constant_nodes(notation.order)
    steps: list[ForwardStep] = []
    for node in notation.order:
        rule = node.rule
        if rule is None or node in skipped:  # a leaf: its value is given, not computed
            continue
        values = [number_piece(x.data) for x in node.inputs]
        values_latex = [number_piece(x.data, latex=True) for x in node.inputs]
        numbers = write(node, rule.expression, values).text()
        numbers_latex = write(node, rule.latex, values_latex, latex=True).text()
        parts = tuple(_once([notation.latex(node), notation.expression_latex(node),
                             numbers_latex, latex_number(node.data)]))
        steps.append(ForwardStep(
            number=len(steps) + 1, node=node, name=notation.name(node),
            expression=notation.expression(node), numbers=numbers, value=node.data,
            latex=" = ".join(parts), latex_parts=parts,
        ))
    return steps


def forward_inputs(root: Value, notation: Notation | None = None) -> list[tuple[str, str]]:
    """What the forward pass starts from: ``(name, value)`` of every leaf, in order."""
    if notation is None:
        notation = Notation(root)
    return [(notation.name(n), number(n.data)) for n in notation.order if n.is_leaf()]

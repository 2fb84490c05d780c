"""The expression a graph computes, as readable text: ``formula(root)``.

>>> from engine import Value
>>> x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
>>> w1, w2, b = Value(-3.0, label="w1"), Value(1.0, label="w2"), Value(6.88, label="b")
>>> formula((w1*x1 + w2*x2 + b).tanh())
'tanh(w1 * x1 + w2 * x2 + b)'

Leaves are written by their names (a label, or the number of a constant such
as the ``2`` of ``x * 2``); interior nodes are written out in full, each op
from its rule's ``expression`` in the one notation of ``engine/teach/notation.py``
(``^`` for powers, ``*`` and ``/`` with spaces, only the parentheses that
precedence needs).

A node used more than once (``h`` in ``h*h + h``) is written once and named,
``where h = ...``, if it has a label or if its text is long (then by its short
name ``v<k>``, the same as in ``explain`` and in the drawing's node ids); short
unlabelled ones are repeated in place. This keeps the text small even for graphs
whose fully expanded formula would be astronomically long (``x = x*x`` sixty
times). Everything is iterative, so a chain a million ops deep works.

``formula(root, latex=True)`` writes the same in LaTeX, each op from its rule's
``latex``:

>>> print(formula((w1*x1 + w2*x2 + b).tanh(), latex=True))
\\tanh \\left(w_{1} \\, x_{1} + w_{2} \\, x_{2} + b\\right)
"""

from __future__ import annotations

from ..value import Value
from .notation import Notation, write
from .templates import ATOM, Piece, flatten

__all__ = ["formula"]


def formula(root: Value, *, max_inline: int = 30, latex: bool = False) -> str:
    """The formula that ``root`` was computed by, as readable text.

    Args:
        root: the Value whose formula to write.
        max_inline: an unlabelled node used more than once is repeated in place
            if its text has at most this many characters, else named ``v<k>``
            and defined once after ``where``. Labelled nodes used more than once
            are always named by their label.

    Returns:
        One line, or, when some nodes are named, the formula followed by a
        ``where`` line and one indented line per name (innermost first).

    Raises:
        TypeError: ``root`` is not a Value, ``max_inline`` is not an int or ``latex``
            not a bool.
        ValueError: ``max_inline`` is negative.
    """
    if not isinstance(root, Value):
        raise TypeError(f"formula needs a Value, got {type(root).__name__} {root!r}")
    if isinstance(max_inline, bool) or not isinstance(max_inline, int):
        raise TypeError(f"formula: max_inline must be an int (a number of characters), got "
                        f"{type(max_inline).__name__} {max_inline!r}")
    if max_inline < 0:
        raise ValueError(f"formula: max_inline must be >= 0, got {max_inline}")
    if not isinstance(latex, bool):
        raise TypeError(f"formula: latex must be True or False, got {type(latex).__name__} "
                        f"{latex!r}")
    notation = Notation(root)
    order = notation.order
    uses: dict[Value, int] = {}
    for node in order:
        for i in node.inputs:
            uses[i] = uses.get(i, 0) + 1

    texts: dict[Value, Piece] = {}
    plains: dict[Value, Piece] = {leaf: notation.piece(leaf) for leaf in order
                                  if leaf.is_leaf()} if latex else {}
    definitions: list[tuple[str, Piece]] = []
    latex_names = notation._latex_pieces() if latex else {}
    for node in order:
        if node.is_leaf():
            texts[node] = latex_names[node] if latex else notation.piece(node)
            continue
        rule = node.rule
        assert rule is not None  # not a leaf
        # the length that decides inlining is the text's, so both forms name the same nodes
        plain = write(node, rule.expression, [plains[i] for i in node.inputs]) if latex \
            else None
        text = write(node, rule.latex if latex else rule.expression,
                     [texts[i] for i in node.inputs], latex)
        length = (plain if plain is not None else text).length
        shared = node is not root and uses.get(node, 0) > 1
        if shared and node.label:
            name = latex_names[node].text() if latex else notation.name(node)
        elif shared and length > max_inline:
            name = (f"{notation.prefix}_{{{notation.index[node]}}}" if latex
                    else notation.short_name(node))
        else:
            texts[node] = text
            if plain is not None:
                plains[node] = plain
            continue
        definitions.append((name, text))
        if latex:
            texts[node] = latex_names[node] if node.label else Piece.of(name, ATOM)
            plains[node] = notation.piece(node) if node.label else \
                Piece.of(notation.short_name(node), ATOM)
        else:
            texts[node] = notation.piece(node) if node.label else Piece.of(name, ATOM)
    result = flatten(texts[root].rope)
    if definitions and latex:
        result += r" \quad \text{where } " + r", \; ".join(f"{n} = {t.text()}"
                                                          for n, t in definitions)
    elif definitions:
        result += "\nwhere\n" + "\n".join(f"  {n} = {t.text()}" for n, t in definitions)
    return result

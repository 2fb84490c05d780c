"""The expression a graph computes, as readable text: ``formula(root)``.

>>> from engine import Value
>>> x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
>>> w1, w2, b = Value(-3.0, label="w1"), Value(1.0, label="w2"), Value(6.88, label="b")
>>> formula((w1*x1 + w2*x2 + b).tanh())
'tanh(w1*x1 + w2*x2 + b)'

Leaves are written by their label (a leaf without one, such as the ``2`` of
``x * 2``, by its number); interior nodes are written out in full, with only the
parentheses that precedence needs (``*`` binds tighter than ``+``, ``**``
tighter than unary ``-``). The text uses Python's operators, so it reads as the
code that built the graph.

A node used more than once (``h`` in ``h*h + h``) is written once and named,
``where h = ...``, if it has a label or if its text is long; short unlabelled
ones are repeated in place. This keeps the text small even for graphs whose
fully expanded formula would be astronomically long (``x = x*x`` sixty times).
Everything is iterative, so a chain a million ops deep works.
"""

from __future__ import annotations

import re

from ..backward import backward_order
from ..value import Value

__all__ = ["formula"]

# Precedence, loosest first. NEG is unary minus (and a negative number).
_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5
_SIMPLE_NAME = re.compile(r"^[\w.\[\]']+$")

_INFIX = {  # op -> (text between operands, precedence, associative)
    "add": (" + ", _ADD, True),
    "sub": (" - ", _ADD, False),
    "mul": ("*", _MUL, True),
    "div": ("/", _MUL, False),
}

class _Text:
    """One node's formula: its rope, its length in characters and its precedence.

    A rope is a str or a list of ropes, so writing a node costs O(1) however long
    its inputs' texts are; the text is joined once, at the end (``_flatten``).
    """

    __slots__ = ("rope", "length", "prec")

    def __init__(self, rope, length: int, prec: int) -> None:
        self.rope = rope
        self.length = length
        self.prec = prec


def _word(s: str, prec: int = _ATOM) -> _Text:
    return _Text(s, len(s), prec)


def _join(*parts: _Text | str, prec: int) -> _Text:
    rope = []
    length = 0
    for p in parts:
        if isinstance(p, str):
            rope.append(p)
            length += len(p)
        else:
            rope.append(p.rope)
            length += p.length
    return _Text(rope, length, prec)


def _paren(t: _Text, needed: bool) -> _Text:
    return _join("(", t, ")", prec=_ATOM) if needed else t


def _number(x: float) -> _Text:
    text = f"{x:.6g}"
    return _word(text, _NEG if text.startswith("-") else _ATOM)


def _leaf(node: Value) -> _Text:
    if not node.label:
        return _number(node.data)
    # A label that is not a plain name ("x + y", "-a") is treated like a sum, so
    # it gets parentheses wherever a sum would.
    return _word(node.label, _ATOM if _SIMPLE_NAME.match(node.label) else _ADD)


def _flatten(rope) -> str:
    """Join a rope into one str, without recursion."""
    out: list[str] = []
    stack = [rope]
    while stack:
        piece = stack.pop()
        if isinstance(piece, str):
            out.append(piece)
        else:
            stack.extend(reversed(piece))
    return "".join(out)


def _write(node: Value, args: list[_Text]) -> _Text:
    """The text of ``node`` given the texts of its inputs."""
    op = node.op
    if op in _INFIX:
        between, prec, associative = _INFIX[op]
        a, b = args
        left = _paren(a, a.prec < prec)
        # The right operand needs parentheses at equal precedence unless the op is
        # associative (a - (b - c), a/(b*c)), and always if it starts with a minus.
        right = _paren(b, b.prec < prec or (b.prec == prec and not associative) or b.prec == _NEG)
        return _join(left, between, right, prec=prec)
    if op == "neg":
        (x,) = args
        return _join("-", _paren(x, x.prec < _POW), prec=_NEG)
    if op in ("pow", "pow_const"):
        base = args[0]
        exponent = args[1] if op == "pow" else _number(node.arg)
        # ** groups right to left: (a**b)**c needs them, a**b**c does not.
        return _join(
            _paren(base, base.prec <= _POW), "**", _paren(exponent, exponent.prec < _POW),
            prec=_POW,
        )
    # A function (tanh, exp, log, ... and any op added to the rule table later).
    inner: list[_Text | str] = []
    for k, a in enumerate(args):
        if k:
            inner.append(", ")
        inner.append(a)
    return _join(f"{op}(", *inner, ")", prec=_ATOM)


def formula(root: Value, *, max_inline: int = 30) -> str:
    """The formula that ``root`` was computed by, as readable text.

    Args:
        root: the Value whose formula to write.
        max_inline: an unlabelled node used more than once is repeated in place
            if its text has at most this many characters, else named ``t1``,
            ``t2``, ... and defined once after ``where``. Labelled nodes used more
            than once are always named by their label.

    Returns:
        One line, or, when some nodes are named, the formula followed by a
        ``where`` line and one indented line per name (innermost first).

    Raises:
        TypeError: ``root`` is not a Value.
    """
    if not isinstance(root, Value):
        raise TypeError(f"formula needs a Value, got {type(root).__name__} {root!r}")
    if root.is_leaf():
        return _flatten(_leaf(root).rope)
    order = backward_order(root)[::-1]  # inputs before the nodes that use them
    uses: dict[Value, int] = {}
    for node in order:
        for i in node.inputs:
            uses[i] = uses.get(i, 0) + 1
    taken = {node.label for node in order if node.label}
    leaf_names = {node.label for node in order if node.label and node.is_leaf()}
    used_names: set[str] = set()
    counter = 0

    texts: dict[Value, _Text] = {}
    definitions: list[tuple[str, _Text]] = []
    for node in order:
        if node.is_leaf():
            texts[node] = _leaf(node)
            continue
        text = _write(node, [texts[i] for i in node.inputs])
        shared = node is not root and uses.get(node, 0) > 1
        if (shared and node.label and _SIMPLE_NAME.match(node.label)
                and node.label not in used_names and node.label not in leaf_names):
            name = node.label
        elif shared and text.length > max_inline:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            name = f"t{counter}"
        else:
            texts[node] = text
            continue
        used_names.add(name)
        definitions.append((name, text))
        texts[node] = _word(name)
    result = _flatten(texts[root].rope)
    if definitions:
        result += "\nwhere\n" + "\n".join(f"  {n} = {_flatten(t.rope)}" for n, t in definitions)
    return result

"""One notation for every teaching tool: how a node, a number and a formula are written.

``formula``, ``explain`` (its text, HTML and page), ``gradient_paths``,
``draw_graph``, ``gradcheck`` and ``layer_view`` all write through this file,
so the same node reads the same everywhere.

**Numbers** have 4 significant digits (``DIGITS``): ``0.07065``, ``-2.929``,
``1e-12``; ``-0.0`` is written ``0``. For more, wrap the call in
``with precision(10): ...`` or call ``set_precision(10)`` once for the session.

>>> number(1 - 0.929349), number(-2.0), number(2.5e-12)
('0.07065', '-2', '2.5e-12')
>>> with precision(8):
...     number(1 - 0.929349)
'0.070651'

**Formulas** use one operator style, the rule table's: ``+ - * /`` with spaces,
``^`` for powers, functions as ``tanh(x)``, and only the parentheses that
precedence needs (``tanh(a * b)``, never ``tanh((a * b))``; negative numbers in
parentheses where a minus would otherwise change the reading: ``a * (-2)``,
``(-2)^2``, ``1 - (-3)``), so each written formula reads to its number. Each
op is written from its rule's templates (``Rule.expression``, ``Rule.latex``,
``Rule.derivatives``, ``Rule.derivatives_latex``; see ``templates.py``), so an
op added to the table is written correctly with no change here. A local
derivative is read from its text form (``Rule.derivatives``), with the numbers of
the node put in (its constant, the numbers mixed into it) and simplified where
that is exact (``2 * x``, never ``2 * x^(2 - 1)``: ``templates.simplify``); its LaTeX
is written from the same reading, each function by its rule's ``latex``. If the
reader does not know a formula's syntax, the rule's templates are used as they are.

**Names.** ``Notation(root)`` names every node of one graph:

1. its label (control characters escaped visibly, ``\\n``; a label shared by
   several nodes gets ``#1``, ``#2``... in the order of the graph);
2. else, for a number mixed into an expression (an unlabelled leaf), the number;
3. else a readable expression of its inputs' names, ``a * b``, ``tanh(a * b)``,
   when it has at most ``NAME_LIMIT`` characters;
4. else a short name ``v<k>``, where ``k`` numbers the nodes from the inputs up
   (the same ``k`` as the drawing's node id ``v<k>``). A tool that writes such a
   name also writes its definition (``where v8 = a^2 / (sigmoid(b) + c)``):
   ``Notation.where`` gives the definitions a text needs.

>>> from engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b + a.tanh()
>>> n = Notation(c)
>>> [n.name(x) for x in (c, c.inputs[0], c.inputs[1])]
['a * b + tanh(a)', 'a * b', 'tanh(a)']
>>> n.local_formula(c.inputs[1], 0), n.local_latex(c.inputs[1], 0)
('1 - tanh(a)^2', '1 - \\\\tanh^{2} a')

Every name and formula has its LaTeX too (``Notation.latex``,
``Notation.local_latex``), for typeset output.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Real

from ..ops import RULES
from ..value import Value
from .templates import (
    ATOM,
    NEG,
    POWER,
    PRODUCT,
    SUM,
    Piece,
    Template,
    flatten,
    parse,
    render,
    simplify,
)

__all__ = ["DIGITS", "NAME_LIMIT", "precision", "set_precision", "current_digits", "number",
           "magnitude", "latex_number", "visible", "latex_label", "forward_order", "Notation",
           "number_piece", "factor"]

#: Significant digits of every number the tools print (``precision`` changes it).
DIGITS = 4
#: A node's written expression is its name up to this many characters; longer: ``v<k>``.
NAME_LIMIT = 28

_default_digits = DIGITS
_override: ContextVar[int | None] = ContextVar("chainrule_digits", default=None)


def _check_digits(digits: object) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int):
        raise TypeError(f"precision: digits must be an int from 1 to 17, got "
                        f"{type(digits).__name__} {digits!r}")
    if not 1 <= digits <= 17:
        raise ValueError(f"precision: digits must be from 1 to 17 (17 shows every float "
                         f"exactly), got {digits}")
    return digits


def current_digits() -> int:
    """The significant digits numbers are printed with now (4 unless changed)."""
    override = _override.get()
    return _default_digits if override is None else override


@contextmanager
def precision(digits: int) -> Iterator[None]:
    """Print numbers with ``digits`` significant digits inside this block.

    >>> with precision(10):
    ...     number(2 / 3)
    '0.6666666667'

    It nests, and holds per thread (and per asyncio task). 17 digits show every
    float exactly (``float(number(x)) == x``).
    """
    token = _override.set(_check_digits(digits))
    try:
        yield
    finally:
        _override.reset(token)


def set_precision(digits: int = DIGITS) -> None:
    """Print numbers with ``digits`` significant digits from now on (default: back to 4)."""
    global _default_digits
    _default_digits = _check_digits(digits)


_EXPONENT = re.compile(r"e([+-])0*(\d)")


def _as_float(x: object, what: str = "number") -> float:
    if isinstance(x, float):
        return x
    if isinstance(x, Real):
        return float(x)
    raise TypeError(f"{what}: expected a real number, got {type(x).__name__} {x!r}")


def number(x: float, digits: int | None = None) -> str:
    """``x`` for people: ``digits`` (default: the current precision) significant digits.

    >>> number(0.1 + 0.2), number(-0.0), number(1e16), number(float("-inf"))
    ('0.3', '0', '1e16', '-inf')
    """
    x = _as_float(x)
    d = current_digits() if digits is None else _check_digits(digits)
    if x != x:
        return "nan"
    if x == 0.0:
        return "0"  # -0.0 too: a sign on zero only confuses a reader
    text = f"{x:.{d}g}"
    if "e" in text:  # 1e-07 -> 1e-7, 1e+16 -> 1e16
        text = _EXPONENT.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                             text)
    return text


def magnitude(x: float) -> str:
    """A size such as a relative error: 2 significant digits in scientific form.

    >>> magnitude(3.14159e-10), magnitude(0.0)
    ('3.1e-10', '0')
    """
    x = _as_float(x)
    if x != x or x in (math.inf, -math.inf):
        return number(x)
    if x == 0.0:
        return "0"
    return _EXPONENT.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                         f"{x:.1e}")


def latex_number(x: float, digits: int | None = None) -> str:
    r"""``number(x)`` in LaTeX: ``2.5 \times 10^{-12}``, ``\infty``, ``\mathrm{NaN}``.

    >>> latex_number(2.5e-12), latex_number(-1e16), latex_number(float("inf"))
    ('2.5 \\times 10^{-12}', '-10^{16}', '\\infty')
    """
    text = number(x, digits)
    if text == "nan":
        return r"\mathrm{NaN}"
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    if body == "inf":
        return sign + r"\infty"
    if "e" in body:
        mantissa, exponent = body.split("e")
        power = f"10^{{{exponent}}}"
        return sign + (power if mantissa == "1" else f"{mantissa} \\times {power}")
    return text


def number_piece(x: float, latex: bool = False) -> Piece:
    """A number as a piece of a formula (kind NEG when it starts with a minus)."""
    text = latex_number(x) if latex else number(x)
    if text.startswith("-"):
        kind = NEG
    elif latex and r"\times" in text:
        kind = PRODUCT
    elif latex and "^" in text:
        kind = POWER
    else:
        kind = ATOM
    return Piece.of(text, kind)


# --- labels: escaped visibly, named in LaTeX ---------------------------------------

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Bidirectional controls reorder the text around them: a label must not do that.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object) -> str:
    r"""``text`` with every character that would break a line, a table or an encoder
    written visibly: control characters (``\n``, ``\x1b``), lone surrogates
    (``\ud800``), line separators and bidirectional controls. Everything else,
    accents and emoji included, is kept.

    >>> visible("a\nb\x1b[31m"), visible("\ud800"), visible("naïve θ")
    ('a\\nb\\x1b[31m', '\\ud800', 'naïve θ')
    """
    text = text if type(text) is str else str(text)
    if text.isprintable():
        return text
    return "".join(
        _escape(ch) if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI
        else ch
        for ch in text
    )


_GREEK = frozenset("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
                   "pi rho sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi "
                   "Sigma Phi Psi Omega".split())
_INDEXED = re.compile(r"([A-Za-z]+)_?(\d+(?:[.,]\d+)*)")
_LATEX_SPECIAL = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                  "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\wedge ", "~": r"\sim ",
                  "<": "<", ">": ">", "|": r"\vert "}


def _latex_word(word: str) -> str:
    if len(word) == 1:
        return word
    if word in _GREEK:
        return "\\" + word
    return rf"\mathrm{{{word}}}"


def latex_label(label: str) -> str:
    r"""A label in LaTeX: ``x`` as is, ``w1.2`` as ``w_{1.2}``, ``theta`` as ``\theta``,
    ``loss`` as ``\mathrm{loss}``; anything else as ``\text{...}`` with LaTeX's
    special characters escaped, so no label can inject LaTeX.

    >>> latex_label("w1.2"), latex_label("x_3"), latex_label("loss"), latex_label("a&b")
    ('w_{1.2}', 'x_{3}', '\\mathrm{loss}', '\\text{a}\\&\\text{b}')
    """
    label = visible(label)
    if re.fullmatch(r"[A-Za-z]+", label):
        return _latex_word(label)
    m = _INDEXED.fullmatch(label)
    if m:
        return f"{_latex_word(m.group(1))}_{{{m.group(2)}}}"
    out: list[str] = []
    plain = ""
    for ch in label:
        if ch in _LATEX_SPECIAL:
            if plain:
                out.append(rf"\text{{{plain}}}")
                plain = ""
            out.append(_LATEX_SPECIAL[ch])
        else:
            plain += ch
    if plain:
        out.append(rf"\text{{{plain}}}")
    return "".join(out).strip()


# --- the graph, in the order every tool numbers it --------------------------------


def forward_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after its inputs: an iterative depth-first
    post-order visiting inputs in operand order, so the numbering reads like the
    computation was written (and never depends on memory addresses). Node ``k``
    of this list is ``v<k>`` in names and drawings."""
    order: list[Value] = []
    seen = {root}
    stack = [(root, 0)]
    while stack:
        node, i = stack[-1]
        inputs = node.inputs
        if i < len(inputs):
            stack[-1] = (node, i + 1)
            child = inputs[i]
            if child not in seen:
                seen.add(child)
                stack.append((child, 0))
        else:
            stack.pop()
            order.append(node)
    return order


#: A label used as a name where a plain word would be: no parentheses around it.
_SIMPLE_NAME = re.compile(r"[\w.\[\]'#]+")


def factor(piece: Piece, latex: bool = False) -> str:
    """``piece`` as one factor of a product, in parentheses unless it binds tighter
    than ``*`` and does not start with a minus: ``1 * (1 - tanh(a)^2)``, ``1 * (-3)``."""
    if piece.kind in (ATOM, POWER) or (piece.kind == PRODUCT and not latex):
        return piece.text()
    return rf"\left({piece.text()}\right)" if latex else f"({piece.text()})"


class Notation:
    """How every node of the graph of ``root`` is written (see the module docstring).

    Attributes:
        root: the node the graph was read from.
        order: every node, inputs before the nodes that use them (``forward_order``).
        index: node -> its position ``k`` in ``order`` (``v<k>``).
    """

    def __init__(self, root: Value, order: Sequence[Value] | None = None) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"Notation needs a Value, got {type(root).__name__} {root!r}")
        self.root = root
        self.order: list[Value] = list(order) if order is not None else forward_order(root)
        self.index: dict[Value, int] = {node: k for k, node in enumerate(self.order)}
        labels: dict[str, int] = {}
        for node in self.order:
            if node.label:
                labels[node.label] = labels.get(node.label, 0) + 1
        self._labels = labels
        self.prefix = self._short_prefix()
        self._latex: dict[Value, Piece] | None = None
        seen: dict[str, int] = {}
        self._labelled = {node: self._label_piece(node, seen) for node in self.order if node.label}
        # The names of the other nodes are made on first use (formula needs few of them).
        self._names: tuple[dict[Value, Piece], dict[Value, Piece]] | None = None

    @property
    def _pieces(self) -> dict[Value, Piece]:
        """The name of every node, as a piece."""
        return self._all_names()[0]

    @property
    def _defined(self) -> dict[Value, Piece]:
        """The nodes named ``v<k>``, with their expressions."""
        return self._all_names()[1]

    def _all_names(self) -> tuple[dict[Value, Piece], dict[Value, Piece]]:
        if self._names is None:
            pieces: dict[Value, Piece] = {}
            defined: dict[Value, Piece] = {}
            for node in self.order:
                if node.label:
                    pieces[node] = self._labelled[node]
                elif node.is_leaf():
                    pieces[node] = number_piece(node.data)
                else:
                    expression = self._write(node, pieces, latex=False)
                    if expression.length <= NAME_LIMIT:
                        pieces[node] = Piece.of(expression.text(), expression.kind)
                    else:
                        defined[node] = expression
                        pieces[node] = Piece.of(self.short_name(node))
            self._names = (pieces, defined)
        return self._names

    # --- names -------------------------------------------------------------------

    def _short_prefix(self) -> str:
        """The letter of the short names: ``v``, unless a label already looks like one."""
        for prefix in ("v", "t", "u", "n", "node"):
            pattern = re.compile(re.escape(prefix) + r"\d+")
            if not any(pattern.fullmatch(label) for label in self._labels):
                return prefix
        return "node_"

    def short_name(self, node: Value) -> str:
        """``v<k>``: the node's number in this graph, as a name."""
        return f"{self.prefix}{self.index[node]}"

    def _label_piece(self, node: Value, seen: dict[str, int]) -> Piece:
        name = visible(node.label)
        if self._labels[node.label] > 1:
            seen[node.label] = seen.get(node.label, 0) + 1
            name = f"{name}#{seen[node.label]}"
        return Piece.of(name, ATOM if _SIMPLE_NAME.fullmatch(name) else SUM)

    def name(self, node: Value) -> str:
        """How every tool names ``node``: its label, its number, a short expression or ``v<k>``."""
        return flatten(self._piece(node).rope)

    def piece(self, node: Value) -> Piece:
        """The node's name as a piece of a bigger formula (it knows how it binds)."""
        return self._piece(node)

    def _piece(self, node: Value) -> Piece:
        if node not in self.index:
            raise ValueError(f"{node!r} is not in the graph of {self.name(self.root)}")
        if node.label:
            return self._labelled[node]
        if node.is_leaf():
            return number_piece(node.data)
        return self._pieces[node]

    def is_label(self, node: Value) -> bool:
        """True if the node is named by its (escaped) label."""
        return bool(node.label)

    def is_short(self, node: Value) -> bool:
        """True if the node is named ``v<k>`` (and needs a definition where it is used)."""
        return node in self._defined

    def expression(self, node: Value) -> str:
        """The node written from its inputs' names: ``a * b`` (a leaf: its name)."""
        if node.is_leaf():
            return self.name(node)
        return self._write(node, self._pieces, latex=False).text()

    def symbol(self, node: Value) -> str:
        """The op as a short mark for a drawing: ``*``, ``tanh``, ``^2`` (empty for a leaf)."""
        rule = node.rule
        if rule is None:
            return ""
        if node.arg is not None:
            return f"{rule.symbol}{number(node.arg)}"
        return rule.symbol

    # --- writing an op -----------------------------------------------------------------

    def _write(self, node: Value, pieces: dict[Value, Piece], latex: bool) -> Piece:
        """The node's op, written with ``pieces[input]`` for its inputs."""
        rule = node.rule
        assert rule is not None
        template = rule.latex if latex else rule.expression
        return write(node, template, [pieces[i] for i in node.inputs], latex)

    def local_formula(self, node: Value, position: int) -> str:
        """d(node)/d(input ``position``) as text, with the inputs' names:
        for ``c ** a``: ``a * c^(a - 1)``; for ``x ** 2``: ``2 * x`` (simplified
        where exact once the numbers are in: ``templates.simplify``)."""
        return self.local_piece(node, position).text()

    def local_piece(self, node: Value, position: int, latex: bool = False) -> Piece:
        """``local_formula`` (or its LaTeX) as a piece of a bigger formula."""
        rule = node.rule
        if rule is None:
            raise ValueError(f"{node!r} is a leaf: it has no local derivatives")
        pieces = self._latex_pieces() if latex else self._pieces
        operands = [pieces[i] for i in node.inputs]
        names = rule.operands
        numbers: list[float | None] = [
            i.data if (i.is_leaf() and not i.label) else None for i in node.inputs]
        if node.arg is not None:
            names = names + ("c",)
            operands.append(number_piece(node.arg, latex))
            numbers.append(node.arg)
        try:
            tree = parse(rule.derivatives[position], names)
        except ValueError:  # a formula this reader does not know: the rule's own template
            template = (rule.derivatives_latex if latex else rule.derivatives)[position]
            return write(node, template, operands[:len(node.inputs)], latex)
        return render(simplify(tree, numbers), operands, number_piece, latex, _functions())

    def local_latex(self, node: Value, position: int) -> str:
        """``local_formula`` in LaTeX, from the rule's ``derivatives_latex``."""
        return self.local_piece(node, position, latex=True).text()

    # --- LaTeX -------------------------------------------------------------------------

    def _latex_pieces(self) -> dict[Value, Piece]:
        if self._latex is None:  # made on first use: most drawings never need it
            latex: dict[Value, Piece] = {}
            for node in self.order:
                if node.label:
                    name = self.name(node)
                    base, _, copy = name.rpartition("#") if self._labels[node.label] > 1 \
                        else (name, "", "")
                    text = latex_label(node.label)
                    latex[node] = Piece.of(f"{{{text}}}^{{({copy})}}" if copy else text)
                elif node.is_leaf():
                    latex[node] = number_piece(node.data, latex=True)
                elif node in self._defined:
                    latex[node] = Piece.of(f"{self.prefix}_{{{self.index[node]}}}")
                else:
                    latex[node] = self._write(node, latex, latex=True)
            self._latex = latex
        return self._latex

    def latex(self, node: Value) -> str:
        """The node's name in LaTeX (``w_{1.2}``, ``a \\, b``, ``v_{8}``)."""
        return self._latex_pieces()[node].text()

    def expression_latex(self, node: Value) -> str:
        """``expression`` in LaTeX."""
        if node.is_leaf():
            return self.latex(node)
        return self._write(node, self._latex_pieces(), latex=True).text()

    # --- definitions of short names ---------------------------------------------------

    def where(self, nodes: Iterable[Value] = (), texts: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The definitions ``(v<k>, expression)`` that make ``nodes`` and ``texts`` readable.

        Every short name among the names of ``nodes`` or appearing in ``texts``,
        and the short names their definitions use in turn, innermost first.
        """
        return [(self.short_name(n), self._defined[n].text())
                for n in self.where_nodes(nodes, texts)]

    def where_latex(self, nodes: Iterable[Value] = (),
                    texts: Iterable[str] = ()) -> list[tuple[str, str]]:
        """``where`` in LaTeX: ``(v_{k}, expression)`` pairs, innermost first."""
        return [(self.latex(n), self.expression_latex(n)) for n in self.where_nodes(nodes, texts)]

    def where_nodes(self, nodes: Iterable[Value] = (), texts: Iterable[str] = ()) -> list[Value]:
        """The nodes named ``v<k>`` that ``where(nodes, texts)`` defines, innermost first."""
        wanted: set[Value] = set()
        pattern = re.compile(rf"\b{re.escape(self.prefix)}(\d+)\b")
        texts = [self.name(n) for n in nodes] + list(texts)  # a name may hold v<k>: tanh(v9)
        for text in texts:
            for m in pattern.finditer(text):
                k = int(m.group(1))
                if k < len(self.order) and self.order[k] in self._defined:
                    wanted.add(self.order[k])
        stack = list(wanted)
        while stack:  # their definitions may use other short names
            node = stack.pop()
            for i in node.inputs:
                if i in self._defined and i not in wanted:
                    wanted.add(i)
                    stack.append(i)
        return sorted(wanted, key=self.index.__getitem__)

    def where_text(self, nodes: Iterable[Value] = (), texts: Iterable[str] = ()) -> str:
        """``where v8 = ...; v9 = ...`` for ``where(nodes, texts)``, or ``""`` if none."""
        found = self.where(nodes, texts)
        if not found:
            return ""
        return "where " + "; ".join(f"{name} = {text}" for name, text in found)

    @property
    def definitions(self) -> list[tuple[str, str]]:
        """Every short name of the graph with its definition, innermost first."""
        return [(self.short_name(n), self._defined[n].text())
                for n in sorted(self._defined, key=self.index.__getitem__)]

    def __repr__(self) -> str:
        return (f"Notation({self.name(self.root)!r}: {len(self.order)} nodes, "
                f"{len(self._defined)} short names)")


def write(node: Value, template: str, inputs: Sequence[Piece], latex: bool = False) -> Piece:
    """``template`` (one of ``node.rule``'s formulas) filled with ``inputs`` (the pieces
    of ``node.inputs``, in order) and the op's constant, if any, for ``c``."""
    rule = node.rule
    assert rule is not None  # a leaf has no formula
    arg = node.arg
    if arg is None:
        return _template(template, rule.operands, latex).fill(inputs)
    names = rule.operands + ("c",)
    return _template(template, names, latex).fill([*inputs, number_piece(arg, latex)])


_TEMPLATES: dict[tuple[str, tuple[str, ...], bool], Template] = {}
_FUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {}
_FUNCTIONS_KEY: list[tuple] = [()]


def _functions() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each one-operand function of the rule table by name, with its LaTeX template:
    ``"tanh": (r"\\tanh x", ("x",))``, for writing calls inside derivatives."""
    key = tuple(map(id, RULES.values()))
    if key == _FUNCTIONS_KEY[0]:
        return _FUNCTIONS
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for rule in RULES.values():
        m = re.fullmatch(r"([A-Za-z_]\w*)\((\w+)\)", rule.expression)
        if m and rule.operands == (m.group(2),):
            found[m.group(1)] = (rule.latex, rule.operands)
    _FUNCTIONS.clear()  # the table can grow (a test adds an op): read again when it changes
    _FUNCTIONS.update(found)
    _FUNCTIONS_KEY[0] = key
    return _FUNCTIONS


def _template(template: str, names: tuple[str, ...], latex: bool) -> Template:
    """``Template.compile``, looked up once per node in a plain dict (the hot path)."""
    key = (template, names, latex)
    found = _TEMPLATES.get(key)
    if found is None:
        found = _TEMPLATES[key] = Template.compile(template, names, latex)
    return found

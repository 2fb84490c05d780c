"""Filling a rule's formula with operands, with exactly the parentheses needed.

The rule table (``engine/ops.py``) writes each op and each local derivative as
a template over its operand names: ``"a * b"``, ``"c * x^(c - 1)"``,
``r"\\frac{a}{b}"``, ``r"1 - \\tanh^{2} x"``. A tool writing a node puts its
inputs' texts in place of the names. Whether an input needs parentheses
depends on two things only:

* the input's **kind**: how loosely it binds (a sum ``a + b``, a product,
  a negative ``-3``, a power, an atom such as ``x1`` or ``tanh(a)``);
* the slot's **context**: what stands right before and right after the
  operand name in the template (``-`` then nothing: ``1 - b`` needs
  ``1 - (x + y)`` and ``1 - (-2)``; ``^`` after: a base, ``(-2)^2``).

``Template.compile`` reads the template once (cached), works out for every
slot the set of kinds that may stand there without parentheses, and the kind
of the filled result; ``Template.fill`` is then a few list appends per node,
so writing a graph a million nodes deep costs time linear in its size. Texts
are kept as *ropes* (a str or a list of ropes), joined once at the end.

Any op added to the table is written correctly without touching this file,
as long as its templates use the notation of the table: in text ``+ - * /``,
``^`` for powers, ``name(args)`` for functions, ``p if q else r`` and
comparisons; in LaTeX the usual commands (``\\frac``, ``\\sqrt``, ``^{}``,
function names such as ``\\tanh`` or ``\\operatorname{softplus}``, ``\\,`` for
products), with each operand a separate one-letter token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["Piece", "Template", "flatten", "COND", "SUM", "PRODUCT", "APPLY", "NEG", "FRAC",
           "POWER", "ATOM"]

# --- kinds: how loosely a written expression binds --------------------------------
COND = 0  # p if q else r, x > 0
SUM = 1  # a + b, a - b
PRODUCT = 2  # a * b, a / b, 2 \sqrt{x}
APPLY = 3  # LaTeX only: a function applied without parentheses, \tanh x
NEG = 4  # -x, -3, -a / b (starts with a minus)
FRAC = 5  # LaTeX only: \frac{a}{b}
POWER = 6  # a^b
ATOM = 7  # x1, 2, tanh(a), (a + b), \sqrt{x}

_ALL = frozenset(range(8))
ANY = _ALL
NOT_COND = _ALL - {COND}
AFTER_PLUS = _ALL - {COND, NEG}  # a + (-2)
AFTER_MINUS = frozenset({PRODUCT, APPLY, FRAC, POWER, ATOM})  # a - (b + c), a - (-2)
NEGATED = frozenset({APPLY, FRAC, POWER, ATOM})  # -(a * b), -(-a)
LEFT_FACTOR = frozenset({PRODUCT, NEG, FRAC, POWER, ATOM})  # (a + b) * c, -a * b
RIGHT_FACTOR = frozenset({PRODUCT, APPLY, FRAC, POWER, ATOM})  # a * (b + c), a * (-2)
DIVISOR = frozenset({APPLY, FRAC, POWER, ATOM})  # a / (b * c)
BASE = frozenset({ATOM})  # (a + b)^2, (-2)^2, (a^b)^c
EXPONENT = frozenset({ATOM})  # a^(b + c), a^(-1), a^(b^c)
ARGUMENT = frozenset({ATOM})  # \tanh\left(a + b\right)

Rope = str | list  # a str, or a list of ropes


class Piece:
    """A written expression: its rope, its length in characters and its kind."""

    __slots__ = ("rope", "length", "kind")

    def __init__(self, rope: Rope, length: int, kind: int) -> None:
        self.rope = rope
        self.length = length
        self.kind = kind

    @classmethod
    def of(cls, text: str, kind: int = ATOM) -> Piece:
        """A piece holding ``text`` as it is."""
        return cls(text, len(text), kind)

    def text(self) -> str:
        """The expression as one str."""
        return flatten(self.rope)

    def __repr__(self) -> str:
        return f"Piece({self.text()!r}, kind={self.kind})"


def flatten(rope: Rope) -> str:
    """Join a rope into one str, without recursion."""
    if isinstance(rope, str):
        return rope
    out: list[str] = []
    stack: list[Rope] = [rope]
    while stack:
        piece = stack.pop()
        if isinstance(piece, str):
            out.append(piece)
        else:
            stack.extend(reversed(piece))
    return "".join(out)


_JOIN_BELOW = 64  # texts up to this long are kept as one str

# A slot: (operand position, kinds allowed there bare, how to wrap otherwise).
_Slot = tuple[int, frozenset, str]


class Template:
    """One rule formula, read once: literal text and operand slots.

    >>> t = Template.compile("c * x^(c - 1)", ("x", "c"))
    >>> t.fill([Piece.of("a + b", SUM), Piece.of("-2", NEG)]).text()
    '-2 * (a + b)^(-2 - 1)'
    """

    __slots__ = ("parts", "kind", "latex")

    def __init__(self, parts: list[str | _Slot], kind: int | None, latex: bool) -> None:
        self.parts = parts
        self.kind = kind  # None: the template is one bare slot, the result has its kind
        self.latex = latex

    @staticmethod
    @lru_cache(maxsize=512)
    def compile(template: str, names: tuple[str, ...], latex: bool = False) -> Template:
        """Read ``template`` (text, or LaTeX with ``latex=True``) with operand ``names``;
        ``fill`` then takes the operands' pieces in the order of ``names``."""
        return (_compile_latex if latex else _compile_text)(template, names)

    def fill(self, operands: Sequence[Piece]) -> Piece:
        """The template with each operand name replaced by its piece (``operands[i]``
        for ``names[i]``), parenthesised where its kind may not stand bare."""
        rope: list[Rope] = []
        length = 0
        kind = self.kind
        flat = True  # every part a str: join them now, so short texts stay plain strs
        for part in self.parts:
            if isinstance(part, str):
                rope.append(part)
                length += len(part)
                continue
            position, allowed, wrap = part
            piece = operands[position]
            if piece.kind in allowed:
                opened = closed = ""
                inner = piece.kind
            elif wrap == "brace":
                opened, closed, inner = "{", "}", ATOM
            elif self.latex:
                opened, closed, inner = r"\left(", r"\right)", ATOM
            else:
                opened, closed, inner = "(", ")", ATOM
            if isinstance(piece.rope, str):
                rope.append(opened + piece.rope + closed)
            else:
                flat = False
                rope.append([opened, piece.rope, closed] if opened else piece.rope)
            length += piece.length + len(opened) + len(closed)
            if kind is None:
                kind = inner
        if flat and length <= _JOIN_BELOW:  # short: one str (long: a rope, joined once)
            return Piece("".join(r for r in rope if isinstance(r, str)), length,
                         ATOM if kind is None else kind)
        return Piece(rope, length, ATOM if kind is None else kind)

    def __repr__(self) -> str:
        shown = "".join(p if isinstance(p, str) else f"<{p[0]}>" for p in self.parts)
        return f"Template({shown!r}, kind={self.kind}, latex={self.latex})"


def _merge(parts: list[str | _Slot]) -> list[str | _Slot]:
    merged: list[str | _Slot] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        elif p != "":
            merged.append(p)
    return merged


# --- text templates ---------------------------------------------------------------

_TEXT_TOKEN = re.compile(r"\s+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|>=|<=|==|!=|.", re.S)
_WORDS = frozenset({"if", "else", "and", "or", "not"})
_COMPARE = frozenset({"<", ">", "<=", ">=", "==", "!="})


def _compile_text(template: str, names: tuple[str, ...]) -> Template:
    tokens = _TEXT_TOKEN.findall(template)
    solid = [k for k, t in enumerate(tokens) if not t.isspace()]
    position = {k: n for n, k in enumerate(solid)}

    def neighbour(k: int, step: int) -> str | None:
        n = position[k] + step
        return tokens[solid[n]] if 0 <= n < len(solid) else None

    def is_slot(k: int) -> bool:
        return tokens[k] in names and neighbour(k, 1) != "("

    def ends_operand(t: str | None) -> bool:
        return t is not None and (t == ")" or t[0].isalnum() or t[0] in "_.") and t not in _WORDS

    parts: list[str | _Slot] = []
    for k, token in enumerate(tokens):
        if token.isspace() or not is_slot(k):
            parts.append(token)
            continue
        before, after = neighbour(k, -1), neighbour(k, 1)
        if before is None or before in ("(", ","):
            left = ANY
        elif before in _WORDS or before in _COMPARE:
            left = NOT_COND
        elif before == "+":
            left = AFTER_PLUS
        elif before == "-":
            left = AFTER_MINUS if ends_operand(neighbour(solid[position[k] - 1], -1)) else NEGATED
        elif before == "/":
            left = DIVISOR
        elif before == "^":
            left = EXPONENT
        else:  # "*", or a juxtaposition
            left = RIGHT_FACTOR
        if after is None or after in (")", ","):
            right = ANY
        elif after in _WORDS or after in _COMPARE or after in ("+", "-"):
            right = NOT_COND
        elif after == "^":
            right = BASE
        else:  # "*", "/"
            right = LEFT_FACTOR
        parts.append((names.index(token), left & right, "paren"))
    return Template(_merge(parts), _text_kind(tokens, is_slot), latex=False)


def _text_kind(tokens: list[str], is_slot) -> int | None:
    """How the whole text binds, from its tokens outside parentheses."""
    top: list[tuple[int, str]] = []
    depth = 0
    for k, t in enumerate(tokens):
        if t == "(":
            if depth == 0:
                top.append((k, t))
            depth += 1
        elif t == ")":
            depth -= 1
        elif depth == 0 and not t.isspace():
            top.append((k, t))
    texts = [t for _, t in top]
    if any(t in _WORDS or t in _COMPARE for t in texts):
        return COND
    for n, t in enumerate(texts):
        if t in ("+", "-") and n > 0 and texts[n - 1] not in ("+", "-", "*", "/", "^"):
            return SUM
    if texts and texts[0] == "-":
        return NEG
    if "*" in texts or "/" in texts:
        return PRODUCT
    if "^" in texts:
        return POWER
    if len(top) == 1 and is_slot(top[0][0]):
        return None
    return ATOM


# --- LaTeX templates --------------------------------------------------------------

_LATEX_TOKEN = re.compile(r"\s+|\\[A-Za-z]+\*?|\\.|\d+(?:\.\d+)?|[A-Za-z]|.", re.S)
#: Commands whose brace argument is text, never an operand (\operatorname{max}).
_OPAQUE = frozenset({r"\operatorname", r"\operatorname*", r"\mathrm", r"\text", r"\textrm",
                     r"\textit", r"\textbf", r"\mathit", r"\mathbf", r"\mathsf", r"\mathtt",
                     r"\mathcal", r"\mathbb"})
#: Commands written before their argument, like a function name (\tanh x).
_FUNCTIONS = frozenset(rf"\{f}" for f in (
    "sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "arcsin",
    "arccos", "arctan", "ln", "log", "lg", "exp", "det", "min", "max", "arg", "sgn"))
#: How many brace arguments a command takes (others: none).
_ARITY = {r"\frac": 2, r"\dfrac": 2, r"\tfrac": 2, r"\sqrt": 1, r"\hat": 1, r"\bar": 1,
          r"\tilde": 1, r"\vec": 1, r"\dot": 1, r"\ddot": 1, r"\overline": 1,
          r"\boldsymbol": 1, **{c: 1 for c in _OPAQUE}}
_FACTOR = frozenset({r"\,", r"\;", r"\:", r"\!", "\\ ", r"\cdot", r"\times", "/"})
_LATEX_COMPARE = frozenset({"=", "<", ">", r"\le", r"\leq", r"\ge", r"\geq", r"\ne", r"\neq",
                            r"\lt", r"\gt"})
_OPEN = frozenset({"{", "(", "[", r"\lvert", r"\lbrace", r"\langle"})
_CLOSE = frozenset({"}", ")", "]", r"\rvert", r"\rbrace", r"\rangle"})


def _latex_tokens(template: str) -> list[str]:
    """Tokens, with ``\\left(`` and ``\\right)`` kept as one token each."""
    raw = _LATEX_TOKEN.findall(template)
    tokens: list[str] = []
    k = 0
    while k < len(raw):
        t = raw[k]
        if t in (r"\left", r"\right", r"\bigl", r"\bigr") and k + 1 < len(raw):
            tokens.append(t + raw[k + 1])
            k += 2
            continue
        tokens.append(t)
        k += 1
    return tokens


def _opens(t: str) -> bool:
    return t in _OPEN or t.startswith((r"\left", r"\bigl"))


def _closes(t: str) -> bool:
    return t in _CLOSE or t.startswith((r"\right", r"\bigr"))


def _compile_latex(template: str, names: tuple[str, ...]) -> Template:
    tokens = _latex_tokens(template)
    n = len(tokens)
    match: dict[int, int] = {}  # opener <-> closer
    stack: list[int] = []
    for k, t in enumerate(tokens):
        if _opens(t):
            stack.append(k)
        elif _closes(t) and stack:
            o = stack.pop()
            match[o], match[k] = k, o
    opaque: set[int] = set()  # tokens inside \operatorname{...} and the like
    for k, t in enumerate(tokens):
        if t in _OPAQUE:
            j = _skip_space(tokens, k + 1, 1)
            if j < n and tokens[j] == "{" and j in match:
                opaque.update(range(j, match[j] + 1))

    def solid(k: int, step: int) -> int | None:
        j = _skip_space(tokens, k + step, step)
        return j if 0 <= j < n else None

    def is_slot(k: int) -> bool:
        return tokens[k] in names and k not in opaque

    def ends_item(j: int | None) -> bool:
        if j is None:
            return False
        t = tokens[j]
        if _closes(t) or t[0].isalnum() or t == "'":
            return True
        return t.startswith("\\") and t not in _FACTOR and t not in _LATEX_COMPARE \
            and not _opens(t) and t not in _FUNCTIONS and t not in _ARITY

    def function_before(j: int) -> bool:
        """Is token j (just before a slot) the end of a function head: \\tanh,
        \\tanh^{2}, \\operatorname{sign}?"""
        t = tokens[j]
        if t in _FUNCTIONS:
            return True
        if t == "}" and j in match:
            o = match[j]
            before = solid(o, -1)
            if before is None:
                return False
            if tokens[before] in (r"\operatorname", r"\operatorname*"):
                return True
            if tokens[before] in ("^", "_"):
                base = solid(before, -1)
                return base is not None and function_before(base)
        if t in ("^", "_"):
            return False
        return False

    parts: list[str | _Slot] = []
    for k, token in enumerate(tokens):
        if token.isspace() or not is_slot(k):
            parts.append(token)
            continue
        b, a = solid(k, -1), solid(k, 1)
        before = tokens[b] if b is not None else None
        after = tokens[a] if a is not None else None
        wrap = "paren"
        if before is None or _opens(before) or before in (",", "&"):
            left = ANY
        elif before in _LATEX_COMPARE:
            left = NOT_COND
        elif before == "+":
            left = AFTER_PLUS
        elif before == "-":
            left = AFTER_MINUS if ends_item(solid(b, -1) if b is not None else None) else NEGATED
        elif before in ("^", "_"):
            left, wrap = frozenset(), "brace"  # e^x: the operand becomes the whole exponent
        elif before == "/":
            left = DIVISOR
        elif b is not None and function_before(b):
            left = ARGUMENT
        else:  # \, \cdot, or juxtaposition
            left = RIGHT_FACTOR
        if after is None or _closes(after) or after in (",", "&"):
            right = ANY
        elif after in _LATEX_COMPARE or after in ("+", "-"):
            right = NOT_COND
        elif after in ("^", "_"):
            right = BASE
        else:
            right = LEFT_FACTOR
        parts.append((names.index(token), left & right if wrap == "paren" else frozenset(), wrap))
    # a script slot (e^x) with a one-token operand needs no braces either: fill() wraps
    # every operand there, which is always right; single letters read the same.
    return Template(_merge(parts), _latex_kind(tokens, match, is_slot), latex=True)


def _skip_space(tokens: list[str], k: int, step: int) -> int:
    while 0 <= k < len(tokens) and tokens[k].isspace():
        k += step
    return k


def _latex_kind(tokens: list[str], match: dict[int, int], is_slot) -> int | None:
    """How the whole LaTeX binds, from its top-level items."""
    n = len(tokens)
    units: list[tuple[int, int]] = []  # top-level units: [start, end] token ranges
    k = 0
    while k < n:
        t = tokens[k]
        if t.isspace():
            k += 1
            continue
        end = match.get(k, k) if _opens(t) else k
        for _ in range(_ARITY.get(t, 0)):  # \frac{a}{b}, \sqrt{x}, \operatorname{sign}
            j = _skip_space(tokens, end + 1, 1)
            if j < n and tokens[j] == "[" and j in match:  # \sqrt[3]{x}
                j = _skip_space(tokens, match[j] + 1, 1)
            if j < n and tokens[j] == "{" and j in match:
                end = match[j]
        units.append((k, end))
        k = end + 1
    texts = [tokens[s] for s, _ in units]
    if any(t in _LATEX_COMPARE for t in texts):
        return COND
    for m, t in enumerate(texts):
        if t in ("+", "-") and m > 0 and texts[m - 1] not in ("+", "-", "^", "_") \
                and texts[m - 1] not in _FACTOR:
            return SUM
    if texts and texts[0] == "-":
        return NEG
    if any(t in _FACTOR for t in texts):
        return PRODUCT
    # group units into items: a base, its scripts; a function head takes its argument
    items: list[str] = []
    m = 0
    while m < len(units):
        head = texts[m]
        function = head in _FUNCTIONS or head in (r"\operatorname", r"\operatorname*")
        scripted = False
        m += 1
        if (head.startswith("\\") and not function and head not in _ARITY and m < len(units)
                and (texts[m] == "(" or texts[m].startswith(r"\left("))):
            m += 1  # \sigma(x): a call, one item
        while m + 1 < len(units) + 1 and m < len(units) and texts[m] in ("^", "_", "'"):
            scripted = scripted or texts[m] == "^"
            m += 1 if texts[m] == "'" else 2
        if function and m < len(units):
            if _opens(texts[m]) and texts[m] != "{":
                items.append("atom")  # \sigma-like call: \operatorname{f}(x)
                m += 1
            else:
                items.append("apply")
                m += 1
                while m < len(units) and texts[m] in ("^", "_", "'"):
                    m += 1 if texts[m] == "'" else 2
            continue
        if scripted:
            items.append("power")
        elif head in (r"\frac", r"\dfrac", r"\tfrac"):
            items.append("frac")
        elif is_slot(units[m - 1][0]) and units[m - 1][0] == units[m - 1][1]:
            items.append("slot")
        else:
            items.append("atom")
    if len(items) != 1:
        return PRODUCT if items else ATOM
    return {"apply": APPLY, "power": POWER, "frac": FRAC, "slot": None}.get(items[0], ATOM)


# --- derivatives, simplified where exact --------------------------------------------
#
# A rule's text derivative is read once into a small tree (``Formula.parse``); for a
# node, the operands that are plain numbers (the op's constant ``c``, a number mixed
# into the expression) are put in as numbers and the tree is simplified where that is
# exact: ``2 * x^(2 - 1)`` becomes ``2 * x``, ``-(-1.5) / x^2`` becomes ``1.5 / x^2``,
# ``x^1`` becomes ``x``, factors ``1`` are dropped. The tree is then written as text and
# as LaTeX with the same parenthesis rules as the templates above; LaTeX functions are
# written from the rule whose ``expression`` is that function (``tanh(x)``: ``\tanh x``).

Tree = tuple  # ("num", v) ("slot", i) ("neg", t) ("bin", op, l, r) ("call", f, args)
#               ("cmp", op, l, r) ("cond", then, test, otherwise)

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


class _Parser:
    def __init__(self, text: str, names: tuple[str, ...]) -> None:
        self.tokens = [t for t in _TEXT_TOKEN.findall(text) if not t.isspace()]
        self.k = 0
        self.names = names
        self.text = text

    def peek(self) -> str | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        t = self.peek()
        if t is None or (expected is not None and t != expected):
            raise ValueError(f"cannot read the formula {self.text!r}: expected "
                             f"{expected or 'more'} at token {self.k}, got {t!r}")
        self.k += 1
        return t

    def cond(self) -> Tree:
        then = self.compare()
        if self.peek() == "if":
            self.take()
            test = self.compare()
            self.take("else")
            return ("cond", then, test, self.cond())
        return then

    def compare(self) -> Tree:
        left = self.sum()
        if self.peek() in _COMPARE:
            op = self.take()
            return ("cmp", op, left, self.sum())
        return left

    def sum(self) -> Tree:
        tree = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            tree = ("bin", op, tree, self.product())
        return tree

    def product(self) -> Tree:
        tree = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            tree = ("bin", op, tree, self.unary())
        return tree

    def unary(self) -> Tree:
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary())
        return self.power()

    def power(self) -> Tree:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return ("bin", "^", base, self.unary())  # right to left: a^b^c = a^(b^c)
        return base

    def atom(self) -> Tree:
        t = self.take()
        if t == "(":
            tree = self.cond()
            self.take(")")
            return tree
        if t[0].isdigit():
            return ("num", float(t))
        if self.peek() == "(":
            self.take()
            args = [self.cond()]
            while self.peek() == ",":
                self.take()
                args.append(self.cond())
            self.take(")")
            return ("call", t, tuple(args))
        if t in self.names:
            return ("slot", self.names.index(t))
        raise ValueError(f"cannot read the formula {self.text!r}: {t!r} is not one of its "
                         f"operands {self.names}")


@lru_cache(maxsize=512)
def parse(text: str, names: tuple[str, ...]) -> Tree:
    """A rule's text formula as a tree, operands as ``("slot", i)`` for ``names[i]``.

    >>> parse("c * x^(c - 1)", ("x", "c"))
    ('bin', '*', ('slot', 1), ('bin', '^', ('slot', 0), ('bin', '-', ('slot', 1), ('num', 1.0))))
    """
    p = _Parser(text, names)
    tree = p.cond()
    if p.peek() is not None:
        raise ValueError(f"cannot read the formula {text!r}: unexpected {p.peek()!r}")
    return tree


def _exact(op: str, a: float, b: float) -> float | None:
    """``a op b`` if the float result is the exact result (so folding changes no number)."""
    from fractions import Fraction

    if not all(map(_finite, (a, b))):
        return None
    try:
        if op == "+":
            r, exact = a + b, Fraction(a) + Fraction(b)
        elif op == "-":
            r, exact = a - b, Fraction(a) - Fraction(b)
        elif op == "*":
            r, exact = a * b, Fraction(a) * Fraction(b)
        else:  # "/" stays written: 1 / (-2) says where its -0.5 comes from
            return None
    except (OverflowError, ValueError):
        return None
    return r if _finite(r) and Fraction(r) == exact else None


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def simplify(tree: Tree, numbers: Sequence[float | None]) -> Tree:
    """``tree`` with ``numbers[i]`` (where not None) put in for slot ``i``, simplified
    where exact: numbers folded, ``x^1 -> x``, ``x^0 -> 1``, ``1 * x -> x``,
    ``x / 1 -> x``, ``x + 0 -> x``, ``-(-2) -> 2``, ``-(-x) -> x``.

    >>> t = parse("c * x^(c - 1)", ("x", "c"))
    >>> simplify(t, [None, 2.0])
    ('bin', '*', ('num', 2.0), ('slot', 0))
    """
    kind = tree[0]
    if kind == "slot":
        v = numbers[tree[1]]
        return tree if v is None else ("num", v)
    if kind == "num":
        return tree
    if kind == "neg":
        return _negate(simplify(tree[1], numbers))
    if kind == "call":
        return ("call", tree[1], tuple(simplify(a, numbers) for a in tree[2]))
    if kind == "cond":
        return ("cond", simplify(tree[1], numbers), simplify(tree[2], numbers),
                simplify(tree[3], numbers))
    if kind == "cmp":
        return ("cmp", tree[1], simplify(tree[2], numbers), simplify(tree[3], numbers))
    op, left, right = tree[1], simplify(tree[2], numbers), simplify(tree[3], numbers)
    lv = left[1] if left[0] == "num" else None
    rv = right[1] if right[0] == "num" else None
    if lv is not None and rv is not None:
        folded = _exact(op, lv, rv)
        if folded is not None:
            return ("num", folded)
    if op == "^":
        if rv == 1.0:
            return left
        if rv == 0.0:
            return ("num", 1.0)  # x^0 = 1 for every float x, as Python says
    elif op == "*":
        if lv == 1.0:
            return right
        if rv == 1.0:
            return left
        if lv == -1.0:
            return _negate(right)
    elif op == "/":
        if rv == 1.0:
            return left
    elif op == "+":
        if lv == 0.0:
            return right
        if rv == 0.0:
            return left
    elif op == "-":
        if rv == 0.0:
            return left
        if lv == 0.0:
            return _negate(right)
    return ("bin", op, left, right)


def _negate(tree: Tree) -> Tree:
    """``-tree``, simplified as ``simplify`` would (``tree`` is simplified already)."""
    if tree[0] == "num":
        return ("num", -tree[1])
    if tree[0] == "neg":
        return tree[1]
    return ("neg", tree)


def _wrap(piece: Piece, allowed: frozenset, latex: bool) -> str:
    if piece.kind in allowed:
        return piece.text()
    return rf"\left({piece.text()}\right)" if latex else f"({piece.text()})"


def render(tree: Tree, operands: Sequence[Piece], number_piece, latex: bool = False,
           functions: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> Piece:
    """``tree`` written as text (or LaTeX), ``operands[i]`` for slot ``i`` and
    ``number_piece(v, latex)`` for numbers, parenthesised by kind as ``Template.fill``
    does. ``functions`` maps a function name to its LaTeX template and operand names
    (``"tanh": (r"\\tanh x", ("x",))``), for the LaTeX of calls.

    >>> t = simplify(parse("c * x^(c - 1)", ("x", "c")), [None, 3.0])
    >>> num = lambda v, latex=False: Piece.of(f"{v:g}", NEG if v < 0 else ATOM)
    >>> render(t, [Piece.of("a + b", SUM)], num).text()
    '3 * (a + b)^2'
    >>> render(t, [Piece.of("a + b", SUM)], num, latex=True).text()
    '3 \\\\, \\\\left(a + b\\\\right)^{2}'
    """
    functions = functions or {}

    def go(t: Tree) -> Piece:
        kind = t[0]
        if kind == "num":
            return number_piece(t[1], latex)
        if kind == "slot":
            return operands[t[1]]
        if kind == "neg":
            return Piece.of("-" + _wrap(go(t[1]), NEGATED, latex), NEG)
        if kind == "call":
            piece = call(t[1], [go(a) for a in t[2]], None)
            assert piece is not None  # with no power, a call is always written
            return piece
        if kind == "cmp":
            op = {"<=": r"\le", ">=": r"\ge", "!=": r"\ne"}.get(t[1], t[1]) if latex else t[1]
            return Piece.of(f"{_wrap(go(t[2]), NOT_COND, latex)} {op} "
                            f"{_wrap(go(t[3]), NOT_COND, latex)}", COND)
        if kind == "cond":
            then, test, otherwise = go(t[1]), go(t[2]), go(t[3])
            if latex and t[1] == ("num", 1.0) and t[3] == ("num", 0.0):
                return Piece.of(f"[{test.text()}]", ATOM)  # Iverson's bracket, as the rules
            if latex:
                return Piece.of(rf"{_wrap(then, NOT_COND, latex)} \text{{ if }} "
                                rf"{test.text()} \text{{ else }} {otherwise.text()}", COND)
            return Piece.of(f"{_wrap(then, NOT_COND, latex)} if {test.text()} else "
                            f"{otherwise.text()}", COND)
        op, left, right = t[1], t[2], t[3]
        if op == "^" and latex and left[0] == "call":
            head = call(left[1], [go(a) for a in left[2]], go(right))
            if head is not None:
                return head
        lp, rp = go(left), go(right)
        if op == "+":
            return Piece.of(f"{_wrap(lp, NOT_COND, latex)} + {_wrap(rp, AFTER_PLUS, latex)}",
                            SUM)
        if op == "-":
            return Piece.of(f"{_wrap(lp, NOT_COND, latex)} - {_wrap(rp, AFTER_MINUS, latex)}",
                            SUM)
        if op == "*":
            ls, rs = _wrap(lp, LEFT_FACTOR, latex), _wrap(rp, RIGHT_FACTOR, latex)
            if not latex:
                return Piece.of(f"{ls} * {rs}", PRODUCT)
            dot = (r" \cdot " if rs[:1].isdigit() or rs[:1] == "-"
                   else " " if rp.kind == APPLY else r" \, ")
            return Piece.of(ls + dot + rs, PRODUCT)
        if op == "/":
            if latex:
                return Piece.of(rf"\frac{{{lp.text()}}}{{{rp.text()}}}", FRAC)
            return Piece.of(f"{_wrap(lp, LEFT_FACTOR, latex)} / {_wrap(rp, DIVISOR, latex)}",
                            PRODUCT)
        # "^"
        if latex:
            return Piece.of(f"{_wrap(lp, BASE, latex)}^{{{rp.text()}}}", POWER)
        return Piece.of(f"{_wrap(lp, BASE, latex)}^{_wrap(rp, EXPONENT, latex)}", POWER)

    def call(name: str, args: list[Piece], power: Piece | None) -> Piece | None:
        """``name(args)``; with ``power``, ``\\tanh^{2} x`` if the function's LaTeX
        is written before its argument, else None (the caller writes a power)."""
        if not latex:
            text = f"{name}({', '.join(a.text() for a in args)})"
            return Piece.of(text, ATOM)
        found = functions.get(name)
        if found is not None and len(found[1]) == len(args):
            template, names = found
            if power is not None:
                head = re.match(r"\\[A-Za-z]+", template)
                if head is None or head.group(0) not in _FUNCTIONS:
                    return None
                template = template.replace(head.group(0),
                                            f"{head.group(0)}^{{{power.text()}}}", 1)
            return Template.compile(template, names, True).fill(args)
        if power is not None:
            return None
        inner = ", ".join(a.text() for a in args)
        return Piece.of(rf"\operatorname{{{name}}}\left({inner}\right)", ATOM)

    return go(tree)

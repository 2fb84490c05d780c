"""LaTeX to MathML, so that a page typesets its formulas with no network.

Browsers render MathML themselves (Chromium, Firefox and Safari), so the page
needs no script or font for its maths. The conversion is done in Python by
``latex2mathml`` (pure Python, in the ``[viz]`` extra). Without it, a formula is
shown as its LaTeX source in a ``<code>`` element, escaped, and ``available()``
says so; nothing else changes.

The converter copies the text of ``\\text{...}`` through unescaped, so a label
such as ``</script>`` would come out as markup. ``mathml`` therefore keeps only
the MathML elements and attributes it knows (``ALLOWED_ELEMENTS``,
``ALLOWED_ATTRIBUTES``) as markup and escapes everything else as text: the
result can be put into a page as is.

>>> html = mathml(r"\\frac{\\partial L}{\\partial w} = 0.5")
>>> html.startswith("<math") or html.startswith("<code")
True
"""

from __future__ import annotations

import html as _html
import re
from functools import lru_cache

__all__ = ["mathml", "available", "sanitise", "INSTALL_LATEX2MATHML", "ALLOWED_ELEMENTS",
           "ALLOWED_ATTRIBUTES"]

#: The MathML elements kept as markup (what the converter writes for our formulas).
ALLOWED_ELEMENTS = frozenset(
    "math mrow mi mn mo mtext mspace mfrac msup msub msubsup msqrt mroot mstyle mpadded "
    "mphantom menclose mtable mtr mtd munder mover munderover semantics annotation".split())
#: The attributes kept on them (presentation only: no links, no event handlers).
ALLOWED_ATTRIBUTES = frozenset(
    "xmlns display stretchy fence form width height depth lspace rspace mathvariant "
    "separator accent accentunder movablelimits symmetric largeop minsize maxsize "
    "linethickness notation scriptlevel displaystyle columnalign rowalign columnspacing "
    "rowspacing columnlines rowlines frame framespacing equalrows equalcolumns align "
    "voffset encoding".split())

_TAG = re.compile(r'<(/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*"[^"<>]*")*)\s*(/?)>')
_ATTRIBUTE = re.compile(r'([A-Za-z_:][\w:.-]*)\s*=\s*"([^"<>]*)"')
_ENTITY = re.compile(r"&(?:#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);")

INSTALL_LATEX2MATHML = (
    "Formulas are shown as LaTeX source: pip install latex2mathml (in the [viz] extra) "
    "to typeset them."
)


def available() -> bool:
    """Whether ``latex2mathml`` is installed (formulas typeset, not shown as source)."""
    try:
        import latex2mathml.converter  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4096)
def mathml(latex: str, display: bool = False) -> str:
    """``latex`` as a MathML ``<math>`` element (``display="block"`` if ``display``).

    Without ``latex2mathml``, or for LaTeX it cannot read, the escaped source in
    ``<code class="latex">`` instead, so the page never breaks on a formula.

    Raises:
        TypeError: ``latex`` is not a str.
    """
    if not isinstance(latex, str):
        raise TypeError(f"mathml() takes LaTeX as a str, not {type(latex).__name__}")
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return f'<code class="latex">{_html.escape(latex)}</code>'
    try:
        markup = convert(latex, display="block" if display else "inline")
    except Exception:  # the converter's own errors are not one documented class
        return f'<code class="latex">{_html.escape(latex)}</code>'
    return _spacing(sanitise(markup))


# A minus right after an operator or an opening bracket is a sign: tell the browser
# (else it spaces it as a binary minus, "( - 3)"); a function name such as tanh is
# followed by a thin space ("tanh 2", not "tanh2").
_SIGN = re.compile(r"(<mo[^>]*>[^<]*</mo>|<mrow>)<mo>(&#x02212;|-)</mo>")
_FUNCTION = re.compile(r"(?<!<msup>)(<mi>(?:sin|cos|tan|tanh|sinh|cosh|exp|log|ln|max|min|sigmoid|"
                       r"softplus|relu|sgn|sign)</mi>)(?!<mspace|<mo)")


_POWERED = re.compile(r"(<msup><mi>(?:sin|cos|tan|tanh|sinh|cosh|exp|log|ln)</mi>"
                      r"(?:<mrow>)?<mn>\d+</mn>(?:</mrow>)?</msup>)(?!<mspace|<mo)")


# ``\mathrel{+}=`` (an accumulation, ``grad += ...``) comes out as a relation
# wrapping a plus, then an equals sign, spaced apart as two relations: write one ``+=``.
_PLUS_EQUALS = re.compile(r"<mo><mrow><mo>(?:&#x0002B;|\+)</mo></mrow></mo>"
                          r"<mo>(?:&#x0003D;|=)</mo>")


# An index such as w_{2.9.15} comes out as a number and an italic identifier
# (``<mn>2.9</mn><mi>.15</mi>``): one number, as written.
_SPLIT_INDEX = re.compile(r"<mn>([0-9.]+)</mn><mi>(\.[0-9][0-9.]*)</mi>")


def _spacing(markup: str) -> str:
    while _SPLIT_INDEX.search(markup):
        markup = _SPLIT_INDEX.sub(r"<mn>\1\2</mn>", markup)
    markup = _PLUS_EQUALS.sub("<mo>+=</mo>", markup)
    markup = _SIGN.sub(r'\1<mo form="prefix">\2</mo>', markup)
    markup = _POWERED.sub(r'\1<mspace width="0.167em" />', markup)
    return _FUNCTION.sub(r'\1<mspace width="0.167em" />', markup)


def _text(text: str) -> str:
    """Text between tags, escaped: ``<``, ``>``, and ``&`` unless it starts an entity."""
    out = []
    pos = 0
    for m in _ENTITY.finditer(text):
        out.append(_html.escape(text[pos:m.start()], quote=False))
        out.append(m.group(0))
        pos = m.end()
    out.append(_html.escape(text[pos:], quote=False))
    return "".join(out)


def sanitise(markup: str) -> str:
    """``markup`` with only the allowed MathML elements and attributes kept as markup;
    any other tag, and every stray ``<``, ``>`` or ``&``, escaped as text.

    >>> sanitise('<math><mtext></script><b>x</mtext></math>')
    '<math><mtext>&lt;/script&gt;&lt;b&gt;x</mtext></math>'
    >>> sanitise('<mi onclick="alert(1)">x</mi>')
    '&lt;mi onclick="alert(1)"&gt;x&lt;/mi&gt;'
    """
    if not isinstance(markup, str):
        raise TypeError(f"sanitise() takes MathML as a str, not {type(markup).__name__}")
    out = []
    pos = 0
    open_tags: list[str] = []  # the kept elements still open: a closing tag must match
    for m in _TAG.finditer(markup):
        out.append(_text(markup[pos:m.start()]))
        closing, name, attributes, empty = m.groups()
        name = name.lower()
        names = [a.group(1).lower() for a in _ATTRIBUTE.finditer(attributes)]
        if closing:
            kept = not attributes.strip() and bool(open_tags) and open_tags[-1] == name
            if kept:
                open_tags.pop()
        else:
            kept = name in ALLOWED_ELEMENTS and all(a in ALLOWED_ATTRIBUTES for a in names)
            if kept and not empty:
                open_tags.append(name)
        out.append(m.group(0) if kept else _text(m.group(0)))
        pos = m.end()
    out.append(_text(markup[pos:]))
    out.extend(f"</{name}>" for name in reversed(open_tags))  # never leave one open
    return "".join(out)

"""LaTeX to MathML, so that a page typesets its formulas with no network.

Browsers render MathML themselves (Chromium, Firefox and Safari), so the page
needs no script or font for its maths. The conversion is done in Python by
``latex2mathml`` (pure Python, in the ``[viz]`` extra). Without it, a formula is
shown as its LaTeX source in a ``<code>`` element, escaped, and ``available()``
says so; nothing else changes.

>>> html = mathml(r"\\frac{\\partial L}{\\partial w} = 0.5")
>>> html.startswith("<math") or html.startswith("<code")
True
"""

from __future__ import annotations

import html as _html
from functools import lru_cache

__all__ = ["mathml", "available", "INSTALL_LATEX2MATHML"]

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
        return convert(latex, display="block" if display else "inline")
    except Exception:  # the converter's own errors are not one documented class
        return f'<code class="latex">{_html.escape(latex)}</code>'

"""Tables of text: how reports (explanations, gradient checks) print and display.

Two renderings of the same rows: aligned plain text for terminals and doctests,
and an HTML ``<table>`` for Jupyter, every cell escaped. Kept apart from the
reports so each report only decides *what* its columns are.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["number", "text_table", "html_table"]


def number(x: float, digits: int = 6) -> str:
    """A float for people: ``digits`` significant digits, no trailing noise.

    >>> number(0.1 + 0.2), number(-3.0), number(1e-12), number(float("nan"))
    ('0.3', '-3', '1e-12', 'nan')
    """
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return f"{x:.{digits}g}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
               right: Sequence[bool] | None = None) -> str:
    """Columns padded to their widest cell; ``right[i]`` right-aligns column i (numbers).

    >>> print(text_table(["x", "value"], [["a", "1"], ["bb", "-2.5"]], right=[False, True]))
    x   value
    --  -----
    a       1
    bb   -2.5
    """
    right = list(right) if right is not None else [False] * len(headers)
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(row, widths, right)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
               right: Sequence[bool] | None = None, caption: str = "",
               row_classes: Sequence[str] | None = None, table_class: str = "") -> str:
    """An HTML table; every header, cell and the caption is escaped.

    >>> html_table(["x"], [["<b>"]])
    '<table><thead><tr><th>x</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    right = list(right) if right is not None else [False] * len(headers)
    esc = html.escape
    out = [f'<table class="{esc(table_class)}">' if table_class else "<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>")
    out.extend(f"<th>{esc(h)}</th>" for h in headers)
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        cls = row_classes[k] if row_classes else ""
        out.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        for cell, r in zip(row, right):
            style = ' style="text-align:right"' if r else ""
            out.append(f"<td{style}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)

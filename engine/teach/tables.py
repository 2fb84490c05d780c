"""Tables of text: how reports (explanations, gradient checks) print and display.

Two renderings of the same rows: aligned plain text for terminals and doctests,
and an HTML ``<table>`` for Jupyter, every cell escaped. Kept apart from the
reports so each report only decides *what* its columns are; the cells come
already written in the one notation (``notation.py``: names and numbers). A
cell's control characters are written visibly (``\\n``, ``\\x1b``), so no label
can break a row or recolour a terminal.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .notation import visible

__all__ = ["text_table", "html_table"]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
               right: Sequence[bool] | None = None) -> str:
    """Columns padded to their widest cell; ``right[i]`` right-aligns column i (numbers).

    >>> print(text_table(["x", "value"], [["a", "1"], ["b\\nb", "-2.5"]], right=[False, True]))
    x     value
    ----  -----
    a         1
    b\\nb   -2.5
    """
    right = list(right) if right is not None else [False] * len(headers)
    cells = [[visible(c) for c in headers]] + [[visible(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(row, widths, right)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
               right: Sequence[bool] | None = None, caption: str = "",
               row_classes: Sequence[str] | None = None, table_class: str = "") -> str:
    """An HTML table; every header, cell and the caption is escaped.

    >>> html_table(["x"], [["<b>"]])
    '<table><thead><tr><th>x</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    right = list(right) if right is not None else [False] * len(headers)

    def esc(text: str) -> str:
        return html.escape(visible(text))

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

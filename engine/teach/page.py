"""A step-through web page for one backward pass, in a single self-contained HTML file.

``write_page(explanation, path)`` (also ``Explanation.to_html(path)``) writes one
file that needs no network and no server: open it in any browser, then press
Next / Previous (or the arrow keys) to apply the chain rule one edge at a time.

How it is built, and why:

* The graph is drawn **once** (``engine.teach.draw``, Graphviz's ``dot``) and inlined
  as SVG; each step only toggles CSS classes on the nodes and edges it involves
  (found by the node ids of ``Graph.node_id``, which ``dot`` writes as each
  node's ``<title>``) and updates a small gradient badge per node. One drawing
  plus a few numbers per step keeps a 50-step page small.
* The steps travel as JSON in a ``<script type="application/json">`` block, with
  ``<``, ``>`` and ``&`` escaped so no label can close the script; the script
  writes text only through ``textContent``, never as HTML.
* Without ``dot``, or for a graph too big to lay out in reasonable time
  (``draw.GraphTooLarge``), the page still works: the table, the counter and the
  buttons, plus a note saying why there is no drawing and what to do.
* Every name, number and formula on the page is written by the one notation
  (``notation.py``), the side panel's arithmetic included; short names ``v<k>``
  are defined under the table. The file is written atomically (``files.py``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assets import read as read_asset
from .draw import Graph, GraphTooLarge, draw_graph, grad_colour, inline_svg
from .files import atomic_write
from .notation import factor, number, number_piece, visible
from .tables import html_table

if TYPE_CHECKING:  # pragma: no cover
    from ..value import Value
    from .explain import Explanation, Step

__all__ = ["render_page", "write_page", "INSTALL_GRAPHVIZ"]

INSTALL_GRAPHVIZ = (
    "The graph needs Graphviz's dot program. Install it (Debian/Ubuntu: "
    "sudo apt-get install graphviz; macOS: brew install graphviz; conda: "
    "conda install graphviz), then write this page again."
)


def write_page(explanation: Explanation, path: str | Path, title: str | None = None,
               graph: bool = True, **draw_options: Any) -> Path:
    """Write the step-through page to ``path`` (UTF-8, atomically) and return the path.

    ``graph=False`` leaves the drawing out (a table-only page); other keyword
    options go to ``draw_graph`` (e.g. ``rankdir="TB"``).

    Raises:
        TypeError: ``path`` is not a str or path, ``title`` not a str, ``graph`` not a bool.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"to_html: path must be a str or pathlib.Path, got "
                        f"{type(path).__name__} {path!r}")
    page = render_page(explanation, title=title, graph=graph, **draw_options)
    return atomic_write(Path(path), page)


def render_page(explanation: Explanation, title: str | None = None,
                graph: bool = True, **draw_options: Any) -> str:
    """The page's HTML text (see ``write_page``).

    The page is ``assets/page.html`` with the title, the drawing, the table of
    steps and the data filled in; ``assets/page.css`` and ``assets/page.js`` are
    inlined, so the one file needs nothing else.
    """
    if title is not None and not isinstance(title, str):
        raise TypeError(f"to_html: title must be a str, got {type(title).__name__} {title!r}")
    if not isinstance(graph, bool):
        raise TypeError(f"to_html: graph must be True or False, got {graph!r}")
    root_name = explanation.names[explanation.root]
    title = visible(title) if title is not None else f"Backpropagation through {root_name}"
    svg, drawn, note = _drawing(explanation, draw_options) if graph else (None, None, "")
    data = _data(explanation, drawn if svg else None)
    data["title"] = title
    where = explanation.where()
    where_html = (
        '<p id="where">where ' + "; ".join(
            f"<code>{html.escape(n)}</code> = <code>{html.escape(t)}</code>" for n, t in where)
        + "</p>" if where else ""
    )

    table = html_table(
        explanation.HEADERS, explanation.rows(), right=explanation.RIGHT,
        table_class="steps",
    )
    graph_html = (
        f'<div id="graph">{svg}</div>' if svg else
        f'<div id="graph" class="missing"><p id="graph-note">{html.escape(note)}</p></div>'
    )
    payload = (json.dumps(data, ensure_ascii=False)
               .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))
    return read_asset("page.html").format(
        title=html.escape(title),
        style=read_asset("page.css"),
        graph=graph_html,
        table=table,
        where=where_html,
        total=len(explanation),
        payload=payload,
        script=read_asset("page.js"),
    )


def _drawing(explanation: Explanation, options: dict) -> tuple[str | None, Graph, str]:
    """(inline SVG, the drawn Graph, note): the graph drawn once, or no SVG and why not."""
    # The script writes each step's gradients into the drawing; draw every node with
    # the widest number it will show, so its gradient cell is wide enough throughout.
    widest: dict = {explanation.root: explanation.seed}
    for step in explanation:
        old = widest.get(step.input)
        if old is None or len(_short(step.grad)) > len(_short(old)):
            widest[step.input] = step.grad
    options = {"grads": widest, **options}
    drawn = draw_graph(explanation.root, **options)
    try:
        svg = drawn.svg()
    except GraphTooLarge as error:  # refused at once, or dot ran out of time
        return None, drawn, f"No drawing: {error}. The table below has every step."
    except (RuntimeError, OSError):  # no dot program
        return None, drawn, INSTALL_GRAPHVIZ
    return inline_svg(svg), drawn, ""


def _short(x: float) -> str:
    """A gradient as the drawing shows it (the same notation)."""
    return number(x)


def _plus(before: float, contribution: float, grad: float) -> str:
    """``before + contribution = grad``, a negative contribution in parentheses."""
    return f"{number(before)} + {factor(number_piece(contribution))} = {number(grad)}"


def _step_edges(step: Step, drawn: Graph) -> tuple[list[str], list[str]]:
    """The SVG ids of the edges a step's gradient travels back along, and of the op node.

    The drawing has value nodes and a small node per op: input -> op -> node. A
    collapsed drawing has no such edges inside a neuron: then none.
    """
    try:
        into, out = drawn.edge_id(step.node, step.position), drawn.edge_id(step.node, None)
    except ValueError:
        return [], []
    return [into, out], [drawn.op_id(step.node)]


def _data(explanation: Explanation, drawn: Graph | None) -> dict:
    """Everything the script needs, as strings and small integers (JSON has no nan/inf).

    ``drawn`` is the drawing shown on the page, or None for a page without one.
    """
    if drawn is not None:
        ids = {node: drawn.node_id(node) for node in explanation.order}
    else:
        ids = {node: f"n{k}" for k, node in enumerate(explanation.order)}
    last: dict[Value, int] = {}
    for step in explanation:
        last[step.input] = step.number
    steps = []
    for s in explanation:
        edge_list, op_ids = _step_edges(s, drawn) if drawn is not None else ([], [])
        steps.append({
            "node": ids[s.node], "input": ids[s.input], "position": s.position,
            "nodeName": s.node_name, "inputName": s.input_name,
            "upstream": number(s.upstream), "formula": s.local_formula,
            "latex": s.local_latex, "rule": s.formula, "local": number(s.local),
            "product": f"{s.product()} = {number(s.contribution)}",
            "sum": _plus(s.grad_before, s.contribution, s.grad),
            "contribution": number(s.contribution), "before": number(s.grad_before),
            "grad": number(s.grad), "short": _short(s.grad),
            "colour": grad_colour(s.grad) if drawn else "", "sentence": s.sentence(),
            "edges": edge_list, "ops": op_ids,
        })
    nodes = [
        {"id": ids[n], "name": explanation.names[n], "data": number(n.data),
         "last": last.get(n, 0), "leaf": n.is_leaf()}
        for n in explanation.order
    ]
    return {"root": ids[explanation.root], "rootName": explanation.names[explanation.root],
            "start": explanation.start(),
            "seed": number(explanation.seed), "seedShort": _short(explanation.seed),
            "seedColour": grad_colour(explanation.seed) if drawn else "",
            "unknownColour": grad_colour(None) if drawn else "", "steps": steps,
            "nodes": nodes}

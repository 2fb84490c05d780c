"""A step-through web page for one forward and backward pass, in a single self-contained HTML file.

``write_page(explanation, path)`` (also ``Explanation.to_html(path)``) writes one
file that needs no network and no server: open it in any browser, then press
Next / Previous (or the arrow keys) to compute the graph node by node (the
forward pass, ``forward.py``), then apply the chain rule one edge at a time (the
backward pass).

How it is built, and why:

* The graph is drawn **once** (``engine.teach.draw``, Graphviz's ``dot``), with the
  local derivative on each edge, and inlined as SVG; each step only toggles CSS
  classes on the nodes and edges it involves (found by the node ids of
  ``Graph.node_id``, which ``dot`` writes as each node's ``<title>``) and updates
  the value and gradient cells. One drawing plus a few numbers per step keeps a
  50-step page small. The drawing pans and zooms (wheel, drag, buttons, keys) and
  is never shown with text smaller than ``MIN_TEXT_PX``.
* Without ``dot`` the page carries the DOT text and the vendored Viz.js (Graphviz
  compiled to WebAssembly, ``assets/viz-global.js``) and lays the graph out in the
  browser, with the same node ids: no network either way. It adds
  ``len(read_asset("viz-global.js"))`` bytes (about 1.3 MB) to the page.
* Each step's formula is typeset as MathML (``mathml.py``), which browsers render
  themselves; the MathML is written here, sanitised, into hidden elements that
  the script clones into the side panel.
* The steps travel as JSON in a ``<script type="application/json">`` block, with
  ``<``, ``>`` and ``&`` escaped so no label can close the script; the script
  writes text only through ``textContent``, never as HTML.
* For a graph too big to lay out in reasonable time (``draw.GraphTooLarge``), the
  page still works: the tables, the counter and the buttons, plus a note saying
  why there is no drawing and what to do (no in-browser layout either: it would
  take as long).
* Every name, number and formula on the page is written by the one notation
  (``notation.py``), the side panel's arithmetic included; short names ``v<k>``
  are defined under the table. The file is written atomically (``files.py``).
"""

from __future__ import annotations

import html
import inspect
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .assets import read as read_asset
from .draw import Graph, GraphTooLarge, draw_graph, grad_colour, inline_svg
from .files import atomic_write
from .forward import ForwardStep, forward_steps
from .mathml import INSTALL_LATEX2MATHML, mathml
from .mathml import available as mathml_available
from .notation import factor, number, number_piece, visible
from .tables import html_table

if TYPE_CHECKING:  # pragma: no cover
    from ..value import Value
    from .explain import Explanation, Step

__all__ = ["render_page", "write_page", "INSTALL_GRAPHVIZ", "MIN_TEXT_PX", "chain_lines"]

#: The page never shows the drawing's text smaller than this (CSS pixels).
MIN_TEXT_PX = 11

INSTALL_GRAPHVIZ = (
    "The graph needs Graphviz's dot program. Install it (Debian/Ubuntu: "
    "sudo apt-get install graphviz; macOS: brew install graphviz; conda: "
    "conda install graphviz), then write this page again."
)
#: Shown while the browser lays the graph out itself (no ``dot`` when the page was written).
DRAWING_IN_BROWSER = (
    "Drawing the graph in the browser (Graphviz's dot was not installed where this page "
    "was written; with dot the page is smaller and opens faster)."
)


#: In predict mode, a guess is right within this relative error (the page shows 4 digits).
PREDICT_TOLERANCE = 5e-3


def write_page(explanation: Explanation, path: str | Path, title: str | None = None,
               graph: bool = True, forward: bool = True, predict: bool = False,
               **draw_options: Any) -> Path:
    """Write the step-through page to ``path`` (UTF-8, atomically) and return the path.

    ``graph=False`` leaves the drawing out (a table-only page); ``forward=False``
    starts at the backward pass (no forward steps); ``predict=True`` is "predict,
    then reveal": each backward step stays hidden (its row too) until the student
    types a guess of its contribution and presses Reveal, and the page says whether
    it was right (within ``PREDICT_TOLERANCE``, relative). Other keyword options go
    to ``draw_graph`` (e.g. ``rankdir="TB"``).

    Raises:
        TypeError: ``path`` is not a str or path, ``title`` not a str, ``graph``,
            ``forward`` or ``predict`` not a bool.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"to_html: path must be a str or pathlib.Path, got "
                        f"{type(path).__name__} {path!r}")
    page = render_page(explanation, title=title, graph=graph, forward=forward,
                       predict=predict, **draw_options)
    return atomic_write(Path(path), page)


class _Drawing(NamedTuple):
    """The page's picture: inline SVG, or DOT text for the browser to lay out, or a note."""

    svg: str | None  # the SVG made by dot, inlined
    dot: str | None  # no dot here: the DOT text, laid out by Viz.js in the browser
    graph: Graph | None  # the drawn Graph (its ids), when there is a picture either way
    note: str  # why there is no picture, or what the browser is doing


def render_page(explanation: Explanation, title: str | None = None,
                graph: bool = True, forward: bool = True, predict: bool = False,
                **draw_options: Any) -> str:
    """The page's HTML text (see ``write_page``).

    The page is ``assets/page.html`` with the title, the drawing, the tables of
    steps and the data filled in; ``assets/page.css`` and ``assets/page.js`` are
    inlined (and ``assets/viz-global.js`` when the browser must lay the graph
    out), so the one file needs nothing else.
    """
    if title is not None and not isinstance(title, str):
        raise TypeError(f"to_html: title must be a str, got {type(title).__name__} {title!r}")
    if not isinstance(graph, bool):
        raise TypeError(f"to_html: graph must be True or False, got {graph!r}")
    if not isinstance(forward, bool):
        raise TypeError(f"to_html: forward must be True or False (False: start at the "
                        f"backward pass), got {forward!r}")
    if not isinstance(predict, bool):
        raise TypeError(f"to_html: predict must be True or False (True: each step hidden "
                        f"until the student guesses its contribution), got {predict!r}")
    root_name = explanation.names[explanation.root]
    title = visible(title) if title is not None else f"Backpropagation through {root_name}"
    drawing = _drawing(explanation, draw_options) if graph else _Drawing(None, None, None, "")
    # the forward pass leaves out what the backward pass leaves out: constants
    hides = getattr(explanation, "hidden_constants", 0) > 0
    fsteps = forward_steps(explanation.root, explanation.notation,
                           constants=not hides) if forward else []
    data = _data(explanation, drawing.graph, fsteps, forward)
    data["title"] = title
    data["predict"] = predict
    data["predictTolerance"] = PREDICT_TOLERANCE
    data["dot"] = drawing.dot
    data["minTextPx"] = MIN_TEXT_PX
    data["installHint"] = INSTALL_GRAPHVIZ  # if the browser cannot lay the graph out either
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
    forward_html = ""
    if forward:
        forward_html = (
            '<h2 class="small">Forward pass (each node from its inputs)</h2>'
            + html_table(("step", "node", "computed as", "value"),
                         [[str(f.number), f.name, " = ".join(f.parts()[1:-1]) or f.name,
                           number(f.value)] for f in fsteps],
                         right=(True, False, False, True), table_class="forward")
        )
    if drawing.svg:
        graph_html = f'<div id="graph">{drawing.svg}</div>'
    elif drawing.dot:
        graph_html = (f'<div id="graph" class="pending"><p id="graph-note">'
                      f'{html.escape(drawing.note)}</p></div>')
    else:
        graph_html = (f'<div id="graph" class="missing"><p id="graph-note">'
                      f'{html.escape(drawing.note)}</p></div>')
    payload = (json.dumps(data, ensure_ascii=False)
               .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))
    viz = ""
    if drawing.dot:  # the vendored Graphviz-in-WebAssembly, only when it is needed
        viz = "<script>" + read_asset("viz-global.js").replace("</script", "<\\/script") \
            + "</script>\n"
    return read_asset("page.html").format(
        title=html.escape(title),
        style=read_asset("page.css"),
        graph=graph_html,
        legend=_legend(drawing.graph) if drawing.graph is not None else "",
        maths=_maths(explanation, fsteps),
        math_hint=("" if mathml_available() else
                   f'<p id="math-hint" class="hint">{html.escape(INSTALL_LATEX2MATHML)}</p>'),
        forward=forward_html,
        table=table,
        where=where_html,
        total=len(explanation),
        payload=payload,
        viz=viz,
        script=read_asset("page.js"),
    )


def _drawing(explanation: Explanation, options: dict) -> _Drawing:
    """The graph drawn once: as SVG with ``dot``, as DOT text for the browser without
    it, or no picture (too big to lay out) and why not."""
    # The script writes each step's gradients into the drawing; draw every node with
    # the widest number it will show, so its gradient cell is wide enough throughout.
    widest: dict = {explanation.root: explanation.seed}
    for step in explanation:
        old = widest.get(step.input)
        if old is None or len(_short(step.grad)) > len(_short(old)):
            widest[step.input] = step.grad
    accepted = inspect.signature(draw_graph).parameters
    local = "local_grads" if "local_grads" in accepted else "show_local"
    options = {"grads": widest, local: True, **options}
    drawn = draw_graph(explanation.root, **options)
    try:
        svg = drawn.svg()
    except GraphTooLarge as error:  # refused at once, or dot ran out of time
        return _Drawing(None, None, None,
                        f"No drawing: {error}. The tables below have every step.")
    except (RuntimeError, OSError):  # no dot program: the browser lays it out
        return _Drawing(None, drawn.source, drawn, DRAWING_IN_BROWSER)
    return _Drawing(inline_svg(svg), None, drawn, "")


def _legend(drawn: Graph) -> str:
    """What the colours and highlights mean: the drawer's legend (the roles and marks
    this drawing uses), then the marks the page adds while stepping."""
    marks = (
        '<li><span class="swatch mark-target"></span>the node computed now (forward), or '
        'receiving gradient now (backward)</li>'
        '<li><span class="swatch mark-source"></span>its inputs (forward), or the node '
        'passing gradient back (backward)</li>'
        '<li><span class="swatch faded"></span>not computed yet (<code>data ?</code>), or '
        'its gradient not final yet</li>'
        '<li><span class="swatch grads"></span>grad cells as gradients arrive: red positive, '
        'blue negative, paler near 0</li>')
    return f'<div id="legend">{drawn.legend_html()}<ul class="marks">{marks}</ul></div>'


def chain_lines(step: Step) -> list[str]:
    r"""The step's chain rule (``Step.chain_latex``) as LaTeX lines for a narrow panel:
    ``lhs = first part``, then one ``= part`` per line, then the new total
    (``	ext{now } ...``) when the step adds to an earlier contribution."""
    lhs, rel, rest = step.chain_parts()
    main, now, total = rest.partition(r", \text{ now } ")
    parts = main.split(" = ")
    lines = [f"{lhs} {rel} {parts[0]}"] + [f"= {part}" for part in parts[1:]]
    if now:
        lines.append(rf"\text{{now }} {total}")
    return lines


def _typeset(lines: list[str]) -> str:
    """LaTeX lines as MathML, one per line, left-aligned: inline ``<math>`` elements in
    display style (full-size fractions; a display block would be centred)."""
    return "".join(
        f'<div class="line">{_compact(mathml(chr(92) + "displaystyle " + line))}</div>'
        for line in lines)


_CHAR_ENTITY = re.compile(r"&#x([0-9A-Fa-f]+);")


def _compact(markup: str) -> str:
    """MathML made smaller for the page, the same to the browser: no ``xmlns`` (HTML
    knows ``<math>``) and characters instead of their entities (but ``<``, ``>``,
    ``&`` and quotes). The brackets keep their attributes: without them Chromium
    spaces them as operators, ``( a b )``."""
    markup = markup.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")
    markup = markup.replace('<math display="inline">', "<math>")  # inline is the default

    def char(m: re.Match) -> str:
        ch = chr(int(m.group(1), 16))
        return m.group(0) if ch in "<>&\"'" or not ch.isprintable() else ch
    return _CHAR_ENTITY.sub(char, markup)


def _maths(explanation: Explanation, fsteps: list[ForwardStep]) -> str:
    """Every step's formula as MathML, in hidden elements the script shows one at a time:
    a forward step's ``name = expression = numbers = value`` and a backward step's
    chain rule, one ``= ...`` per line so that they fit the side panel."""
    out = ['<div id="maths" hidden>']
    for f in fsteps:
        first, *rest = f.latex_parts
        lines = [f"{first} = {rest[0]}" if rest else first] + [f"= {p}" for p in rest[1:]]
        out.append(f'<div id="math-f{f.number}">{_typeset(lines)}</div>')
    out.extend(f'<div id="math-b{s.number}">{_typeset(chain_lines(s))}</div>'
               for s in explanation)
    out.append("</div>")
    return "".join(out)


def _short(x: float) -> str:
    """A gradient as the drawing shows it (the same notation)."""
    return number(x)


def _plus(before: float, contribution: float, grad: float) -> str:
    """``before + contribution = grad``, a negative contribution in parentheses."""
    return f"{number(before)} + {factor(number_piece(contribution))} = {number(grad)}"


def _local(step: Step) -> str:
    """The local derivative for the side panel: ``b = -3``, a bare number once (``1``)."""
    written = step.notation.local_piece(step.node, step.position).text() \
        if step.notation is not None else step.local_formula
    value = number(step.local)
    return value if written == value else f"{written} = {value}"


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


def _forward_edges(node: Value, drawn: Graph) -> tuple[list[str], list[str]]:
    """The SVG ids of the edges into ``node``'s op and out of it, and of the op node."""
    try:
        edges = [drawn.edge_id(node, i) for i in range(len(node.inputs))]
        edges.append(drawn.edge_id(node, None))
    except ValueError:
        return [], []
    return edges, [drawn.op_id(node)]


def _cell_owners(explanation: Explanation, ids: dict) -> tuple[set, set]:
    """Which Value each drawn node's cells show: (the owners of the data and grad
    cells, the owners of a neuron's delta cell).

    Usually one Value per drawn node. A collapsed neuron is one node for all its
    Values: its data is its output's (the last of them computed) and its delta is
    dL/dz at its pre-activation z (the input of the output's one-input op, when made
    inside the neuron; else the output itself), as ``draw`` writes them.
    """
    members: dict[str, list] = {}
    for node in explanation.notation.order:  # inputs first: the output comes last
        if node in ids:
            members.setdefault(ids[node], []).append(node)
    cells, deltas = set(), set()
    for group in members.values():
        out = group[-1]
        cells.add(out)
        if len(group) > 1:
            inside = set(group)
            z = out.inputs[0] if len(out.inputs) == 1 and out.inputs[0] in inside else out
            deltas.add(z)
    return cells, deltas


def _data(explanation: Explanation, drawn: Graph | None, fsteps: list[ForwardStep],
          forward: bool) -> dict:
    """Everything the script needs, as strings and small integers (JSON has no nan/inf).

    ``drawn`` is the drawing shown on the page, or None for a page without one.
    """
    if drawn is not None:
        ids = {node: drawn.node_id(node) for node in explanation.order}
    else:
        ids = {node: f"n{k}" for k, node in enumerate(explanation.order)}
    keys = {node: k for k, node in enumerate(explanation.order)}  # one per Value
    last: dict[Value, int] = {}
    for step in explanation:
        last[step.input] = step.number
    steps = []
    for s in explanation:
        edge_list, op_ids = _step_edges(s, drawn) if drawn is not None else ([], [])
        steps.append({
            "node": ids[s.node], "input": ids[s.input], "inputKey": keys[s.input],
            "position": s.position,
            "nodeName": s.node_name, "inputName": s.input_name,
            "upstream": number(s.upstream), "formula": s.local_formula,
            "latex": s.local_latex, "rule": s.formula, "local": _local(s),
            "product": f"{s.product()} = {number(s.contribution)}",
            "sum": _plus(s.grad_before, s.contribution, s.grad),
            "contribution": number(s.contribution), "before": number(s.grad_before),
            "grad": number(s.grad), "short": _short(s.grad),
            "colour": grad_colour(s.grad) if drawn else "", "sentence": s.sentence(),
            "edges": edge_list, "ops": op_ids,
            # the number a guess is compared with (JSON has no nan or inf)
            "value": s.contribution if math.isfinite(s.contribution) else None,
        })
    computed: dict[Value, int] = {}
    fdata = []
    for f in fsteps:
        computed[f.node] = f.number
        edge_list, op_ids = _forward_edges(f.node, drawn) if drawn is not None else ([], [])
        where = explanation.notation.where_text((f.node, *f.node.inputs))
        fdata.append({
            "node": ids[f.node], "key": keys[f.node], "name": f.name, "text": f.text(),
            "sentence": f.sentence() + (f" ({where})" if where else ""),
            "expression": f.expression, "numbers": f.numbers, "value": number(f.value),
            "inputs": [ids[x] for x in f.node.inputs],
            "inputNames": [explanation.names[x] for x in f.node.inputs],
            "edges": edge_list, "ops": op_ids,
        })
    cells, deltas = _cell_owners(explanation, ids)
    nodes = [
        {"id": ids[n], "name": explanation.names[n], "data": number(n.data),
         "last": last.get(n, 0), "leaf": n.is_leaf(), "computed": computed.get(n, 0),
         "cell": n in cells, "delta": n in deltas}
        for n in explanation.order
    ]
    leaves = [f"{explanation.names[n]} = {number(n.data)}" for n in explanation.notation.order
              if n.is_leaf() and n in ids]
    return {"root": ids[explanation.root], "rootKey": keys[explanation.root],
            "rootName": explanation.names[explanation.root],
            "start": explanation.start(), "forward": fdata, "hasForward": forward,
            "forwardStart": ("Forward pass: the inputs are " + ", ".join(leaves) + ". Press "
                             "Next (or the right arrow) to compute each node from its inputs."),
            "seed": number(explanation.seed), "seedShort": _short(explanation.seed),
            "seedColour": grad_colour(explanation.seed) if drawn else "",
            "unknownColour": grad_colour(None) if drawn else "", "steps": steps,
            "nodes": nodes}

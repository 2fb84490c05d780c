"""A step-through web page for one backward pass, in a single self-contained HTML file.

``write_page(explanation, path)`` (also ``Explanation.to_html(path)``) writes one
file that needs no network and no server: open it in any browser, then press
Next / Previous (or the arrow keys) to apply the chain rule one edge at a time.

How it is built, and why:

* The graph is drawn **once** (``engine.draw``, Graphviz's ``dot``) and inlined
  as SVG; each step only toggles CSS classes on the nodes and edges it involves
  (found by the node ids of ``Graph.node_id``, which ``dot`` writes as each
  node's ``<title>``) and updates a small gradient badge per node. One drawing
  plus a few numbers per step keeps a 50-step page small.
* The steps travel as JSON in a ``<script type="application/json">`` block, with
  ``<``, ``>`` and ``&`` escaped so no label can close the script; the script
  writes text only through ``textContent``, never as HTML.
* Without ``dot`` (or without the drawing module) the page still works: the
  table, the counter and the buttons, plus a note saying how to install Graphviz.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .table import html_table, number

if TYPE_CHECKING:  # pragma: no cover
    from .explain import Explanation
    from .value import Value

__all__ = ["render_page", "write_page", "INSTALL_GRAPHVIZ"]

INSTALL_GRAPHVIZ = (
    "The graph needs Graphviz's dot program. Install it (Debian/Ubuntu: "
    "sudo apt-get install graphviz; macOS: brew install graphviz; conda: "
    "conda install graphviz), then write this page again."
)

_EDGE = re.compile(r'<g\b([^>]*\bclass="edge[^"]*"[^>]*)>\s*<title>(.*?)</title>', re.S)
_ID = re.compile(r'\bid="([^"]*)"')


def write_page(explanation: Explanation, path: str | Path, title: str | None = None,
               graph: bool = True, **draw_options: Any) -> Path:
    """Write the step-through page to ``path`` (UTF-8) and return the path.

    ``graph=False`` leaves the drawing out (a table-only page); other keyword
    options go to ``draw_graph`` (e.g. ``rankdir="TB"``).
    """
    path = Path(path)
    page = render_page(explanation, title=title, graph=graph, **draw_options)
    path.write_text(page, encoding="utf-8")
    return path


def render_page(explanation: Explanation, title: str | None = None,
                graph: bool = True, **draw_options: Any) -> str:
    """The page's HTML text (see ``write_page``)."""
    root_name = explanation.names[explanation.root]
    title = title if title is not None else f"Backpropagation through {root_name}"
    svg, drawn, note = _drawing(explanation, draw_options) if graph else (None, None, "")
    data = _data(explanation, drawn, svg)
    data["title"] = title

    table = html_table(
        explanation.HEADERS, explanation.rows(), right=explanation._RIGHT,
        table_class="steps",
    )
    graph_html = (
        f'<div id="graph">{svg}</div>' if svg else
        f'<div id="graph" class="missing"><p id="graph-note">{html.escape(note)}</p></div>'
    )
    payload = (json.dumps(data, ensure_ascii=False)
               .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))
    return _TEMPLATE.format(
        title=html.escape(title),
        style=_STYLE,
        graph=graph_html,
        table=table,
        total=len(explanation),
        payload=payload,
        script=_SCRIPT,
    )


def _drawing(explanation: Explanation, options: dict) -> tuple[str | None, Any, str]:
    """(inline SVG, the drawn Graph, note): the graph drawn once, or None and why not."""
    try:
        from .draw import draw_graph
    except ImportError:  # pragma: no cover - the drawing module ships with the engine
        return None, None, "This page was written without the graph drawing module."
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
    except ImportError as error:  # no graphviz Python package: its message names the extra
        return None, drawn, f"{error}. {INSTALL_GRAPHVIZ}"
    except (RuntimeError, OSError):  # no dot program
        return None, drawn, INSTALL_GRAPHVIZ
    return _inline(svg), drawn, ""


def _short(x: float) -> str:
    """A gradient as the drawing shows it: 4 significant digits."""
    return number(x, 4)


def _colour(x: float | None) -> str:
    """The drawing's colour for a gradient cell ("" if the drawer has no such scale)."""
    try:
        from .draw import grad_colour
    except ImportError:
        return ""
    return grad_colour(x)


def _inline(svg: str) -> str:
    """An SVG document made fit to sit inside HTML: no XML prolog, doctype or comments."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.S)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _svg_edges(svg: str) -> list[tuple[str, str, str]]:
    """(element id, tail id, head id) of every edge in the SVG (ports dropped)."""
    out = []
    for match in _EDGE.finditer(svg):
        found = _ID.search(match.group(1))
        tail, _, head = html.unescape(match.group(2)).partition("->")
        out.append((found.group(1) if found else "", tail.split(":")[0].strip(),
                    head.split(":")[0].strip()))
    return out


def _step_edges(step, drawn, ids: dict, edges: list) -> tuple[list[str], list[str]]:
    """The SVG ids of the edges a step's gradient travels back along, and of the op node.

    The drawing has value nodes and a small node per op: input -> op -> node.
    ``Graph.edge_id`` names them when the drawer offers it; otherwise they are
    found in the SVG by their end points (``a * a`` has two edges from ``a``: the
    step's position picks one).
    """
    edge_id = getattr(drawn, "edge_id", None)
    if edge_id is not None:
        try:
            into, out = edge_id(step.node, step.position), edge_id(step.node, None)
        except ValueError:
            return [], []
        ops = [t for e, t, h in edges if e == out]
        return [into, out], ops
    node_id, input_id = ids[step.node], ids[step.input]
    values = set(ids.values())
    ops = sorted({t for _, t, h in edges if h == node_id and t not in values})
    via = ops[0] if len(ops) == 1 else node_id  # no separate op node: input -> node
    same = [e for e, t, h in edges if t == input_id and h == via]
    repeat = step.node.inputs[:step.position].count(step.input)  # a*a: which of its edges
    chosen = [same[repeat]] if repeat < len(same) else same[:1]
    if via != node_id:
        chosen += [e for e, t, h in edges if t == via and h == node_id][:1]
        return chosen, [via]
    return chosen, []


def _data(explanation: Explanation, drawn: Any, svg: str | None) -> dict:
    """Everything the script needs, as strings and small integers (JSON has no nan/inf)."""
    if drawn is not None:
        ids = {node: drawn.node_id(node) for node in explanation.order}
    else:
        ids = {node: f"n{k}" for k, node in enumerate(explanation.order)}
    edges = _svg_edges(svg) if svg else []
    last: dict[Value, int] = {}
    for step in explanation:
        last[step.input] = step.number
    steps = []
    for s in explanation:
        edge_list, op_ids = _step_edges(s, drawn, ids, edges) if svg else ([], [])
        steps.append({
            "node": ids[s.node], "input": ids[s.input], "position": s.position,
            "nodeName": s.node_name, "inputName": s.input_name,
            "upstream": number(s.upstream), "formula": s.local_formula,
            "rule": s.formula, "local": number(s.local),
            "contribution": number(s.contribution), "before": number(s.grad_before),
            "grad": number(s.grad), "short": _short(s.grad),
            "colour": _colour(s.grad) if svg else "", "sentence": s.sentence(),
            "edges": edge_list, "ops": op_ids,
        })
    nodes = [
        {"id": ids[n], "name": explanation.names[n], "data": number(n.data),
         "last": last.get(n, 0), "leaf": n.is_leaf()}
        for n in explanation.order
    ]
    return {"root": ids[explanation.root], "rootName": explanation.names[explanation.root],
            "seed": number(explanation.seed), "seedShort": _short(explanation.seed),
            "seedColour": _colour(explanation.seed) if svg else "",
            "unknownColour": _colour(None) if svg else "", "steps": steps, "nodes": nodes}


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem 1.5rem;color:#222}
h1{font-size:1.3rem;margin:.2rem 0 .6rem}
nav{display:flex;gap:.6rem;align-items:center;margin:.4rem 0 .8rem}
nav button{font-size:1rem;padding:.3rem .9rem}
#counter{font-weight:bold;min-width:9rem}
.hint{color:#666;font-size:.85rem}
main{display:flex;gap:1.2rem;align-items:flex-start;flex-wrap:wrap}
#graph{flex:1 1 32rem;overflow:auto;max-height:80vh;border:1px solid #ddd;border-radius:6px;padding:.4rem}
#graph.fit svg{max-width:100%;height:auto}
#graph.missing{flex:1 1 20rem;background:#fff8e1;color:#5d4100}
aside{flex:0 1 26rem}
#sentence{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f4f6fb;padding:.5rem;
  border-radius:6px;white-space:pre-wrap;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e3e3e3;padding:.15rem .5rem;text-align:left}
#current th{color:#555;font-weight:normal;padding-right:1rem}
table.steps tbody tr{cursor:pointer}
tr.current td{background:#ffe3ec}
tr.changed td{background:#ffe3ec;font-weight:bold}
tr.pending td{color:#aaa}
g.node.cr-pending{opacity:.35}
g.node.cr-partial{opacity:.8}
g.node.cr-source polygon,g.node.cr-source ellipse,g.node.cr-source path{stroke:#1c7ed6;stroke-width:3}
g.node.cr-target polygon,g.node.cr-target ellipse,g.node.cr-target path{stroke:#d6336c;stroke-width:3}
g.node.cr-op polygon,g.node.cr-op ellipse,g.node.cr-op path{stroke:#d6336c;stroke-width:2}
g.edge.cr-current path{stroke:#d6336c;stroke-width:3}
g.edge.cr-current polygon{stroke:#d6336c;fill:#d6336c}
text.cr-badge{font:bold 11px sans-serif;fill:#a61e4d;paint-order:stroke;stroke:#fff;stroke-width:3px}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body data-step="0">
<h1>{title}</h1>
<nav>
<button id="prev" type="button" title="previous step (left arrow)">&larr; Previous</button>
<button id="next" type="button" title="next step (right arrow)">Next &rarr;</button>
<span id="counter">Step 0 of {total}</span>
<button id="fit" type="button" title="shrink the drawing to fit, or show it at full size">Fit graph</button>
<span class="hint">arrow keys step; Home / End jump; click a table row to go to its step</span>
</nav>
<main>
{graph}
<aside>
<div id="sentence"></div>
<table id="current"><tbody></tbody></table>
<h2 style="font-size:1rem">Gradients so far</h2>
<table id="grads"><thead><tr><th>node</th><th>data</th><th>grad</th></tr></thead><tbody></tbody></table>
</aside>
</main>
<h2 style="font-size:1rem">All steps (each: input grad += upstream * local)</h2>
{table}
<script id="chainrule-data" type="application/json">{payload}</script>
<script>{script}</script>
</body>
</html>
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("chainrule-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  // shrink a drawing to fit its box at first only if it stays at least this large
  var FIT_AT_LEAST = 0.5;
  var svg = document.querySelector("#graph svg");
  var nodeEls = {}, badges = {}, cellFill = {}, edgeEls = {}, rowsById = {};
  if (svg) {
    svg.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (t) nodeEls[t.textContent.trim()] = g;
    });
    svg.querySelectorAll("g.edge").forEach(function (e) { if (e.id) edgeEls[e.id] = e; });
    D.nodes.forEach(function (n) {
      var g = nodeEls[n.id];
      if (!g) return;
      // the drawer's own gradient cell ("grad ?") if it has one, else a badge above the node
      var cell = Array.prototype.filter.call(g.querySelectorAll("text"), function (t) {
        return /^grad\b/.test(t.textContent.trim());
      })[0];
      if (cell) {
        cell.classList.add("cr-grad");
        badges[n.id] = cell;
        // the cell's background: the nearest filled polygon drawn before its text
        for (var el = cell.previousElementSibling; el; el = el.previousElementSibling) {
          var fill = el.tagName === "polygon" && el.getAttribute("fill");
          if (fill && fill !== "none" && fill !== "transparent") { cellFill[n.id] = el; break; }
        }
        return;
      }
      var box = g.getBBox();
      var t = document.createElementNS(SVGNS, "text");
      t.setAttribute("x", box.x + box.width);
      t.setAttribute("y", box.y - 3);
      t.setAttribute("text-anchor", "end");
      t.setAttribute("class", "cr-badge cr-grad");
      g.appendChild(t);
      badges[n.id] = t;
    });
    // room for the badges above the topmost nodes: widen the drawing by a margin
    var vb = svg.viewBox && svg.viewBox.baseVal, pad = 18;
    if (vb && vb.width && svg.querySelector("text.cr-badge")) {
      var w = parseFloat(svg.getAttribute("width")) || vb.width;
      var h = parseFloat(svg.getAttribute("height")) || vb.height;
      svg.setAttribute("viewBox", [vb.x - pad, vb.y - pad, vb.width + 2 * pad,
                                   vb.height + 2 * pad].join(" "));
      svg.setAttribute("width", (w * (vb.width + 2 * pad) / vb.width) + "pt");
      svg.setAttribute("height", (h * (vb.height + 2 * pad) / vb.height) + "pt");
    }
  }
  // the gradients table: one row per node, filled by show()
  var gradBody = document.querySelector("#grads tbody");
  D.nodes.forEach(function (n) {
    var tr = document.createElement("tr");
    [n.name, n.data, ""].forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    tr.dataset.node = n.id;
    gradBody.appendChild(tr);
    rowsById[n.id] = tr;
  });
  var stepRows = Array.prototype.slice.call(document.querySelectorAll("table.steps tbody tr"));
  stepRows.forEach(function (tr, i) {
    tr.addEventListener("click", function () { show(i + 1); });
  });
  var current = document.querySelector("#current tbody");
  function field(name, value) {
    var tr = document.createElement("tr"), th = document.createElement("th"),
        td = document.createElement("td");
    th.textContent = name;
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    current.appendChild(tr);
  }
  var step = 0, total = D.steps.length;

  function show(k) {
    k = Math.max(0, Math.min(total, k | 0));
    step = k;
    var grads = {}, shorts = {}, colours = {};
    grads[D.root] = D.seed;
    shorts[D.root] = D.seedShort;
    colours[D.root] = D.seedColour;
    for (var i = 0; i < k; i++) {
      var s = D.steps[i];
      grads[s.input] = s.grad;
      shorts[s.input] = s.short;
      colours[s.input] = s.colour;
    }
    var cur = k ? D.steps[k - 1] : null;
    D.nodes.forEach(function (n) {
      var reached = Object.prototype.hasOwnProperty.call(grads, n.id);
      var done = n.last <= k;
      var g = nodeEls[n.id];
      if (g) {
        g.classList.toggle("cr-pending", !reached);
        g.classList.toggle("cr-partial", reached && !done);
        g.classList.toggle("cr-done", done);
        g.classList.toggle("cr-source", !!cur && cur.node === n.id);
        g.classList.toggle("cr-target", !!cur && cur.input === n.id);
      }
      if (badges[n.id]) {
        var isCell = !badges[n.id].classList.contains("cr-badge");
        badges[n.id].textContent = reached ? "grad " + shorts[n.id] : (isCell ? "grad ?" : "");
      }
      var colour = reached ? colours[n.id] : D.unknownColour;
      if (cellFill[n.id] && colour) cellFill[n.id].setAttribute("fill", colour);
      var tr = rowsById[n.id];
      tr.lastChild.textContent = reached ? grads[n.id] + (done ? "" : " (so far)") : "";
      tr.classList.toggle("changed", !!cur && cur.input === n.id);
      tr.classList.toggle("pending", !reached);
    });
    Object.keys(nodeEls).forEach(function (id) {
      nodeEls[id].classList.toggle("cr-op", !!cur && cur.ops.indexOf(id) >= 0);
    });
    Object.keys(edgeEls).forEach(function (id) {
      edgeEls[id].classList.toggle("cr-current", !!cur && cur.edges.indexOf(id) >= 0);
    });
    stepRows.forEach(function (tr, i) { tr.classList.toggle("current", i === k - 1); });
    var focus = nodeEls[cur ? cur.input : D.root], box = document.getElementById("graph");
    if (focus && box) {  // keep the step's input in view, without scrolling the page
      var r = focus.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (r.left < b.left || r.right > b.right)
        box.scrollLeft += r.left - b.left - (b.width - r.width) / 2;
      if (r.top < b.top || r.bottom > b.bottom)
        box.scrollTop += r.top - b.top - (b.height - r.height) / 2;
    }
    current.textContent = "";
    var sentence = document.getElementById("sentence");
    if (cur) {
      sentence.textContent = "Step " + k + ": " + cur.sentence;
      field("node", cur.nodeName);
      field("input", cur.inputName + (cur.position ? " (input 2)" : " (input 1)"));
      field("upstream grad(" + cur.nodeName + ")", cur.upstream);
      field("local d(" + cur.nodeName + ")/d(" + cur.inputName + ")", cur.formula + " = " + cur.local);
      field("contribution", cur.upstream + " * " + cur.local + " = " + cur.contribution);
      field("grad(" + cur.inputName + ")", cur.before + " + " + cur.contribution + " = " + cur.grad);
    } else {
      sentence.textContent = "Start: grad(" + D.rootName + ") = " + D.seed +
        " (d " + D.rootName + " / d itself). Press Next (or the right arrow) to pass it back " +
        "one edge at a time.";
    }
    document.getElementById("counter").textContent = "Step " + k + " of " + total;
    document.getElementById("prev").disabled = k === 0;
    document.getElementById("next").disabled = k === total;
    document.body.dataset.step = String(k);
    try { history.replaceState(null, "", "#step=" + k); } catch (err) { /* file: URLs */ }
  }

  var fit = document.getElementById("fit"), graphBox = document.getElementById("graph");
  if (!svg) fit.hidden = true;
  fit.addEventListener("click", function () {
    var on = graphBox.classList.toggle("fit");
    fit.textContent = on ? "Full size" : "Fit graph";
  });
  if (svg) {  // a drawing a little too wide starts shrunk to fit; a big one at full size
    var wide = svg.getBoundingClientRect().width, room = graphBox.clientWidth;
    if (wide > room && room / wide >= FIT_AT_LEAST) {
      graphBox.classList.add("fit");
      fit.textContent = "Full size";
    }
  }
  document.getElementById("prev").addEventListener("click", function () { show(step - 1); });
  document.getElementById("next").addEventListener("click", function () { show(step + 1); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") show(step + 1);
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") show(step - 1);
    else if (ev.key === "Home") show(0);
    else if (ev.key === "End") show(total);
    else return;
    ev.preventDefault();
  });
  var m = /step=(\d+)/.exec(location.hash);
  show(m ? parseInt(m[1], 10) : 0);
  window.chainrule = { show: show, step: function () { return step; }, total: total };
})();
"""

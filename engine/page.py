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
from typing import TYPE_CHECKING

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

_EDGE = re.compile(r'<g\b[^>]*\bclass="edge"[^>]*>\s*<title>(.*?)</title>', re.S)


def write_page(explanation: Explanation, path: str | Path, title: str | None = None,
               graph: bool = True) -> Path:
    """Write the step-through page to ``path`` (UTF-8) and return the path.

    ``graph=False`` leaves the drawing out (a table-only page).
    """
    path = Path(path)
    path.write_text(render_page(explanation, title=title, graph=graph), encoding="utf-8")
    return path


def render_page(explanation: Explanation, title: str | None = None,
                graph: bool = True) -> str:
    """The page's HTML text (see ``write_page``)."""
    root_name = explanation.names[explanation.root]
    title = title if title is not None else f"Backpropagation through {root_name}"
    svg, ids, note = _drawing(explanation) if graph else (None, None, "")
    if ids is None:
        ids = {node: f"n{k}" for k, node in enumerate(explanation.order)}
    edges = _edges(svg) if svg else []
    data = _data(explanation, ids, edges)
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


def _drawing(explanation: Explanation) -> tuple[str | None, dict | None, str]:
    """(inline SVG, node ids, note): the graph drawn once, or None and why not."""
    try:
        from .draw import draw_graph
    except ImportError:  # pragma: no cover - the drawing module ships with the engine
        return None, None, "This page was written without the graph drawing module."
    root = explanation.root
    drawn = draw_graph(root, grads={}, done=set(explanation.order))
    ids = {node: drawn.node_id(node) for node in explanation.order}
    try:
        svg = drawn.svg()
    except (RuntimeError, OSError):  # no dot program: the table still works
        return None, ids, INSTALL_GRAPHVIZ
    return _inline(svg), ids, ""


def _inline(svg: str) -> str:
    """An SVG document made fit to sit inside HTML: no XML prolog, doctype or comments."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.S)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _edges(svg: str) -> list[tuple[str, str]]:
    """(tail id, head id) of every edge in the SVG, in document order (ports dropped)."""
    out = []
    for match in _EDGE.finditer(svg):
        text = html.unescape(match.group(1))
        tail, _, head = text.partition("->")
        out.append((tail.split(":")[0].strip(), head.split(":")[0].strip()))
    return out


def _edge_indices(step, ids: dict, values: set, edges: list) -> tuple[list[int], list[str]]:
    """The SVG edges a step's gradient travels back along, and the op node between.

    The drawing has value nodes and a small node per op: input -> op -> node.
    ``a * a`` draws two edges from ``a``; the step's position picks one of them.
    """
    node_id, input_id = ids[step.node], ids[step.input]
    ops = sorted({t for t, h in edges if h == node_id and t not in values})
    via = ops[0] if len(ops) == 1 else node_id  # no separate op node: input -> node
    same = [k for k, (t, h) in enumerate(edges) if t == input_id and h == via]
    repeat = step.node.inputs[:step.position].count(step.input)  # a*a: which of its edges
    chosen = [same[repeat]] if repeat < len(same) else same[:1]
    if via != node_id:
        chosen += [k for k, (t, h) in enumerate(edges) if t == via and h == node_id][:1]
        return chosen, [via]
    return chosen, []


def _data(explanation: Explanation, ids: dict[Value, str], edges: list) -> dict:
    """Everything the script needs, as strings and small integers (JSON has no nan/inf)."""
    last: dict[Value, int] = {}
    for step in explanation:
        last[step.input] = step.number
    values = set(ids.values())
    steps = []
    for s in explanation:
        edge_list, op_ids = _edge_indices(s, ids, values, edges) if edges else ([], [])
        steps.append({
            "node": ids[s.node], "input": ids[s.input], "position": s.position,
            "nodeName": s.node_name, "inputName": s.input_name,
            "upstream": number(s.upstream), "formula": s.local_formula,
            "rule": s.formula, "local": number(s.local),
            "contribution": number(s.contribution), "before": number(s.grad_before),
            "grad": number(s.grad), "sentence": s.sentence(),
            "edges": edge_list, "ops": op_ids,
        })
    nodes = [
        {"id": ids[n], "name": explanation.names[n], "data": number(n.data),
         "last": last.get(n, 0), "leaf": n.is_leaf()}
        for n in explanation.order
    ]
    return {"root": ids[explanation.root], "rootName": explanation.names[explanation.root],
            "seed": number(explanation.seed), "steps": steps, "nodes": nodes}


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem 1.5rem;color:#222}
h1{font-size:1.3rem;margin:.2rem 0 .6rem}
nav{display:flex;gap:.6rem;align-items:center;margin:.4rem 0 .8rem}
nav button{font-size:1rem;padding:.3rem .9rem}
#counter{font-weight:bold;min-width:9rem}
.hint{color:#666;font-size:.85rem}
main{display:flex;gap:1.2rem;align-items:flex-start;flex-wrap:wrap}
#graph{flex:1 1 32rem;overflow:auto;max-height:80vh;border:1px solid #ddd;border-radius:6px;padding:.4rem}
#graph svg{max-width:100%;height:auto}
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
  var svg = document.querySelector("#graph svg");
  var nodeEls = {}, badges = {}, edgeEls = [], rowsById = {};
  if (svg) {
    svg.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (t) nodeEls[t.textContent.trim()] = g;
    });
    edgeEls = Array.prototype.slice.call(svg.querySelectorAll("g.edge"));
    D.nodes.forEach(function (n) {
      var g = nodeEls[n.id];
      if (!g) return;
      var box = g.getBBox();
      var t = document.createElementNS(SVGNS, "text");
      t.setAttribute("x", box.x + box.width);
      t.setAttribute("y", box.y - 3);
      t.setAttribute("text-anchor", "end");
      t.setAttribute("class", "cr-badge");
      g.appendChild(t);
      badges[n.id] = t;
    });
    // room for the badges above the topmost nodes: widen the drawing by a margin
    var vb = svg.viewBox && svg.viewBox.baseVal, pad = 18;
    if (vb && vb.width) {
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
    var grads = {};
    grads[D.root] = D.seed;
    for (var i = 0; i < k; i++) grads[D.steps[i].input] = D.steps[i].grad;
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
      if (badges[n.id]) badges[n.id].textContent = reached ? "grad " + grads[n.id] : "";
      var tr = rowsById[n.id];
      tr.lastChild.textContent = reached ? grads[n.id] + (done ? "" : " (so far)") : "";
      tr.classList.toggle("changed", !!cur && cur.input === n.id);
      tr.classList.toggle("pending", !reached);
    });
    Object.keys(nodeEls).forEach(function (id) {
      nodeEls[id].classList.toggle("cr-op", !!cur && cur.ops.indexOf(id) >= 0);
    });
    edgeEls.forEach(function (e, i) {
      e.classList.toggle("cr-current", !!cur && cur.edges.indexOf(i) >= 0);
    });
    stepRows.forEach(function (tr, i) { tr.classList.toggle("current", i === k - 1); });
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

"""Drawing a computation graph: ``draw_graph(root) -> Graph`` (DOT text, SVG, files).

The drawing is built as DOT text here, by our own code, so that it is
deterministic (node ids come from a traversal of the graph, never from
``id()``), works without Graphviz installed (``Graph.source``) and every piece of
user text is escaped in one place. Rendering runs Graphviz's ``dot`` program,
under a time limit, and only for graphs it can lay out in reasonable time.

What a drawing shows:

* every Value as a small table ``name | data | grad``; the name is the node's
  name in the one notation of ``notation.py`` (its label in bold, or a short
  expression such as ``a * b``, or ``v<k>``, which is also the node's id; a
  number mixed into an expression shows only its data), drawn as Graphviz
  ``shape=plain`` so that arrows end on the table itself. Its first cells are
  filled by the node's *role* (input, parameter, constant, intermediate,
  output: from what the node is, see ``draw_graph``), its grad cell by the
  gradient's sign (red positive, blue negative) and size (paler near 0);
* every op as a small oval with its symbol (``*``, ``tanh``, ``^2``), between
  its inputs and its result; one edge per input, so ``a * a`` has two;
* optionally the local derivative d(out)/d(input) on each input edge
  (``local_grads``), and every path from some leaves to the root in a highlight
  colour (``highlight``);
* for networks built with ``nn``: clusters per neuron or layer (``group``) or one
  compact node per neuron call (``collapse``: its output's name, data and
  delta = dL/dz, with a port per input), read from ``Value.scope``;
* a legend of the roles and marks used (``Graph.legend()``, ``legend_html()``),
  shown under the picture in Jupyter, where a graph is drawn by the browser
  (the vendored Viz.js) when ``dot`` is missing.

**Drawings never hang.** Graphviz's layout time grows steeply with the number
of nodes and of long edges (a 352-value graph in which two leaves feed all 50
stages keeps ``dot`` busy for minutes). ``draw_graph`` estimates the layout
cost (``Graph.cost``: nodes, edges and the bends long edges need), and
rendering refuses a graph over ``LAYOUT_LIMIT`` at once, with a
``GraphTooLarge`` error that names the size and what to draw instead; below
it, ``dot`` runs at most ``RENDER_TIMEOUT`` seconds. The Jupyter display, the
page and ``Graph.save`` then fall back to the DOT text with that note.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, NamedTuple

from ..value import Value
from .files import atomic_write
from .groups import Neurons, find_neurons, kind_of, module_paths, owner_formula, owner_name
from .notation import Notation, number, visible

__all__ = ["draw_graph", "Graph", "GraphTooLarge", "LayoutCost", "LegendEntry", "legend_html",
           "dot_available", "ROLE_COLOURS", "grad_colour", "inline_svg", "LAYOUT_LIMIT", "RENDER_TIMEOUT"]

#: One line telling how to get Graphviz's ``dot`` program.
INSTALL_HINT = (
    "install Graphviz's `dot` program (Debian/Ubuntu: sudo apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz; others: "
    "https://graphviz.org/download/)"
)

#: Largest estimated layout cost (``LayoutCost.total``) rendered without ``force=True``.
#: Measured with Graphviz 2.43: a 2-16-16-1 MLP on one sample, drawn in full, costs
#: about 7,100 and takes ~1 s; the 352-value graph above costs 21,100 (minutes); the
#: worst graph measured under 10,000 took 13 s, every one over it more than 60 s.
LAYOUT_LIMIT = 10_000
#: Seconds ``dot`` may run before rendering gives up (``None``: no limit).
RENDER_TIMEOUT: float | None = 20.0

#: Fill colour of a value node's label and data cells, by role.
ROLE_COLOURS = {
    "input": "#d9f0d3",  # a leaf the user made: x, a, b ...
    "parameter": "#fde0c5",  # a leaf that is a weight or bias
    "constant": "#eeeeee",  # a number mixed into an expression (an unlabelled leaf)
    "intermediate": "#ffffff",  # made by an op
    "output": "#e4d7f0",  # the root
    "neuron": "#ffffff",  # a collapsed nn neuron (draw_graph(collapse=True))
}

HIGHLIGHT = "#e6550d"  # paths (highlight=) and the current edge (current=)
_POSITIVE = (0xD6, 0x60, 0x4D)  # full-strength red for large positive gradients
_NEGATIVE = (0x43, 0x93, 0xC3)  # full-strength blue for large negative gradients
_FADED = "#aaaaaa"  # text and borders of nodes whose gradient is not final yet
_FONT = "Helvetica"
_LOCAL_SIZE = 9  # pt: local derivatives on edges, smaller than the boxes' 11 pt
_PORT_SIZE = 10  # pt: the input names on a collapsed neuron's ports
_HOT = f', color="{HIGHLIGHT}", fontcolor="{HIGHLIGHT}", penwidth=2'
_HOT_CURRENT = f', color="{HIGHLIGHT}", fontcolor="{HIGHLIGHT}", penwidth=3.5'

# A weight or bias by its name: w, w1, w1.2.3, w_2, W, b, b1, weight, bias, theta, and
# the lectures' hidden weights v_ij (v12, v_12, V1.2; "v" alone is too often a velocity).
_PARAMETER_LABEL = re.compile(
    r"^(?:(?:w|b|weight|bias|theta|θ)(?:$|[\d_.\[(])|v[\d_\[(])", re.IGNORECASE)
_RANKDIRS = ("LR", "TB", "RL", "BT")
_GROUPS = (None, "neuron", "layer")
_FORMATS = (".svg", ".png", ".pdf")


def dot_available() -> bool:
    """True if Graphviz's ``dot`` program is on the PATH (needed to render)."""
    return shutil.which("dot") is not None


def grad_colour(grad: float | None) -> str:
    """The fill colour of a gradient cell: hue by sign, strength by size.

    A diverging scale: 0 is white, positive gradients red, negative blue; the
    strength is ``|g| / (|g| + 1)`` (so ``|g| = 1`` is half way), fixed rather
    than relative to the graph, so a colour means the same number in every
    drawing. ``None`` (no gradient yet) is white; NaN is grey.

    >>> grad_colour(0.0), grad_colour(1e9), grad_colour(-1e9)
    ('#ffffff', '#d6604d', '#4393c3')
    """
    if grad is None or grad == 0.0:
        return "#ffffff"
    if math.isnan(grad):
        return "#cccccc"
    size = abs(grad)
    strength = 1.0 if math.isinf(size) else size / (size + 1.0)
    base = _POSITIVE if grad > 0 else _NEGATIVE
    mixed = (round(255 + (c - 255) * strength) for c in base)
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _text(s: Any, lines: bool = False) -> str:
    """User text made safe inside a Graphviz HTML-like label (and hence in the SVG).

    Control characters, lone surrogates and the like are first written visibly
    (``notation.visible``: ``\\n``, ``\\x1b``), then ``<``, ``>``, ``&`` and
    quotes become entities, so a label can never close the label, the node or
    the graph. Backslashes are doubled because Graphviz expands ``\\N`` (node
    name) and ``\\G`` (graph name) even inside HTML-like labels, and prints
    ``\\\\`` as one backslash. With ``lines=True`` (titles) a newline is a line break.
    """
    s = str(s)
    parts = s.split("\n") if lines else [s]
    return "<br/>".join(html.escape(visible(p), quote=True).replace("\\", "\\\\") for p in parts)


# --- what a drawing costs to lay out ------------------------------------------------


class LayoutCost(NamedTuple):
    """An estimate of Graphviz's layout work for one drawing.

    ``nodes`` and ``edges`` as drawn (op ovals included); ``bends``: the extra
    points Graphviz routes long edges through, one per rank an edge crosses,
    counted on a layering of the drawing (each node one rank after its inputs,
    each leaf just before its first use). ``total`` is their sum: layout time
    grows faster than linearly in it.
    """

    nodes: int
    edges: int
    bends: int

    @property
    def total(self) -> int:
        return self.nodes + self.edges + self.bends

    def __str__(self) -> str:
        return (f"{self.nodes} drawn nodes, {self.edges} edges and about {self.bends} "
                f"edge bends (layout cost {self.total})")


def _layout_cost(edges: list[tuple[str, str]], leaves: set[str], n_nodes: int) -> LayoutCost:
    """``LayoutCost`` of a drawing whose edges are listed inputs first (see ``_Plan``)."""
    rank: dict[str, int] = {}
    for tail, head in edges:
        rank[head] = max(rank.get(head, 0), rank.get(tail, 0) + 1)
    first_use: dict[str, int] = {}
    for tail, head in edges:
        if tail in leaves:
            first_use[tail] = min(first_use.get(tail, rank[head]), rank[head])
    for leaf, r in first_use.items():
        rank[leaf] = r - 1
    bends = sum(max(0, rank.get(head, 0) - rank.get(tail, 0) - 1) for tail, head in edges)
    return LayoutCost(n_nodes, len(edges), bends)


class GraphTooLarge(RuntimeError):
    """A graph too big for Graphviz to lay out in reasonable time (refused or timed out)."""


_DRAW_LESS = ("draw less: collapse=True or group=\"layer\" for an nn model, fewer samples in "
              "a batch, or a smaller part of the graph (draw an intermediate Value instead "
              "of the loss)")


def _attr(s: Any) -> str:
    """User text made safe inside a quoted DOT attribute (tooltips): visible, escaped."""
    return html.escape(visible(str(s)), quote=True).replace("\\", "\\\\")


# --- the legend -------------------------------------------------------------------------


class LegendEntry(NamedTuple):
    """One line of a drawing's legend: a CSS colour, what it is called, what it means."""

    colour: str
    name: str
    meaning: str


_ROLE_MEANINGS = {
    "input": "a leaf you made and named (x, a, ...)",
    "constant": "a number written into the expression (a leaf without a label)",
    "intermediate": "made by an op from its inputs",
    "output": "the Value drawn (the root); its grad is 1 after backward()",
}
_PARAMETER_MEANINGS = {
    "model": "a weight or bias: a parameter of the nn model (its parameters() lists it)",
    "given": "a leaf passed in parameters=",
    "labels": ("a weight or bias, guessed from its label (w, w1, v12, b, b2, weight, bias): "
               "this graph has no nn model; pass parameters= to say which leaves are"),
}
_MODEL_INPUT = "an input of the model: a leaf fed to it that is not one of its parameters"


def _legend(plan: _Plan) -> list[LegendEntry]:
    """The roles and marks this drawing uses, in reading order."""
    options, neurons = plan.options, plan.neurons
    drawn = [n for n in plan.order if n not in neurons.of]
    used = {plan.roles[n] for n in drawn}
    entries = []
    for role in ("input", "parameter", "constant", "intermediate", "output"):
        if role not in used:
            continue
        if role == "parameter":
            meaning = _PARAMETER_MEANINGS[plan.roles_from]
        elif role == "input" and any(n in plan.model_inputs for n in drawn):
            meaning = _MODEL_INPUT
        else:
            meaning = _ROLE_MEANINGS[role]
        entries.append(LegendEntry(ROLE_COLOURS[role], role, meaning))
    if plan.samples:
        entries.append(LegendEntry(ROLE_COLOURS["input"], "[sample k]",
                                   "an input of the k-th sample of the batch"))
    if neurons.of:
        formulas = sorted({f for f in map(owner_formula, neurons.owner.values()) if f})
        computes = f" ({', '.join(formulas)})" if formulas else ""
        entries.append(LegendEntry(
            ROLE_COLOURS["neuron"], "neuron",
            f"one nn neuron{computes}, its weights and bias inside: its output's name and "
            "data, and δ = dL/dz, the gradient at its pre-activation z (the lectures' "
            "delta), not dL/da at its output"))
        if any(len(neurons.sources(k)) <= PORTS_UP_TO for k in neurons.members):
            entries.append(LegendEntry("#f7f7f7", "input port",
                                       "a neuron's input: the edge from it ends here"))
    if options.show_grad:
        grads = [plan.shown_grad(neurons.pre_activation(neurons.of[n]) if n in neurons.of
                                 else n) for n in plan.order
                 if n not in neurons.of or n is neurons.output[neurons.of[n]]]
        if any(g is not None and g > 0 for g in grads):
            entries.append(LegendEntry(grad_colour(1.0), "grad > 0", "red, stronger the "
                                       "larger it is (half strength at 1)"))
        if any(g is not None and g < 0 for g in grads):
            entries.append(LegendEntry(grad_colour(-1.0), "grad < 0", "blue, stronger the "
                                       "larger |grad| is"))
        if any(g is None for g in grads):
            entries.append(LegendEntry("#ffffff", "grad ?", "not computed yet"))
    if options.show_local:
        meaning = "the local derivative d(node)/d(input)"
        if neurons.of:
            meaning += ("; on an edge into a neuron, dz/d(input), the factor its δ = dL/dz "
                        "is multiplied by on the way back (the weight, for an input)")
        entries.append(LegendEntry("#333333", "number on an edge", meaning))
    if plan.on_path:
        entries.append(LegendEntry(HIGHLIGHT, "path", "a path from the highlighted leaf to "
                                   "the root, local derivatives on its edges"))
    if options.current is not None:
        entries.append(LegendEntry(HIGHLIGHT, "current edge",
                                   "the chain-rule step being applied now (thickest)"))
    if options.done is not None and any(plan.faded(n) for n in drawn):
        entries.append(LegendEntry(_FADED, "faded", "its gradient is not final yet"))
    return entries


def legend_html(entries: Iterable[tuple[str, str, str]]) -> str:
    """A legend as an HTML block: one line per (colour, name, meaning), all escaped."""
    rows = []
    for colour, name, meaning in entries:
        rows.append(
            '<div style="display:flex;align-items:baseline;gap:6px;margin:1px 0">'
            f'<span style="flex:none;width:12px;height:12px;border:1px solid #444;'
            f'background:{html.escape(colour, quote=True)}"></span>'
            f"<b>{html.escape(name)}</b><span>{html.escape(meaning)}</span></div>"
        )
    return ('<div class="chainrule-legend" style="font:12px Helvetica,Arial,sans-serif;'
            'margin-top:6px;color:#222">' + "".join(rows) + "</div>")


# --- the drawn graph ------------------------------------------------------------------


class Graph:
    """A drawn computation graph: DOT text now, SVG/PNG when rendered.

    Displays itself in Jupyter as its picture with the legend under it: SVG made
    by ``dot``, or, without ``dot``, drawn in the browser by the vendored Viz.js
    (``browser_html``); when it is too big to lay out, as its DOT text after a
    one-line note. Made by ``draw_graph``.

    Attributes:
        source: the DOT text (deterministic: the same graph gives the same text).
        cost: the estimated layout cost (``LayoutCost``).
    """

    def __init__(self, source: str, ids: dict[Value, str], edges: dict[tuple, str],
                 counts: tuple[int, int], cost: LayoutCost | None = None,
                 legend: Iterable[LegendEntry] = ()) -> None:
        self.source = source
        self._ids = ids
        self._edges = edges
        self._counts = counts
        self.cost = cost if cost is not None else LayoutCost(sum(counts), 0, 0)
        self._legend = list(legend)

    def legend(self) -> list[LegendEntry]:
        """The roles and marks this drawing uses, as ``(css colour, name, meaning)``
        tuples (``LegendEntry``), e.g. ``("#fde0c5", "parameter", "a weight or bias:
        ...")``. The meaning of *parameter* says whether roles came from an nn model,
        from ``parameters=`` or were guessed from labels."""
        return list(self._legend)

    def legend_html(self) -> str:
        """The legend as an HTML block (escaped), as the notebook display shows it."""
        return legend_html(self._legend)

    def node_id(self, value: Value) -> str:
        """The DOT id of ``value``'s node (also its SVG element id and ``<title>``).

        In a collapsed drawing, a Value inside a neuron maps to the neuron's node.
        """
        try:
            return self._ids[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not drawn in this graph") from None

    def op_id(self, node: Value) -> str:
        """The DOT/SVG id of the op node (the small oval) that made ``node``."""
        edge = self.edge_id(node, None)  # e<k> -> op<k>
        return "op" + edge[1:]

    def edge_id(self, node: Value, position: int | None = None) -> str:
        """The DOT/SVG id of the edge into ``node``'s op from ``node.inputs[position]``,
        or, with ``position=None``, of the edge from the op to ``node``."""
        try:
            return self._edges[(node, position)]
        except (KeyError, TypeError):
            raise ValueError(
                f"no edge for input {position} of {node!r} in this graph"
            ) from None

    def check_size(self) -> None:
        """Raise ``GraphTooLarge`` if the layout cost is over ``LAYOUT_LIMIT``."""
        if self.cost.total > LAYOUT_LIMIT:
            raise GraphTooLarge(
                f"this graph is too big to lay out: {self.cost}, over the limit of "
                f"{LAYOUT_LIMIT}; Graphviz would take minutes. To see it, {_DRAW_LESS}; "
                f"or render it anyway with .svg(force=True) (stopped after "
                f"{RENDER_TIMEOUT} s; timeout=None for no limit)"
            )

    def pipe(self, format: str = "svg", *, timeout: float | None = RENDER_TIMEOUT,
             force: bool = False) -> bytes:
        """Render with Graphviz's ``dot`` to ``format`` ("svg", "png", "pdf"), as bytes.

        Refuses a graph over the layout limit (unless ``force=True``) and stops
        ``dot`` after ``timeout`` seconds.

        Raises:
            GraphTooLarge (a RuntimeError): the graph is too big, or ``dot`` ran
                out of time; the message says what to draw instead.
            RuntimeError: ``dot`` is not installed (with an install hint) or failed.
        """
        if not force:
            self.check_size()
        return _render(self.source, format, timeout, self.cost)

    def svg(self, *, timeout: float | None = RENDER_TIMEOUT, force: bool = False) -> str:
        """The drawing as SVG text (needs Graphviz's ``dot``; see ``pipe``)."""
        return self.pipe("svg", timeout=timeout, force=force).decode("utf-8")

    def save(self, path: str | Path, *, timeout: float | None = RENDER_TIMEOUT,
             force: bool = False) -> Path:
        """Write the drawing to ``path``: ``.svg``, ``.png``, ``.pdf`` or ``.dot``/``.gv``.

        The file is written atomically (``engine.teach.files.atomic_write``): on
        any failure an older file of that name is left as it was. Returns the
        path written. When the picture cannot be rendered (no ``dot``, or a
        graph too big to lay out) it writes the DOT text next to it (same name,
        ``.dot``), prints why and how to render it, and returns that path.
        """
        if not isinstance(path, (str, Path)):
            raise TypeError(f"Graph.save: path must be a str or pathlib.Path, got "
                            f"{type(path).__name__} {path!r}")
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".dot", ".gv"):
            return atomic_write(path, self.source)
        if suffix not in _FORMATS:
            raise ValueError(
                f"Graph.save: cannot tell the format of {str(path)!r}; "
                f"end the file name with one of {', '.join(_FORMATS + ('.dot',))}"
            )
        try:
            data = self.pipe(suffix[1:], timeout=timeout, force=force)
        except RuntimeError as error:
            dot_path = atomic_write(path.with_suffix(".dot"), self.source)
            print(
                f"Could not render {path.name}: {error}\n"
                f"Wrote the DOT text to {dot_path}; render it with: "
                f"dot -T{suffix[1:]} {dot_path} -o {path}"
            )
            return dot_path
        return atomic_write(path, data)

    def _display_svg(self) -> str:
        """The SVG for the notebook display, rendered once (IPython asks more than once);
        raises the RuntimeError of ``svg()`` (no ``dot``, too big, failed) each time."""
        if not hasattr(self, "_shown"):
            try:
                self._shown: str | RuntimeError = self.svg()
            except RuntimeError as error:
                self._shown = error
        if isinstance(self._shown, RuntimeError):
            raise self._shown
        return self._shown

    def browser_html(self) -> str:
        """HTML that draws this graph in the browser, without Graphviz's ``dot``.

        It carries the DOT text and the vendored Viz.js (Graphviz compiled to
        WebAssembly, MIT; see ``engine/teach/assets/THIRD_PARTY.md``) inline, so it
        needs no network and no other output: **each such display adds about
        1.3 MB** to the notebook. Several can share a page: each has its own
        element ids, and the library is only run if ``window.Viz`` is not there
        yet. Notebooks run its script only when trusted (your own outputs are;
        a notebook opened from elsewhere needs "Trust notebook"). The legend
        follows the picture.
        """
        from .assets import read

        uid = "chainrule-graph-" + uuid.uuid4().hex[:12]
        dot = (json.dumps(self.source).replace("<", "\\u003c").replace(">", "\\u003e")
               .replace("&", "\\u0026"))
        library = read("viz-global.js")
        return (
            f'<div class="chainrule-graph" id="{uid}">'
            '<div class="chainrule-picture" style="overflow:auto">Drawing the graph in '
            "the browser with Viz.js...</div>"
            f'<script type="application/json" class="chainrule-dot">{dot}</script>'
            # The library's UMD wrapper would register with RequireJS where the page has
            # it (the classic Notebook): hiding define/exports/module makes it set window.Viz.
            "<script>if (!window.Viz) { (function (define, exports, module) {\n"
            + library
            + "\n}).call(window); }</script>"
            + _BROWSER_DRAW.replace("UID", uid)
            + self.legend_html()
            + "</div>"
        )

    def _repr_html_(self) -> str | None:
        """Jupyter display as HTML: the picture, then the legend (``legend_html``).

        With Graphviz's ``dot``: its SVG inline. Without it: ``browser_html()``,
        which draws the graph in the browser with the vendored Viz.js. None (plain
        text instead) when the graph is too big to lay out or ``dot`` failed.
        """
        try:
            svg = self._display_svg()
        except GraphTooLarge:
            return None
        except RuntimeError:
            if dot_available() or self.cost.total > LAYOUT_LIMIT:
                return None  # dot failed: the text says why
            return self.browser_html()
        return _picture_html(svg, self.legend_html())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter display: HTML (picture and legend) and SVG, or, without ``dot``, the
        HTML that draws it in the browser and, as plain text, a one-line note and the
        DOT text; only that text when it cannot be drawn (too big to lay out)."""
        try:
            svg = self._display_svg()
        except RuntimeError as error:
            # the note first: a network's DOT text runs to hundreds of lines
            bundle = {"text/plain": f"// Not rendered: {error}\n{self.source}"}
            page = self._repr_html_()
            if page is not None:
                bundle["text/html"] = page
            return bundle
        return {"text/html": _picture_html(svg, self.legend_html()),
                "image/svg+xml": svg, "text/plain": repr(self)}

    def __repr__(self) -> str:
        values, ops = self._counts
        return f"Graph({values} value nodes, {ops} op nodes; .source, .svg(), .save(path))"


# Draws one browser_html() output: finds its own elements from its script (so it works
# before the output is attached to the page, and beside other graphs), then renders.
_BROWSER_DRAW = """<script>(function () {
  var me = document.currentScript;
  var root = (me && me.parentNode) || document.getElementById("UID");
  var box = root.querySelector(".chainrule-picture");
  var dot = JSON.parse(root.querySelector(".chainrule-dot").textContent);
  if (!window.Viz) { box.textContent = "Viz.js did not load: cannot draw the graph."; return; }
  window.Viz.instance().then(function (viz) {
    var svg = viz.renderSVGElement(dot);
    svg.style.maxWidth = "100%";  // shrunk to the output's width if wider (it has a viewBox)
    svg.style.height = "auto";
    box.replaceChildren(svg);
  }).catch(function (error) {
    box.textContent = "Viz.js could not draw this graph: " + error;
  });
})();</script>"""


def _picture_html(svg: str, legend: str) -> str:
    """The notebook's HTML display: the SVG, shrunk to the output's width if wider
    (it has a viewBox), then the legend."""
    svg = re.sub(r"<svg\b", '<svg style="max-width:100%;height:auto"', inline_svg(svg), count=1)
    return f'<div class="chainrule-graph">{svg}{legend}</div>'


def inline_svg(svg: str) -> str:
    """An SVG document made fit to sit inside HTML: no XML prolog, doctype or comments."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.S)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _render(source: str, format: str, timeout: float | None = RENDER_TIMEOUT,
            cost: LayoutCost | None = None) -> bytes:
    """Run ``dot -T<format>`` on ``source``, stopped (killed) after ``timeout`` seconds."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"Graphviz's `dot` program was not found on the PATH; {INSTALL_HINT}")
    try:
        done = subprocess.run([dot, f"-T{format}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphTooLarge(
            f"Graphviz's dot did not finish laying out this graph within {timeout} s"
            + (f" ({cost})" if cost is not None else "")
            + f"; {_DRAW_LESS}; or allow longer: .svg(timeout=120)"
        ) from None
    except OSError as error:  # pragma: no cover - dot removed or not executable meanwhile
        raise RuntimeError(f"Graphviz's `dot` could not be run ({error}); {INSTALL_HINT}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"Graphviz's dot failed: {message[-1] if message else done.returncode}")
    return done.stdout


# --- 1. checking the arguments --------------------------------------------------------


@dataclass
class _Options:
    """draw_graph's arguments, checked and normalised."""

    root: Value
    rankdir: str
    show_grad: bool
    show_local: bool
    targets: list[Value]
    group: str | None
    collapse: bool
    grads: dict[Value, float] | None
    current: tuple[Value, int] | None
    done: set[Value] | None
    title: str | None
    parameters: list[Value] | None


def _as_values(what: str, values: Any) -> list[Value]:
    if isinstance(values, Value):
        return [values]
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
        values = list(values)
        if all(isinstance(v, Value) for v in values):
            return values
    raise TypeError(f"draw_graph: {what}= takes a Value or Values, got {values!r}")


def _checked_grads(grads: Any) -> dict[Value, float] | None:
    if grads is None:
        return None
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"draw_graph: grads= takes a mapping from Values to numbers, got {type(grads).__name__}"
        )
    checked: dict[Value, float] = {}
    for node, g in grads.items():
        if not isinstance(node, Value):
            raise TypeError(f"draw_graph: grads= maps Values to numbers; a key is "
                            f"{type(node).__name__} {node!r}, not a Value")
        if isinstance(g, bool) or not isinstance(g, Real):
            raise TypeError(f"draw_graph: grads= maps Values to numbers; the gradient given "
                            f"for {node!r} is {type(g).__name__} {g!r}: pass a float")
        checked[node] = float(g)
    return checked


def _check_arguments(root: Any, rankdir: Any, show_grad: Any, show_local: Any, highlight: Any,
                     group: Any, collapse: Any, grads: Any, current: Any, done: Any,
                     title: Any, parameters: Any) -> _Options:
    if not isinstance(root, Value):
        raise TypeError(
            f"draw_graph needs a Value (the root of the graph), got {type(root).__name__}; "
            "for an nn model's output list, draw one Value such as the loss or output[0]"
        )
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    if group not in _GROUPS:
        raise ValueError(f"draw_graph: group must be one of {_GROUPS}, got {group!r}")
    for name, flag in (("show_grad", show_grad), ("show_local", show_local),
                       ("collapse", collapse)):
        if not isinstance(flag, bool):
            raise TypeError(f"draw_graph: {name}= takes True or False, got {flag!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw_graph: title= takes a str, got {type(title).__name__} {title!r}")
    if current is not None:
        ok = (
            isinstance(current, tuple) and len(current) == 2
            and isinstance(current[0], Value) and isinstance(current[1], int)
            and not isinstance(current[1], bool)
            and 0 <= current[1] < len(current[0].inputs)
        )
        if not ok:
            raise ValueError(
                "draw_graph: current= takes (node, input_position) with 0 <= position < "
                f"len(node.inputs), got {current!r}"
            )
    return _Options(
        root=root, rankdir=rankdir, show_grad=show_grad, show_local=show_local,
        targets=_as_values("highlight", highlight) if highlight is not None else [],
        group=group, collapse=collapse, grads=_checked_grads(grads), current=current,
        done=set(_as_values("done", done)) if done is not None else None, title=title,
        parameters=_as_values("parameters", parameters) if parameters is not None else None,
    )


# --- 2. what to draw: order, ids, roles, clusters ---------------------------------------


def _depends_on(order: list[Value], sources: set[Value]) -> set[Value]:
    """Nodes that are in ``sources`` or have one of them among their inputs, recursively."""
    reached: set[Value] = set()
    for node in order:
        if node in sources or any(i in reached for i in node.inputs):
            reached.add(node)
    return reached


def _role(node: Value, root: Value, parameters: set[Value], guess: bool,
          model_inputs: set[Value]) -> str:
    """output (the root), intermediate (made by an op), parameter, input or constant.

    A leaf is a parameter if a model lists it (or ``parameters=`` does), or, in a
    bare expression (``guess``), if its label looks like a weight or bias; an input
    if it feeds a model without being its parameter, or has a label; else a
    constant (a number mixed into an expression)."""
    if node is root:
        return "output"
    if not node.is_leaf():
        return "intermediate"
    if node in parameters or (guess and _PARAMETER_LABEL.match(node.label)):
        return "parameter"
    return "input" if node.label or node in model_inputs else "constant"


def _model_inputs(order: list[Value], parameters: set[Value]) -> set[Value]:
    """A model's inputs (x1, x2 of an ``nn`` MLP): leaves, not parameters, that are
    read by a node made inside a model's scope and made outside every scope, or
    labelled. (An unlabelled number made inside a model is a constant of its formula.)"""
    found = {n for n in order if n.is_leaf() and n.scope and n.label}
    for node in order:
        if node.scope:
            found.update(i for i in node.inputs if i.is_leaf() and (i.label or not i.scope))
    return found - parameters


def _samples(order: list[Value], neurons: Neurons, inputs: Collection[Value]) -> dict[Value, int]:
    """In a batch graph (a neuron called more than once), the sample (1, 2, ...) of each
    model input: the number of the neuron call it feeds, calls counted in the order
    the graph meets them (the order of the samples when the loss adds them in order)."""
    if not any(len(calls) > 1 for calls in neurons.calls.values()):
        return {}
    number = {key: n for keys in neurons.calls.values() for n, key in enumerate(keys, 1)}
    fed: dict[Value, set[int]] = {}
    for node in order:
        key = neurons.of.get(node)
        if key is None:
            continue
        call = number[key]
        for i in node.inputs:
            if i in inputs and i not in neurons.of:
                fed.setdefault(i, set()).add(call)
    return {leaf: next(iter(calls)) for leaf, calls in fed.items() if len(calls) == 1}


@dataclass
class _Plan:
    """Everything decided before any DOT is written."""

    options: _Options
    notation: Notation
    order: list[Value]
    index: dict[Value, int]
    ids: dict[Value, str]
    roles: dict[Value, str]
    on_path: set[Value]
    neurons: Neurons
    cluster_path: Callable[[Value], tuple]
    roles_from: str  # "model", "given" (parameters=) or "labels" (a bare expression)
    samples: dict[Value, int]  # model input -> its sample, in a batch graph
    model_inputs: set[Value]  # leaves fed to a model that are not its parameters
    # filled while writing: edge ids for Graph, and edges for the layout estimate
    edge_ids: dict[tuple, str] = field(default_factory=dict)
    layout_edges: list[tuple[str, str]] = field(default_factory=list)

    def shown_grad(self, node: Value) -> float | None:
        grads = self.options.grads
        if grads is None:
            return node.grad
        return grads.get(node)

    def faded(self, node: Value) -> bool:
        done = self.options.done
        return done is not None and node not in done


def _plan(options: _Options) -> _Plan:
    root = options.root
    notation = Notation(root)
    order = notation.order
    index = notation.index
    for t in options.targets:
        if t not in index:
            raise ValueError(
                f"draw_graph: highlight={t!r} is not in the graph of the root "
                "(the root does not depend on it)"
            )
    if options.current is not None and options.current[0] not in index:
        raise ValueError(f"draw_graph: current node {options.current[0]!r} is not in the graph")
    scopes, owned = module_paths(order)
    has_model = bool(owned) or any(node.scope for node in order)
    if options.parameters is not None:
        owned, roles_from = set(options.parameters), "given"
    else:
        roles_from = "model" if has_model else "labels"
    model_inputs = _model_inputs(order, owned) if has_model else set()
    guess = roles_from == "labels"
    roles = {node: _role(node, root, owned, guess, model_inputs) for node in order}

    # Which nodes make up each neuron call (merged into one node by collapse), and
    # which cluster each node is in.
    calls = find_neurons(order, scopes, root) if has_model else Neurons()
    samples = _samples(order, calls, {n for n in order if roles[n] == "input"})
    neurons = calls if options.collapse else Neurons()
    levels = {"neuron": ("layer", "neuron"), "layer": ("layer",), None: ()}[options.group]
    if options.collapse:
        levels = tuple(k for k in levels if k != "neuron")

    def cluster_path(node: Value) -> tuple:
        return tuple(o for o in scopes[node] if kind_of(o) in levels)

    ids: dict[Value, str] = {}
    for node in order:
        shown = neurons.output[neurons.of[node]] if node in neurons.of else node
        ids[node] = f"v{index[shown]}"
    on_path = _depends_on(order, set(options.targets)) if options.targets else set()
    return _Plan(options, notation, order, index, ids, roles, on_path, neurons, cluster_path,
                 roles_from, samples, model_inputs)


# --- 3. nodes -------------------------------------------------------------------------


def _cell(text: str, fill: str, faded: bool, extra: str = "") -> str:
    body = f'<font color="{_FADED}">{text}</font>' if faded else text
    return f'<td bgcolor="{fill}"{extra}>{body}</td>'


def _table(rows: list[str], hot: bool, faded: bool) -> str:
    # Cells have their own borders; the table's border is drawn only to mark a path.
    colour = HIGHLIGHT if hot else (_FADED if faded else "#444444")
    border = "2" if hot else "0"
    return (
        f'<table border="{border}" cellborder="1" cellspacing="0" cellpadding="3" color="{colour}">'
        + "".join(f"<tr>{r}</tr>" for r in rows)
        + "</table>"
    )


def _grad_cell(plan: _Plan, node: Value, faded: bool) -> str:
    grad = plan.shown_grad(node)
    text = "grad ?" if grad is None else f"grad {number(grad)}"
    return _cell(text, grad_colour(grad), faded)


def _stacked(plan: _Plan, name: list[str], numbers: list[str]) -> list[str]:
    """A box's table rows: ``name | data | grad`` in one row, or, in a collapsed
    network drawn left to right (where width is what runs out), the name above
    ``data | grad``."""
    if not name or not plan.neurons.of or plan.options.rankdir not in ("LR", "RL"):
        return ["".join(name + numbers)]
    spanned = name[0].replace("<td ", f'<td colspan="{len(numbers)}" ', 1)
    return [spanned, "".join(numbers)]


def _value_node(plan: _Plan, node: Value) -> str:
    node_id, role = plan.ids[node], plan.roles[node]
    hot, faded = node in plan.on_path, plan.faded(node)
    fill = ROLE_COLOURS[role]
    name = []
    sample = plan.samples.get(node)
    mark = f" [sample {sample}]" if sample is not None else ""
    if node.label:  # the student's name, in bold
        name.append(_cell(f"<b>{_text(plan.notation.name(node))}</b>{mark}", fill, faded))
    elif mark:  # an unlabelled input of a model, in a batch
        name.append(_cell(f"{_text(plan.notation.name(node))}{mark}", fill, faded))
    elif not node.is_leaf():  # a name the notation made up: a short expression or v<k>
        name.append(_cell(_text(plan.notation.name(node)), fill, faded))
    numbers = [_cell(f"data {number(node.data)}", fill, faded)]
    if plan.options.show_grad:
        numbers.append(_grad_cell(plan, node, faded))
    classes = " ".join(["value", role] + (["path"] if hot else []) + (["pending"] if faded else []))
    label = _table(_stacked(plan, name, numbers), hot, faded)
    return f'{node_id} [id="{node_id}", class="{classes}", shape=plain, label=<{label}>];'


def _op_node(plan: _Plan, node: Value) -> str:
    op_id = f"op{plan.index[node]}"
    colour = f', color="{HIGHLIGHT}", penwidth=2' if node in plan.on_path else ""
    return (
        f'{op_id} [id="{op_id}", class="op", shape=ellipse, style=filled, fillcolor="#f2f2f2", '
        f'margin="0.04,0.02", width=0.3, height=0.3, '
        f"label=<{_text(plan.notation.symbol(node))}>{colour}];"
    )


#: A collapsed neuron with at most this many inputs gets one port per input (a cell
#: naming it, where its edge ends); wider neurons would grow too tall for that.
PORTS_UP_TO = 4
_PORT_SIDE = {"LR": "w", "RL": "e", "TB": "n", "BT": "s"}


def _ported(plan: _Plan, key: int) -> bool:
    return len(plan.neurons.sources(key)) <= PORTS_UP_TO


def _neuron_node(plan: _Plan, node: Value, key: int) -> str:
    """A compact neuron call: its output's name, its output's data and its delta.

    delta is dL/dz, the gradient at the neuron's pre-activation z (as the lectures
    write it), not dL/da at its output. With few inputs, a strip of port cells
    names each input where its edge comes in.
    """
    neurons, notation = plan.neurons, plan.notation
    owner = neurons.owner[key]
    formula = owner_formula(owner)
    z = neurons.pre_activation(key)
    hot = bool(set(neurons.members[key]) & plan.on_path)
    faded = plan.faded(node)
    fill = ROLE_COLOURS["neuron"]
    numbers = [_cell(f"data {number(node.data)}", fill, faded)]
    if plan.options.show_grad:
        delta = plan.shown_grad(z)
        text = "δ ?" if delta is None else f"δ {number(delta)}"
        numbers.append(_cell(text, grad_colour(delta), faded))
    name = [_cell(f"<b>{_text(notation.name(node))}</b>", fill, faded)]
    label = _table(_stacked(plan, name, numbers), hot, faded)
    if _ported(plan, key):
        ports = [
            f'<td port="p{n}" bgcolor="#f7f7f7" cellpadding="1">'
            f'<font point-size="{_PORT_SIZE}">{_text(notation.name(i))}</font></td>'
            for n, i in enumerate(neurons.sources(key))
        ]
        across = plan.options.rankdir in ("LR", "RL")  # ports in a column beside the cells
        strip = _table([p for p in ports] if across else ["".join(ports)], False, faded)
        pieces = [f"<td>{strip}</td>", f"<td>{label}</td>"]
        if plan.options.rankdir in ("RL", "BT"):  # the ports face the incoming edges
            pieces.reverse()
        layout = ["".join(pieces)] if across else pieces
        label = ('<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
                 + "".join(f"<tr>{r}</tr>" for r in layout) + "</table>")
    zname = notation.name(z)
    tooltip = neurons.name(key) + (f": {formula}" if formula else "")
    tooltip += f"; δ = dL/d{zname} (at the pre-activation), not dL/d{notation.name(node)}"
    classes = "neuron" + (" path" if hot else "") + (" pending" if faded else "")
    node_id = plan.ids[node]
    return (
        f'{node_id} [id="{node_id}", class="{classes}", shape=plain, '
        f'tooltip="{_attr(tooltip)}", label=<{label}>];'
    )


def _node_statements(plan: _Plan) -> tuple[dict[tuple, list[str]], tuple[int, int]]:
    """Every node's DOT statement, grouped by cluster path; and (value nodes, op nodes)."""
    statements: dict[tuple, list[str]] = {}
    n_values = n_ops = 0
    neurons = plan.neurons
    for node in plan.order:
        path = plan.cluster_path(node)
        if node in neurons.of:  # collapsed: draw the neuron call once, at its output
            key = neurons.of[node]
            if node is neurons.output[key]:
                statements.setdefault(path, []).append(_neuron_node(plan, node, key))
                n_values += 1
            continue
        statements.setdefault(path, []).append(_value_node(plan, node))
        n_values += 1
        if not node.is_leaf():
            statements.setdefault(path, []).append(_op_node(plan, node))
            n_ops += 1
    return statements, (n_values, n_ops)


# --- 4. edges -------------------------------------------------------------------------


def _neuron_edges(plan: _Plan, node: Value, key: int) -> list[str]:
    """One edge from each source outside a collapsed neuron call into its node."""
    ids, notation = plan.ids, plan.notation
    ported = _ported(plan, key)
    side = _PORT_SIDE[plan.options.rankdir]
    locals_ = _pre_activation_grads(plan.neurons, key) if plan.options.show_local else {}
    lines = []
    k = plan.index[node]
    for n, i in enumerate(plan.neurons.sources(key)):
        source = ids[i]
        hot = i in plan.on_path
        plan.layout_edges.append((source, ids[node]))
        head = f"{ids[node]}:p{n}:{side}" if ported else ids[node]
        tip = f"{notation.name(i)} into {plan.neurons.name(key)}"
        label = f", {_local_label(locals_[i])}" if i in locals_ else ""
        lines.append(f'{source} -> {head} [id="e{k}_from_{source}", '
                     f'tooltip="{_attr(tip)}"{label}{_HOT if hot else ""}];')
    return lines


def _pre_activation_grads(neurons: Neurons, key: int) -> dict[Value, float]:
    """dz/d(source) for each source of a neuron call, z its pre-activation: the factor
    its delta (dL/dz) is multiplied by on the way back to that input (its weight, for
    an input of an ``nn`` neuron), found by the chain rule over the call's nodes."""
    z = neurons.pre_activation(key)
    grads: dict[Value, float] = {z: 1.0}
    for m in reversed(neurons.members[key]):
        g = grads.get(m)
        if g is None or m.is_leaf():
            continue
        for i, local in zip(m.inputs, m.local_grads):
            grads[i] = grads.get(i, 0.0) + g * local
    return {i: grads.get(i, 0.0) for i in neurons.sources(key)}


def _local_label(local: float) -> str:
    """An edge's label: the local derivative, small and dark grey beside the line."""
    return f'label=<{_text(number(local))}>, fontsize={_LOCAL_SIZE}, fontcolor="#333333"'


def _op_edges(plan: _Plan, node: Value) -> list[str]:
    """The edge op -> node, then one edge per input into the op (``a * a`` has two)."""
    k, ids, current = plan.index[node], plan.ids, plan.options.current
    op = f"op{k}"
    is_current = current is not None and current[0] is node
    plan.edge_ids[(node, None)] = f"e{k}"
    hot_out = node in plan.on_path or is_current
    lines = [f'{op} -> {ids[node]} [id="e{k}"{_HOT if hot_out else ""}];']
    for position, (i, local) in enumerate(zip(node.inputs, node.local_grads)):
        edge = f"e{k}_{position}"
        plan.edge_ids[(node, position)] = edge
        plan.layout_edges.append((ids[i], op))
        attrs = [f'id="{edge}"']
        this_current = is_current and current is not None and current[1] == position
        hot = i in plan.on_path or this_current
        if plan.options.show_local or hot:
            attrs.append(_local_label(local))
        if this_current:
            attrs.append('class="current"')
        style = _HOT_CURRENT if this_current else (_HOT if hot else "")
        lines.append(f"{ids[i]} -> {op} [{', '.join(attrs)}{style}];")
    plan.layout_edges.append((op, ids[node]))
    return lines


def _edge_statements(plan: _Plan) -> list[str]:
    """Every edge's DOT statement, in the order of the graph (written after the nodes)."""
    lines: list[str] = []
    neurons = plan.neurons
    for node in plan.order:
        if node in neurons.of:
            key = neurons.of[node]
            if node is neurons.output[key]:
                lines += _neuron_edges(plan, node, key)
        elif not node.is_leaf():
            lines += _op_edges(plan, node)
    return lines


# --- 5. clusters and the document ------------------------------------------------------


def _clusters(statements: dict[tuple, list[str]], order: list[Value],
              cluster_path: Callable[[Value], tuple]) -> list[str]:
    """The statements, with nodes of each cluster path nested in ``subgraph cluster_*``.

    Clusters are numbered in the order their first node appears, so the text is
    deterministic.
    """
    lines = ["  " + s for s in statements.get((), [])]
    # Every cluster path and its prefixes, in order of first appearance.
    paths: list[tuple] = []
    seen: set[tuple] = set()
    for node in order:
        path = cluster_path(node)
        for depth in range(1, len(path) + 1):
            key = tuple(id(o) for o in path[:depth])
            if key not in seen:
                seen.add(key)
                paths.append(path[:depth])
    numbers = {tuple(id(o) for o in p): n for n, p in enumerate(paths)}
    by_key = {tuple(id(o) for o in p): lines_ for p, lines_ in statements.items() if p}

    def write(path: tuple, indent: str) -> None:
        key = tuple(id(o) for o in path)
        owner = path[-1]
        kind = kind_of(owner) or "group"
        lines.append(f"{indent}subgraph cluster_{numbers[key]} {{")
        lines.append(
            f'{indent}  graph [label=<{_text(owner_name(owner))}>, class="{_text(kind)}", '
            f'style="rounded,dashed", color="#999999", fontsize=10];'
        )
        for s in by_key.get(key, []):
            lines.append(f"{indent}  {s}")
        for child in paths:
            if len(child) == len(path) + 1 and tuple(id(o) for o in child[:-1]) == key:
                write(child, indent + "  ")
        lines.append(f"{indent}}}")

    for path in paths:
        if len(path) == 1:
            write(path, "  ")
    return lines


def _header(plan: _Plan) -> list[str]:
    options, collapsed = plan.options, bool(plan.neurons.of)
    title = options.title
    return [
        "digraph chainrule {",
        # ordering=in: a node's inputs are laid out in operand order (a above b in a - b).
        # Collapsed networks connect every neuron to every neuron of the next layer:
        # translucent edges keep them readable; tight spacing keeps a 2-16-16-1 MLP
        # on one screen.
        f'  graph [rankdir={options.rankdir}, fontname="{_FONT}", '
        f"nodesep={0.1 if collapsed else 0.2}, "
        f"ranksep={0.45 if collapsed else 0.35}, ordering=in"
        + (f", label=<{_text(title, lines=True)}>, labelloc=t, fontsize=14"
           if title is not None else "")
        + "];",
        f'  node [fontname="{_FONT}", fontsize=11];',
        f'  edge [fontname="{_FONT}", fontsize=9, arrowsize=0.6, '
        f'color="{"#55555560" if collapsed else "#555555"}"];',
    ]


# --- draw_graph ---------------------------------------------------------------------------


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    show_local: bool = False,
    local_grads: bool = False,
    highlight: Value | Iterable[Value] | None = None,
    group: str | None = None,
    collapse: bool = False,
    grads: Mapping[Value, float] | None = None,
    current: tuple[Value, int] | None = None,
    done: Collection[Value] | None = None,
    title: str | None = None,
    parameters: Iterable[Value] | None = None,
) -> Graph:
    """Draw the graph that computed ``root``; returns a ``Graph`` (shows in Jupyter).

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> g = draw_graph(a * b)
    >>> print(g.source.count("->"), "edges")      # a -> [*], b -> [*], [*] -> result
    3 edges

    Args:
        root: the Value to draw, with everything it was computed from.
        rankdir: Graphviz direction, "LR" (inputs left, root right), "TB", "RL", "BT".
        show_grad: show each node's gradient cell.
        local_grads: write the local derivative d(node)/d(input) on every input
            edge, as a number in a small font: the factor the chain rule multiplies
            by there (the page shows them beside its step-by-step sentences).
        show_local: the same as ``local_grads`` (its older name).
        highlight: a Value (usually a leaf) or Values: draw every path from them to
            ``root`` in the highlight colour, with local derivatives on its edges
            (see ``engine.teach.paths.gradient_paths`` for the same paths as numbers).
        group: None, "neuron" or "layer": draw nodes made by ``nn`` modules in
            clusters per neuron (inside their layer) or per layer.
        collapse: draw each ``nn`` neuron call as one compact node (its weights and
            bias inside it) showing its output's name and data and its delta
            dL/dz at the pre-activation z (as the lectures write it), with a port
            naming each input when it has at most ``PORTS_UP_TO`` inputs; with
            ``local_grads`` its input edges carry dz/d(input) (the weights).
        grads: show these gradients instead of ``node.grad``; nodes absent from the
            mapping show ``grad ?`` (used to draw the backward pass step by step).
        current: ``(node, position)``: the edge from ``node.inputs[position]`` into
            ``node`` is being applied now; drawn in the highlight colour.
        done: Values whose gradient is final; when given, the others are drawn faded.
        title: a caption above the drawing.
        parameters: the leaves to colour as parameters (e.g. ``model.parameters()``);
            by default, the leaves that a module in the graph lists in its
            ``parameters()`` (the scope protocol, ``engine.value.scope``).

    Roles (fill colours, ``ROLE_COLOURS``) come from what a node is: *output* is
    the root; *intermediate* any node made by an op; among leaves, *parameter* as
    above, *input* a leaf fed to a model that is not its parameter, or any
    labelled leaf, *constant* an unlabelled leaf (a number mixed into an
    expression). Only in a bare expression (no module in the graph, no
    ``parameters=``) is *parameter* guessed from the label (``w``, ``w1``,
    ``w1.2.3``, ``b``, ``b1``, ``weight``, ``bias``, ``v12``, ``v_12``), and the
    legend says the roles were guessed. In a batch graph (a neuron called once
    per sample) each input says its sample: ``x1#2 [sample 2]``.

    Raises:
        TypeError / ValueError: an argument of the wrong type or value, naming it.
    """
    if not isinstance(local_grads, bool):
        raise TypeError(f"draw_graph: local_grads= takes True or False, got {local_grads!r}")
    options = _check_arguments(root, rankdir, show_grad, show_local, highlight, group,
                               collapse, grads, current, done, title, parameters)
    options.show_local = options.show_local or local_grads
    plan = _plan(options)
    statements, counts = _node_statements(plan)
    edges = _edge_statements(plan)
    lines = _header(plan) + _clusters(statements, plan.order, plan.cluster_path)
    lines += ["  " + e for e in edges]
    lines.append("}")
    leaves = {plan.ids[n] for n in plan.order if n.is_leaf() and n not in plan.neurons.of}
    drawn = len(set(plan.ids.values())) + counts[1]
    cost = _layout_cost(plan.layout_edges, leaves, drawn)
    return Graph("\n".join(lines) + "\n", plan.ids, plan.edge_ids, counts, cost, _legend(plan))

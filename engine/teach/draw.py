"""Drawing a computation graph: ``draw_graph(root) -> Graph`` (DOT text, SVG, files).

The drawing is built as DOT text here, by our own code, so that it is
deterministic (node ids come from a traversal of the graph, never from
``id()``), works without Graphviz installed (``Graph.source``) and every piece of
user text is escaped in one place. Rendering goes through Graphviz's ``dot``
program, via the ``graphviz`` Python package (the ``[viz]`` extra), imported
only when something is rendered.

What a drawing shows:

* every Value as a small table ``label | data | grad``; its first cells are
  filled by the node's *role* (input, parameter, constant, intermediate,
  output), its grad cell by the gradient's sign (red positive, blue negative)
  and size (paler near 0);
* every op as a small oval with its symbol (``*``, ``tanh``, ``**2``), between
  its inputs and its result; one edge per input, so ``a * a`` has two;
* optionally the local derivative d(out)/d(input) on each input edge
  (``show_local``), and every path from some leaves to the root in a highlight
  colour (``highlight``);
* for networks built with ``nn``: clusters per neuron or layer (``group``) or one
  node per neuron (``collapse``), read from ``Value.scope``.
"""

from __future__ import annotations

import html
import math
import re
import shutil
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..value import Value
from .groups import Neurons, find_neurons, kind_of, module_paths, owner_formula, owner_name

__all__ = ["draw_graph", "Graph", "dot_available", "ROLE_COLOURS", "grad_colour", "inline_svg"]

#: One line telling how to get Graphviz's ``dot`` program.
INSTALL_HINT = (
    "install Graphviz's `dot` program (Debian/Ubuntu: sudo apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz; others: "
    "https://graphviz.org/download/)"
)

#: Fill colour of a value node's label and data cells, by role.
ROLE_COLOURS = {
    "input": "#d9f0d3",  # a leaf the user made: x, a, b ...
    "parameter": "#fde0c5",  # a leaf that is a weight or bias
    "constant": "#eeeeee",  # a number mixed into an expression (an unlabelled leaf)
    "intermediate": "#ffffff",  # made by an op
    "output": "#e4d7f0",  # the root
}

HIGHLIGHT = "#e6550d"  # paths (highlight=) and the current edge (current=)
_POSITIVE = (0xD6, 0x60, 0x4D)  # full-strength red for large positive gradients
_NEGATIVE = (0x43, 0x93, 0xC3)  # full-strength blue for large negative gradients
_FADED = "#aaaaaa"  # text and borders of nodes whose gradient is not final yet
_FONT = "Helvetica"

# A weight or bias by its name: w, w1, w1.2.3, w_2, W, b, b1, weight, bias, theta.
_PARAMETER_LABEL = re.compile(r"^(?:w|b|weight|bias|theta|θ)(?:$|[\d_.\[(])", re.IGNORECASE)
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


def _num(x: float) -> str:
    """A number for display: 4 significant digits."""
    return f"{x:.4g}"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(s: Any) -> str:
    """User text made safe inside a Graphviz HTML-like label (and hence in the SVG).

    ``<``, ``>``, ``&`` and quotes become entities, so a label can never close
    the label, the node or the graph; control characters (not allowed in XML)
    become visible ``\\xNN``; a newline becomes a line break. Backslashes are
    doubled because Graphviz expands ``\\N`` (node name) and ``\\G`` (graph
    name) even inside HTML-like labels, and prints ``\\\\`` as one backslash.
    """
    s = str(s)
    s = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)
    s = html.escape(s, quote=True).replace("\\", "\\\\")
    return s.replace("\n", "<br/>")


class Graph:
    """A drawn computation graph: DOT text now, SVG/PNG when rendered.

    Displays itself in Jupyter as SVG (or, when Graphviz's ``dot`` is missing, as
    its DOT text with an install hint). Made by ``draw_graph``.

    Attributes:
        source: the DOT text (deterministic: the same graph gives the same text).
    """

    def __init__(self, source: str, ids: dict[Value, str], edges: dict[tuple, str],
                 counts: tuple[int, int]) -> None:
        self.source = source
        self._ids = ids
        self._edges = edges
        self._counts = counts

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

    def pipe(self, format: str = "svg") -> bytes:
        """Render with Graphviz's ``dot`` to ``format`` ("svg", "png", "pdf"), as bytes.

        Raises ImportError (naming the ``[viz]`` extra) without the ``graphviz``
        package and RuntimeError (with an install hint) without ``dot``.
        """
        return _render(self.source, format)

    def svg(self) -> str:
        """The drawing as SVG text (needs Graphviz's ``dot``; see ``pipe``)."""
        return self.pipe("svg").decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Write the drawing to ``path``: ``.svg``, ``.png``, ``.pdf`` or ``.dot``/``.gv``.

        Returns the path written. When the picture cannot be rendered (no
        ``dot``, or no ``graphviz`` package) it writes the DOT text next to it
        (same name, ``.dot``), prints how to render it, and returns that path.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".dot", ".gv"):
            path.write_text(self.source, encoding="utf-8")
            return path
        if suffix not in _FORMATS:
            raise ValueError(
                f"Graph.save: cannot tell the format of {str(path)!r}; "
                f"end the file name with one of {', '.join(_FORMATS + ('.dot',))}"
            )
        try:
            data = self.pipe(suffix[1:])
        except (ImportError, RuntimeError) as error:
            dot_path = path.with_suffix(".dot")
            dot_path.write_text(self.source, encoding="utf-8")
            print(
                f"Could not render {path.name}: {error}\n"
                f"Wrote the DOT text to {dot_path}; render it with: "
                f"dot -T{suffix[1:]} {dot_path} -o {path}"
            )
            return dot_path
        path.write_bytes(data)
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter display: SVG, or a one-line hint and the DOT text if it cannot render."""
        try:
            return {"image/svg+xml": self.svg(), "text/plain": repr(self)}
        except (ImportError, RuntimeError) as error:
            # the hint first: a network's DOT text runs to hundreds of lines
            return {"text/plain": f"// Not rendered: {error}\n{self.source}"}

    def __repr__(self) -> str:
        values, ops = self._counts
        return f"Graph({values} value nodes, {ops} op nodes; .source, .svg(), .save(path))"


def inline_svg(svg: str) -> str:
    """An SVG document made fit to sit inside HTML: no XML prolog, doctype or comments."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.S)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _render(source: str, format: str) -> bytes:
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(
            "rendering a graph needs the graphviz Python package: "
            "pip install 'chainrule[viz]' (and Graphviz's dot program)"
        ) from error
    if not dot_available():
        raise RuntimeError(f"Graphviz's `dot` program was not found on the PATH; {INSTALL_HINT}")
    try:
        return graphviz.pipe("dot", format, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound as error:  # pragma: no cover - PATH changed meanwhile
        raise RuntimeError(f"Graphviz's `dot` could not be run ({error}); {INSTALL_HINT}") from None


# --- the graph, its roles and groups ------------------------------------------


def _forward_order(root: Value) -> list[Value]:
    """Every node of the graph, each after its inputs: an iterative depth-first
    post-order visiting inputs in operand order, so the numbering reads like the
    computation was written (and never depends on memory addresses)."""
    order: list[Value] = []
    seen = {root}
    stack = [(root, 0)]
    while stack:
        node, i = stack[-1]
        inputs = node.inputs
        if i < len(inputs):
            stack[-1] = (node, i + 1)
            child = inputs[i]
            if child not in seen:
                seen.add(child)
                stack.append((child, 0))
        else:
            stack.pop()
            order.append(node)
    return order


def _role(node: Value, root: Value, parameters: set[Value], guess: bool) -> str:
    if node is root:
        return "output"
    if not node.is_leaf():
        return "intermediate"
    if node in parameters or (guess and _PARAMETER_LABEL.match(node.label)):
        return "parameter"
    return "input" if node.label else "constant"


def _depends_on(order: list[Value], sources: set[Value]) -> set[Value]:
    """Nodes that are in ``sources`` or have one of them among their inputs, recursively."""
    reached: set[Value] = set()
    for node in order:
        if node in sources or any(i in reached for i in node.inputs):
            reached.add(node)
    return reached


# --- checking the arguments ---------------------------------------------------


def _as_values(what: str, values: Any) -> list[Value]:
    if isinstance(values, Value):
        return [values]
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
        values = list(values)
        if all(isinstance(v, Value) for v in values):
            return values
    raise TypeError(f"draw_graph: {what}= takes a Value or Values, got {values!r}")


def _check(root: Any, rankdir: Any, group: Any, grads: Any, current: Any) -> None:
    if not isinstance(root, Value):
        raise TypeError(
            f"draw_graph needs a Value (the root of the graph), got {type(root).__name__}; "
            "for an nn model's output list, draw one Value such as the loss or output[0]"
        )
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    if group not in _GROUPS:
        raise ValueError(f"draw_graph: group must be one of {_GROUPS}, got {group!r}")
    if grads is not None and not isinstance(grads, Mapping):
        raise TypeError(
            f"draw_graph: grads= takes a mapping from Values to numbers, got {type(grads).__name__}"
        )
    if current is not None:
        ok = (
            isinstance(current, tuple) and len(current) == 2
            and isinstance(current[0], Value) and isinstance(current[1], int)
            and 0 <= current[1] < len(current[0].inputs)
        )
        if not ok:
            raise ValueError(
                "draw_graph: current= takes (node, input_position) with 0 <= position < "
                f"len(node.inputs), got {current!r}"
            )


# --- drawing ------------------------------------------------------------------


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    show_local: bool = False,
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
        show_local: write the local derivative d(out)/d(input) on every input edge.
        highlight: a Value (usually a leaf) or Values: draw every path from them to
            ``root`` in the highlight colour, with local derivatives on its edges
            (see ``engine.paths.gradient_paths`` for the same paths as numbers).
        group: None, "neuron" or "layer": draw nodes made by ``nn`` modules in
            clusters per neuron (inside their layer) or per layer.
        collapse: draw each ``nn`` neuron as one node showing its formula, data
            and grad (its weights and bias are inside it).
        grads: show these gradients instead of ``node.grad``; nodes absent from the
            mapping show ``grad ?`` (used to draw the backward pass step by step).
        current: ``(node, position)``: the edge from ``node.inputs[position]`` into
            ``node`` is being applied now; drawn in the highlight colour.
        done: Values whose gradient is final; when given, the others are drawn faded.
        title: a caption above the drawing.
        parameters: the leaves to colour as parameters (e.g. ``model.parameters()``);
            by default, leaves that an ``nn`` module lists as parameters, or whose
            label looks like a weight or bias (``w``, ``w1``, ``w1.2.3``, ``b``, ``b1``,
            ``weight``, ``bias``).

    Roles (fill colours, ``ROLE_COLOURS``): *output* is the root; *intermediate*
    any node made by an op; among leaves, *parameter* as above, *constant* a leaf
    without label (numbers mixed into an expression become those), *input* the rest.
    """
    _check(root, rankdir, group, grads, current)
    order = _forward_order(root)
    index = {node: k for k, node in enumerate(order)}
    scopes, owned = module_paths(order)
    if parameters is not None:
        owned = set(_as_values("parameters", parameters))
    targets = set(_as_values("highlight", highlight)) if highlight is not None else set()
    for t in targets:
        if t not in index:
            raise ValueError(
                f"draw_graph: highlight={t!r} is not in the graph of the root "
                "(the root does not depend on it)"
            )
    on_path = _depends_on(order, targets) if targets else set()
    done_set = set(_as_values("done", done)) if done is not None else None
    if current is not None and current[0] not in index:
        raise ValueError(f"draw_graph: current node {current[0]!r} is not in the graph")

    # Which nodes merge into a neuron node (collapse), and which cluster each node is in.
    neurons = find_neurons(order, scopes, root) if collapse else Neurons()
    levels = {"neuron": ("layer", "neuron"), "layer": ("layer",), None: ()}[group]
    if collapse:
        levels = tuple(k for k in levels if k != "neuron")

    def cluster_path(node: Value) -> tuple:
        return tuple(o for o in scopes[node] if kind_of(o) in levels)

    ids: dict[Value, str] = {}
    for node in order:
        shown = neurons.output[neurons.of[node]] if node in neurons.of else node
        ids[node] = f"v{index[shown]}"

    def shown_grad(node: Value) -> float | None:
        if grads is None:
            return node.grad
        value = grads.get(node)
        return None if value is None else float(value)

    def faded(node: Value) -> bool:
        return done_set is not None and node not in done_set

    # Statements, grouped by cluster path so clusters can be written nested.
    statements: dict[tuple, list[str]] = {}

    edge_lines: list[str] = []  # edges are all written after the nodes, at the top level

    def emit(path: tuple, line: str) -> None:
        statements.setdefault(path, []).append(line)

    edges: dict[tuple, str] = {}
    n_values = n_ops = 0
    for node in order:
        k = index[node]
        if node in neurons.of:  # collapsed: draw the neuron call once, at its output
            key = neurons.of[node]
            if node is not neurons.output[key]:
                continue
            inside = set(neurons.members[key])
            emit(cluster_path(node), _neuron_node(
                ids[node], neurons.name(key), owner_formula(neurons.owner[key]),
                node, show_grad, shown_grad(node), bool(inside & on_path), faded(node)))
            n_values += 1
            sources: dict[str, bool] = {}  # drawn source -> on a highlighted path
            for m in neurons.members[key]:
                for i in m.inputs:
                    if i not in inside:
                        sources[ids[i]] = sources.get(ids[i], False) or i in on_path
            for source, hot in sources.items():
                edge_lines.append(
                    f'{source} -> {ids[node]} [id="e{k}_from_{source}"{_HOT if hot else ""}];')
            continue
        role = _role(node, root, owned, guess=parameters is None)
        emit(cluster_path(node), _value_node(
            ids[node], node, role, show_grad, shown_grad(node), node in on_path, faded(node)))
        n_values += 1
        if node.is_leaf():
            continue
        op = f"op{k}"
        n_ops += 1
        emit(cluster_path(node), _op_node(op, node, node in on_path))
        is_current = current is not None and current[0] is node
        edges[(node, None)] = f"e{k}"
        hot_out = node in on_path or is_current
        edge_lines.append(f'{op} -> {ids[node]} [id="e{k}"{_HOT if hot_out else ""}];')
        for position, (i, local) in enumerate(zip(node.inputs, node.local_grads)):
            edge = f"e{k}_{position}"
            edges[(node, position)] = edge
            attrs = [f'id="{edge}"']
            this_current = is_current and current[1] == position
            hot = i in on_path or this_current
            if show_local or hot:
                attrs.append(f"label=<{_num(local)}>")
            if this_current:
                attrs.append('class="current"')
            style = _HOT_CURRENT if this_current else (_HOT if hot else "")
            edge_lines.append(f"{ids[i]} -> {op} [{', '.join(attrs)}{style}];")

    lines = [
        "digraph chainrule {",
        # ordering=in: a node's inputs are laid out in operand order (a above b in a - b).
        # Collapsed networks connect every neuron to every neuron of the next layer:
        # more room between layers and translucent edges keep them readable.
        f'  graph [rankdir={rankdir}, fontname="{_FONT}", nodesep=0.2, '
        f"ranksep={1.5 if neurons.of else 0.35}, ordering=in"
        + (f", label=<{_text(title)}>, labelloc=t, fontsize=14" if title is not None else "")
        + "];",
        f'  node [fontname="{_FONT}", fontsize=11];',
        f'  edge [fontname="{_FONT}", fontsize=9, arrowsize=0.6, '
        f'color="{"#55555560" if neurons.of else "#555555"}"];',
    ]
    lines += _clusters(statements, order, cluster_path)
    lines += ["  " + e for e in edge_lines]
    lines.append("}")
    return Graph("\n".join(lines) + "\n", ids, edges, (n_values, n_ops))


_HOT = f', color="{HIGHLIGHT}", fontcolor="{HIGHLIGHT}", penwidth=2'
_HOT_CURRENT = f', color="{HIGHLIGHT}", fontcolor="{HIGHLIGHT}", penwidth=3.5'


def _clusters(statements: dict[tuple, list[str]], order: list[Value], cluster_path) -> list[str]:
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
            f'{indent}  graph [label=<{_text(owner_name(owner))}>, class="{kind}", '
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


def _value_node(node_id: str, node: Value, role: str, show_grad: bool, grad: float | None,
                hot: bool, faded: bool) -> str:
    fill = ROLE_COLOURS[role]
    cells = []
    if node.label:
        cells.append(_cell(f"<b>{_text(node.label)}</b>", fill, faded))
    cells.append(_cell(f"data {_num(node.data)}", fill, faded))
    if show_grad:
        text = "grad ?" if grad is None else f"grad {_num(grad)}"
        cells.append(_cell(text, grad_colour(grad), faded))
    classes = " ".join(["value", role] + (["path"] if hot else []) + (["pending"] if faded else []))
    label = _table(["".join(cells)], hot, faded)
    return f'{node_id} [id="{node_id}", class="{classes}", shape=none, margin=0, label=<{label}>];'


def _op_node(op_id: str, node: Value, hot: bool) -> str:
    rule = node.rule
    symbol = rule.symbol if rule is not None else node.op
    if node.arg is not None:
        symbol = f"{symbol}{_num(node.arg)}"
    colour = f', color="{HIGHLIGHT}", penwidth=2' if hot else ""
    return (
        f'{op_id} [id="{op_id}", class="op", shape=ellipse, style=filled, fillcolor="#f2f2f2", '
        f'margin="0.04,0.02", width=0.3, height=0.3, label=<{_text(symbol)}>{colour}];'
    )


def _neuron_node(node_id: str, name: str, formula: Any, output: Value, show_grad: bool,
                 grad: float | None, hot: bool, faded: bool) -> str:
    fill = ROLE_COLOURS["intermediate"]
    rows = [_cell(f"<b>{_text(name)}</b>", fill, faded, ' colspan="2"')]
    if formula:
        rows.append(_cell(_text(formula), fill, faded, ' colspan="2"'))
    last = _cell(f"data {_num(output.data)}", fill, faded)
    if show_grad:
        text = "grad ?" if grad is None else f"grad {_num(grad)}"
        last += _cell(text, grad_colour(grad), faded)
    else:
        last = _cell(f"data {_num(output.data)}", fill, faded, ' colspan="2"')
    rows.append(last)
    classes = "neuron" + (" path" if hot else "") + (" pending" if faded else "")
    return (
        f'{node_id} [id="{node_id}", class="{classes}", shape=none, margin=0, '
        f"label=<{_table(rows, hot, faded)}>];"
    )

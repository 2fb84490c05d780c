"""draw_graph: DOT structure written by hand, escaping, rendering, missing `dot`."""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from random_graphs import programs, run

from engine import Graph, Value, backward_order, dot_available, draw_graph
from engine.teach.draw import HIGHLIGHT, ROLE_COLOURS, grad_colour
from engine.teach.notation import number

needs_dot = pytest.mark.skipif(
    not dot_available(), reason="Graphviz's dot is not installed (CI installs it)"
)

NODE = re.compile(r"^\s*(\w+) \[(.*)\];$")
EDGE = re.compile(r"^\s*(\w+) -> ([\w:]+) \[(.*)\];$")  # head: node or node:port:side


def nodes(source: str) -> dict[str, str]:
    """DOT node id -> its attribute text (graph/node/edge defaults excluded)."""
    out = {}
    for line in source.splitlines():
        if EDGE.match(line):
            continue
        m = NODE.match(line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            assert m.group(1) not in out, f"node {m.group(1)} written twice"
            out[m.group(1)] = m.group(2)
    return out


def edges(source: str) -> list[tuple[str, str, str]]:
    """(tail, head, attribute text) for every edge, in order."""
    return [(m[1], m[2], m[3]) for m in map(EDGE.match, source.splitlines()) if m]


def attr(attrs: str, name: str) -> str | None:
    m = re.search(rf'(?:^|, ){name}="([^"]*)"', attrs)
    return m.group(1) if m else None


def edge_label(attrs: str) -> str | None:
    m = re.search(r"label=<([^>]*)>", attrs)
    return m.group(1) if m else None


# --- structure ---------------------------------------------------------------


def test_product_structure_by_hand():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    c.backward()
    g = draw_graph(c)
    assert isinstance(g, Graph)
    ns = nodes(g.source)
    # Inputs first in operand order, then the op, then its result.
    assert list(ns) == ["v0", "v1", "v2", "op2"]
    assert "<b>a</b>" in ns["v0"] and "data 2<" in ns["v0"] and "grad -3<" in ns["v0"]
    assert "<b>b</b>" in ns["v1"] and "data -3<" in ns["v1"] and "grad 2<" in ns["v1"]
    assert "<b>c</b>" in ns["v2"] and "data -6<" in ns["v2"] and "grad 1<" in ns["v2"]
    assert "label=<*>" in ns["op2"] and attr(ns["op2"], "class") == "op"
    assert edges(g.source) == [
        ("op2", "v2", 'id="e2"'),
        ("v0", "op2", 'id="e2_0"'),
        ("v1", "op2", 'id="e2_1"'),
    ]
    assert g.node_id(a) == "v0" and g.node_id(b) == "v1" and g.node_id(c) == "v2"
    assert g.edge_id(c, 1) == "e2_1" and g.edge_id(c) == "e2"
    assert "rankdir=LR" in g.source


def test_square_has_two_edges_and_ids_are_element_ids():
    a = Value(3.0, label="a")
    y = a * a
    g = draw_graph(y)
    assert [(t, h) for t, h, _ in edges(g.source)] == [("op1", "v1"), ("v0", "op1"), ("v0", "op1")]
    for node_id, attrs in nodes(g.source).items():
        assert attr(attrs, "id") == node_id


def test_source_is_deterministic_and_independent_of_memory():
    def build():
        x = Value(0.5, label="x")
        w = Value(-1.5, label="w")
        junk = [Value(i) for i in range(100)]  # moves later allocations around
        y = (x * w + 2).tanh() * x
        y.backward()
        return y, junk

    y1, _ = build()
    y2, _ = build()
    assert draw_graph(y1).source == draw_graph(y2).source


@settings(max_examples=60, deadline=None)
@given(programs())
def test_random_graphs_same_text_every_build_and_one_node_per_value(program):
    def build():
        values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
        root = run(program, values, 0)
        root.backward()
        return root

    root = build()
    g = draw_graph(root, show_local=True)
    assert g.source == draw_graph(build(), show_local=True).source
    order = backward_order(root)
    ns = nodes(g.source)
    values = [k for k in ns if k.startswith("v")]
    assert sorted(values) == sorted(g.node_id(v) for v in order)  # one node per Value
    ops = [k for k in ns if k.startswith("op")]
    assert len(ops) == sum(1 for v in order if not v.is_leaf())
    # one input edge per operand, carrying that operand's local derivative
    es = [e for e in edges(g.source) if e[1].startswith("op")]
    assert len(es) == sum(len(v.inputs) for v in order)
    for v in order:
        for position, (i, local) in enumerate(zip(v.inputs, v.local_grads)):
            [edge] = [e for e in es if attr(e[2], "id") == g.edge_id(v, position)]
            assert edge[0] == g.node_id(i) and edge_label(edge[2]) == number(local)


def test_op_symbols_and_pow_constant():
    x = Value(2.0, label="x")
    y = (x**3).exp() - x.sin()
    ns = nodes(draw_graph(y).source)
    labels = [re.search(r"label=<([^>]*)>", v).group(1) for k, v in ns.items() if k.startswith("op")]
    assert labels == ["^3", "exp", "sin", "-"]


def test_roles_fill_colours():
    x = Value(1.0, label="x")
    w1 = Value(0.5, label="w1")
    b = Value(0.1, label="bias")
    y = (w1 * x + b) * 2  # 2 is a constant (unlabelled leaf)
    g = draw_graph(y)
    ns = nodes(g.source)
    roles = {attr(v, "class").split()[1]: k for k, v in ns.items() if k.startswith("v")}
    assert roles["input"] == g.node_id(x)
    assert set(k for k, v in ns.items() if "parameter" in attr(v, "class")) == {
        g.node_id(w1), g.node_id(b)}
    assert roles["constant"] == g.node_id(y.inputs[1])
    assert roles["output"] == g.node_id(y)
    for role, node_id in roles.items():
        assert f'bgcolor="{ROLE_COLOURS[role]}"' in ns[node_id]
    # parameters= overrides the guess
    g2 = draw_graph(y, parameters=[x])
    assert "parameter" in attr(nodes(g2.source)[g2.node_id(x)], "class")
    assert "input" in attr(nodes(g2.source)[g2.node_id(w1)], "class")


def test_grad_colour_scale():
    assert grad_colour(0.0) == "#ffffff" and grad_colour(None) == "#ffffff"
    # half strength at |g| = 1: halfway between white and the full colour
    half = [round((255 + c) / 2) for c in (0xD6, 0x60, 0x4D)]
    assert grad_colour(1.0) == "#" + "".join(f"{c:02x}" for c in half)
    red = [int(grad_colour(g)[3:5], 16) for g in (0.1, 1.0, 10.0)]  # green channel fades
    assert red[0] > red[1] > red[2]
    assert grad_colour(-2.0)[1:3] < grad_colour(-2.0)[5:7]  # negative: more blue than red
    assert grad_colour(float("nan")) == "#cccccc"


def test_show_grad_false_and_rankdir_and_title():
    a = Value(1.0, label="a")
    g = draw_graph(a + 1, show_grad=False, rankdir="TB", title="my graph")
    assert "grad" not in g.source
    assert "rankdir=TB" in g.source and "label=<my graph>" in g.source


def test_show_local_writes_the_local_derivative_on_each_edge():
    a, b = Value(2.0, label="a"), Value(5.0, label="b")
    y = a * b
    es = {e[0]: e[2] for e in edges(draw_graph(y, show_local=True).source) if e[1] == "op2"}
    assert edge_label(es["v0"]) == "5" and edge_label(es["v1"]) == "2"  # d(ab)/da = b
    assert all(edge_label(e[2]) is None for e in edges(draw_graph(y).source))


def test_local_grads_labels_every_input_edge_with_its_local_derivative():
    # Derived by hand: d(ab)/da = b, d(ab)/db = a, d(tanh u)/du = 1 - tanh(u)^2,
    # d(a*a)/da = a on each of its two edges.
    a, b = Value(0.5, label="a"), Value(-2.0, label="b")
    u = a * b
    y = u.tanh() + a * a
    source = draw_graph(y, local_grads=True).source
    ids = {"a": "v0", "b": "v1"}
    by_edge = {(t, h): attrs for t, h, attrs in edges(source)}
    mul_op = next(h for (t, h) in by_edge if t == ids["b"])
    assert edge_label(by_edge[(ids["a"], mul_op)]) == number(-2.0)
    assert edge_label(by_edge[(ids["b"], mul_op)]) == number(0.5)
    tanh_in = [attrs for t, h, attrs in edges(source) if h.startswith("op") and "tanh" in
               nodes(source)[h]]
    assert [edge_label(x) for x in tanh_in] == [number(1 - math.tanh(-1.0) ** 2)]
    square = [attrs for t, h, attrs in edges(source) if t == ids["a"] and h != mul_op]
    assert [edge_label(x) for x in square] == [number(0.5), number(0.5)]
    # every input edge into an op carries one, in the small edge font; op -> node edges none
    for t, h, attrs in edges(source):
        if h.startswith("op"):
            assert edge_label(attrs) is not None and "fontsize=9" in attrs, (t, h, attrs)
        else:
            assert edge_label(attrs) is None
    # the older name means the same
    assert draw_graph(y, show_local=True).source == source
    assert all(edge_label(e[2]) is None for e in edges(draw_graph(y).source))


def test_local_grads_must_be_a_bool():
    with pytest.raises(TypeError, match="local_grads= takes True or False"):
        draw_graph(Value(1.0) * 2, local_grads=1)


def test_leaf_root():
    a = Value(1.5, label="a")
    g = draw_graph(a)
    assert list(nodes(g.source)) == ["v0"] and edges(g.source) == []
    assert "output" in g.source


# --- errors ------------------------------------------------------------------


def test_bad_arguments():
    a = Value(1.0)
    y = a * 2
    with pytest.raises(TypeError, match="needs a Value"):
        draw_graph([y])
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(y, rankdir="XY")
    with pytest.raises(ValueError, match="group"):
        draw_graph(y, group="neurons")
    with pytest.raises(ValueError, match="not in the graph"):
        draw_graph(y, highlight=Value(3.0))
    with pytest.raises(TypeError, match="highlight"):
        draw_graph(y, highlight="a")
    with pytest.raises(ValueError, match="current"):
        draw_graph(y, current=(y, 2))
    with pytest.raises(TypeError, match="grads"):
        draw_graph(y, grads=[1.0])
    with pytest.raises(ValueError, match="not drawn"):
        draw_graph(y).node_id(Value(1.0))


# --- the explainer's step view -------------------------------------------------


def test_step_view_grads_current_done():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    d = c + a
    g = draw_graph(d, grads={d: 1.0, c: 1.0}, current=(c, 1), done=[d, c])
    ns = nodes(g.source)
    assert "grad 1<" in ns[g.node_id(d)] and "grad 1<" in ns[g.node_id(c)]
    assert "grad ?" in ns[g.node_id(a)] and "grad ?" in ns[g.node_id(b)]
    # not done: faded and marked pending; done: not
    assert "pending" in attr(ns[g.node_id(a)], "class")
    assert "pending" not in attr(ns[g.node_id(c)], "class")
    hot = {attr(e[2], "id") for e in edges(g.source) if HIGHLIGHT in e[2]}
    assert hot == {g.edge_id(c, 1), g.edge_id(c)}
    current = [e for e in edges(g.source) if attr(e[2], "class") == "current"]
    assert [attr(e[2], "id") for e in current] == [g.edge_id(c, 1)]
    assert edge_label(current[0][2]) == "2"  # d(a*b)/db = a = 2


# --- escaping -------------------------------------------------------------------

NASTY = ['"]; x [label=<<b>pwn</b>>', "<script>alert(1)</script>", "a & b \\N \\G \\\\ \\",
         "}\n{", "\x01"]


@pytest.mark.parametrize("label", NASTY)
def test_labels_are_escaped_in_dot(label):
    a = Value(1.0, label=label)
    g = draw_graph(a * 2, title=label)
    ns = nodes(g.source)
    assert list(ns) == ["v0", "v1", "v2", "op2"]  # nothing injected
    assert "<script" not in g.source and "<b>pwn" not in g.source
    assert len(edges(g.source)) == 3
    if label.isprintable():
        assert html.escape(label).replace("\\", "\\\\") in ns["v0"]


@needs_dot
@pytest.mark.parametrize("label", NASTY)
def test_labels_render_as_text_in_svg(label):
    a = Value(1.0, label=label)
    svg = draw_graph(a * 2, title=label).svg()
    root = ET.fromstring(svg)  # well-formed XML
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert "script" not in tags and "b" not in tags
    groups = [el for el in root.iter() if el.tag.endswith("}g")]
    drawn = sorted(el.get("id") for el in groups if "node" in el.get("class", "").split())
    assert drawn == ["op2", "v0", "v1", "v2"]
    assert len([el for el in groups if el.get("class") == "edge"]) == 3
    texts = "".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    if label.isprintable():
        assert label in texts


# --- rendering and missing dot ---------------------------------------------------


@needs_dot
def test_svg_and_save(tmp_path):
    a = Value(2.0, label="a")
    y = a * a
    y.backward()
    g = draw_graph(y)
    svg = g.svg()
    root = ET.fromstring(svg)
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert {"v0", "v1", "op1", "e1_0", "e1_1"} <= ids
    assert g.save(tmp_path / "g.svg") == tmp_path / "g.svg"
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    assert g.save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert g.save(tmp_path / "g.dot").read_text() == g.source
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="format"):
        g.save(tmp_path / "g.jpeg2")


def test_missing_dot(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", "")
    assert not dot_available()
    a = Value(2.0, label="a")
    g = draw_graph(a * 3)
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    text = bundle["text/plain"]
    hint, dot_text = text.split("\n", 1)  # a one-line hint, then the DOT text
    assert hint.startswith("// Not rendered") and "install Graphviz" in hint
    assert dot_text == g.source
    written = g.save(tmp_path / "out.svg")
    assert written == tmp_path / "out.dot" and written.read_text() == g.source
    assert not (tmp_path / "out.svg").exists()
    said = capsys.readouterr().out
    assert "dot -Tsvg" in said and str(written) in said
    with pytest.raises((RuntimeError, ImportError), match="install|pip"):
        g.svg()


# --- groups and collapse (nn modules, faked here with the contract's attributes) ----

from engine.value import scope  # noqa: E402


class FakeModule:
    def __init__(self, kind, name, params=(), children=()):
        self.kind, self.name = kind, name
        self._params, self.children = list(params), list(children)

    def parameters(self):
        return self._params + [p for c in self.children for p in c.parameters()]


class FakeNeuron(FakeModule):
    formula = "tanh(w.x + b)"

    def __init__(self, layer, index, n_in):
        self.w = [Value(0.1 * (j + 1) * (-1) ** index, label=f"w{layer}.{index}.{j}")
                  for j in range(1, n_in + 1)]
        self.b = Value(0.05 * index, label=f"b{layer}.{index}")
        super().__init__("neuron", f"layer {layer}, neuron {index}", self.w + [self.b])

    def __call__(self, xs):
        with scope(self):
            z = self.w[0] * xs[0]
            for w, x in zip(self.w[1:], xs[1:]):
                z = z + w * x
            z = z + self.b
            z.label = self.name.replace("layer ", "z").replace(", neuron ", ".")
            a = z.tanh()
            a.label = "a" + z.label[1:]
            return a


def fake_mlp(sizes):
    layers = []
    for layer in range(1, len(sizes)):
        neurons = [FakeNeuron(layer, i, sizes[layer - 1]) for i in range(1, sizes[layer] + 1)]
        layers.append(FakeModule("layer", f"layer {layer}", children=neurons))
    mlp = FakeModule("mlp", "MLP", children=layers)

    def forward(numbers):
        with scope(mlp):
            xs = [Value(x, label=f"x{j}") for j, x in enumerate(numbers, 1)]
            for layer in layers:
                with scope(layer):
                    xs = [n(xs) for n in layer.children]
        return xs

    return mlp, forward


CLUSTER = re.compile(r"^\s*subgraph (cluster_\d+) \{$")


def cluster_of(source: str) -> dict[str, tuple[str, ...]]:
    """node id -> the labels of the clusters it is drawn in, outermost first."""
    stack: list[str] = []
    where = {}
    for line in source.splitlines():
        if CLUSTER.match(line):
            stack.append("?")
        elif line.strip() == "}" and stack:
            stack.pop()
        elif stack and line.strip().startswith("graph [label=<"):
            found = re.search(r"label=<([^>]*)>", line)
            assert found, line
            stack[-1] = found.group(1)
        else:
            m = NODE.match(line)
            if m and not EDGE.match(line) and m.group(1) not in ("graph", "node", "edge"):
                where[m.group(1)] = tuple(stack)
    return where


def test_group_neuron_and_layer_clusters():
    mlp, forward = fake_mlp([2, 3, 1])
    [out] = forward([0.5, -1.0])
    loss = (out - 1.0) ** 2
    loss.backward()
    g = draw_graph(loss, group="neuron")
    where = cluster_of(g.source)
    n11 = mlp.children[0].children[0]
    for p in n11.parameters():  # parameters sit with their neuron
        assert where[g.node_id(p)] == ("layer 1", "layer 1, neuron 1")
    z = [v for v in where if "<b>z1.1</b>" in nodes(g.source)[v]]
    assert len(z) == 1 and where[z[0]] == ("layer 1", "layer 1, neuron 1")
    out_id = g.node_id(out)
    assert where[out_id] == ("layer 2", "layer 2, neuron 1")
    assert where[g.node_id(loss)] == ()  # the loss is outside every module
    xs = [v for v in where if re.search(r"<b>x\d</b>", nodes(g.source)[v])]
    assert [where[x] for x in xs] == [(), ()]  # inputs belong to the MLP, not a layer
    labels = re.findall(r'graph \[label=<([^>]*)>, class="(\w+)"', g.source)
    assert sorted(labels) == [("layer 1", "layer"), ("layer 1, neuron 1", "neuron"),
                      ("layer 1, neuron 2", "neuron"), ("layer 1, neuron 3", "neuron"),
                      ("layer 2", "layer"), ("layer 2, neuron 1", "neuron")]
    by_layer = cluster_of(draw_graph(loss, group="layer").source)
    assert by_layer[out_id] == ("layer 2",)
    assert by_layer[g.node_id(n11.b)] == ("layer 1",)
    assert "subgraph" not in draw_graph(loss).source


def test_collapse_draws_one_node_per_neuron():
    mlp, forward = fake_mlp([2, 3, 1])
    [out] = forward([0.5, -1.0])
    loss = (out - 1.0) ** 2
    loss.backward()
    g = draw_graph(loss, collapse=True)
    ns = nodes(g.source)
    neurons = [k for k, v in ns.items() if attr(v, "class").startswith("neuron")]
    assert len(neurons) == 4
    values = [k for k, v in ns.items() if attr(v, "class").startswith("value")]
    assert len(values) == 2 + 3  # x1, x2; the target constant, out - 1, the loss
    ops = [k for k, v in ns.items() if attr(v, "class") == "op"]
    assert len(ops) == 2  # - and **2
    # x_j -> each first-layer neuron (6), each first-layer neuron -> the output neuron (3),
    # output neuron and constant -> "-", "-" -> "**2", and two op -> result edges
    assert len(edges(g.source)) == 6 + 3 + 2 + 1 + 2
    n21 = mlp.children[1].children[0]
    assert g.node_id(out) == g.node_id(n21.w[0]) == g.node_id(n21.b)
    label = ns[g.node_id(out)]
    # compact: the output's name, its data and delta = dL/dz (the lectures' delta), not dL/da
    z = out.inputs[0]
    assert "<b>a2.1</b>" in label and f"data {out.data:.4g}<" in label
    assert f"δ {z.grad:.4g}<" in label and abs(z.grad - out.grad) > 0.01
    assert f"grad {out.grad:.4g}<" not in label
    assert 'tooltip="layer 2, neuron 1: tanh(w.x + b); δ = dL/dz2.1' in label
    # each input edge ends in the port that names it: x1, x2 into layer 1, a1.k into layer 2
    xs = {v.label: g.node_id(v) for v in backward_order(loss) if v.label in ("x1", "x2")}
    first = g.node_id(mlp.children[0].children[0].b)
    into = [(t, h) for t, h, _ in edges(g.source) if h.split(":")[0] == first]
    assert into == [(xs["x1"], f"{first}:p0:w"), (xs["x2"], f"{first}:p1:w")]
    assert '<td port="p0" bgcolor="#f7f7f7" cellpadding="1"><font point-size="10">x1</font>' in (
        ns[first])
    ports = re.findall(r'port="p\d"[^>]*><font[^>]*>([^<]*)<', label)
    assert ports == ["a1.1", "a1.2", "a1.3"]
    for n in mlp.children[0].children:
        assert (g.node_id(n.b), g.node_id(out)) in {(t, h.split(":")[0])
                                                    for t, h, _ in edges(g.source)}
    # collapse inside layer clusters
    where = cluster_of(draw_graph(loss, collapse=True, group="neuron").source)
    assert where[g.node_id(out)] == ("layer 2",)
    # highlight a weight of the first layer: its neuron and the path onwards
    hot = draw_graph(loss, collapse=True, highlight=mlp.children[0].children[1].w[0])
    hot_edges = [(t, h) for t, h, a in edges(hot.source) if HIGHLIGHT in a]
    n12 = hot.node_id(mlp.children[0].children[1].b)
    assert (n12, hot.node_id(out) + ":p1:w") in hot_edges and len(hot_edges) == 1 + 4


@needs_dot
def test_grouped_and_collapsed_graphs_render():
    mlp, forward = fake_mlp([2, 3, 1])
    [out] = forward([0.5, -1.0])
    loss = (out - 1.0) ** 2
    for kwargs in ({"group": "neuron"}, {"group": "layer"}, {"collapse": True}):
        root = ET.fromstring(draw_graph(loss, **kwargs).svg())
        classes = [el.get("class", "") for el in root.iter() if el.tag.endswith("}g")]
        assert sum(c.startswith("node neuron") for c in classes) == (
            4 if kwargs.get("collapse") else 0)
        assert sum(c.startswith("cluster") for c in classes) == {
            "neuron": 6, "layer": 2}.get(kwargs.get("group"), 0)


# --- a real nn MLP -------------------------------------------------------------------


def mlp_loss():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    loss.backward()
    return model, loss


def test_real_mlp_collapsed_has_one_node_per_neuron():
    from engine import backward_order

    model, loss = mlp_loss()
    g = draw_graph(loss, collapse=True)
    ns = nodes(g.source)
    neurons = {k: v for k, v in ns.items() if attr(v, "class").startswith("neuron")}
    assert len(neurons) == 16 + 16 + 1
    for layer in model.layers:
        for n in layer.neurons:
            node = neurons[g.node_id(n.b)]
            out = f"a{n.layer_index}.{n.index}" if n.activation != "linear" else (
                f"z{n.layer_index}.{n.index}")
            assert f"<b>{out}</b>" in node and f'tooltip="{n.name}: {n.formula};' in node
            assert all(g.node_id(w) == g.node_id(n.b) for w in n.w)
    # every other node drawn is an input x_j or part of the loss (outside every neuron)
    others = [v for v in backward_order(loss) if g.node_id(v) not in neurons]
    assert sorted(v.label for v in others if v.is_leaf() and v.label) == ["x1", "x2"]
    assert all(not any(getattr(o, "kind", "") == "neuron" for o in v.scope) for v in others)
    values = [k for k, v in ns.items() if attr(v, "class").startswith("value")]
    assert len(values) == len(others)
    # x_j -> 16 first-layer neurons, 16 x 16 between hidden layers, 16 into the output neuron
    neuron_edges = [(t, h) for t, h, _ in edges(g.source) if h.split(":")[0] in neurons]
    # the first layer's edges end in ports x1, x2; 16 inputs are too many for ports
    first_layer = {g.node_id(n.b) for n in model.layers[0].neurons}
    for t, h in neuron_edges:
        assert (":p" in h) == (h.split(":")[0] in first_layer), (t, h)
    assert len(neuron_edges) == 2 * 16 + 16 * 16 + 16 == len(set(neuron_edges))


def test_real_mlp_groups():
    model, loss = mlp_loss()
    g = draw_graph(loss, group="neuron")
    where = cluster_of(g.source)
    for layer in model.layers:
        for n in layer.neurons:
            assert where[g.node_id(n.w[0])] == (layer.name, n.name)
    assert len(re.findall(r'class="neuron"', g.source)) == 33
    assert len(re.findall(r'class="layer"', g.source)) == 3


@needs_dot
def test_real_mlp_collapsed_renders():
    model, loss = mlp_loss()
    root = ET.fromstring(draw_graph(loss, collapse=True, group="layer").svg())
    classes = [el.get("class", "") for el in root.iter() if el.tag.endswith("}g")]
    assert sum(c.startswith("node neuron") for c in classes) == 33
    assert sum(c == "cluster layer" for c in classes) == 3


def test_collapse_a_batch_draws_one_node_per_neuron_call():
    mlp, forward = fake_mlp([2, 3, 1])
    [o1] = forward([0.5, -1.0])
    [o2] = forward([1.0, 2.0])
    loss = o1 * o1 + o2 * o2
    loss.backward()
    g = draw_graph(loss, collapse=True)
    ns = nodes(g.source)
    neurons = {k: v for k, v in ns.items() if attr(v, "class").startswith("neuron")}
    assert len(neurons) == 2 * 4
    assert g.node_id(o1) != g.node_id(o2)
    assert 'tooltip="layer 2, neuron 1 (call 1): ' in neurons[g.node_id(o1)]
    assert 'tooltip="layer 2, neuron 1 (call 2): ' in neurons[g.node_id(o2)]
    # shared parameters stay leaves, each with an edge to both calls of its neuron
    w = mlp.children[1].children[0].w[0]
    assert "parameter" in attr(ns[g.node_id(w)], "class")
    assert {h for t, h, _ in edges(g.source) if t == g.node_id(w)} == {
        g.node_id(o1), g.node_id(o2)}
    params = [k for k, v in ns.items() if "parameter" in attr(v, "class")]
    assert len(params) == 3 * 3 + 4


def test_real_mlp_batch_collapsed():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=1)
    loss = nn.mse_loss([model(x) for x in ([0.5, -1.0], [1.0, 0.0], [0.0, 2.0])], [1.0, 0.0, 1.0])
    ns = nodes(draw_graph(loss, collapse=True).source)
    assert sum(attr(v, "class").startswith("neuron") for v in ns.values()) == 3 * 4
    assert sum("parameter" in attr(v, "class") for v in ns.values()) == 9 + 4


def test_deep_graph_draws_without_recursion():
    x = Value(0.1, label="x")
    y = x
    for _ in range(20_000):  # far deeper than Python's recursion limit
        y = y * 1.0
    g = draw_graph(y, highlight=x)
    assert g.node_id(y) == "v40000" and g.source.count(HIGHLIGHT) > 20_000
    assert repr(g) == "Graph(40001 value nodes, 20000 op nodes; .source, .svg(), .save(path))"


# --- drawings never hang (the graph of issue 11: 352 values, 602 drawn nodes) ---------------

from engine.teach.draw import LAYOUT_LIMIT, GraphTooLarge  # noqa: E402


def tangled(stages: int = 50):
    """x and w feed every stage: long edges that keep Graphviz busy for minutes."""
    x, w = Value(0.5, label="x"), Value(0.3, label="w")
    y = x
    for _ in range(stages):
        y = (y * w + 0.1).tanh() + x * 0.01
    return y


def test_the_tangled_graph_is_refused_at_once_with_the_way_out(tmp_path, capsys):
    import time

    started = time.monotonic()
    y = tangled()
    y.backward()
    g = draw_graph(y)
    assert repr(g).startswith("Graph(352 value nodes")
    assert g.cost.total > LAYOUT_LIMIT
    with pytest.raises(GraphTooLarge, match=r"too big to lay out: 602 drawn nodes, 700 edges") as e:
        g.svg()
    message = str(e.value)
    for way_out in ("collapse=True", "group=", "fewer samples", "force=True"):
        assert way_out in message
    bundle = g._repr_mimebundle_()  # Jupyter: the note, then the DOT text
    assert "image/svg+xml" not in bundle
    note, source = bundle["text/plain"].split("\n", 1)
    assert note.startswith("// Not rendered: this graph is too big") and source == g.source
    written = g.save(tmp_path / "tangled.svg")  # the DOT text instead, and why
    assert written == tmp_path / "tangled.dot" and written.read_text() == g.source
    assert "too big to lay out" in capsys.readouterr().out
    assert time.monotonic() - started < 30  # a generous bound: it must not hang


def test_a_small_graph_costs_little():
    a = Value(2.0, label="a")
    g = draw_graph(a * a + 1)
    # drawn: a, the constant 1, a*a, the sum and two ops; edges: 2 + 1 into ops, 2 out
    assert (g.cost.nodes, g.cost.edges) == (6, 6)
    # layering: a at rank 0, op (*) 1, a*a 2, op (+) 3, sum 4; the constant 1 sits just
    # before its use (rank 2), so no edge spans more than one rank
    assert g.cost.bends == 0


@pytest.fixture
def slow_dot(tmp_path, monkeypatch):
    """A `dot` on the PATH that never finishes (or fails), to test the time limit."""
    import os
    import stat

    def install(body: str) -> None:
        script = tmp_path / "bin" / "dot"
        script.parent.mkdir(exist_ok=True)
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(script.parent) + os.pathsep + os.environ.get("PATH", ""))

    if os.name != "posix":
        pytest.skip("the fake dot is a shell script")
    return install


def test_rendering_stops_at_the_time_limit(slow_dot):
    import time

    slow_dot("exec sleep 60")
    a = Value(2.0, label="a")
    g = draw_graph(a * a)
    started = time.monotonic()
    with pytest.raises(GraphTooLarge, match=r"did not finish .* within 0.5 s .*timeout=120"):
        g.svg(timeout=0.5)
    assert time.monotonic() - started < 30


def test_a_failing_dot_is_a_runtime_error(slow_dot):
    slow_dot("echo 'Error: syntax error in line 1' >&2; exit 1")
    with pytest.raises(RuntimeError, match="dot failed: Error: syntax error"):
        draw_graph(Value(1.0) * 2).svg()


# --- bad arguments and odd labels -----------------------------------------------------------


def test_grads_must_map_values_to_numbers():
    a = Value(2.0, label="a")
    c = a * 3
    with pytest.raises(TypeError, match=r"grads= maps Values to numbers; the gradient given "
                                        r"for Value\(label='a'.* is str 'x'"):
        draw_graph(c, grads={a: "x"})
    with pytest.raises(TypeError, match="a key is str 'a', not a Value"):
        draw_graph(c, grads={"a": 1.0})
    with pytest.raises(TypeError, match="pass a float"):
        draw_graph(c, grads={a: True})
    assert "grad 0.5<" in draw_graph(c, grads={a: 0.5}).source  # ints and floats are fine
    with pytest.raises(TypeError, match="title= takes a str"):
        draw_graph(c, title=3)
    with pytest.raises(TypeError, match="show_local= takes True or False"):
        draw_graph(c, show_local="yes")


@pytest.mark.parametrize("label, shown", [
    ("line\nbreak", "line\\\\nbreak"),  # DOT doubles the visible backslash
    ("\x1b[31mred", "\\\\x1b[31mred"),
    ("\ud800", "\\\\ud800"),  # a lone surrogate: no encoder can write it
])
def test_odd_labels_are_drawn_visibly(label, shown):
    a = Value(2.0)
    a.label = label  # Value() may refuse such labels; .label can still be set later
    g = draw_graph(a * 2, title=label)
    g.source.encode("utf-8")  # nothing left that cannot be written
    assert f"<b>{shown}</b>" in nodes(g.source)["v0"]
    assert "\x1b" not in g.source and "\ud800" not in g.source


@needs_dot
def test_odd_labels_render(tmp_path):
    a = Value(2.0)
    a.label = "\ud800\n\x1b"
    g = draw_graph(a * 2)
    svg = g.svg()
    ET.fromstring(svg)
    assert g.save(tmp_path / "odd.svg").exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    import os

    target = tmp_path / "graph.dot"
    target.write_text("old drawing")
    g = draw_graph(Value(1.0, label="a") * 2)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        g.save(target)
    assert target.read_text() == "old drawing"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]
    with pytest.raises(TypeError, match="path must be a str"):
        g.save(3)


def test_collapsed_local_grads_are_the_weights_and_delta_follows_be2():
    # Into a collapsed neuron the edge carries dz/d(input), the factor that multiplies
    # its delta on the way back: for an nn neuron, the weight of that input. The hidden
    # delta the node shows is the lectures' BE2, computed here by hand from the weights:
    # delta1.k = (1 - a1.k^2) * w2.1.k * delta2.1, with delta2.1 = dL/dz2.1 = 2 (z2.1 - 1).
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [2, 1], activation="tanh", seed=0)
    xs = [0.5, -1.0]
    loss = nn.mse_loss(model(xs), 1.0)
    loss.backward()
    g = draw_graph(loss, collapse=True, local_grads=True)
    ns = nodes(g.source)
    hidden, out = model.layers[0].neurons, model.layers[1].neurons[0]
    a = [math.tanh(sum(w.data * x for w, x in zip(n.w, xs)) + n.b.data) for n in hidden]
    z2 = sum(w.data * ak for w, ak in zip(out.w, a)) + out.b.data
    delta2 = 2 * (z2 - 1.0)
    for k, n in enumerate(hidden):
        into = [(t, h, attrs) for t, h, attrs in edges(g.source)
                if h.split(":")[0] == g.node_id(n.b)]
        assert [edge_label(attrs) for _, _, attrs in into] == [number(w.data) for w in n.w]
        delta = (1 - a[k] ** 2) * out.w[k].data * delta2
        assert f"δ {number(delta)}<" in ns[g.node_id(n.b)]
    into_out = [attrs for t, h, attrs in edges(g.source) if h.split(":")[0] == g.node_id(out.b)]
    assert [edge_label(x) for x in into_out] == [number(w.data) for w in out.w]
    assert f"δ {number(delta2)}<" in ns[g.node_id(out.b)]
    legend = {e.name: e.meaning for e in g.legend()}
    assert "dz/d(input)" in legend["number on an edge"]
    # without local_grads, no numbers on the collapsed edges
    assert all(edge_label(x) is None for _, h, x in edges(draw_graph(loss, collapse=True).source))


@needs_dot
def test_notebook_display_is_the_picture_then_the_legend():
    a, b = Value(2.0, label="a"), Value(-3.0, label="c")
    y = a * b
    y.backward()
    g = draw_graph(y)
    page = g._repr_html_()
    assert page.startswith('<div class="chainrule-graph"><svg style="max-width:100%;height:auto"')
    assert page.index("</svg>") < page.index(g.legend_html()) and page.endswith("</div></div>")
    assert "<?xml" not in page and "<script" not in page  # dot drew it: no Viz.js
    bundle = g._repr_mimebundle_()
    assert bundle["text/html"] == page and bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert bundle["text/plain"] == repr(g)

"""draw_graph's roles (fill colours), its legend and batch sample marks.

Roles come from what a node is: a parameter of an nn model (through the scope
protocol), the model's inputs, constants; label patterns only for bare expressions.
Seed 001's workshop network (hidden weights v_ij, output weights w_jk) is built
here as a bare expression, as notebook 04 does, and as a small model of its own.
"""

from __future__ import annotations

import html
import math
import re

import pytest

from engine import Value, draw_graph
from engine.teach.draw import HIGHLIGHT, ROLE_COLOURS, LegendEntry
from engine.value import scope

NODE = re.compile(r'^\s*(v\d+) \[id="v\d+", class="([^"]*)"')

# Seed 001: x = [0 1] with the bias input x0 = 1, target [1 0], V[j][i] = v_ij, W[k][j] = w_jk
X = [1.0, 0.0, 1.0]
Y = [1.0, 0.0]
V = {1: [1.0, -1.0, 0.0], 2: [1.0, 0.0, 1.0]}
W = {1: [1.0, 1.0, 0.0], 2: [1.0, -1.0, 1.0]}


def classes(graph) -> dict[str, str]:
    """node id -> its class attribute, for value and neuron nodes."""
    return {m[1]: m[2] for m in map(NODE.match, graph.source.splitlines()) if m}


def role_of(graph, value: Value) -> str:
    return classes(graph)[graph.node_id(value)].split()[1]


def workshop_weights():
    v = {(i, j): Value(V[j][i], label=f"v{i}{j}") for j in (1, 2) for i in range(3)}
    w = {(j, k): Value(W[k][j], label=f"w{j}{k}") for k in (1, 2) for j in range(3)}
    return v, w


def workshop_forward(v, w, x):
    r = [sum((x[i] * v[(i, j)] for i in range(1, 3)), x[0] * v[(0, j)]) for j in (1, 2)]
    u = [1.0] + [rj.tanh() for rj in r]
    s = [sum((u[j] * w[(j, k)] for j in range(1, 3)), u[0] * w[(0, k)]) for k in (1, 2)]
    return 0.5 * ((Y[0] - s[0]) ** 2 + (Y[1] - s[1]) ** 2)


class Workshop:
    """Seed 001's network as a student's own module: the scope protocol only."""

    kind = "model"
    name = "workshop network"

    def __init__(self):
        self.v, self.w = workshop_weights()

    def parameters(self):
        return list(self.v.values()) + list(self.w.values())

    def __call__(self, numbers):
        with scope(self):
            x = [Value(n, label=f"x{i}") for i, n in enumerate(numbers)]
            return x, workshop_forward(self.v, self.w, x)


def test_seed_001_bare_expression_guesses_v_ij_and_w_jk_from_labels():
    v, w = workshop_weights()
    x = [Value(n, label=f"x{i}") for i, n in enumerate(X)]
    loss = workshop_forward(v, w, x)
    loss.backward()
    g = draw_graph(loss)
    for p in list(v.values()) + list(w.values()):
        assert role_of(g, p) == "parameter", p.label
    assert {role_of(g, xi) for xi in x} == {"input"}
    legend = {e.name: e for e in g.legend()}
    assert "guessed from its label" in legend["parameter"].meaning
    assert "no nn model" in legend["parameter"].meaning


def test_seed_001_as_a_model_draws_its_parameters_from_parameters():
    model = Workshop()
    x, loss = model(X)
    loss.backward()
    # the gradients the lecture derives: dl/dw_jk = delta_k u_j, delta = z - y
    t1, t2 = math.tanh(1.0), math.tanh(2.0)
    assert model.w[(1, 1)].grad == pytest.approx((1 + t1 - 1) * t1)
    # dl/dv_22 = g'(r2) x2 (delta1 w21 + delta2 w22), delta2 = z2 - y2 = 1 - t1 + t2
    assert model.v[(2, 2)].grad == pytest.approx((1 - t2 ** 2) * 1.0 * (1 - t1 + t2))
    g = draw_graph(loss)
    for p in model.parameters():
        assert role_of(g, p) == "parameter", p.label
    assert {role_of(g, xi) for xi in x} == {"input"}
    legend = {e.name: e for e in g.legend()}
    assert legend["parameter"].meaning.startswith("a weight or bias: a parameter of the nn model")
    assert "guessed" not in " ".join(e.meaning for e in g.legend())
    assert legend["input"].meaning.startswith("an input of the model")
    # the 1/2 and the targets are constants
    assert legend["constant"].colour == ROLE_COLOURS["constant"]


def test_in_a_model_graph_labels_are_not_guessed():
    # A model whose parameter is labelled "x" and whose input is labelled "w1": the
    # model says which is which; the labels do not.
    class Scale:
        kind = "model"

        def __init__(self):
            self.k = Value(3.0, label="x")

        def parameters(self):
            return [self.k]

        def __call__(self, value):
            with scope(self):
                return self.k * value

    model = Scale()
    w1 = Value(2.0, label="w1")
    out = model(w1) + Value(1.0, label="bias")
    g = draw_graph(out)
    assert role_of(g, model.k) == "parameter"
    assert role_of(g, w1) == "input"
    # "bias" is outside the model, labelled, not listed: an input (a leaf you made)
    assert role_of(g, out.inputs[1]) == "input"
    # an unlabelled Value fed to the model is its input; a number inside it, a constant
    raw = Value(0.25)
    with scope(model):
        inside = model.k * raw + 2.0
    g2 = draw_graph(inside)
    assert role_of(g2, raw) == "input" and role_of(g2, inside.inputs[1]) == "constant"
    # the same expression with no model: every label guess applies
    k = Value(3.0, label="x")
    bare = draw_graph(k * w1 + Value(1.0, label="bias"))
    assert sorted(classes(bare)[i].split()[1] for i in classes(bare)) == [
        "input", "intermediate", "output", "parameter", "parameter"]


def test_parameters_argument_decides():
    a, w = Value(1.0, label="a"), Value(2.0, label="w")
    g = draw_graph(a * w, parameters=[a])
    assert role_of(g, a) == "parameter" and role_of(g, w) == "input"
    assert {e.name: e.meaning for e in g.legend()}["parameter"] == "a leaf passed in parameters="


def test_nn_mlp_roles():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    g = draw_graph(loss)
    for p in model.parameters():
        assert role_of(g, p) == "parameter"
    inputs = [n for n, c in classes(g).items() if c.split()[1] == "input"]
    assert len(inputs) == 2 and all("<b>x" in line for line in g.source.splitlines()
                                    if any(f"{i} [" in line for i in inputs))
    # relabel the weights as the lecture does: still parameters, from the model
    for j, p in enumerate(model.parameters()):
        p.label = f"v{j}"
    assert all(role_of(draw_graph(loss), p) == "parameter" for p in model.parameters())


def test_legend_lists_only_what_is_drawn():
    a, b = Value(2.0, label="a"), Value(-3.0, label="c")
    c = a * b
    c.backward()
    names = [e.name for e in draw_graph(c).legend()]
    assert names == ["input", "output", "grad > 0", "grad < 0"]  # no constant, no parameter
    assert all(isinstance(e, LegendEntry) and isinstance(e, tuple) and len(e) == 3
               for e in draw_graph(c).legend())
    more = draw_graph(a * b + 1, local_grads=True, highlight=a, show_grad=False).legend()
    assert [e.name for e in more] == ["input", "constant", "intermediate", "output",
                                      "number on an edge", "path"]
    assert dict((e.name, e.colour) for e in more)["path"] == HIGHLIGHT
    d = a * b
    steps = draw_graph(d, grads={d: 1.0}, done={d}, current=(d, 0)).legend()
    assert [e.name for e in steps][-3:] == ["grad ?", "current edge", "faded"]


def test_legend_of_a_collapsed_network_explains_delta_and_ports():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    loss.backward()
    legend = {e.name: e for e in draw_graph(loss, collapse=True).legend()}
    assert "δ = dL/dz" in legend["neuron"].meaning and "not dL/da" in legend["neuron"].meaning
    assert "tanh(w.x + b)" in legend["neuron"].meaning
    assert "input port" in legend and "parameter" not in legend  # inside the neurons


def test_legend_html_is_escaped():
    a = Value(1.0, label="<script>alert(1)</script>")
    g = draw_graph(a * 2)
    out = g.legend_html()
    assert "<script>" not in out
    for colour, name, meaning in g.legend():
        assert html.escape(name) in out and html.escape(meaning) in out
        assert f"background:{colour}" in out
    from engine.teach.draw import legend_html

    hostile = legend_html([('red"><script>', "<b>", "&")])
    assert "<script>" not in hostile and "<b><b>" not in hostile and "&amp;" in hostile


def test_batch_inputs_say_their_sample():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=1)
    xs = ([0.5, -1.0], [1.0, 0.0], [0.0, 2.0])
    loss = nn.mse_loss([model(x) for x in xs], [1.0, 0.0, 1.0])
    for collapse in (False, True):
        source = draw_graph(loss, collapse=collapse).source
        marks = re.findall(r"<b>(x\d)#(\d)</b> \[sample (\d)\]", source)
        assert sorted(marks) == sorted((f"x{j}", str(k), str(k))
                                       for j in (1, 2) for k in (1, 2, 3))
    assert "[sample" not in draw_graph(nn.mse_loss(model(xs[0]), 1.0)).source
    names = [e.name for e in draw_graph(loss).legend()]
    assert "[sample k]" in names

"""draw_graph, rendered: arrows touch their boxes, sizes fit a screen (needs `dot`).

These read the geometry of the SVG that Graphviz writes (``svg_geometry``), never
its bytes, so they hold across Graphviz versions.
"""

from __future__ import annotations

import re

import pytest
from svg_geometry import (
    arrow_tips,
    fitted_text_px,
    font_sizes,
    outlines,
    port_cells,
    size_pt,
    tip_gaps,
    tips_by_id,
)

from engine import Value, dot_available, draw_graph

pytestmark = pytest.mark.skipif(
    not dot_available(), reason="Graphviz's dot is not installed (CI installs it)"
)

TOUCH = 1.0  # pt: an arrow tip this close to its head's outline touches it


def small():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    c.backward()
    return c


def mlp(sizes, seed=0):
    from nn import MLP, mse_loss

    model = MLP(2, sizes, seed=seed)
    loss = mse_loss(model([0.5, -1.0]), 1.0)
    loss.label = "loss"
    loss.backward()
    return model, loss


def test_the_geometry_reader_sees_a_gap():
    # The reader itself can fail: a box drawn smaller than its node (shape=none, the
    # old way, whose 36 pt minimum height exceeds the 20 pt table) leaves gaps.
    source = draw_graph(small(), rankdir="TB").source.replace("shape=plain", "shape=none")
    from engine.teach.draw import _render

    gaps = tip_gaps(_render(source, "svg").decode())
    assert max(d for *_, d in gaps) > 4 * TOUCH


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
@pytest.mark.parametrize("options", [{}, {"local_grads": True}, {"highlight": "a"},
                                     {"show_grad": False}, {"current": "a * b"}])
def test_every_arrow_tip_lies_on_its_head_nodes_outline(rankdir, options):
    c = small()
    ab = c.inputs[0]
    if "highlight" in options:
        options = {"highlight": ab.inputs[0]}
    if "current" in options:  # the thickest arrow, as the step view draws it
        options = {"current": (ab, 1), "grads": {c: 1.0, ab: 1.0}, "done": {c}}
    svg = draw_graph(c, rankdir=rankdir, **options).svg()
    gaps = tip_gaps(svg)
    assert len(gaps) == 8  # 2 + 1 + 2 edges into ops, 3 from ops into their results
    assert all(d <= TOUCH for *_, d in gaps), [g for g in gaps if g[2] > TOUCH]


@pytest.mark.parametrize("options", [{}, {"collapse": True}, {"group": "neuron"},
                                     {"collapse": True, "rankdir": "TB"},
                                     {"collapse": True, "rankdir": "RL"},
                                     {"collapse": True, "rankdir": "BT"}])
def test_arrow_tips_touch_in_network_drawings(options):
    _, loss = mlp([3, 1])
    svg = draw_graph(loss, **options).svg()
    gaps = tip_gaps(svg)
    assert gaps and all(d <= TOUCH for *_, d in gaps), [g for g in gaps if g[2] > TOUCH]


def test_every_edge_ends_at_a_drawn_node():
    svg = draw_graph(small()).svg()
    shapes = outlines(svg)
    kinds = {head: shapes[head].kind for _, head, *_ in arrow_tips(svg)}
    assert {k for h, k in kinds.items() if h.startswith("op")} == {"ellipse"}
    assert {k for h, k in kinds.items() if h.startswith("v")} == {"box"}
    # value boxes are one table row tall: 20 pt (text 11 pt + padding), not 36 pt
    heights = {round(s.box[3] - s.box[1]) for n, s in shapes.items() if n.startswith("v")}
    assert heights == {20}, heights
    assert size_pt(svg)[1] < 80


READABLE_PX = 11  # the smallest text size we call readable on a screen


@pytest.mark.parametrize("title", [None, "MLP(2, [16, 16, 1]), collapse=True"])
def test_a_collapsed_2_16_16_1_mlp_fits_a_1280_by_1024_screen_readably(title):
    # Before: 1768 x 1178 pt (Graphviz 2.43), which shown on such a screen scaled its
    # 11 pt text down to 8 px. Now about 1100 x 750 pt.
    _, loss = mlp([16, 16, 1])
    svg = draw_graph(loss, collapse=True, title=title).svg()
    width, height = size_pt(svg)
    assert width <= 1280 * 3 / 4 * 1.25 and height <= 1024 * 3 / 4 * 1.25, (width, height)
    assert min(font_sizes(svg)) >= 10
    assert fitted_text_px(svg) >= READABLE_PX, (size_pt(svg), fitted_text_px(svg))
    gaps = tip_gaps(svg)
    assert len(gaps) == 2 * 16 + 16 * 16 + 16 + 2 + 1 + 2  # into neurons; the loss's ops
    assert all(d <= TOUCH for *_, d in gaps), [g for g in gaps if g[2] > TOUCH]


def test_the_fit_measure_fails_the_old_layout():
    # The same graph with the old spacing and one-row boxes does not fit readably.
    _, loss = mlp([16, 16, 1])
    source = draw_graph(loss, collapse=True).source
    old = source.replace("ranksep=0.45", "ranksep=1.5").replace("nodesep=0.1", "nodesep=0.2")
    from engine.teach.draw import _render

    assert fitted_text_px(_render(old, "svg").decode()) < READABLE_PX


@pytest.mark.parametrize("rankdir", ["LR", "TB", "RL", "BT"])
def test_collapsed_edges_end_in_the_port_of_their_input(rankdir):
    # A 2-3-1 MLP: x1, x2 into each first-layer neuron, a1.1..a1.3 into the output one;
    # each arrow ends on the port cell that names its input, in the input's order.
    _, loss = mlp([3, 1])
    graph = draw_graph(loss, collapse=True, rankdir=rankdir)
    svg = graph.svg()
    cells = port_cells(svg, "#f7f7f7")
    assert sorted(len(c) for c in cells.values()) == [2, 2, 2, 3]
    tips = tips_by_id(svg)
    ported = re.findall(r'-> (\w+):p(\d+):\w+ \[id="(\w+)"', graph.source)
    assert len(ported) == 2 * 3 + 3
    for head, port, edge in ported:
        tip = tips[edge]
        assert cells[head][int(port)].distance(*tip) <= TOUCH, (edge, port, tip)
        others = [c for n, c in enumerate(cells[head]) if n != int(port)]
        assert all(c.distance(*tip) > 2 for c in others), (edge, port, tip)


def test_hostile_module_names_and_labels_stay_text_in_the_svg():
    # A module's name and formula go into a tooltip (a quoted DOT attribute), labels
    # into cells and ports: none may break the DOT or the SVG.
    import xml.etree.ElementTree as ET

    from engine.value import scope

    class Odd:
        kind = "neuron"
        name = 'n "1" <script>&'
        formula = 'f(x) = "x" \\ <b>'

        def __init__(self):
            self.w = Value(0.5, label='w"<1>')

        def parameters(self):
            return [self.w]

        def __call__(self, x):
            with scope(self):
                return (self.w * x).tanh()

    x = Value(1.0, label='x "<i>"')
    y = Odd()(x)
    y.label = 'y\\N"<'
    svg = draw_graph(y * 2, collapse=True).svg()
    root = ET.fromstring(svg)  # parses: nothing broke out
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert 'x "<i>"' in texts and 'y\\N"<' in texts
    titles = [a.get("{http://www.w3.org/1999/xlink}title") for a in root.iter(
        "{http://www.w3.org/2000/svg}a")]
    assert any(t and t.startswith('n "1" <script>&: f(x) = "x" \\ <b>') for t in titles)
    assert "<script" not in svg

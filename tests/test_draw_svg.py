"""draw_graph, rendered: arrows touch their boxes, sizes fit a screen (needs `dot`).

These read the geometry of the SVG that Graphviz writes (``svg_geometry``), never
its bytes, so they hold across Graphviz versions.
"""

from __future__ import annotations

import pytest
from svg_geometry import arrow_tips, outlines, size_pt, tip_gaps

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
                                     {"show_grad": False}])
def test_every_arrow_tip_lies_on_its_head_nodes_outline(rankdir, options):
    c = small()
    if "highlight" in options:
        options = {"highlight": c.inputs[0].inputs[0]}
    svg = draw_graph(c, rankdir=rankdir, **options).svg()
    gaps = tip_gaps(svg)
    assert len(gaps) == 8  # 2 + 1 + 2 edges into ops, 3 from ops into their results
    assert all(d <= TOUCH for *_, d in gaps), [g for g in gaps if g[2] > TOUCH]


@pytest.mark.parametrize("options", [{}, {"collapse": True}, {"group": "neuron"}])
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

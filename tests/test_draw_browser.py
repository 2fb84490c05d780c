"""Graphs without Graphviz's dot: the notebook display draws them in the browser.

``Graph._repr_html_`` without ``dot`` returns HTML carrying the DOT text and the
vendored Viz.js; here that HTML is opened in the system's headless Chromium (never
a downloaded browser; skipped where it is missing) and must draw an ``<svg>`` with
the graph's nodes, for one output alone (a reopened notebook), several in one
page, and a page that has RequireJS (the classic Notebook).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import Browser

from engine import Value, dot_available, draw_graph
from engine.teach.draw import INSTALL_HINT

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert not dot_available()


def graphs():
    a, b = Value(2.0, label="a"), Value(-3.0, label="<b>")  # a label to escape
    c = a * b + a.tanh()
    c.label = "c"
    c.backward()
    small = draw_graph(c, local_grads=True)
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    loss.backward()
    return small, draw_graph(loss, collapse=True)


def test_without_dot_the_display_is_html_that_draws_in_the_browser(no_dot):
    small, network = graphs()
    bundle = small._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    text = bundle["text/plain"]
    note, source = text.split("\n", 1)
    assert note.startswith("// Not rendered") and INSTALL_HINT in note
    assert source == small.source
    page = bundle["text/html"]
    assert page.count('<script type="application/json" class="chainrule-dot">') == 1
    assert "if (!window.Viz)" in page and "Viz.js 3.31.0" in page
    assert "<b>" not in page.split("chainrule-legend")[0].split("chainrule-dot")[1][:100000]
    assert small.legend_html() in page
    ids = re.findall(r'<div class="chainrule-graph" id="([\w-]+)"', page)
    other = re.findall(r'<div class="chainrule-graph" id="([\w-]+)"', small._repr_html_())
    assert len(ids) == len(other) == 1 and ids != other  # unique per display
    # the DOT text in the page reads back exactly, and cannot close the script
    embedded = page.split('class="chainrule-dot">', 1)[1].split("</script>", 1)[0]
    assert "<" not in embedded and json.loads(embedded) == small.source
    assert 1_200_000 < len(page) < 1_500_000  # the library is most of it: ~1.3 MB
    assert network._repr_html_().count("Viz.js 3.31.0") == 1


def test_too_big_or_failing_graphs_stay_text_without_dot(no_dot):
    x = Value(0.1, label="x")
    y = x
    for _ in range(6000):
        y = y * x
    g = draw_graph(y)
    assert g.cost.total > 10_000
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and g._repr_html_() is None


def open_page(chromium, path: Path, count: int, shot: str):
    with Browser(chromium, path.resolve().as_uri()) as page:
        page.wait_for(f"document.querySelectorAll('.chainrule-picture svg').length === {count}")
        found = page.evaluate("""Array.from(document.querySelectorAll('.chainrule-picture svg'))
            .map(svg => ({nodes: Array.from(svg.querySelectorAll('g.node')).map(g => g.id),
                          edges: svg.querySelectorAll('g.edge').length,
                          text: svg.textContent}))""")
        page.screenshot(ARTIFACTS / shot)
        vizzes = page.evaluate("typeof window.Viz.instance")
    return found, vizzes


def page_of(outputs: list[str], head: str = "") -> str:
    cells = "".join(f'<div class="output">{o}</div>' for o in outputs)
    return f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{cells}</body></html>"


def expected(graph):
    return sorted(re.findall(r'^\s*(\w+) \[id="\1"', graph.source, flags=re.M))


def test_viz_js_draws_two_graphs_in_one_page(chromium, no_dot, tmp_path):
    small, network = graphs()
    path = tmp_path / "two.html"
    path.write_text(page_of([small._repr_html_(), network._repr_html_()]), encoding="utf-8")
    found, viz = open_page(chromium, path, 2, "viz_two_graphs.png")
    assert viz == "function"
    assert sorted(found[0]["nodes"]) == expected(small)
    assert sorted(found[1]["nodes"]) == expected(network)
    assert found[0]["edges"] == 8 and found[1]["edges"] == 2 * 3 + 3 + 2 + 1 + 2
    assert "<b>" in found[0]["text"]  # the label drawn as text, not markup
    assert "δ" in found[1]["text"] and "x1" in found[1]["text"]


def test_viz_js_output_works_alone_and_beside_requirejs(chromium, no_dot, tmp_path):
    _, network = graphs()
    alone = tmp_path / "alone.html"
    alone.write_text(page_of([network._repr_html_()]), encoding="utf-8")
    found, _ = open_page(chromium, alone, 1, "viz_alone.png")
    assert sorted(found[0]["nodes"]) == expected(network)
    # the classic Notebook loads RequireJS: an AMD define() must not swallow Viz
    amd = "<script>window.define = function () {}; window.define.amd = {};</script>"
    required = tmp_path / "amd.html"
    required.write_text(page_of([network._repr_html_()], head=amd), encoding="utf-8")
    found, _ = open_page(chromium, required, 1, "viz_requirejs.png")
    assert sorted(found[0]["nodes"]) == expected(network)


def test_viz_js_draws_the_collapsed_2_16_16_1_mlp_readably(chromium, no_dot, tmp_path):
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    loss.backward()
    graph = draw_graph(loss, collapse=True)
    path = tmp_path / "mlp.html"
    path.write_text(page_of([graph._repr_html_()]), encoding="utf-8")
    with Browser(chromium, path.resolve().as_uri(), timeout=60) as page:
        page.wait_for("!!document.querySelector('.chainrule-picture svg')")
        nodes = page.evaluate("document.querySelectorAll('.chainrule-picture g.node').length")
        size = page.evaluate("""(function () {
            var s = document.querySelector('.chainrule-picture svg');
            var fonts = Array.from(s.querySelectorAll('text'))
                .map(t => parseFloat(t.getAttribute('font-size')));
            return [parseFloat(s.getAttribute('width')), parseFloat(s.getAttribute('height')),
                    Math.min.apply(null, fonts)];
        })()""")
        page.screenshot(ARTIFACTS / "viz_mlp.png")
    assert nodes == len(expected(graph)) == 2 + 33 + 3 + 2  # x, neurons, loss part, ops
    width, height, smallest = size  # in pt, as Graphviz writes them
    scale = min(1.0, 1280 / (width * 4 / 3), 1024 / (height * 4 / 3))
    assert smallest * 4 / 3 * scale >= 11, (width, height, smallest)

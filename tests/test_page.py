"""The step-through page: self-contained, escaped, and still useful without Graphviz."""

import html
import json
import re
import shutil

import pytest

from engine import Value, explain
from engine.teach import draw as draw_module
from engine.teach.assets import read as read_asset
from engine.teach.forward import forward_steps
from engine.teach.notation import number
from engine.teach.page import DRAWING_IN_BROWSER, render_page

HAS_DOT = shutil.which("dot") is not None
EVIL = '</script><script>alert(1)</script>"]; x [label=<<b>pwn</b>>'


def example():
    a = Value(2.0, label="a")
    b = Value(-3.0, label=EVIL)
    c = a * b + a.tanh()
    c.label = "c"
    return explain(c)


def payload(page: str) -> dict:
    match = re.search(r'<script id="chainrule-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert match, "no data block"
    return json.loads(match.group(1))


def test_table_only_page_has_everything_but_the_graph(tmp_path):
    e = example()
    path = e.to_html(tmp_path / "steps.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="prev"' in page and 'id="next"' in page and "Step 0 of 5" in page
    assert '<table class="forward">' in page  # the forward pass comes first
    data = payload(page)
    assert len(data["steps"]) == len(e) == 5
    for step, s in zip(data["steps"], e):
        assert (step["nodeName"], step["inputName"]) == (s.node_name, s.input_name)
        assert step["grad"] == number(s.grad) and step["upstream"] == number(s.upstream)
    assert data["seed"] == "1" and data["nodes"][0]["id"] == data["root"]


NETWORK = (r"<script[^>]*\bsrc=", r"<link\b", r"<img\b", r"<iframe\b", r"url\(",
           r"@import", r"\bhref=\"(?!#)")


def test_no_network_and_no_external_files():
    page = render_page(example(), graph=True)
    for pattern in NETWORK + (r"fetch\(", r"XMLHttpRequest"):
        assert not re.search(pattern, page), pattern


def no_dot(monkeypatch):
    """Make the drawer find no ``dot``, as on a machine without Graphviz."""
    which = draw_module.shutil.which

    def no_dot_which(name, *args, **kwargs):  # other programs (chromium) are still found
        return None if name == "dot" else which(name, *args, **kwargs)

    monkeypatch.setattr(draw_module.shutil, "which", no_dot_which)


def test_without_dot_the_page_carries_viz_and_the_dot_text(monkeypatch):
    no_dot(monkeypatch)
    with_viz = render_page(example())
    assert '<div id="graph" class="pending"><p id="graph-note">' in with_viz
    assert html.escape(DRAWING_IN_BROWSER) in with_viz
    data = payload(with_viz)
    assert data["dot"].startswith("digraph") and len(data["steps"]) == 5
    assert read_asset("viz-global.js")[:2000] in with_viz  # the vendored file, inlined
    # nothing is fetched: no external script, link or image in our part of the page
    # (Viz.js's own loader code for other setups is present but unused; the browser
    # test records every request the page makes)
    ours = with_viz.replace(read_asset("viz-global.js"), "")
    for pattern in NETWORK + (r"fetch\(", r"XMLHttpRequest"):
        assert not re.search(pattern, ours), pattern
    assert with_viz.count("<script") == 3 and with_viz.count("</script>") == 3


def test_viz_adds_its_own_size_and_nothing_else(monkeypatch):
    with_dot = render_page(example(), graph=False)
    no_dot(monkeypatch)
    with_viz = render_page(example())
    viz = len(read_asset("viz-global.js").encode())
    extra = len(with_viz.encode()) - len(with_dot.encode())
    assert viz <= extra < viz + 20_000, (viz, extra)  # Viz.js, the DOT text and the legend


def test_labels_cannot_break_out_of_the_page():
    page = render_page(example(), graph=True)
    assert "<script>alert(1)" not in page
    assert "<b>pwn" not in page
    assert page.count("<script") == 2  # the data block and the stepper
    assert page.count("</script>") == 2
    assert EVIL in [step["inputName"] for step in payload(page)["steps"]]  # kept, as data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the static table
    maths = re.search(r'<div id="maths" hidden>(.*?)</div>\s*<script', page, re.S).group(1)
    assert "<script" not in maths and "<b>" not in maths and "pwn" in maths  # as text


def test_a_graph_too_big_for_dot_is_not_given_to_viz_either(monkeypatch):
    def too_big(self, *args, **kwargs):
        raise draw_module.GraphTooLarge("this graph is too big to lay out: test")

    monkeypatch.setattr(draw_module.Graph, "svg", too_big)
    page = render_page(example())
    assert "too big to lay out: test" in page
    assert payload(page)["dot"] is None and read_asset("viz-global.js")[:2000] not in page


def test_fifty_steps_make_a_small_page():
    x = Value(0.3, label="x")
    w = Value(-0.7, label="w")
    y = x
    for _ in range(12):  # 4 edges per round: mul (2) and add (2) -> about 50 steps
        y = (y * w + x).tanh()
    e = explain(y)
    assert 45 <= len(e) <= 70
    page = render_page(e, graph=HAS_DOT)
    # about 350 KB: 60 backward and 36 forward steps (data 60 KB), each typeset line by
    # line (MathML 155 KB), and one drawing with a number on each edge (SVG 90 KB)
    assert len(page.encode()) < 400_000, len(page.encode())
    if HAS_DOT:
        assert page.count("<svg") == 1  # one drawing, highlighted per step by the script


def test_a_graph_too_big_to_lay_out_gives_the_table_only_page_with_a_note(tmp_path):
    import time

    x, w = Value(0.5, label="x"), Value(0.3, label="w")
    y = x
    for _ in range(50):  # the 352-value graph that keeps Graphviz busy for minutes
        y = (y * w + 0.1).tanh() + x * 0.01
    started = time.monotonic()
    path = explain(y).to_html(tmp_path / "big.html")
    assert time.monotonic() - started < 30  # a generous bound: it must not hang
    page = path.read_text(encoding="utf-8")
    assert "<svg" not in page and read_asset("viz-global.js")[:2000] not in page
    assert "too big to lay out: 602 drawn nodes" in page and "collapse=True" in page
    # per stage: 2 + 2 + 1 + 2 + 2 edges, less the 2 into the constants 0.1 and 0.01
    assert len(payload(page)["steps"]) == 50 * 7


def test_short_names_are_defined_on_the_page_and_the_side_panel_uses_the_notation():
    x = Value(0.5, label="x")
    deep = x.tanh().sigmoid().exp().sin().cos()
    y = deep * -2.0
    e = explain(y)
    page = render_page(e, graph=False)
    assert '<p id="where">where <code>v5</code> = <code>cos(sin(exp(sigmoid(tanh(x)))))</code>' \
        in page
    steps = payload(page)["steps"]
    first = steps[0]  # d(v5 * (-2))/d(v5) = b = -2
    assert first["product"] == "1 * (-2) = -2"
    assert first["sum"] == "0 + (-2) = -2"
    assert first["latex"] == "-2"


def test_the_page_is_written_atomically(tmp_path, monkeypatch):
    import os

    target = tmp_path / "steps.html"
    target.write_text("old page")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    import pytest

    with pytest.raises(KeyboardInterrupt):
        example().to_html(target, graph=False)
    assert target.read_text() == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["steps.html"]


def test_odd_labels_are_written_visibly_on_the_page(tmp_path):
    a = Value(2.0)
    a.label = "\ud800\n\x1b[31m"  # Value() may refuse it; .label can be set later
    c = a * 3
    path = explain(c).to_html(tmp_path / "odd.html", title="title \ud800")
    page = path.read_text(encoding="utf-8")
    assert "\\ud800\\n\\x1b[31m" in [n["name"] for n in payload(page)["nodes"]]
    assert "\x1b" not in page and "title \\ud800" in page


def test_the_forward_pass_comes_first_in_the_notation():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    e = explain(c)
    page = render_page(e, graph=False)
    data = payload(page)
    steps = forward_steps(e.root, e.notation)
    assert [f["text"] for f in data["forward"]] == [s.text() for s in steps]
    assert data["forward"][0]["text"] == "a * b = 2 * (-3) = -6"
    assert data["forward"][-1]["name"] == "c"
    # every node is computed after its inputs: leaves are known from the start
    order = {n["id"]: n["computed"] for n in data["nodes"]}
    for k, f in enumerate(data["forward"], start=1):
        assert order[f["node"]] == k
        assert all(order[i] < k for i in f["inputs"])
    assert data["forwardStart"].startswith("Forward pass: the inputs are ")
    assert "<table class=\"forward\">" in page


def test_forward_false_starts_at_the_backward_pass():
    page = render_page(example(), graph=False, forward=False)
    data = payload(page)
    assert data["forward"] == [] and data["hasForward"] is False
    assert '<table class="forward">' not in page
    with pytest.raises(TypeError, match="forward must be True or False"):
        render_page(example(), forward="yes")


def test_each_step_has_its_formula_as_mathml():
    pytest.importorskip("latex2mathml")
    e = example()
    page = render_page(e, graph=False)
    maths = re.findall(r'<div id="math-([fb]\d+)">(.*?</math>)</div></div>', page, re.S)
    ids = [k for k, _ in maths]
    assert ids == [f"f{k}" for k in range(1, 4)] + [f"b{k}" for k in range(1, 6)]
    assert all('<mstyle displaystyle="true"' in m for _, m in maths)  # full-size fractions
    # one line per "= ...": step 4 is dc/da += dc/d(ab) d(ab)/da = b = -3, now dc/da = -2.929
    step4 = dict(maths)["b4"]
    assert step4.count('<div class="line">') == 4 and step4.count("<math") == 4
    assert "<mfrac>" in step4 and "now" in step4


def test_the_side_panel_writes_a_bare_number_once_and_negatives_in_parentheses():
    x = Value(0.5, label="x")
    b = Value(0.1, label="b1.1")
    z = x * -2.0 + b
    z.label = "z1.1"
    data = payload(render_page(explain(z), graph=False))
    bias = next(s for s in data["steps"] if s["inputName"] == "b1.1")
    assert bias["local"] == "1"  # not "1 = 1"
    for s in data["steps"]:
        assert not re.fullmatch(r"(.+) = \1", s["local"]), s["local"]
    times = next(s for s in data["steps"] if s["nodeName"] == "x * (-2)")
    assert times["local"] == "-2" and times["product"] == "1 * (-2) = -2"
    assert times["sum"] == "0 + (-2) = -2"


def test_the_legend_is_the_drawers_and_the_pages_marks():
    from engine.teach.draw import draw_graph

    if not HAS_DOT:
        pytest.skip("needs Graphviz's dot to draw the graph")
    e = example()
    page = render_page(e)
    legend = re.search(r'<div id="legend">(.*?)</ul></div>', page, re.S).group(1)
    drawn = draw_graph(e.root, local_grads=True)
    assert legend.startswith('<div class="chainrule-legend"')
    for entry in drawn.legend():  # the roles and marks of the drawing, as the drawer says
        if not entry.name.startswith("grad"):  # (the page's own drawing has other grads)
            assert html.escape(entry.meaning) in legend
    assert "red positive, blue negative" in legend
    assert "the node computed now (forward)" in legend
    assert render_page(e, graph=False).count('id="legend"') == 0


def test_without_latex2mathml_the_formulas_are_shown_as_escaped_latex(monkeypatch):
    import sys

    from engine.teach import mathml as mathml_module

    monkeypatch.setitem(sys.modules, "latex2mathml", None)  # import now raises ImportError
    monkeypatch.setitem(sys.modules, "latex2mathml.converter", None)
    mathml_module.mathml.cache_clear()
    try:
        assert not mathml_module.available()
        page = render_page(example(), graph=False)
    finally:
        mathml_module.mathml.cache_clear()  # later tests convert again
    maths = re.search(r'<div id="maths" hidden>(.*?)</div>\s*<script', page, re.S).group(1)
    assert "<math" not in maths and '<code class="latex">' in maths
    assert "\\frac{\\partial c}" in maths and "<script" not in maths and "<b>" not in maths
    assert 'id="math-hint"' in page and "pip install latex2mathml" in page
    monkeypatch.undo()
    if mathml_module.available():
        assert 'id="math-hint"' not in render_page(example(), graph=False)

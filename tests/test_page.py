"""The step-through page: self-contained, escaped, and still useful without Graphviz."""

import html
import importlib.util
import json
import re
import shutil

import pytest

from engine import Value, explain
from engine.page import INSTALL_GRAPHVIZ, render_page
from engine.table import number

HAS_DRAW = importlib.util.find_spec("engine.draw") is not None
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
    data = payload(page)
    assert len(data["steps"]) == len(e) == 5
    for step, s in zip(data["steps"], e):
        assert (step["nodeName"], step["inputName"]) == (s.node_name, s.input_name)
        assert step["grad"] == number(s.grad) and step["upstream"] == number(s.upstream)
    assert data["seed"] == "1" and data["nodes"][0]["id"] == data["root"]


def test_no_network_and_no_external_files():
    page = render_page(example(), graph=HAS_DRAW)
    for pattern in (r"<script[^>]*\bsrc=", r"<link\b", r"<img\b", r"<iframe\b", r"url\(",
                    r"@import", r"\bhref=\"(?!#)", r"fetch\(", r"XMLHttpRequest"):
        assert not re.search(pattern, page), pattern


def test_labels_cannot_break_out_of_the_page():
    page = render_page(example(), graph=HAS_DRAW)
    assert "<script>alert(1)" not in page
    assert "<b>pwn" not in page
    assert page.count("<script") == 2  # the data block and the stepper
    assert page.count("</script>") == 2
    assert EVIL in [step["inputName"] for step in payload(page)["steps"]]  # kept, as data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the static table


def test_without_dot_the_page_says_how_to_install_graphviz(monkeypatch):
    if not HAS_DRAW:
        pytest.skip("engine.draw is not on this branch yet")
    monkeypatch.setenv("PATH", "")
    page = render_page(example())
    assert "<svg" not in page
    assert html.escape(INSTALL_GRAPHVIZ) in page
    assert len(payload(page)["steps"]) == 5


def test_fifty_steps_make_a_small_page():
    x = Value(0.3, label="x")
    w = Value(-0.7, label="w")
    y = x
    for _ in range(12):  # 4 edges per round: mul (2) and add (2) -> about 50 steps
        y = (y * w + x).tanh()
    e = explain(y)
    assert 45 <= len(e) <= 70
    page = render_page(e, graph=HAS_DRAW and HAS_DOT)
    assert len(page.encode()) < 200_000, len(page.encode())
    if HAS_DRAW and HAS_DOT:
        assert page.count("<svg") == 1  # one drawing, highlighted per step by the script


class _PlainGraph:
    """A drawer's Graph as the contract promises it: DOT, SVG, node_id, no edge_id."""

    def __init__(self, root):
        from engine.backward import backward_order

        order = backward_order(root)
        self.ids = {n: f"v{k}" for k, n in enumerate(order)}
        lines = ["digraph G {", "rankdir=LR;"]
        for n in reversed(order):
            lines.append(f'{self.ids[n]} [shape=box, label="grad ?"];')
            if n.op:
                lines.append(f'{self.ids[n]}_op [label="{n.rule.symbol}"];')
                lines += [f"{self.ids[x]} -> {self.ids[n]}_op;" for x in n.inputs]
                lines.append(f"{self.ids[n]}_op -> {self.ids[n]};")
        self.source = "\n".join(lines + ["}"])

    def node_id(self, value):
        return self.ids[value]

    def svg(self):
        import subprocess

        return subprocess.run(["dot", "-Tsvg"], input=self.source, capture_output=True,
                              text=True, check=True).stdout


def test_without_edge_ids_the_edges_are_found_by_their_end_points(monkeypatch):
    import sys
    import types

    if not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed (CI installs it)")
    fake = types.ModuleType("engine.draw")
    fake.draw_graph = lambda root, **options: _PlainGraph(root)
    monkeypatch.setitem(sys.modules, "engine.draw", fake)
    a = Value(3.0, label="a")
    sq = a * a
    out = sq.tanh()
    e = explain(out)
    page = render_page(e)
    data = payload(page)
    titles = dict(re.findall(r'<g id="([^"]+)" class="edge">\s*<title>(.*?)</title>', page))
    g = _PlainGraph(out)
    a_id, sq_id, out_id = g.node_id(a), g.node_id(sq), g.node_id(out)
    expected = [  # (edges by their titles) for: out <- sq, sq <- a (first), sq <- a (second)
        [f"{sq_id}&#45;&gt;{out_id}_op", f"{out_id}_op&#45;&gt;{out_id}"],
        [f"{a_id}&#45;&gt;{sq_id}_op", f"{sq_id}_op&#45;&gt;{sq_id}"],
        [f"{a_id}&#45;&gt;{sq_id}_op", f"{sq_id}_op&#45;&gt;{sq_id}"],
    ]
    assert [[titles[i] for i in step["edges"]] for step in data["steps"]] == expected
    first, second = data["steps"][1]["edges"][0], data["steps"][2]["edges"][0]
    assert first != second  # a * a: each step lights its own edge
    assert [step["ops"] for step in data["steps"]] == [[f"{out_id}_op"], [f"{sq_id}_op"],
                                                      [f"{sq_id}_op"]]

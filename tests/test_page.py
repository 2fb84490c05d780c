"""The step-through page: self-contained, escaped, and still useful without Graphviz."""

import html
import json
import re
import shutil

from engine import Value, explain
from engine.teach.notation import number
from engine.teach.page import INSTALL_GRAPHVIZ, render_page

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
    page = render_page(example(), graph=True)
    for pattern in (r"<script[^>]*\bsrc=", r"<link\b", r"<img\b", r"<iframe\b", r"url\(",
                    r"@import", r"\bhref=\"(?!#)", r"fetch\(", r"XMLHttpRequest"):
        assert not re.search(pattern, page), pattern


def test_labels_cannot_break_out_of_the_page():
    page = render_page(example(), graph=True)
    assert "<script>alert(1)" not in page
    assert "<b>pwn" not in page
    assert page.count("<script") == 2  # the data block and the stepper
    assert page.count("</script>") == 2
    assert EVIL in [step["inputName"] for step in payload(page)["steps"]]  # kept, as data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the static table


def test_without_dot_the_page_says_how_to_install_graphviz(monkeypatch):
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
    page = render_page(e, graph=HAS_DOT)
    assert len(page.encode()) < 200_000, len(page.encode())
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
    assert "<svg" not in page
    assert "too big to lay out: 602 drawn nodes" in page and "collapse=True" in page
    assert len(payload(page)["steps"]) == 50 * 9  # per stage: 2 + 2 + 1 + 2 + 2 edges


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

"""The step-through page in a real browser: headless Chromium, driven like a student would.

Skipped (with the reason printed) where the Debian package ``chromium`` is
absent; CI installs it. Never downloads a browser. Leaves a screenshot in
tests/artifacts/ to look at.
"""

import shutil
from pathlib import Path

import pytest
from browser import Browser, find_chromium

from engine import Value, explain
from engine.teach.notation import number

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
GRAPH_EXPECTED = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        pytest.skip("headless Chromium not found: browser test skipped "
                    "(install the Debian package chromium; CI does)")
    return path


def example():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    return explain(c)


TARGET = "Array.from(document.querySelectorAll('#graph g.node.cr-target title'))" \
         ".map(t => t.textContent.trim())"
CHANGED = "Array.from(document.querySelectorAll('#grads tr.changed td'))" \
          ".map(td => td.textContent)"
STEP = "document.body.dataset.step"


def grad_row(name: str) -> str:
    return ("Array.from(document.querySelectorAll('#grads tbody tr'))"
            f".filter(tr => tr.firstChild.textContent === {name!r})"
            ".map(tr => tr.lastChild.textContent)[0]")


def test_next_and_arrow_keys_step_through_the_backward_pass(chromium, tmp_path):
    e = example()
    page = e.to_html(tmp_path / "steps.html")
    ids = None
    if GRAPH_EXPECTED:
        from engine.teach.draw import draw_graph
        drawn = draw_graph(e.root)
        ids = {node: drawn.node_id(node) for node in e.order}

    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for("window.chainrule && document.readyState === 'complete'")
        assert browser.evaluate("!!document.querySelector('#graph svg')") == bool(GRAPH_EXPECTED)
        assert browser.evaluate(STEP) == "0"
        assert browser.evaluate("document.getElementById('counter').textContent") == \
            f"Step 0 of {len(e)}"
        assert browser.evaluate(grad_row("c")) == "1"  # only the seed is known
        assert browser.evaluate(grad_row("a")) == ""
        assert browser.evaluate("document.getElementById('prev').disabled") is True

        def check(k: int) -> None:
            step = e[k - 1]
            assert browser.evaluate(STEP) == str(k)
            assert browser.evaluate("document.getElementById('counter').textContent") == \
                f"Step {k} of {len(e)}"
            changed = browser.evaluate(CHANGED)
            assert changed[0] == step.input_name
            assert changed[2].split(" ")[0] == number(step.grad)  # "... (so far)" if not final
            assert browser.evaluate("document.querySelector('tr.current td').textContent") == \
                str(k)
            assert step.sentence() in browser.evaluate(
                "document.getElementById('sentence').textContent")
            if ids:
                assert browser.evaluate(TARGET) == [ids[step.input]]
                badge = ("Array.from(document.querySelectorAll('#graph g.node'))"
                         f".filter(g => g.querySelector('title').textContent.trim() === "
                         f"{ids[step.input]!r})[0].querySelector('text.cr-grad').textContent")
                assert browser.evaluate(badge) == f"grad {number(step.grad, 4)}"
                assert browser.evaluate(
                    "document.querySelectorAll('#graph g.edge.cr-current').length") >= 1

        browser.click("#next")
        check(1)
        browser.press("ArrowRight", 39)
        browser.press("ArrowRight", 39)
        check(3)
        assert e[2].input is not e[0].input  # so the highlight really moved
        ARTIFACTS.mkdir(exist_ok=True)
        shot = browser.screenshot(ARTIFACTS / "page_step_3.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        browser.press("ArrowLeft", 37)
        check(2)
        browser.press("End", 35)
        assert browser.evaluate(STEP) == str(len(e))
        assert browser.evaluate("document.getElementById('next').disabled") is True
        # at the end every gradient is final: the table shows backward()'s numbers
        a = next(n for n in e.order if n.label == "a")
        assert browser.evaluate(grad_row("a")) == number(a.grad)


def test_a_url_fragment_opens_a_given_step(chromium, tmp_path):
    e = example()
    page = e.to_html(tmp_path / "steps.html", title="<i>not html</i>")
    with Browser(chromium, page.resolve().as_uri() + "#step=4") as browser:
        browser.wait_for("window.chainrule && document.readyState === 'complete'")
        assert browser.evaluate(STEP) == "4"
        assert browser.evaluate("document.title") == "<i>not html</i>"
        assert browser.evaluate("document.querySelector('h1 i')") is None


def chain(length: int):
    """x -> tanh -> tanh -> ...: a drawing about 350 px wider per link."""
    x = Value(0.5, label="x")
    out = x
    for _ in range(length):
        out = out.tanh()
    out.label = "out"
    return explain(out)


@pytest.mark.parametrize("length, fitted", [(1, False), (3, True), (20, False)])
def test_a_drawing_a_little_too_wide_starts_fitted(chromium, tmp_path, length, fitted):
    """Small drawings show at full size; a little too wide: shrunk to fit; huge: full size
    (and scrolled to the current step), since shrinking would make it unreadable."""
    if not GRAPH_EXPECTED:
        pytest.skip("needs Graphviz's dot to draw the graph")
    page = chain(length).to_html(tmp_path / "steps.html")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for("window.chainrule && document.readyState === 'complete'")
        box = browser.evaluate("document.getElementById('graph').clientWidth")
        wide = browser.evaluate("document.querySelector('#graph svg').getBoundingClientRect()"
                                ".width")
        fit = browser.evaluate("document.getElementById('graph').classList.contains('fit')")
        assert fit is fitted, (box, wide)
        label = browser.evaluate("document.getElementById('fit').textContent")
        assert label == ("Full size" if fitted else "Fit graph")
        if fitted:
            assert wide <= box

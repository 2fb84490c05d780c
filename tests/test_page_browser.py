"""The step-through page in a real browser: headless Chromium, driven like a student would.

Skipped (with the reason printed) where the Debian package ``chromium`` is
absent; CI installs it. Never downloads a browser. Leaves screenshots in
tests/artifacts/ to look at. The window is 1400 x 1000 CSS px (``browser.FLAGS``).
"""

import shutil
import time
from pathlib import Path

import pytest
from browser import Browser

from engine import Value, explain
from engine.teach import draw as draw_module
from engine.teach.forward import forward_steps
from engine.teach.notation import number
from engine.teach.page import chain_lines

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
GRAPH_EXPECTED = shutil.which("dot") is not None
READY = "window.chainrule && window.chainrule.ready && document.readyState === 'complete'"


def needs_dot():
    if not GRAPH_EXPECTED:
        pytest.skip("needs Graphviz's dot to draw the graph")


def example():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    return explain(c)


def shot(browser: Browser, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = browser.screenshot(ARTIFACTS / name)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


TARGET = "Array.from(document.querySelectorAll('#graph g.node.cr-target title'))" \
         ".map(t => t.textContent.trim())"
CHANGED = "Array.from(document.querySelectorAll('#grads tr.changed td'))" \
          ".map(td => td.textContent)"
STEP = "document.body.dataset.step"
PHASE = "document.body.dataset.phase"
COUNTER = "document.getElementById('counter').textContent"
VIEWBOX = "document.querySelector('#graph svg').getAttribute('viewBox')"
# the smallest text of the drawing as shown, in CSS px (its font size times the zoom)
SMALLEST_TEXT = (
    "Math.min.apply(null, Array.from(document.querySelectorAll('#graph svg text'))"
    ".filter(t => t.textContent.trim())"
    ".map(t => t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize)))")


def grad_row(name: str) -> str:
    return ("Array.from(document.querySelectorAll('#grads tbody tr'))"
            f".filter(tr => tr.firstChild.textContent === {name!r})"
            ".map(tr => tr.lastChild.textContent)[0]")


def data_row(name: str) -> str:
    return ("Array.from(document.querySelectorAll('#grads tbody tr'))"
            f".filter(tr => tr.firstChild.textContent === {name!r})"
            ".map(tr => tr.children[1].textContent)[0]")


def test_the_forward_pass_then_the_backward_pass(chromium, tmp_path):
    e = example()
    fsteps = forward_steps(e.root, e.notation)
    page = e.to_html(tmp_path / "steps.html")
    ids = None
    if GRAPH_EXPECTED:
        from engine.teach.draw import draw_graph
        drawn = draw_graph(e.root)
        ids = {node: drawn.node_id(node) for node in e.order}

    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for(READY)
        assert browser.evaluate("!!document.querySelector('#graph svg')") == bool(GRAPH_EXPECTED)
        # the start: only the inputs are known
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("forward", "0")
        assert browser.evaluate(COUNTER) == f"Forward step 0 of {len(fsteps)}"
        assert browser.evaluate(data_row("a")) == "2"
        assert browser.evaluate(data_row("c")) == ""
        assert browser.evaluate(grad_row("c")) == ""
        assert browser.evaluate("document.getElementById('prev').disabled") is True
        if ids:
            pending = ("Array.from(document.querySelectorAll('#graph g.node.cr-pending title'))"
                       ".map(t => t.textContent.trim()).sort()")
            # the nodes still to compute, and their ops, are drawn faded
            assert browser.evaluate(pending) == sorted(
                [ids[f.node] for f in fsteps] + [drawn.op_id(f.node) for f in fsteps])

        # forward: each node lights up and shows its value, in order
        for k, f in enumerate(fsteps, start=1):
            browser.click("#next")
            assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("forward", str(k))
            assert browser.evaluate(COUNTER) == f"Forward step {k} of {len(fsteps)}"
            assert f.text() in browser.evaluate("document.getElementById('sentence').textContent")
            assert browser.evaluate(data_row(f.name)) == number(f.value)
            for later in fsteps[k:]:
                assert browser.evaluate(data_row(later.name)) == ""
            assert browser.evaluate("document.querySelector('table.forward tr.current td')"
                                    ".textContent") == str(k)
            if ids:
                assert browser.evaluate(TARGET) == [ids[f.node]]
                texts = ("Array.from(document.querySelectorAll('#graph g.node'))"
                         f".filter(g => g.querySelector('title').textContent.trim() === "
                         f"{ids[f.node]!r})[0].textContent")
                assert f"data {number(f.value)}" in browser.evaluate(texts)
                for later in fsteps[k:]:
                    later_text = texts.replace(repr(ids[f.node]), repr(ids[later.node]))
                    assert "data ?" in browser.evaluate(later_text)
            if k == 2:
                shot(browser, "page_forward_2.png")

        # then the backward pass, from the seed
        browser.click("#next")
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("backward", "0")
        assert browser.evaluate(grad_row("c")) == "1"  # only the seed is known
        assert browser.evaluate(grad_row("a")) == ""

        def check(k: int) -> None:
            step = e[k - 1]
            assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("backward", str(k))
            assert browser.evaluate(COUNTER) == f"Backward step {k} of {len(e)}"
            changed = browser.evaluate(CHANGED)
            assert changed[0] == step.input_name
            assert changed[2].split(" ")[0] == number(step.grad)  # "... (so far)" if not final
            assert browser.evaluate("document.querySelector('table.steps tr.current td')"
                                    ".textContent") == str(k)
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
        shot(browser, "page_step_3.png")
        browser.press("ArrowLeft", 37)
        check(2)
        browser.press("End", 35)
        assert browser.evaluate(STEP) == str(len(e))
        assert browser.evaluate("document.getElementById('next').disabled") is True
        # at the end every gradient is final: the table shows backward()'s numbers
        a = next(n for n in e.order if n.label == "a")
        assert browser.evaluate(grad_row("a")) == number(a.grad)
        browser.press("Home", 36)
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("forward", "0")
        browser.click("#to-backward")
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("backward", "0")


def test_a_url_fragment_opens_a_given_step(chromium, tmp_path):
    e = example()
    page = e.to_html(tmp_path / "steps.html", title="<i>not html</i>")
    with Browser(chromium, page.resolve().as_uri() + "#step=4") as browser:
        browser.wait_for(READY)
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("backward", "4")
        assert browser.evaluate("document.title") == "<i>not html</i>"
        assert browser.evaluate("document.querySelector('h1 i')") is None
    with Browser(chromium, page.resolve().as_uri() + "#forward=2") as browser:
        browser.wait_for(READY)
        assert (browser.evaluate(PHASE), browser.evaluate(STEP)) == ("forward", "2")


def test_each_step_is_typeset_as_mathml(chromium, tmp_path):
    pytest.importorskip("latex2mathml")
    e = example()
    page = e.to_html(tmp_path / "steps.html", graph=False)
    with Browser(chromium, page.resolve().as_uri() + "#step=4") as browser:
        browser.wait_for(READY)
        size = browser.evaluate(
            "(function () { var m = document.querySelector('#formula math');"
            " var r = m.getBoundingClientRect(); return [r.width, r.height]; })()")
        assert size[0] > 100 and size[1] > 0, size
        # really typeset: the fraction is stacked (taller than a line of its text)
        frac = browser.evaluate(
            "(function () { var f = document.querySelector('#formula mfrac');"
            " return [f.getBoundingClientRect().height,"
            " parseFloat(getComputedStyle(f).fontSize)]; })()")
        assert frac[0] > 1.6 * frac[1], frac
        # one line per "= ...", each inside the side panel
        fits = ("Array.from(document.querySelectorAll('#formula math')).every(m => "
                "m.getBoundingClientRect().right <= "
                "document.querySelector('aside').getBoundingClientRect().right + 0.5)")
        assert browser.evaluate(fits) is True
        browser.press("ArrowLeft", 37)
        assert browser.evaluate("document.querySelectorAll('#formula math').length") == \
            len(chain_lines(e[2]))
        assert browser.evaluate(fits) is True
        browser.press("Home", 36)
        browser.press("ArrowRight", 39)  # forward step 1: its line typeset
        assert browser.evaluate("document.getElementById('formula').textContent") == \
            "ab=2(−3)=−6"  # a b = 2 (-3), then = -6 on the next line
        shot(browser, "page_mathml.png")


def chain(length: int):
    """x -> tanh -> tanh -> ...: a drawing about 350 px wider per link."""
    x = Value(0.5, label="x")
    out = x
    for _ in range(length):
        out = out.tanh()
    out.label = "out"
    return explain(out)


def mlp_loss():
    import nn

    model = nn.MLP(2, [3, 1])
    x = [Value(0.5, label="x1"), Value(-1.0, label="x2")]
    out = model(x)
    out = out[0] if isinstance(out, list) else out
    loss = (out - 1.0) ** 2
    loss.label = "L"
    return explain(loss)


@pytest.mark.parametrize("make", [lambda: chain(1), lambda: chain(20), mlp_loss],
                         ids=["small", "long chain", "mlp"])
def test_text_is_never_smaller_than_11_px(chromium, tmp_path, make):
    """At a 1400 px wide window, fitted or zoomed out as far as it goes."""
    needs_dot()
    page = make().to_html(tmp_path / "steps.html")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for(READY)
        assert browser.evaluate("window.innerWidth") == 1400
        assert browser.evaluate(SMALLEST_TEXT) >= 10.95
        browser.click("#fit")
        assert browser.evaluate(SMALLEST_TEXT) >= 10.95
        for _ in range(8):
            browser.click("#zoom-out")
        assert browser.evaluate(SMALLEST_TEXT) >= 10.95
        box = browser.evaluate("(function(){var r=document.getElementById('graph')"
                               ".getBoundingClientRect();return [r.left+r.width/2,"
                               "r.top+r.height/2];})()")
        browser.wheel(box[0], box[1], 2000)  # far out with the wheel
        assert browser.evaluate(SMALLEST_TEXT) >= 10.95
        browser.evaluate("chainrule.show(3)")
        shot(browser, "page_zoomed_out.png")


def test_pan_zoom_and_fit(chromium, tmp_path):
    needs_dot()
    page = mlp_loss().to_html(tmp_path / "steps.html")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for(READY)
        home = browser.evaluate(VIEWBOX)
        box = browser.evaluate("(function(){var r=document.getElementById('graph')"
                               ".getBoundingClientRect();return [r.left+r.width/2,"
                               "r.top+r.height/2];})()")
        before = browser.evaluate(SMALLEST_TEXT)
        browser.wheel(box[0], box[1], -300)  # zoom in at the centre
        zoomed = browser.evaluate(VIEWBOX)
        assert zoomed != home
        assert float(zoomed.split()[2]) < float(home.split()[2])  # a narrower view
        assert browser.evaluate(SMALLEST_TEXT) > before
        browser.drag((box[0], box[1]), (box[0] + 120, box[1] + 40))
        panned = browser.evaluate(VIEWBOX)
        assert panned != zoomed
        assert float(panned.split()[0]) < float(zoomed.split()[0])  # dragged right: view left
        assert float(panned.split()[2]) == pytest.approx(float(zoomed.split()[2]))
        shot(browser, "page_zoomed_in.png")
        browser.click("#fit")
        assert browser.evaluate(VIEWBOX) == home
        browser.press("+", 187)
        assert browser.evaluate(VIEWBOX) != home
        browser.press("0", 48)
        assert browser.evaluate(VIEWBOX) == home


def no_dot(monkeypatch):
    """Make the drawer find no ``dot``, as on a machine without Graphviz."""
    which = draw_module.shutil.which

    def no_dot_which(name, *args, **kwargs):  # other programs (chromium) are still found
        return None if name == "dot" else which(name, *args, **kwargs)

    monkeypatch.setattr(draw_module.shutil, "which", no_dot_which)


def test_without_dot_the_browser_draws_the_graph_with_no_network(chromium, tmp_path,
                                                                   monkeypatch):
    e = example()
    drawn = draw_module.draw_graph(e.root)
    ids = {node: drawn.node_id(node) for node in e.order}
    no_dot(monkeypatch)
    page = e.to_html(tmp_path / "steps.html")
    assert "<svg" not in page.read_text(encoding="utf-8").split("<script")[0]  # not drawn here
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.watch_network()
        browser.wait_for(READY)
        titles = browser.evaluate("Array.from(document.querySelectorAll('#graph svg g.node "
                                  "title')).map(t => t.textContent.trim()).sort()")
        assert set(ids.values()) <= set(titles)
        assert browser.evaluate("document.getElementById('graph').classList.contains('pending')"
                                ) is False
        browser.evaluate("chainrule.show(3)")
        assert browser.evaluate(TARGET) == [ids[e[2].input]]
        assert browser.evaluate(
            "document.querySelectorAll('#graph g.edge.cr-current').length") >= 1
        browser.evaluate("chainrule.forward(1)")
        assert browser.evaluate(TARGET) == [ids[forward_steps(e.root, e.notation)[0].node]]
        home = browser.evaluate(VIEWBOX)
        browser.click("#zoom-in")
        assert browser.evaluate(VIEWBOX) != home
        browser.click("#fit")
        assert browser.evaluate(VIEWBOX) == home
        assert browser.evaluate(SMALLEST_TEXT) >= 10.95
        shot(browser, "page_without_dot.png")
        # the page itself and nothing else: no request leaves the file
        asked = [u for u in browser.requests() if not u.startswith("data:")]
        assert asked == [page.resolve().as_uri()], asked


def test_the_stepper_without_ipywidgets_shows_the_page_in_an_iframe(chromium, tmp_path,
                                                                     monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import now raises ImportError
    shown = example().stepper()
    assert "pip install ipywidgets" in capsys.readouterr().out
    notebook = tmp_path / "output.html"
    notebook.write_text(f"<!DOCTYPE html><html><body>{shown._repr_html_()}</body></html>",
                        encoding="utf-8")
    with Browser(chromium, notebook.resolve().as_uri()) as browser:
        browser.wait_for("document.querySelector('iframe') && document.readyState === "
                         "'complete'")
        for _ in range(100):
            try:
                if browser.evaluate_in_frame(READY):
                    break
            except RuntimeError:  # the frame is not there yet
                pass
            time.sleep(0.1)
        assert browser.evaluate_in_frame("document.body.dataset.phase") == "forward"
        assert browser.evaluate_in_frame("chainrule.show(2), document.body.dataset.step") == "2"
        assert browser.evaluate_in_frame(COUNTER) == "Backward step 2 of 5"
        shot(browser, "stepper_fallback.png")


def test_a_collapsed_network_shows_each_neurons_data_and_delta_when_known(chromium,
                                                                          tmp_path):
    """One drawn node per neuron: its data appears when its output is computed, its
    delta (dL/dz) when that gradient is final; the tables still list every Value."""
    needs_dot()
    e = mlp_loss()
    page = e.to_html(tmp_path / "steps.html", collapse=True)
    drawn = draw_module.draw_graph(e.root, collapse=True)
    neuron_ids = sorted({drawn.node_id(n) for n in e.order} - {drawn.node_id(e.root)})
    texts = ("(function (id) { var g = Array.from(document.querySelectorAll('#graph g.node'))"
             ".filter(g => g.querySelector('title').textContent.trim() === id)[0];"
             " return Array.from(g.querySelectorAll('text')).map(t => t.textContent.trim()); })")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for(READY)
        assert browser.evaluate("document.querySelectorAll('#grads tbody tr').length") == \
            len(e.order)
        deltas = [t for i in neuron_ids for t in browser.evaluate(f"{texts}({i!r})")
                  if t.startswith("δ")]
        assert deltas and all(t == "δ ?" for t in deltas)  # nothing known in the forward pass
        browser.press("End", 35)
        final = {t for i in neuron_ids for t in browser.evaluate(f"{texts}({i!r})")
                 if t.startswith("δ")}
        assert "δ ?" not in final
        z_grads = {f"δ {number(n.grad)}" for n in e.order if n.label and n.label.startswith("z")}
        assert final <= z_grads, (final, z_grads)
        shot(browser, "page_collapsed.png")


def test_if_the_browser_cannot_lay_the_graph_out_the_page_says_so(chromium, tmp_path,
                                                                  monkeypatch):
    e = example()
    no_dot(monkeypatch)
    page = e.to_html(tmp_path / "steps.html")
    text = page.read_text(encoding="utf-8")
    start = text.index('"dot": "digraph')
    broken = text[:start] + '"dot": "digraph { <broken",' + \
        text[text.index('"minTextPx"', start):]  # DOT that Graphviz rejects
    page.write_text(broken, encoding="utf-8")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for(READY)
        note = browser.evaluate("document.getElementById('graph-note').textContent")
        assert note.startswith("The browser could not draw the graph")
        assert "install Graphviz" in note or "Install it" in note
        assert browser.evaluate("document.getElementById('view-controls').hidden") is True
        browser.press("End", 35)  # the tables still step
        assert browser.evaluate(PHASE) == "backward"

"""The notebook stepper: the slider with ipywidgets, the page in an iframe without."""

import html
import re
import sys

import pytest

from engine import Value, explain
from engine.teach.draw import dot_available
from engine.teach.forward import forward_steps
from engine.teach.page import render_page
from engine.teach.stepper import BACKWARD, FORWARD, NO_IPYWIDGETS, PageOutput


def example(label: str = "a"):
    a, b = Value(2.0, label=label), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    return explain(c)


def test_the_slider_steps_through_the_backward_pass_by_default():
    pytest.importorskip("ipywidgets")
    e = example()
    box = e.stepper()
    assert box.phase.value == BACKWARD
    assert (box.slider.min, box.slider.max, box.slider.value) == (0, len(e), 0)
    assert box.text.value == "<pre>Start: grad(c) = 1 (d c / d itself)</pre>"
    box.slider.value = 4
    assert box.text.value.startswith("<pre>Step 4 of 5: grad(a) += ")


def test_the_forward_pass_first_then_the_backward_pass():
    pytest.importorskip("ipywidgets")
    e = example("<a>")
    steps = forward_steps(e.root, e.notation)
    box = e.stepper(forward=True)
    assert box.phase.value == FORWARD
    assert (box.slider.max, box.slider.value) == (len(steps), 0)
    assert box.text.value == "<pre>Forward pass: the inputs are &lt;a&gt; = 2, b = -3</pre>"
    box.slider.value = 1
    assert box.text.value == ("<pre>Forward step 1 of 3: compute (&lt;a&gt;) * b = 2 * (-3) "
                              "= -6</pre>")
    box.slider.value = 3
    assert box.text.value == f"<pre>Forward step 3 of 3: {html.escape(steps[2].sentence())}</pre>"
    assert steps[2].text().endswith(" = -6 + 0.964 = -5.036")
    assert "<a>" not in box.text.value + box.picture.value
    if dot_available():
        assert box.picture.value.startswith("<svg")
    else:
        assert "digraph" in box.picture.value
    box.phase.value = BACKWARD  # the slider starts again, over the backward steps
    assert (box.slider.max, box.slider.value) == (len(e), 0)
    assert box.text.value.startswith("<pre>Start: grad(c) = 1")
    box.phase.value = FORWARD
    assert (box.slider.max, box.slider.value) == (len(steps), 0)


def test_the_forward_pass_fades_the_nodes_not_computed_yet(monkeypatch):
    pytest.importorskip("ipywidgets")
    from engine.teach import draw

    calls = []
    real = draw.draw_graph

    def spy(root, **options):
        calls.append(options)
        return real(root, **options)

    monkeypatch.setattr(draw, "draw_graph", spy)
    e = example()
    steps = forward_steps(e.root, e.notation)
    box = e.stepper(forward=True)
    box.slider.value = 1
    known = calls[-1]["done"]
    assert steps[0].node in known and steps[1].node not in known and e.root not in known
    assert calls[-1]["grads"] == {}  # no gradient is known in the forward pass


def test_without_ipywidgets_it_shows_the_page_and_says_how_to_get_the_slider(monkeypatch,
                                                                               capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import now raises ImportError
    e = example("<a>")
    shown = e.stepper()
    assert isinstance(shown, PageOutput)
    assert capsys.readouterr().out.strip() == NO_IPYWIDGETS
    assert "pip install ipywidgets" in NO_IPYWIDGETS
    frame = shown._repr_html_()
    assert frame.startswith('<iframe class="chainrule-page"') and frame.endswith("</iframe>")
    assert 'sandbox="allow-scripts"' in frame
    srcdoc = re.fullmatch(r'.*srcdoc="([^"]*)"></iframe>', frame, re.S).group(1)
    assert "<" not in srcdoc and '"' not in srcdoc  # all of the page escaped into the attribute
    assert html.unescape(srcdoc) == shown.page == render_page(e, forward=True)
    assert "PageOutput(a step-through page of" in repr(shown)


def test_forward_must_be_a_bool():
    with pytest.raises(TypeError, match="forward must be True or False"):
        example().stepper(forward=1)

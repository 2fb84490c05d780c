"""mathml: LaTeX to MathML for the page, sanitised, with a few spacing fixes."""

import re

import pytest

from engine import Value, explain
from engine.teach.mathml import ALLOWED_ELEMENTS, mathml, sanitise
from engine.teach.notation import latex_label

pytest.importorskip("latex2mathml")

TAG = re.compile(r"</?([A-Za-z][\w:.-]*)")


@pytest.mark.parametrize("label", [
    "</script><script>alert(1)</script>", '<img src=x onerror="alert(1)">', "a&b", "<mi>",
    '"]; x [label=<<b>pwn</b>>', "}\\text{<b>}",
])
def test_no_label_becomes_markup(label):
    out = mathml(latex_label(label) + " = 1")
    assert {name.lower() for name in TAG.findall(out)} <= ALLOWED_ELEMENTS, out
    assert "<script" not in out and "<img" not in out and "<b>" not in out


def test_sanitise_keeps_known_elements_and_attributes_only():
    assert sanitise('<math display="block"><mi>x</mi></math>') == \
        '<math display="block"><mi>x</mi></math>'
    out = sanitise('<mi onclick="alert(1)">x</mi><mi href="javascript:x">y</mi>')
    assert "<mi" not in out and "</mi>" not in out  # both, with their closing tags
    assert sanitise("<mrow><mi>x</mi>") == "<mrow><mi>x</mi></mrow>"  # never left open
    assert sanitise("a < b & c &#x2212; d") == "a &lt; b &amp; c &#x2212; d"
    with pytest.raises(TypeError, match="sanitise"):
        sanitise(None)


def test_signs_operators_and_indices_read_as_written():
    out = mathml(r"1 \cdot \left(-3\right) = -3")
    assert out.count('<mo form="prefix">&#x02212;</mo>') == 2  # both are signs
    assert "<mo>+=</mo>" in mathml(r"\frac{\partial c}{\partial a} \mathrel{+}= 1")
    assert "<mn>2.9.15</mn>" in mathml(latex_label("w2.9.15"))
    assert '<mi>tanh</mi><mspace width="0.167em" /><mn>2</mn>' in mathml(r"\tanh 2")


def test_every_chain_rule_of_an_explanation_converts():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = (a * b + a.tanh()) / -2.0
    c.label = "c"
    for step in explain(c):
        assert mathml(step.chain_latex()).startswith("<math"), step.chain_latex()


def test_not_a_str_is_refused():
    with pytest.raises(TypeError, match="mathml\\(\\) takes LaTeX as a str"):
        mathml(3)

"""explain(): the narrated backward pass must be backward(), number for number, bit for bit."""

import math
import re
import struct

import pytest
from hypothesis import given, settings
from oracles import central_difference, torch_grads
from test_properties import evaluate, programs

from engine import Explanation, Step, Value, explain
from engine.backward import backward_order
from engine.teach.draw import dot_available
from engine.teach.draw import inline_svg as _inline
from engine.teach.notation import visible


def bits(x: float) -> bytes:
    """The float's 8 bytes: equal bits, so -0.0 != 0.0 and nan == nan (same payload)."""
    return struct.pack("<d", x)


def build(program):
    leaves_data, steps = program
    leaves = [Value(x) for x in leaves_data]
    return leaves, evaluate(steps, leaves)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_every_number_is_what_backward_computes(program):
    # the same graph built twice: one gets backward(), the other explain()
    leaves_b, root_b = build(program)
    leaves_e, root_e = build(program)
    root_b.backward()
    explanation = explain(root_e, constants=True)  # every step shown
    order_b, order_e = backward_order(root_b), backward_order(root_e)
    twin = dict(zip(order_e, order_b))
    assert len(order_b) == len(order_e)

    # final gradients of every node, bit for bit
    for node_e, node_b in twin.items():
        assert bits(node_e.grad) == bits(node_b.grad)
    final = explanation.grads_at()
    assert set(final) == set(order_e)
    for node_e, g in final.items():
        assert bits(g) == bits(twin[node_e].grad)

    # the steps are backward()'s edges, in backward()'s order, replayed with its arithmetic
    edges = [(n, i) for n in order_e for i in range(len(n.inputs))]
    assert [(s.node, s.position) for s in explanation] == edges
    replay = {n: 0.0 for n in order_b}
    replay[root_b] = 1.0
    for k, step in enumerate(explanation, start=1):
        node_b = twin[step.node]
        input_b = node_b.inputs[step.position]
        assert step.number == k
        assert step.input is step.node.inputs[step.position]
        assert twin[step.input] is input_b
        assert bits(step.upstream) == bits(node_b.grad)  # final when the step runs
        assert bits(step.local) == bits(node_b.local_grads[step.position])
        expected = node_b.local_grads[step.position] * node_b.grad
        assert bits(step.contribution) == bits(expected)
        assert bits(step.grad_before) == bits(replay[input_b])
        replay[input_b] += expected
        assert bits(step.grad) == bits(replay[input_b])
        assert step.formula == step.node.rule.derivatives[step.position]
        assert step.latex == step.node.rule.derivatives_latex[step.position]
        assert step.local_formula == explanation.notation.local_formula(step.node, step.position)


def test_leaves_accumulate_like_backward():
    def graph():
        a = Value(1.5, label="a")
        return a, (a * a).tanh() + a

    a1, r1 = graph()
    a2, r2 = graph()
    r1.backward()
    r1.backward()
    r2.backward()
    explanation = explain(r2)
    assert bits(a1.grad) == bits(a2.grad)
    assert explanation[-1].grad_before != 0.0
    assert "already had grad" in str(explanation)


def test_explained_gradients_match_pytorch_and_central_differences():
    def f(a, b):
        return a * b + a.tanh()

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    explain(f(a, b))
    _, t_grads = torch_grads(f, [2.0, -3.0])
    assert [a.grad, b.grad] == pytest.approx(t_grads, rel=1e-12)
    numeric = central_difference(lambda v: f(Value(v[0]), Value(v[1])).data, [2.0, -3.0])
    assert [a.grad, b.grad] == pytest.approx(numeric, rel=1e-6)


def test_the_steps_of_a_small_example_worked_by_hand():
    # c = a * b + tanh(a) at a = 2, b = -3: dc/da = b + (1 - tanh(2)^2), dc/db = a
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    p = a * b
    t = a.tanh()
    c = p + t
    e = explain(c)
    assert len(e) == 5 and e.seed == 1.0
    by_edge = {(s.node, s.position): s for s in e}
    s = by_edge[(p, 0)]  # d(a*b)/da = b
    assert (s.input, s.upstream, s.formula, s.local, s.contribution) == (a, 1.0, "b", -3.0, -3.0)
    s = by_edge[(t, 0)]
    assert s.formula == "1 - tanh(x)^2" and s.local_formula == "1 - tanh(a)^2"
    assert s.local == pytest.approx(1 - math.tanh(2.0) ** 2, rel=1e-15)
    assert a.grad == pytest.approx(-3.0 + 1 - math.tanh(2.0) ** 2, rel=1e-15)
    assert b.grad == 2.0


def test_a_times_a_has_two_steps():
    a = Value(3.0, label="a")
    sq = a * a
    e = explain(sq)
    assert [(s.position, s.input, s.grad_before, s.grad) for s in e] == [
        (0, a, 0.0, 3.0), (1, a, 3.0, 6.0)
    ]


def test_a_leaf_root_has_no_steps():
    a = Value(1.0, label="a")
    e = explain(a)
    assert len(e) == 0 and a.grad == 1.0 and e.grads_at(0) == {a: 1.0}
    assert "no steps" in str(e)


def test_grads_at_and_done_at_follow_the_steps():
    x = Value(0.5, label="x")
    y = Value(-1.0, label="y")
    h = (x * y).sigmoid()
    out = h * x + h
    e = explain(out)
    assert e.grads_at(0) == {out: 1.0}
    assert e.done_at(0) == {out}
    for k in range(len(e) + 1):
        grads = e.grads_at(k)
        reached = {out} | {s.input for s in e[:k]}
        assert set(grads) == reached
        for node in reached:  # the latest gradient of each node so far
            last = [s.grad for s in e[:k] if s.input is node]
            assert grads[node] == (last[-1] if last else 1.0)
        # final = no later step adds to it
        later = {s.input for s in e[k:]}
        assert e.done_at(k) == reached - later
    assert e.done_at() == set(backward_order(out))


def test_bad_step_numbers_and_roots_are_refused():
    e = explain(Value(2.0) * 3, constants=True)
    with pytest.raises(ValueError, match="steps 1 to 2"):
        e.grads_at(3)
    with pytest.raises(ValueError, match="out of range"):
        e.done_at(-1)
    with pytest.raises(TypeError, match="int"):
        e.grads_at(1.5)
    with pytest.raises(TypeError, match="explain\\(\\) needs the Value"):
        explain(3.0)


def test_prints_as_a_table_and_displays_as_escaped_html():
    a = Value(2.0, label="<script>alert(1)</script>")
    b = Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    e = explain(c)
    text = str(e)
    lines = text.splitlines()
    assert lines[2].split() == ["step", "node", "input", "upstream", "local", "derivative",
                                "local", "contribution", "input", "grad"]
    assert lines[4].split() == ["1", "c", "<script>alert(1)</script>", "1", "b", "-3", "-3",
                                "-3"]
    page = e._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr>") == 3  # header + two steps
    assert repr(e) == "Explanation(root='c', 2 steps, 3 nodes)"
    assert isinstance(e, Explanation) and isinstance(e[0], Step)
    assert "Step(1: c -> <script>" in repr(e[0])

    class Printer:  # what IPython hands to _repr_pretty_
        def __init__(self):
            self.out = ""

        def text(self, s):
            self.out += s

    p = Printer()
    e._repr_pretty_(p, False)
    assert p.out == text


def test_long_explanations_are_shortened_in_notebooks_only():
    x = Value(0.1, label="x")
    y = x
    for _ in range(150):
        y = y * 0.99 + x
    e = explain(y, constants=True)
    assert len(e) == 600
    lines = str(e).splitlines()
    # title, blank, header, rule, 600 rows, then the definitions of the short names
    assert lines[4].split()[0] == "1" and lines[603].split()[0] == "600"
    assert lines[604] == "where" and all(line.startswith("  v") for line in lines[605:])
    assert "400 more steps" in e._repr_html_()
    assert "400 more steps" in e.text(max_rows=200)


def test_explains_a_deep_chain_without_recursion():
    x = Value(1.0, label="x")
    y = x
    for _ in range(20_000):
        y = y + 1.0
    e = explain(y)
    assert len(e) == 20_000 and e.hidden_constants == 20_000 and x.grad == 1.0


def test_graph_at_a_step_asks_the_drawer_for_that_state(monkeypatch):
    from engine.teach import draw

    calls = []
    monkeypatch.setattr(draw, "draw_graph", lambda root, **kw: calls.append((root, kw)) or "drawn")
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + a.tanh()
    e = explain(c)
    assert e.graph(step=3, rankdir="TB") == "drawn"
    root, kw = calls[-1]
    assert root is c and kw["rankdir"] == "TB"
    assert kw["current"] == (e[2].node, e[2].position)
    assert kw["grads"] == e.grads_at(3) and kw["done"] == e.done_at(3)
    e.graph(step=0)
    assert calls[-1][1]["current"] is None and calls[-1][1]["grads"] == {c: 1.0}
    e.graph()
    assert calls[-1][1]["current"] == (e[-1].node, e[-1].position)
    assert calls[-1][1]["done"] == set(backward_order(c))


def test_stepper_slider_shows_each_step_escaped():
    pytest.importorskip("ipywidgets")
    a, b = Value(2.0, label="<a>"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    e = explain(c)
    box = e.stepper()
    assert (box.slider.min, box.slider.max, box.slider.value) == (0, len(e), 0)
    assert box.text.value == "<pre>Start: grad(c) = 1 (d c / d itself)</pre>"
    box.slider.value = 3
    assert box.text.value.startswith("<pre>Step 3 of 5: grad(&lt;a&gt;) += ")
    assert "<a>" not in box.text.value + box.picture.value
    if dot_available():
        assert box.picture.value.startswith("<svg")
        assert box.picture.value == _inline(e.graph(step=3).svg())
    else:
        assert "install" in box.picture.value and "digraph" in box.picture.value


def test_stepper_without_dot_shows_the_hint_and_dot_text(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("PATH", "")
    a = Value(2.0, label="a")
    box = explain(a * a).stepper()
    box.slider.value = 1
    assert "install Graphviz" in box.picture.value and "digraph" in box.picture.value


def test_stepper_without_ipywidgets_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import now raises ImportError
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        explain(Value(1.0) * 2).stepper()


@pytest.mark.parametrize("build, name", [
    (lambda a, b, c, d: a * b + c * d, "a * b + c * d"),   # a neuron's weighted sum
    (lambda a, b, c, d: a - (b + c), "a - (b + c)"),
    (lambda a, b, c, d: (a + b) - c, "a + b - c"),
    (lambda a, b, c, d: (a + b) * c, "(a + b) * c"),
    (lambda a, b, c, d: a * b / c, "a * b / c"),
    (lambda a, b, c, d: a / (b * c), "a / (b * c)"),
    (lambda a, b, c, d: (a - b) - (c - d), "a - b - (c - d)"),
    (lambda a, b, c, d: (a + b) ** c, "(a + b)^c"),
    (lambda a, b, c, d: a ** 2 * -b, "a^2 * (-b)"),
    (lambda a, b, c, d: (a * b).tanh(), "tanh(a * b)"),  # never tanh((a * b))
    (lambda a, b, c, d: -(a + b), "-(a + b)"),
])
def test_names_have_only_the_parentheses_precedence_needs(build, name):
    leaves = [Value(float(k), label=n) for k, n in zip((1, 2, 3, 4), "abcd")]
    root = build(*leaves)
    assert explain(root).names[root] == name


def test_a_two_input_neuron_has_no_numbered_names():
    from nn import Neuron

    out = Neuron(2, seed=0)([0.5, -1.0])[0]
    names = explain(out).names
    assert not any(re.fullmatch(r"v\d+", name) for name in names.values()), names
    assert "w1.1.1 * x1 + w1.1.2 * x2" in names.values()


def test_sentence_reads_as_arithmetic():
    # Written by hand from the rules: c = a * b - tanh(a) at a = 2, b = -3.
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b - a.tanh()
    c.label = "c"
    sentences = [step.sentence() for step in explain(c)]
    # a constant local derivative is written once; a negative number as a factor
    # gets parentheses; a formula with operators is one parenthesised factor
    assert "d(c)/d(tanh(a)) = 1 * (-1) = -1;" in sentences[1]
    # 1 - tanh(2)^2 = 0.0706508..., written with the notation's 4 significant digits
    assert "= (-1) * (1 - tanh(a)^2) = (-1) * 0.07065 = -0.07065;" in sentences[2]
    assert sentences[3].endswith("= 1 * b = 1 * (-3) = -3; now grad(a) = -3.071")


def test_text_with_max_rows_says_what_it_left_out():
    a = Value(2.0, label="a")
    c = a * a + a.tanh()
    e = explain(c)
    text = e.text(max_rows=0)
    assert "(0 of 5 steps shown; print() shows them all)" in text
    assert "no steps" not in text and "more steps" not in text
    assert "... 3 more steps" in e.text(max_rows=2)
    assert "(no steps: the root is a leaf)" in explain(Value(1.0)).text(max_rows=0)
    with pytest.raises(TypeError, match="max_rows must be an int"):
        e.text(max_rows="3")
    with pytest.raises(ValueError, match="max_rows must be >= 0"):
        e.text(max_rows=-1)


@pytest.mark.parametrize("label", ["two\nlines", "\x1b[31mred\x1b[0m", "\ud800", "tab\there"])
def test_odd_labels_cannot_break_the_table(label):
    a = Value(2.0)
    a.label = label  # Value() may refuse it; .label can be set later
    b = Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    e = explain(c)
    text = str(e)
    text.encode("utf-8")  # nothing an encoder cannot write
    assert "\x1b" not in text and "\t" not in text
    lines = text.splitlines()
    assert len(lines) == 4 + 5  # title, blank, header, rule and one line per step
    assert len({len(line.rstrip()) for line in lines[2:4]}) == 1  # header and rule aligned
    assert visible(label) in text
    page = e._repr_html_()
    page.encode("utf-8")
    assert "\x1b" not in page
    assert all(visible(label) in s.sentence() or visible(label) not in s.input_name for s in e)


def test_to_html_checks_its_arguments(tmp_path):
    e = explain(Value(2.0, label="a") * 3)
    with pytest.raises(TypeError, match="title must be a str, got int 3"):
        e.to_html(tmp_path / "p.html", title=3)
    with pytest.raises(TypeError, match="graph must be True or False"):
        e.to_html(tmp_path / "p.html", graph="no")
    with pytest.raises(TypeError, match="path must be a str or pathlib.Path"):
        e.to_html(3)
    assert not (tmp_path / "p.html").exists()


def test_short_names_are_defined_below_the_table_and_in_sentences():
    x = Value(0.5, label="x")
    deep = x.tanh().sigmoid().exp().sin().cos()  # its name would be 31 characters
    y = deep * x
    y.label = "y"
    e = explain(y)
    name = e.names[deep]
    assert name == "v5"  # node 5 counting from x (v0)
    text = str(e)
    assert text.splitlines()[-2:] == ["where", "  v5 = cos(sin(exp(sigmoid(tanh(x)))))"]
    step = next(s for s in e if s.input is deep)
    assert step.sentence().endswith("(where v5 = cos(sin(exp(sigmoid(tanh(x))))))")
    assert "where v5 = cos(sin(exp(sigmoid(tanh(x)))))" in e._repr_html_()


def test_the_start_defines_a_short_root_name():
    x = Value(0.5, label="x")
    root = x.tanh().sigmoid().exp().sin() + x * 2.0  # no label, a long expression
    e = explain(root)
    assert e.names[root].startswith("v")
    assert e.start().startswith(f"Start: grad({e.names[root]}) = 1 (d {e.names[root]} / d itself) "
                                f"(where {e.names[root]} = {e.notation.expression(root)}).")
    assert e.start().endswith("1 step into a constant not shown (explain(root, constants=True) "
                              "shows it)")

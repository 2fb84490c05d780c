"""What explain shows a student: no steps into constants unless asked, only the paths
into chosen leaves, simplified derivatives that read to their numbers, and the chain
rule typeset (Step.chain_latex, Explanation.to_latex, the HTML table)."""

from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from test_formula import evaluate
from test_notation import build, programs_with_constants

from engine import Value, explain, formula
from engine.backward import backward_order
from engine.teach.notation import Notation, precision

# A minus sign on a zero: "-0" not followed by a digit or a decimal point, and not the
# subtraction "x - 0" (which has a space after the minus).
NEGATIVE_ZERO = re.compile(r"(?<![\w.)\]}])-0(?![\d.])")


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def reaches(node: Value, targets: set[Value]) -> bool:
    """Is some target ``node`` itself or in its graph? (a plain search, not the library's)"""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n in targets:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(n.inputs)
    return False


def is_constant(node: Value) -> bool:
    """An unlabelled leaf, or an unlabelled node made from constants only."""
    if node.label:
        return False
    return node.is_leaf() or all(is_constant(i) for i in node.inputs)


# --- the workshop network of the lecture notes (seed 001) ------------------------------

V_INIT = {1: [1.0, -1.0, 0.0], 2: [1.0, 0.0, 1.0]}  # bias v0j, then v1j, v2j
W_INIT = {1: [1.0, 1.0, 0.0], 2: [1.0, -1.0, 1.0]}


def workshop():
    """The 2-2-2 tanh network of the workshop with its slide weights, input [0 1] and
    target [1 0], as notebook 04 builds it with nn: (loss, net)."""
    from nn import MLP, mse_loss

    net = MLP(2, [2, 2], activation="tanh", output_activation="linear")
    for j in (1, 2):
        unit = net.layers[0].neurons[j - 1]
        unit.b.data, unit.w[0].data, unit.w[1].data = V_INIT[j]
    for k in (1, 2):
        unit = net.layers[1].neurons[k - 1]
        unit.b.data, unit.w[0].data, unit.w[1].data = W_INIT[k]
    return mse_loss(net([0.0, 1.0]), [1.0, 0.0]), net


def workshop_by_hand():
    """The same network written out with Values, as notebook 04's first cells do: the
    inputs and targets are numbers, the loss has the notes' 1/2."""
    x, y = [1.0, 0.0, 1.0], [1.0, 0.0]
    v = {(i, j): Value(V_INIT[j][i], label=f"v{i}{j}") for j in (1, 2) for i in range(3)}
    w = {(j, k): Value(W_INIT[k][j], label=f"w{j}{k}") for k in (1, 2) for j in range(3)}
    r = [None] + [x[0] * v[0, j] + x[1] * v[1, j] + x[2] * v[2, j] for j in (1, 2)]
    u = [1.0] + [r[j].tanh() for j in (1, 2)]
    s = [None] + [u[0] * w[0, k] + u[1] * w[1, k] + u[2] * w[2, k] for k in (1, 2)]
    loss = 0.5 * ((y[0] - s[1]) ** 2 + (y[1] - s[2]) ** 2)
    loss.label = "l"
    return loss, list(v.values()) + list(w.values())


def test_the_workshop_network_has_no_steps_into_the_half_or_the_targets():
    loss, net = workshop()
    twin, _ = workshop()
    twin.backward()
    everything = explain(workshop()[0], constants=True)
    e = explain(loss)
    assert len(everything) == 44  # issue 12's count: every edge of the graph
    # hidden: the mean's divisor 2 and the two targets 1 and 0, and the 4 steps into the
    # inputs x1, x2 (numbers the student typed, which the model made labelled leaves)
    assert len(e) == 37 and e.hidden_constants == 3 and e.hidden_data == 4
    assert not any(is_constant(s.input) for s in e)
    assert {s.input.label for s in e if s.input.is_leaf()} == {p.label for p in net.parameters()}
    assert {s.input.data for s in everything if is_constant(s.input)} == {2.0, 1.0, 0.0}
    # the gradients are backward()'s, to the bit
    mine = sorted(net.parameters(), key=lambda p: p.label)
    assert [p.label for p in mine] == [q.label for q in twin_parameters(twin)]
    for p, q in zip(mine, twin_parameters(twin)):
        assert bits(p.grad) == bits(q.grad)
    # only the paths into the 12 weights: the steps into the inputs x1, x2 go too
    loss2, net2 = workshop()
    weights = explain(loss2, only=net2.parameters())
    assert len(weights) == 37
    assert {s.input.label for s in weights if s.input.is_leaf()} == {
        p.label for p in net2.parameters()}
    assert ("3 steps into constants and 4 steps into the model's inputs not shown "
            "(explain(root, constants=True) shows them)") in str(e)
    assert "constants=True" in e.start()


def twin_parameters(loss: Value) -> list[Value]:
    """The leaves of ``loss``'s graph that are parameters (labelled w/b), in a fixed order."""
    found = [n for n in backward_order(loss) if n.is_leaf() and n.label[:1] in ("w", "b")]
    return sorted(found, key=lambda n: n.label)


def test_the_workshop_network_by_hand_hides_the_numbers_typed():
    loss, params = workshop_by_hand()
    e = explain(loss)
    full = explain(workshop_by_hand()[0], constants=True)
    assert len(full) == 52
    # the inputs x (1, 0, 1: 6 steps), the 1 of u0 (2), the targets (2) and the 1/2 (1)
    assert e.hidden_constants == 11 and len(e) == 41
    assert not any(is_constant(s.input) for s in e)
    assert {s.input for s in e if s.input.is_leaf()} == set(params)
    reference, ref_params = workshop_by_hand()
    reference.backward()
    assert [bits(p.grad) for p in params] == [bits(p.grad) for p in ref_params]


def test_a_big_mlp_keeps_its_gradients_and_hides_its_target():
    from nn import MLP, mse_loss

    def make():
        net = MLP(2, [16, 16, 1], seed=0)
        return mse_loss(net([0.5, -1.0]), [1.0]), net

    loss, net = make()
    ref, ref_net = make()
    ref.backward()
    e = explain(loss)
    assert len(explain(make()[0], constants=True)) == 1251
    # the target, and the 2 inputs x1, x2 into each of the 16 first-layer neurons
    assert len(e) == 1218 and e.hidden_constants == 1 and e.hidden_data == 32
    assert [bits(p.grad) for p in net.parameters()] == [bits(p.grad) for p in ref_net.parameters()]
    loss3, net3 = make()
    assert len(explain(loss3, only=net3.parameters())) == 1218


# --- constants hidden, shown, and never changing a gradient -----------------------------


@settings(max_examples=80, deadline=None)
@given(programs_with_constants())
def test_hidden_constants_change_no_gradient_and_hide_only_constant_steps(program):
    _, root_all = build(program)
    _, root_default = build(program)
    _, root_backward = build(program)
    everything = explain(root_all, constants=True)
    shown = explain(root_default)
    root_backward.backward()
    nodes = [backward_order(r) for r in (root_all, root_default, root_backward)]
    for a, d, b in zip(*nodes):
        assert bits(a.grad) == bits(d.grad) == bits(b.grad)
    twin = dict(zip(nodes[0], nodes[1]))
    kept = [s for s in everything if not is_constant(s.input)]
    assert len(shown) == len(kept)
    assert shown.hidden_constants == len(everything) - len(kept)
    for k, (s, t) in enumerate(zip(shown, kept), start=1):
        assert s.number == k
        assert (s.node, s.position) == (twin[t.node], t.position)
        for field in ("upstream", "local", "contribution", "grad_before", "grad"):
            assert bits(getattr(s, field)) == bits(getattr(t, field)), field


def test_constants_true_shows_every_step_and_the_text_says_how():
    x = Value(3.0, label="x")
    y = x * 2 - 1
    y.label = "y"
    e = explain(y)
    assert [(s.node_name, s.input_name) for s in e] == [("y", "x * 2"), ("x * 2", "x")]
    assert e.hidden_constants == 2
    text = str(e)
    assert "(2 steps into constants not shown (explain(y, constants=True) shows them))" in text
    assert "constants=True" in e._repr_html_()
    full = explain(y, constants=True)
    assert [s.input_name for s in full] == ["x * 2", "1", "x", "2"]
    assert full.hidden() == "" and "not shown" not in str(full)
    with pytest.raises(TypeError, match="constants must be True or False"):
        explain(y, constants="yes")


def test_a_labelled_number_is_not_a_constant():
    t = Value(1.0, label="t")  # a target the student named: its step stays
    x = Value(0.5, label="x")
    e = explain((x - t) ** 2)
    assert {s.input_name for s in e} == {"x - t", "x", "t"}
    assert e.hidden_constants == 0


# --- only=[...] --------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(programs_with_constants())
def test_only_keeps_exactly_the_steps_on_paths_into_the_given_leaves(program):
    leaves, root = build(program)
    if root.is_leaf():
        return
    in_graph = [leaf for leaf in leaves if leaf in set(backward_order(root))]
    targets = set(in_graph[:1])
    _, twin_root = build(program)
    everything = explain(twin_root, constants=True)
    e = explain(root, only=list(targets))
    twin = dict(zip(backward_order(twin_root), backward_order(root)))
    expected = [(twin[s.node], s.position) for s in everything if reaches(twin[s.input], targets)]
    assert [(s.node, s.position) for s in e] == expected
    assert e.hidden_off_path == len(everything) - len(expected)
    for leaf in targets:  # its gradient is the whole of backward()'s
        full_leaf = next(n for n in twin if twin[n] is leaf)
        assert bits(leaf.grad) == bits(full_leaf.grad)
        if expected:
            assert bits(e.grads_at()[leaf]) == bits(leaf.grad)


def test_only_refuses_what_is_not_a_node_of_the_graph():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    y = a * b
    with pytest.raises(TypeError, match=r"only= takes a list of Values.*only=\[a\]"):
        explain(y, only=a)
    with pytest.raises(TypeError, match="only= takes a list of Values"):
        explain(y, only=3)
    with pytest.raises(TypeError, match="item 1 is float"):
        explain(y, only=[a, 2.0])
    with pytest.raises(ValueError, match="item 0.*is not in the graph"):
        explain(y, only=[Value(5.0, label="c")])
    assert [s.input_name for s in explain(y, only=[b])] == ["b"]
    nothing = str(explain(y, only=[]))
    assert "(no steps shown)" in nothing and "2 steps off the paths" in nothing
    assert "1 step off the paths into only=[...] not shown" in str(explain(y, only=[b]))


# --- every written formula reads to its number ---------------------------------------------


def _scope(e, step, env):
    scope = dict(env)
    for name, text in e.notation.where((step.node, step.input, *step.node.inputs),
                                       (step.local_formula,)):
        scope[name] = evaluate(text, scope)
    return scope


@settings(max_examples=150, deadline=None)
@given(programs_with_constants())
def test_every_step_reads_to_its_numbers_with_negative_constants(program):
    leaves, root = build(program)
    if root.is_leaf():
        return
    env = {leaf.label: leaf.data for leaf in leaves}
    with precision(17):  # every number exactly
        for e in (explain(root), explain(build(program)[1], constants=True)):
            text = str(e)
            assert "**" not in text and not NEGATIVE_ZERO.search(text), text
            for step in e:
                scope = _scope(e, step, env)
                assert math.isclose(evaluate(step.local_formula, scope), step.local,
                                    rel_tol=1e-9, abs_tol=1e-12), step.local_formula
                # the product, as written: "upstream * local-as-formula = numbers"
                for side in step.product().split(" = "):
                    assert math.isclose(evaluate(side, scope), step.contribution,
                                        rel_tol=1e-9, abs_tol=1e-12), (side, step.product())
                for where in (step.sentence(), step.chain_latex()):
                    assert "**" not in where and not NEGATIVE_ZERO.search(where), where
            # every short name in the LaTeX is defined by where_latex; the braces balance
            defined = {d.split(" = ")[0] for d in e.where_latex()}
            short = re.compile(rf"{re.escape(e.notation.prefix)}_\{{\d+\}}")
            for latex in [step.chain_latex() for step in e] + [e.to_latex()]:
                assert balanced(latex), latex
                assert set(short.findall(latex)) <= defined, (latex, defined)


def test_derivatives_are_simplified_where_exact():
    # written from the rules by hand: d(x^c)/dx = c * x^(c - 1), with c - 1 folded
    x = Value(1.5, label="x")
    cases = [
        (x ** 2, "2 * x", r"2 \, x"),
        (x ** 3, "3 * x^2", r"3 \, x^{2}"),
        (x ** 1, "1", "1"),
        (x ** -1, "-x^(-2)", r"-x^{-2}"),
        (x ** 0.5, "0.5 * x^(-0.5)", r"0.5 \, x^{-0.5}"),
        (x ** 0.1, "0.1 * x^(0.1 - 1)", r"0.1 \, x^{0.1 - 1}"),  # 0.1 - 1 is not exact
        (x * 1, "1", "1"),
        (-1.5 / x, None, None),
    ]
    for node, text, latex in cases:
        n = Notation(node)
        if text is None:
            continue
        assert n.local_formula(node, 0) == text
        assert n.local_latex(node, 0) == latex
    q = -1.5 / x  # d/db of a / b = -a / b^2, a = -1.5: -(-1.5) is 1.5
    assert Notation(q).local_formula(q, 1) == "1.5 / x^2"
    h = (x - 0) ** 2  # the workshop's (z2.2 - 0)^2: 2 * (z2.2 - 0), never ^(2 - 1)
    assert Notation(h).local_formula(h, 0) == "2 * (x - 0)"
    d = x / -2  # 1 / b stays a division: it says where -0.5 comes from
    assert Notation(d).local_formula(d, 0) == "1 / (-2)"
    assert Notation(d).local_formula(d, 1) == "-x / (-2)^2"
    z = Value(0.0) * x  # the derivative of 0 * x with respect to x is 0, never -0
    assert Notation(-z).local_formula(-z, 0) == "-1"


def test_no_negative_zero_in_data_or_contributions():
    a = Value(-0.0, label="a")
    b = Value(2.0, label="b")
    y = (a * b) * -1.0
    y.label = "y"
    e = explain(y, constants=True)
    assert any(bits(s.contribution) == bits(-0.0) or bits(s.local) == bits(-0.0) for s in e)
    for out in (str(e), e._repr_html_(), e.to_latex(), *[s.chain_latex() for s in e]):
        assert not NEGATIVE_ZERO.search(out), out


# --- LaTeX ---------------------------------------------------------------------------------


def balanced(text: str) -> bool:
    depth = 0
    for k, ch in enumerate(text):
        if ch in "{}" and k and text[k - 1] == "\\":
            continue  # \{ and \} are characters
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and text.count(r"\left") == text.count(r"\right")


def test_chain_latex_reads_like_the_whiteboard():
    w, x = Value(0.5, label="w"), Value(0.43, label="x")
    z = w * x
    z.label = "z"
    L = z * 0.65
    L.label = "L"
    first = [s for s in explain(L) if s.input is w][0]  # w's first contribution: "="
    assert first.chain_latex() == (
        r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial z}\,"
        r"\frac{\partial z}{\partial w} = 0.65 \, x = 0.65 \cdot 0.43 = 0.2795")
    w.grad = 0.0
    M = z * 0.65 + w  # now w has two contributions: from M first, then from z
    M.label = "M"
    direct, through_z = [s for s in explain(M) if s.input is w]
    assert direct.chain_latex() == r"\frac{\partial M}{\partial w} = 1"  # d(M)/d(M), * 1 left out
    assert through_z.chain_latex() == (
        r"\frac{\partial M}{\partial w} \mathrel{+}= \frac{\partial M}{\partial z}\,"
        r"\frac{\partial z}{\partial w} = 0.65 \, x = 0.65 \cdot 0.43 = 0.2795"
        r", \text{ now } \frac{\partial M}{\partial w} = 1.28")
    # a leaf that already had a gradient accumulates from its first step on
    carried = [s for s in explain(z * 0.65) if s.input is w][0]
    assert r"\mathrel{+}=" in carried.chain_latex()


def test_latex_names_are_defined_and_balanced():
    a, b, c = Value(1.0, label="a"), Value(0.5, label="b"), Value(2.0, label="c")
    y = (a ** 2 / (b.sigmoid() + c) + a * b * c).tanh() * -2.0
    e = explain(y)
    defined = {d.split(" = ")[0] for d in e.where_latex()}
    assert defined  # this graph needs short names
    for s in e:
        latex = s.chain_latex()
        assert balanced(latex), latex
        assert "**" not in latex and "$" not in latex
        for used in re.findall(r"v_\{\d+\}", latex):
            assert used in defined, (used, latex)
    for d in e.where_latex():
        assert balanced(d)
        for used in re.findall(r"v_\{\d+\}", d.split(" = ", 1)[1]):
            assert used in defined


def test_to_latex_is_one_aligned_line_per_step():
    x, w = Value(-0.5, label="x"), Value(0.75, label="w")
    y = (x * w).tanh() / -2
    e = explain(y)
    out = e.to_latex()
    lines = out.splitlines()
    assert lines[0] == r"\begin{align*}" and lines[-1] == r"\end{align*}"
    body = lines[1:-1]
    assert len(body) == len(e)
    for line, step in zip(body, e):
        assert line.count("&") == 1 and re.search(r"&(=|\\mathrel\{\+\}=) ", line)
        assert line.rstrip(" \\") == step.chain_latex().replace(" =", " &=", 1).replace(
            r" \mathrel{+}=", r" &\mathrel{+}=", 1)
    assert all(line.endswith(r" \\") for line in body[:-1]) and not body[-1].endswith("\\\\")
    assert balanced(out) and "**" not in out and not NEGATIVE_ZERO.search(out)


def test_to_latex_compiles_with_pdflatex(tmp_path):
    a, b = Value(1.0, label="a"), Value(0.5, label="b&c")  # a label with a special character
    y = (a ** 2 / (b.sigmoid() + 2) + a * b * 3).tanh() * -2.0
    e = explain(y)
    out = e.to_latex()
    assert r"\intertext{where}" in out and balanced(out)
    if shutil.which("pdflatex") is None:
        print("skipped compiling: pdflatex is not installed (the structure was checked)")
        pytest.skip("pdflatex is not installed; to_latex's structure was checked instead")
    loss, _ = workshop()  # a longer one: short names, accumulating steps
    x, w = Value(0.7, label="x"), Value(-1.2, label="w1.2")
    every_op = ((x * w).tanh() ** 2 / (x.sigmoid() + 1) + abs(x).sqrt() - x.relu()
                + x ** 0.5 + 2 ** x + x.exp().log() + x.sin() * x.cos()) * -0.5
    parts = [out, explain(loss).to_latex(), explain(every_op, constants=True).to_latex(),
             "\\(" + formula(y, latex=True) + "\\)", "\\(" + formula(every_op, latex=True) + "\\)"]
    doc = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\allowdisplaybreaks\n"
           "\\begin{document}\n" + "\n\n".join(parts) + "\n\\end{document}\n")
    (tmp_path / "steps.tex").write_text(doc, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "steps.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_html_table_typesets_each_step():
    a, b = Value(2.0, label="a<b"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    e = explain(c)
    page = e._repr_html_()
    assert "<th>chain rule</th>" in page
    for s in e:
        # escaped for HTML (a label's < is &lt;), inside MathJax's \( \)
        import html

        assert html.escape(rf"\({s.chain_latex()}\)") in page
    assert "a&lt;b" in page and "a<b" not in page
    assert "chain rule" not in str(e)  # print keeps the plain table


def test_formula_in_latex():
    a, b = Value(2.0, label="a"), Value(3.0, label="w1")
    cases = [  # written by hand from the rules' latex
        (a * b + 1, r"a \, w_{1} + 1"),
        ((a + b) * -2, r"\left(a + w_{1}\right) \, \left(-2\right)"),
        ((a / b).tanh(), r"\tanh \left(\frac{a}{w_{1}}\right)"),
        (a ** 3, r"a^{3}"),
        ((a * b).sigmoid(), r"\sigma(a \, w_{1})"),
    ]
    for node, expected in cases:
        assert formula(node, latex=True) == expected
    h = (a * b + a).tanh()
    h.label = "h"
    out = formula(h * h, latex=True)
    assert out == r"h \, h \quad \text{where } h = \tanh \left(a \, w_{1} + a\right)"
    assert balanced(out)
    with pytest.raises(TypeError, match="latex must be True or False"):
        formula(h, latex=1)


def test_a_models_inputs_are_hidden_but_a_students_own_leaves_are_not():
    from nn import MLP

    net = MLP(2, [1], seed=0)
    y = net([0.5, -1.0])[0]
    e = explain(y)
    assert not any(s.input.label in ("x1", "x2") for s in e) and e.hidden_data == 2
    assert {s.input.label for s in explain(y, constants=True) if s.input.is_leaf()} >= {"x1", "x2"}
    # the same arithmetic written by hand, with labelled leaves and no model: all shown
    x1, x2, w1, w2 = (Value(v, label=n) for v, n in ((0.5, "x1"), (-1.0, "x2"), (0.3, "w1"),
                                                    (0.2, "w2")))
    own = explain((w1 * x1 + w2 * x2).tanh())
    assert {"x1", "x2"} <= {s.input_name for s in own} and own.hidden_data == 0


def test_every_chain_rule_converts_to_mathml_for_the_page():
    from engine.teach.mathml import available, mathml

    if not available():
        print("skipped: latex2mathml is not installed (the [viz] extra)")
        pytest.skip("latex2mathml is not installed")
    x, w, t = Value(0.7, label="x"), Value(-1.2, label="w1.2"), Value(1.0, label="a&b")
    y = ((x * w).tanh() ** 2 / (x.sigmoid() + 1) + abs(x).sqrt() - x.relu() * t
         + x ** 0.5 + 2 ** x + x.exp().log() + x.sin() * x.cos()) * -0.5
    loss, _ = workshop()
    for e in (explain(y, constants=True), explain(loss)):
        for latex in [s.chain_latex() for s in e] + e.where_latex():
            assert mathml(latex).startswith("<math"), latex
    assert mathml(formula(y, latex=True)).startswith("<math")


def test_a_derivative_the_reader_cannot_parse_is_written_from_the_rule_as_it_is(monkeypatch):
    import dataclasses

    from engine import RULES

    rule = dataclasses.replace(RULES["abs"], name="abs2", derivatives=("x / |x|",),
                               derivatives_latex=(r"\frac{x}{\lvert x \rvert}",))
    monkeypatch.setitem(RULES, "abs2", rule)
    a = Value(-2.0, label="a")
    y = (a * 3)._unary("abs2")
    n = Notation(y)
    assert n.local_formula(y, 0) == "a * 3 / |a * 3|"  # the template, filled
    assert n.local_latex(y, 0) == r"\frac{a \, 3}{\lvert a \, 3 \rvert}"

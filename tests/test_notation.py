"""The one notation: every tool writes a node the same way; every written formula reads
to its number; names that are not labels are defined where they are used."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from random_graphs import BINARY, UNARY
from test_formula import evaluate

from engine import RULES, Value, draw_graph, explain, formula, gradient_paths
from engine.teach.notation import (
    NAME_LIMIT,
    Notation,
    current_digits,
    latex_label,
    latex_number,
    magnitude,
    number,
    precision,
    set_precision,
    visible,
)
from engine.teach.page import render_page

# --- one node, one name, in every tool ---------------------------------------------------


def quickstart(label_root: bool):
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    if label_root:
        c.label = "c"
    return a, b, c


@pytest.mark.parametrize("label_root", [True, False])
def test_every_tool_writes_the_same_node_the_same_way(label_root):
    a, b, c = quickstart(label_root)
    product, tanh = c.inputs
    root = "c" if label_root else "a * b + tanh(a)"  # unlabelled: its expression
    # formula: the expression, in the notation's operator style
    assert formula(c) == "a * b + tanh(a)"
    # explain: the names in its table and sentences
    e = explain(c)
    assert e.names[product] == "a * b" and e.names[tanh] == "tanh(a)" and e.names[c] == root
    rows = {(r[1], r[2]) for r in e.rows()}
    assert (root, "a * b") in rows and ("a * b", "a") in rows and ("tanh(a)", "a") in rows
    assert "grad(a) += grad(a * b) * d(a * b)/d(a)" in [s.sentence() for s in e][3]
    # gradient_paths
    assert [str(p).split(":")[0] for p in gradient_paths(c, a)] == [
        f"a -> a * b -> {root}", f"a -> tanh(a) -> {root}"]
    # draw_graph: the name cell of every value node
    g = draw_graph(c)
    for node, name in ((product, "a * b"), (tanh, "tanh(a)")):
        line = next(x for x in g.source.splitlines() if x.lstrip().startswith(g.node_id(node) + " "))
        assert f'<td bgcolor="#ffffff">{name}</td>' in line
    # the page: its table and its data
    page = render_page(e, graph=False)
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', page, re.S).group(1))
    assert {n["name"] for n in data["nodes"]} == {root, "a * b", "tanh(a)", "a", "b"}
    assert "<td>a * b</td>" in page


def test_local_derivatives_use_the_students_names():
    a, b, c = Value(2.0, label="a"), Value(3.0, label="b"), Value(1.5, label="c")
    y = c ** a  # the rule's operands are a (base) and b (exponent): here c and a
    n = Notation(y)
    assert n.local_formula(y, 0) == "a * c^(a - 1)"  # c and a are labelled: nothing to fold
    assert n.local_latex(y, 0) == r"a \, c^{a - 1}"
    assert n.local_formula(y, 1) == "c^a * log(c)"
    assert n.local_latex(y, 1) == r"c^{a} \ln c"
    [s0, s1] = explain(y)
    assert (s0.local_formula, s0.local_latex, s0.formula) == ("a * c^(a - 1)", r"a \, c^{a - 1}",
                                                              "b * a^(b - 1)")
    assert s0.latex == r"b \, a^{b - 1}"  # the rule's own, kept beside the student's
    # compound operands get parentheses in both; constants are written as numbers
    z = (a + b) ** 3
    n = Notation(z)
    assert n.local_formula(z, 0) == "3 * (a + b)^2"  # 3 - 1 folded: exact
    assert n.local_latex(z, 0) == r"3 \, \left(a + b\right)^{2}"
    t = (a * b).tanh()
    assert Notation(t).local_latex(t, 0) == r"1 - \tanh^{2}\left(a \, b\right)" or \
        Notation(t).local_latex(t, 0) == r"1 - \tanh^{2} \left(a \, b\right)"


def test_negative_constants_are_parenthesised_where_a_minus_would_misread():
    # the three cases of issue 12, written by hand from the rules
    x = Value(3.0, label="x")
    q = x / -2  # d/dx = 1 / b, b = -2
    assert Notation(q).local_formula(q, 0) == "1 / (-2)"
    assert Notation(q).local_formula(q, 1) == "-x / (-2)^2"  # d/db = -a / b^2 = -0.75
    a = Value(-2.0)
    w = Value(0.5, label="w")
    p = (a ** 3) * w
    cube = p.inputs[0]
    assert Notation(p).local_formula(cube, 0) == "3 * (-2)^2"  # = 12
    r = -1.5 / x  # d/db = -a / b^2 with a = -1.5
    assert Notation(r).local_formula(r, 1) == "1.5 / x^2"  # -(-1.5) folded


def test_long_names_are_short_names_defined_where_used():
    a, b, c = Value(1.0, label="a"), Value(0.5, label="b"), Value(2.0, label="c")
    d = a ** 2 / (b.sigmoid() + c)  # 23 characters: short enough to be its own name
    n = Notation(d)
    assert n.name(d) == "a^2 / (sigmoid(b) + c)"
    s = d + a * b * c  # a^2 / (sigmoid(b) + c) + a * b * c: longer than NAME_LIMIT
    y = s.tanh()
    n = Notation(y)
    assert len(n.expression(s)) > NAME_LIMIT
    assert n.name(s) == f"v{n.index[s]}" and n.is_short(s)
    assert n.name(y) == f"tanh({n.name(s)})"  # short names are used in other names
    assert n.where([y]) == [(n.name(s), n.expression(s))]
    e = explain(y * 2)
    text = str(e)
    used = set(re.findall(r"\bv\d+\b", text))
    assert used and all(re.search(rf"^  {v} = ", text, re.M) for v in used)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_short_name_in_an_explanation_is_defined(data):
    program = data.draw(programs_with_constants())
    _, root = build(program)
    e = explain(root)
    text = str(e)
    body, _, where = text.partition("\nwhere\n")
    for name in set(re.findall(rf"\b{e.notation.prefix}\d+\b", body)):
        assert re.search(rf"^  {name} = ", where, re.M), name


# --- every written formula reads to its number -----------------------------------------------

CONSTANT_OPS = {
    "mulc": lambda v, k: v * k, "divc": lambda v, k: v / k, "rdivc": lambda v, k: k / v,
    "subc": lambda v, k: v - k, "rsubc": lambda v, k: k - v, "addc": lambda v, k: v + k,
    "powc": lambda v, k: v ** round(abs(k) * 2 + 1), "cpow": lambda v, k: abs(k) ** v,
}


@st.composite
def programs_with_constants(draw):
    """Small random graphs mixing labelled leaves with constants, negative ones included."""
    n_leaves = draw(st.integers(1, 3))
    leaves = draw(st.lists(st.floats(-1.5, 1.5).filter(lambda x: abs(x) > 0.05),
                           min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(st.integers(1, 8))):
        size = n_leaves + k
        kind = draw(st.sampled_from(["unary", "binary", "constant"]))
        i = draw(st.integers(0, size - 1))
        if kind == "unary":
            steps.append((draw(st.sampled_from(sorted(UNARY))), i))
        elif kind == "binary":
            steps.append((draw(st.sampled_from(sorted(BINARY))), i, draw(st.integers(0, size - 1))))
        else:
            c = draw(st.sampled_from([-2.0, -1.5, -0.5, 0.25, 3.0]))
            steps.append((draw(st.sampled_from(sorted(CONSTANT_OPS))), i, c))
    return leaves, steps


def build(program):
    leaves_data, steps = program
    nodes = [Value(x, label=f"x{i}") for i, x in enumerate(leaves_data)]
    for op, *args in steps:
        try:
            if op in UNARY:
                out = UNARY[op][0](nodes[args[0]])
            elif op in BINARY:
                out = BINARY[op][0](nodes[args[0]], nodes[args[1]])
            else:
                out = CONSTANT_OPS[op](nodes[args[0]], args[1])
        except (ValueError, ZeroDivisionError, OverflowError):
            out = nodes[args[0]]  # outside the op's domain: keep the input, so indices hold
        nodes.append(out)
    return nodes[:len(leaves_data)], nodes[-1]


@settings(max_examples=150, deadline=None)
@given(programs_with_constants())
def test_every_steps_formula_evaluates_to_its_local_derivative(program):
    leaves, root = build(program)
    if root.is_leaf():
        return
    env = {leaf.label: leaf.data for leaf in leaves}
    with precision(17):  # every constant exactly
        e = explain(root)
        for step in e:
            scope = dict(env)
            for name, text in e.notation.where((step.node, step.input), (step.local_formula,)):
                scope[name] = evaluate(text, scope)
            got = evaluate(step.local_formula, scope)
            assert math.isclose(got, step.local, rel_tol=1e-9, abs_tol=1e-12), (
                step.local_formula, got, step.local)
            # and each name reads to its node's value
            for node in (step.node, step.input):
                assert math.isclose(evaluate(e.names[node], scope), node.data, rel_tol=1e-9,
                                    abs_tol=1e-12)


def test_every_rule_is_written_by_its_templates_in_text_and_latex():
    # each rule's expression and derivatives, filled with compound operands, reads right
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    p, q = x + y, x * y  # operands that need parentheses in some places
    for rule in RULES.values():
        if rule.name == "pow_const":
            node = p ** 3
        elif rule.arity == 1:
            node = p._unary(rule.name)
        else:
            node = p._binary(rule.name, q)
        n = Notation(node)
        with precision(17):
            env = {"x": 0.7, "y": 1.3}
            assert math.isclose(evaluate(n.expression(node), env), node.data, rel_tol=1e-12)
            for i, local in enumerate(node.local_grads):
                assert math.isclose(evaluate(n.local_formula(node, i), env), local,
                                    rel_tol=1e-9, abs_tol=1e-12), (rule.name, i)
        for i in range(len(node.inputs)):
            latex = n.local_latex(node, i)
            assert latex.count("{") == latex.count("}"), latex
            assert latex.count(r"\left(") == latex.count(r"\right)"), latex


def test_an_op_added_to_the_table_is_written_without_touching_notation(monkeypatch):
    def softplus(x):
        s = 1.0 / (1.0 + math.exp(-x))
        return math.log1p(math.exp(x)), s

    rule = dataclasses.replace(
        RULES["tanh"], name="softplus", symbol="softplus", apply=softplus, apply_array=None,
        expression="softplus(x)", latex=r"\operatorname{softplus}(x)",
        derivatives=("sigmoid(x)",), derivatives_latex=(r"\sigma(x)",))
    monkeypatch.setitem(RULES, "softplus", rule)
    a, b = Value(0.5, label="a"), Value(-1.0, label="b")
    y = (a * b)._unary("softplus") * 2
    n = Notation(y)
    s = y.inputs[0]
    assert formula(y) == "softplus(a * b) * 2"
    assert n.latex(s) == r"\operatorname{softplus}(a \, b)"
    assert n.local_formula(s, 0) == "sigmoid(a * b)"
    assert n.local_latex(s, 0) == r"\sigma(a \, b)"
    assert n.symbol(s) == "softplus" and "label=<softplus>" in draw_graph(y).source
    assert [st.local_formula for st in explain(y, constants=True)][2] == "sigmoid(a * b)"


# --- numbers ------------------------------------------------------------------------------------


def test_numbers_have_one_precision_and_a_way_to_ask_for_more():
    assert current_digits() == 4
    assert number(1 - math.tanh(2.0) ** 2) == "0.07065"  # 0.0706508...
    assert number(-0.0) == "0" and number(2.5e-12) == "2.5e-12" and number(1e16) == "1e16"
    assert number(float("nan")) == "nan" and number(-math.inf) == "-inf"
    with precision(10):
        assert number(2 / 3) == "0.6666666667"
        with precision(2):
            assert number(2 / 3) == "0.67"
        assert current_digits() == 10
        a = Value(2.0, label="a")
        assert "0.07065082485" in str(explain((a * 1.0).tanh()))
    assert current_digits() == 4
    with precision(17):
        for x in (0.1, 1 / 3, -2.5e-300, math.pi):
            assert float(number(x)) == x
    set_precision(6)
    try:
        assert number(2 / 3) == "0.666667"
    finally:
        set_precision()
    assert number(2 / 3) == "0.6667"
    with pytest.raises(ValueError, match="from 1 to 17"):
        precision(0).__enter__()
    with pytest.raises(TypeError, match="int"):
        set_precision("4")
    with pytest.raises(TypeError, match="real number"):
        number("3")
    assert magnitude(3.14159e-10) == "3.1e-10" and magnitude(0.0) == "0"


def test_latex_numbers_and_labels():
    assert latex_number(2.5e-12) == r"2.5 \times 10^{-12}"
    assert latex_number(1e16) == "10^{16}" and latex_number(-3.0) == "-3"
    assert latex_number(math.inf) == r"\infty" and latex_number(math.nan) == r"\mathrm{NaN}"
    assert latex_label("x") == "x" and latex_label("w1.2.3") == "w_{1.2.3}"
    assert latex_label("theta") == r"\theta" and latex_label("loss") == r"\mathrm{loss}"
    # no label can inject LaTeX: every special character is escaped
    evil = latex_label(r"}\input{/etc/passwd}$")
    assert r"\input" not in evil.replace(r"\backslash", "")
    assert evil.count("{") - evil.count(r"\{") == evil.count("}") - evil.count(r"\}")


# --- labels that would break a table or an encoder ----------------------------------------------


def test_visible_escapes_what_breaks_lines_and_encoders():
    assert visible("a\nb") == "a\\nb" and visible("\x1b[31m") == "\\x1b[31m"
    assert visible("\ud800") == "\\ud800" and visible("\u202eevil") == "\\u202eevil"
    assert visible("naïve θ 日本 👩‍🔬") == "naïve θ 日本 👩‍🔬"  # kept as is
    assert visible(3) == "3"


def test_shared_labels_are_numbered_in_every_tool():
    x1 = Value(1.0, label="x")
    x2 = Value(2.0, label="x")  # e.g. the same input of two samples of a batch
    y = x1 * x2
    n = Notation(y)
    assert (n.name(x1), n.name(x2), n.name(y)) == ("x#1", "x#2", "x#1 * x#2")
    assert formula(y) == "x#1 * x#2"
    assert {s.input_name for s in explain(y)} == {"x#1", "x#2"}
    assert "<b>x#2</b>" in draw_graph(y).source
    assert n.latex(x2) == "{x}^{(2)}"

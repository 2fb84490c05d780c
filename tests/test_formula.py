"""formula: precedence and parentheses by hand, correctness by evaluating the text."""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from random_graphs import programs, run

from engine import Value
from engine.teach.formula import formula


def evaluate(text: str, env: dict[str, float]) -> float:
    """Evaluate formula text with our own tiny AST walker (never eval): numbers,
    names, + - * / ** unary -, and the engine's functions."""
    funcs = {
        "tanh": math.tanh, "exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos,
        "sqrt": math.sqrt, "abs": abs, "relu": lambda x: max(x, 0.0),
        "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    }
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a**b}
    env = dict(env)
    lines = text.split("\nwhere\n")
    if len(lines) == 2:
        for line in lines[1].splitlines():
            name, _, expr = line.strip().partition(" = ")
            env[name] = evaluate(expr, env)

    def walk(n):
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Constant):
            return float(n.value)
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.BinOp):
            return ops[type(n.op)](walk(n.left), walk(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -walk(n.operand)
        if isinstance(n, ast.Call):
            return funcs[n.func.id](*map(walk, n.args))
        raise AssertionError(f"unexpected syntax {ast.dump(n)}")

    return walk(ast.parse(lines[0], mode="eval"))


a, b, c = Value(2.0, label="a"), Value(3.0, label="b"), Value(5.0, label="c")

CASES = [  # (graph, expected text): written from the precedence rules, not from output
    (lambda: (a + b) * c, "(a + b)*c"),
    (lambda: a + b * c, "a + b*c"),
    (lambda: a * b + c, "a*b + c"),
    (lambda: a - (b - c), "a - (b - c)"),
    (lambda: (a - b) - c, "a - b - c"),
    (lambda: a + (b + c), "a + b + c"),
    (lambda: a - (b + c), "a - (b + c)"),
    (lambda: a / (b * c), "a/(b*c)"),
    (lambda: a / b * c, "a/b*c"),
    (lambda: (a + b) / (b - c), "(a + b)/(b - c)"),
    (lambda: -(a + b), "-(a + b)"),
    (lambda: -a * b, "-a*b"),
    (lambda: a * -b, "a*(-b)"),
    (lambda: a - -b, "a - (-b)"),
    (lambda: (-a).__neg__(), "-(-a)"),
    (lambda: (-a) ** 2, "(-a)**2"),
    (lambda: -(a**2), "-a**2"),
    (lambda: (a**b) ** c, "(a**b)**c"),
    (lambda: a ** (b**c), "a**b**c"),
    (lambda: a**-1, "a**(-1)"),
    (lambda: a**0.5, "a**0.5"),
    (lambda: (a * b) ** 2, "(a*b)**2"),
    (lambda: 2 ** a, "2**a"),
    (lambda: a * 2 + 1, "a*2 + 1"),
    (lambda: a + (-2), "a + (-2)"),
    (lambda: (a + b).exp().log(), "log(exp(a + b))"),
    (lambda: (a * b).tanh() + a.sigmoid() - b.relu(), "tanh(a*b) + sigmoid(a) - relu(b)"),
    (lambda: abs(a - b).sqrt() * c.sin() / c.cos(), "sqrt(abs(a - b))*sin(c)/cos(c)"),
    (lambda: a * a, "a*a"),
]


@pytest.mark.parametrize("build, expected", CASES)
def test_precedence_by_hand(build, expected):
    y = build()
    text = formula(y)
    assert text == expected
    assert math.isclose(evaluate(text, {"a": 2.0, "b": 3.0, "c": 5.0}), y.data, rel_tol=1e-12)


def test_the_neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2, bias = Value(-3.0, label="w1"), Value(1.0, label="w2"), Value(6.88, label="b")
    n = w1 * x1 + w2 * x2 + bias
    n.label = "n"  # an interior label used once: written out, not named
    assert formula(n.tanh()) == "tanh(w1*x1 + w2*x2 + b)"


def test_leaves():
    assert formula(Value(1.5, label="x")) == "x"
    assert formula(Value(2.0)) == "2"
    assert formula(Value(2.0) * Value(0.125)) == "2*0.125"
    odd = Value(1.0, label="x + y")  # not a plain name: parenthesised like a sum
    assert formula(odd * 2) == "(x + y)*2"


def test_shared_short_nodes_repeat_in_place():
    s = a + b
    assert formula(s * s) == "(a + b)*(a + b)"


def test_shared_labelled_nodes_are_named():
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    h = (x * w).tanh()
    h.label = "h"
    y = h * h + h
    text = formula(y)
    assert text == "h*h + h\nwhere\n  h = tanh(x*w)"
    assert math.isclose(evaluate(text, {"x": 0.5, "w": -1.0}), y.data)


def test_a_label_is_a_name_only_if_unambiguous():
    x = Value(0.5, label="x")
    h1 = x.tanh()
    h1.label = "x"  # same label as a leaf: would be ambiguous
    h2 = x.sin()
    h2.label = "h"
    h3 = x.cos()
    h3.label = "h"  # a second node labelled h
    y = h1 * h1 + h2 * h2 + h3 * h3
    assert formula(y) == "tanh(x)*tanh(x) + h*h + cos(x)*cos(x)\nwhere\n  h = sin(x)"


def test_shared_long_nodes_are_named_and_graphs_stay_small():
    x = Value(1.00001, label="x")
    y = x
    for _ in range(40):  # fully expanded, this formula has 2**40 x's
        y = y * y
    text = formula(y)
    assert len(text) < 5000 and "where" in text
    # x*x (3 chars), then 7, 15, 31 > 30: named t1 at depth 4; t1*t1 (5), 11, 23, 47:
    # t2 at depth 8; ... t9 at depth 36; the root (depth 40, used once) is 16 t9's.
    lines = text.splitlines()
    assert lines[0] == "*".join(["t9"] * 16) and lines[1] == "where"
    assert lines[2] == "  t1 = " + "*".join(["x"] * 16)
    assert lines[3] == "  t2 = " + "*".join(["t1"] * 16)  # 16*2 + 15 = 47 chars
    assert len(lines) == 2 + 9
    assert math.isclose(evaluate(text, {"x": 1.00001}), y.data, rel_tol=1e-9)
    # names never clash with labels
    t1 = Value(2.0, label="t1")
    z = (t1 + a + b + c + t1 + a + b + c)
    zz = z * z
    text = formula(zz)
    assert text.splitlines()[0] == "t2*t2"
    assert math.isclose(evaluate(text, {"a": 2.0, "b": 3.0, "c": 5.0, "t1": 2.0}), zz.data)
    assert formula(zz, max_inline=100).startswith("(t1 + a")


def test_deep_graph_without_recursion():
    x = Value(0.1, label="x")
    y = x
    for _ in range(100_000):
        y = y + 1
    text = formula(y)
    assert text == "x" + " + 1" * 100_000
    t = x
    for _ in range(50_000):
        t = t.tanh()
    assert formula(t) == "tanh(" * 50_000 + "x" + ")" * 50_000


def test_not_a_value():
    with pytest.raises(TypeError, match="formula needs a Value"):
        formula(3.0)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_formula_evaluates_to_the_value(program):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
    root = run(program, values, 0)
    env = {f"x{i}": x for i, x in enumerate(program[0])}
    for max_inline in (0, 30, 10**9):
        text = formula(root, max_inline=max_inline)
        assert math.isclose(evaluate(text, env), root.data, rel_tol=1e-9, abs_tol=1e-12), text

"""formula: precedence and parentheses by hand, correctness by evaluating the text."""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from random_graphs import programs, run

from engine import Value
from engine.teach.formula import formula
from engine.teach.notation import precision


def evaluate(text: str, env: dict[str, float]) -> float:
    """Evaluate formula text with our own tiny AST walker (never eval): numbers,
    names, + - * / ^ unary -, conditionals and comparisons, and the engine's
    functions. ``^`` is read as a power (Python's ``**``: it also binds tighter than
    unary minus and groups right to left); a name may carry ``#k`` (a shared label)."""
    funcs = {
        "tanh": math.tanh, "exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos,
        "sqrt": math.sqrt, "abs": abs, "relu": lambda x: max(x, 0.0),
        "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
        "sign": lambda x: (x > 0) - (x < 0),
    }
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a**b}
    compare = {ast.Gt: lambda a, b: a > b, ast.Lt: lambda a, b: a < b}
    env = {k.replace("#", "__"): v for k, v in env.items()}
    lines = text.split("\nwhere\n")
    if len(lines) == 2:
        for line in lines[1].splitlines():
            name, _, expr = line.strip().partition(" = ")
            env[name.replace("#", "__")] = evaluate(expr, env)
    assert "**" not in lines[0], "powers are written ^"

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
        if isinstance(n, ast.IfExp):
            return walk(n.body) if walk(n.test) else walk(n.orelse)
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            return compare[type(n.ops[0])](walk(n.left), walk(n.comparators[0]))
        raise AssertionError(f"unexpected syntax {ast.dump(n)}")

    source = lines[0].replace("^", "**").replace("#", "__")
    return walk(ast.parse(source, mode="eval"))


a, b, c = Value(2.0, label="a"), Value(3.0, label="b"), Value(5.0, label="c")

CASES = [  # (graph, expected text): written from the precedence rules, not from output
    (lambda: (a + b) * c, "(a + b) * c"),
    (lambda: a + b * c, "a + b * c"),
    (lambda: a * b + c, "a * b + c"),
    (lambda: a - (b - c), "a - (b - c)"),
    (lambda: (a - b) - c, "a - b - c"),
    (lambda: a + (b + c), "a + b + c"),
    (lambda: a - (b + c), "a - (b + c)"),
    (lambda: a / (b * c), "a / (b * c)"),
    (lambda: a / b * c, "a / b * c"),
    (lambda: (a + b) / (b - c), "(a + b) / (b - c)"),
    (lambda: -(a + b), "-(a + b)"),
    (lambda: -a * b, "-a * b"),
    (lambda: a * -b, "a * (-b)"),
    (lambda: a - -b, "a - (-b)"),
    (lambda: (-a).__neg__(), "-(-a)"),
    (lambda: (-a) ** 2, "(-a)^2"),
    (lambda: -(a**2), "-a^2"),
    (lambda: (a**b) ** c, "(a^b)^c"),
    (lambda: a ** (b**c), "a^(b^c)"),  # never a^b^c: which way it groups is not obvious
    (lambda: a**-1, "a^(-1)"),
    (lambda: a**0.5, "a^0.5"),
    (lambda: (a * b) ** 2, "(a * b)^2"),
    (lambda: 2 ** a, "2^a"),
    (lambda: Value(-2.0) ** 2, "(-2)^2"),  # the base a negative constant
    (lambda: a * 2 + 1, "a * 2 + 1"),
    (lambda: a + (-2), "a + (-2)"),
    (lambda: a * (-2), "a * (-2)"),
    (lambda: a / -2, "a / (-2)"),
    (lambda: -1.5 / a, "-1.5 / a"),
    (lambda: (a + b).exp().log(), "log(exp(a + b))"),
    (lambda: (a * b).tanh() + a.sigmoid() - b.relu(), "tanh(a * b) + sigmoid(a) - relu(b)"),
    (lambda: abs(a - b).sqrt() * c.sin() / c.cos(), "sqrt(abs(a - b)) * sin(c) / cos(c)"),
    (lambda: a * a, "a * a"),
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
    assert formula(n.tanh()) == "tanh(w1 * x1 + w2 * x2 + b)"


def test_leaves():
    assert formula(Value(1.5, label="x")) == "x"
    assert formula(Value(2.0)) == "2"
    assert formula(Value(2.0) * Value(0.125)) == "2 * 0.125"
    odd = Value(1.0, label="x + y")  # not a plain name: parenthesised like a sum
    assert formula(odd * 2) == "(x + y) * 2"
    assert formula(Value(-0.0) + Value(1e-7)) == "0 + 1e-7"  # the notation's numbers


def test_shared_short_nodes_repeat_in_place():
    s = a + b
    assert formula(s * s) == "(a + b) * (a + b)"


def test_shared_labelled_nodes_are_named():
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    h = (x * w).tanh()
    h.label = "h"
    y = h * h + h
    text = formula(y)
    assert text == "h * h + h\nwhere\n  h = tanh(x * w)"
    assert math.isclose(evaluate(text, {"x": 0.5, "w": -1.0}), y.data)


def test_a_shared_label_is_numbered_to_stay_unambiguous():
    x = Value(0.5, label="x")
    h1 = x.tanh()
    h1.label = "x"  # same label as a leaf: numbered x#1 (the leaf), x#2
    h2 = x.sin()
    h2.label = "h"
    h3 = x.cos()
    h3.label = "h"  # a second node labelled h
    y = h1 * h1 + h2 * h2 + h3 * h3
    text = formula(y)
    assert text == ("x#2 * x#2 + h#1 * h#1 + h#2 * h#2\nwhere\n  x#2 = tanh(x#1)\n"
                    "  h#1 = sin(x#1)\n  h#2 = cos(x#1)")
    assert math.isclose(evaluate(text, {"x#1": 0.5}), y.data)


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
    # Node k of the graph (numbered from the inputs up, as the drawing's ids) is v<k>:
    # x is v0 and y = y * y at depth d is v<d>. Depth d has 2^d x's, 2^d + 3(2^d - 1)
    # chars: 5, 13, 29, then 61 > 30: named at depth 4 (v4 = 16 x's); v4 * v4 (7), 17,
    # then 37 > 30: v7 = 8 v4's; ... every 3 levels up to v37; the root (depth 40, used
    # once) is 8 v37's.
    assert lines[0] == " * ".join(["v37"] * 8) and lines[1] == "where"
    assert lines[2] == "  v4 = " + " * ".join(["x"] * 16)
    assert lines[3] == "  v7 = " + " * ".join(["v4"] * 8)
    assert len(lines) == 2 + 12
    assert math.isclose(evaluate(text, {"x": 1.00001}), y.data, rel_tol=1e-9)
    # short names never clash with labels: a label v1 moves them to another letter
    v1 = Value(2.0, label="v1")
    z = (v1 + a + b + c + v1 + a + b + c)
    zz = z * z
    text = formula(zz)
    assert text.splitlines()[0] == "t10 * t10"
    assert math.isclose(evaluate(text, {"a": 2.0, "b": 3.0, "c": 5.0, "v1": 2.0}), zz.data)
    assert formula(zz, max_inline=100).startswith("(v1 + a")


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


def test_bad_arguments():
    with pytest.raises(TypeError, match="formula needs a Value"):
        formula(3.0)
    z = a * b
    with pytest.raises(TypeError, match="max_inline must be an int.*str 'a'"):
        formula(z, max_inline="a")
    with pytest.raises(TypeError, match="max_inline"):
        formula(z, max_inline=True)
    with pytest.raises(ValueError, match="max_inline must be >= 0"):
        formula(z, max_inline=-1)


def test_odd_labels_are_written_visibly():
    for label, shown in (("x\ny", "x\\ny"), ("\x1b[31m", "\\x1b[31m"), ("\ud800", "\\ud800")):
        x = Value(1.0)
        x.label = label  # set after Value(), which refuses a lone surrogate
        z = x * 2
        text = formula(z)
        assert text == f"({shown}) * 2" or text == f"{shown} * 2", text
        assert "\n" not in text and "\x1b" not in text
        text.encode("utf-8")  # no lone surrogate left


@settings(max_examples=150, deadline=None)
@given(programs())
def test_formula_evaluates_to_the_value(program):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
    root = run(program, values, 0)
    env = {f"x{i}": x for i, x in enumerate(program[0])}
    with precision(17):  # every number exactly, so the text must give the value
        for max_inline in (0, 30, 10**9):
            text = formula(root, max_inline=max_inline)
            assert math.isclose(evaluate(text, env), root.data, rel_tol=1e-9,
                                abs_tol=1e-12), text

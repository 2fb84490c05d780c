"""Every op in the rule table, its value and gradient, against both oracles.

Everything comes from ``RULES`` itself: the call (from the rule's form and
name, ``tests/oracles.py: op_call``), the inputs (hypothesis strategies inside
each operand's ``Domain``), the edge points, and the derivative written as text.
An op added to the table is tested here with no edit.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import (
    CONSTANTS,
    central_difference,
    domain_floats,
    edge_points,
    op_call,
    same_float,
    takes_constant,
    torch_grads,
    torch_or_skip,
)

from engine import RULES, Value

ROOT = Path(__file__).resolve().parent.parent
ERRORS = (ValueError, ZeroDivisionError, OverflowError)  # what apply() may raise

#: (op, constant) for every rule: ops with a constant argument once per CONSTANTS
CASES = [(name, c) for name, rule in sorted(RULES.items())
         for c in (CONSTANTS if takes_constant(rule) else (None,))]
IDS = [name if c is None else f"{name}-{c:g}" for name, c in CASES]


def test_rules_are_complete():
    for name, r in RULES.items():
        assert r.name == name
        assert len(r.derivatives) == len(r.derivatives_latex) == len(r.domain) == r.arity
        assert r.arity in (1, 2)
        assert r.symbol and r.expression and r.latex
        assert r.form in ("sum", "product", "power", "negation", "function")
        assert callable(r.apply) and callable(r.apply_array)
        for d in r.domain:
            assert d.low < d.high and all(d.low <= p <= d.high for p in d.away_from)
        for kind, text in r.hints.items():
            assert issubclass(kind, ERRORS) and text and not text.endswith(".")
        if r.form == "function":  # one Value method per function, named like the rule
            assert callable(getattr(Value, name, None)), f"add Value.{name}() for rule {name!r}"


def run_ours(call, xs):
    leaves = [Value(x) for x in xs]
    out = call(*leaves)
    out.backward()
    return out, leaves


def inputs(name):
    return st.tuples(*(domain_floats(d) for d in RULES[name].domain))


@pytest.mark.parametrize("op, c", CASES, ids=IDS)
def test_op_records_its_rule(op, c):
    call = op_call(RULES[op], c)

    @settings(max_examples=10, deadline=None)
    @given(inputs(op))
    def check(xs):
        out, leaves = run_ours(call, xs)
        assert out.op == op
        assert out.rule is RULES[op]
        assert out.inputs == tuple(leaves)
        assert out.arg == c
        # the stored local derivatives are exactly what the chain rule used
        assert [leaf.grad for leaf in leaves] == list(out.local_grads)

    check()


@pytest.mark.parametrize("op, c", CASES, ids=IDS)
def test_op_against_central_differences(op, c):
    call = op_call(RULES[op], c)

    @settings(max_examples=40, deadline=None)
    @given(inputs(op))
    def check(xs):
        out, leaves = run_ours(call, xs)
        numeric = central_difference(lambda v: call(*[Value(x) for x in v]).data, xs)
        for leaf, n in zip(leaves, numeric):
            assert leaf.grad == pytest.approx(n, rel=1e-5, abs=1e-6)

    check()


@pytest.mark.parametrize("op, c", CASES, ids=IDS)
def test_op_against_pytorch(op, c):
    call = op_call(RULES[op], c)
    torch_or_skip()

    @settings(max_examples=40, deadline=None)
    @given(inputs(op))
    def check(xs):
        out, leaves = run_ours(call, xs)
        t_out, t_grads = torch_grads(call, xs)
        assert out.data == pytest.approx(t_out, rel=1e-12, abs=1e-300)
        for leaf, g in zip(leaves, t_grads):
            assert leaf.grad == pytest.approx(g, rel=1e-11, abs=1e-14)

    check()


# --- the derivative formulas, as written, are what apply() computes ------------------------

#: The functions the text formulas may use. Any other name of a rule (a new op's
#: derivative written with another op) is evaluated with that rule's forward pass.
FUNCTIONS = {
    "exp": math.exp, "log": math.log, "tanh": math.tanh, "sin": math.sin, "cos": math.cos,
    "sqrt": math.sqrt, "abs": abs, "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "relu": lambda x: max(x, 0.0), "sign": lambda x: (x > 0) - (x < 0),
}
BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
          ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
          ast.Pow: lambda a, b: a**b}
COMPARE = {ast.Gt: lambda a, b: a > b, ast.Lt: lambda a, b: a < b,
           ast.GtE: lambda a, b: a >= b, ast.LtE: lambda a, b: a <= b}


def evaluate(formula: str, names: dict[str, float]) -> float:
    """The value of a text formula (``^`` for powers, functions as ``tanh(x)``,
    ``1 if x > 0 else 0``), read with ``ast`` node by node: nothing is eval'ed."""

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            return BINARY[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.IfExp):
            return value(node.body) if value(node.test) else value(node.orelse)
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in COMPARE):
            return COMPARE[type(node.ops[0])](value(node.left), value(node.comparators[0]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            name = node.func.id
            f = FUNCTIONS.get(name) or (lambda x: RULES[name].apply(x)[0])
            return f(value(node.args[0]))
        raise ValueError(f"the formula {formula!r} uses {ast.dump(node)}, which the "
                         "notation has no meaning for")

    return value(ast.parse(formula.replace("^", "**"), mode="eval").body)


def test_the_evaluator_reads_the_notation():
    assert evaluate("-a / b^2", {"a": 3.0, "b": 2.0}) == -0.75
    assert evaluate("1 - tanh(x)^2", {"x": 0.0}) == 1.0
    assert evaluate("c * x^(c - 1)", {"x": 2.0, "c": 3.0}) == 12.0
    assert evaluate("1 if x > 0 else 0", {"x": -1.0}) == 0.0
    assert evaluate("sign(x)", {"x": -3.0}) == -1.0
    with pytest.raises(ValueError, match="no meaning"):
        evaluate("x[0]", {"x": 1.0})


@pytest.mark.parametrize("op, c", CASES, ids=IDS)
def test_text_derivatives_equal_the_local_derivatives(op, c):
    rule = RULES[op]

    @settings(max_examples=30, deadline=None)
    @given(inputs(op))
    def check(xs):
        names = dict(zip(rule.operands, xs))
        if c is not None:
            names["c"] = c
        _, *locals_ = rule.apply(*xs, *(() if c is None else (c,)))
        for k, (formula, local) in enumerate(zip(rule.derivatives, locals_)):
            written = evaluate(formula, names)
            assert math.isclose(written, local, rel_tol=1e-12, abs_tol=1e-300), (
                f"{op}: d/d{rule.operands[k]} = {formula} gives {written} at {names}, "
                f"apply() gives {local}")

    check()


# --- every op at the edges of the floats, against PyTorch float64 --------------------------

#: Where PyTorch's float64 results differ from IEEE arithmetic and we follow IEEE:
#: (op, constant, inputs) -> why. Signed zeros are not compared (0.0 == -0.0).
TORCH_DIFFERS = {
    ("pow_const", 0.5, (-0.0,)): "PyTorch computes x ** 0.5 as sqrt(x) and its derivative "
    "as 0.5 * rsqrt(x): -inf at -0.0; pow(-0.0, -0.5) is +inf",
    ("sigmoid", None, (-745.0,)): "PyTorch computes 1 / (1 + exp(745)) = 1 / inf = 0; the "
    "exact value, 4.9e-324, rounds to the smallest float, 5e-324 (and so does the derivative)",
}


def edge_cases():
    for name, c in CASES:
        rule = RULES[name]
        for xs in itertools.product(*(edge_points(rule, k) for k in range(rule.arity))):
            yield name, c, xs


def _ours(name, c, xs):
    try:
        out, leaves = run_ours(op_call(RULES[name], c), xs)
    except ERRORS as error:
        return error
    return [out.data] + [leaf.grad for leaf in leaves]


def _torch(torch, name, c, xs):
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = op_call(RULES[name], c)(*leaves)
    out.backward()
    return [out.item()] + [0.0 if t.grad is None else t.grad.item() for t in leaves]


def test_every_op_at_every_edge_point_matches_pytorch():
    torch = torch_or_skip()
    wrong, refused = [], 0
    for name, c, xs in edge_cases():
        ours = _ours(name, c, xs)
        if isinstance(ours, Exception):  # a domain error (checked in the tests below)
            refused += 1
            continue
        theirs = _torch(torch, name, c, xs)
        if not all(same_float(o, t, rel=1e-12) for o, t in zip(ours, theirs)):
            if (name, c, tuple(map(repr, xs))) not in {
                    (n, k, tuple(map(repr, p))) for n, k, p in TORCH_DIFFERS}:
                wrong.append((name, c, xs, ours, theirs))
    assert not wrong, f"{len(wrong)} edge points differ from PyTorch, e.g. {wrong[:5]}"
    assert refused < 0.2 * sum(1 for _ in edge_cases())  # most points are computed


def test_the_known_differences_from_pytorch_are_still_differences():
    torch = torch_or_skip()
    for name, c, xs in TORCH_DIFFERS:
        ours, theirs = _ours(name, c, xs), _torch(torch, name, c, xs)
        assert not all(same_float(o, t) for o, t in zip(ours, theirs)), (name, c, xs)


def test_every_error_an_op_raises_has_a_hint_that_fits():
    # Each error type an op raises somewhere on the edge grid has its own hint in
    # the rule, and each hint is for an error the op can raise (no stale hints).
    raised = {name: set() for name in RULES}
    for name, c, xs in edge_cases():
        error = _ours(name, c, xs)
        if isinstance(error, Exception):
            raised[name].add(type(error))
            assert f"Fix: {RULES[name].hint(error)}." in str(error)
    for name, rule in RULES.items():
        assert raised[name] == set(rule.hints), (
            f"{name} raises {sorted(e.__name__ for e in raised[name])} on the edge grid "
            f"and has hints for {sorted(e.__name__ for e in rule.hints)}")


# --- division is a true division -----------------------------------------------------------


def test_division_is_exact():
    # the quotient is Python's a / b to the last bit (a * (1/b) is one ulp off for
    # about a quarter of the pairs), and so is d/da = 1/b
    rng = random.Random(0)
    for _ in range(2000):
        a, b = rng.uniform(-10, 10), rng.uniform(-10, 10)
        out, (da, db) = run_ours(lambda x, y: x / y, [a, b])
        assert out.data == a / b and da.grad == 1 / b
        assert db.grad == -(a / b) / b  # PyTorch's formula for -a / b^2


@pytest.mark.parametrize("a, b", [(0.0, 1e-310), (1e-10, 1e-310), (1e-300, 5e-324),
                                  (3.0, 1e300), (-2.0, -5e-324)])
def test_division_by_tiny_or_huge_divisors(a, b):
    out, (da, db) = run_ours(lambda x, y: x / y, [a, b])
    assert out.data == a / b  # 0 and 1e300 for the first two, where a * (1/b) gave nan, inf
    t_out, t_grads = torch_grads(lambda x, y: x / y, [a, b])
    assert out.data == t_out and [da.grad, db.grad] == t_grads


# --- a few more, worked by hand --------------------------------------------------------------


def test_number_base_power():
    # 2 ** x: the base becomes a constant node, the exponent gets 2**x * ln 2
    x = Value(1.5)
    y = 2**x
    y.backward()
    assert y.data == pytest.approx(2**1.5)
    assert x.grad == pytest.approx(2**1.5 * math.log(2))
    assert y.op == "pow" and y.inputs[1] is x and y.inputs[0].data == 2.0


def test_a_derivative_too_large_for_a_float_is_inf_not_an_error():
    # d/dx x^-1 = -x^-2 = -1e600 at 1e-300; d/dx x^0.01 = 0.01 x^-0.99, beyond 1e300 at 5e-324
    for x, c, local in [(1e-300, -1.0, -math.inf), (5e-324, 0.01, math.inf)]:
        y = Value(x) ** c
        assert y.data == x**c and y.local_grads == (local,)
    y = Value(5e-324) ** Value(0.0)  # a^0 = 1 whatever a: d/da = 0, d/db = log(a)
    assert y.data == 1.0 and y.local_grads == (0.0, math.log(5e-324))


def test_nan_propagates_through_the_power_and_sin_cos_of_inf_are_nan():
    assert all(math.isnan(v) for v in RULES["pow"].apply(0.0, math.nan))  # 0 ** nan
    for f in (Value.sin, Value.cos):
        for x in (math.inf, -math.inf):
            y = f(Value(x))
            assert math.isnan(y.data) and math.isnan(y.local_grads[0])


@pytest.mark.parametrize(
    "expr,expected",
    [
        (lambda x: 3 + x, (4.5, 1.0)),
        (lambda x: 3 - x, (1.5, -1.0)),
        (lambda x: 3 * x, (4.5, 3.0)),
        (lambda x: 3 / x, (2.0, -3 / 1.5**2)),
        (lambda x: x + 3, (4.5, 1.0)),
        (lambda x: x - 3, (-1.5, 1.0)),
        (lambda x: x * 3, (4.5, 3.0)),
        (lambda x: x / 3, (0.5, 1 / 3)),
        (lambda x: +x, (1.5, 1.0)),
    ],
)
def test_numbers_on_either_side(expr, expected):
    # expected values are the calculus, worked by hand at x = 1.5
    x = Value(1.5)
    y = expr(x)
    y.backward()
    assert (y.data, x.grad) == pytest.approx(expected)


# --- the README lists exactly the ops of the table -----------------------------------------


def _section(readme: str, heading: str) -> str:
    start = readme.index(heading)
    return readme[start:readme.index("\n#", start + len(heading))]


def test_readme_lists_exactly_the_ops_of_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    functions = {name for name, r in RULES.items() if r.form == "function"}
    operators = {"**" if r.symbol == "^" else r.symbol for r in RULES.values()
                 if r.form != "function"}
    # the API table's row for Value
    row = next(line for line in _section(readme, "## API at a glance").splitlines()
               if "from engine import Value" in line)
    assert set(re.findall(r"\.(\w+)\(\)", row.split("`root.backward()`")[0])) == functions
    assert set(re.findall(r"`([-+*/]+(?: [-+*/]+)*)`", row)[0].split()) == operators
    # the engine section's sentence, and the cheat sheet of "One rule table"
    engine = _section(readme, "## The engine")
    methods = re.search(r"methods\s+(.*?)\. Every", engine, re.S).group(1)
    assert set(re.findall(r"`(\w+)`", methods)) == functions
    sheet = _section(readme, "### One rule table")
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.*) \|$", sheet, re.M)
    assert [r[0] for r in rows] == list(RULES), "the cheat sheet lists the ops in table order"
    for name, expression, derivatives in rows:
        rule = RULES[name]
        written = [d.strip(" `") for d in derivatives.split("|") if d.strip()]
        wanted = [f"d/d{o} = {d}" for o, d in zip(rule.operands, rule.derivatives)]
        assert (expression, written) == (rule.expression, wanted), name

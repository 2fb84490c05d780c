"""Every op in the rule table, its value and gradient, against both oracles.

The parametrisation comes from ``RULES`` itself: an op added to the table
without an entry in OPS below makes ``test_every_rule_is_tested`` fail.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import central_difference, torch_grads

from engine import RULES, Value


def reals(lo, hi, away_from=None):
    s = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if away_from is not None:
        s = s.filter(lambda x: abs(x - away_from) > 1e-3)
    return s


def nonzero(lo, hi):
    return st.one_of(reals(-hi, -lo), reals(lo, hi))


# op -> (call on Values or tensors, strategy per input)
# The same lambda runs on chainrule Values and on torch tensors, so the two are
# compared on exactly the same expression.
OPS = {
    "add": (lambda a, b: a + b, [reals(-5, 5), reals(-5, 5)]),
    "sub": (lambda a, b: a - b, [reals(-5, 5), reals(-5, 5)]),
    "mul": (lambda a, b: a * b, [reals(-5, 5), reals(-5, 5)]),
    "div": (lambda a, b: a / b, [reals(-5, 5), nonzero(0.2, 5)]),
    "neg": (lambda x: -x, [reals(-5, 5)]),
    "pow_const": (lambda x: x**2.5, [reals(0.1, 4)]),
    "pow": (lambda a, b: a**b, [reals(0.1, 4), reals(-3, 3)]),
    "exp": (lambda x: x.exp(), [reals(-5, 5)]),
    "log": (lambda x: x.log(), [reals(0.05, 20)]),
    "tanh": (lambda x: x.tanh(), [reals(-4, 4)]),
    "sigmoid": (lambda x: x.sigmoid(), [reals(-8, 8)]),
    "relu": (lambda x: x.relu(), [reals(-5, 5, away_from=0.0)]),
    "sin": (lambda x: x.sin(), [reals(-6, 6)]),
    "cos": (lambda x: x.cos(), [reals(-6, 6)]),
    "sqrt": (lambda x: x.sqrt(), [reals(0.05, 20)]),
    "abs": (lambda x: x.abs(), [reals(-5, 5, away_from=0.0)]),
}


def test_every_rule_is_tested():
    assert set(OPS) == set(RULES), "add a test entry for each op in engine.ops.RULES"


def test_rules_are_complete():
    for name, r in RULES.items():
        assert r.name == name
        assert len(r.derivatives) == len(r.derivatives_latex) == len(r.domain) == r.arity
        assert r.arity in (1, 2)
        assert r.symbol and r.expression and r.latex
        assert r.form in ("sum", "product", "power", "negation", "function")


def run_ours(call, xs):
    leaves = [Value(x) for x in xs]
    out = call(*leaves)
    out.backward()
    return out, leaves


@pytest.mark.parametrize("op", sorted(OPS))
def test_op_records_its_rule(op):
    call, strategies = OPS[op]

    @settings(max_examples=10, deadline=None)
    @given(st.tuples(*strategies))
    def check(xs):
        out, leaves = run_ours(call, xs)
        assert out.op == op
        assert out.rule is RULES[op]
        assert out.inputs == tuple(leaves)
        # the stored local derivatives are exactly what the chain rule used
        assert [leaf.grad for leaf in leaves] == list(out.local_grads)

    check()


@pytest.mark.parametrize("op", sorted(OPS))
def test_op_against_central_differences(op):
    call, strategies = OPS[op]

    @settings(max_examples=60, deadline=None)
    @given(st.tuples(*strategies))
    def check(xs):
        out, leaves = run_ours(call, xs)
        numeric = central_difference(lambda v: call(*[Value(x) for x in v]).data, xs)
        for leaf, n in zip(leaves, numeric):
            assert leaf.grad == pytest.approx(n, rel=1e-5, abs=1e-6)

    check()


@pytest.mark.parametrize("op", sorted(OPS))
def test_op_against_pytorch(op):
    call, strategies = OPS[op]
    torch_grads(lambda t: t, [0.0])  # skips here, with a reason, if torch is absent

    @settings(max_examples=60, deadline=None)
    @given(st.tuples(*strategies))
    def check(xs):
        out, leaves = run_ours(call, xs)
        t_out, t_grads = torch_grads(call, xs)
        assert out.data == pytest.approx(t_out, rel=1e-12, abs=1e-300)
        for leaf, g in zip(leaves, t_grads):
            assert leaf.grad == pytest.approx(g, rel=1e-11, abs=1e-14)

    check()


# Points where a derivative is defined by convention or is infinite: the values
# PyTorch gives there, checked against PyTorch.
EDGE_CASES = [
    ("relu at 0", lambda x: x.relu(), [0.0]),
    ("abs at 0", lambda x: x.abs(), [0.0]),
    ("sqrt at 0", lambda x: x.sqrt(), [0.0]),
    ("x**0.5 at 0", lambda x: x**0.5, [0.0]),
    ("x**0 at 0", lambda x: x**0, [0.0]),
    ("x**1 at 0", lambda x: x**1, [0.0]),
    ("x**3 at 0", lambda x: x**3, [0.0]),
    ("x**2 negative base", lambda x: x**2, [-1.5]),
    ("x**-3 negative base", lambda x: x**-3, [-1.5]),
    ("0**b, b > 0", lambda a, b: a**b, [0.0, 2.0]),
    ("0**b, b = 0", lambda a, b: a**b, [0.0, 0.0]),
    ("0**b, b = 1", lambda a, b: a**b, [0.0, 1.0]),
    ("sigmoid far left", lambda x: x.sigmoid(), [-800.0]),
    ("sigmoid far right", lambda x: x.sigmoid(), [800.0]),
    ("tanh far", lambda x: x.tanh(), [40.0]),
]


@pytest.mark.parametrize("name,call,xs", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_edge_cases_match_pytorch(name, call, xs):
    out, leaves = run_ours(call, xs)
    t_out, t_grads = torch_grads(call, xs)
    assert out.data == pytest.approx(t_out, rel=1e-12, abs=1e-300)
    for leaf, g in zip(leaves, t_grads):
        if math.isinf(g):
            assert leaf.grad == g
        else:
            assert leaf.grad == pytest.approx(g, rel=1e-12, abs=1e-300)


def test_number_base_power():
    # 2 ** x: the base becomes a constant node, the exponent gets 2**x * ln 2
    x = Value(1.5)
    y = 2**x
    y.backward()
    assert y.data == pytest.approx(2**1.5)
    assert x.grad == pytest.approx(2**1.5 * math.log(2))
    assert y.op == "pow" and y.inputs[1] is x and y.inputs[0].data == 2.0


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

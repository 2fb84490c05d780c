"""Random expression DAGs with shared sub-expressions, against PyTorch and central differences."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracles import central_difference, torch_grads
from random_graphs import build, rule_programs

from engine import Value

# Ops that are safe on any real input, written once for Values and tensors alike.
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1),
    lambda a, b: (a * a + 1) ** (b.tanh()),
]
UNARY = [
    lambda x: x.tanh(),
    lambda x: x.sigmoid(),
    lambda x: x.sin(),
    lambda x: x.cos(),
    lambda x: -x,
    lambda x: (x * x + 1).log(),
    lambda x: (x * x + 0.5).sqrt(),
    lambda x: x.tanh().exp(),
    lambda x: x**2,
    lambda x: x.relu(),
    lambda x: x.abs(),
]
numbers = st.floats(-2, 2, allow_nan=False)


@st.composite
def programs(draw):
    """A list of instructions; each may reuse any earlier node, or mix in a number."""
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(numbers, min_size=n_leaves, max_size=n_leaves))
    steps = []
    for i in range(draw(st.integers(1, 14))):
        available = n_leaves + i
        kind = draw(st.sampled_from(["unary", "binary", "number"]))
        j = draw(st.integers(0, available - 1))
        if kind == "unary":
            steps.append(("unary", draw(st.integers(0, len(UNARY) - 1)), j))
        elif kind == "binary":
            k = draw(st.integers(0, available - 1))
            steps.append(("binary", draw(st.integers(0, len(BINARY) - 1)), j, k))
        else:
            c = draw(numbers)
            steps.append(("number", draw(st.integers(0, 3)), j, c, draw(st.booleans())))
    return leaves, steps


def run_steps(steps, leaves):
    """Run a program on Values or on tensors; returns every node made."""
    nodes = list(leaves)
    for step in steps:
        if step[0] == "unary":
            nodes.append(UNARY[step[1]](nodes[step[2]]))
        elif step[0] == "binary":
            nodes.append(BINARY[step[1]](nodes[step[2]], nodes[step[3]]))
        else:
            _, which, j, c, left = step
            x = nodes[j]
            if which == 0:
                nodes.append(c + x if left else x + c)
            elif which == 1:
                nodes.append(c - x if left else x - c)
            elif which == 2:
                nodes.append(c * x if left else x * c)
            else:
                nodes.append(c / (x * x + 1) if left else x / (c * c + 1))
    return nodes


def evaluate(steps, leaves):
    """The program's root: the last node plus the few before it, so most nodes are used."""
    nodes = run_steps(steps, leaves)
    root = nodes[-1]
    for node in nodes[-4:-1]:
        root = root * 0.5 + node
    return root


KINKED = {UNARY.index(f) for f in UNARY if f.__code__.co_names in (("relu",), ("abs",))}


def distance_to_kink(steps, xs):
    """How close any relu/abs input comes to 0 (where central differences break down)."""
    nodes = run_steps(steps, [Value(x) for x in xs])
    return min(
        (abs(nodes[s[2]].data) for s in steps if s[0] == "unary" and s[1] in KINKED),
        default=float("inf"),
    )


@settings(max_examples=150, deadline=None)
@given(programs())
def test_random_dags_match_pytorch(program):
    leaves_data, steps = program
    leaves = [Value(x) for x in leaves_data]
    out = evaluate(steps, leaves)
    out.backward()
    t_out, t_grads = torch_grads(lambda *t: evaluate(steps, t), leaves_data)
    assert out.data == pytest.approx(t_out, rel=1e-10, abs=1e-12)
    assert [v.grad for v in leaves] == pytest.approx(t_grads, rel=1e-9, abs=1e-10)


@settings(max_examples=100, deadline=None)
@given(programs())
def test_random_dags_match_central_differences(program):
    leaves_data, steps = program
    leaves = [Value(x) for x in leaves_data]
    out = evaluate(steps, leaves)
    out.backward()
    numeric = central_difference(lambda v: evaluate(steps, [Value(x) for x in v]).data,
                                 leaves_data)
    # a relu/abs input within h of its kink makes the numeric slope meaningless
    assume(distance_to_kink(steps, leaves_data) > 1e-3)
    for leaf, n in zip(leaves, numeric):
        assert leaf.grad == pytest.approx(n, rel=1e-5, abs=1e-5)


def _root(nodes):
    root = nodes[-1]
    for node in nodes[-4:-1]:
        root = root * 0.5 + node
    return root


@settings(max_examples=150, deadline=None)
@given(rule_programs())
def test_random_graphs_of_every_op_match_pytorch(program):
    # every op of the rule table (a new one included, with no edit here), each
    # operand kept inside its op's domain, nodes shared and reused
    leaves = [Value(x) for x in program[0]]
    out = _root(build(program, leaves))
    out.backward()
    t_out, t_grads = torch_grads(lambda *t: _root(build(program, list(t))), program[0])
    assert out.data == pytest.approx(t_out, rel=1e-10, abs=1e-12)
    assert [v.grad for v in leaves] == pytest.approx(t_grads, rel=1e-8, abs=1e-10)

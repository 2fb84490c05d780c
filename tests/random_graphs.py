"""Random small graphs for property tests.

``programs``: one program of a few safe ops, run on Values, floats or torch.
``rule_programs``: programs over every op of the rule table, built on Values.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st
from oracles import CONSTANTS, op_call, takes_constant

from engine import RULES, Value

UNARY = {
    "tanh": (lambda v: v.tanh(), math.tanh, lambda t: t.tanh()),
    "sin": (lambda v: v.sin(), math.sin, lambda t: t.sin()),
    "neg": (lambda v: -v, lambda x: -x, lambda t: -t),
    "sq": (lambda v: v**2, lambda x: x**2, lambda t: t**2),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: 1 / (1 + math.exp(-x)), lambda t: t.sigmoid()),
}
BINARY = {
    "add": (lambda a, b: a + b,) * 3,
    "sub": (lambda a, b: a - b,) * 3,
    "mul": (lambda a, b: a * b,) * 3,
}


@st.composite
def programs(draw):
    """(leaf values, instructions): each instruction is (op, i[, j]) on earlier results."""
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(st.integers(1, 9))):
        size = n_leaves + k
        if draw(st.booleans()):
            op = draw(st.sampled_from(sorted(BINARY)))
            steps.append((op, draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))))
        else:
            steps.append((draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, size - 1))))
    return leaves, steps


def run(program, leaves, engine: int):
    """Run the program on ``leaves`` (0: Values, 1: floats, 2: torch); return the last result."""
    _, steps = program
    nodes = list(leaves)
    for op, *args in steps:
        table = UNARY if op in UNARY else BINARY
        nodes.append(table[op][engine](*(nodes[i] for i in args)))
    return nodes[-1]


# --- graphs of every op in the rule table -----------------------------------------------


@st.composite
def rule_programs(draw, max_steps: int = 30):
    """(leaf values, steps) over every op of ``engine.ops.RULES``: each step is
    ``(op, indices of its operands among the earlier results, constant or None)``.
    Operands are drawn from every earlier result, so nodes are shared and reused
    (``a * a`` too)."""
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(st.floats(-2, 2), min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(st.integers(1, max_steps))):
        rule = RULES[draw(st.sampled_from(sorted(RULES)))]
        operands = tuple(draw(st.integers(0, n_leaves + k - 1)) for _ in range(rule.arity))
        c = draw(st.sampled_from(CONSTANTS)) if takes_constant(rule) else None
        steps.append((rule.name, operands, c))
    return leaves, steps


def _number(x) -> float:
    return x.data if isinstance(x, Value) else x.item()  # a Value or a torch tensor


def into_domain(x, domain):
    """``x`` itself if its value is inside the operand's domain, else a node made from it
    that is (``low + (high - low) * sigmoid(x)``, moved off the points to avoid)."""
    v = _number(x)
    if domain.low <= v <= domain.high and all(abs(v - p) > domain.margin
                                              for p in domain.away_from):
        return x
    y = domain.low + (domain.high - domain.low) * x.sigmoid()
    if any(abs(_number(y) - p) <= domain.margin for p in domain.away_from):
        y = y + 2 * domain.margin
    return y


def build(program, leaves):
    """Run a ``rule_programs`` program on Value leaves (or torch tensors); returns every
    node made. The same program on equal leaves builds the same graph, node for node."""
    _, steps = program
    nodes = list(leaves)
    for name, operands, c in steps:
        rule = RULES[name]
        inputs = [into_domain(nodes[i], d) for i, d in zip(operands, rule.domain)]
        nodes.append(op_call(rule, c)(*inputs))
    return nodes

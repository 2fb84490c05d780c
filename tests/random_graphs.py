"""Random small graphs for property tests: one program, run on Values, floats or torch."""

from __future__ import annotations

import math

from hypothesis import strategies as st

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

"""The engine's fast paths give exactly what the plain paths give.

* Numbers mixed with Values take a quick path to a constant leaf: it must be
  the node ``Value(number)`` would be.
* ``backward()`` applies the chain rule while Kahn's algorithm releases the
  nodes, without building the order list: it must give the grads of the
  textbook loop over ``backward_order`` (``engine.backward.backward_textbook``),
  bit for bit.
"""

import random
import struct
from fractions import Fraction

import pytest
from hypothesis import given, settings
from random_graphs import build, rule_programs

from engine import Value, backward_order, backward_textbook
from engine.backward import backward
from engine.value import scope


@pytest.mark.parametrize("number", [2, 2.5, -3.0, Fraction(1, 3), 10**20])
def test_constant_nodes_are_plain_leaves(number):
    x = Value(1.5, label="x")
    owner = object()
    with scope(owner):
        for node in (x * number, number * x, x + number, number - x, x / number):
            const = [v for v in node.inputs if v is not x]
            for c in const:
                plain = Value(number)
                assert (c.data, c.grad, c.label, c.op, c.inputs, c.arg) == \
                    (plain.data, 0.0, "", "", (), None)
                assert type(c.data) is float and c.scope == (owner,) and c.is_leaf()


def test_numpy_scalars_are_constants_too():
    np = pytest.importorskip("numpy")
    x = Value(2.0)
    y = x * np.float64(3.0) + np.int64(1)
    y.backward()
    assert y.data == 7.0 and x.grad == 3.0


def test_every_number_becomes_a_plain_float():
    # numpy.float64 is a float subclass: kept as it is, it would spread through
    # every node computed from it (numpy warnings instead of Python's float
    # arithmetic, "np.float64(3.0)" in messages).
    np = pytest.importorskip("numpy")
    x = Value(2.0)
    for number in (np.float64(3.0), np.float32(0.5), np.int64(4), Fraction(1, 4), 2**60):
        assert type(Value(number).data) is float, number
        for node in (x * number, number * x, x - number):
            assert type(node.data) is float, (number, node)
            assert all(type(v.data) is float for v in node.inputs), number
        if number != 2**60:  # 2.0 ** 2**60 overflows
            assert type((x ** number).data) is float


def _random_graph(rng, leaves):
    nodes = list(leaves)
    for _ in range(rng.randint(1, 60)):
        a, b = rng.choice(nodes), rng.choice(nodes[-5:])
        op = rng.choice(["add", "mul", "sub", "tanh", "sq", "self"])
        if op == "add":
            nodes.append(a + b)
        elif op == "mul":
            nodes.append(a * b)
        elif op == "sub":
            nodes.append(a - b)
        elif op == "tanh":
            nodes.append(a.tanh())
        else:
            nodes.append(a ** 2 if op == "sq" else a * a)
    return nodes[-1]


def _bits(grads):
    return [struct.pack("<d", g) for g in grads]  # equal bits: -0.0 is not 0.0 here


@pytest.mark.parametrize("seed", range(30))
def test_backward_equals_the_textbook_loop(seed):
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-1, 1), label=f"l{i}") for i in range(4)]
    root = _random_graph(rng, leaves)
    interior = [n for n in backward_order(root) if not n.is_leaf()]
    for _ in range(2):  # twice: leaves accumulate, interior grads are reset
        root.backward()
    fast = _bits(n.grad for n in leaves + interior)
    for n in leaves:
        n.grad = 0.0
    for _ in range(2):
        backward_textbook(root)
    assert _bits(n.grad for n in leaves + interior) == fast


@settings(max_examples=300, deadline=None)
@given(rule_programs())
def test_backward_equals_the_textbook_loop_on_graphs_of_every_op(program):
    # The same graph built twice from the same program, one pass each way, twice
    # (leaves accumulate, interior grads are reset); the root uses most nodes.
    grads = []
    for run in (backward, backward_textbook):
        leaves = [Value(x) for x in program[0]]
        nodes = build(program, leaves)
        root = nodes[-1]
        for node in nodes[-4:-1]:
            root = root * 0.5 + node
        for _ in range(2):
            run(root)
        grads.append(_bits(n.grad for n in leaves + backward_order(root)))
    assert grads[0] == grads[1]


def test_backward_of_a_leaf_and_a_deep_chain():
    x = Value(3.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0
    v = x
    for _ in range(200_000):
        v = v * 1.0 + 0.0
    x.grad = 0.0
    v.backward()
    assert x.grad == 1.0
    backward_textbook(v)  # the textbook loop needs no recursion either
    assert x.grad == 2.0

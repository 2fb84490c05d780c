"""The engine's fast paths give exactly what the plain paths give.

* Numbers mixed with Values take a quick path to a constant leaf: it must be
  the node ``Value(number)`` would be.
* ``backward()`` applies the chain rule while Kahn's algorithm releases the
  nodes, without building the order list: it must give the grads of the
  textbook loop over ``backward_order``.
"""

import random
from fractions import Fraction

import pytest

from engine import Value, backward_order
from engine.value import scope


@pytest.mark.parametrize("number", [2, 2.5, -3.0, True, Fraction(1, 3), 10**20])
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
    for number in (np.float64(3.0), np.float32(0.5), np.int64(4), np.bool_(True),
                   Fraction(1, 4), True, 2**60):
        assert type(Value(number).data) is float, number
        for node in (x * number, number * x, x - number):
            assert type(node.data) is float, (number, node)
            assert all(type(v.data) is float for v in node.inputs), number
        if number != 2**60:  # 2.0 ** 2**60 overflows
            assert type((x ** number).data) is float


def _textbook_backward(root):
    """The plain version: the order as a list, reset, seed, one loop."""
    order = backward_order(root)
    for node in order:
        if not node.is_leaf():
            node.grad = 0.0
    root.grad += 1.0
    for node in order:
        for inp, local in zip(node.inputs, node.local_grads):
            inp.grad += local * node.grad


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


@pytest.mark.parametrize("seed", range(30))
def test_backward_equals_the_textbook_loop(seed):
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-1, 1), label=f"l{i}") for i in range(4)]
    root = _random_graph(rng, leaves)
    interior = [n for n in backward_order(root) if not n.is_leaf()]
    for _ in range(2):  # twice: leaves accumulate, interior grads are reset
        root.backward()
    fast = [n.grad for n in leaves], [n.grad for n in interior]
    for n in leaves:
        n.grad = 0.0
    for _ in range(2):
        _textbook_backward(root)
    assert ([n.grad for n in leaves], [n.grad for n in interior]) == fast


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

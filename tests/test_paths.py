"""gradient_paths: the chain rule as a sum over paths, on hand-made and random graphs."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import central_difference, torch_or_skip
from random_graphs import programs, run

from engine import Value, draw_graph
from engine.teach.draw import HIGHLIGHT
from engine.teach.paths import GradientPath, count_paths, gradient_paths


def close(a: float, b: float, tol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_path_products_sum_to_the_gradient(program):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
    root = run(program, values, 0)
    root.backward()
    for leaf in values:
        paths = gradient_paths(root, leaf) if leaf is root or count_paths(root, leaf) else []
        assert len(paths) == count_paths(root, leaf)
        total = math.fsum(p.product for p in paths)
        assert close(total, leaf.grad), (leaf, total, leaf.grad)
        for p in paths:
            assert p.nodes[0] is leaf and p.nodes[-1] is root
            assert len(p.locals) == len(p.positions) == len(p.nodes) - 1 == len(p)
            for k, (node, position) in enumerate(p.edges):
                assert node.inputs[position] is p.nodes[k]
                assert p.locals[k] == node.local_grads[position]
            assert close(p.product, math.prod(p.locals))
    # paths are distinct (as edge sequences)
    for leaf in values:
        if count_paths(root, leaf):
            keys = [tuple((id(n), i) for n, i in p.edges) for p in gradient_paths(root, leaf)]
            assert len(set(keys)) == len(keys)


@settings(max_examples=40, deadline=None)
@given(programs())
def test_path_sums_match_central_differences(program):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
    root = run(program, values, 0)
    if root.is_leaf():
        return
    root.backward()
    numeric = central_difference(lambda xs: run(program, xs, 1), program[0])
    for leaf, expected in zip(values, numeric):
        total = sum(p.product for p in gradient_paths(root, leaf)) if count_paths(root, leaf) else 0.0
        assert math.isclose(total, expected, rel_tol=1e-5, abs_tol=1e-6)


def test_path_sums_match_torch_float64():
    torch = torch_or_skip()
    program = ([0.3, -0.7, 1.1], [("mul", 0, 1), ("tanh", 3), ("add", 4, 0), ("mul", 5, 2),
                                  ("sq", 6), ("sub", 7, 3), ("sigmoid", 8), ("mul", 9, 4)])
    values = [Value(x) for x in program[0]]
    root = run(program, values, 0)
    root.backward()
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in program[0]]
    run(program, leaves, 2).backward()
    for v, t in zip(values, leaves):
        total = sum(p.product for p in gradient_paths(root, v))
        assert close(total, t.grad.item(), 1e-12)


# --- hand-made graphs -----------------------------------------------------------


def test_paths_by_hand():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    L = c + a
    paths = gradient_paths(L, a)
    # a -> c (d(ab)/da = b = -3) -> L (1); and a -> L directly (1)
    assert [p.nodes for p in paths] == [(a, c, L), (a, L)]
    assert [p.locals for p in paths] == [(-3.0, 1.0), (1.0,)]
    assert [p.positions for p in paths] == [(0, 0), (1,)]
    assert [p.product for p in paths] == [-3.0, 1.0]
    assert [p.edges for p in paths] == [((c, 0), (L, 0)), ((L, 1),)]


def test_square_gives_two_paths():
    a = Value(3.0, label="a")
    y = a * a
    paths = gradient_paths(y, a)
    assert [p.positions for p in paths] == [(0,), (1,)]
    assert [p.product for p in paths] == [3.0, 3.0]  # 3 + 3 = d(a^2)/da = 6


def test_root_to_itself_and_interior_nodes():
    a = Value(0.5, label="a")
    h = a.tanh()
    y = h * h + h
    y.backward()
    [p] = gradient_paths(y, y)
    assert p.nodes == (y,) and p.product == 1.0 and len(p) == 0
    paths = gradient_paths(y, h)  # an interior node: 3 paths (h twice into *, once into +)
    assert len(paths) == 3 and close(sum(q.product for q in paths), h.grad)
    assert all(q.nodes[0] is h for q in paths)


def test_str_of_a_path():
    x, w = Value(2.0, label="x"), Value(0.5, label="w")
    y = (x * w).tanh()
    y.label = "y"
    [p] = gradient_paths(y, w)
    # d(xw)/dw = x = 2, d tanh(u)/du = 1 - tanh(1)^2 = 0.419974..., product 0.839948...
    # the unlabelled product is named as every tool names it: x * w
    assert str(p) == "w -> x * w -> y: 2 * 0.42 = 0.8399"
    assert repr(p).startswith("GradientPath(w -> x * w -> y")


def test_str_of_a_path_defines_its_short_names():
    x = Value(0.5, label="x")
    long = x.tanh().sigmoid().exp().sin().cos().tanh()  # a name too long to write in place
    y = long * 2
    y.label = "y"
    [p] = gradient_paths(y, x)
    # names grow tanh(x) (7 chars) ... sin(exp(sigmoid(tanh(x)))) (26); the cos would be
    # 31 > 28 characters: it is node 5 counting from x (v0), so v5
    assert " -> sin(exp(sigmoid(tanh(x)))) -> v5 -> tanh(v5) -> y: " in str(p)
    assert str(p).endswith("; where v5 = cos(sin(exp(sigmoid(tanh(x)))))")
    assert str(p).count("where") == 1


def test_negative_factors_are_parenthesised():
    x = Value(2.0, label="x")
    y = -(x * -3.0)
    y.label = "y"
    [p] = gradient_paths(y, x)
    assert str(p) == "x -> x * (-3) -> y: (-3) * (-1) = 3"


def test_too_many_paths_is_counted_not_enumerated():
    x = Value(1.0, label="x")
    y = x
    for _ in range(60):
        y = y * y  # each level doubles the number of paths: 2**60
    assert count_paths(y, x) == 2**60
    with pytest.raises(ValueError, match=rf"{2**60} paths .* more than limit=10000"):
        gradient_paths(y, x)
    with pytest.raises(ValueError, match="limit=3"):
        gradient_paths(x * x * x * x, x, limit=3)
    assert len(gradient_paths(x * x * x * x, x, limit=4)) == 4


def test_deep_chain_has_one_long_path():
    x = Value(0.1, label="x")
    y = x
    for _ in range(100_000):
        y = y + 0.0
    [p] = gradient_paths(y, x)
    assert len(p.nodes) == 100_001 and p.product == 1.0


def test_errors():
    a = Value(1.0)
    y = a * 2
    with pytest.raises(ValueError, match="not in the graph"):
        gradient_paths(y, Value(1.0))
    with pytest.raises(TypeError, match="leaf must be a Value"):
        gradient_paths(y, 1.0)
    with pytest.raises(TypeError, match="root must be a Value"):
        gradient_paths([y], a)
    with pytest.raises(ValueError, match="limit"):
        gradient_paths(y, a, limit=-1)
    assert isinstance(gradient_paths(y, a)[0], GradientPath)


# --- highlight draws exactly the path edges -------------------------------------

EDGE = re.compile(r'^\s*\w+ -> \w+ \[id="(\w+)"(.*)\];$')


@settings(max_examples=60, deadline=None)
@given(programs(), st.integers(0, 3))
def test_highlight_draws_exactly_the_path_edges(program, which):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(program[0])]
    root = run(program, values, 0)
    leaf = values[which % len(values)]
    if not count_paths(root, leaf):
        return
    g = draw_graph(root, highlight=leaf)
    expected = set()
    for p in gradient_paths(root, leaf):
        for node, position in p.edges:
            expected.add(g.edge_id(node, position))  # input -> op
            expected.add(g.edge_id(node))  # op -> result
    drawn = set()
    for line in g.source.splitlines():
        m = EDGE.match(line)
        if m and HIGHLIGHT in m.group(2):
            drawn.add(m.group(1))
            if "_" in m.group(1):  # input -> op: carries the local derivative
                assert "label=<" in m.group(2)
        elif m:
            assert "label=<" not in m.group(2)
    assert drawn == expected

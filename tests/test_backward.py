"""backward(): reuse, structure, semantics across calls, deep graphs, no_grad."""

import math

import pytest
from oracles import central_difference, torch_grads

from engine import Value, backward_order, backward_textbook, no_grad
from engine.backward import backward


def test_a_plus_a_collects_two_contributions():
    a = Value(3.0)
    b = a + a
    assert b.inputs == (a, a)
    b.backward()
    assert a.grad == 2.0


def test_a_times_a():
    a = Value(3.0)
    b = a * a
    assert b.inputs == (a, a) and b.local_grads == (3.0, 3.0)
    b.backward()
    assert a.grad == 6.0  # d(a^2)/da = 2a


def test_reuse_b_equals_a_plus_a_then_b_times_b():
    # c = (a + a)^2 = 4a^2, so dc/da = 8a
    a = Value(-1.25)
    b = a + a
    c = b * b
    c.backward()
    assert a.grad == 8 * -1.25
    assert b.grad == 2 * b.data


def test_diamond():
    # x feeds two branches that meet again: d/dx [sin(x) * exp(x)] = (cos x + sin x) e^x
    x = Value(0.7)
    y = x.sin() * x.exp()
    y.backward()
    expected = (math.cos(0.7) + math.sin(0.7)) * math.exp(0.7)
    assert x.grad == pytest.approx(expected, rel=1e-14)


def test_fan_out_matches_both_oracles():
    def f(x, y):
        s = x * y
        return s.tanh() + s * x + (s + y).sigmoid() - s / (y * y + 1)

    xs = [0.3, -1.1]
    leaves = [Value(v) for v in xs]
    out = f(*leaves)
    out.backward()
    numeric = central_difference(lambda v: f(*[Value(t) for t in v]).data, xs)
    assert [v.grad for v in leaves] == pytest.approx(numeric, rel=1e-6)
    t_out, t_grads = torch_grads(f, xs)
    assert out.data == pytest.approx(t_out, rel=1e-14)
    assert [v.grad for v in leaves] == pytest.approx(t_grads, rel=1e-13)


def test_node_used_by_several_roots():
    a = Value(2.0)
    shared = a * 3
    r1 = shared + 1
    r2 = shared * shared
    r1.backward()
    assert (a.grad, shared.grad) == (3.0, 1.0)
    a.grad = 0.0
    r2.backward()
    # interior grads show d(latest root)/d(node): d(s^2)/ds = 2s = 12
    assert shared.grad == 12.0
    assert a.grad == 36.0


def test_backward_twice_leaves_accumulate_interior_do_not():
    x = Value(1.5)
    h = x * x
    y = h + x
    y.backward()
    assert (x.grad, h.grad, y.grad) == (4.0, 1.0, 1.0)
    y.backward()
    assert x.grad == 8.0  # leaf: accumulated
    assert (h.grad, y.grad) == (1.0, 1.0)  # interior: reset, then the same


def test_zero_grad_resets_everything_upstream():
    x = Value(1.5)
    y = (x * x).exp()
    y.backward()
    y.zero_grad()
    assert all(node.grad == 0.0 for node in backward_order(y))


def test_leaf_root():
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0
    backward_textbook(x)  # the same semantics: a leaf root accumulates its seed
    assert x.grad == 2.0


def test_the_textbook_loop_has_backwards_semantics():
    # c = a*b + a at a = 2, b = -3: dc/da = b + 1 = -2, dc/db = a = 2; run twice
    a, b = Value(2.0), Value(-3.0)
    ab = a * b
    c = ab + a
    backward_textbook(c)
    backward_textbook(c)
    assert (a.grad, b.grad) == (-4.0, 4.0)  # leaves accumulate
    assert (ab.grad, c.grad) == (1.0, 1.0)  # interior grads are reset, the root seeded once


@pytest.mark.parametrize("run", [backward_order, backward_textbook, backward])
@pytest.mark.parametrize("bad", [3, 2.5, None, [Value(1.0)]])
def test_a_root_that_is_not_a_value_is_a_type_error_naming_the_call(run, bad):
    with pytest.raises(TypeError, match=rf"{run.__name__}\(\) needs a Value.*, not ") as info:
        run(bad)
    assert repr(bad) in str(info.value)


def test_order_puts_every_node_after_all_its_users():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c + b.tanh()
    order = backward_order(e)
    position = {id(n): i for i, n in enumerate(order)}
    assert order[0] is e
    assert len(order) == len({id(n) for n in order})
    for node in order:
        for inp in node.inputs:
            assert position[id(inp)] > position[id(node)]


@pytest.mark.slow
def test_a_million_deep_chain():
    # x -> x*1.0001 + 0.0001, a million times: d/dx = 1.0001^n, no recursion needed
    n = 1_000_000
    x = Value(0.5)
    c, d = Value(1.0001), Value(0.0001)
    y = x
    for _ in range(n):
        y = y * c + d
    y.backward()
    assert x.grad == pytest.approx(1.0001**n, rel=1e-9)
    del y  # no reference cycles: dropping the root frees the chain without the collector


def test_no_grad_builds_no_graph():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
    assert y.data == 5.0
    assert y.op == "" and y.inputs == () and y.is_leaf()
    z = x * x  # recording is back on
    assert z.inputs == (x, x)


def test_no_grad_restores_state_after_an_error():
    x = Value(-1.0)
    with pytest.raises(ValueError), no_grad():
        x.log()
    assert (x * x).inputs == (x, x)


def test_nan_and_inf_behave_as_ieee():
    nan, inf = Value(math.nan), Value(math.inf)
    assert math.isnan((nan + 1).data)
    assert (inf + 1).data == math.inf
    assert math.isnan((inf - inf).data)
    assert (-inf).exp().data == 0.0
    assert math.isnan(nan.relu().data)
    y = nan * Value(2.0)
    y.backward()
    assert math.isnan(y.data)

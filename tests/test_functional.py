"""softmax, log_softmax, logsumexp and softplus: values and gradients against PyTorch
float64 and central differences, stability for huge inputs, and errors."""

from __future__ import annotations

import math

import pytest
from oracles import central_difference, torch_or_skip

from engine import Value
from nn import log_softmax, logsumexp, softmax, softplus

INPUTS = [
    [0.5, -1.0, 2.0],
    [3.0],
    [1000.0, 1000.0, 999.0],      # exp would overflow without the max shift
    [-1000.0, -1001.0, -999.5, 0.0],
]
COEFFS = [1.0, -2.0, 0.5, 3.0]


def _ours(fn, xs):
    leaves = [Value(x) for x in xs]
    out = fn(leaves)
    outs = out if isinstance(out, list) else [out]
    total = outs[0] * COEFFS[0]
    for k, o in enumerate(outs[1:], start=1):
        total = total + o * COEFFS[k]
    total.backward()
    return [o.data for o in outs], [v.grad for v in leaves]


def _theirs(torch, name, xs):
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    fns = {"softmax": lambda t: torch.softmax(t, 0), "log_softmax": lambda t: torch.log_softmax(t, 0),
           "logsumexp": lambda t: torch.logsumexp(t, 0).reshape(1)}
    out = fns[name](t)
    (out * torch.tensor(COEFFS[: len(out)], dtype=torch.float64)).sum().backward()
    return out.tolist(), t.grad.tolist()


FUNCTIONS = {"softmax": softmax, "log_softmax": log_softmax, "logsumexp": logsumexp}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("xs", INPUTS)
def test_matches_torch(name, xs):
    torch = torch_or_skip()
    values, grads = _ours(FUNCTIONS[name], xs)
    t_values, t_grads = _theirs(torch, name, xs)
    assert values == pytest.approx(t_values, abs=1e-10, rel=1e-12)
    assert grads == pytest.approx(t_grads, abs=1e-10)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("xs", INPUTS[:2] + [[0.1, 0.2, 0.3, -0.4]])
def test_gradients_match_central_differences(name, xs):
    def f(values):
        out = FUNCTIONS[name]([Value(v) for v in values])
        outs = out if isinstance(out, list) else [out]
        return sum(o.data * c for o, c in zip(outs, COEFFS))

    _, grads = _ours(FUNCTIONS[name], xs)
    assert grads == pytest.approx(central_difference(f, xs), abs=1e-6)


def test_softmax_is_a_distribution_even_for_huge_inputs():
    probs = softmax([Value(1000.0), Value(0.0), Value(-1000.0)])
    assert sum(p.data for p in probs) == pytest.approx(1.0)
    assert probs[0].data == pytest.approx(1.0) and probs[2].data == 0.0
    assert log_softmax([Value(1000.0), Value(0.0)])[1].data == pytest.approx(-1000.0)
    assert logsumexp([Value(1000.0), Value(1000.0)]).data == pytest.approx(1000 + math.log(2))


def test_numbers_are_accepted_as_constants():
    assert [p.data for p in softmax([0.0, 0.0])] == [0.5, 0.5]


@pytest.mark.parametrize("x", [-800.0, -30.0, -1.5, 0.0, 0.7, 30.0, 800.0])
def test_softplus_matches_torch_and_is_stable(x):
    torch = torch_or_skip()
    v = Value(x)
    out = softplus(v)
    out.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    # logaddexp(x, 0) = log(e^x + 1), exact and stable (softplus cuts off linearly at 20)
    t_out = torch.logaddexp(t, torch.tensor(0.0, dtype=torch.float64))
    t_out.backward()
    # without log1p, log(1 + tiny) is exact only to ~1e-16 absolute: fine for a loss
    assert out.data == pytest.approx(t_out.item(), rel=1e-12, abs=1e-15)
    assert v.grad == pytest.approx(t.grad.item(), abs=1e-12)


def test_softplus_gradient_at_zero_is_one_half():
    v = Value(0.0)
    softplus(v).backward()
    assert v.grad == 0.5
    assert central_difference(lambda xs: softplus(Value(xs[0])).data, [0.0])[0] == pytest.approx(0.5)


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        softmax([])
    with pytest.raises(TypeError, match="list of Values"):
        softmax(Value(1.0))
    with pytest.raises(TypeError, match="entry 2"):
        log_softmax([Value(1.0), "2"])
    with pytest.raises(TypeError, match="softplus needs a Value"):
        softplus(1.0)


INF = float("inf")


@pytest.mark.parametrize("xs", [[INF, INF], [-INF, -INF], [-INF], [INF, 1.0], [-INF, 1.0],
                                [INF, -INF], [INF]])
def test_logsumexp_of_infinities_matches_torch(xs):
    torch = torch_or_skip()
    leaves = [Value(x) for x in xs]
    out = logsumexp(leaves)
    out.backward()
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    expected = torch.logsumexp(t, 0)
    expected.backward()
    assert out.data == expected.item()  # +inf or -inf, never nan
    for ours, theirs in zip([v.grad for v in leaves], t.grad.tolist()):
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), (xs, ours, theirs)


def test_logsumexp_of_all_infinities_without_torch():
    assert logsumexp([Value(INF), Value(INF)]).data == INF
    assert logsumexp([Value(-INF), Value(-INF)]).data == -INF

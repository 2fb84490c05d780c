"""Every loss against its PyTorch float64 counterpart (value and gradient with respect
to each output) and central differences; shapes, reductions, clamping and errors."""

from __future__ import annotations

import random

import pytest
from oracles import central_difference, torch_or_skip

from engine import Value
from nn import (
    LOSSES,
    MLP,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    logistic_loss,
    mse_loss,
)

rng = random.Random(0)
SHAPE = (3, 2)  # a batch of 3 samples with 2 outputs each


def _grid(make):
    return [[make() for _ in range(SHAPE[1])] for _ in range(SHAPE[0])]


def _torch_counterparts(torch):
    F = torch.nn.functional
    return {
        "mse": lambda o, t, r: F.mse_loss(o, t, reduction=r),
        "bce": lambda o, t, r: F.binary_cross_entropy(o, t, reduction=r),
        "bce_with_logits": lambda o, t, r: F.binary_cross_entropy_with_logits(o, t, reduction=r),
        "hinge": lambda o, t, r: getattr(torch.clamp(1 - o * t, min=0), r)(),
        "logistic": lambda o, t, r: F.soft_margin_loss(o, t, reduction=r),
    }


# name -> (outputs, targets): outputs kept away from kinks (hinge at y*s = 1)
ELEMENTWISE = {
    "mse": (_grid(lambda: rng.uniform(-2, 2)), _grid(lambda: rng.uniform(-2, 2))),
    "bce": (_grid(lambda: rng.uniform(0.05, 0.95)), [[0.0, 1.0], [1.0, 0.3], [0.0, 0.8]]),
    "bce_with_logits": ([[-3.0, 0.0], [2.5, -40.0], [700.0, -700.0]],
                        [[0.0, 1.0], [1.0, 0.25], [0.0, 1.0]]),
    "hinge": ([[0.3, -2.0], [1.7, 0.2], [-0.6, 1.2]], [[1, -1], [1, 1], [-1, -1]]),
    "logistic": ([[0.3, -2.0], [1.7, 0.0], [-30.0, 50.0]], [[1, -1], [1, 1], [-1, -1]]),
}


def _leaves(rows):
    return [[Value(float(x)) for x in row] for row in rows]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_losses_match_torch(name, reduction):
    torch = torch_or_skip()
    outputs, targets = ELEMENTWISE[name]
    leaves = _leaves(outputs)
    loss = LOSSES[name](leaves, targets, reduction=reduction)
    loss.backward()
    t_out = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
    t_loss = _torch_counterparts(torch)[name](
        t_out, torch.tensor(targets, dtype=torch.float64), reduction)
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12, abs=1e-12)
    grads = [v.grad for row in leaves for v in row]
    assert grads == pytest.approx(t_out.grad.flatten().tolist(), abs=1e-10)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_losses_match_central_differences(name):
    outputs, targets = ELEMENTWISE[name]
    if name == "bce_with_logits":  # keep the finite differences in float range
        outputs = [[-3.0, 0.0], [2.5, -4.0], [7.0, -7.0]]
    flat = [float(x) for row in outputs for x in row]

    def f(values):
        rows = [values[k * SHAPE[1]:(k + 1) * SHAPE[1]] for k in range(SHAPE[0])]
        return LOSSES[name](_leaves(rows), targets).data

    leaves = _leaves(outputs)
    LOSSES[name](leaves, targets).backward()
    grads = [v.grad for row in leaves for v in row]
    assert grads == pytest.approx(central_difference(f, flat), abs=1e-6)


SATURATION = [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0), (1e-50, 1.0), (0.0, 0.5),
              (0.0, 0.3), (1.0, 0.3), (1e-13, 1.0), (1e-13, 0.0), (1 - 1e-13, 0.0),
              (2e-12, 1.0), (0.5, 1.0), (1e-300, 0.7)]


@pytest.mark.parametrize("p, y", SATURATION)
def test_bce_value_and_gradient_match_torch_at_saturation(p, y):
    torch = torch_or_skip()
    F = torch.nn.functional
    v = Value(p)
    loss = binary_cross_entropy(v, y)
    loss.backward()
    t = torch.tensor([p], dtype=torch.float64, requires_grad=True)
    expected = F.binary_cross_entropy(t, torch.tensor([y], dtype=torch.float64))
    expected.backward()
    # (PyTorch takes log1p(-p); our log(1 - p) rounds 1 - p first: off by < 1e-16 for tiny p)
    assert loss.data == pytest.approx(expected.item(), rel=1e-12, abs=1e-16), (p, y)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-9), (p, y)  # clamped like PyTorch's


def test_bce_saturated_slope_is_documented():
    from nn.losses import BCE_GRAD_EPS

    assert BCE_GRAD_EPS == pytest.approx(1e-12, rel=1e-7) and BCE_GRAD_EPS != 1e-12
    v = Value(0.0)
    binary_cross_entropy(v, 1.0).backward()
    assert v.grad == -1.0 / BCE_GRAD_EPS  # (p - y) / eps, as the docstring says


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("logits,classes", [
    ([0.2, -1.0, 3.0, 0.5], 2),
    ([[0.2, -1.0, 3.0], [1.0, 1.0, 1.0], [-2.0, 0.5, 0.1], [1000.0, -1000.0, 999.0]], [0, 2, 1, 2]),
])
def test_cross_entropy_matches_torch(logits, classes, reduction):
    torch = torch_or_skip()
    batch = isinstance(classes, list)
    leaves = _leaves(logits if batch else [logits])
    loss = cross_entropy(leaves if batch else leaves[0], classes, reduction=reduction)
    loss.backward()
    t = torch.tensor(logits if batch else [logits], dtype=torch.float64, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(
        t, torch.tensor(classes if batch else [classes]), reduction=reduction)
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [v.grad for row in leaves for v in row] == pytest.approx(
        t.grad.flatten().tolist(), abs=1e-10)


def test_cross_entropy_matches_central_differences():
    logits, classes = [[0.2, -1.0, 3.0], [-2.0, 0.5, 0.1]], [1, 0]
    flat = [x for row in logits for x in row]

    def f(values):
        return cross_entropy(_leaves([values[:3], values[3:]]), classes).data

    leaves = _leaves(logits)
    cross_entropy(leaves, classes).backward()
    assert [v.grad for row in leaves for v in row] == pytest.approx(
        central_difference(f, flat), abs=1e-6)


def test_l2_penalty_matches_torch_and_central_differences():
    torch = torch_or_skip()
    model = MLP(2, [3, 1], seed=0)
    penalty = l2_penalty(model, lam=0.1)
    penalty.backward()
    ts = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True)
          for p in model.parameters()]
    t_pen = 0.1 / 2 * sum(t ** 2 for t in ts)
    t_pen.backward()
    assert penalty.data == pytest.approx(t_pen.item(), rel=1e-12)
    assert [p.grad for p in model.parameters()] == pytest.approx([t.grad.item() for t in ts],
                                                                 abs=1e-12)
    numeric = central_difference(lambda xs: l2_penalty([Value(x) for x in xs], lam=0.1).data,
                                 [p.data for p in model.parameters()])
    assert [p.grad for p in model.parameters()] == pytest.approx(numeric, abs=1e-6)
    assert l2_penalty(model.parameters(), lam=0.1).data == penalty.data
    assert l2_penalty([]).data == 0.0


# --- shapes ---------------------------------------------------------------------------


def test_shapes_a_model_output_matches_a_number():
    model = MLP(2, [3, 1], seed=0)
    X, ys = [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]], [1.0, -1.0, 0.5]
    outs = [model(x) for x in X]
    batch = mse_loss(outs, ys)
    expected = sum((o[0].data - y) ** 2 for o, y in zip(outs, ys)) / 3
    assert batch.data == pytest.approx(expected, rel=1e-15)
    assert mse_loss(outs[0], ys[0]).data == pytest.approx((outs[0][0].data - 1.0) ** 2)
    assert mse_loss(outs[0][0], ys[0]).data == mse_loss(outs[0], [ys[0]]).data
    flat = mse_loss([o[0] for o in outs], ys)  # a list of Values and a list of numbers
    assert flat.data == pytest.approx(batch.data, rel=1e-15)
    assert mse_loss(outs, ys, reduction="sum").data == pytest.approx(3 * batch.data)
    none = mse_loss(outs, ys, reduction="none")
    assert [v.data for v in none] == pytest.approx([(o[0].data - y) ** 2 for o, y in zip(outs, ys)])


def test_numpy_targets():
    np = pytest.importorskip("numpy", reason="numpy not installed")
    outs = [[Value(0.5)], [Value(1.5)]]
    assert mse_loss(outs, np.array([1.0, 1.0])).data == pytest.approx(0.25)
    # a 0-d array is one number (iterating it would raise)
    assert mse_loss([Value(3.0)], np.array(1.0)).data == 4.0
    assert mse_loss(outs, [np.array(1.0), np.float64(1.0)]).data == pytest.approx(0.25)
    assert cross_entropy([Value(0.0), Value(0.0)], np.int64(1)).data == pytest.approx(0.6931471805599453)


@pytest.mark.parametrize("call,error,message", [
    (lambda: mse_loss([Value(1.0), Value(2.0)], 1.0), ValueError, "has 2 values but the target is one number"),
    (lambda: mse_loss([[Value(1.0)], [Value(2.0)]], [1.0]), ValueError, "2 entries but the target has 1"),
    (lambda: mse_loss([1.0], [1.0]), TypeError, "must be a Value or a list of Values"),
    (lambda: mse_loss([Value(1.0)], [Value(1.0)]), TypeError, "target at \\[0\\] is a Value"),
    (lambda: mse_loss([Value(1.0)], ["a"]), TypeError, "must be a number"),
    (lambda: mse_loss([], []), ValueError, "empty"),
    (lambda: mse_loss(Value(1.0), 1.0, reduction="avg"), ValueError, "reduction must be"),
    (lambda: binary_cross_entropy(Value(1.5), 1.0), ValueError, "must be in \\[0, 1\\], got 1.5"),
    (lambda: binary_cross_entropy(Value(0.5), 2.0), ValueError, "each target must be in"),
    (lambda: binary_cross_entropy_with_logits(Value(0.5), -1.0), ValueError, "target"),
    (lambda: hinge_loss(Value(0.5), 0), ValueError, "labels in \\{-1, \\+1\\}, got 0.0; convert"),
    (lambda: logistic_loss([Value(0.5)], [2]), ValueError, "labels in"),
    (lambda: cross_entropy([Value(0.0), Value(1.0)], 2), ValueError, "out of range for 2 logits"),
    (lambda: cross_entropy([Value(0.0), Value(1.0)], 0.5), TypeError, "must be an int"),
    (lambda: cross_entropy([[Value(0.0)], [Value(1.0)]], [0]), ValueError, "2 samples but 1"),
    (lambda: cross_entropy([[Value(0.0)]], 0), TypeError, "needs a list of 1 class"),
    (lambda: cross_entropy([0.0, 1.0], 0), TypeError, "logits must be Values"),
    (lambda: l2_penalty([Value(1.0)], lam=-1), ValueError, "lam"),
    (lambda: l2_penalty([1.0]), TypeError, "needs Values"),
    (lambda: l2_penalty(3, 1), TypeError, "l2_penalty: parameters must be a list of Values "
                                          "or a module .*got int 3"),
    (lambda: l2_penalty([Value(1.0)], lam="a"), TypeError, "l2_penalty: lam must be a number"),
    (lambda: l2_penalty([Value(1.0)], lam=float("inf")), ValueError, "finite number"),
    (lambda: mse_loss([Value(1.0)], True), TypeError, "must be a number .*got bool True"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cross_entropy_accepts_integral_floats():
    a = cross_entropy([Value(0.0), Value(1.0)], 1.0).data
    assert a == cross_entropy([Value(0.0), Value(1.0)], 1).data


def test_losses_table():
    assert set(LOSSES) == {"mse", "bce", "bce_with_logits", "cross_entropy", "hinge", "logistic"}
    assert LOSSES["cross_entropy"] is cross_entropy

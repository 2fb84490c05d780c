"""Optimizers: each against torch.optim (float64, 5 steps) and against its formula by hand."""

import math

import pytest
from oracles import torch_or_skip

from engine import Value
from nn import SGD, Adagrad, Adam, AdamW, Optimizer

START = [0.5, -1.2, 0.8, 2.0]


def objective(p, tanh):
    """A small non-convex function of 4 parameters (written once for both engines)."""
    return (p[0] * p[1] - 1) ** 2 + tanh(p[2]) * p[3] + 0.5 * p[3] ** 2 + p[0] * p[2] * 0.3


def run_ours(make, steps=5):
    params = [Value(x) for x in START]
    opt = make(params)
    for _ in range(steps):
        opt.zero_grad()
        objective(params, lambda v: v.tanh()).backward()
        opt.step()
    return [p.data for p in params]


def run_torch(torch_class, kwargs, steps=5):
    torch = torch_or_skip()
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
    opt = torch_class(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        objective(params, torch.tanh).backward()
        opt.step()
    return [p.item() for p in params]


CASES = [
    ("SGD", SGD, {"lr": 0.1}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.2}),
    ("Adagrad", Adagrad, {"lr": 0.1}),
    ("Adagrad", Adagrad, {"lr": 0.3, "lr_decay": 0.1, "weight_decay": 0.05}),
    ("Adagrad", Adagrad, {"lr": 0.3, "initial_accumulator_value": 0.1, "eps": 1e-6}),
    ("Adam", Adam, {"lr": 0.1}),
    ("Adam", Adam, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", Adam, {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", Adam, {"lr": 0.05, "amsgrad": True}),
    ("AdamW", AdamW, {"lr": 0.1}),
    ("AdamW", AdamW, {"lr": 0.1, "weight_decay": 0.3, "amsgrad": True}),
]


@pytest.mark.parametrize("name, ours, kwargs", CASES,
                         ids=[f"{c[0]}-{'-'.join(c[2])}" for c in CASES])
def test_five_steps_match_torch_optim(name, ours, kwargs):
    torch = torch_or_skip()
    expected = run_torch(getattr(torch.optim, name), kwargs)
    got = run_ours(lambda ps: ours(ps, **kwargs))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert got != pytest.approx(START)  # the parameters did move


def one_param(value=1.0, grad=0.5):
    p = Value(value)
    p.grad = grad
    return p


def test_sgd_by_hand():
    p = one_param()
    opt = SGD([p], lr=0.1, weight_decay=0.2)
    opt.step()  # g = 0.5 + 0.2 * 1 = 0.7; p = 1 - 0.1 * 0.7
    assert p.data == pytest.approx(0.93, abs=1e-15)


def test_sgd_momentum_by_hand():
    p = one_param()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()  # b = g = 0.5; p = 1 - 0.05
    assert p.data == pytest.approx(0.95, abs=1e-15)
    opt.step()  # grad still 0.5: b = 0.9 * 0.5 + 0.5 = 0.95; p = 0.95 - 0.095
    assert p.data == pytest.approx(0.855, abs=1e-15)


def test_sgd_nesterov_by_hand():
    p = one_param()
    SGD([p], lr=0.1, momentum=0.9, nesterov=True).step()
    # b = 0.5; g = 0.5 + 0.9 * 0.5 = 0.95; p = 1 - 0.095
    assert p.data == pytest.approx(0.905, abs=1e-15)


def test_adagrad_by_hand():
    p = one_param()
    opt = Adagrad([p], lr=0.1, lr_decay=1.0)
    opt.step()  # s = 0.25; p = 1 - 0.1 * 0.5 / (0.5 + 1e-10)
    assert p.data == pytest.approx(0.9, abs=1e-10)
    opt.step()  # lr_t = 0.1 / 2; s = 0.5; p = 0.9 - 0.05 * 0.5 / sqrt(0.5)
    assert p.data == pytest.approx(0.9 - 0.05 * 0.5 / math.sqrt(0.5), abs=1e-10)


def test_adam_by_hand():
    p = one_param(grad=-0.2)
    opt = Adam([p], lr=0.1)
    opt.step()
    # m = 0.1 * -0.2 = -0.02, m_hat = -0.02 / 0.1 = -0.2; v = 0.001 * 0.04, v_hat = 0.04
    assert opt.m[0] == pytest.approx(-0.02, abs=1e-15)
    assert opt.v[0] == pytest.approx(4e-5, abs=1e-15)
    assert p.data == pytest.approx(1 + 0.1 * 0.2 / (0.2 + 1e-8), abs=1e-14)


def test_adam_l2_vs_adamw_decoupled_by_hand():
    p, q = one_param(), one_param()
    Adam([p], lr=0.1, weight_decay=0.1).step()
    # g = 0.5 + 0.1 * 1 = 0.6: the first Adam step is lr * g / |g| = 0.1
    assert p.data == pytest.approx(0.9, abs=1e-7)
    AdamW([q], lr=0.1, weight_decay=0.1).step()
    # p = 1 * (1 - 0.1 * 0.1) = 0.99, then the Adam step on g = 0.5: 0.99 - 0.1
    assert q.data == pytest.approx(0.89, abs=1e-7)


def test_optimizers_change_data_only_and_zero_grad():
    params = [Value(1.0), Value(-2.0)]
    for make in (lambda: SGD(params, lr=0.1, momentum=0.5), lambda: Adagrad(params),
                 lambda: Adam(params), lambda: AdamW(params)):
        opt = make()
        for p in params:
            p.grad = 1.0
        opt.step()
        assert all(p.is_leaf() and p.op == "" for p in params)
        opt.zero_grad()
        assert [p.grad for p in params] == [0.0, 0.0]
        assert opt.steps == 1


def test_accepts_a_model():
    class Model:
        def __init__(self):
            self.w = [Value(1.0), Value(2.0)]

        def parameters(self):
            return self.w

    model = Model()
    assert SGD(model, lr=0.1).params == model.w


def test_repr():
    ps = [Value(1.0), Value(2.0)]
    assert repr(SGD(ps, lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0; 2 parameters)")
    assert repr(Adam(ps[:1])) == (
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0; 1 parameter)")
    assert repr(AdamW(ps)).startswith("AdamW(lr=0.001,")
    assert repr(Adagrad(ps)).startswith("Adagrad(lr=0.01, lr_decay=0.0")


@pytest.mark.parametrize("make, message", [
    (lambda ps: SGD(ps, lr=-0.1), "lr must be >= 0"),
    (lambda ps: SGD(ps, lr=float("nan")), "lr must be >= 0"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "momentum must be in"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay must be >= 0"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=0.9), "betas must be a pair"),
    (lambda ps: AdamW(ps, eps=-1e-8), "eps must be >= 0"),
    (lambda ps: Adagrad(ps, lr_decay=-1), "lr_decay must be >= 0"),
    (lambda ps: Adagrad(ps, eps=0), "eps must be > 0"),
    (lambda ps: SGD([], lr=0.1), "empty parameter list"),
    (lambda ps: SGD([ps[0], ps[0]], lr=0.1), "appears twice"),
    (lambda ps: SGD([ps[0] * 2], lr=0.1), "computed by an op"),
])
def test_bad_hyper_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


@pytest.mark.parametrize("make, message", [
    (lambda: SGD([1.0, 2.0], lr=0.1), "parameter 0 is a float"),
    (lambda: SGD(Value(1.0), lr=0.1), "single Value"),
    (lambda: SGD(3, lr=0.1), "iterable of Values"),
    (lambda: SGD([Value(1.0)], lr="0.1"), "lr must be a number"),
    (lambda: SGD([Value(1.0)], lr=0.1, nesterov="yes"), "nesterov must be True or False"),
    (lambda: Adam([Value(1.0)], amsgrad=1), "amsgrad must be True or False"),
])
def test_bad_types_raise_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_base_class_step_is_abstract():
    with pytest.raises(NotImplementedError):
        Optimizer([Value(1.0)]).step()

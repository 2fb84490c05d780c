"""gradcheck(): agrees with PyTorch on correct rules, catches a wrong one, restores everything."""

import dataclasses
import math

import pytest
from oracles import torch_grads

from engine import RULES, GradcheckReport, Value, gradcheck


def f(a, b, c):
    return (a * b + c.tanh()).sigmoid() / (a * a + 1.0) + (b - c).exp()


POINT = [0.7, -1.3, 0.4]


def test_correct_rules_pass_and_analytic_matches_pytorch():
    inputs = [Value(x, label=n) for x, n in zip(POINT, "abc")]
    report = gradcheck(f, inputs)
    assert report.ok and not report.failures
    assert [row.label for row in report] == ["a", "b", "c"]
    _, t_grads = torch_grads(f, POINT)
    assert [row.analytic for row in report] == pytest.approx(t_grads, rel=1e-12)
    assert [row.numeric for row in report] == pytest.approx(t_grads, rel=1e-6)
    for row in report:
        assert row.error == abs(row.analytic - row.numeric) / max(abs(row.analytic),
                                                                  abs(row.numeric))


def wrong_tanh(x):  # forgets to square tanh: 1 - tanh(x) instead of 1 - tanh(x)^2
    t = math.tanh(x)
    return t, 1.0 - t


def swap_rule(monkeypatch, name, **changes):
    """Replace rule ``name`` for this test: in the table, and wherever the engine keeps
    a reference to the rule object (so an engine that binds rules at import sees it too)."""
    import engine.value

    right = RULES[name]
    wrong = dataclasses.replace(right, **changes)
    monkeypatch.setitem(RULES, name, wrong)
    for attribute, bound in vars(engine.value).items():
        if bound is right:
            monkeypatch.setattr(engine.value, attribute, wrong)


def test_catches_a_wrong_derivative_rule(monkeypatch):
    swap_rule(monkeypatch, "tanh", apply=wrong_tanh)
    inputs = [Value(x, label=n) for x, n in zip(POINT, "abc")]
    report = gradcheck(f, inputs)
    assert not report.ok
    # only c passes through tanh
    assert [row.label for row in report.failures] == ["c"]
    assert "1 of 3 FAILED" in str(report)
    assert "FAIL" in str(report).splitlines()[-1]
    assert 'class="fail"' in report._repr_html_()


def test_inputs_data_and_every_grad_are_restored_exactly():
    a, b, c = (Value(x, label=n) for x, n in zip(POINT, "abc"))
    a.grad, b.grad, c.grad = 10.0, -20.0, 0.125
    out = f(a, b, c)  # an old graph whose grads must not move either
    out.backward()
    before_grads = [v.grad for v in backward_nodes(out)]
    report = gradcheck(f, [a, b, c], eps=1e-3)
    assert len(report) == 3
    assert [a.data, b.data, c.data] == POINT  # bit for bit: restored, not recomputed
    assert [v.grad for v in backward_nodes(out)] == before_grads


def backward_nodes(root):
    from engine.backward import backward_order
    return backward_order(root)


def test_a_closure_over_a_model_like_object():
    class Model:
        def __init__(self):
            self.w = [Value(0.3, label="w1"), Value(-0.8, label="w2")]
            self.b = Value(0.1, label="b")

        def parameters(self):
            return [*self.w, self.b]

        def __call__(self, x):
            return [(self.w[0] * x[0] + self.w[1] * x[1] + self.b).tanh()]

    model = Model()
    data = [([1.0, 2.0], 0.5), ([-1.0, 0.5], -0.2)]

    def loss():
        return sum(((model(x)[0] - y) ** 2 for x, y in data), Value(0.0)) / len(data)

    report = gradcheck(loss, model.parameters())
    assert report.ok
    assert [row.label for row in report] == ["w1", "w2", "b"]

    def t_loss(w1, w2, b):
        return sum((((w1 * x[0] + w2 * x[1] + b).tanh() - y) ** 2 for x, y in data)) / 2

    _, t_grads = torch_grads(t_loss, [0.3, -0.8, 0.1])
    assert [row.analytic for row in report] == pytest.approx(t_grads, rel=1e-12)
    # named pairs, as from named_parameters(), and a one-element output list
    named = gradcheck(lambda: model([1.0, 2.0]), [("first", model.w[0])])
    assert [row.label for row in named] == ["first"] and named.ok


def test_an_nn_model_and_loss(monkeypatch):
    import nn

    model = nn.MLP(2, [3, 1], seed=0)
    xs, ys = [[0.5, -1.0], [1.5, 0.25]], [1.0, -1.0]
    report = gradcheck(lambda: nn.mse_loss([model(x) for x in xs], ys), model.parameters())
    assert report.ok, str(report)
    assert [row.label for row in report] == [name for name, _ in model.named_parameters()]
    # The same check fails once the hidden layer's tanh rule is wrong.
    swap_rule(monkeypatch, "tanh", apply=wrong_tanh)
    report = gradcheck(lambda: nn.mse_loss([model(x) for x in xs], ys), model.parameters())
    assert not report.ok
    # every first-layer parameter feeds a tanh; the output layer's own weights see it
    # only through their inputs' values, so their rows still pass
    failed = {row.label for row in report.failures}
    assert failed and all(label.startswith(("w1.", "b1.")) for label in failed)


def test_prints_and_displays_as_a_table():
    a = Value(2.0, label="<a>")
    report = gradcheck(lambda a: a * a, [a])
    lines = str(report).splitlines()
    assert lines[0].startswith("gradcheck: all ok")
    assert lines[1].split() == ["input", "analytic", "numeric", "relative", "error", "ok"]
    assert lines[3].split()[:2] == ["<a>", "4"] and lines[3].split()[-1] == "ok"
    html = report._repr_html_()
    assert "&lt;a&gt;" in html and "<a>" not in html
    assert repr(report).startswith("GradcheckReport(ok=True, 1 inputs")
    assert isinstance(report, GradcheckReport) and len(report) == 1


def test_bad_arguments_are_explained():
    a = Value(1.0, label="a")
    with pytest.raises(TypeError, match="input 0 is float"):
        gradcheck(lambda a: a, [1.0])
    with pytest.raises(ValueError, match="computed by an op"):
        gradcheck(lambda a: a, [a * 2])
    with pytest.raises(TypeError, match="single Value"):
        gradcheck(lambda a: [a, a], [a])
    with pytest.raises(TypeError, match="no arguments"):
        gradcheck(lambda a, b, c: a, [a])
    with pytest.raises(ValueError, match="eps must be > 0"):
        gradcheck(lambda a: a, [a], eps=0)
    with pytest.raises(ValueError, match="rtol"):
        gradcheck(lambda a: a, [a], rtol=-1)
    out = a * 3
    with pytest.raises(ValueError, match="rebuild the expression"):
        gradcheck(lambda: out, [a])
    assert a.data == 1.0

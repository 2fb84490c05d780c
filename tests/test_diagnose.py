"""nn.diagnose: dead ReLUs, saturated units and per-layer gradient norms, each
checked against an independent computation (PyTorch float64, central differences,
or the activations recomputed by hand with math)."""

from __future__ import annotations

import math

import pytest
from oracles import central_difference, torch_or_skip

from nn import MLP, diagnose, make_moons, mse_loss

X, Y = make_moons(40, noise=0.1, seed=3)


def _loss_of(model, rows, targets):
    return mse_loss([model(x) for x in rows], targets).data


def test_dead_relus_are_found_and_really_get_no_gradient():
    model = MLP(2, [6, 1], activation="relu", seed=1)
    killed = [1, 4]
    for k in killed:  # a bias far below any w.x on these inputs: z < 0 everywhere
        model.layers[0].neurons[k - 1].b.data = -50.0
    report = diagnose(model, X, Y)
    assert report.layers[0].dead == tuple(killed)
    assert any("2 of 6 ReLU units are dead" in w and "init='he'" in w for w in report.warnings)
    he = MLP(2, [6, 1], activation="relu", init="he", seed=1)
    he.layers[0].neurons[0].b.data = -50.0
    advice = [w for w in diagnose(he, X, Y).warnings if "dead" in w]
    assert advice and "init='he'" not in advice[0]  # it already is
    # Dead means: moving such a unit's weights does not change the loss at all.
    w = model.layers[0].neurons[0].w[0]

    def loss_at(values):
        saved, w.data = w.data, values[0]
        try:
            return _loss_of(model, X, Y)
        finally:
            w.data = saved

    assert central_difference(loss_at, [w.data]) == [0.0]


def test_saturation_counts_match_activations_recomputed_by_hand():
    model = MLP(2, [5, 1], activation="tanh", seed=2)
    for n in model.layers[0].neurons:  # big weights: most z far from 0
        n.w[0].data *= 8.0
    report = diagnose(model, X, Y)
    hot = 0
    always = []
    for u, n in enumerate(model.layers[0].neurons):
        flags = [abs(math.tanh(n.w[0].data * x[0] + n.w[1].data * x[1] + n.b.data)) > 0.99
                 for x in X]
        hot += sum(flags)
        if all(flags):
            always.append(u + 1)
    assert hot > 0
    assert report.layers[0].saturated == pytest.approx(hot / (5 * len(X)))
    assert report.layers[0].saturated_units == tuple(always)


def test_gradient_norms_against_central_differences_and_torch():
    model = MLP(2, [4, 3, 1], activation="tanh", seed=4)
    report = diagnose(model, X, Y, loss="mse")
    for layer, row in zip(model.layers, report):
        numeric = []
        for n in layer.neurons:
            for w in n.w:
                def loss_at(values, w=w):
                    saved, w.data = w.data, values[0]
                    try:
                        return _loss_of(model, X, Y)
                    finally:
                        w.data = saved
                numeric += central_difference(loss_at, [w.data])
        assert row.weight_grad_norm == pytest.approx(math.sqrt(sum(g * g for g in numeric)),
                                                     rel=1e-6)
    torch = torch_or_skip()
    from nn import to_torch

    net = to_torch(model).double()
    xs = torch.tensor(X, dtype=torch.float64)
    ys = torch.tensor(Y, dtype=torch.float64).reshape(-1, 1)
    loss = ((net(xs) - ys) ** 2).mean()
    loss.backward()
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    for linear, row in zip(linears, report):
        assert row.weight_grad_norm == pytest.approx(linear.weight.grad.norm().item(), rel=1e-9)
        assert row.bias_grad_norm == pytest.approx(linear.bias.grad.norm().item(), rel=1e-9)
    assert report.loss == pytest.approx(loss.item(), rel=1e-12)


def test_vanishing_gradient_is_reported_on_a_deep_sigmoid_network():
    deep = MLP(2, [8] * 6 + [1], activation="sigmoid", output_activation="sigmoid", seed=0)
    report = diagnose(deep, X, Y, loss="bce")
    assert report[0].weight_grad_norm < 1e-2 * report[-1].weight_grad_norm
    assert any(w.startswith("vanishing gradient") for w in report.warnings)
    assert not report.ok
    shallow = diagnose(MLP(2, [8, 1], activation="tanh", seed=0), X, Y)
    assert not any("vanishing" in w for w in shallow.warnings)


def test_weights_gradients_and_mode_are_left_as_they_were():
    model = MLP(2, [3, 1], seed=5, dropout=0.5)
    for k, p in enumerate(model.parameters()):
        p.grad = 0.25 * k
    before = [(p.data, p.grad) for p in model.parameters()]
    model.train()
    diagnose(model, X, Y)
    assert [(p.data, p.grad) for p in model.parameters()] == before
    assert model.training


def test_printing_and_html_escape_nothing_away():
    report = diagnose(MLP(2, [3, 1], activation="relu", seed=0), X, Y)
    text = str(report)
    assert text.startswith(f"diagnose: {len(X)} samples, loss ")
    assert "layer 1" in text and "|dL/dW|" in text
    assert "<table>" in report._repr_html_()
    assert repr(report).startswith("Diagnosis(2 layers, 40 samples")


def test_bad_arguments_say_what_to_do():
    with pytest.raises(TypeError, match="must be an nn.MLP"):
        diagnose(lambda x: x, X, Y)
    with pytest.raises(ValueError, match="empty"):
        diagnose(MLP(2, [1]), [], [])
    with pytest.raises(ValueError, match="targets for"):
        diagnose(MLP(2, [1]), X, Y[:3])
    with pytest.raises(TypeError, match="not a Value"):
        diagnose(MLP(2, [1]), X, Y, loss=lambda outputs, targets: 0.0)


# --- fit(..., grad_norms=True) -----------------------------------------------------


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_records_per_layer_gradient_norms_as_pytorch_computes_them(compiled):
    from nn import SGD, fit, to_torch

    if compiled:
        pytest.importorskip("numpy")
    model = MLP(2, [4, 3, 1], activation="tanh", seed=6)
    torch = torch_or_skip()
    net = to_torch(model).double()  # the starting weights, before fit moves them
    history = fit(model, X, Y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
                  epochs=3, batch_size=None, progress=False, grad_norms=True,
                  compiled=compiled)
    assert len(history.grad_norms) == 3 and all(len(e) == 3 for e in history.grad_norms)
    xs = torch.tensor(X, dtype=torch.float64)
    ys = torch.tensor(Y, dtype=torch.float64).reshape(-1, 1)
    ((net(xs) - ys) ** 2).mean().backward()
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    expected = [torch.cat([m.weight.grad.flatten(), m.bias.grad]).norm().item()
                for m in linears]
    assert history.grad_norms[0] == pytest.approx(expected, rel=1e-9)
    assert history.as_dict()["grad_norms"] == history.grad_norms


def test_grad_norms_average_over_the_batches_and_need_layers():
    from nn import SGD, fit

    model = MLP(2, [3, 1], seed=7)
    history = fit(model, X, Y, optimizer=SGD(model.parameters(), lr=0.0), epochs=1,
                  batch_size=10, shuffle=False, progress=False, grad_norms=True)
    by_hand = []
    for k in range(0, len(X), 10):  # lr 0: the weights stay, so each batch is reproducible
        model.zero_grad()
        mse_loss([model(x) for x in X[k:k + 10]], Y[k:k + 10]).backward()
        by_hand.append([math.sqrt(sum(p.grad ** 2 for p in layer.parameters()))
                        for layer in model.layers])
    assert history.grad_norms[0] == pytest.approx(
        [sum(col) / len(by_hand) for col in zip(*by_hand)], rel=1e-12)
    assert fit(model, X, Y, epochs=1, progress=False).grad_norms == []

    class Plain:
        def parameters(self):
            return model.parameters()

        def __call__(self, x):
            return model(x)

    with pytest.raises(TypeError, match="grad_norms=True needs a model with layers"):
        fit(Plain(), X, Y, epochs=1, progress=False, grad_norms=True)
    with pytest.raises(TypeError, match="grad_norms must be True or False"):
        fit(model, X, Y, epochs=1, progress=False, grad_norms="yes")

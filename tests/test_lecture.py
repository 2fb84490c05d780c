"""layer_view: z, a and deltas dL/dz read from the engine's graph, against PyTorch
autograd on z (retain_grad) and central differences; BE1-BE4 checks; no side effects."""

from __future__ import annotations

import pytest
from oracles import central_difference, torch_or_skip

from nn import LOSSES, MLP, Layer, cross_entropy, layer_view

CASES = [
    # architecture, x, y, loss
    (dict(nin=2, nouts=[3, 1], activation="tanh"), [0.7, -1.1], 0.5, "mse"),
    (dict(nin=3, nouts=[4, 4, 2], activation="relu"), [0.2, -0.5, 1.0], [1.0, -1.0], "mse"),
    (dict(nin=2, nouts=[3, 1], activation="sigmoid", output_activation="sigmoid"),
     [1.5, -0.3], 1.0, "bce"),
    (dict(nin=2, nouts=[5, 3], activation="tanh"), [0.4, 0.9], 2, "cross_entropy"),
    (dict(nin=2, nouts=[3, 1], activation="tanh", bias=False), [0.7, -1.1], -1, "logistic"),
]


def _torch_pass(torch, model, x, y, loss):
    """The same network by hand in torch; returns per layer (z, a) tensors with grads."""
    F = torch.nn.functional
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "linear": lambda t: t * 1.0}
    a = torch.tensor(x, dtype=torch.float64)
    layers = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        z = W @ a
        if layer.bias:
            z = z + torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        z.retain_grad()
        a = acts[layer.activation](z)
        a.retain_grad()
        layers.append((z, a, W))
    if loss == "mse":
        target = torch.tensor(y if isinstance(y, list) else [y], dtype=torch.float64)
        total = F.mse_loss(a, target)
    elif loss == "bce":
        total = F.binary_cross_entropy(a, torch.tensor([y], dtype=torch.float64))
    elif loss == "cross_entropy":
        total = F.cross_entropy(a.reshape(1, -1), torch.tensor([y]))
    else:
        total = F.soft_margin_loss(a, torch.tensor([float(y)], dtype=torch.float64))
    total.backward()
    return total.item(), layers


@pytest.mark.parametrize("arch,x,y,loss", CASES)
def test_deltas_match_torch_autograd_on_z(arch, x, y, loss):
    torch = torch_or_skip()
    model = MLP(**arch, seed=6)
    view = layer_view(model, x, y, loss=loss)
    t_loss, t_layers = _torch_pass(torch, model, x, y, loss)
    assert view.loss == pytest.approx(t_loss, abs=1e-12)
    assert len(view) == len(t_layers)
    for rec, (z, a, W) in zip(view, t_layers):
        assert rec.z == pytest.approx(z.tolist(), abs=1e-12)
        assert rec.a == pytest.approx(a.tolist(), abs=1e-12)
        assert rec.delta == pytest.approx(z.grad.tolist(), abs=1e-10)
        assert rec.dL_da == pytest.approx(a.grad.tolist(), abs=1e-10)
        assert [g for row in rec.dL_dW for g in row] == pytest.approx(
            W.grad.flatten().tolist(), abs=1e-10)


@pytest.mark.parametrize("arch,x,y,loss", [c for c in CASES if c[0].get("bias", True)])
def test_deltas_match_central_differences(arch, x, y, loss):
    # Nudging b^l_i by h nudges z^l_i by exactly h, so dL/dz^l_i = dL/db^l_i numerically.
    model = MLP(**arch, seed=2)
    view = layer_view(model, x, y, loss=loss)
    for rec, layer in zip(view, model.layers):
        biases = [n.b for n in layer.neurons]

        def f(values, biases=biases):
            saved = [b.data for b in biases]
            for b, v in zip(biases, values):
                b.data = v
            result = LOSSES[loss](model(x), y).data
            for b, v in zip(biases, saved):
                b.data = v
            return result

        numeric = central_difference(f, [b.data for b in biases])
        assert rec.delta == pytest.approx(numeric, abs=1e-6)


@pytest.mark.parametrize("arch,x,y,loss", CASES)
def test_backprop_equations_agree(arch, x, y, loss):
    view = layer_view(MLP(**arch, seed=1), x, y, loss=loss)
    checks = view.check()
    names = {(c.equation, c.layer) for c in checks}
    last = len(view)
    assert ("BE1", last) in names and ("BE3", 1) in names
    assert all(("BE2", k) in names for k in range(1, last))
    assert all(c.ok for c in checks), [str(c) for c in checks]


def test_check_catches_a_wrong_delta():
    view = layer_view(MLP(2, [3, 1], seed=0), [0.5, 0.5], 1.0)
    view[0].delta[1] += 1e-3
    failed = [c for c in view.check() if not c.ok]
    assert {c.equation for c in failed} >= {"BE2", "BE3", "BE4"}
    assert "DIFFERS" in str(failed[0])


def test_layer_numbering_and_text():
    view = layer_view(MLP(2, [3, 1], seed=0), [0.5, 0.5], 1.0)
    assert [(r.layer, r.lecture_layer) for r in view] == [(1, 2), (2, 3)]
    text = str(view)
    assert text.startswith("layer view: mse loss L = ")
    assert "layer 1 (lecture l = 2): tanh, 2 -> 3" in text
    assert "dL/dz" in text and len(text.splitlines()) == 1 + 1 + 2 + 3 + 1 + 2 + 1
    assert view[0].inputs == [0.5, 0.5] and view[1].inputs == view[0].a
    assert "<table>" in view._repr_html_()
    assert repr(view).startswith("LayerView(2 layers, mse loss = ")
    pretty = pytest.importorskip("IPython.lib.pretty").pretty  # what IPython shows as text

    assert pretty(view) == text


def test_no_side_effects_on_the_model():
    model = MLP(2, [4, 1], dropout=0.5, seed=0)
    model([1.0, 2.0])[0].backward()
    grads = [p.grad for p in model.parameters()]
    state = model.state_dict()
    model.dropouts[0].train(False)
    modes = [m.training for m in model.modules()]
    layer_view(model, [0.3, 0.3], 0.0)
    assert [p.grad for p in model.parameters()] == grads
    assert model.state_dict() == state
    assert [m.training for m in model.modules()] == modes


def test_dropout_is_off_and_custom_loss():
    model = MLP(2, [20, 1], dropout=0.5, seed=0)
    a = layer_view(model, [0.3, 0.3], 0.0)
    b = layer_view(model, [0.3, 0.3], 0.0)
    assert a.loss == b.loss and a[0].a == b[0].a
    ce = layer_view(MLP(2, [3], seed=0), [1.0, 0.0], 1, loss=cross_entropy)
    assert ce.loss_name == "cross_entropy"


def test_errors():
    with pytest.raises(TypeError, match="needs an nn.MLP"):
        layer_view(Layer(2, 1), [1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        layer_view(MLP(2, [1]), [1.0, 2.0], 0.0, loss="l1")
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        layer_view(MLP(2, [1]), [1.0], 0.0)

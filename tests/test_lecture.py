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
    with pytest.raises(TypeError, match=r"needs an nn.MLP.*build the network as nn.MLP"):
        layer_view(Layer(2, 1), [1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        layer_view(MLP(2, [1]), [1.0, 2.0], 0.0, loss="l1")
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        layer_view(MLP(2, [1]), [1.0], 0.0)


# --- explain(): the backward pass narrated layer by layer -----------------------------
#
# Expected numbers come from the lecture notes' formulas written out with math, from
# PyTorch float64 autograd and from central differences; never from our own output.

import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

from engine.teach.notation import precision  # noqa: E402
from nn import l2_penalty  # noqa: E402


def workshop_net():
    """Seed 001 (workshop 5): inputs [0 1], tanh hidden layer, identity outputs, all
    biases 1; the slides' v_ij (input i to hidden j, i = 0 the bias) and w_jk."""
    net = MLP(2, [2, 2], activation="tanh", output_activation="linear")
    V = {1: [1.0, -1.0, 0.0], 2: [1.0, 0.0, 1.0]}   # V[j] = [v_0j, v_1j, v_2j]
    W = {1: [1.0, 1.0, 0.0], 2: [1.0, -1.0, 1.0]}   # W[k] = [w_0k, w_1k, w_2k]
    for j in (1, 2):
        unit = net.layers[0].neurons[j - 1]
        unit.b.data, unit.w[0].data, unit.w[1].data = V[j]
        unit = net.layers[1].neurons[j - 1]
        unit.b.data, unit.w[0].data, unit.w[1].data = W[j]
    return net, V, W


def toy_net():
    """Seed 002's toy MLP (Figure 3: tanh hidden layer of 2, one sigmoid output), with the
    weights notebook 04 chooses (the notes give none)."""
    toy = MLP(2, [2, 1], activation="tanh", output_activation="sigmoid")
    W2, b2, W3, b3 = [[0.8, -0.4], [0.3, 0.9]], [0.1, -0.2], [1.5, -2.0], 0.25
    for i in range(2):
        unit = toy.layers[0].neurons[i]
        unit.w[0].data, unit.w[1].data, unit.b.data = W2[i][0], W2[i][1], b2[i]
    out = toy.layers[1].neurons[0]
    out.w[0].data, out.w[1].data, out.b.data = W3[0], W3[1], b3
    return toy, W2, b2, W3, b3


def _torch_steps(torch, model, x, y, loss):
    """PyTorch's z.grad (deltas), a.grad, W.grad and b.grad per layer."""
    F = torch.nn.functional
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "linear": lambda t: t * 1.0}
    a = torch.tensor(x, dtype=torch.float64)
    out = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        z = W @ a + b
        z.retain_grad()
        a = acts[layer.activation](z)
        a.retain_grad()
        out.append((z, a, W, b))
    target = torch.tensor(y if isinstance(y, list) else [y], dtype=torch.float64)
    if loss == "mse":
        total = F.mse_loss(a, target)
    elif loss == "bce":
        total = F.binary_cross_entropy(a, target)
    elif loss == "bce_with_logits":
        total = F.binary_cross_entropy_with_logits(a, target)
    else:
        total = F.cross_entropy(a.reshape(1, -1), torch.tensor([y]))
    total.backward()
    return total.item(), out


def _flat(rows):
    return [g for row in rows for g in row]


def _assert_matches_torch(torch, ex, model, x, y, loss):
    t_loss, t_layers = _torch_steps(torch, model, x, y, loss)
    assert ex.loss == pytest.approx(t_loss, abs=1e-12)
    for step, (z, a, W, b) in zip(ex.layers, t_layers):
        assert step.delta == pytest.approx(z.grad.tolist(), abs=1e-12)
        assert step.dL_da == pytest.approx(a.grad.tolist(), abs=1e-12)
        assert _flat(step.dL_dW) == pytest.approx(_flat(W.grad.tolist()), abs=1e-12)
        assert step.dL_db == pytest.approx(b.grad.tolist(), abs=1e-12)
        # the slope f'(z) the narration writes is PyTorch's da/dz
        slope = torch.autograd.functional.jacobian(
            {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
             "linear": lambda t: t * 1.0}[step.activation], z.detach()).diagonal()
        assert step.slope == pytest.approx(slope.tolist(), abs=1e-12)


def test_explain_seed_001_against_the_notes():
    net, V, W = workshop_net()
    ex = layer_view(net, [0.0, 1.0], [1.0, 0.0], loss="mse").explain()
    t1, t2 = math.tanh(1.0), math.tanh(2.0)
    u = [t1, t2]
    # the slides: s1 = 1 + 1 * u1 + 0 * u2, s2 = 1 - u1 + u2; l = 1/2 sum (y - z)^2 (mse's
    # mean over the 2 outputs); delta_k = -(y_k - z_k) * 1
    delta_out = [(1 + t1) - 1.0, (1 - t1 + t2) - 0.0]
    # dl/dv_ij = g'(r_j) x_i sum_k delta_k w_jk, with g' = 1 - u_j^2
    back = [delta_out[0] * W[1][1] + delta_out[1] * W[2][1],
            delta_out[0] * W[1][2] + delta_out[1] * W[2][2]]
    hidden = [(1 - t1 ** 2) * back[0], (1 - t2 ** 2) * back[1]]
    out, hid = ex.layer(2), ex.layer(1)
    assert out.delta == pytest.approx(delta_out, abs=1e-12)
    assert hid.back == pytest.approx(back, abs=1e-12)
    assert _flat(_flat(hid.terms)) == pytest.approx(
        [delta_out[0], 1.0, delta_out[1], -1.0, delta_out[0], 0.0, delta_out[1], 1.0])
    assert hid.slope == pytest.approx([1 - t1 ** 2, 1 - t2 ** 2], abs=1e-12)
    assert hid.delta == pytest.approx(hidden, abs=1e-12)
    assert _flat(out.dL_dW) == pytest.approx([d * uj for d in delta_out for uj in u], abs=1e-12)
    assert out.dL_db == pytest.approx(delta_out, abs=1e-12)
    assert _flat(hid.dL_dW) == pytest.approx([d * xi for d in hidden for xi in (0.0, 1.0)],
                                             abs=1e-12)
    # the notes' own numbers: z1 = 1.76, so delta_1 = 0.76 (their z2 = 1.21 carries the
    # slide's u2 = 0.97 for tanh(2) = 0.9640; the exact z2 is 1.2024, as notebook 04 shows)
    assert round(out.delta[0], 2) == 0.76 and round(out.delta[1], 4) == 1.2024
    assert round(hid.delta[0], 4) == -0.1851 and round(hid.slope[0], 4) == 0.4200
    text = ex.text()
    assert ("delta^1_1 = (delta^2_1 * W^2_11 + delta^2_2 * W^2_21) * f_1'(z^1_1) = "
            "(0.7616 * 1 + 1.202 * (-1)) * 0.42 = -0.1851") in text
    assert "where f_1'(z^1_1) = 1 - (a^1_1)^2 = 1 - 0.7616^2 = 0.42" in text
    assert "dL/dW^1_1j = delta^1_1 * a^0_j = (-0.1851) * [0, 1]^T = [0, -0.1851]^T" in text
    assert ex.shortcut is None  # mse with a linear output: BE1 is all there is


def test_explain_seed_001_against_torch():
    torch = torch_or_skip()
    net, _, _ = workshop_net()
    ex = layer_view(net, [0.0, 1.0], [1.0, 0.0], loss="mse").explain()
    _assert_matches_torch(torch, ex, net, [0.0, 1.0], [1.0, 0.0], "mse")


def test_explain_seed_002_toy_mlp():
    toy, W2, b2, W3, b3 = toy_net()
    x, y = [0.5, -1.5], 1.0
    ex = layer_view(toy, x, y, loss="bce").explain(input_layer=1)   # the notes' numbering
    # equations (2)-(6), (23) with the sign of (26), and (26), by hand
    a2 = [math.tanh(W2[i][0] * x[0] + W2[i][1] * x[1] + b2[i]) for i in range(2)]
    a3 = 1 / (1 + math.exp(-(W3[0] * a2[0] + W3[1] * a2[1] + b3)))
    dz3 = a3 - y
    dz2 = [dz3 * W3[i] * (1 - a2[i] ** 2) for i in range(2)]
    assert [s.layer for s in ex.layers] == [2, 3]
    assert ex.layer(3).delta == pytest.approx([dz3], abs=1e-12)
    assert ex.layer(2).delta == pytest.approx(dz2, abs=1e-12)
    assert _flat(ex.layer(3).dL_dW) == pytest.approx([dz3 * a for a in a2], abs=1e-12)  # (17)
    assert _flat(ex.layer(2).dL_dW) == pytest.approx([d * xj for d in dz2 for xj in x],
                                                     abs=1e-12)                      # (16)
    assert ex.layer(2).dL_db == pytest.approx(dz2, abs=1e-12)                   # (18)
    sc = ex.shortcut
    assert sc is not None and sc.kind == "sigmoid + binary cross-entropy" and sc.holds
    assert sc.short == pytest.approx([dz3], abs=1e-12) and sc.yhat == pytest.approx([a3])
    text = ex.text()
    assert "BE1, short form: delta^3 = yhat - y" in text
    assert "BE2: delta^2 = ((W^3)^T delta^3) ⊙ f_2'(z^2)" in text
    assert "dL/dW^2_1j = delta^2_1 * a^1_j" in text and "from the input a^1 = x" in text


def test_explain_seed_002_against_torch():
    torch = torch_or_skip()
    toy, *_ = toy_net()
    ex = layer_view(toy, [0.5, -1.5], 1.0, loss="bce").explain(input_layer=1)
    _assert_matches_torch(torch, ex, toy, [0.5, -1.5], 1.0, "bce")


SHORTCUT_CASES = [
    # arch, x, y, loss, kind, n (the mean's divisor)
    (dict(nin=2, nouts=[3, 1], output_activation="sigmoid"), [0.7, -1.1], 1.0, "bce",
     "sigmoid + binary cross-entropy", 1),
    (dict(nin=3, nouts=[4, 2], activation="relu", output_activation="sigmoid"),
     [0.2, -0.5, 1.0], [0.0, 1.0], "bce", "sigmoid + binary cross-entropy", 2),
    (dict(nin=2, nouts=[3, 4]), [0.4, 0.9], 2, "cross_entropy", "softmax + cross-entropy", 1),
    (dict(nin=2, nouts=[5, 3, 3], activation="sigmoid"), [-1.2, 0.3], 0, "cross_entropy",
     "softmax + cross-entropy", 1),
    (dict(nin=2, nouts=[3, 2]), [0.4, 0.9], [1.0, 0.0], "bce_with_logits",
     "sigmoid + binary cross-entropy with logits", 2),
]


def _softmax(zs):
    es = [math.exp(z) for z in zs]
    return [e / sum(es) for e in es]


@pytest.mark.parametrize("arch,x,y,loss,kind,n", SHORTCUT_CASES)
def test_shortcut_equals_full_be1(arch, x, y, loss, kind, n):
    model = MLP(**arch, seed=4)
    ex = layer_view(model, x, y, loss=loss).explain()
    out, sc = ex.output, ex.shortcut
    assert sc is not None and sc.kind == kind and sc.n == n and sc.holds
    # the prediction and the one-hot target, by hand from the engine's z
    if loss == "cross_entropy":
        yhat, target = _softmax(out.z), [1.0 if i == y else 0.0 for i in range(len(out.z))]
    elif loss == "bce_with_logits":
        yhat, target = [1 / (1 + math.exp(-z)) for z in out.z], y
    else:
        yhat, target = [1 / (1 + math.exp(-z)) for z in out.z], y if isinstance(y, list) else [y]
    assert sc.yhat == pytest.approx(yhat, abs=1e-12) and sc.y == target
    short = [(p - t) / n for p, t in zip(yhat, target)]
    assert sc.short == pytest.approx(short, abs=1e-12)
    assert sc.full == pytest.approx(short, abs=1e-12)       # BE1 in full = the short form
    assert out.delta == pytest.approx(short, abs=1e-12)     # = the engine's delta
    if loss == "bce":  # BE1 in full from the engine's own dL/da and f'(z)
        assert [g * s for g, s in zip(out.dL_da, out.slope)] == pytest.approx(short, abs=1e-12)
    text = ex.text()
    assert "BE1, short form" in text and "The shortcut holds" in text
    if n > 1:
        assert "delta^2 = (yhat - y) / 2" in text or f"/ {n}" in text


@pytest.mark.parametrize("arch,x,y,loss,kind,n", SHORTCUT_CASES)
def test_shortcut_cases_against_torch(arch, x, y, loss, kind, n):
    torch = torch_or_skip()
    model = MLP(**arch, seed=4)
    ex = layer_view(model, x, y, loss=loss).explain()
    _assert_matches_torch(torch, ex, model, x, y, loss)
    _, t_layers = _torch_steps(torch, model, x, y, loss)
    z = t_layers[-1][0]
    if loss == "cross_entropy":
        yhat = torch.softmax(z.detach(), 0).tolist()
    else:
        yhat = torch.sigmoid(z.detach()).tolist()
    assert ex.shortcut.yhat == pytest.approx(yhat, abs=1e-12)


def test_no_shortcut_where_it_is_not_exact():
    # mse on a sigmoid output: BE1 keeps f'(z); cross-entropy on a tanh output layer:
    # softmax then reads a, not z
    sig = layer_view(MLP(2, [3, 1], output_activation="sigmoid", seed=0), [1.0, 0.5], 1.0)
    assert sig.explain().shortcut is None
    ce = layer_view(MLP(2, [3, 3], output_activation="tanh", seed=0), [1.0, 0.5], 1,
                    loss="cross_entropy")
    assert ce.explain().shortcut is None and "short form" not in ce.explain().text()


def test_shortcut_that_does_not_hold_says_so():
    # a saturated sigmoid: a = 1.0 exactly, y = 0; binary_cross_entropy then clamps its
    # slope (as PyTorch does), so delta = 0 while a - y = 1
    model = MLP(1, [1], output_activation="sigmoid", seed=0)
    model.layers[0].neurons[0].w[0].data = 60.0
    ex = layer_view(model, [1.0], 0.0, loss="bce").explain()
    assert ex.output.a == [1.0] and ex.output.delta == [0.0]
    assert ex.shortcut is not None and not ex.shortcut.holds
    assert ex.shortcut.max_difference == pytest.approx(1.0)
    assert "does not hold here" in ex.text() and "The shortcut holds" not in ex.text()


def test_explain_numbers_against_central_differences():
    # dL/dW and dL/db of every layer, numerically; deltas through the biases (BE4)
    cases = [(workshop_net()[0], [0.0, 1.0], [1.0, 0.0], "mse"),
             (toy_net()[0], [0.5, -1.5], 1.0, "bce"),
             (MLP(3, [4, 3, 3], activation="relu", seed=5), [0.3, -0.2, 0.8], 1,
              "cross_entropy")]
    for model, x, y, loss in cases:
        ex = layer_view(model, x, y, loss=loss).explain()
        for step, layer in zip(ex.layers, model.layers):
            params = [w for n in layer.neurons for w in n.w] + [n.b for n in layer.neurons]

            def f(values, params=params, model=model, x=x, y=y, loss=loss):
                saved = [p.data for p in params]
                for p, v in zip(params, values):
                    p.data = v
                result = LOSSES[loss](model(x), y).data
                for p, v in zip(params, saved):
                    p.data = v
                return result

            numeric = central_difference(f, [p.data for p in params])
            nw = len(params) - len(layer.neurons)
            assert [g for row in step.dL_dW for g in row] == pytest.approx(numeric[:nw],
                                                                          abs=1e-6)
            assert step.dL_db == pytest.approx(numeric[nw:], abs=1e-6)
            assert step.delta == pytest.approx(numeric[nw:], abs=1e-6)


def test_index_convention():
    model = MLP(2, [3, 2, 1], seed=3)
    view = layer_view(model, [0.5, -0.5], 0.3)
    zero, one = view.explain(), view.explain(input_layer=1)
    assert [s.layer for s in zero.layers] == [1, 2, 3]
    assert [s.layer for s in one.layers] == [2, 3, 4]
    assert [s.model_layer for s in one.layers] == [1, 2, 3]
    assert zero.layer(1).delta == one.layer(2).delta and zero.layer(3).delta == one.layer(4).delta
    t0, t1 = zero.text(), one.text()
    assert "from the input a^0 = x" in t0 and "BE1: delta^3 =" in t0 and "W^1" in t0
    assert "from the input a^1 = x" in t1 and "BE1: delta^4 =" in t1 and "W^1" not in t1
    assert r"\delta^{4}_{1}" in one.to_latex() and "W^1" not in one._repr_html_()
    with pytest.raises(ValueError, match="no layer 4"):
        zero.layer(4)
    for bad in (2, -1, True, "1", 1.0):
        with pytest.raises(ValueError, match="input_layer must be 0 .* or 1"):
            view.explain(input_layer=bad)


def test_explain_with_precision():
    net, _, _ = workshop_net()
    ex = layer_view(net, [0.0, 1.0], [1.0, 0.0]).explain()
    with precision(8):
        text = ex.text()
    # tanh(1), 1 - tanh(1) + tanh(2), 1 - tanh(1)^2 and their product, to 8 digits
    assert "(0.76159416 * 1 + 1.2024334 * (-1)) * 0.41997434 = -0.18514118" in text


# --- how the three renderings are written ---------------------------------------------------

_NEG_ZERO = re.compile(r"(?<![\d.])-0(?![.\de])")      # "-0", never "-0.5" or "-0e"
_AFTER_OP = re.compile(r"(?:[*+/^]|\s-)\s+-\d")        # a bare negative after an operator


def _explanations():
    net, _, _ = workshop_net()
    dead = MLP(2, [3, 1], activation="relu", seed=1)
    for n in dead.layers[0].neurons:        # every hidden unit off: deltas are (-)0
        n.b.data = -5.0
    yield layer_view(net, [0.0, 1.0], [1.0, 0.0]).explain()
    yield layer_view(toy_net()[0], [0.5, -1.5], 1.0, loss="bce").explain(input_layer=1)
    yield layer_view(MLP(2, [3, 3], seed=0), [0.4, -0.9], 1, loss="cross_entropy").explain()
    yield layer_view(dead, [0.5, 0.5], 2.0).explain()
    yield layer_view(MLP(2, [3, 2], seed=2), [0.4, 0.9], [1.0, 0.0],
                     loss="bce_with_logits").explain()
    yield layer_view(MLP(2, [3, 1], bias=False, seed=3), [0.7, -1.1], -1,
                     loss="logistic").explain()
    yield layer_view(MLP(3, [4, 2], dropout=0.5, seed=4), [0.1, 0.2, -0.3], [0.5, -0.5],
                     loss="mse").explain(input_layer=1)


def _balanced(text: str) -> bool:
    depth = 0
    k = 0
    while k < len(text):
        ch = text[k]
        if ch == "\\" and k + 1 < len(text) and text[k + 1] in "{}":
            k += 2
            continue
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
        k += 1
    return depth == 0


def test_renderings_are_clean():
    for ex in _explanations():
        text, page, tex = ex.text(), ex._repr_html_(), ex.to_latex()
        for rendering in (text, page, tex):
            assert "**" not in rendering
            assert not _NEG_ZERO.search(rendering), _NEG_ZERO.search(rendering)
            assert _balanced(rendering)
        assert not _AFTER_OP.search(text), _AFTER_OP.search(text)
        assert str(ex) == text and repr(ex).startswith("LayerExplanation(")
        # LaTeX: every environment closed, math delimiters paired
        assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") > 0
        assert tex.count(r"\begin{bmatrix}") == tex.count(r"\end{bmatrix}") > 0
        assert re.sub(r"\\\$", "", tex).count("$") % 2 == 0
        # HTML: the math MathJax typesets, in $...$ and $$...$$, with balanced braces
        assert page.count("$$") % 2 == 0 and page.replace("$$", "").count("$") % 2 == 0
        for formula in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", page):
            assert _balanced(formula[0] or formula[1])
        assert "<script" not in page


def test_negative_zero_is_written_zero():
    # the engine's zero gradients, made -0.0 (the same number): written "0", never "-0"
    dead = MLP(2, [3, 1], activation="relu", seed=1)
    for n in dead.layers[0].neurons:   # every hidden unit off
        n.b.data = -5.0
    view = layer_view(dead, [0.5, 0.5], 2.0)
    rec = view[0]
    assert rec.delta == [0.0, 0.0, 0.0]
    rec.delta = [-0.0] * 3
    rec.dL_db = [-0.0] * 3
    rec.dL_dW = [[-0.0, -0.0] for _ in range(3)]
    ex = view.explain()
    assert all(math.copysign(1.0, d) < 0 for d in ex.layer(1).delta)
    text = ex.text()
    assert "neuron 1: dL/db^1_1 = delta^1_1 = 0" in text
    assert "f_1'(z^1_1) = 0, as z^1_1 = -4.5" in text or "<= 0" in text
    for rendering in (text, ex._repr_html_(), ex.to_latex()):
        assert not _NEG_ZERO.search(rendering)


def test_layers_without_bias_and_with_dropout():
    no_bias = layer_view(MLP(2, [3, 1], bias=False, seed=3), [0.7, -1.1], -1,
                         loss="logistic").explain()
    assert all(step.dL_db is None for step in no_bias.layers)
    assert "BE4" not in no_bias.text() and "BE3" in no_bias.text()
    assert "through the logistic loss" in no_bias.text() and no_bias.shortcut is None
    # dropout is off in layer_view (eval mode): FE1 holds and the narration runs
    dropped = layer_view(MLP(3, [4, 2], dropout=0.5, seed=4), [0.1, 0.2, -0.3], [0.5, -0.5])
    assert len(dropped.explain().layers) == 2


def test_wide_layers_write_unambiguous_indices():
    ex = layer_view(MLP(2, [12, 11, 1], seed=0), [0.3, -0.2], 1.0).explain()
    text = ex.text()
    assert "dL/dW^1_(12,j) = delta^1_12 * a^0_j" in text
    assert "delta^2_1 * W^2_(1,12) + " in text and "(j = 1, ..., 12)" in text
    tex = ex.to_latex()
    assert tex.startswith(r"\setcounter{MaxMatrixCols}{12}")   # bmatrix stops at 10 otherwise
    assert r"W^{1}_{12,j}" in tex


def test_html_as_mathml():
    pytest.importorskip("latex2mathml")
    net, _, _ = workshop_net()
    ex = layer_view(net, [0.0, 1.0], [1.0, 0.0]).explain()
    page = ex.to_html(math="mathml")
    assert page.count("<math") > 30 and "$" not in page
    assert 'display="block"' in page                    # the matrix forms
    assert ex.to_html() == ex._repr_html_() and "$$" in ex.to_html()
    with pytest.raises(ValueError, match="math must be 'mathjax' or 'mathml'"):
        ex.to_html(math="katex")


def test_every_written_formula_reads_to_its_number():
    numeric = re.compile(r"^[-+*/^()\d.e ]+$")
    checked = 0
    for ex in _explanations():
        for line in ex.text().splitlines():
            parts = [p.strip() for p in line.split(":", 1)[-1].split(" = ")]
            nums = [p for p in parts if numeric.match(p) and re.search(r"\d", p)]
            if len(nums) < 2:
                continue
            result = float(nums[-1])
            for expr in nums[:-1]:
                value = eval(expr.replace("^", "**"), {"__builtins__": {}})  # digits only
                size = max([abs(result)] + [abs(float(t)) for t in
                                            re.findall(r"\d+\.?\d*(?:e-?\d+)?", expr)])
                assert abs(value - result) <= 2e-3 * size, (line, expr, value)
                checked += 1
    assert checked > 40


def test_latex_compiles_where_pdflatex_is_installed(tmp_path):
    stories = list(_explanations()) + [
        layer_view(MLP(2, [12, 11, 1], seed=0), [0.3, -0.2], 1.0).explain()]
    docs = [ex.to_latex(document=True) for ex in stories]
    for doc in docs:
        assert doc.startswith(r"\documentclass") and doc.rstrip().endswith(r"\end{document}")
        assert r"\usepackage{amsmath}" in doc and doc.count(r"\begin{document}") == 1
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed: the LaTeX's structure is tested, not "
                    "its compilation")
    # one run for all: the first document's preamble, then every fragment
    preamble = docs[0].split(r"\begin{document}")[0]
    body = "\n\\clearpage\n".join(ex.to_latex() for ex in stories)
    (tmp_path / "explain.tex").write_text(
        preamble + "\\begin{document}\n" + body + "\\end{document}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                          "explain.tex"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Undefined control sequence" not in run.stdout
    assert (tmp_path / "explain.pdf").stat().st_size > 10_000


def test_latex_fragments_convert_to_mathml():
    convert = pytest.importorskip("latex2mathml.converter").convert
    for ex in _explanations():
        for formula in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", ex._repr_html_()):
            import html as _html

            assert "<math" in convert(_html.unescape(formula[0] or formula[1]))


# --- what explain() refuses to narrate -------------------------------------------------------


class _Doubling(MLP):
    """Custom code between the layers: the hidden activations are doubled."""

    def _layer_outputs(self, xs):
        outs = []
        for k, layer in enumerate(self.layers):
            xs = layer._run(xs)
            outs.append(xs)
            if k < len(self.layers) - 1:
                xs = [v * 2.0 for v in xs]
        return outs


def test_explain_refuses_code_between_layers():
    model = _Doubling(2, [3, 1], seed=0)
    view = layer_view(model, [0.5, 0.5], 1.0)
    with pytest.raises(ValueError, match=r"FE1 does not hold at layer 2.*code changes the "
                                         r"values between the layers.*engine\.teach\.explain"):
        view.explain()


def test_explain_refuses_a_loss_that_reads_the_parameters():
    model = MLP(2, [3, 1], seed=0)

    def penalised(output, target):
        return LOSSES["mse"](output, target) + l2_penalty(model, 0.1)

    view = layer_view(model, [0.5, 0.5], 1.0, loss=penalised)
    with pytest.raises(ValueError, match=r"BE3 does not hold at layer \d.*pass the data "
                                         r"loss alone.*l2_penalty"):
        view.explain()


def test_explain_custom_loss_without_a_shortcut():
    model = MLP(2, [3, 1], seed=0)

    def half_squares(output, target):
        return 0.5 * (output[0] - target) ** 2

    ex = layer_view(model, [0.5, 0.5], 1.0, loss=half_squares).explain()
    assert ex.shortcut is None and ex.loss_kind is None
    assert "comes from the engine's backward pass through the half_squares loss" in ex.text()
    assert ex.output.dL_da == pytest.approx([ex.output.a[0] - 1.0], abs=1e-12)


@pytest.mark.parametrize("tamper,message", [
    (lambda v: v[0].a.__setitem__(0, v[0].a[0] + 0.1), r"FE2 does not hold at layer 1, neuron 1"),
    (lambda v: v[1].inputs.__setitem__(1, 9.0), r"layer 2's inputs are not layer 1's outputs"),
    (lambda v: v[0].delta.__setitem__(2, v[0].delta[2] + 1e-3),
     r"BE2 does not hold at layer 1, neuron 3: the engine's delta"),
    (lambda v: v[1].delta.__setitem__(0, v[1].delta[0] * 2), r"BE1 does not hold at layer 2"),
    (lambda v: v[1].dL_dW[0].__setitem__(1, 0.5), r"BE3 does not hold at layer 2: .*dL/dW\^2_12"),
    (lambda v: v[0].dL_db.__setitem__(1, 0.5), r"BE4 does not hold at layer 1: .*dL/db\^1_2"),
])
def test_explain_names_the_equation_that_fails(tamper, message):
    # each check on its own: numbers that break one equation (as a custom graph would)
    view = layer_view(MLP(2, [3, 1], seed=0), [0.5, -0.5], 1.0)
    view.explain()  # untouched, it narrates
    tamper(view)
    with pytest.raises(ValueError, match=message):
        view.explain()


def test_shortcut_at_extreme_outputs():
    # softmax underflows to exactly 0 for the target class: nothing to divide by, yet the
    # short form yhat - y is still exact (the loss is computed stably)
    model = MLP(1, [3], seed=0)
    for n, w in zip(model.layers[0].neurons, (0.0, 900.0, -900.0)):
        n.w[0].data, n.b.data = w, 0.0
    ex = layer_view(model, [1.0], 2, loss="cross_entropy").explain()
    assert ex.shortcut.yhat == [0.0, 1.0, 0.0] and ex.shortcut.holds
    assert ex.output.delta == pytest.approx([0.0, 1.0, -1.0], abs=1e-15)
    assert "where BE1 in full" not in ex.text() and "/ 0)" not in ex.text()
    # a saturated logit: sigmoid(60) rounds to 1.0, the engine's delta is -8.8e-27; that is
    # rounding in yhat - y, not a failure of the shortcut
    model = MLP(1, [1], seed=0)
    model.layers[0].neurons[0].w[0].data = 60.0
    ex = layer_view(model, [1.0], 1.0, loss="bce_with_logits").explain()
    assert ex.output.delta[0] == pytest.approx(-math.exp(-60.0), rel=1e-9)
    assert ex.shortcut.holds and "nan" not in ex.text()

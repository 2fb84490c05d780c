"""Neuron, Layer, MLP and Dropout: forward values and every parameter gradient
against PyTorch float64 and central differences; labels, scopes, order, init,
errors and reprs."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import central_difference, torch_or_skip

from engine import Value
from nn import MLP, Dropout, Layer, Neuron

ARCHITECTURES = [
    # nin, nouts, activation, output_activation, bias
    (2, [3, 1], "tanh", "linear", True),
    (3, [4, 4, 2], "relu", "sigmoid", True),
    (2, [5, 3, 1], "sigmoid", "tanh", True),
    (4, [3, 2], "tanh", "relu", False),
    (1, [2, 2, 2, 1], "linear", "linear", True),
]


def _inputs(nin, seed):
    rng = random.Random(seed)
    return [rng.uniform(-2, 2) for _ in range(nin)]


def _weighted_sum(outputs, coefficients):
    # A scalar that depends on every output with a different weight.
    total = outputs[0] * coefficients[0]
    for o, c in zip(outputs[1:], coefficients[1:]):
        total = total + o * c
    return total


def _torch_forward(torch, model, x):
    """The MLP written by hand in torch from the model's weights (not via to_torch)."""
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "linear": lambda t: t}
    leaves = []
    a = torch.tensor(x, dtype=torch.float64)
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        leaves.append(W)
        z = W @ a
        if layer.bias:
            b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                             requires_grad=True)
            leaves.append(b)
            z = z + b
        a = acts[layer.activation](z)
    return a, leaves


@pytest.mark.parametrize("nin,nouts,act,out_act,bias", ARCHITECTURES)
def test_mlp_forward_and_gradients_match_torch(nin, nouts, act, out_act, bias):
    torch = torch_or_skip()
    model = MLP(nin, nouts, activation=act, output_activation=out_act, bias=bias, seed=7)
    x = _inputs(nin, 1)
    coefficients = [1.0 + 0.5 * k for k in range(nouts[-1])]
    out = model(x)
    _weighted_sum(out, coefficients).backward()

    t_out, leaves = _torch_forward(torch, model, x)
    (t_out * torch.tensor(coefficients, dtype=torch.float64)).sum().backward()
    for ours, theirs in zip(out, t_out.tolist()):
        assert ours.data == pytest.approx(theirs, abs=1e-12)
    # Our gradients in the torch tensors' layout: W then b, layer by layer.
    k = 0
    for layer in model.layers:
        W_grad = leaves[k].grad.tolist()
        k += 1
        for i, n in enumerate(layer.neurons):
            for j, w in enumerate(n.w):
                assert w.grad == pytest.approx(W_grad[i][j], abs=1e-10), w.label
        if layer.bias:
            b_grad = leaves[k].grad.tolist()
            k += 1
            for i, n in enumerate(layer.neurons):
                assert n.b.grad == pytest.approx(b_grad[i], abs=1e-10), n.b.label


@pytest.mark.parametrize("nin,nouts,act,out_act,bias", ARCHITECTURES)
def test_mlp_gradients_match_central_differences(nin, nouts, act, out_act, bias):
    model = MLP(nin, nouts, activation=act, output_activation=out_act, bias=bias, seed=3)
    x = _inputs(nin, 2)
    coefficients = [1.0 - 0.3 * k for k in range(nouts[-1])]
    params = model.parameters()

    def f(values):
        saved = [p.data for p in params]
        for p, v in zip(params, values):
            p.data = v
        result = _weighted_sum(model(x), coefficients).data
        for p, v in zip(params, saved):
            p.data = v
        return result

    numeric = central_difference(f, [p.data for p in params])
    model.zero_grad()
    _weighted_sum(model(x), coefficients).backward()
    for p, g in zip(params, numeric):
        assert p.grad == pytest.approx(g, abs=1e-6), p.label


def test_input_gradients_flow_through_value_inputs():
    torch = torch_or_skip()
    model = MLP(2, [3, 1], seed=1)
    xs = [Value(0.3, label="u"), Value(-1.2, label="v")]
    model(xs)[0].backward()
    t_x = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    a = t_x
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        a = W @ a + b
        if layer.activation == "tanh":
            a = torch.tanh(a)
    a.sum().backward()
    assert [v.grad for v in xs] == pytest.approx(t_x.grad.tolist(), abs=1e-12)


def test_neuron_computes_activation_of_affine_sum():
    n = Neuron(3, activation="sigmoid", seed=0)
    for w, v in zip(n.w, [0.5, -1.0, 2.0]):
        w.data = v
    n.b.data = 0.25
    (out,) = n([1.0, 2.0, -0.5])
    z = 0.5 * 1.0 + -1.0 * 2.0 + 2.0 * -0.5 + 0.25
    assert out.data == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-15)


def test_calls_return_lists_even_for_one_output():
    assert isinstance(Neuron(2, seed=0)([1, 2]), list)
    assert isinstance(Layer(2, 1, seed=0)([1, 2]), list)
    out = MLP(2, [1], seed=0)([1, 2])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)


def test_labels_follow_the_lecture_indices():
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    assert [p.label for p in model.layers[1].parameters()] == ["w2.1.1", "w2.1.2", "w2.1.3",
                                                                "b2.1"]
    assert model.layers[0].neurons[2].w[1].label == "w1.3.2"
    (out,) = model([0.5, -0.5])
    assert out.label == "z2.1"  # a linear output is its pre-activation
    hidden = sorted((n for n in _all_nodes(out) if n.label.startswith("a1.")),
                    key=lambda n: n.label)
    assert [n.label for n in hidden] == ["a1.1", "a1.2", "a1.3"]
    assert all(n.op == "tanh" and n.inputs[0].label == "z" + n.label[1:] for n in hidden)
    leaves = [n for n in _all_nodes(out) if n.label in ("x1", "x2")]
    assert sorted(n.label for n in leaves) == ["x1", "x2"]
    assert {n.data for n in leaves} == {0.5, -0.5}


def _all_nodes(root):
    seen, stack = [], [root]
    while stack:
        node = stack.pop()
        if any(node is s for s in seen):
            continue
        seen.append(node)
        stack.extend(node.inputs)
    return seen


def test_nodes_remember_their_module_path():
    model = MLP(2, [2, 1], seed=0)
    (out,) = model([1.0, 2.0])
    layer2, neuron = model.layers[1], model.layers[1].neurons[0]
    assert out.scope == (model, layer2, neuron)
    z11 = next(n for n in _all_nodes(out) if n.label == "z1.1")
    assert z11.scope == (model, model.layers[0], model.layers[0].neurons[0])
    x1 = next(n for n in _all_nodes(out) if n.label == "x1")
    assert x1.scope == ()  # inputs belong to the caller, not to a neuron


def test_kinds_and_names():
    model = MLP(2, [3, 1], seed=0, dropout=0.5)
    assert (model.kind, model.name) == ("mlp", "mlp")
    assert (model.layers[1].kind, model.layers[1].name) == ("layer", "layer 2")
    n = model.layers[1].neurons[0]
    assert (n.kind, n.name) == ("neuron", "layer 2, neuron 1")
    assert model.dropouts[0].kind == "dropout"
    assert model.dropouts[0].name == "dropout after layer 1"


def test_formula():
    assert Neuron(2, activation="tanh").formula == "tanh(w.x + b)"
    assert Neuron(2, activation="relu", bias=False).formula == "relu(w.x)"
    assert Neuron(2, activation="linear").formula == "w.x + b"


def test_parameters_order_is_layer_neuron_weights_then_bias():
    model = MLP(3, [2, 2], seed=0)
    expected = []
    for layer in model.layers:
        for n in layer.neurons:
            expected.extend(n.w)
            expected.append(n.b)
    got = model.parameters()
    assert len(got) == len(expected) == 3 * 2 + 2 + 2 * 2 + 2
    assert all(a is b for a, b in zip(got, expected))
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == ["w1.1.1", "w1.1.2", "w1.1.3", "b1.1"]
    assert names[-3:] == ["w2.2.1", "w2.2.2", "b2.2"]
    # names come from the structure, not from (editable) labels
    model.layers[0].neurons[0].w[0].label = "my weight"
    assert model.named_parameters()[0][0] == "w1.1.1"


def test_no_bias():
    model = MLP(2, [3, 1], bias=False, seed=0)
    assert model.num_parameters() == 2 * 3 + 3
    assert all(n.b is None for layer in model.layers for n in layer.neurons)


def test_seed_reproducible_and_global_rng_untouched():
    state = random.getstate()
    a = [p.data for p in MLP(3, [4, 2], seed=11).parameters()]
    b = [p.data for p in MLP(3, [4, 2], seed=11).parameters()]
    c = [p.data for p in MLP(3, [4, 2], seed=12).parameters()]
    assert random.getstate() == state
    assert a == b and a != c
    # without a seed, two models differ
    assert [p.data for p in MLP(3, [4]).parameters()] != [p.data for p in MLP(3, [4]).parameters()]


def _variance(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


@pytest.mark.parametrize("init,variance", [
    ("lecun", 1 / 200),
    ("he", 2 / 200),
    ("xavier", 2 / (200 + 100)),
    ("uniform", 1 / 3),
])
def test_init_variance(init, variance):
    layer = Layer(200, 100, init=init, seed=5)
    weights = [w.data for n in layer.neurons for w in n.w]
    assert _variance(weights) == pytest.approx(variance, rel=0.05)
    assert all(n.b.data == 0.0 for n in layer.neurons)
    if init == "uniform":
        assert all(-1 <= w <= 1 for w in weights)


def test_zeros_init_and_unknown_init():
    assert all(p.data == 0.0 for p in MLP(2, [2, 1], init="zeros").parameters())
    with pytest.raises(ValueError, match="unknown init 'gaussian'"):
        MLP(2, [1], init="gaussian")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zeros_init_is_dead_not_symmetric(activation):
    """What the docs say of init="zeros": with f(0) = 0 every weight's gradient is 0
    (only the output bias moves), checked against central differences."""
    model = MLP(2, [3, 1], activation=activation, output_activation="sigmoid", init="zeros")
    x = [0.7, -1.3]

    def loss_at():
        return (model(x)[0] - 1.0) ** 2

    loss_at().backward()
    *hidden, out = model.layers
    weights = [w for layer in model.layers for n in layer.neurons for w in n.w]
    assert all(w.grad == 0.0 for w in weights)
    assert all(n.b.grad == 0.0 for n in hidden[0].neurons)
    bias = out.neurons[0].b

    def loss_with_bias(values):
        saved, bias.data = bias.data, values[0]
        try:
            return loss_at().data
        finally:
            bias.data = saved

    (numeric,) = central_difference(loss_with_bias, [bias.data])
    assert bias.grad != 0.0 and bias.grad == pytest.approx(numeric, rel=1e-6)


def test_equal_nonzero_weights_keep_units_identical():
    """Symmetry, as the docs describe it: equal starting weights get equal gradients,
    so a layer's units stay copies of each other through training steps."""
    model = MLP(2, [3, 1], activation="tanh", init="zeros")
    for p in model.parameters():
        p.data = 0.5
    x, target = [0.7, -1.3], 1.0
    for _ in range(3):
        model.zero_grad()
        ((model(x)[0] - target) ** 2).backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    first = model.layers[0].neurons
    assert any(w.data != 0.5 for w in first[0].w)  # it did move
    for neuron in first[1:]:
        assert [w.data for w in neuron.w] == [w.data for w in first[0].w]
        assert neuron.b.data == first[0].b.data


def test_wrong_input_length_names_the_layer_and_counts():
    with pytest.raises(ValueError, match="Layer 1 expected 2 inputs, got 3"):
        Layer(2, 4)([1, 2, 3])
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        MLP(2, [4, 1])([1, 2, 3])
    with pytest.raises(ValueError, match="expected 3 inputs, got 1"):
        Neuron(3)([1.0])


def test_wrong_input_types():
    model = MLP(2, [1], seed=0)
    with pytest.raises(TypeError, match="wrap a single input in a list"):
        model(1.0)
    with pytest.raises(TypeError, match="sequence of inputs"):
        model("ab")
    with pytest.raises(TypeError, match="input 2 must be a number or a Value, got str"):
        model([1.0, "2"])
    with pytest.raises(TypeError, match="one sample at a time"):
        model([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="input 1 must be a number"):
        model([None, 1.0])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        MLP(2, [1], activation="softmax")
    with pytest.raises(ValueError, match="at least 1"):
        Layer(0, 3)
    with pytest.raises(TypeError, match="nouts"):
        MLP(2, 3)
    with pytest.raises(TypeError, match="must be an int"):
        MLP(2, [2.5, 1])
    with pytest.raises(TypeError, match="seed"):
        MLP(2, [1], seed="x")
    with pytest.raises(ValueError, match="dropout"):
        MLP(2, [2, 1], dropout=1.5)


def test_numpy_inputs():
    np = pytest.importorskip("numpy", reason="numpy not installed: numpy inputs untested")
    model = MLP(3, [2, 1], seed=0)
    expected = model([0.5, -1.0, 2.0])[0].data
    assert model(np.array([0.5, -1.0, 2.0]))[0].data == expected
    assert model(np.array([0.5, -1.0, 2.0], dtype=np.float32))[0].data == pytest.approx(expected)
    assert model([np.float64(0.5), np.int64(-1), np.array(2.0)])[0].data == expected
    with pytest.raises(TypeError, match="one sample at a time"):
        MLP(2, [1])(np.zeros((2, 2)))


def test_reprs():
    assert repr(MLP(2, [16, 16, 1], activation="relu", seed=0)) == (
        "MLP(2 -> [16 relu, 16 relu, 1 linear], 337 parameters)")
    assert repr(MLP(2, [4, 1], dropout=0.25, seed=0)) == (
        "MLP(2 -> [4 tanh, dropout 0.25, 1 linear], 17 parameters)")
    assert repr(Layer(3, 2, activation="sigmoid")) == "Layer(3 -> 2 sigmoid, 8 parameters)"
    assert repr(Neuron(2)) == "Neuron(2 inputs, tanh(w.x + b))"
    assert repr(Dropout(0.5)) == "Dropout(p=0.5)"
    assert repr(Dropout(0.5).eval()) == "Dropout(p=0.5, eval)"


# --- dropout -----------------------------------------------------------------------


def test_dropout_eval_is_identity():
    d = Dropout(0.5, seed=0).eval()
    xs = [Value(float(k)) for k in range(10)]
    out = d(xs)
    assert all(a is b for a, b in zip(out, xs))


def test_dropout_train_zeroes_or_scales_and_keeps_expectation():
    p = 0.3
    d = Dropout(p, seed=1)
    xs = [Value(2.0) for _ in range(4000)]
    out = d(xs)
    scaled = 2.0 / (1 - p)
    assert all(o.data in (0.0, pytest.approx(scaled)) for o in out)
    kept = sum(1 for o in out if o.data != 0.0)
    assert kept / len(out) == pytest.approx(1 - p, abs=0.03)
    assert d.last_mask == [1 if o.data else 0 for o in out]


def test_dropout_gradient_is_mask_over_keep_probability():
    d = Dropout(0.5, seed=2)
    xs = [Value(1.0) for _ in range(20)]
    out = d(xs)
    total = out[0]
    for o in out[1:]:
        total = total + o
    total.backward()
    assert [x.grad for x in xs] == [2.0 * m for m in d.last_mask]


def test_dropout_seeded_and_p_edges():
    a = [v.data for v in Dropout(0.5, seed=4)([1.0] * 20)]
    b = [v.data for v in Dropout(0.5, seed=4)([1.0] * 20)]
    assert a == b
    assert [v.data for v in Dropout(0.0)([1.0, 2.0])] == [1.0, 2.0]
    assert [v.data for v in Dropout(1.0)([1.0, 2.0])] == [0.0, 0.0]
    with pytest.raises(ValueError, match="probability"):
        Dropout(-0.1)


def test_mlp_dropout_train_vs_eval():
    model = MLP(4, [50, 1], dropout=0.5, seed=0)
    x = [0.1, 0.2, 0.3, 0.4]
    model.train()
    train_outs = {model(x)[0].data for _ in range(5)}
    assert len(train_outs) > 1  # a fresh mask each call
    model.eval()
    assert all(d.training is False for d in model.dropouts)
    eval_outs = {model(x)[0].data for _ in range(3)}
    assert len(eval_outs) == 1
    # in eval mode, the same as the network without dropout
    plain = MLP(4, [50, 1], seed=0)
    plain.load_state_dict(model.state_dict())
    assert eval_outs == {plain(x)[0].data}


def test_dropout_does_not_change_the_initial_weights():
    assert MLP(3, [4, 1], seed=9).state_dict() == MLP(3, [4, 1], seed=9, dropout=0.2).state_dict()


def test_layer_outputs():
    model = MLP(2, [3, 2, 1], seed=0)
    outs = model.layer_outputs([1.0, -1.0])
    assert [len(o) for o in outs] == [3, 2, 1]
    assert outs[-1][0].data == model([1.0, -1.0])[0].data
    assert outs[0][0].scope == (model, model.layers[0], model.layers[0].neurons[0])


# --- property: any small architecture, gradients equal central differences ------------

@settings(max_examples=15, deadline=None)
@given(
    nin=st.integers(1, 3),
    nouts=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    act=st.sampled_from(["tanh", "sigmoid", "linear"]),  # smooth: no kinks to land on
    out_act=st.sampled_from(["tanh", "sigmoid", "linear"]),
    seed=st.integers(0, 2**16),
)
def test_property_gradients_match_central_differences(nin, nouts, act, out_act, seed):
    model = MLP(nin, nouts, activation=act, output_activation=out_act, seed=seed)
    x = _inputs(nin, seed)
    params = model.parameters()

    def f(values):
        saved = [p.data for p in params]
        for p, v in zip(params, values):
            p.data = v
        result = sum(o.data for o in model(x))
        for p, v in zip(params, saved):
            p.data = v
        return result

    numeric = central_difference(f, [p.data for p in params])
    model.zero_grad()
    out = model(x)
    total = out[0]
    for o in out[1:]:
        total = total + o
    total.backward()
    assert [p.grad for p in params] == pytest.approx(numeric, abs=1e-6)

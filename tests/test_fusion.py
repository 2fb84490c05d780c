"""The tape's fused layers (engine/tape.py) equal its node-by-node replay.

``Tape(..., fuse=True)`` (the default) finds each layer's neuron chains
(``w1*x1 + ... + wn*xn + b``, then one activation) in the recorded graph and
replays them as one matrix product per layer; ``fuse=False`` replays every node
with its rule, the reference. Both must give the same outputs and gradients, to
1e-12 relative (they add the products in another order), for every activation
and loss, any batch size, and models with code of their own between layers. Each
test also checks how many layers were fused, so a detector that fuses nothing,
or fuses what it must not, fails.
"""

import random

import pytest

np = pytest.importorskip("numpy", reason="the compiled tape needs NumPy")

import nn  # noqa: E402
from engine import Value  # noqa: E402
from engine.tape import Tape  # noqa: E402
from engine.value import scope  # noqa: E402
from nn.compiled import fit_step, record  # noqa: E402
from nn.losses import LOSSES  # noqa: E402

ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear"]
TOL = {"rel": 1e-12, "abs": 1e-12}


def _both(model, nin, size, seed, parameters=None):
    """Outputs and parameter gradients of the unfused and the fused replay, and the tapes."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, (size, nin))
    params = model.parameters() if parameters is None else parameters
    runs = []
    for fuse in (False, True):
        tape = record(model, nin, params, fuse=fuse)
        for p in params:
            p.grad = 0.0
        out = tape.forward(X)
        G = np.random.default_rng(seed + 1).normal(size=out.shape)  # any d(loss)/d(output)
        tape.backward(G)
        runs.append((out.ravel().tolist(), [p.grad for p in params], tape))
    return runs


def _assert_equal(runs):
    (out0, grads0, _), (out1, grads1, _) = runs
    assert out1 == pytest.approx(out0, **TOL)
    assert grads1 == pytest.approx(grads0, **TOL)
    assert any(g != 0.0 for g in grads0)  # a gradient did flow


# --- MLPs ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_fused_equals_unfused_on_random_mlps(seed):
    rng = random.Random(seed)
    nin = rng.randint(1, 5)
    widths = [rng.randint(1, 7) for _ in range(rng.randint(1, 3))]
    model = nn.MLP(nin, widths, activation=rng.choice(ACTIVATIONS),
                   output_activation=rng.choice(ACTIVATIONS), bias=rng.random() < 0.7,
                   seed=seed)
    runs = _both(model, nin, rng.choice([1, 7, 33]), seed)
    _assert_equal(runs)
    assert len(runs[0][2].layers) == 0
    assert len(runs[1][2].layers) == len(widths)  # one fused product per layer


@pytest.mark.parametrize("size", [1, 7, 33])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_and_odd_batch_sizes(activation, size):
    model = nn.MLP(3, [5, 4, 2], activation=activation, output_activation=activation, seed=1)
    runs = _both(model, 3, size, seed=size)
    _assert_equal(runs)
    fused = runs[1][2]
    assert len(fused.layers) == 3
    assert all(len(layer.outputs) == width for layer, width in zip(fused.layers, [5, 4, 2]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_layers_without_bias(activation):
    model = nn.MLP(4, [3, 2], activation=activation, output_activation=activation,
                   bias=False, seed=2)
    runs = _both(model, 4, 33, seed=3)
    _assert_equal(runs)
    assert [layer.biases for layer in runs[1][2].layers] == [None, None]


def test_one_input_neurons_fuse_too():
    # w*x + b and (without bias) a single product: the shortest chains
    for bias in (True, False):
        model = nn.MLP(1, [1, 3, 1], activation="tanh", bias=bias, seed=4)
        runs = _both(model, 1, 7, seed=5)
        _assert_equal(runs)
        assert len(runs[1][2].layers) == 3


def test_only_some_parameters_receive_gradients():
    model = nn.MLP(2, [3, 2], activation="tanh", seed=6)
    params = model.parameters()
    some = params[::3]
    runs = _both(model, 2, 7, seed=7, parameters=some)
    _assert_equal(runs)
    assert all(p.grad == 0.0 for p in params if all(p is not q for q in some))


def test_fusion_leaves_the_graph_as_it_was():
    # the graph the student sees: every node keeps its op, inputs, data and label
    model = nn.MLP(2, [3, 1], seed=0)
    xs = [Value(0.5, label="x1"), Value(-1.0, label="x2")]
    out = model(xs)
    before = [(v.op, v.inputs, v.data, v.label) for v in Tape(out, xs, fuse=False).nodes]
    tape = Tape(out, xs)
    tape.forward([[1.0, 2.0]])
    tape.backward()
    assert len(tape.layers) == 2
    assert [(v.op, v.inputs, v.data, v.label) for v in tape.nodes] == before


# --- models with code of their own ---------------------------------------------------


class _Custom(nn.Module):
    """Two layers with code between them: a square, a constant, a reversed order, a reuse."""

    kind = "custom"

    def __init__(self):
        self.name = "custom"
        self.first = nn.Layer(3, 4, activation="tanh", seed=0)
        self.second = nn.Layer(5, 3, activation="relu", seed=1)
        self.head = nn.Layer(3, 1, activation="linear", seed=2)

    def nin(self):
        return 3

    def children(self):
        return [self.first, self.second, self.head]

    def forward(self, xs):
        h = self.first._run([xs[2], xs[0], xs[1]])  # the inputs out of order
        mixed = [h[0] * h[1], h[2] + 0.5, h[3].exp(), h[0], Value(2.0)]  # h[0] read twice
        g = self.second._run(mixed)
        out = self.head._run(list(reversed(g)))  # the layer before, read backwards
        return [out[0] * out[0] + g[1]]  # a node after the last layer, reading a hidden one


def test_custom_code_between_layers():
    model = _Custom()
    runs = _both(model, 3, 33, seed=8)
    _assert_equal(runs)
    fused = runs[1][2]
    assert len(fused.layers) == 3
    first, second, head = fused.layers
    assert head.source is second  # reversed order: the layer before reordered to match
    assert second.source is None and first.source is None  # read column by column
    plain = len(fused.nodes) - sum(len(layer.members) for layer in fused.layers)
    assert sum(len(steps) for steps, _, _ in fused._program) <= plain  # the rest, one by one


def test_a_fused_hidden_layer_read_by_two_layers():
    class Fork(nn.Module):
        def __init__(self):
            self.name = "fork"
            self.trunk = nn.Layer(2, 3, activation="sigmoid", seed=0)
            self.left = nn.Layer(3, 2, activation="tanh", seed=1)
            self.right = nn.Layer(3, 2, activation="tanh", seed=2)

        def nin(self):
            return 2

        def children(self):
            return [self.trunk, self.left, self.right]

        def forward(self, xs):
            h = self.trunk._run(xs)
            return self.left._run(h) + self.right._run([h[2], h[1], h[0]])

    runs = _both(Fork(), 2, 7, seed=9)
    _assert_equal(runs)
    assert len(runs[1][2].layers) == 3


def test_tied_weights():
    model = nn.MLP(2, [2, 1], activation="tanh", seed=3)
    n1, n2 = model.layers[0].neurons
    n2.w[0] = n1.w[0]  # the same Value in two neurons: its gradient is the sum of both
    params = [p for p in dict.fromkeys(model.parameters())]
    runs = _both(model, 2, 7, seed=10, parameters=params)
    _assert_equal(runs)
    assert len(runs[1][2].layers) == 2


# --- what does not fit stays unfused ---------------------------------------------------


class _Owner:
    """A scope owner that calls itself a layer (the scope protocol), for hand-made graphs."""

    kind = "layer"

    def parameters(self):
        return []


def test_a_partial_sum_read_elsewhere_is_not_fused():
    x1, x2 = Value(0.0, label="x1"), Value(0.0, label="x2")
    w1, w2, b = Value(0.3), Value(-0.7), Value(0.1)
    with scope(_Owner()):
        partial = w1 * x1
        z = partial + w2 * x2 + b
        a = z.tanh()
    out = a * partial  # the partial sum leaves the chain: no neuron to fuse
    runs = []
    for fuse in (False, True):
        tape = Tape(out, [x1, x2], [w1, w2, b], fuse=fuse)
        for p in (w1, w2, b):
            p.grad = 0.0
        runs.append((tape.forward([[1.0, 2.0], [-0.5, 0.25]]).ravel().tolist(), tape))
        tape.backward()
        runs[-1] += ([w1.grad, w2.grad, b.grad],)
    fused = runs[1][1]
    # w1*x1 alone is a neuron without bias (one input); z and a stay node by node
    assert [fused.nodes[i] for layer in fused.layers for i in layer.outputs] == [partial]
    assert runs[1][0] == pytest.approx(runs[0][0], **TOL)
    assert runs[1][2] == pytest.approx(runs[0][2], **TOL)


def test_chains_outside_a_layer_or_not_linear_are_not_fused():
    x = Value(0.0, label="x")
    w, b = Value(0.5, label="w1.1.1"), Value(0.2, label="b1.1")
    z = w * x + b  # labelled like a neuron, made outside any layer: labels are not trusted
    z.label = "z1.1"
    assert Tape(z.tanh(), [x]).layers == []
    with scope(_Owner()):
        wx = w * x
        y = wx * x + b  # a product of the input with itself: not w . x + b
        u = x * x + b  # no weight: both factors vary from sample to sample
    tape = Tape([y, u], [x])
    # only w * x fits (a one-input neuron without bias); y and u replay node by node
    assert [tape.nodes[i] for layer in tape.layers for i in layer.outputs] == [wx]
    X = [[0.5], [-2.0]]
    assert tape.forward(X).ravel().tolist() == pytest.approx(
        Tape([y, u], [x], fuse=False).forward(X).ravel().tolist(), **TOL)


def test_a_hand_made_layer_fuses_and_names_its_activation_in_errors():
    xs = [Value(0.0, label=f"x{j}") for j in range(2)]
    ws = [[Value(0.5), Value(0.25)], [Value(-1.0), Value(2.0)]]
    outs = []
    owner = _Owner()
    for row in ws:
        with scope(owner):
            outs.append((row[0] * xs[0] + row[1] * xs[1] + 1.0).log())
    outs[0].label = "a1"
    tape = Tape(outs, xs)
    assert len(tape.layers) == 1
    plain = Tape(outs, xs, fuse=False)
    X = [[1.0, 1.0], [0.5, 0.0]]
    assert tape.forward(X).ravel().tolist() == pytest.approx(
        plain.forward(X).ravel().tolist(), **TOL)
    with pytest.raises(ValueError, match="log .*'a1'.*for at least one sample"):
        tape.forward([[1.0, 1.0], [-9.0, 0.0]])


# --- the training step: every loss, fused against node by node ------------------------


def _problem(loss, seed, size):
    rng = random.Random(seed)
    nout = 3 if loss == "cross_entropy" else rng.choice([1, 2])
    out_act = "sigmoid" if loss == "bce" else "linear"
    model = nn.MLP(3, [5, nout], activation=rng.choice(["tanh", "relu", "sigmoid"]),
                   output_activation=out_act, seed=seed)
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(size)]
    if loss == "cross_entropy":
        y = [rng.randrange(nout) for _ in X]
    elif loss in ("hinge", "logistic"):
        y = [[rng.choice([-1.0, 1.0]) for _ in range(nout)] for _ in X]
    elif loss in ("bce", "bce_with_logits"):
        y = [[rng.choice([0.0, 1.0, rng.random()]) for _ in range(nout)] for _ in X]
    else:
        y = [[rng.uniform(-1, 1) for _ in range(nout)] for _ in X]
    return model, X, y


def _steps(model, loss_fn, X, y, l2):
    runs = []
    for fuse in (False, True):
        step = fit_step(model, loss_fn, model.parameters(), l2, fuse=fuse)
        model.zero_grad()
        data, total, outputs = step(X, y)
        runs.append((data, total, outputs, [p.grad for p in model.parameters()]))
    model.zero_grad()
    return runs


@pytest.mark.parametrize("size", [1, 7, 33])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_fused_step_equals_unfused_step_for_every_loss(loss, size):
    model, X, y = _problem(loss, seed=size, size=size)
    (d0, t0, o0, g0), (d1, t1, o1, g1) = _steps(model, LOSSES[loss], X, y, l2=0.05)
    assert (d1, t1) == pytest.approx((d0, t0), **TOL)
    assert [v for r in o1 for v in r] == pytest.approx([v for r in o0 for v in r], **TOL)
    assert g1 == pytest.approx(g0, **TOL)
    assert any(g != 0.0 for g in g0)


def test_batches_the_batch_losses_do_not_cover_take_the_graph():
    model = nn.MLP(2, [1], output_activation="linear", seed=0)
    for p in model.parameters():
        p.data = 0.0
    model.layers[0].neurons[0].b.data = 1.0  # p = 1 exactly: bce's saturated branch
    X, y = [[1.0, 1.0], [0.5, 0.2]], [0.0, 1.0]
    (d0, _, _, g0), (d1, _, _, g1) = _steps(model, LOSSES["bce"], X, y, l2=0.0)
    assert d1 == pytest.approx(d0, **TOL) and g1 == pytest.approx(g0, **TOL)
    assert max(abs(g) for g in g0) > 1e6  # the saturated slope (p - y) / 1e-12 did apply


@pytest.mark.parametrize("loss, y, message", [
    ("hinge", [0.0, 1.0], "labels in"),
    ("cross_entropy", [0, 5], "class index 5 is out of range"),
    ("bce", [2.0, 0.0], "target must be in"),
    ("mse", [[1.0, 2.0], [3.0, 4.0]], "has 1 entries but the target"),
])
def test_targets_a_loss_refuses_raise_its_own_error(loss, y, message):
    nout = 3 if loss == "cross_entropy" else 1
    model = nn.MLP(2, [nout], output_activation="sigmoid" if loss == "bce" else "linear",
                   seed=0)
    step = fit_step(model, LOSSES[loss], model.parameters())
    with pytest.raises((ValueError, TypeError), match=message):
        step([[1.0, 0.0], [0.0, 1.0]], y)


def test_a_loss_of_your_own_builds_its_graph():
    calls = []

    def loss(outputs, targets):
        calls.append(len(outputs))
        return sum(((o[0] - t) ** 4 for o, t in zip(outputs, targets)), Value(0.0))

    model = nn.MLP(2, [3, 1], seed=1)
    X, y = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [1.0, -1.0, 0.0]
    (d0, _, _, g0), (d1, _, _, g1) = _steps(model, loss, X, y, l2=0.0)
    assert calls == [3, 3]  # called by both steps, on the whole batch
    assert d1 == pytest.approx(d0, **TOL) and g1 == pytest.approx(g0, **TOL)

"""The compiled tape (engine/tape.py) and the array forms of the rules.

The tape must give what per-sample scalar training gives (to 1e-12): the same
graph, the same rules, vectorised. Oracles: the scalar engine (itself checked
against PyTorch and central differences), PyTorch float64 on a whole batch,
and central differences.
"""

import math
import random

import pytest
from oracles import central_difference, torch_or_skip

np = pytest.importorskip("numpy", reason="the compiled tape needs NumPy")

import nn  # noqa: E402
from engine import RULES, Value  # noqa: E402
from engine.tape import Tape, fit_step, record  # noqa: E402
from nn.losses import LOSSES, l2_penalty  # noqa: E402

# --- the array form of every rule --------------------------------------------------

# op -> inputs drawn in its domain (first operand, second operand), and the constant c
DOMAIN = {
    "add": [(-5, 5), (-5, 5)], "sub": [(-5, 5), (-5, 5)], "mul": [(-5, 5), (-5, 5)],
    "div": [(-5, 5), (0.2, 5)], "neg": [(-5, 5)], "pow_const": [(0.0, 4)],
    "pow": [(0.0, 4), (-0.9, 3)], "exp": [(-5, 5)], "log": [(0.05, 20)],
    "tanh": [(-4, 4)], "sigmoid": [(-40, 40)], "relu": [(-5, 5)], "sin": [(-6, 6)],
    "cos": [(-6, 6)], "sqrt": [(0.0, 20)], "abs": [(-5, 5)],
}
# Points where the scalar forms take a special branch; each array form must agree there.
SPECIAL = {"relu": [0.0, -0.0], "abs": [0.0], "sqrt": [0.0], "pow_const": [0.0],
           "sigmoid": [0.0, -745.0, 745.0], "pow": [0.0]}


def test_every_rule_has_an_array_form():
    assert set(DOMAIN) == set(RULES), "add the new op's domain to DOMAIN above"
    for name, rule in RULES.items():
        assert callable(rule.apply_array), f"rule {name!r} has no apply_array"


def _same(x, y):
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    # NumPy's and the math module's libm may differ in the last bit (e.g. tanh near 1).
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)


CASES = [(name, 2.5) for name in sorted(RULES)] + [("pow_const", c) for c in (3.0, 0.5, 1.0, 0.0)]


@pytest.mark.parametrize("name, c", CASES)
def test_array_form_equals_scalar_form(name, c):
    rule = RULES[name]
    rng = np.random.default_rng(len(name))
    columns = [rng.uniform(lo, hi, 200) for lo, hi in DOMAIN[name]]
    for k, column in enumerate(columns):
        column[:len(SPECIAL.get(name, []))] = SPECIAL.get(name, [])
        if name == "pow" and k == 1:
            column[:4] = [0.0, 1.0, 0.5, 2.0]  # with the base 0 above: each special case
    extra = (c,) if name == "pow_const" else ()
    with np.errstate(divide="ignore", invalid="ignore"):  # inf at 0 is wanted, as in the tape
        arrays = rule.apply_array(*columns, *extra)
    for s in range(200):
        scalars = rule.apply(*(float(col[s]) for col in columns), *extra)
        for k, (got, want) in enumerate(zip(arrays, scalars)):
            value = float(np.broadcast_to(got, 200)[s])
            assert _same(value, want), (name, k, [float(col[s]) for col in columns], value, want)


@pytest.mark.parametrize("name, good, bad, error", [
    ("div", (1.0, 1.0), (2.0, 0.0), ZeroDivisionError),
    ("log", (1.0,), (0.0,), ValueError),
    ("sqrt", (1.0,), (-1.0,), ValueError),
    ("exp", (1.0,), (1000.0,), OverflowError),
    ("pow", (2.0, 2.0), (-1.0, 2.0), ValueError),
    ("pow", (2.0, 2.0), (0.0, -1.0), ZeroDivisionError),
    ("pow", (2.0, 2.0), (10.0, 400.0), OverflowError),
])
def test_array_form_raises_what_the_scalar_form_raises(name, good, bad, error):
    rule = RULES[name]
    with pytest.raises(error):
        rule.apply(*bad)
    with pytest.raises(error), np.errstate(over="ignore"):
        rule.apply_array(*(np.array([g, b]) for g, b in zip(good, bad)))


@pytest.mark.parametrize("x, c, error", [(-1.0, 0.5, ValueError), (0.0, -1.0, ZeroDivisionError),
                                         (1e200, 2.0, OverflowError)])
def test_pow_const_array_errors(x, c, error):
    rule = RULES["pow_const"]
    with pytest.raises(error):
        rule.apply(x, c)
    with pytest.raises(error), np.errstate(over="ignore"):
        rule.apply_array(np.array([1.0, x]), c)


# --- the tape against per-sample scalar training -----------------------------------


def _problem(loss, seed, samples=None):
    """A random MLP, a batch of inputs and targets that suit ``loss``."""
    rng = random.Random(seed)
    nin, hidden = rng.randint(1, 4), [rng.randint(1, 5) for _ in range(rng.randint(1, 2))]
    nout = 3 if loss == "cross_entropy" else rng.choice([1, 2])
    out_act = {"bce": "sigmoid"}.get(loss, rng.choice(["linear", "tanh"]))
    if loss in ("hinge", "logistic", "bce_with_logits", "cross_entropy"):
        out_act = "linear"
    model = nn.MLP(nin, hidden + [nout], activation=rng.choice(["tanh", "relu", "sigmoid"]),
                   output_activation=out_act, seed=seed)
    samples = samples or rng.randint(1, 12)
    X = [[rng.uniform(-2, 2) for _ in range(nin)] for _ in range(samples)]
    if loss == "cross_entropy":
        y = [rng.randrange(nout) for _ in X]
    elif loss in ("hinge", "logistic"):
        y = [[rng.choice([-1.0, 1.0]) for _ in range(nout)] for _ in X]
    elif loss in ("bce", "bce_with_logits"):
        y = [[float(rng.random() < 0.5) for _ in range(nout)] for _ in X]
    else:
        y = [[rng.uniform(-1, 1) for _ in range(nout)] for _ in X]
    return model, X, y


def _scalar_gradients(model, loss_fn, X, y, l2):
    """Per-sample scalar training: one graph per sample, one backward (the plain path)."""
    params = model.parameters()
    model.zero_grad()
    loss = loss_fn([model(x) for x in X], y)
    total = loss + l2_penalty(params, lam=l2) if l2 else loss
    total.backward()
    grads = [p.grad for p in params]
    model.zero_grad()
    return loss.data, total.data, grads


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("seed", range(4))
def test_tape_step_equals_scalar_training(loss, seed):
    model, X, y = _problem(loss, seed)
    l2 = 0.1 if seed % 2 else 0.0
    want_loss, want_total, want = _scalar_gradients(model, LOSSES[loss], X, y, l2)
    step = fit_step(model, LOSSES[loss], model.parameters(), l2)
    for _ in range(2):  # the second call replays the tape recorded by the first
        model.zero_grad()
        got_loss, got_total, outputs = step(X, y)
        got = [p.grad for p in model.parameters()]
        assert got_loss == pytest.approx(want_loss, rel=1e-12, abs=1e-12)
        assert got_total == pytest.approx(want_total, rel=1e-12, abs=1e-12)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        flat = [v for row in outputs for v in row]
        assert flat == pytest.approx([v.data for x in X for v in model(x)], rel=1e-12)


def test_tape_follows_the_parameters_after_an_update():
    model, X, y = _problem("mse", 7)
    tape = record(model, len(X[0]), model.parameters())
    for p in model.parameters():
        p.data += 0.25
    out = tape.forward(X)
    assert out.ravel().tolist() == pytest.approx([v.data for x in X for v in model(x)], rel=1e-12)


def test_tape_equals_torch_on_a_batch():
    torch = torch_or_skip()
    model = nn.MLP(3, [4, 3], activation="tanh", seed=3)
    rng = random.Random(0)
    X = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(10)]
    y = [rng.randrange(3) for _ in X]
    fit_step(model, LOSSES["cross_entropy"], model.parameters(), 0.0)(X, y)
    ours = [p.grad for p in model.parameters()]

    def tensor(rows):
        return torch.tensor(rows, dtype=torch.float64, requires_grad=True)

    layers = [(tensor([[w.data for w in n.w] for n in layer.neurons]),
               tensor([n.b.data for n in layer.neurons])) for layer in model.layers]
    h = torch.tensor(X, dtype=torch.float64)
    h = torch.tanh(h @ layers[0][0].T + layers[0][1])
    logits = h @ layers[1][0].T + layers[1][1]
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    theirs = [g for W, b in layers for row, gb in zip(W.grad.tolist(), b.grad.tolist())
              for g in row + [gb]]
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-14)


def test_tape_gradient_equals_central_differences():
    x = Value(0.0, label="x")
    w, b = Value(0.7, label="w"), Value(-0.3, label="b")
    y = ((w * x + b).sigmoid() * x.exp() / (w ** 2 + 1.0)).log()
    tape = Tape(y, inputs=[x], parameters=[w, b])
    X = [[-1.0], [0.5], [2.0]]

    def total(wb):
        w.data, b.data = wb
        return float(tape.forward(X).sum())

    numeric = central_difference(total, [0.7, -0.3])
    w.data, b.data = 0.7, -0.3
    tape.forward(X)
    tape.backward()
    assert [w.grad, b.grad] == pytest.approx(numeric, rel=1e-6)


def test_tape_leaves_constants_and_unlisted_leaves_alone():
    x, w, c = Value(0.0), Value(2.0), Value(5.0)
    tape = Tape(x * w * c, inputs=[x], parameters=(p for p in [w]))  # any iterable
    tape.forward([[1.0], [2.0]])
    tape.backward()
    assert w.grad == 15.0 and c.grad == 0.0  # d/dw of 5 w (1 + 2), summed over the batch
    assert repr(tape) == "Tape(5 nodes: 1 inputs, 1 parameters, 1 outputs)"


# --- fit(compiled=True) ---------------------------------------------------------------


def test_fit_compiled_equals_fit_plain():
    X, y = nn.make_moons(40, seed=1) if hasattr(nn, "make_moons") else _problem("mse", 1)[1:]
    runs = []
    for compiled in (False, True):
        model = nn.MLP(2, [6, 1], activation="tanh", seed=2)
        history = nn.fit(model, X, y, loss="mse", optimizer=nn.Adam(model.parameters(), lr=0.05),
                         epochs=4, batch_size=16, seed=0, l2=0.01, progress=False,
                         compiled=compiled)
        runs.append((history.train_loss, [p.data for p in model.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)
    assert runs[1][1] == pytest.approx(runs[0][1], rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("loss, batch_size, extras", [
    ("mse", 7, {"l2": 0.01}),                      # 23 samples: batches of 7, 7, 7, 2
    ("cross_entropy", 5, {"early_stopping": 1}),
    ("hinge", 1, {"l2": 0.1}),
    ("logistic", 4, {}),
    ("bce", None, {"l2": 0.05}),                   # one full batch
    ("bce_with_logits", 10, {"early_stopping": 2, "shuffle": False}),
])
def test_fit_compiled_equals_fit_plain_for_each_loss(loss, batch_size, extras):
    runs = []
    for compiled in (False, True):
        model, X, y = _problem(loss, seed=5, samples=31)
        history = nn.fit(model, X[:23], y[:23], loss=loss, epochs=5, batch_size=batch_size,
                         optimizer=nn.SGD(model.parameters(), lr=0.3), seed=3,
                         validation=(X[23:], y[23:]), progress=False, compiled=compiled,
                         **extras)
        runs.append((history, [p.data for p in model.parameters()]))
    (plain, plain_weights), (fast, fast_weights) = runs
    assert fast.epochs == plain.epochs and fast.best_epoch == plain.best_epoch
    assert fast.stopped_early == plain.stopped_early
    for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert getattr(fast, name) == pytest.approx(getattr(plain, name), rel=1e-12), name
    assert fast_weights == pytest.approx(plain_weights, rel=1e-12, abs=1e-14)
    assert len(plain.val_loss) == plain.epochs  # validation did run


def test_fit_compiled_refuses_dropout():
    model = nn.MLP(2, [4, 1], dropout=0.5, seed=0)
    with pytest.raises(ValueError, match="dropout"):
        nn.fit(model, [[0.0, 1.0]], [1.0], epochs=1, progress=False, compiled=True)


class _HiddenDropout(nn.Module):
    """A custom module whose children() forgets its Dropout."""

    def __init__(self):
        self.layer = nn.Layer(2, 3, seed=0)
        self.drop = nn.Dropout(0.5, seed=0)
        self.head = nn.Layer(3, 1, activation="linear", seed=1)

    def children(self):
        return [self.layer, self.head]

    def forward(self, xs):
        return self.head(self.drop(self.layer(xs)))


def test_fit_compiled_refuses_a_dropout_children_does_not_list():
    model = _HiddenDropout()
    X, y = [[0.0, 1.0], [1.0, 0.5], [-1.0, 2.0]], [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="dropout"):
        nn.fit(model, X, y, epochs=1, progress=False, compiled=True)
    model.drop.p = 0.0  # no dropout: the same graph for every sample, so it runs
    nn.fit(model, X, y, epochs=1, progress=False, compiled=True)


# --- errors --------------------------------------------------------------------------


def test_tape_errors_name_the_problem():
    x, w = Value(1.0, label="x"), Value(2.0, label="w")
    y = (x * w).log()
    y.label = "y"
    with pytest.raises(ValueError, match="not a leaf"):
        Tape(y, inputs=[x * w])
    with pytest.raises(TypeError, match="must be Values"):
        Tape(y, inputs=[1.0])
    tape = Tape(y, inputs=[x])
    with pytest.raises(RuntimeError, match="forward"):
        tape.backward()
    with pytest.raises(ValueError, match=r"shape \(samples, 1\)"):
        tape.forward([[1.0, 2.0]])
    with pytest.raises(ValueError, match="log .* 'y'"):
        tape.forward([[1.0], [-1.0]])
    tape.forward([[1.0], [2.0]])
    with pytest.raises(ValueError, match=r"grad_outputs .* shape \(2, 1\)"):
        tape.backward([1.0, 2.0, 3.0])
    for bad in (x, x * w, 2.0):  # an input, an interior node, not a Value
        with pytest.raises(ValueError, match="must be a leaf Value that is not an input"):
            Tape(y, inputs=[x], parameters=[w, bad])


@pytest.mark.parametrize("X", [[[0.0, 1.0], [1.0]], [["a", "b"], [1.0, 2.0]]])
def test_fit_compiled_names_bad_samples(X):
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises((ValueError, TypeError), match="same length"):
        nn.fit(model, X, [1.0, 0.0], epochs=1, progress=False, compiled=True, metrics=[])


def test_missing_numpy_is_a_clear_import_error(monkeypatch):
    import sys

    from engine import ops

    monkeypatch.setattr(ops, "np", None)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[numpy\]'"):
        ops.use_numpy()

"""fit(compiled=True): the training step of nn/compiled.py, replayed from a tape.

The compiled step must give what per-sample scalar training gives (to 1e-12):
the same graph, the same rules, vectorised. Oracles: the scalar engine (itself
checked against PyTorch and central differences) and PyTorch float64 on a
whole batch.
"""

import random

import pytest
from oracles import torch_or_skip

pytest.importorskip("numpy", reason="the compiled tape needs NumPy")

import nn  # noqa: E402
from nn.compiled import fit_step, record  # noqa: E402
from nn.losses import LOSSES, l2_penalty  # noqa: E402

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


@pytest.mark.parametrize("X", [[[0.0, 1.0], [1.0]], [["a", "b"], [1.0, 2.0]]])
def test_fit_compiled_names_bad_samples(X):
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises((ValueError, TypeError), match="same length"):
        nn.fit(model, X, [1.0, 0.0], epochs=1, progress=False, compiled=True, metrics=[])

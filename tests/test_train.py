"""fit, History, predict and accuracy: the loop against a PyTorch loop, and its behaviours."""

import math
import random

import pytest
from oracles import torch_or_skip

import nn
from engine import Value, is_grad_enabled
from nn import (
    SGD,
    Adam,
    History,
    accuracy,
    fit,
    lecture_table,
    make_moons,
    make_spiral,
    make_xor,
    predict,
)


class StandIn:
    """A tiny MLP of Values (tanh hidden layers, linear output) that records how it is called."""

    def __init__(self, sizes, seed=0):
        rng = random.Random(seed)
        self.layers = [
            ([[Value(rng.gauss(0, 1 / math.sqrt(nin))) for _ in range(nin)] for _ in range(nout)],
             [Value(0.0) for _ in range(nout)])
            for nin, nout in zip(sizes, sizes[1:])
        ]
        self.training = True
        self.calls = []  # (training mode, grad enabled) of each call

    def parameters(self):
        return [p for W, b in self.layers for row, bias in zip(W, b) for p in row + [bias]]

    def __call__(self, x):
        self.calls.append((self.training, is_grad_enabled()))
        for k, (W, b) in enumerate(self.layers):
            z = [sum((w * xi for w, xi in zip(row, x)), bias) for row, bias in zip(W, b)]
            x = z if k == len(self.layers) - 1 else [v.tanh() for v in z]
        return x

    def train(self):
        self.training = True

    def eval(self):
        self.training = False

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


def mse(outputs, targets):
    """Mean squared error of one-output models (written here, independent of nn.losses)."""
    return sum((out[0] - t) ** 2 for out, t in zip(outputs, targets)) / len(targets)


def torch_loop(model, X, y, batches, epochs, make_optimizer, l2=0.0):
    """The same training in PyTorch float64, same weights, same batches in the same order."""
    torch = torch_or_skip()
    layers = [(torch.tensor([[w.data for w in row] for row in W], dtype=torch.float64,
                            requires_grad=True),
               torch.tensor([v.data for v in b], dtype=torch.float64, requires_grad=True))
              for W, b in model.layers]
    params = [t for pair in layers for t in pair]
    opt = make_optimizer(params)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for chosen in batches:
            opt.zero_grad()
            outs = []
            for i in chosen:
                h = torch.tensor(X[i], dtype=torch.float64)
                for k, (W, b) in enumerate(layers):
                    h = W @ h + b
                    if k < len(layers) - 1:
                        h = torch.tanh(h)
                outs.append(h[0])
            loss = sum((o - y[i]) ** 2 for o, i in zip(outs, chosen)) / len(chosen)
            penalty = l2 / 2 * sum((p ** 2).sum() for p in params)
            (loss + penalty).backward()
            opt.step()
            total += loss.item() * len(chosen)
        losses.append(total / len(X))
    return [[W.detach().tolist(), b.detach().tolist()] for W, b in layers], losses


def weights(model):
    return [[[[w.data for w in row] for row in W], [v.data for v in b]] for W, b in model.layers]


@pytest.mark.parametrize("batch_size, batches", [(None, [[0, 1, 2]]), (2, [[0, 1], [2]]),
                                                 (1, [[0], [1], [2]])])
def test_fit_is_the_torch_training_loop(batch_size, batches):
    torch = torch_or_skip()
    X, y = lecture_table()
    model = StandIn([2, 3, 1], seed=1)
    expected, losses = torch_loop(model, X, y, batches, epochs=4,
                                  make_optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1,
                                                                           momentum=0.9))
    history = fit(model, X, y, loss=mse, optimizer=SGD(model.parameters(), lr=0.1, momentum=0.9),
                  epochs=4, batch_size=batch_size, shuffle=False, progress=False)
    assert flat(weights(model)) == pytest.approx(flat(expected), rel=1e-12, abs=1e-12)
    assert history.train_loss == pytest.approx(losses, rel=1e-12)
    assert history.train_accuracy == []  # regression targets: no accuracy
    assert history.epochs == 4 and history.best_epoch == 1 + losses.index(min(losses))


def flat(ws):
    return [v for layer in ws for part in layer for v in (
        [x for row in part for x in row] if isinstance(part[0], list) else part)]


def test_l2_penalty_is_added_to_the_minimised_loss():
    torch = torch_or_skip()
    pytest.importorskip("nn.losses")
    X, y = lecture_table()
    model = StandIn([2, 3, 1], seed=2)
    expected, losses = torch_loop(model, X, y, [[0, 1, 2]], epochs=3, l2=0.3,
                                  make_optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1))
    history = fit(model, X, y, loss=mse, epochs=3, l2=0.3, progress=False)
    assert flat(weights(model)) == pytest.approx(flat(expected), rel=1e-12, abs=1e-12)
    assert history.train_loss == pytest.approx(losses, rel=1e-12)  # reported without penalty


def test_loss_by_name_is_the_nn_loss():
    losses = pytest.importorskip("nn.losses")
    X, y = lecture_table()
    a, b = StandIn([2, 2, 1], seed=3), StandIn([2, 2, 1], seed=3)
    ha = fit(a, X, y, loss="mse", epochs=3, progress=False)
    hb = fit(b, X, y, loss=losses.mse_loss, epochs=3, progress=False)
    assert ha.train_loss == hb.train_loss and weights(a) == weights(b)
    assert ha.train_loss == pytest.approx(fit(StandIn([2, 2, 1], seed=3), X, y, loss=mse,
                                              epochs=3, progress=False).train_loss, rel=1e-12)


def test_fit_default_optimizer_is_sgd_lr_0_1():
    X, y = lecture_table()
    a, b = StandIn([2, 2, 1], seed=3), StandIn([2, 2, 1], seed=3)
    fit(a, X, y, loss=mse, epochs=3, progress=False)
    fit(b, X, y, loss=mse, optimizer=SGD(b.parameters(), lr=0.1), epochs=3, progress=False)
    assert weights(a) == weights(b)


def test_shuffle_is_seeded():
    X, y = lecture_table()
    runs = []
    for seed in (5, 5, 6):
        model = StandIn([2, 2, 1], seed=0)
        runs.append(fit(model, X, y, loss=mse, epochs=6, batch_size=1, seed=seed,
                        progress=False).train_loss)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_numpy_inputs_give_the_same_run():
    np = pytest.importorskip("numpy")
    X, y = lecture_table()
    a, b = StandIn([2, 2, 1], seed=2), StandIn([2, 2, 1], seed=2)
    ha = fit(a, X, y, loss=mse, epochs=3, progress=False)
    hb = fit(b, np.array(X), np.array(y), loss=mse, epochs=3, progress=False,
             validation=(np.array(X), np.array(y)))
    assert ha.train_loss == hb.train_loss and weights(a) == weights(b)
    assert predict(a, np.array(X)) == predict(a, X)


# --- early stopping ---------------------------------------------------------


def test_early_stopping_restores_the_best_weights():
    # Train y = x while validating on y = -x: the validation loss only gets worse,
    # so the best epoch is the first one.
    X = [[0.5], [1.0], [-1.0]]
    y = [0.5, 1.0, -1.0]
    val = ([[0.5], [1.0]], [-0.5, -1.0])
    once = StandIn([1, 1], seed=0)
    fit(once, X, y, loss=mse, epochs=1, validation=val, progress=False)
    model = StandIn([1, 1], seed=0)
    history = fit(model, X, y, loss=mse, epochs=50, validation=val, early_stopping=3,
                  progress=False)
    assert history.stopped_early
    assert history.epochs == 4  # epoch 1 best, then 3 epochs without improvement
    assert history.best_epoch == 1
    assert history.val_loss == sorted(history.val_loss)
    assert weights(model) == weights(once)
    assert "stopped early" in repr(history)


def test_without_early_stopping_all_epochs_run():
    X = [[0.5], [1.0]]
    history = fit(StandIn([1, 1]), X, [0.5, 1.0], loss=mse, epochs=7,
                  validation=(X, [-0.5, -1.0]), progress=False)
    assert history.epochs == 7 and not history.stopped_early and len(history.val_loss) == 7


# --- divergence ----------------------------------------------------------------


def test_nan_loss_names_epoch_and_batch_and_keeps_the_weights():
    calls = []

    def loss(outputs, targets):
        calls.append(1)
        value = mse(outputs, targets)
        return value * float("nan") if len(calls) == 5 else value  # epoch 3, batch 1

    X, y = lecture_table()
    model = StandIn([2, 2, 1])
    with pytest.raises(FloatingPointError, match=r"epoch 3, batch 1 of 2.*lower learning rate"):
        fit(model, X, y, loss=loss, epochs=5, batch_size=2, seed=1, progress=False)
    reference = StandIn([2, 2, 1])
    fit(reference, X, y, loss=mse, epochs=2, batch_size=2, seed=1, progress=False)
    assert weights(model) == weights(reference)  # the bad batch took no step


def test_huge_learning_rate_diverges_with_a_clear_error():
    X, y = lecture_table()
    model = StandIn([2, 1])
    with pytest.raises(FloatingPointError, match=r"at epoch \d+, batch 1 of 1.*learning rate"):
        fit(model, X, y, loss=mse, optimizer=SGD(model.parameters(), lr=50.0), epochs=500,
            progress=False)


# --- accuracy, metrics, modes ---------------------------------------------------


class Fixed:
    """A 'model' whose outputs are given: to test the accuracy rules alone."""

    def __init__(self, table):
        self.table = table
        self.training = True
        self.modes = []

    def __call__(self, x):
        self.modes.append((self.training, is_grad_enabled()))
        return [Value(v) for v in self.table[int(x[0])]]

    def eval(self):
        self.training = False

    def train(self):
        self.training = True


def test_accuracy_rules():
    X = [[0], [1], [2], [3]]
    one = Fixed([[0.7], [0.3], [-0.2], [0.55]])
    assert accuracy(one, X, [1, 0, 0, 1]) == 1.0  # 0/1 labels: > 0.5
    assert accuracy(one, X, [1, -1, -1, 1]) == 0.75  # -1/+1 labels: > 0 (0.3 -> +1)
    assert accuracy(one, X, [1, 0, 0, 1], threshold=0.0) == 0.75  # logits: > 0
    assert accuracy(one, X, [[1], [0], [0], [0]]) == 0.75  # one-element target lists
    three = Fixed([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.5], [1.0, 1.5, 0.0]])
    assert accuracy(three, X, [1, 0, 2, 0]) == 0.75  # argmax
    assert accuracy(three, X, [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]]) == 1.0  # one-hot
    assert all(mode == (False, False) for mode in one.modes + three.modes)  # eval, no_grad
    assert one.training  # mode restored


@pytest.mark.parametrize("model, y, message", [
    (Fixed([[0.5]] * 2), [0.4, 1.0], "labels must be 0/1 or -1/[+]1"),
    (Fixed([[0.5, 0.1]] * 2), [2, 0], r"class indices must be in 0..1"),
    (Fixed([[0.5, 0.1]] * 2), [0.5, 1], "class indices .ints. or one-hot"),
])
def test_accuracy_rejects_non_labels(model, y, message):
    with pytest.raises(ValueError, match=message):
        accuracy(model, [[0], [1]], y)


def test_predict_lists_of_floats_in_eval_mode():
    model = StandIn([2, 3, 2])
    out = predict(model, [[0.1, 0.2], [0.3, -0.4]])
    assert len(out) == 2 and all(len(o) == 2 and all(isinstance(v, float) for v in o) for o in out)
    assert model.calls == [(False, False), (False, False)]
    assert model.training


def test_fit_measures_accuracy_for_labels_and_uses_eval_mode_for_validation():
    X = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    y = [1, -1, 1, -1]
    model = StandIn([2, 1])
    history = fit(model, X, y, loss=mse, epochs=3, validation=(X, y), progress=False)
    assert len(history.train_accuracy) == len(history.val_accuracy) == 3
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    per_epoch = [(True, True)] * 4 + [(False, False)] * 4
    assert model.calls == [(False, False)] + per_epoch * 3  # a first look at the output width
    assert history.val_accuracy[-1] == accuracy(model, X, y)
    assert model.training


def test_fit_restores_eval_mode():
    model = StandIn([2, 1])
    model.eval()
    X, y = lecture_table()
    fit(model, X, y, loss=mse, epochs=1, progress=False)
    assert model.calls[1] == (True, True)  # trained in train mode
    assert not model.training  # and handed back as it came


def test_metrics_argument():
    X, y = lecture_table()
    model = StandIn([2, 1])
    before = weights(model)
    with pytest.raises(ValueError, match=r"metrics=\['accuracy'\] needs class labels"):
        fit(model, X, y, loss=mse, epochs=1, progress=False, metrics=["accuracy"])
    assert weights(model) == before  # rejected before any step
    labels = [1, 0, 1]
    assert fit(StandIn([2, 1]), X, labels, loss=mse, epochs=1, progress=False,
               metrics=[]).train_accuracy == []
    assert len(fit(StandIn([2, 1]), X, labels, loss=mse, epochs=2, progress=False,
                   metrics="accuracy").train_accuracy) == 2


# --- progress, History ----------------------------------------------------------


def test_progress_false_prints_nothing(capsys):
    X, y = lecture_table()
    fit(StandIn([2, 1]), X, y, loss=mse, epochs=3, validation=(X, y), progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_bar_shows_epoch_loss_and_accuracy(capsys):
    pytest.importorskip("tqdm")
    X = [[1.0, 0.0], [0.0, 1.0]]
    fit(StandIn([2, 1]), X, [1, 0], loss=mse, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "acc=" in err


def test_progress_bar_says_when_it_stopped_early(capsys):
    pytest.importorskip("tqdm")
    X = [[0.5], [1.0]]
    fit(StandIn([1, 1]), X, [0.5, 1.0], loss=mse, epochs=30, validation=(X, [-0.5, -1.0]),
        early_stopping=2)
    assert "fit stopped early (best epoch 1)" in capsys.readouterr().err


def test_missing_tqdm_gives_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("No module named 'tqdm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    X, y = lecture_table()
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[progress\]'.*progress=False"):
        fit(StandIn([2, 1]), X, y, loss=mse, epochs=1)
    fit(StandIn([2, 1]), X, y, loss=mse, epochs=1, progress=False)  # works without it


def test_history_plot_returns_an_axes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    X = [[1.0, 0.0], [0.0, 1.0]]
    history = fit(StandIn([2, 1]), X, [1, 0], loss=mse, epochs=4, validation=(X, [1, 0]),
                  progress=False)
    ax = history.plot()
    assert isinstance(ax, Axes)
    assert [line.get_label() for line in ax.get_lines()][:2] == ["train loss", "validation loss"]
    assert list(ax.get_lines()[0].get_ydata()) == history.train_loss
    _, given = plt.subplots()
    assert History(train_loss=[1.0, 0.5], best_epoch=2).plot(ax=given) is given
    plt.close("all")


def test_history_repr_and_dict():
    h = History(train_loss=[1.0, 0.25], val_loss=[1.5, 0.5], train_accuracy=[0.5, 0.75],
                val_accuracy=[0.5, 1.0], best_epoch=2)
    assert repr(h) == ("History(2 epochs; last: loss 0.25, accuracy 0.750, val_loss 0.5, "
                       "val_accuracy 1.000; best epoch 2)")
    assert h.as_dict()["val_accuracy"] == [0.5, 1.0] and len(h) == 2
    assert repr(History()) == "History(0 epochs)"


# --- compiled hook and bad arguments ---------------------------------------------


def test_compiled_without_numpy_says_how_to_install_it(monkeypatch):
    import sys

    from engine import ops

    monkeypatch.setattr(ops, "np", None)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "engine.tape", raising=False)  # imported afresh
    monkeypatch.delitem(sys.modules, "nn.compiled", raising=False)
    X, y = lecture_table()
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[numpy\]'"):
        fit(StandIn([2, 1]), X, y, loss=mse, epochs=1, progress=False, compiled=True)


X3, Y3 = lecture_table()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"model": object()}, TypeError, "parameters"),
    ({"X": []}, ValueError, "X is empty"),
    ({"X": 5}, TypeError, "X must be a list"),
    ({"y": [1.0]}, ValueError, "1 targets for 3 samples"),
    ({"loss": 3}, TypeError, "loss must be a name"),
    ({"loss": lambda o, t: 1.0}, TypeError, "returned float 1.0, not a Value"),
    ({"epochs": 0}, ValueError, "epochs must be >= 1"),
    ({"epochs": 2.5}, TypeError, "epochs must be an int"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"seed": "x"}, TypeError, "seed must be an int"),
    ({"shuffle": "no"}, TypeError, "shuffle must be True or False"),
    ({"l2": -0.1}, ValueError, "l2 must be a number >= 0"),
    ({"validation": [[1, 2]]}, TypeError, "validation must be a pair"),
    ({"validation": ([[1.0, 2.0]], [1, 2])}, ValueError, "validation y has 2 targets"),
    ({"early_stopping": 3}, ValueError, "pass validation"),
    ({"early_stopping": 0, "validation": (X3, Y3)}, ValueError, "early_stopping must be >= 1"),
    ({"metrics": ["f1"]}, ValueError, "unknown metric"),
    ({"optimizer": "adam"}, TypeError, "optimizer must have step"),
])
def test_bad_arguments(kwargs, error, message):
    args = {"model": StandIn([2, 1]), "X": X3, "y": Y3, "loss": mse, "progress": False}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        fit(**args)


def test_unknown_loss_name():
    losses = pytest.importorskip("nn.losses")
    with pytest.raises(ValueError, match=r"unknown loss 'nope'; use one of \['bce'"):
        fit(StandIn([2, 1]), X3, Y3, loss="nope", progress=False)
    assert set(losses.LOSSES) >= {"mse", "bce", "bce_with_logits", "cross_entropy"}


def test_adam_training_lowers_the_loss():
    X, y = lecture_table()
    model = StandIn([2, 4, 1], seed=4)
    history = fit(model, X, y, loss=mse, optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=60, progress=False)
    assert history.train_loss[-1] < 0.05 * history.train_loss[0]


# --- learning works (with nn's MLP) ----------------------------------------------


def mlp():
    MLP = getattr(nn, "MLP", None)
    if MLP is None:
        pytest.skip("nn.MLP is not available in this checkout")
    return MLP


def test_moons_reach_97_percent_training_accuracy():
    MLP = mlp()
    X, y = make_moons(100, noise=0.1, seed=0, labels="pm1")
    model = MLP(2, [16, 1], seed=0)
    history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=100, batch_size=20, seed=0, progress=False)
    assert accuracy(model, X, y) >= 0.97
    assert history.train_accuracy[-1] >= 0.9


def test_moons_with_sigmoid_output_and_bce():
    MLP = mlp()
    X, y = make_moons(100, noise=0.1, seed=1)
    model = MLP(2, [16, 1], output_activation="sigmoid", seed=1)
    fit(model, X, y, loss="bce", optimizer=Adam(model.parameters(), lr=0.05), epochs=100,
        batch_size=20, seed=1, progress=False)
    assert accuracy(model, X, y) >= 0.97


def test_xor_is_learned_exactly():
    MLP = mlp()
    X, y = make_xor()
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.1),
                  epochs=150, seed=0, progress=False)
    assert accuracy(model, X, y, threshold=0.0) == 1.0
    assert history.train_accuracy[-1] == 1.0  # fit used the logit threshold 0 too


def test_spiral_with_cross_entropy_learns():
    MLP = mlp()
    X, y = make_spiral(30, classes=3, noise=0.1, seed=0)
    model = MLP(2, [16, 3], seed=0)
    history = fit(model, X, y, loss="cross_entropy",
                  optimizer=Adam(model.parameters(), lr=0.05), epochs=60, batch_size=30,
                  seed=0, progress=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert accuracy(model, X, y) >= 0.8


@pytest.mark.parametrize("make, name, kwargs", [
    (lambda ps: Adam(ps, lr=0.05), "Adam", {"lr": 0.05}),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True), "SGD",
     {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
])
def test_mlp_training_matches_torch_on_the_same_batches(make, name, kwargs):
    torch = torch_or_skip()
    MLP = mlp()
    X, y = make_moons(24, noise=0.1, seed=3)
    model = MLP(2, [5, 1], activation="relu", output_activation="sigmoid", seed=2)
    seq = nn.to_torch(model)
    opt = getattr(torch.optim, name)(seq.parameters(), **kwargs)
    for _ in range(3):  # epochs, batches of 8 in order
        for start in range(0, 24, 8):
            xs = torch.tensor(X[start:start + 8], dtype=torch.float64)
            ts = torch.tensor(y[start:start + 8], dtype=torch.float64)
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy(seq(xs)[:, 0], ts).backward()
            opt.step()
    fit(model, X, y, loss="bce", optimizer=make(model.parameters()), epochs=3, batch_size=8,
        shuffle=False, progress=False)
    expected = [p.data for p in nn.from_torch(seq).parameters()]
    assert [p.data for p in model.parameters()] == pytest.approx(expected, rel=1e-10, abs=1e-12)

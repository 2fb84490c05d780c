"""fit, History, predict and accuracy: the loop against a PyTorch loop, and its behaviours."""

import math
import random

import pytest
from oracles import torch_or_skip

import nn
from engine import Value, is_grad_enabled, no_grad
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
    assert "best epoch (validation)" in [line.get_label() for line in ax.get_lines()]
    _, given = plt.subplots()
    assert History(train_loss=[1.0, 0.5], best_epoch=2).plot(ax=given) is given
    # No validation set: the lowest training loss is not marked as a "best epoch".
    assert [line.get_label() for line in given.get_lines()] == ["train loss"]
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


# --- fit never trains nothing -------------------------------------------------------


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_refuses_to_run_under_no_grad(compiled):
    if compiled:
        pytest.importorskip("numpy")
    X, y = make_moons(20, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    with no_grad():
        with pytest.raises(RuntimeError, match=r"fit: called inside no_grad\(\).*outside"):
            fit(model, X, y, epochs=2, progress=False, compiled=compiled)
    assert model.state_dict() == before


def test_no_grad_entered_during_fit_is_an_error_naming_the_batch():
    X, y = lecture_table()
    entered = []

    def loss(outputs, targets):  # a careless loss that leaves no_grad() on after batch 2
        value = mse(outputs, targets)
        if len(entered) == 0 and loss.calls == 2:
            block = no_grad()
            block.__enter__()
            entered.append(block)
        loss.calls += 1
        return value

    loss.calls = 1
    try:
        with pytest.raises(RuntimeError, match=r"no_grad\(\) was entered during training, "
                                               r"at epoch 1, batch 3 of 3"):
            fit(StandIn([2, 1]), X, y, loss=loss, epochs=2, batch_size=1, shuffle=False,
                progress=False)
    finally:
        for block in entered:
            block.__exit__(None, None, None)
    assert is_grad_enabled()


def test_an_optimizer_of_another_model_is_refused():
    X, y = lecture_table()
    model, other = StandIn([2, 1], seed=0), StandIn([2, 1], seed=1)
    before = weights(model)
    with pytest.raises(ValueError, match=r"holds none of this model's parameters.*"
                                         r"SGD\(model.parameters\(\), ...\)"):
        fit(model, X, y, loss=mse, optimizer=SGD(other.parameters(), lr=0.1), progress=False)
    stray = Value(0.5, label="stray")
    with pytest.raises(ValueError, match=r"holds 1 parameter\(s\) the model does not have "
                                         r"\(stray\)"):
        fit(model, X, y, loss=mse, optimizer=SGD(model.parameters() + [stray], lr=0.1),
            progress=False)
    assert weights(model) == before


def test_an_optimizer_of_some_of_the_parameters_trains_only_those():
    X, y = lecture_table()
    model = StandIn([2, 2, 1], seed=0)
    first_layer = model.parameters()[:6]
    frozen = [p.data for p in model.parameters()[6:]]
    fit(model, X, y, loss=mse, optimizer=SGD(first_layer, lr=0.1), epochs=3, progress=False)
    assert [p.data for p in model.parameters()[6:]] == frozen
    assert [p.data for p in first_layer] != [0.0] * 6


# --- a non-finite gradient never reaches the weights ------------------------------------


def _moons_with_an_infinite_input(where=33):
    X, y = make_moons(40, noise=0.1, seed=0)
    X[where] = [math.inf, X[where][1]]
    return X, y


@pytest.mark.parametrize("compiled", [False, True])
def test_a_nan_gradient_with_a_finite_loss_is_caught_before_the_step(compiled):
    if compiled:
        pytest.importorskip("numpy")
    X, y = _moons_with_an_infinite_input(33)  # batch 4 of 4 (batches of 10, in order)
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(FloatingPointError) as caught:
        fit(model, X, y, loss="mse", epochs=2, batch_size=10, shuffle=False, progress=False,
            compiled=compiled)
    message = str(caught.value)
    assert "epoch 1, batch 4 of 4" in message
    assert "though the loss is finite" in message
    assert "w1.1.1 = nan" in message  # the weights the inf input reaches
    assert "X[33] has x1 = inf" in message and "drop or fix that sample" in message
    assert "the weights are those before this batch's step" in message
    # the weights are exactly those after the 3 good batches
    reference = nn.MLP(2, [4, 1], seed=0)
    fit(reference, X[:30], y[:30], loss="mse", epochs=1, batch_size=10, shuffle=False,
        progress=False, compiled=compiled)
    assert model.state_dict() == reference.state_dict()


def test_an_infinite_derivative_names_the_parameter_and_the_likely_cause():
    w = Value(0.0, label="w")

    class Root:
        def parameters(self):
            return [w]

        def __call__(self, x):
            return [(w ** 0.5) * x[0]]  # d sqrt(w)/dw at 0 is inf, the loss is finite

    with pytest.raises(FloatingPointError, match=r"batch 1 of 1.*w = -?inf.*1 of 1 parameters"
                                                 r".*infinite or undefined at this point"):
        fit(Root(), [[1.0]], [1.0], loss=mse, epochs=1, progress=False)
    assert w.data == 0.0


def test_a_nan_loss_from_an_infinite_input_names_the_sample():
    X, y = lecture_table()
    X = [list(x) for x in X]
    X[1][0] = math.nan
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1, batch 1 of 1; "
                                                 r"likely cause: the data: X\[1\] has x1 = nan"):
        fit(StandIn([2, 1]), X, y, loss=mse, epochs=1, progress=False)


# --- Ctrl-C --------------------------------------------------------------------------


class Recording(SGD):
    """SGD that keeps the weights after every step (snapshots[0]: before the first)."""

    def __init__(self, params, lr, during_step=None):
        super().__init__(params, lr=lr)
        self.snapshots = [[p.data for p in self.params]]
        self.during_step = during_step  # called halfway through each step

    def step(self):
        self.steps += 1
        half = len(self.params) // 2
        for p in self.params[:half]:
            p.data -= self.lr * p.grad
        if self.during_step is not None:
            self.during_step(self.steps)
        for p in self.params[half:]:
            p.data -= self.lr * p.grad
        self.snapshots.append([p.data for p in self.params])


def test_ctrl_c_raised_in_a_step_returns_the_history_so_far(monkeypatch, capsys):
    from nn import train

    real = train._scalar_step
    calls = []

    def interrupted_step(*args):
        step = real(*args)

        def run(xs, ts):
            calls.append(1)
            if len(calls) == 8:  # epoch 3, batch 2 of 3: half a forward pass, no step
                raise KeyboardInterrupt
            return step(xs, ts)

        return run

    monkeypatch.setattr(train, "_scalar_step", interrupted_step)
    X, y = make_moons(30, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = Recording(model.parameters(), lr=0.1)
    history = fit(model, X, y, optimizer=opt, epochs=10, batch_size=10, progress=False)
    assert history.interrupted and not history.stopped_early
    assert history.epochs == 2 and len(history.train_accuracy) == 2
    assert len(opt.snapshots) == 1 + 7  # 7 whole steps, and the weights after the 7th
    assert [p.data for p in model.parameters()] == opt.snapshots[-1]
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["fit interrupted (Ctrl-C) in epoch 3 after 1 of 3 batches: returning "
                     "the History of 2 finished epochs"]
    assert "interrupted" in repr(history) and history.as_dict()["interrupted"] is True


def test_ctrl_c_during_the_optimizer_step_waits_for_the_whole_step(capsys):
    signal = pytest.importorskip("signal")
    X, y = make_moons(30, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)

    def press_ctrl_c(step):
        if step == 5:
            signal.raise_signal(signal.SIGINT)  # halfway through step 5

    opt = Recording(model.parameters(), lr=0.1, during_step=press_ctrl_c)
    history = fit(model, X, y, optimizer=opt, epochs=10, batch_size=10, progress=False)
    assert history.interrupted and history.epochs == 1
    assert opt.steps == 5 and len(opt.snapshots) == 6
    assert [p.data for p in model.parameters()] == opt.snapshots[5]  # step 5 whole
    assert "in epoch 2 after 2 of 3 batches" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back


def test_ctrl_c_with_early_stopping_restores_the_best_weights(capsys):
    signal = pytest.importorskip("signal")
    X, y = make_moons(20, seed=0)
    Xv, yv = make_moons(20, seed=5)
    model = nn.MLP(2, [3, 1], seed=0)

    def press_ctrl_c(step):
        if step == 11:  # epoch 6, batch 1 of 2
            signal.raise_signal(signal.SIGINT)

    opt = Recording(model.parameters(), lr=0.5, during_step=press_ctrl_c)
    history = fit(model, X, y, optimizer=opt, epochs=50, batch_size=10, progress=False,
                  validation=(Xv, yv), early_stopping=40)
    assert history.interrupted and history.epochs == 5 and len(history.val_loss) == 5
    best = history.best_epoch
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert [p.data for p in model.parameters()] == opt.snapshots[2 * best]
    assert opt.snapshots[2 * best] != opt.snapshots[-1]
    assert f"weights of the best epoch ({best}) restored" in capsys.readouterr().out


SIGINT_RUN = r"""
import json, sys, time
import nn

early, compiled = sys.argv[1] == "early", sys.argv[2] == "compiled"

class Recording(nn.SGD):
    # SGD that takes its time halfway through each step, where a Ctrl-C must not land
    def step(self):
        self.steps += 1
        half = len(self.params) // 2
        for p in self.params[:half]:
            p.data -= self.lr * p.grad
        time.sleep(0.002)
        for p in self.params[half:]:
            p.data -= self.lr * p.grad
        self.snapshots.append([p.data for p in self.params])
        if len(self.snapshots) == 2:
            print("started", flush=True)

X, y = nn.make_moons(60, seed=0)
Xv, yv = nn.make_moons(30, seed=1)
model = nn.MLP(2, [8, 1], seed=0)
opt = Recording(model.parameters(), lr=0.05)
opt.snapshots = [[p.data for p in model.parameters()]]
history = nn.fit(model, X, y, loss="mse", optimizer=opt, epochs=10**6, batch_size=10,
                       progress=False, compiled=compiled,
                       validation=(Xv, yv) if early else None,
                       early_stopping=10**6 if early else None)
final = [p.data for p in model.parameters()]
best = history.best_epoch  # None if no epoch finished: no best weights to restore yet
expected = opt.snapshots[6 * best] if early and best else opt.snapshots[-1]
print(json.dumps({
    "interrupted": history.interrupted,
    "whole_steps": opt.steps == len(opt.snapshots) - 1,
    "weights": final == expected,
    "lists": len(history.train_loss) == len(history.train_accuracy) == history.epochs
             and len(history.val_loss) == (history.epochs if early else 0),
}))
"""


def test_sigint_at_random_moments_of_fit_in_a_subprocess():
    import json
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random()
    runs = []
    for k in range(6):
        mode = ["early" if k % 2 else "plain", "compiled" if k % 3 == 2 else "scalar"]
        if mode[1] == "compiled":
            pytest.importorskip("numpy")
        process = subprocess.Popen([sys.executable, "-c", SIGINT_RUN, *mode],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "started\n", process.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGINT)
        runs.append((mode, process))
    for mode, process in runs:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"{mode}: {out!r} {err!r}"
        lines = out.splitlines()
        assert len(lines) == 2 and lines[0].startswith("fit interrupted (Ctrl-C) in epoch "), \
            (mode, out)
        assert json.loads(lines[1]) == {"interrupted": True, "whole_steps": True,
                                        "weights": True, "lists": True}, mode


@pytest.mark.parametrize("presses, steps", [(1, 5), (2, 4)])
def test_ctrl_c_in_a_forward_pass_finishes_the_batch_and_twice_drops_it(presses, steps):
    signal = pytest.importorskip("signal")
    calls = []

    def loss(outputs, targets):
        calls.append(1)
        if len(calls) == 5:  # epoch 2, batch 2 of 3
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)
        return nn.mse_loss(outputs, targets)

    X, y = make_moons(30, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = Recording(model.parameters(), lr=0.1)
    history = fit(model, X, y, loss=loss, optimizer=opt, epochs=10, batch_size=10,
                  progress=False)
    assert history.interrupted and history.epochs == 1
    assert opt.steps == steps  # once: batch 5 finished, step included; twice: dropped
    assert [p.data for p in model.parameters()] == opt.snapshots[-1]


# --- progress per batch ----------------------------------------------------------------


def test_progress_bar_moves_per_batch_and_shows_the_epoch(capsys):
    pytest.importorskip("tqdm")
    X, y = make_moons(40, seed=0)
    fit(nn.MLP(2, [3, 1], seed=0), X, y, epochs=2, batch_size=10)
    err = capsys.readouterr().err
    assert "8/8" in err and "epoch 2/2" in err and "batch" in err


# --- accuracy's threshold ------------------------------------------------------------


def test_accuracy_threshold_must_be_a_number():
    model = Fixed([[0.7], [0.3]])
    with pytest.raises(TypeError, match="accuracy: threshold must be a number.*str 'a'"):
        accuracy(model, [[0], [1]], [1, 0], threshold="a")
    with pytest.raises(TypeError, match="threshold must be a number"):
        accuracy(model, [[0], [1]], [1, 0], threshold=True)
    with pytest.raises(ValueError, match="threshold is nan"):
        accuracy(model, [[0], [1]], [1, 0], threshold=math.nan)

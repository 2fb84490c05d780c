"""The training loop: ``fit`` a model to data, and ``predict`` / ``accuracy`` after.

``fit`` runs the loop of the lecture notes, one mini-batch at a time::

    for each epoch:
        shuffle the samples, cut them into batches
        for each batch:
            zero the gradients
            outputs = [model(x) for x in batch]       # forward: builds the graph
            loss = loss(outputs, targets) (+ l2 penalty)
            loss.backward()                           # backward: fills every p.grad
            optimizer.step()                          # p.data -= lr * p.grad (or Adam...)

and returns a ``History`` of the per-epoch losses and accuracies. Evaluation
(validation, ``predict``, ``accuracy``) runs in ``eval()`` mode under
``engine.no_grad()``: no graph is built.

NB, where this differs from PyTorch: every sample is its own scalar graph
(there are no tensors), so a batch of 32 samples builds 32 graphs that share
the model's parameters; the gradients of the batch add up in each ``p.grad``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from engine import Value, no_grad

from .optim import SGD, Optimizer

__all__ = ["fit", "History", "predict", "accuracy"]


# --- data in ---------------------------------------------------------------


def _rows(X: Any, what: str) -> list:
    """Samples as a list; a numpy array becomes lists, a number becomes ``[number]``."""
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        try:
            X = list(X)
        except TypeError:
            raise TypeError(
                f"{what} must be a list (or numpy array) of samples, got {type(X).__name__}"
            ) from None
    rows = []
    for row in X:
        if hasattr(row, "tolist"):
            row = row.tolist()
        if isinstance(row, (Real, Value)):
            row = [row]
        rows.append(row)
    if not rows:
        raise ValueError(f"{what} is empty: give at least one sample")
    return rows


def _targets(y: Any, n: int, what: str) -> list:
    """Targets as a list (numpy arrays become lists), one per sample."""
    if hasattr(y, "tolist") and not isinstance(y, list):
        y = y.tolist()
    try:
        y = list(y)
    except TypeError:
        raise TypeError(f"{what} must be a list (or numpy array) of targets, "
                        f"got {type(y).__name__}") from None
    if len(y) != n:
        raise ValueError(f"{what} has {len(y)} targets for {n} samples: give one target per sample")
    return y


def _outputs(model: Any, x: Any) -> list[Value]:
    out = model(x)
    if isinstance(out, Value):  # a plain function returning one Value
        return [out]
    return list(out)


# --- accuracy ----------------------------------------------------------------


def _scalar(target: Any) -> Any:
    """A one-element list target stands for its element."""
    if isinstance(target, (list, tuple)) and len(target) == 1:
        return target[0]
    return target


def _is_integral(t: Any) -> bool:
    return isinstance(t, Real) and not isinstance(t, bool) and float(t).is_integer()


def _label_rule(targets: list, width: int, threshold: float | None):
    """How to turn an output into a label for these targets, or a reason why not.

    Returns ``(predict, truth)`` functions, or a str saying why these targets
    are not class labels.
    """
    if width == 1:
        values = [_scalar(t) for t in targets]
        if not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
            return "one output needs number targets"
        kinds = set(float(v) for v in values)
        if kinds <= {0.0, 1.0}:
            cut = 0.5 if threshold is None else threshold
            return (lambda out: 1.0 if out[0] > cut else 0.0), _as_label
        if kinds <= {-1.0, 1.0}:
            cut = 0.0 if threshold is None else threshold
            return (lambda out: 1.0 if out[0] > cut else -1.0), _as_label
        return "with one output, labels must be 0/1 or -1/+1"
    if all(_is_integral(_scalar(t)) for t in targets):
        classes = [int(_scalar(t)) for t in targets]
        if all(0 <= c < width for c in classes):
            return _argmax, lambda t: int(_scalar(t))
        return f"class indices must be in 0..{width - 1} for {width} outputs"
    if all(isinstance(t, (list, tuple)) and len(t) == width and sum(t) == 1
           and all(v in (0, 1) for v in t) for t in targets):
        return _argmax, _argmax
    return (f"with {width} outputs, targets must be class indices (ints) "
            "or one-hot lists")


def _as_label(target: Any) -> float:
    return float(_scalar(target))


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def _count_correct(outputs: list[list[float]], targets: list, rule) -> int:
    predict, truth = rule
    return sum(predict(out) == truth(t) for out, t in zip(outputs, targets))


# --- predict and accuracy ------------------------------------------------------


class _evaluating:
    """Context: the model in ``eval()`` mode, under ``no_grad()``; both restored after."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.grad = no_grad()

    def __enter__(self) -> None:
        self.was_training = getattr(self.model, "training", None)
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.grad.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.grad.__exit__(*exc)
        if self.was_training and hasattr(self.model, "train"):
            self.model.train()


def predict(model: Any, X: Any) -> list[list[float]]:
    """The model's outputs for each sample, as floats (eval mode, no graph built).

    Args:
        model: a callable returning a list of Values per sample (e.g. an ``MLP``).
        X: samples, a list of lists of numbers or a numpy array.

    Returns:
        One list of floats per sample (also for a single output: ``[[0.93], ...]``).
    """
    rows = _rows(X, "predict: X")
    with _evaluating(model):
        return [[v.data for v in _outputs(model, x)] for x in rows]


def accuracy(model: Any, X: Any, y: Any, threshold: float | None = None) -> float:
    """The fraction of samples the model classifies correctly (eval mode, no graph).

    The rule that turns outputs into a class:

    * **one output**, labels 0/1: class 1 if output > 0.5 (a sigmoid output or a
      regression onto 0/1); labels -1/+1: class +1 if output > 0 (tanh, linear,
      hinge or logistic loss). For a linear output trained with
      ``bce_with_logits`` on 0/1 labels, pass ``threshold=0.0``.
    * **several outputs**: the class is the index of the largest output
      (argmax); targets are class indices or one-hot lists.

    Args:
        model: a callable returning a list of Values per sample.
        X: samples (list or numpy array).
        y: labels, one per sample.
        threshold: override the cut-off for one output (default 0.5 or 0).

    Raises:
        ValueError: if the targets are not class labels (e.g. regression targets).
    """
    outputs = predict(model, X)
    targets = _targets(y, len(outputs), "accuracy: y")
    rule = _label_rule(targets, len(outputs[0]), threshold)
    if isinstance(rule, str):
        raise ValueError(f"accuracy needs class labels: {rule} (got e.g. {targets[0]!r})")
    return _count_correct(outputs, targets, rule) / len(targets)


# --- History ---------------------------------------------------------------


@dataclass(repr=False)
class History:
    """What happened during ``fit``, epoch by epoch.

    Attributes:
        train_loss: mean training loss of each epoch (averaged over the epoch's
            batches as the weights moved, weighted by batch size; without the
            l2 penalty).
        val_loss: validation loss after each epoch ([] without validation).
        train_accuracy, val_accuracy: the same for accuracy ([] when not measured).
        best_epoch: the epoch (1-based) with the lowest validation loss, or the
            lowest training loss without validation; ``val_loss[best_epoch - 1]``.
        stopped_early: True if early stopping ended training.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """How many epochs ran."""
        return len(self.train_loss)

    def __len__(self) -> int:
        return self.epochs

    def as_dict(self) -> dict[str, Any]:
        """The lists and numbers as a plain dict (JSON-ready)."""
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss),
                "train_accuracy": list(self.train_accuracy),
                "val_accuracy": list(self.val_accuracy),
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early}

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(0 epochs)"
        parts = [f"loss {self.train_loss[-1]:.4g}"]
        if self.train_accuracy:
            parts.append(f"accuracy {self.train_accuracy[-1]:.3f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.3f}")
        n = self.epochs
        text = f"History({n} epoch{'s' if n != 1 else ''}; last: {', '.join(parts)}"
        text += f"; best epoch {self.best_epoch}"
        if self.stopped_early:
            text += ", stopped early"
        return text + ")"

    def plot(self, ax: Any = None) -> Any:
        """Plot the loss curves (and accuracy, on a right-hand axis) against the epoch.

        Needs matplotlib (``pip install 'chainrule[plot]'``).

        Args:
            ax: a matplotlib Axes to draw on (default: a new figure).

        Returns:
            The Axes with the loss curves.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "History.plot needs matplotlib: pip install 'chainrule[plot]' "
                "(or read history.train_loss and history.val_loss directly)"
            ) from None
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        epochs = range(1, self.epochs + 1)
        ax.plot(epochs, self.train_loss, label="train loss", color="C0")
        if self.val_loss:
            ax.plot(epochs, self.val_loss, label="validation loss", color="C1")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, color="grey", linestyle=":", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        handles, labels = ax.get_legend_handles_labels()
        if self.train_accuracy or self.val_accuracy:
            right = ax.twinx()
            if self.train_accuracy:
                right.plot(epochs, self.train_accuracy, "--", color="C0", label="train accuracy")
            if self.val_accuracy:
                right.plot(epochs, self.val_accuracy, "--", color="C1",
                           label="validation accuracy")
            right.set_ylabel("accuracy")
            right.set_ylim(0, 1.05)
            more_handles, more_labels = right.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        ax.legend(handles, labels, loc="center right", fontsize="small")
        return ax


# --- fit -------------------------------------------------------------------


def _loss_function(loss: str | Callable) -> Callable:
    if callable(loss):
        return loss
    if isinstance(loss, str):
        from .losses import LOSSES

        if loss in LOSSES:
            return LOSSES[loss]
        raise ValueError(f"fit: unknown loss {loss!r}; use one of {sorted(LOSSES)} "
                         "or a function loss(outputs, targets) -> Value")
    raise TypeError(f"fit: loss must be a name such as 'mse' or a function "
                    f"loss(outputs, targets) -> Value, got {type(loss).__name__}")


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "fit's progress bar needs tqdm: pip install 'chainrule[progress]', "
            "or pass progress=False"
        ) from None
    return tqdm


def _int_arg(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"fit: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"fit: {name} must be >= {low}, got {value}")
    return int(value)


def _scalar_step(model: Any, loss_fn: Callable, params: list[Value], l2: float):
    """The plain training step: one graph per sample, one backward for the batch.

    Returns ``step(xs, targets) -> (data_loss, total_loss, outputs)`` (floats,
    outputs as lists of floats); ``step`` leaves the batch's gradient in every
    ``p.grad``. A compiled step (see ``fit(compiled=True)``) has the same shape.
    """
    penalty = None
    if l2:
        from .losses import l2_penalty as penalty

    def step(xs: list, targets: list):
        outputs = [_outputs(model, x) for x in xs]
        data_loss = loss_fn(outputs, targets)
        if not isinstance(data_loss, Value):
            raise TypeError(f"fit: the loss function returned {type(data_loss).__name__} "
                            f"{data_loss!r}, not a Value; build it from the outputs' Values")
        total = data_loss + penalty(params, lam=l2) if l2 else data_loss
        total.backward()
        return data_loss.data, total.data, [[v.data for v in out] for out in outputs]

    return step


def _compiled_step(model: Any, loss_fn: Callable, params: list[Value], l2: float):
    """``fit(compiled=True)``: a training step replayed from a recorded tape.

    ``nn.compiled.fit_step`` records the model's graph for one sample once and
    returns a step with the same contract as ``_scalar_step``'s (it needs NumPy,
    and says how to install it when it is missing).
    """
    from .compiled import fit_step

    return fit_step(model, loss_fn, params, l2)


def _diverged(loss: Any, epoch: int, batch: int, batches: int, optimizer: Any):
    return FloatingPointError(
        f"fit: the loss is {loss} at epoch {epoch}, batch {batch} of {batches}: training "
        f"diverged. Try a lower learning rate (optimizer.lr = {getattr(optimizer, 'lr', '?')}), "
        "scale the inputs, or use a numerically stable loss (e.g. 'bce_with_logits'); "
        "the weights are those before this batch's step"
    )


def fit(
    model: Any,
    X: Any,
    y: Any,
    loss: str | Callable = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    validation: tuple[Any, Any] | None = None,
    early_stopping: int | None = None,
    l2: float = 0.0,
    progress: bool = True,
    metrics: Sequence[str] | None = None,
    compiled: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent; return a ``History``.

    Args:
        model: an ``nn`` module (anything with ``parameters()`` that, called on
            one sample, returns a list of Values).
        X: training samples: a list of lists of numbers, or a numpy array.
        y: one target per sample (number, class index or list), list or array.
        loss: a name from ``nn.losses.LOSSES`` ("mse", "bce", "bce_with_logits",
            "cross_entropy", "hinge", "logistic") or a function
            ``loss(outputs, targets) -> Value`` taking the batch's outputs (a
            list of lists of Values) and targets.
        optimizer: e.g. ``Adam(model.parameters(), lr=0.01)``; default
            ``SGD(model.parameters(), lr=0.1)``.
        epochs: passes over the data.
        batch_size: samples per gradient step; None = all of them (full batch).
        shuffle: reshuffle the samples every epoch.
        seed: seed of the shuffling (the same seed gives the same run).
        validation: ``(X_val, y_val)`` evaluated after every epoch, or None.
        early_stopping: patience: stop when the validation loss has not improved
            for this many epochs, then restore the weights of the best epoch
            (needs ``validation``). None: train all epochs.
        l2: add ``l2_penalty(parameters, lam=l2)`` (= l2/2 * sum of squared
            parameters) to the loss that is minimised.
        progress: show a progress bar (tqdm; a widget in notebooks) with the
            epoch, loss and accuracy. False: print nothing.
        metrics: ``["accuracy"]`` to measure accuracy (an error if the targets
            are not class labels), ``[]`` for none; None (default) measures it
            when the targets are class labels (see ``accuracy`` for the rule).
        compiled: replay a recorded tape over each batch instead of building one
            graph per sample (``engine.tape``: the same results to 1e-12, much
            faster); needs NumPy, and a model whose graph is the same for every
            sample (dropout is refused with a ValueError).

    Returns:
        The ``History`` of per-epoch losses and accuracies.

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and
            batch; the weights are those before that batch's step).
    """
    # --- check the arguments, before any work ---
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"fit: model must have a parameters() method (an nn module), "
                        f"got {type(model).__name__}")
    if not callable(model):
        raise TypeError(f"fit: model must be callable on one sample, got {type(model).__name__}")
    rows = _rows(X, "fit: X")
    targets = _targets(y, len(rows), "fit: y")
    loss_fn = _loss_function(loss)
    epochs = _int_arg("epochs", epochs, 1)
    batch_size = len(rows) if batch_size is None else _int_arg("batch_size", batch_size, 1)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        raise TypeError(f"fit: seed must be an int or None, got {seed!r}")
    for name, flag in (("shuffle", shuffle), ("progress", progress), ("compiled", compiled)):
        if not isinstance(flag, bool):
            raise TypeError(f"fit: {name} must be True or False, got {flag!r}")
    if isinstance(l2, bool) or not isinstance(l2, Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"fit: l2 must be a number >= 0, got {l2!r}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("fit: validation must be a pair (X_val, y_val) or None")
        val_rows = _rows(validation[0], "fit: validation X")
        val_targets = _targets(validation[1], len(val_rows), "fit: validation y")
    if early_stopping is not None:
        early_stopping = _int_arg("early_stopping", early_stopping, 1)
        if validation is None:
            raise ValueError("fit: early_stopping watches the validation loss: "
                             "pass validation=(X_val, y_val) too")
    if metrics is not None:
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m != "accuracy"]
        if unknown:
            raise ValueError(f"fit: unknown metric(s) {unknown}; the available one is 'accuracy'")
    params = list(model.parameters())
    if optimizer is None:
        optimizer = SGD(params, lr=0.1)
    elif not (callable(getattr(optimizer, "step", None))
              and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"fit: optimizer must have step() and zero_grad() (e.g. nn.SGD), "
                        f"got {type(optimizer).__name__}")
    # A linear output trained with bce_with_logits gives logits: class 1 when > 0.
    logits = loss == "bce_with_logits" or getattr(loss, "__name__", "") == \
        "binary_cross_entropy_with_logits"
    threshold = 0.0 if logits else None
    rule = False  # how outputs become labels (False: accuracy not measured)
    if metrics is None or metrics:
        with _evaluating(model):  # one look at the output width, before any step
            width = len(_outputs(model, rows[0]))
        rule = _label_rule(targets, width, threshold)
        if isinstance(rule, str):
            if metrics:
                raise ValueError(f"fit: metrics=['accuracy'] needs class labels: {rule} "
                                 f"(got e.g. {targets[0]!r})")
            rule = False
    make_step = _compiled_step if compiled else _scalar_step
    step = make_step(model, loss_fn, params, l2)
    bar = _tqdm()(total=epochs, desc="fit", unit="epoch") if progress else None

    rng = random.Random(seed)
    history = History()
    best_loss, best_weights, waited = math.inf, None, 0
    was_training = getattr(model, "training", None)
    order = list(range(len(rows)))
    batches = math.ceil(len(rows) / batch_size)
    try:
        for epoch in range(1, epochs + 1):
            if hasattr(model, "train"):
                model.train()
            if shuffle and batches > 1:  # one full batch: the order changes nothing
                rng.shuffle(order)
            loss_sum, correct = 0.0, 0
            for batch in range(1, batches + 1):
                chosen = order[(batch - 1) * batch_size: batch * batch_size]
                xs = [rows[i] for i in chosen]
                ts = [targets[i] for i in chosen]
                optimizer.zero_grad()
                if hasattr(model, "zero_grad"):
                    model.zero_grad()
                try:
                    data_loss, total_loss, outputs = step(xs, ts)
                except OverflowError as error:  # e.g. exp or ** beyond the float range
                    raise _diverged(f"too large ({error})", epoch, batch, batches,
                                    optimizer) from error
                if not math.isfinite(total_loss):
                    raise _diverged(total_loss, epoch, batch, batches, optimizer)
                optimizer.step()
                loss_sum += data_loss * len(chosen)
                if rule:
                    correct += _count_correct(outputs, ts, rule)
            history.train_loss.append(loss_sum / len(rows))
            if rule:
                history.train_accuracy.append(correct / len(rows))
            shown = {"loss": f"{history.train_loss[-1]:.4g}"}
            if rule:
                shown["acc"] = f"{history.train_accuracy[-1]:.3f}"

            if validation is not None:
                with _evaluating(model):
                    val_outputs = [_outputs(model, x) for x in val_rows]
                    val_loss = loss_fn(val_outputs, val_targets).data
                    val_floats = [[v.data for v in out] for out in val_outputs]
                history.val_loss.append(val_loss)
                shown["val_loss"] = f"{val_loss:.4g}"
                if rule:
                    history.val_accuracy.append(
                        _count_correct(val_floats, val_targets, rule) / len(val_rows))
                    shown["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
            watched = history.val_loss if validation is not None else history.train_loss
            if watched[-1] < best_loss:
                best_loss, history.best_epoch, waited = watched[-1], epoch, 0
                if early_stopping is not None:
                    best_weights = [p.data for p in params]
            else:
                waited += 1
            if bar is not None:
                bar.set_postfix(shown, refresh=False)
                bar.update(1)
            if early_stopping is not None and waited >= early_stopping:
                history.stopped_early = True
                if bar is not None:
                    bar.set_description(f"fit stopped early (best epoch {history.best_epoch})")
                break
    finally:
        if bar is not None:
            bar.close()
        if hasattr(model, "eval") and was_training is False:
            model.eval()
    if best_weights is not None:
        for p, data in zip(params, best_weights):
            p.data = data
    return history

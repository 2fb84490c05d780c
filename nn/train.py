"""The training loop: ``fit`` a model to data, and ``predict`` / ``accuracy`` after.

``fit`` runs the loop of the lecture notes, one mini-batch at a time::

    for each epoch:
        shuffle the samples, cut them into batches
        for each batch:
            zero the gradients
            outputs = [model(x) for x in batch]       # forward: builds the graph
            loss = loss(outputs, targets) (+ l2 penalty)
            loss.backward()                           # backward: fills every p.grad
            check the loss and every gradient are finite
            optimizer.step()                          # p.data -= lr * p.grad (or Adam...)

and returns a ``History`` of the per-epoch losses and accuracies. Evaluation
(validation, ``predict``, ``accuracy``) runs in ``eval()`` mode under
``engine.no_grad()``: no graph is built.

The file reads top down: data in, accuracy, History, then fit in three parts:
its argument checks (``_plan``), one epoch (``_one_epoch``, with the checks
before each step and the Ctrl-C guard), and the loop (``_train``).

NB, where this differs from PyTorch: every sample is its own scalar graph
(there are no tensors), so a batch of 32 samples builds 32 graphs that share
the model's parameters; the gradients of the batch add up in each ``p.grad``.
"""

from __future__ import annotations

import math
import random
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from engine import Value, gc_paused, is_grad_enabled, no_grad

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
    """Context: the model in ``eval()`` mode, under ``no_grad()`` and ``gc_paused()``;
    all restored after."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.grad = no_grad()
        self.collector = gc_paused()

    def __enter__(self) -> None:
        self.was_training = getattr(self.model, "training", None)
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.collector.__enter__()
        self.grad.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.grad.__exit__(*exc)
        self.collector.__exit__(*exc)
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
        TypeError: ``threshold`` is not a number.
        ValueError: if the targets are not class labels (e.g. regression targets).
    """
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, Real):
            raise TypeError(f"accuracy: threshold must be a number (or None for the default "
                            f"cut-off), got {type(threshold).__name__} {threshold!r}")
        if math.isnan(threshold):
            raise ValueError("accuracy: threshold is nan; give a number such as 0.5 or 0.0")
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
        interrupted: True if Ctrl-C ended training (the lists hold the epochs
            that finished).
        grad_norms: with ``fit(..., grad_norms=True)``, one list per epoch with
            one number per layer of ``model.layers``: the norm of that layer's
            parameter gradients (weights and biases), sqrt(sum of squares),
            averaged over the epoch's batches, as each batch left it before the
            optimizer's step ([] otherwise). Falling numbers towards layer 1
            are vanishing gradients (``nn.diagnose`` says more).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    grad_norms: list[list[float]] = field(default_factory=list)

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
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "interrupted": self.interrupted,
                "grad_norms": [list(epoch) for epoch in self.grad_norms]}

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(0 epochs, interrupted)" if self.interrupted else "History(0 epochs)"
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
        if self.interrupted:
            text += ", interrupted"
        return text + ")"

    def plot(self, ax: Any = None) -> Any:
        """Plot the loss curves (and accuracy, on a right-hand axis) against the epoch.

        With a validation set, a dotted line marks the best epoch (the lowest
        validation loss). Needs matplotlib (``pip install 'chainrule[plot]'``).

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
        if self.best_epoch is not None and self.val_loss:
            # Without a validation set the "best" epoch is only the lowest training
            # loss, nothing to mark: the line means "where validation was lowest".
            ax.axvline(self.best_epoch, color="grey", linestyle=":",
                       label="best epoch (validation)")
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


# --- fit: the arguments, checked before any work ------------------------------------


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


def _tqdm() -> Any:
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


def _labels(values: Sequence[Value], limit: int = 4) -> str:
    """How a message lists some Values: their labels, e.g. "w1.1.1, w1.1.2 and 11 more"."""
    shown = [v.label or f"Value({v.data:.4g})" for v in values[:limit]]
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(shown) + more


def _check_optimizer(optimizer: Any, params: list[Value]) -> list[Value]:
    """The parameters the optimizer steps: the model's own (a ValueError otherwise)."""
    held = getattr(optimizer, "params", None)
    if not isinstance(held, (list, tuple)):
        return params  # an optimizer that does not say what it holds: trust it
    ours = {id(p) for p in params}
    foreign = [p for p in held if id(p) not in ours]
    fix = (f"build the optimizer on this model's parameters, e.g. "
           f"{type(optimizer).__name__}(model.parameters(), ...)")
    if len(foreign) == len(held):
        raise ValueError(
            f"fit: the optimizer holds none of this model's parameters (it holds {len(held)} "
            f"others, labelled {_labels(foreign)}: another model's?), so training would "
            f"change nothing; {fix}"
        )
    if foreign:
        raise ValueError(f"fit: the optimizer holds {len(foreign)} parameter(s) the model "
                         f"does not have ({_labels(foreign)}); {fix}")
    return list(held)


_NO_GRAD = ("no graph is recorded there, so training would change nothing. Call fit "
            "outside the `with no_grad():` block (fit evaluates without a graph by itself)")


def _scalar_step(model: Any, loss_fn: Callable, params: list[Value], l2: float) -> Callable:
    """The plain training step: one graph per sample, one backward for the batch.

    Returns ``step(xs, targets) -> (data_loss, total_loss, outputs)`` (floats,
    outputs as lists of floats); ``step`` leaves the batch's gradient in every
    ``p.grad``. A compiled step (see ``fit(compiled=True)``) has the same shape.
    """
    from .losses import l2_penalty

    def step(xs: list, targets: list) -> tuple[float, float, list[list[float]]]:
        outputs = [_outputs(model, x) for x in xs]
        data_loss = loss_fn(outputs, targets)
        if not isinstance(data_loss, Value):
            raise TypeError(f"fit: the loss function returned {type(data_loss).__name__} "
                            f"{data_loss!r}, not a Value; build it from the outputs' Values")
        total = data_loss + l2_penalty(params, lam=l2) if l2 else data_loss
        total.backward()
        return data_loss.data, total.data, [[v.data for v in out] for out in outputs]

    return step


def _compiled_step(model: Any, loss_fn: Callable, params: list[Value], l2: float) -> Callable:
    """``fit(compiled=True)``: a training step replayed from a recorded tape.

    ``nn.compiled.fit_step`` records the model's graph for one sample once and
    returns a step with the same contract as ``_scalar_step``'s (it needs NumPy,
    and says how to install it when it is missing).
    """
    from .compiled import fit_step

    return fit_step(model, loss_fn, params, l2)


@dataclass
class _Plan:
    """What ``fit`` checked before any work: the model, the data and how to train."""

    model: Any
    rows: list
    targets: list
    loss_fn: Callable
    optimizer: Any
    params: list[Value]  # the model's
    stepped: list[Value]  # the optimizer's (the model's, or some of them)
    epochs: int
    batch_size: int
    shuffle: bool
    seed: int | None
    validation: tuple[list, list] | None
    early_stopping: int | None
    rule: Any  # (predict, truth) turning outputs into labels, or False: no accuracy
    step: Callable
    progress: bool
    layers: list[list[Value]] | None = None  # grad_norms=True: each layer's parameters

    @property
    def batches(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)


def _plan(model: Any, X: Any, y: Any, loss: str | Callable, optimizer: Any, epochs: Any,
          batch_size: Any, shuffle: Any, seed: Any, validation: Any, early_stopping: Any,
          l2: Any, progress: Any, metrics: Any, compiled: Any,
          grad_norms: Any = False) -> _Plan:
    """Check every argument of ``fit`` (TypeError / ValueError naming it) and plan the run."""
    if not is_grad_enabled():
        raise RuntimeError(f"fit: called inside no_grad(): {_NO_GRAD}")
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
    seed = None if seed is None else int(seed)
    for name, flag in (("shuffle", shuffle), ("progress", progress), ("compiled", compiled),
                       ("grad_norms", grad_norms)):
        if not isinstance(flag, bool):
            raise TypeError(f"fit: {name} must be True or False, got {flag!r}")
    if isinstance(l2, bool) or not isinstance(l2, Real) or not 0 <= float(l2) < math.inf:
        raise ValueError(f"fit: l2 must be a number >= 0, got {l2!r}")
    l2 = float(l2)
    checked_validation = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("fit: validation must be a pair (X_val, y_val) or None")
        val_rows = _rows(validation[0], "fit: validation X")
        checked_validation = (val_rows,
                              _targets(validation[1], len(val_rows), "fit: validation y"))
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
    stepped = _check_optimizer(optimizer, params)
    rule = _accuracy_rule(model, rows, targets, loss, metrics)
    step = (_compiled_step if compiled else _scalar_step)(model, loss_fn, params, l2)
    layers = _layer_parameters(model) if grad_norms else None
    return _Plan(model, rows, targets, loss_fn, optimizer, params, stepped, epochs, batch_size,
                 shuffle, seed, checked_validation, early_stopping, rule, step, progress,
                 layers)


def _layer_parameters(model: Any) -> list[list[Value]]:
    """Each of ``model.layers``' parameters, for ``grad_norms=True``."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, (list, tuple)) or not layers or not all(
            callable(getattr(layer, "parameters", None)) for layer in layers):
        raise TypeError(f"fit: grad_norms=True needs a model with layers (model.layers, "
                        f"each with parameters(), as nn.MLP has); {type(model).__name__} has "
                        "none")
    return [list(layer.parameters()) for layer in layers]


def _accuracy_rule(model: Any, rows: list, targets: list, loss: Any, metrics: Any) -> Any:
    """How fit turns outputs into labels, ``(predict, truth)``, or False: no accuracy."""
    if metrics is not None and not metrics:
        return False
    # A linear output trained with bce_with_logits gives logits: class 1 when > 0.
    logits = loss == "bce_with_logits" or getattr(loss, "__name__", "") == \
        "binary_cross_entropy_with_logits"
    with _evaluating(model):  # one look at the output width, before any step
        width = len(_outputs(model, rows[0]))
    rule = _label_rule(targets, width, 0.0 if logits else None)
    if not isinstance(rule, str):
        return rule
    if metrics:
        raise ValueError(f"fit: metrics=['accuracy'] needs class labels: {rule} "
                         f"(got e.g. {targets[0]!r})")
    return False


# --- fit: one batch's checks ---------------------------------------------------------


def _bad_input(plan: _Plan, chosen: list[int]) -> str | None:
    """The first NaN or infinite number among the batch's inputs, in words, or None."""
    for i in chosen:
        for j, v in enumerate(plan.rows[i], start=1):
            number = v.data if isinstance(v, Value) else v
            if isinstance(number, Real) and not math.isfinite(number):
                return f"X[{i}] has x{j} = {number}"
    return None


def _where(epoch: int, batch: int, plan: _Plan) -> str:
    return f"epoch {epoch}, batch {batch} of {plan.batches}"


def _diverged(loss: Any, epoch: int, batch: int, plan: _Plan,
              chosen: list[int]) -> FloatingPointError:
    bad = _bad_input(plan, chosen)
    if bad:
        cause = f"the data: {bad}; drop or fix that sample"
    else:
        cause = (f"training diverged. Try a lower learning rate (optimizer.lr = "
                 f"{getattr(plan.optimizer, 'lr', '?')}), scale the inputs, or use a "
                 "numerically stable loss (e.g. 'bce_with_logits')")
    return FloatingPointError(
        f"fit: the loss is {loss} at {_where(epoch, batch, plan)}; likely cause: {cause}; "
        "the weights are those before this batch's step"
    )


def _parameter_names(plan: _Plan) -> dict[int, str]:
    """id(parameter) -> its name (``w1.2.1``...), for messages."""
    named = getattr(plan.model, "named_parameters", None)
    pairs = named() if callable(named) else [
        (p.label or f"parameter {k}", p) for k, p in enumerate(plan.params, start=1)]
    return {id(p): name for name, p in pairs}


def _check_step(plan: _Plan, total_loss: float, epoch: int, batch: int,
                chosen: list[int]) -> None:
    """Before the optimizer steps: the loss and every gradient it will use are finite."""
    if not math.isfinite(total_loss):
        raise _diverged(total_loss, epoch, batch, plan, chosen)
    if math.isfinite(sum(map(_grad, plan.stepped))):  # one sum: the usual, quick case
        return
    bad = [p for p in plan.stepped if not math.isfinite(p.grad)]
    if not bad:
        return  # only the sum overflowed
    names = _parameter_names(plan)
    shown = ", ".join(f"{names.get(id(p), p.label)} = {p.grad}" for p in bad[:4])
    more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
    data = _bad_input(plan, chosen)
    if data:
        cause = (f"the data: {data} (an op such as tanh keeps the loss finite, but its "
                 "slope 0 times inf is nan); drop or fix that sample")
    else:
        cause = ("a derivative that is infinite or undefined at this point (sqrt, log or "
                 "x ** -1 at 0, an overflowing exp), or weights grown too large: try a "
                 f"lower learning rate (optimizer.lr = {getattr(plan.optimizer, 'lr', '?')}) "
                 "or scale the inputs")
    raise FloatingPointError(
        f"fit: the gradient is not finite at {_where(epoch, batch, plan)}, though the loss "
        f"is finite ({total_loss:.6g}): {shown}{more} ({len(bad)} of {len(plan.stepped)} "
        f"parameters); likely cause: {cause}; the weights are those before this batch's step"
    )


def _grad(p: Value) -> float:
    return p.grad


# --- fit: Ctrl-C ----------------------------------------------------------------------


class _CtrlC:
    """Ctrl-C during ``fit`` ends training at a batch boundary, never inside a step.

    A first Ctrl-C is held: the batch under way finishes (forward, backward and
    the optimizer's step), then ``boundary()`` raises ``KeyboardInterrupt``.
    A second one while the first is held acts at once if it comes during a
    forward and backward pass or the validation (between ``allow()`` and
    ``hold()``): that batch is dropped, and no weight has moved yet. Anywhere
    else (the optimizer's step, the bookkeeping, restoring the best weights) a
    Ctrl-C always waits for the next boundary. It works in the main thread (the
    one Python delivers signals to) over a Python-level SIGINT handler, which
    it calls to act (the default one raises ``KeyboardInterrupt``).
    """

    def __init__(self) -> None:
        self.previous: Any = None
        self.open = False
        self.pending: tuple[int, Any] | None = None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # not SIG_IGN / SIG_DFL / a handler set from C
                self.previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending is not None and self.open:  # pressed twice: stop now
            self.pending = None
            self.previous(signum, frame)
        else:
            self.pending = (signum, frame)

    def boundary(self) -> None:
        """A batch boundary: act on a Ctrl-C held since the last one."""
        if self.pending is not None:
            signum, frame = self.pending
            self.pending = None
            self.previous(signum, frame)

    def allow(self) -> None:
        """Entering a forward/backward pass or the validation: nothing to undo here."""
        self.open = True

    def hold(self) -> None:
        """Leaving it: from here a Ctrl-C waits for the next boundary."""
        self.open = False


# --- fit: the loop ---------------------------------------------------------------------


class _Watch:
    """The best epoch so far (lowest validation loss, or training loss without validation)
    and early stopping's patience; keeps a copy of the best weights when it stops early."""

    def __init__(self, plan: _Plan) -> None:
        self.params = plan.params
        self.patience = plan.early_stopping
        self.best = math.inf
        self.waited = 0
        self.weights: list[float] | None = None

    def stop(self, history: History, epoch: int) -> bool:
        """Note the epoch's loss; True when early stopping ends training."""
        watched = history.val_loss if history.val_loss else history.train_loss
        if watched[-1] < self.best:
            self.best, history.best_epoch, self.waited = watched[-1], epoch, 0
            if self.patience is not None:
                self.weights = [p.data for p in self.params]
        else:
            self.waited += 1
        return self.patience is not None and self.waited >= self.patience

    def restore(self) -> bool:
        """Put the best epoch's weights back (early stopping only); True if it did."""
        if self.weights is None:
            return False
        for p, data in zip(self.params, self.weights):
            p.data = data
        return True


@dataclass
class _Position:
    """Where training is: for the Ctrl-C message."""

    epoch: int = 0
    done: int = 0  # batches finished in this epoch


def _one_epoch(plan: _Plan, epoch: int, order: list[int], rng: random.Random,
               ctrl_c: _CtrlC, bar: Any, at: _Position
               ) -> tuple[float, float | None, list[float] | None]:
    """One pass over the training data, batch by batch: (mean loss, accuracy or None,
    the mean per-layer gradient norms or None)."""
    model, optimizer = plan.model, plan.optimizer
    if hasattr(model, "train"):
        model.train()
    batches = plan.batches
    if plan.shuffle and batches > 1:  # one full batch: the order changes nothing
        rng.shuffle(order)
    loss_sum, correct = 0.0, 0
    norm_sums = [0.0] * len(plan.layers) if plan.layers is not None else None
    for batch in range(1, batches + 1):
        ctrl_c.boundary()
        chosen = order[(batch - 1) * plan.batch_size: batch * plan.batch_size]
        xs = [plan.rows[i] for i in chosen]
        ts = [plan.targets[i] for i in chosen]
        optimizer.zero_grad()
        if hasattr(model, "zero_grad"):
            model.zero_grad()
        if not is_grad_enabled():  # switched off meanwhile (by another thread?)
            raise RuntimeError(f"fit: no_grad() was entered during training, at "
                               f"{_where(epoch, batch, plan)}: {_NO_GRAD}")
        ctrl_c.allow()  # a second Ctrl-C during the forward and backward drops this batch
        try:
            data_loss, total_loss, outputs = plan.step(xs, ts)
        except OverflowError as error:  # e.g. exp or ** beyond the float range
            raise _diverged(f"too large ({error})", epoch, batch, plan, chosen) from error
        finally:
            ctrl_c.hold()
        _check_step(plan, total_loss, epoch, batch, chosen)
        if norm_sums is not None and plan.layers is not None:
            for k, layer in enumerate(plan.layers):
                norm_sums[k] += math.sqrt(math.fsum(p.grad * p.grad for p in layer))
        optimizer.step()
        loss_sum += data_loss * len(chosen)
        if plan.rule:
            correct += _count_correct(outputs, ts, plan.rule)
        if bar is not None:
            bar.update(1)
        at.done = batch
    n = len(plan.rows)
    norms = None if norm_sums is None else [total / batches for total in norm_sums]
    return loss_sum / n, (correct / n if plan.rule else None), norms


def _validate(plan: _Plan, validation: tuple[list, list]) -> tuple[float, float | None]:
    """The validation loss and accuracy (or None), in eval mode, without a graph."""
    val_rows, val_targets = validation
    with _evaluating(plan.model):
        outputs = [_outputs(plan.model, x) for x in val_rows]
        loss = plan.loss_fn(outputs, val_targets).data
        floats = [[v.data for v in out] for out in outputs]
    correct = _count_correct(floats, val_targets, plan.rule) / len(val_rows) if plan.rule \
        else None
    return loss, correct


def _record(history: History, train: tuple[float, float | None, list[float] | None],
            val: tuple[float, float | None] | None, bar: Any) -> None:
    """Append one epoch's numbers to the History (and show them on the bar)."""
    history.train_loss.append(train[0])
    if train[2] is not None:
        history.grad_norms.append(train[2])
    shown = {"loss": f"{train[0]:.4g}"}
    if train[1] is not None:
        history.train_accuracy.append(train[1])
        shown["acc"] = f"{train[1]:.3f}"
    if val is not None:
        history.val_loss.append(val[0])
        shown["val_loss"] = f"{val[0]:.4g}"
        if val[1] is not None:
            history.val_accuracy.append(val[1])
            shown["val_acc"] = f"{val[1]:.3f}"
    if bar is not None:
        bar.set_postfix(shown, refresh=False)


def _train(plan: _Plan) -> History:
    """The loop: epochs of batches, validation, early stopping; Ctrl-C ends it cleanly."""
    history = History()
    watch = _Watch(plan)
    rng = random.Random(plan.seed)
    order = list(range(len(plan.rows)))
    was_training = getattr(plan.model, "training", None)
    bar = _tqdm()(total=plan.epochs * plan.batches, desc=f"epoch 1/{plan.epochs}",
                  unit="batch") if plan.progress else None
    at = _Position()
    with _CtrlC() as ctrl_c:
        try:
            for epoch in range(1, plan.epochs + 1):
                at.epoch, at.done = epoch, 0
                if bar is not None:
                    bar.set_description(f"epoch {epoch}/{plan.epochs}", refresh=False)
                train = _one_epoch(plan, epoch, order, rng, ctrl_c, bar, at)
                ctrl_c.allow()  # evaluating moves no weight
                val = None if plan.validation is None else _validate(plan, plan.validation)
                ctrl_c.hold()
                _record(history, train, val, bar)
                if watch.stop(history, epoch):
                    history.stopped_early = True
                    if bar is not None:
                        bar.set_description(f"fit stopped early (best epoch "
                                            f"{history.best_epoch})")
                    break
            ctrl_c.boundary()  # a Ctrl-C held during the last bookkeeping counts too
        except KeyboardInterrupt:
            history.interrupted = True
        finally:
            if bar is not None:
                bar.close()
            if hasattr(plan.model, "eval") and was_training is False:
                plan.model.eval()
        restored = watch.restore()  # the best weights (early stopping; after Ctrl-C too)
        if ctrl_c.pending is not None:
            history.interrupted = True
    if history.interrupted:
        n = history.epochs
        line = (f"fit interrupted (Ctrl-C) in epoch {at.epoch} after {at.done} of "
                f"{plan.batches} batches: returning the History of {n} finished epoch"
                f"{'s' if n != 1 else ''}")
        if restored:
            line += f", with the weights of the best epoch ({history.best_epoch}) restored"
        print(line)
    return history


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
    grad_norms: bool = False,
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
            ``SGD(model.parameters(), lr=0.1)``. It must hold this model's
            parameters (all or some of them).
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
        progress: show a progress bar (tqdm; a widget in notebooks) that moves
            once per batch, with the epoch, loss and accuracy. False: print
            nothing (but the one line after a Ctrl-C).
        metrics: ``["accuracy"]`` to measure accuracy (an error if the targets
            are not class labels), ``[]`` for none; None (default) measures it
            when the targets are class labels (see ``accuracy`` for the rule).
        compiled: replay a recorded tape over each batch instead of building one
            graph per sample (``engine.tape``: the same results to 1e-12, much
            faster); needs NumPy, and a model whose graph is the same for every
            sample (dropout is refused with a ValueError).
        grad_norms: record each layer's gradient norm per epoch in
            ``History.grad_norms`` (needs ``model.layers``, as ``nn.MLP`` has).

    Returns:
        The ``History`` of per-epoch losses and accuracies.

    Ctrl-C (KeyboardInterrupt) ends training cleanly at a batch boundary: the
    batch under way finishes, step included (a second Ctrl-C during its
    forward or backward pass drops it instead, before any weight moved). fit
    then restores the best weights (with early stopping, once an epoch has
    finished), prints one line saying so, and returns the History of the finished epochs with
    ``interrupted=True``. (A KeyboardInterrupt raised by your own code, say a
    loss function, ends training the same way, at once; Ctrl-C itself never
    lands inside ``optimizer.step()``.)

    CPython's cyclic garbage collector is paused while fit runs
    (``engine.gc_paused``) and switched back on however fit ends: the graphs it
    builds hold no cycles, and the collector's walks over them cost more than
    the training itself on big batches.

    Raises:
        RuntimeError: fit was called inside ``no_grad()``. fit refuses rather
            than train nothing (it evaluates without a graph by itself).
        ValueError: the optimizer holds none of the model's parameters, or
            parameters the model does not have (it names them); or a bad argument.
        FloatingPointError: before a step, the loss or a gradient is NaN or
            infinite: the message names the epoch, the batch, the first
            parameters affected and the likely cause (e.g. an infinite input);
            the weights are those before that batch's step.
    """
    plan = _plan(model, X, y, loss, optimizer, epochs, batch_size, shuffle, seed,
                 validation, early_stopping, l2, progress, metrics, compiled, grad_norms)
    with gc_paused():  # Value graphs hold no cycles: see engine.gc_paused
        return _train(plan)

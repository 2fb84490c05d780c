"""``fit(compiled=True)``: the training step replayed from a recorded ``engine.tape.Tape``.

The tape (``engine/tape.py``) replays any recorded graph over a batch and knows
nothing of models, losses or dropout. This file is the part that does: it
records a model's graph for one sample (``record``), refuses models whose graph
changes from sample to sample (dropout in training), and builds the training
step that ``nn.fit`` calls (``fit_step``), with the same contract as the plain
step: ``step(xs, targets) -> (data_loss, total_loss, outputs)``, leaving the
batch's gradient in every parameter's ``.grad``.

Needs NumPy (``pip install 'chainrule[numpy]'``), as the tape does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine import Value
from engine.tape import Tape, np

from .layers import Dropout
from .losses import l2_penalty

__all__ = ["fit_step", "record"]



def fit_step(model: Any, loss_fn: Callable, params: list[Value], l2: float = 0.0):
    """The training step of ``nn.fit(..., compiled=True)``.

    Returns ``step(xs, targets) -> (data_loss, total_loss, outputs)`` like the
    plain step: it leaves the batch's gradient in every ``p.grad``. The model's
    graph is recorded once (on the first batch) and replayed over each batch; the
    loss is then built by the same loss function, on leaves holding the model's
    outputs, so every loss and reduction behaves exactly as in the plain step,
    and ``loss.backward()`` gives d(loss)/d(output) for every sample, from which
    the tape's backward carries the gradient into the parameters.
    """
    penalty = None
    if l2:  # the same l2_penalty graph as the plain step, recorded once: it has no inputs
        penalty = Tape(l2_penalty(params, lam=l2), inputs=[], parameters=params)
    _check_replayable(model)
    tape: Tape | None = None

    def step(xs: list, targets: list):
        nonlocal tape
        try:
            X = np.asarray(xs, dtype=np.float64)
        except (ValueError, TypeError) as error:  # ragged rows, or not numbers
            raise type(error)(
                f"fit(compiled=True) needs every sample to be a list of numbers of the "
                f"same length (the model's inputs): {error}"
            ) from None
        if X.ndim != 2:
            raise ValueError(f"fit(compiled=True) needs every sample to be a list of "
                             f"numbers of the same length; got an array of shape {X.shape}")
        if tape is None:
            tape = record(model, X.shape[1], params)
        outputs = tape.forward(X)
        rows = [[Value(v) for v in row] for row in outputs.tolist()]
        data_loss = loss_fn(rows, targets)
        if not isinstance(data_loss, Value):
            raise TypeError(f"fit: the loss function returned {type(data_loss).__name__} "
                            f"{data_loss!r}, not a Value; build it from the outputs' Values")
        data_loss.backward()  # d(loss)/d(output), for every sample
        tape.backward([[v.grad for v in row] for row in rows])
        total = data_loss.data
        if penalty is not None:
            total += float(penalty.forward(_NO_INPUTS)[0, 0])
            penalty.backward()
        return data_loss.data, total, outputs.tolist()

    return step


_NO_INPUTS = np.zeros((1, 0))  # one "sample" for a tape without placeholders


def record(model: Any, nin: int, parameters: Sequence[Value] | None = None) -> Tape:
    """Record ``model`` (called on ``nin`` placeholder inputs ``x1..xn``) as a Tape."""
    xs = [Value(0.0, label=f"x{j}") for j in range(1, nin + 1)]
    outputs = model(xs)
    if isinstance(outputs, Value):
        outputs = [outputs]
    tape = Tape(outputs, xs, parameters)
    # A dropout the module tree does not list (a custom module that forgot it in
    # children()) still left its mark: the nodes it made carry it in their scope.
    seen: set[int] = set()
    for node in tape.nodes:
        if id(node.scope) not in seen:
            seen.add(id(node.scope))
            for owner in node.scope:
                _refuse_dropout(owner)
    return tape


def _check_replayable(model: Any) -> None:
    """Refuse models whose graph changes from sample to sample (dropout in training)."""
    stack = [model]
    while stack:
        module = stack.pop()
        _refuse_dropout(module)
        children = getattr(module, "children", None)
        if callable(children):
            stack.extend(children())


def _refuse_dropout(module: Any) -> None:
    if isinstance(module, Dropout) and module.p > 0:
        raise ValueError(
            "fit(compiled=True) replays one recorded graph, but dropout draws a new "
            "mask for every sample; train this model with compiled=False, or without "
            "dropout"
        )

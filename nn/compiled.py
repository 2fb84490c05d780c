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
from operator import attrgetter
from typing import Any

from engine import Value
from engine.tape import Tape, np

from .layers import Dropout
from .losses import (
    BCE_GRAD_EPS,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    logistic_loss,
    mse_loss,
)

__all__ = ["fit_step", "record"]


def fit_step(model: Any, loss_fn: Callable, params: list[Value], l2: float = 0.0,
             fuse: bool = True) -> Callable:
    """The training step of ``nn.fit(..., compiled=True)``.

    Returns ``step(xs, targets) -> (data_loss, total_loss, outputs)`` like the
    plain step: it leaves the batch's gradient in every ``p.grad``. The model's
    graph is recorded once (on the first batch) and replayed over each batch, its
    layers fused into matrix products (``engine.tape``). The loss:

    * a loss of ``nn.losses`` (with its default ``reduction="mean"``) is computed
      over the whole batch with NumPy, by the same formulas as its graph (the same
      stable branches), value and d(loss)/d(output) (``_BATCH_LOSSES``); a batch
      that reaches a branch these forms do not cover (a saturated probability, an
      infinite output, a target the loss refuses) takes the path below, which
      gives the loss's own result or error;
    * any other loss function is built as a graph, by the function itself, on
      plain leaves holding the model's outputs, and its ``backward()`` gives
      d(loss)/d(output) for every sample.

    The tape's backward then carries that gradient into the parameters. The l2
    penalty ``lam / 2 * sum(p^2)`` is computed the same two ways. With
    ``fuse=False`` every part runs as a graph, node by node: the reference the
    fused step is tested against.
    """
    penalty = None
    if l2 and not fuse:  # the same l2_penalty graph as the plain step, recorded once
        penalty = Tape(l2_penalty(params, lam=l2), inputs=[], parameters=params, fuse=False)
    half = float(l2) / 2
    batch_loss = _BATCH_LOSSES.get(loss_fn) if fuse else None
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
            tape = record(model, X.shape[1], params, fuse=fuse)
        outputs = tape.forward(X)
        fast = None if batch_loss is None else batch_loss(outputs, targets)
        if fast is not None:
            data, grad_outputs = fast
        else:
            rows = [[Value(v) for v in row] for row in outputs.tolist()]
            data_loss = loss_fn(rows, targets)
            if not isinstance(data_loss, Value):
                raise TypeError(f"fit: the loss function returned "
                                f"{type(data_loss).__name__} {data_loss!r}, not a Value; "
                                "build it from the outputs' Values")
            data_loss.backward()  # d(loss)/d(output), for every sample
            data, grad_outputs = data_loss.data, [[v.grad for v in row] for row in rows]
        tape.backward(grad_outputs)
        total = data
        if penalty is not None:
            total += float(penalty.forward(_NO_INPUTS)[0, 0])
            penalty.backward()
        elif l2:
            total += _l2_penalty(params, half)
        return data, total, outputs.tolist()

    return step


def _l2_penalty(params: list[Value], half: float) -> float:
    """``l2_penalty(params, lam)``'s value, its gradient ``(2 p) * (lam / 2)`` added to
    every ``p.grad``: the same float operations as its graph, without the nodes."""
    p = np.fromiter(map(_DATA, params), np.float64, len(params))
    value = sum((p * p).tolist()) * half  # p ** 2, summed left to right, as value_sum does
    for param, g in zip(params, ((2.0 * p) * half).tolist()):
        param.grad += g
    return value


_DATA = attrgetter("data")


# --- the losses of nn.losses over a whole batch --------------------------------------
# Each takes the outputs (samples x outputs) and the targets, and returns (loss, d loss /
# d outputs), by the formulas of the loss's graph, or None where the batch needs the
# graph itself: an output or target it would refuse or treat by another branch.


def _elementwise(outputs: Any, targets: Any) -> Any:
    """The targets as an array shaped like the outputs, or None if they do not match."""
    if not isinstance(targets, (list, tuple)) or len(targets) != len(outputs):
        return None
    try:
        T = np.asarray(targets)
    except (ValueError, TypeError):
        return None
    if T.dtype.kind not in "fiu" or not np.isfinite(outputs).all():
        return None
    T = T.astype(np.float64)
    if T.ndim == 1 and outputs.shape[1] == 1:
        T = T[:, None]
    if T.shape != outputs.shape or not np.isfinite(T).all():
        return None
    return T


def _mean(terms: Any, grads: Any) -> tuple[float, Any]:
    """What ``_reduce(..., "mean")`` makes of the terms: their sum left to right over
    their count (no division for one term), each term's gradient times 1 / count."""
    count = terms.size
    total = sum(terms.ravel().tolist())
    if count == 1:
        return total, grads
    return total / count, grads * (1.0 / count)


def _mse(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    T = _elementwise(outputs, targets)
    if T is None:
        return None
    diff = outputs - T
    return _mean(diff * diff, 2.0 * diff)  # (o - t) ** 2, and its slope 2 (o - t)


def _hinge(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    T = _elementwise(outputs, targets)
    if T is None or not ((T == 1.0) | (T == -1.0)).all():
        return None
    margin = 1.0 - outputs * T
    active = margin > 0.0
    # relu(1 - s y): slope -y where the margin is positive, 0 elsewhere (0 at 0)
    return _mean(np.where(active, margin, 0.0), np.where(active, -T, 0.0))


def _softplus(x: Any) -> tuple[Any, Any]:
    """nn.functional.softplus, both branches: its value, and its slope sigmoid(x)."""
    e = np.exp(-np.abs(x))  # exp(-x) where x >= 0, exp(x) where x < 0
    u = e + 1.0
    value = np.where(x >= 0.0, x + np.log(u), np.log(u))
    slope = np.where(x >= 0.0, 1.0 - e / u, e / u)
    return value, slope


def _logistic(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    T = _elementwise(outputs, targets)
    if T is None or not ((T == 1.0) | (T == -1.0)).all():
        return None
    value, slope = _softplus(outputs * -T)
    return _mean(value, slope * -T)


def _bce_with_logits(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    T = _elementwise(outputs, targets)
    if T is None or not ((T >= 0.0) & (T <= 1.0)).all():
        return None
    value, slope = _softplus(outputs)
    return _mean(value - outputs * T, slope - T)  # softplus(z) - z y


def _bce(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    T = _elementwise(outputs, targets)
    if T is None or not ((T >= 0.0) & (T <= 1.0)).all():
        return None
    p = outputs
    if not ((p >= 0.0) & (p <= 1.0)).all() or not (p * (1.0 - p) >= BCE_GRAD_EPS).all():
        return None  # a refused or saturated probability: the loss's own branch
    q = 1.0 - p
    value = -(np.log(p) * T + np.log(q) * (1.0 - T))
    value = np.where(T == 1.0, -np.log(p), np.where(T == 0.0, -np.log(q), value))
    return _mean(value, (1.0 - T) / q - T / p)


def _cross_entropy(outputs: Any, targets: Any) -> tuple[float, Any] | None:
    if not isinstance(targets, (list, tuple)) or len(targets) != len(outputs):
        return None
    try:
        C = np.asarray(targets)
    except (ValueError, TypeError):
        return None
    if C.ndim != 1 or C.dtype.kind not in "iuf" or not np.isfinite(outputs).all():
        return None
    if C.dtype.kind == "f":
        if not (np.isfinite(C).all() and (C == np.round(C)).all()):
            return None
        C = C.astype(np.int64)
    if not ((C >= 0) & (C < outputs.shape[1])).all():
        return None
    rows = np.arange(len(C))
    m = outputs.max(axis=1, keepdims=True)
    e = np.exp(outputs - m)  # logsumexp(z) - z[c], shifted by each row's max
    s = e.sum(axis=1, keepdims=True)
    terms = np.log(s[:, 0]) + m[:, 0] - outputs[rows, C]
    grads = e * (1.0 / s)  # softmax
    grads[rows, C] -= 1.0
    return _mean(terms, grads)


_BATCH_LOSSES: dict[Callable, Callable[[Any, Any], tuple[float, Any] | None]] = {
    mse_loss: _mse,
    hinge_loss: _hinge,
    logistic_loss: _logistic,
    binary_cross_entropy: _bce,
    binary_cross_entropy_with_logits: _bce_with_logits,
    cross_entropy: _cross_entropy,
}


_NO_INPUTS = np.zeros((1, 0))  # one "sample" for a tape without placeholders


def record(model: Any, nin: int, parameters: Sequence[Value] | None = None,
           fuse: bool = True) -> Tape:
    """Record ``model`` (called on ``nin`` placeholder inputs ``x1..xn``) as a Tape
    (its layers fused into matrix products unless ``fuse=False``)."""
    xs = [Value(0.0, label=f"x{j}") for j in range(1, nin + 1)]
    outputs = model(xs)
    if isinstance(outputs, Value):
        outputs = [outputs]
    tape = Tape(outputs, xs, parameters, fuse=fuse)
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

"""Loss functions: how wrong the outputs are, as one Value to call ``backward()`` on.

Every loss takes ``(output, target, reduction="mean")``:

* ``output`` is a Value, one sample's list of Values (what a model returns),
  or a batch: a list of such lists;
* ``target`` has the same shape, with numbers; a one-element output list
  matches a plain number, so ``mse_loss(model(x), 1.0)`` and
  ``mse_loss([model(x) for x in X], ys)`` both work;
* ``reduction="mean"`` (default) averages over every output number, as
  PyTorch does; ``"sum"`` adds them (both return one Value); ``"none"``
  returns the list of terms (a ``list[Value]``; the overloads say so to mypy).

``cross_entropy(logits, class_index)`` takes one sample's logits and an int,
or a batch of logit lists and a list of ints, and averages over samples.

Built from engine ops only: the gradients come from the graph. Where a naive
formula would overflow or take ``log(0)``, the stable form is used (noted in
each docstring); the value and the gradient are those of the exact formula.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Sequence
from numbers import Integral, Real
from typing import Any, Literal, overload

from engine import Value

from .functional import logsumexp, softplus, value_sum

__all__ = [
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "logistic_loss",
    "l2_penalty",
    "LOSSES",
]

#: ``binary_cross_entropy`` clamps each log at this value, as PyTorch does.
LOG_CLAMP = -100.0
_CLAMP_BELOW = math.exp(LOG_CLAMP)
#: Where PyTorch's BCELoss gradient stops being exact: it divides by
#: max(p (1 - p), 1e-12), with 1e-12 rounded to a float32 (9.99999996e-13).
BCE_GRAD_EPS: float = struct.unpack("f", struct.pack("f", 1e-12))[0]

Output = Value | Sequence[Any]
Target = float | Sequence[Any]
Reduced = Literal["mean", "sum"]


# --- shapes -------------------------------------------------------------------------


def _is_number(t: Any) -> bool:
    if isinstance(t, bool):
        return False
    if isinstance(t, Real):
        return True
    dtype = getattr(t, "dtype", None)  # a 0-d numpy array
    return getattr(t, "ndim", None) == 0 and getattr(dtype, "kind", "") in "fiu"


def _is_list(x: Any) -> bool:
    # a 0-d numpy array has __iter__ but is one number (iterating it raises)
    return (hasattr(x, "__iter__") and not isinstance(x, (str, bytes, Value))
            and getattr(x, "ndim", None) != 0)


def _pairs(output: Any, target: Any, where: str) -> list[tuple[Value, float]]:
    """Match outputs with targets, element by element: ``[(Value, number), ...]``."""
    out: list[tuple[Value, float]] = []
    _match(output, target, "", where, out)
    if not out:
        raise ValueError(f"{where}: the output is empty")
    return out


def _match(o: Any, t: Any, at: str, where: str, out: list) -> None:
    here = f" at {at}" if at else ""
    if isinstance(o, Value):
        if _is_list(t):
            t = list(t)
            if len(t) != 1:
                raise ValueError(f"{where}: one output Value{here} but {len(t)} targets")
            t = t[0]
        if isinstance(t, Value):
            raise TypeError(f"{where}: the target{here} is a Value; targets are numbers "
                            "(use .data if you mean its number)")
        if not _is_number(t):
            raise TypeError(f"{where}: the target{here} must be a number, got "
                            f"{type(t).__name__} {t!r}")
        out.append((o, float(t)))
    elif _is_list(o):
        o = list(o)
        if _is_number(t):
            if len(o) != 1:
                raise ValueError(
                    f"{where}: the output{here} has {len(o)} values but the target is one "
                    f"number ({t!r}); give one target per output"
                )
            _match(o[0], t, at, where, out)
            return
        if not _is_list(t):
            raise TypeError(f"{where}: the target{here} must be a number or a list of numbers, "
                            f"got {type(t).__name__} {t!r}")
        t = list(t)
        if len(o) != len(t):
            raise ValueError(f"{where}: the output{here} has {len(o)} entries but the target "
                             f"has {len(t)}; they must match")
        for k, (oi, ti) in enumerate(zip(o, t)):
            _match(oi, ti, f"{at}[{k}]", where, out)
    else:
        raise TypeError(
            f"{where}: the output{here} must be a Value or a list of Values (a model's "
            f"output), got {type(o).__name__} {o!r}"
        )


def _reduce(terms: list[Value], reduction: str, where: str) -> Any:
    # Value for "mean" and "sum", list[Value] for "none": each loss's overloads say which
    if reduction == "mean":
        total = value_sum(terms)
        return total if len(terms) == 1 else total / len(terms)
    if reduction == "sum":
        return value_sum(terms)
    if reduction == "none":
        return terms
    raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


# --- regression ----------------------------------------------------------------------


@overload
def mse_loss(output: Output, target: Target, reduction: Reduced = ...) -> Value: ...
@overload
def mse_loss(output: Output, target: Target, reduction: Literal["none"]) -> list[Value]: ...
def mse_loss(output: Output, target: Target, reduction: str = "mean") -> Value | list[Value]:
    """Mean squared error: mean of ``(output - target)^2``.

    >>> from engine import Value
    >>> mse_loss([Value(3.0)], 1.0).data
    4.0
    """
    pairs = _pairs(output, target, "mse_loss")
    return _reduce([(o - t) ** 2 for o, t in pairs], reduction, "mse_loss")


# --- binary classification, targets in [0, 1] ------------------------------------


def _clamped_log(p: Value) -> Value:
    # log(p), but at least LOG_CLAMP: below it, a constant (whose gradient is 0,
    # the derivative of max(log p, -100) there); so log(0) never happens.
    return p.log() if p.data > _CLAMP_BELOW else Value(LOG_CLAMP, label="log clamp")


def _clamped_log_of(x: float) -> float:
    return max(math.log(x), LOG_CLAMP) if x > 0 else LOG_CLAMP


def _check_probability(value: float, what: str, where: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {what} must be in [0, 1], got {value!r}")


def _bce_term(p: Value, y: float) -> Value:
    """One sample's ``-(y log p + (1 - y) log(1 - p))``, with PyTorch's value and slope."""
    q = p.data
    if q * (1.0 - q) < BCE_GRAD_EPS:
        # Saturated (p within ~1e-12 of 0 or 1): PyTorch's slope (p - y) / 1e-12, not
        # the exact -y/p + (1 - y)/(1 - p), which is huge or infinite here. The node is
        # the straight line through the loss value with that slope: (p - q) is 0.
        value = -(y * _clamped_log_of(q) + (1.0 - y) * _clamped_log_of(1.0 - q))
        return (p - q) * ((q - y) / BCE_GRAD_EPS) + value
    if y == 1.0:
        return -_clamped_log(p)
    if y == 0.0:
        return -_clamped_log(1 - p)
    return -(_clamped_log(p) * y + _clamped_log(1 - p) * (1 - y))


@overload
def binary_cross_entropy(output: Output, target: Target, reduction: Reduced = ...) -> Value: ...
@overload
def binary_cross_entropy(output: Output, target: Target,
                         reduction: Literal["none"]) -> list[Value]: ...
def binary_cross_entropy(output: Output, target: Target,
                         reduction: str = "mean") -> Value | list[Value]:
    """``-(y log p + (1 - y) log(1 - p))`` for probabilities ``p`` (e.g. sigmoid outputs).

    As ``torch.nn.BCELoss``, value and gradient: each log is clamped at -100, so
    ``p = 0`` or ``p = 1`` gives a large finite loss instead of ``log(0)``; the
    gradient is the exact ``(p - y) / (p (1 - p))`` wherever ``p (1 - p) >= 1e-12``
    and ``(p - y) / 1e-12`` nearer saturation (``BCE_GRAD_EPS``; at ``p = 0, y = 1``
    that is -1.0e12; at ``p = 0, y = 0`` it is 0). A saturated term is drawn as
    ``(p - p.data) * slope + loss``. For raw scores use the more stable
    ``binary_cross_entropy_with_logits``. Terms whose weight is 0 (y = 0 or
    y = 1) are left out of the graph.
    """
    where = "binary_cross_entropy"
    terms = []
    for p, y in _pairs(output, target, where):
        _check_probability(p.data, "each output (a probability; use a sigmoid output layer "
                           "or binary_cross_entropy_with_logits)", where)
        _check_probability(y, "each target", where)
        terms.append(_bce_term(p, y))
    return _reduce(terms, reduction, where)


@overload
def binary_cross_entropy_with_logits(output: Output, target: Target, reduction: Reduced = ...) -> Value: ...
@overload
def binary_cross_entropy_with_logits(output: Output, target: Target, reduction: Literal["none"]) -> list[Value]: ...
def binary_cross_entropy_with_logits(output: Output, target: Target,
                                     reduction: str = "mean") -> Value | list[Value]:
    """``binary_cross_entropy(sigmoid(z), y)`` computed from the score ``z`` directly.

    Uses ``softplus(z) - y z`` (equal to it), with a stable ``softplus``: no
    overflow for any z, and the gradient is ``sigmoid(z) - y`` everywhere.
    """
    where = "binary_cross_entropy_with_logits"
    terms = []
    for z, y in _pairs(output, target, where):
        _check_probability(y, "each target", where)
        terms.append(softplus(z) if y == 0.0 else softplus(z) - z * y)
    return _reduce(terms, reduction, where)


# --- margin losses, labels in {-1, +1} -----------------------------------------------


def _check_sign_label(y: float, where: str) -> None:
    if y not in (-1.0, 1.0):
        raise ValueError(
            f"{where} needs labels in {{-1, +1}}, got {y!r}; convert 0/1 labels with "
            "y = 2 * y - 1"
        )


@overload
def hinge_loss(output: Output, target: Target, reduction: Reduced = ...) -> Value: ...
@overload
def hinge_loss(output: Output, target: Target, reduction: Literal["none"]) -> list[Value]: ...
def hinge_loss(output: Output, target: Target, reduction: str = "mean") -> Value | list[Value]:
    """``max(0, 1 - y s)`` for scores ``s`` and labels ``y`` in {-1, +1} (the SVM loss).

    Written as ``relu(1 - y s)``: at exactly ``y s = 1`` its gradient is 0.
    """
    where = "hinge_loss"
    terms = []
    for s, y in _pairs(output, target, where):
        _check_sign_label(y, where)
        terms.append((1 - s * y).relu())
    return _reduce(terms, reduction, where)


@overload
def logistic_loss(output: Output, target: Target, reduction: Reduced = ...) -> Value: ...
@overload
def logistic_loss(output: Output, target: Target, reduction: Literal["none"]) -> list[Value]: ...
def logistic_loss(output: Output, target: Target, reduction: str = "mean") -> Value | list[Value]:
    """``log(1 + exp(-y s))`` for scores ``s`` and labels ``y`` in {-1, +1}.

    The loss of logistic regression in the lecture notes, as ``torch.nn.SoftMarginLoss``;
    computed as a stable ``softplus(-y s)``.
    """
    where = "logistic_loss"
    terms = []
    for s, y in _pairs(output, target, where):
        _check_sign_label(y, where)
        terms.append(softplus(s * -y))
    return _reduce(terms, reduction, where)


# --- multi-class -------------------------------------------------------------------


def _class_index(c: Any, n: int, where: str) -> int:
    if isinstance(c, bool) or not isinstance(c, Integral):
        if _is_number(c) and float(c).is_integer():
            c = int(c)
        else:
            raise TypeError(f"{where}: a class index must be an int, got {type(c).__name__} {c!r}")
    if not 0 <= c < n:
        raise ValueError(f"{where}: class index {c} is out of range for {n} logits "
                         f"(0 to {n - 1})")
    return int(c)


@overload
def cross_entropy(logits: Sequence[Any], target: Any, reduction: Reduced = ...) -> Value: ...
@overload
def cross_entropy(logits: Sequence[Any], target: Any, reduction: Literal["none"]) -> list[Value]: ...
def cross_entropy(logits: Sequence[Any], target: Any,
                  reduction: str = "mean") -> Value | list[Value]:
    """``-log softmax(logits)[c]`` for the true class ``c`` (an int, 0-based).

    One sample: ``cross_entropy([z1, z2, z3], 2)``; a batch:
    ``cross_entropy([[...], [...]], [2, 0])`` (averaged over samples). Computed
    as ``logsumexp(logits) - logits[c]``, stable for any logits, like
    ``torch.nn.functional.cross_entropy``.
    """
    where = "cross_entropy"
    if not _is_list(logits):
        raise TypeError(f"{where}: logits must be a list of Values (one per class), "
                        f"got {type(logits).__name__}")
    logits = list(logits)
    if not logits:
        raise ValueError(f"{where}: the logits are empty")
    if all(_is_list(row) for row in logits):  # a batch
        if not _is_list(target):
            raise TypeError(f"{where}: a batch of {len(logits)} samples needs a list of "
                            f"{len(logits)} class indices, got {target!r}")
        target = list(target)
        if len(target) != len(logits):
            raise ValueError(f"{where}: {len(logits)} samples but {len(target)} class indices")
        rows = [list(row) for row in logits]
    else:
        rows, target = [logits], [target]
    terms = []
    for row, c in zip(rows, target):
        if not all(isinstance(z, Value) for z in row):
            raise TypeError(f"{where}: logits must be Values (a model's outputs), got {row!r}")
        c = _class_index(c, len(row), where)
        terms.append(logsumexp(row) - row[c])
    return _reduce(terms, reduction, where)


# --- regularisation ---------------------------------------------------------------


def l2_penalty(parameters: Iterable[Value] | Any, lam: float = 1.0) -> Value:
    """``lam / 2 * sum(p^2)`` over the parameters (a list of Values, or a module).

    Add it to the data loss: its gradient ``lam * p`` pulls every weight toward
    0 (weight decay). The 1/2 makes that gradient ``lam * p`` rather than
    ``2 lam p``; PyTorch's ``weight_decay=lam`` in SGD adds the same ``lam * p``.
    Note it includes biases if you pass them (``model.parameters()`` does).
    """
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        parameters = parameters.parameters()
    if isinstance(parameters, (Value, str, bytes)) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"l2_penalty: parameters must be a list of Values or a module "
                        f"(e.g. model.parameters()), got {type(parameters).__name__} "
                        f"{parameters!r}")
    params = list(parameters)
    for k, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty needs Values (e.g. model.parameters()): parameter "
                            f"{k} is {type(p).__name__} {p!r}")
    if isinstance(lam, bool) or not isinstance(lam, Real):
        raise TypeError(f"l2_penalty: lam must be a number >= 0, got {type(lam).__name__} "
                        f"{lam!r}")
    if not lam >= 0 or not math.isfinite(lam):
        raise ValueError(f"l2_penalty: lam must be a finite number >= 0, got {lam!r}")
    if not params:
        return Value(0.0)
    return value_sum([p ** 2 for p in params]) * (float(lam) / 2)


#: Short names for ``fit(loss=...)`` and ``layer_view(loss=...)``.
LOSSES: dict[str, Callable[..., Value]] = {
    "mse": mse_loss,
    "bce": binary_cross_entropy,
    "bce_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy,
    "hinge": hinge_loss,
    "logistic": logistic_loss,
}

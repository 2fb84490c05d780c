"""What stops an MLP from learning, layer by layer: ``diagnose(model, X, y)``.

Three things the lecture notes warn about, measured on the samples you give:

* **dead ReLUs**: a ReLU unit whose input z is <= 0 on every sample outputs 0
  and passes back no gradient (ReLU'(z) = 0 there, also at z = 0, as in PyTorch):
  its weights never move again;
* **saturated units**: a tanh unit with |a| > 0.99, or a sigmoid unit with a < 0.01
  or a > 0.99, has a derivative below 0.02 (tanh) or 0.01 (sigmoid), so almost
  no gradient flows back through it;
* **vanishing (or exploding) gradients**: the norm of each layer's weight gradient,
  from one backward pass of the loss over the samples. When the first layer's norm
  is a tiny fraction of the last one's, the early layers barely learn.

>>> from nn import MLP, diagnose
>>> model = MLP(2, [4, 1], activation="relu", seed=0)
>>> report = diagnose(model, [[0.5, -1.0], [1.0, 2.0]], [1.0, 0.0], loss="mse")
>>> [row.units for row in report]
[4, 1]
>>> report.layers[0].activation
'relu'

The model's weights and gradients are left exactly as they were.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine import Value, gc_paused
from engine.teach.notation import number
from engine.teach.tables import html_table, text_table

from .layers import MLP

__all__ = ["diagnose", "Diagnosis", "LayerDiagnosis", "TANH_SATURATED", "SIGMOID_SATURATED"]

#: |a| above this counts as a saturated tanh unit (tanh' = 1 - a^2 < 0.0199).
TANH_SATURATED = 0.99
#: a below 1 - this or above this counts as a saturated sigmoid unit
#: (sigmoid' = a (1 - a) < 0.0099).
SIGMOID_SATURATED = 0.99
#: A first layer whose weight-gradient norm is below this fraction of the last
#: layer's is reported as a vanishing gradient (above its inverse: exploding).
VANISHING_RATIO = 1e-2


@dataclass(frozen=True)
class LayerDiagnosis:
    """One layer's numbers.

    Attributes:
        index: 1-based layer number (the first hidden layer is 1).
        name: the layer's name, e.g. ``"layer 1"``.
        activation: ``"tanh"``, ``"relu"``, ``"sigmoid"`` or ``"linear"``.
        units: how many neurons.
        dead: the 1-based indices of ReLU units whose z <= 0 on every sample.
        saturated: the fraction of (unit, sample) pairs in the saturated range
            (0 for relu and linear layers).
        saturated_units: units saturated on every sample (1-based).
        mean_abs_activation: the mean |a| over units and samples.
        weight_grad_norm: sqrt of the sum of the squared weight gradients.
        bias_grad_norm: the same for the biases (0 without biases).
    """

    index: int
    name: str
    activation: str
    units: int
    dead: tuple[int, ...]
    saturated: float
    saturated_units: tuple[int, ...]
    mean_abs_activation: float
    weight_grad_norm: float
    bias_grad_norm: float


@dataclass(frozen=True)
class Diagnosis(Sequence):
    """The per-layer report of ``diagnose``; a sequence of ``LayerDiagnosis``.

    ``.warnings`` says in words what looks wrong (an empty list when nothing
    does); ``print(report)`` shows the table then the warnings; in Jupyter it
    displays as an HTML table.
    """

    layers: tuple[LayerDiagnosis, ...]
    samples: int
    loss: float
    warnings: tuple[str, ...] = field(default=())

    HEADERS = ("layer", "activation", "units", "dead", "saturated", "mean |a|",
               "|dL/dW|", "|dL/db|")
    RIGHT = (False, False, True, True, True, True, True, True)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):  # int or slice, as for a tuple
        return self.layers[index]

    def __iter__(self) -> Iterator[LayerDiagnosis]:
        return iter(self.layers)

    @property
    def ok(self) -> bool:
        """True when there is no warning."""
        return not self.warnings

    def rows(self) -> list[list[str]]:
        """The table's cells as strings, one row per layer (see ``HEADERS``)."""
        return [[row.name, row.activation, str(row.units),
                 str(len(row.dead)) if row.activation == "relu" else "-",
                 f"{row.saturated:.0%}" if row.activation in ("tanh", "sigmoid") else "-",
                 number(row.mean_abs_activation), number(row.weight_grad_norm),
                 number(row.bias_grad_norm)] for row in self.layers]

    def text(self) -> str:
        """The table, then one line per warning (or "no problem found")."""
        head = (f"diagnose: {self.samples} sample{'s' if self.samples != 1 else ''}, "
                f"loss {number(self.loss)}")
        table = text_table(self.HEADERS, self.rows(), self.RIGHT)
        said = [f"- {w}" for w in self.warnings] or ["- no dead, saturated or vanishing "
                                                      "units found"]
        return "\n".join([head, table, *said])

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (f"Diagnosis({len(self.layers)} layers, {self.samples} samples, "
                f"{len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''})")

    def _repr_html_(self) -> str:
        table = html_table(self.HEADERS, self.rows(), self.RIGHT,
                           caption=f"diagnose: {self.samples} samples, loss "
                                   f"{number(self.loss)}")
        items = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return table + (f"<ul>{items}</ul>" if items else "<p>No dead, saturated or "
                        "vanishing units found.</p>")


def _loss_function(loss: str | Callable) -> Callable:
    from .train import _loss_function as resolve

    return resolve(loss)


def _norm(values: Sequence[float]) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


def diagnose(model: MLP, X: Any, y: Any, loss: str | Callable = "mse") -> Diagnosis:
    """Dead ReLUs, saturated tanh/sigmoid units and per-layer gradient norms.

    Args:
        model: an ``nn.MLP`` (its ``layers`` are read; dropout is switched off by
            running it in ``eval()`` mode, and put back as it was).
        X: the samples (a list of lists, or a numpy array), e.g. the training set.
        y: their targets, as ``fit`` takes them.
        loss: as for ``fit``: a name (``"mse"``, ``"bce"``, ...) or
            ``loss(outputs, targets) -> Value``.

    Returns:
        A ``Diagnosis`` with one ``LayerDiagnosis`` per layer and its warnings.

    Raises:
        TypeError: ``model`` is not an ``nn.MLP``, or the loss is not a Value.
        ValueError: no samples, or as many targets as samples is not given.
    """
    from .train import _rows, _targets

    if not isinstance(model, MLP):
        raise TypeError(f"diagnose: model must be an nn.MLP (it reads its layers), got "
                        f"{type(model).__name__}; for other models, read layer_outputs "
                        "yourself")
    rows = _rows(X, "diagnose: X")
    targets = _targets(y, len(rows), "diagnose: y")
    loss_fn = _loss_function(loss)
    params = model.parameters()
    saved = [p.grad for p in params]
    was_training = model.training
    model.eval()
    try:
        with gc_paused():
            per_sample = [model.layer_outputs(x) for x in rows]
            outputs = [outs[-1] for outs in per_sample]
            total = loss_fn(outputs, targets)
            if not isinstance(total, Value):
                raise TypeError(f"diagnose: the loss returned {type(total).__name__}, not a "
                                "Value; build it from the outputs' Values")
            for p in params:
                p.grad = 0.0
            total.backward()
            layers = tuple(_layer(k, layer, [outs[k] for outs in per_sample])
                           for k, layer in enumerate(model.layers))
    finally:
        for p, g in zip(params, saved):
            p.grad = g
        if was_training:
            model.train()
    return Diagnosis(layers, len(rows), total.data, tuple(_warnings(layers, len(rows), getattr(model, "init", ""))))


def _layer(k: int, layer: Any, outputs: list[list[Value]]) -> LayerDiagnosis:
    """One layer's numbers; ``outputs[s][u]`` is unit u's activation on sample s."""
    activation = layer.activation
    units = len(layer.neurons)
    values = [[out[u].data for out in outputs] for u in range(units)]  # per unit
    if activation == "relu":
        dead = tuple(u + 1 for u in range(units) if all(a <= 0.0 for a in values[u]))
    else:
        dead = ()
    if activation in ("tanh", "sigmoid"):
        def hot(a: float) -> bool:
            if activation == "tanh":
                return abs(a) > TANH_SATURATED
            return a > SIGMOID_SATURATED or a < 1.0 - SIGMOID_SATURATED

        flags = [[hot(a) for a in unit] for unit in values]
        saturated = sum(map(sum, flags)) / (units * len(outputs))
        saturated_units = tuple(u + 1 for u in range(units) if all(flags[u]))
    else:
        saturated, saturated_units = 0.0, ()
    weights = [w.grad for n in layer.neurons for w in n.w]
    biases = [n.b.grad for n in layer.neurons if getattr(n, "b", None) is not None]
    mean_abs = math.fsum(abs(a) for unit in values for a in unit) / (units * len(outputs))
    name = getattr(layer, "name", "") or f"layer {k + 1}"
    return LayerDiagnosis(k + 1, name, activation, units, dead, saturated, saturated_units,
                          mean_abs, _norm(weights), _norm(biases))


def _warnings(layers: Sequence[LayerDiagnosis], samples: int, init: str = "") -> list[str]:
    said = []
    on = f"on these {samples} samples" if samples != 1 else "on this sample"
    for row in layers:
        if row.dead:
            said.append(f"{row.name}: {len(row.dead)} of {row.units} ReLU units are dead "
                        f"(z <= 0 {on}, so no gradient reaches their weights): units "
                        f"{', '.join(map(str, row.dead))}. Try a smaller learning rate"
                        f"{'' if init == 'he' else ' or init=' + repr('he')}"
                        " (and biases that start at 0).")
        if row.saturated_units:
            said.append(f"{row.name}: {len(row.saturated_units)} of {row.units} {row.activation} "
                        f"units are saturated {on} (derivative near 0): units "
                        f"{', '.join(map(str, row.saturated_units))}. Scale the inputs, use "
                        "init='lecun' (variance 1/nin), or a smaller learning rate.")
        elif row.saturated >= 0.5:
            said.append(f"{row.name}: {row.saturated:.0%} of its {row.activation} outputs are "
                        "saturated (derivative near 0).")
    first, last = layers[0].weight_grad_norm, layers[-1].weight_grad_norm
    if len(layers) > 1 and last > 0.0:
        ratio = first / last
        if ratio < VANISHING_RATIO:
            said.append(f"vanishing gradient: {layers[0].name}'s weight gradient norm is "
                        f"{number(ratio)} times {layers[-1].name}'s; the early layers barely "
                        "learn. Try relu with init='he', or tanh with init='lecun'.")
        elif ratio > 1.0 / VANISHING_RATIO:
            said.append(f"exploding gradient: {layers[0].name}'s weight gradient norm is "
                        f"{number(ratio)} times {layers[-1].name}'s. Try a smaller "
                        "learning rate or smaller initial weights.")
    return said

"""A layer-by-layer view of one backward pass, in the lecture's notation.

The lecture notes (section 2) write an MLP as

    z^l = W^l a^(l-1) + b^l      (FE1)        a^l = f_l(z^l)      (FE2)

and backprop as four equations on the deltas ``dL/dz^l``:

    dL/dz^L = dL/da^L * f_L'(z^L)                  (BE1)
    dL/dz^l = (W^(l+1)^T dL/dz^(l+1)) * f_l'(z^l)   (BE2)
    dL/dW^l = dL/dz^l  (a^(l-1))^T                  (BE3)
    dL/db^l = dL/dz^l                               (BE4)

``layer_view(model, x, y)`` runs one sample forward and backward through the
engine and reads every z, a and delta **from the graph** (each neuron's nodes
and their ``grad`` after ``backward()``), so a notebook can set them beside the
equations. ``LayerView.check()`` then recomputes BE1-BE4 from those numbers and
reports how far the engine's values are from them (rounding only).

Numbering: the notes call the input layer 1, so our layer l (``w<l>.<i>.<j>``)
is their layer l + 1; each record gives both.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine import Value
from engine.teach.notation import current_digits, magnitude, number, visible

from .layers import MLP
from .losses import LOSSES
from .module import _inputs

__all__ = ["layer_view", "LayerView", "LayerRecord", "EquationCheck"]


@dataclass
class LayerRecord:
    """One layer's numbers for one sample (lists indexed by neuron i, then input j).

    ``inputs`` is a^(l-1) (the sample x for the first layer); ``delta`` is
    dL/dz^l; ``dL_dW[i][j]`` and ``dL_db[i]`` are the parameters' gradients.
    """

    layer: int
    activation: str
    inputs: list[float]
    W: list[list[float]]
    b: list[float] | None
    z: list[float]
    a: list[float]
    dL_da: list[float]
    delta: list[float]
    dL_dW: list[list[float]]
    dL_db: list[float] | None

    @property
    def lecture_layer(self) -> int:
        """This layer's number in the notes, which count the input as layer 1."""
        return self.layer + 1

    def table(self, digits: int | None = None) -> str:
        """The layer as a text table: one row per neuron, numbers written as every
        teaching tool writes them (``engine.teach.notation.number``: 4 significant
        digits unless ``digits`` or ``engine.teach.notation.precision`` says otherwise)."""
        head = (f"layer {self.layer} (lecture l = {self.lecture_layer}): "
                f"{visible(self.activation)}, {len(self.inputs)} -> {len(self.z)}")
        cols = ["i", "z", "a", "dL/da", "dL/dz"]
        width = (digits if digits is not None else current_digits()) + 8
        lines = [head, "  " + cols[0].rjust(3) + "".join(c.rjust(width) for c in cols[1:])]
        for i in range(len(self.z)):
            cells = (self.z[i], self.a[i], self.dL_da[i], self.delta[i])
            lines.append("  " + str(i + 1).rjust(3)
                         + "".join(number(v, digits).rjust(width) for v in cells))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"LayerRecord(layer {self.layer}, {self.activation}, "
                f"z={_short(self.z)}, delta={_short(self.delta)})")


@dataclass(frozen=True)
class EquationCheck:
    """How far the engine's numbers are from one backprop equation on one layer."""

    equation: str
    layer: int
    max_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_error <= self.tolerance

    def __str__(self) -> str:
        verdict = "agrees" if self.ok else "DIFFERS"
        return (f"{self.equation} on layer {self.layer}: max |difference| "
                f"{magnitude(self.max_error)} ({verdict})")


@dataclass
class LayerView:
    """Every layer's z, a and deltas for one sample, and the loss.

    Iterate over it (or index it) for the ``LayerRecord`` of each layer; print
    it for text tables; in Jupyter it shows as HTML tables.
    """

    records: list[LayerRecord]
    loss: float
    loss_name: str

    def __iter__(self) -> Iterator[LayerRecord]:
        return iter(self.records)

    def __getitem__(self, k: int) -> LayerRecord:
        return self.records[k]

    def __len__(self) -> int:
        return len(self.records)

    def check(self, tolerance: float = 1e-10) -> list[EquationCheck]:
        """Recompute BE1-BE4 from the recorded numbers; one ``EquationCheck`` per equation
        and layer. The engine never used these formulas: agreement is the point."""
        checks = []
        last = len(self.records) - 1
        for k, rec in enumerate(self.records):
            slope = [_slope(rec.activation, z, a) for z, a in zip(rec.z, rec.a)]
            if k == last:
                expected = [g * s for g, s in zip(rec.dL_da, slope)]
                checks.append(_check("BE1", rec, rec.delta, expected, tolerance))
            else:
                nxt = self.records[k + 1]
                back = [sum(nxt.W[m][i] * nxt.delta[m] for m in range(len(nxt.delta)))
                        for i in range(len(rec.delta))]
                expected = [g * s for g, s in zip(back, slope)]
                checks.append(_check("BE2", rec, rec.delta, expected, tolerance))
            outer = [d * a for d in rec.delta for a in rec.inputs]
            checks.append(_check("BE3", rec, [g for row in rec.dL_dW for g in row], outer,
                                 tolerance))
            if rec.dL_db is not None:
                checks.append(_check("BE4", rec, rec.dL_db, rec.delta, tolerance))
        return checks

    def __str__(self) -> str:
        head = f"layer view: {visible(self.loss_name)} loss L = {number(self.loss)}"
        return "\n\n".join([head] + [rec.table() for rec in self.records])

    def __repr__(self) -> str:
        return (f"LayerView({len(self.records)} layers, {visible(self.loss_name)} loss = "
                f"{number(self.loss)})")

    def _repr_pretty_(self, p, cycle: bool) -> None:
        """IPython's plain-text display (a terminal, or a notebook without HTML): the tables."""
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        parts = [f"<p><b>layer view</b>: {html.escape(visible(self.loss_name))} loss "
                 f"L = {number(self.loss)}</p>"]
        for rec in self.records:
            rows = "".join(
                f"<tr><td>{i + 1}</td>" + "".join(f"<td>{number(v)}</td>" for v in
                                                  (rec.z[i], rec.a[i], rec.dL_da[i], rec.delta[i]))
                + "</tr>"
                for i in range(len(rec.z))
            )
            parts.append(
                f"<p>layer {rec.layer} (lecture l = {rec.lecture_layer}): "
                f"{html.escape(visible(rec.activation))}</p><table><tr><th>i</th><th>z</th>"
                f"<th>a</th><th>dL/da</th><th>dL/dz</th></tr>{rows}</table>"
            )
        return "".join(parts)


def layer_view(model: MLP, x: Sequence[Any], y: Any,
               loss: str | Callable[..., Value] = "mse") -> LayerView:
    """Run ``loss(model(x), y)`` backward and return each layer's z, a and deltas.

    ``loss`` is a name from ``nn.losses.LOSSES`` or a function ``(output,
    target) -> Value``. The model is left as it was: its parameters' ``grad``
    and every module's train/eval mode are restored afterwards (the pass runs
    in eval mode, so dropout is off, as in the lecture's equations).

    >>> from nn import MLP
    >>> view = layer_view(MLP(2, [3, 1], seed=0), [1.0, -1.0], 0.5)
    >>> [len(rec.delta) for rec in view], all(c.ok for c in view.check())
    ([3, 1], True)
    """
    if not isinstance(model, MLP):
        raise TypeError(f"layer_view needs an nn.MLP, got {type(model).__name__} {model!r}")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"layer_view: unknown loss {loss!r}; choose one of "
                             f"{', '.join(map(repr, LOSSES))} or pass a function")
        loss_fn, loss_name = LOSSES[loss], loss
    elif callable(loss):
        loss_fn, loss_name = loss, getattr(loss, "__name__", "custom")
    else:
        raise TypeError(f"layer_view: loss must be a name or a function, got {loss!r}")

    params = model.parameters()
    saved_grads = [p.grad for p in params]
    saved_modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        model.zero_grad()
        xs = _inputs(model, x)
        outputs = model.layer_outputs(xs)
        total = loss_fn(outputs[-1], y)
        if not isinstance(total, Value):
            raise TypeError(f"layer_view: the loss must return one Value, got {total!r}")
        total.backward()
        records = []
        inputs = [v.data for v in xs]
        for layer, outs in zip(model.layers, outputs):
            # A linear neuron's output is its pre-activation; otherwise z is f's input.
            zs = outs if layer.activation == "linear" else [a.inputs[0] for a in outs]
            records.append(LayerRecord(
                layer=layer.layer_index,
                activation=layer.activation,
                inputs=inputs,
                W=[[w.data for w in n.w] for n in layer.neurons],
                b=[n.b.data for n in layer.neurons if n.b is not None] if layer.bias else None,
                z=[z.data for z in zs],
                a=[a.data for a in outs],
                dL_da=[a.grad for a in outs],
                delta=[z.grad for z in zs],
                dL_dW=[[w.grad for w in n.w] for n in layer.neurons],
                dL_db=[n.b.grad for n in layer.neurons if n.b is not None] if layer.bias else None,
            ))
            inputs = [a.data for a in outs]
        return LayerView(records, total.data, loss_name)
    finally:
        for p, g in zip(params, saved_grads):
            p.grad = g
        for m, mode in saved_modes:
            m.training = mode


def _slope(activation: str, z: float, a: float) -> float:
    """f'(z), written out for the check only (the engine uses its rule table)."""
    if activation == "tanh":
        return 1.0 - a * a
    if activation == "sigmoid":
        return a * (1.0 - a)
    if activation == "relu":
        return 1.0 if z > 0 else 0.0
    return 1.0


def _check(equation: str, rec: LayerRecord, got: list[float], expected: list[float],
           tolerance: float) -> EquationCheck:
    error = max((abs(g - e) for g, e in zip(got, expected)), default=0.0)
    return EquationCheck(equation, rec.layer, error, tolerance)


def _short(values: list[float], shown: int = 3) -> str:
    body = ", ".join(number(v) for v in values[:shown])
    return f"[{body}{', ...' if len(values) > shown else ''}]"

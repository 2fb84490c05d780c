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
reports how far the engine's values are from them (rounding only), and
``LayerView.explain()`` narrates the backward pass layer by layer in the notes'
notation, every number written out (text, typeset HTML and LaTeX).

Numbering: the notes call the input layer 1, so our layer l (``w<l>.<i>.<j>``)
is their layer l + 1; each record gives both, and ``explain(input_layer=1)``
narrates in the notes' numbering (the default, 0, keeps the labels' numbering).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from engine import Value
from engine.teach.notation import current_digits, latex_number, magnitude, number, visible

from .layers import MLP
from .losses import LOSSES
from .module import _inputs

__all__ = ["layer_view", "LayerView", "LayerRecord", "EquationCheck", "LayerExplanation",
           "LayerStep", "Shortcut"]


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
    #: the target as given to ``layer_view`` and the loss function (for ``explain``)
    target: Any = None
    loss_fn: Callable[..., Any] | None = None

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

    def explain(self, input_layer: int = 0) -> LayerExplanation:
        """The backward pass told layer by layer, as the lecture notes write it (BE1-BE4).

        ``input_layer`` is the number the input gets. The default, 0, matches the
        model's labels: x = a^0 and the first weights are W^1 (``w1.i.j``). The
        lecture notes count the input as layer 1: ``explain(input_layer=1)`` writes
        x = a^1 and calls the first weights W^2. See ``LayerExplanation``.

        Raises ``ValueError`` when the engine's numbers do not follow FE1-FE2 or
        BE1-BE4 (code between the layers, or a loss that reads the parameters, such
        as a penalty), since the narration would then not be the backward pass that ran.

        >>> from nn import MLP
        >>> view = layer_view(MLP(2, [2, 1], seed=0), [1.0, -1.0], 0.5)
        >>> [s.layer for s in view.explain().layers], [s.layer for s in
        ...                                             view.explain(input_layer=1).layers]
        ([1, 2], [2, 3])
        >>> story = view.explain()
        >>> story.layer(1).delta == view[0].delta       # the engine's numbers
        True
        >>> print(story.text().splitlines()[6])
          BE1: delta^2 = dL/da^2 ⊙ f_2'(z^2)
        """
        return _explain(self, input_layer)

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
        raise TypeError(f"layer_view needs an nn.MLP, got {type(model).__name__} {model!r}: "
                        "build the network as nn.MLP(nin, [width, ...], activation=...), or "
                        "explain any other graph from its loss node with "
                        "engine.teach.explain(loss)")
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
        return LayerView(records, total.data, loss_name, target=y, loss_fn=loss_fn)
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


# --- explain(): the backward pass as the lecture writes it ---------------------------
#
# Every number the narration writes is the engine's (a node's data or grad after
# backward()), except the activation slopes f'(z), which are written from the
# engine's a and z by their textbook formula. explain() first checks that the
# engine's numbers obey FE1-FE2 and BE1-BE4; only then is the story true.

#: How far two numbers may differ and still be "the same" (float rounding only).
_RELATIVE = 1e-9


@dataclass(frozen=True)
class _M:
    """A piece of mathematics written twice: as plain text and as LaTeX."""

    text: str
    latex: str

    def __add__(self, other: _M | str) -> _M:
        o = other if isinstance(other, _M) else _M(other, other)
        return _M(self.text + o.text, self.latex + o.latex)

    def __radd__(self, other: str) -> _M:
        return _M(other + self.text, other + self.latex)


def _join(parts: Sequence[_M], text: str, latex: str) -> _M:
    return _M(text.join(p.text for p in parts), latex.join(p.latex for p in parts))


_TIMES = _M(" * ", r" \cdot ")
_ODOT = _M(" ⊙ ", r" \odot ")


def _n(x: float, paren: bool = True) -> _M:
    """A number; in parentheses when negative (or in LaTeX's ``a \\times 10^b`` form)
    so that a product or a sum it stands in reads to its value."""
    text, latex = number(x), latex_number(x)
    if text.startswith("-"):
        latex = "{" + latex + "}"  # braced: a unary minus in TeX and in MathML alike
    if paren and text.startswith("-"):
        return _M(f"({text})", f"({latex})")
    if paren and ("\\times" in latex or "^" in latex):
        return _M(text, f"({latex})")
    return _M(text, latex)


def _idx(*ks: int) -> tuple[str, str]:
    if all(k < 10 for k in ks):
        body = "".join(map(str, ks))
        return body, body
    return "(" + ",".join(map(str, ks)) + ")", ",".join(map(str, ks))


_BASE = {"delta": r"\delta", "yhat": r"\hat{y}"}


def _s(base: str, layer: int | str | None, *ks: int | str) -> _M:
    """``z^2_1`` and ``z^{2}_{1}``; ``ks`` may be ints or a letter index (``"j"``)."""
    lb = _BASE.get(base, base)
    text, latex = base, lb
    if layer is not None:
        text += f"^{layer}"
        latex += f"^{{{layer}}}"
    if ks:
        if len(ks) > 1 and any(isinstance(k, int) and k >= 10 for k in ks):  # W^2_(12,j)
            t, x = "(" + ",".join(map(str, ks)) + ")", ",".join(map(str, ks))
        else:
            t = x = "".join(map(str, ks))
        text += f"_{t}"
        latex += f"_{{{x}}}"
    return _M(text, latex)


def _v(base: str, layer: int | None) -> _M:
    """A whole layer's vector or matrix: ``delta^2``, in LaTeX bold."""
    lb = _BASE.get(base, base)
    bold = rf"\boldsymbol{{{lb}}}" if lb.startswith("\\") else rf"\mathbf{{{lb}}}"
    if layer is None:
        return _M(base, bold)
    return _M(f"{base}^{layer}", f"{bold}^{{{layer}}}")


def _d(m: _M) -> _M:
    """dL/d(m)."""
    return _M(f"dL/d{m.text}", rf"\frac{{\partial L}}{{\partial {m.latex}}}")


def _fp(layer: int, arg: _M) -> _M:
    """f_l'(arg): layer l's activation's derivative."""
    return _M(f"f_{layer}'(", f"f_{{{layer}}}'(") + arg + ")"


def _col(xs: Sequence[float]) -> _M:
    return _M("[" + ", ".join(number(x) for x in xs) + "]",
              r"\begin{bmatrix}" + r" \\ ".join(latex_number(x) for x in xs)
              + r"\end{bmatrix}")


def _row(xs: Sequence[float]) -> _M:
    """A row vector: in text, the transposed column ``[1, 2]^T``."""
    return _M("[" + ", ".join(number(x) for x in xs) + "]^T",
              r"\begin{bmatrix}" + " & ".join(latex_number(x) for x in xs)
              + r"\end{bmatrix}")


def _mat(rows: Sequence[Sequence[float]]) -> _M:
    return _M("[" + ", ".join("[" + ", ".join(number(x) for x in r) + "]" for r in rows) + "]",
              r"\begin{bmatrix}" + r" \\ ".join(" & ".join(latex_number(x) for x in r)
                                                for r in rows) + r"\end{bmatrix}")


def _agree(got: float, expected: float, scale: float = 0.0) -> bool:
    """Equal up to float rounding, relative to the numbers (and the terms) involved."""
    size = max(abs(got), abs(expected), abs(scale))
    return abs(got - expected) <= _RELATIVE * size


# --- what explain() returns --------------------------------------------------------


@dataclass
class LayerStep:
    """One layer of the narration: the numbers each equation is written with.

    ``layer`` is the layer's number as written (it depends on ``input_layer``),
    ``model_layer`` the model's own (``w<model_layer>.i.j``). Lists are indexed by
    neuron (0-based here; written 1-based). ``delta``, ``dL_da``, ``dL_dW`` and
    ``dL_db`` are the engine's gradients; ``slope`` is f'(z) from the activation's
    formula; for a hidden layer, ``terms[j]`` lists the pairs (delta^(l+1)_k,
    W^(l+1)_kj) of BE2's sum and ``back[j]`` is that sum, (W^(l+1)^T delta^(l+1))_j.
    """

    layer: int
    model_layer: int
    activation: str
    output: bool
    inputs: list[float]
    W: list[list[float]]
    b: list[float] | None
    z: list[float]
    a: list[float]
    dL_da: list[float]
    slope: list[float]
    delta: list[float]
    dL_dW: list[list[float]]
    dL_db: list[float] | None
    terms: list[list[tuple[float, float]]] | None = None
    back: list[float] | None = None


@dataclass
class Shortcut:
    """The exact shortcut delta^L = (yhat - y) / n of a matched output and loss.

    ``kind`` is ``"sigmoid + binary cross-entropy"``, ``"softmax + cross-entropy"``
    or ``"sigmoid + binary cross-entropy with logits"``. ``yhat`` and ``y`` are the
    prediction and the target (one-hot for cross-entropy), ``n`` the mean's divisor
    (the number of outputs; 1 for cross-entropy on one sample). ``full`` is BE1
    written in full (dL/dyhat times dyhat/dz, from the engine's numbers), ``short``
    is (yhat - y) / n, ``delta`` the engine's delta^L; ``holds`` says all three agree.
    """

    kind: str
    yhat: list[float]
    y: list[float]
    n: int
    full: list[float]
    short: list[float]
    delta: list[float]
    holds: bool

    @property
    def max_difference(self) -> float:
        """The largest |short - delta| or |full - delta|: rounding when ``holds``."""
        return max((max(abs(s - d), abs(f - d))
                    for s, f, d in zip(self.short, self.full, self.delta)), default=0.0)


@dataclass
class _Row:
    label: str
    chain: list[_M]
    where: list[list[_M]]


@dataclass
class _Block:
    kind: str                      # "heading", "prose", "equation"
    prose: list[str | _M]          # a heading's or a paragraph's words
    name: str = ""                 # an equation's name, e.g. "BE2"
    statement: _M | None = None    # the equation in symbols
    rows: list[_Row] | None = None       # one sentence per neuron
    matrix: list[list[_M]] | None = None  # the matrix form (chains)


@dataclass
class LayerExplanation:
    """The backward pass of ``layer_view``, told layer by layer with the numbers.

    ``print(e)`` or ``e.text()`` for plain text, ``e._repr_html_()`` (what Jupyter
    shows: MathJax typesets its ``$...$``), ``e.to_latex()`` for slides.
    ``layers`` holds one ``LayerStep`` per layer, input side first (``e.layer(l)``
    by its written number), ``shortcut`` the ``Shortcut`` when the output and the
    loss make delta^L = yhat - y exact (else ``None``). Numbers are written as
    ``engine.teach.notation.number`` writes them (4 significant digits; wrap the
    call that renders in ``with precision(8):`` for more).
    """

    layers: list[LayerStep]
    loss: float
    loss_name: str
    input_layer: int
    target: list[float] | None
    shortcut: Shortcut | None
    loss_kind: str | None = None

    def layer(self, number_: int) -> LayerStep:
        """The step of the layer written as layer ``number_``."""
        for step in self.layers:
            if step.layer == number_:
                return step
        numbers = [s.layer for s in self.layers]
        raise ValueError(f"explain: no layer {number_!r}; the layers are {numbers} "
                         f"(input_layer={self.input_layer})")

    @property
    def output(self) -> LayerStep:
        return self.layers[-1]

    def _blocks(self) -> list[_Block]:
        return _narrate(self)

    def text(self) -> str:
        """The narration as plain text."""
        return _render_text(self._blocks())

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        numbers = ", ".join(str(s.layer) for s in reversed(self.layers))
        return (f"LayerExplanation({visible(self.loss_name)} loss L = {number(self.loss)}, "
                f"layers {numbers}; print it for the narration)")

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        return _render_html(self._blocks())

    def to_html(self, math: str = "mathjax") -> str:
        """The narration as HTML. ``math="mathjax"`` (what Jupyter shows) leaves each
        formula as ``$...$`` for MathJax; ``math="mathml"`` writes MathML, which browsers
        typeset with no script and no network (needs ``latex2mathml``, the ``[viz]``
        extra; without it the LaTeX source is shown)."""
        if math not in ("mathjax", "mathml"):
            raise ValueError(f"to_html: math must be 'mathjax' or 'mathml', got {math!r}")
        return _render_html(self._blocks(), mathml=math == "mathml")

    def to_latex(self, document: bool = False) -> str:
        r"""The narration in LaTeX: ``\subsection*`` headings, paragraphs and ``align*``
        blocks (needs ``amsmath``; a layer wider than 10 neurons also sets the
        ``MaxMatrixCols`` counter). ``document=True`` wraps it in a standalone
        ``article`` that compiles with pdflatex."""
        body = _render_latex(self._blocks())
        widest = max(max(len(s.delta), len(s.inputs)) for s in self.layers)
        if widest > 10:
            body = f"\\setcounter{{MaxMatrixCols}}{{{widest}}}\n" + body
        if not document:
            return body
        return ("\\documentclass{article}\n\\usepackage[margin=2cm,landscape]{geometry}\n"
                "\\usepackage{amsmath}\n\\usepackage{amssymb}\n\\begin{document}\n"
                + body + "\\end{document}\n")


# --- building the explanation --------------------------------------------------------


def _explain(view: LayerView, input_layer: int) -> LayerExplanation:
    if isinstance(input_layer, bool) or not isinstance(input_layer, int) \
            or input_layer not in (0, 1):
        raise ValueError(
            f"explain: input_layer must be 0 (x = a^0, the first weights W^1, as the "
            f"model's labels w1.i.j) or 1 (x = a^1, the first weights W^2, as the lecture "
            f"notes count), got {input_layer!r}")
    if not view.records:
        raise ValueError("explain: the layer view has no layers")
    shift = input_layer  # written layer = model layer + shift
    _check_forward(view)
    steps: list[LayerStep] = []
    for k, rec in enumerate(view.records):
        slope = [_slope(rec.activation, z, a) for z, a in zip(rec.z, rec.a)]
        steps.append(LayerStep(
            layer=rec.layer + shift, model_layer=rec.layer, activation=rec.activation,
            output=k == len(view.records) - 1, inputs=list(rec.inputs),
            W=[list(r) for r in rec.W], b=None if rec.b is None else list(rec.b),
            z=list(rec.z), a=list(rec.a), dL_da=list(rec.dL_da), slope=slope,
            delta=list(rec.delta), dL_dW=[list(r) for r in rec.dL_dW],
            dL_db=None if rec.dL_db is None else list(rec.dL_db)))
    for k in range(len(steps) - 1):
        step, nxt = steps[k], steps[k + 1]
        step.terms = [[(nxt.delta[m], nxt.W[m][j]) for m in range(len(nxt.delta))]
                      for j in range(len(step.delta))]
        step.back = [sum(d * w for d, w in t) for t in step.terms]
    _check_backward(steps)
    kind = _loss_kind(view)
    target = _target(kind, view.target, len(steps[-1].a))
    shortcut = _shortcut(kind, steps[-1], target)
    return LayerExplanation(steps, view.loss, view.loss_name, input_layer,
                            None if target is None else list(target), shortcut, kind)


_FIX_CUSTOM = ("explain narrates a plain nn.MLP (each layer's z = W a + b of the layer "
               "before, a = f(z)); for other code, explain the loss node itself with "
               "engine.teach.explain(loss)")


def _check_forward(view: LayerView) -> None:
    """FE1 and FE2 on the recorded numbers: else code ran between the layers."""
    prev: list[float] | None = None
    for rec in view.records:
        if prev is not None and rec.inputs != prev:
            raise ValueError(f"explain: layer {rec.layer}'s inputs are not layer "
                             f"{rec.layer - 1}'s outputs; {_FIX_CUSTOM}")
        for i, z in enumerate(rec.z):
            terms = [w * x for w, x in zip(rec.W[i], rec.inputs)]
            fe1 = sum(terms) + (rec.b[i] if rec.b is not None else 0.0)
            scale = sum(map(abs, terms)) + (abs(rec.b[i]) if rec.b is not None else 0.0)
            if not _agree(z, fe1, scale):
                raise ValueError(
                    f"explain: FE1 does not hold at layer {rec.layer}, neuron {i + 1}: "
                    f"z = {number(z)} but W a + b = {number(fe1)}: code changes the values "
                    f"between the layers (a subclass's layer_outputs?); {_FIX_CUSTOM}")
            fe2 = _activate(rec.activation, z)
            if not _agree(rec.a[i], fe2):
                raise ValueError(
                    f"explain: FE2 does not hold at layer {rec.layer}, neuron {i + 1}: "
                    f"a = {number(rec.a[i])} but {rec.activation}(z) = {number(fe2)}; "
                    f"{_FIX_CUSTOM}")
        prev = rec.a


_FIX_PENALTY = ("the loss must depend on the parameters only through the model's output: "
                "pass the data loss alone (e.g. loss='mse') and add a penalty's gradient "
                "separately (l2_penalty adds lam * W to dL/dW)")


def _check_backward(steps: list[LayerStep]) -> None:
    """BE1-BE4 on the engine's gradients, or a ValueError saying which and why
    (checked from the output back, as backprop goes: the first failure is named)."""
    for step in reversed(steps):
        ly = step.layer
        for i, d in enumerate(step.delta):
            if step.output:
                expected, scale, eq = step.dL_da[i] * step.slope[i], 0.0, "BE1"
            else:
                assert step.terms is not None and step.back is not None
                expected = step.back[i] * step.slope[i]
                scale = sum(abs(a * b) for a, b in step.terms[i]) * abs(step.slope[i])
                eq = "BE2"
            if not _agree(d, expected, scale):
                why = ("the loss reads the output other than through a = f(z)"
                       if eq == "BE1" else
                       "something other than the next layer uses these activations "
                       "(a loss on hidden units, or code between the layers)")
                raise ValueError(
                    f"explain: {eq} does not hold at layer {ly}, neuron {i + 1}: the engine's "
                    f"delta = {number(d)}, the equation gives {number(expected)}: {why}; "
                    f"{_FIX_CUSTOM}")
            for j, g in enumerate(step.dL_dW[i]):
                if not _agree(g, d * step.inputs[j]):
                    raise ValueError(
                        f"explain: BE3 does not hold at layer {ly}: the engine's "
                        f"dL/dW^{ly}_{_idx(i + 1, j + 1)[0]} = {number(g)} but delta * a = "
                        f"{number(d * step.inputs[j])}; {_FIX_PENALTY}")
            if step.dL_db is not None and not _agree(step.dL_db[i], d):
                raise ValueError(
                    f"explain: BE4 does not hold at layer {ly}: the engine's dL/db^{ly}_"
                    f"{i + 1} = {number(step.dL_db[i])} but delta = {number(d)}; "
                    f"{_FIX_PENALTY}")


def _activate(activation: str, z: float) -> float:
    if activation == "tanh":
        return math.tanh(z)
    if activation == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    if activation == "relu":
        return z if z > 0 else 0.0
    return z


def _loss_kind(view: LayerView) -> str | None:
    """The name in ``LOSSES`` of the view's loss function, if it is one of them."""
    for name, fn in LOSSES.items():
        if view.loss_fn is fn:
            return name
    return None


def _target(kind: str | None, target: Any, n: int) -> list[float] | None:
    """The target as one number per output (one-hot for cross-entropy), or None."""
    try:
        if kind == "cross_entropy":
            c = int(target)
            return [1.0 if i == c else 0.0 for i in range(n)]
        if kind is None:
            return None
        if isinstance(target, Real):
            values = [float(target)]
        else:
            values = [float(t) for t in target]
    except (TypeError, ValueError):
        return None
    return values if len(values) == n else None


def _softmax(zs: Sequence[float]) -> list[float]:
    top = max(zs)
    es = [math.exp(z - top) for z in zs]
    total = sum(es)
    return [e / total for e in es]


def _shortcut(kind: str | None, out: LayerStep, y: list[float] | None) -> Shortcut | None:
    if y is None:
        return None
    n = len(out.a)
    if kind == "bce" and out.activation == "sigmoid":
        name, yhat = "sigmoid + binary cross-entropy", list(out.a)
        # BE1 in full: the engine's dL/da times f'(z) = a (1 - a)
        full = [g * s for g, s in zip(out.dL_da, out.slope)]
    elif kind == "bce_with_logits" and out.activation == "linear":
        name, yhat = "sigmoid + binary cross-entropy with logits", [_activate("sigmoid", z)
                                                                    for z in out.z]
        full = [(p - t) / (p * (1 - p)) / n * (p * (1 - p)) if 0 < p < 1 else (p - t) / n
                for p, t in zip(yhat, y)]
    elif kind == "cross_entropy" and out.activation == "linear":
        name, yhat, n = "softmax + cross-entropy", _softmax(out.z), 1
        c = y.index(1.0)
        # sum_k dL/dyhat_k dyhat_k/dz_i: only k = c has dL/dyhat_k = -1/yhat_c
        # (-1/yhat_c) * yhat_c is -1 exactly; written out only where yhat_c did not underflow
        scale = (lambda i: (-1.0 / yhat[c]) * yhat[c]) if yhat[c] > 0 else (lambda i: -1.0)
        full = [scale(i) * ((1.0 if i == c else 0.0) - yhat[i]) for i in range(len(yhat))]
    else:
        return None
    short = [(p - t) / n for p, t in zip(yhat, y)]
    # rounding is relative to what (yhat - y) / n subtracts, not to its (maybe tiny) result
    sizes = [(abs(p) + abs(t)) / n for p, t in zip(yhat, y)]
    holds = all(_agree(s, d, m) and _agree(f, d, m)
                for s, f, d, m in zip(short, full, out.delta, sizes))
    return Shortcut(name, yhat, list(y), n, full, short, list(out.delta), holds)


# --- the narration, one block at a time ------------------------------------------------


def _g(base: str, layer: str) -> _M:
    """A generic layer symbol for the statements: delta^l, a^(l-1), W^(l+1)."""
    v = _v(base, 0)
    text_layer = f"({layer})" if len(layer) > 1 else layer
    return _M(v.text[:-1] + text_layer, v.latex[:-3] + "{" + layer + "}")


def _T(m: _M) -> _M:
    """m transposed."""
    return _M(f"({m.text})^T", f"({m.latex})^{{\\top}}")


def _pow_base(x: float) -> _M:
    t, x_ = number(x), latex_number(x)
    if t.startswith("-") or "e" in t:
        return _M(f"({t})", f"({x_})")
    return _M(t, x_)


_SLOPE_RULE = {
    "tanh": _M("1 - tanh(z)^2 = 1 - a^2", r"1 - \tanh^{2} z = 1 - a^{2}"),
    "sigmoid": _M("sigmoid(z) * (1 - sigmoid(z)) = a * (1 - a)",
                  r"\sigma(z)\,(1 - \sigma(z)) = a\,(1 - a)"),
    "relu": _M("1 where z > 0, else 0", r"1 \text{ where } z > 0 \text{, else } 0"),
    "linear": _M("1", "1"),
}


def _slope_chain(step: LayerStep, i: int) -> list[_M] | None:
    """f_l'(z^l_i) evaluated from the layer's a (or z), or None for the identity."""
    ly, a, z = step.layer, step.a[i], step.z[i]
    fp = _fp(ly, _s("z", ly, i + 1))
    ai = _s("a", ly, i + 1)
    value = _n(step.slope[i], False)
    if step.activation == "tanh":
        return [fp, "1 - (" + ai + ")^2", "1 - " + _pow_base(a) + "^2", value]
    if step.activation == "sigmoid":
        return [fp, ai + _TIMES + "(1 - " + ai + ")",
                _n(a) + _TIMES + "(1 - " + _n(a) + ")", value]
    if step.activation == "relu":
        side = _M(" > 0", " > 0") if z > 0 else _M(" <= 0", r" \le 0")
        return [fp, value + _M(", as ", r", \text{ as } ") + _s("z", ly, i + 1) + " = "
                + _n(z, False) + side]
    return None


def _loss_rule(ex: LayerExplanation) -> tuple[list[str | _M], Callable[[int], list[_M]] | None]:
    """What the loss says about dL/da^L: a sentence, and per neuron its evaluation."""
    out, y, kind = ex.output, ex.target, ex.loss_kind
    L, n = out.layer, len(out.a)
    ai, yi = _s("a", L, "i"), _s("y", None, "i")
    over = _M(f" / {n}", f" / {n}") if n > 1 else _M("", "")
    if y is not None and kind == "mse":
        rule = _M("2 * (", r"2\,(") + ai + " - " + yi + ")" + over
        sentence: list[str | _M] = [
            f"The loss is mse, the mean of the squared errors over the {n} outputs: "
            if n > 1 else "The loss is mse, the squared error of the one output: ",
            _d(ai) + " = " + rule, "."]

        def mse(i: int) -> list[_M]:
            g = 2 * (out.a[i] - y[i]) / n
            if not _agree(out.dL_da[i], g):
                return []
            return [_d(_s("a", L, i + 1)),
                    _M("2 * (", r"2\,(") + _n(out.a[i]) + " - " + _n(y[i]) + ")" + over,
                    _n(out.dL_da[i], False)]
        return sentence, mse
    if y is not None and kind == "bce":
        rule = "(" + ai + " - " + yi + ") / (" + ai + _TIMES + "(1 - " + ai + "))" + over
        sentence = ["The loss is binary cross-entropy, ",
                    _M("-(y log a + (1 - y) log(1 - a))", r"-(y \log a + (1 - y)\log(1 - a))"),
                    f" averaged over the {n} outputs: " if n > 1 else ": ",
                    _d(ai) + " = " + rule, "."]

        def bce(i: int) -> list[_M]:
            p = out.a[i]
            if not 0 < p < 1 or not _agree(out.dL_da[i], (p - y[i]) / (p * (1 - p)) / n):
                return []
            return [_d(_s("a", L, i + 1)),
                    "(" + _n(p) + " - " + _n(y[i]) + ") / (" + _n(p) + _TIMES + "(1 - "
                    + _n(p) + "))" + over, _n(out.dL_da[i], False)]
        return sentence, bce
    if y is not None and kind == "cross_entropy":
        c = y.index(1.0)
        return ([f"The loss is cross_entropy with the target class {c} (0-based, output "
                 f"neuron {c + 1}), so ", _M("y = ", r"\mathbf{y} = ") + _col(y),
                 ": it applies softmax to the outputs, ",
                 _s("yhat", None) + _M(" = softmax(", r" = \operatorname{softmax}(")
                 + _v("z", L) + ")", ", and ",
                 _M(f"L = -log(yhat_{c + 1})", rf"L = -\log \hat{{y}}_{{{c + 1}}}"),
                 "; dL/da comes from the engine."], None)
    if y is not None and kind == "bce_with_logits":
        return (["The loss is binary cross-entropy with logits: it applies the sigmoid "
                 "itself, ", _s("yhat", None) + _M(" = sigmoid(", r" = \sigma(") + _v("z", L) + ")",
                 "; dL/da comes from the engine."], None)
    return ([f"dL/da^{L} comes from the engine's backward pass through the "
             f"{visible(ex.loss_name)} loss (not written out here)."], None)


def _activation_sentence(step: LayerStep) -> list[str | _M]:
    rule = _SLOPE_RULE[step.activation]
    return [f"Activation {step.activation}: ",
            _fp(step.layer, _M("z", "z")) + " = " + rule, "."]


def _heading(step: LayerStep) -> _Block:
    n = len(step.delta)
    role = "the output layer" if step.output else "a hidden layer"
    return _Block("heading", [f"Layer {step.layer}, {role} ({step.activation}, "
                              f"{n} neuron{'s' if n > 1 else ''})"])


def _be1(ex: LayerExplanation) -> list[_Block]:
    out = ex.output
    L = out.layer
    sentence, loss_chain = _loss_rule(ex)
    blocks = [_heading(out), _Block("prose", _activation_sentence(out)),
              _Block("prose", sentence)]
    rows = []
    for i in range(len(out.delta)):
        di = _s("delta", L, i + 1)
        where = []
        if loss_chain is not None and loss_chain(i):
            where.append(loss_chain(i))
        slope = _slope_chain(out, i)
        if slope:
            where.append(slope)
        rows.append(_Row(f"neuron {i + 1}:", [
            di, _d(_s("a", L, i + 1)) + _TIMES + _fp(L, _s("z", L, i + 1)),
            _n(out.dL_da[i]) + _TIMES + _n(out.slope[i]), _n(out.delta[i], False)], where))
    matrix = [[_v("delta", L), _d(_v("a", L)) + _ODOT + _fp(L, _v("z", L)),
               _col(out.dL_da) + _ODOT + _col(out.slope), _col(out.delta)]]
    why1: list[str | _M] = [
        "Why: ", _s("a", L, "i") + _M(f" = f_{L}(", f" = f_{{{L}}}(") + _s("z", L, "i")
        + ")", " is the only path from ", _s("z", L, "i"), " to L, so the chain rule gives ",
        _s("delta", L, "i") + " = " + _d(_s("a", L, "i")) + _TIMES + _fp(L, _s("z", L, "i")),
        "."]
    blocks.append(_Block("equation", why1, "BE1",
                         _v("delta", L) + " = " + _d(_v("a", L)) + _ODOT + _fp(L, _v("z", L)),
                         rows, matrix))
    if ex.shortcut is not None:
        blocks += _shortcut_blocks(ex)
    return blocks


def _shortcut_blocks(ex: LayerExplanation) -> list[_Block]:
    sc, out = ex.shortcut, ex.output
    assert sc is not None
    L = out.layer
    over = _M(f" / {sc.n}", f" / {sc.n}") if sc.n > 1 else _M("", "")
    yhat, y = _v("yhat", None), _v("y", None)
    if sc.kind.startswith("softmax"):
        c = sc.y.index(1.0)
        yc = _s("yhat", None, c + 1)
        why: list[str | _M] = [
            "Softmax with cross-entropy makes BE1 exact in a short form. With softmax as "
            "the output's f, BE1 is a sum over the outputs k, ",
            _M("delta_i = sum_k dL/dyhat_k * dyhat_k/dz_i",
               r"\delta_i = \sum_k \frac{\partial L}{\partial \hat{y}_k}"
               r"\frac{\partial \hat{y}_k}{\partial z_i}"),
            ", where ",
            _M("dL/dyhat_k = -y_k / yhat_k", r"\partial L/\partial \hat{y}_k = -y_k/\hat{y}_k"),
            f" (0 unless k = {c + 1}: y is one-hot) and ",
            _M("dyhat_k/dz_i = yhat_k (1[i = k] - yhat_i)",
               r"\partial \hat{y}_k/\partial z_i = \hat{y}_k\,(\mathbb{1}[i = k] - \hat{y}_i)"),
            "; what is left is ", _v("delta", L) + " = " + yhat + " - " + y, "."]

        def full(i: int) -> list[_M]:
            ind = 1.0 if i == c else 0.0
            if sc.yhat[c] == 0.0:  # underflowed: no number to divide by
                return []
            return [_M("BE1 in full: ", r"\text{BE1 in full: }")
                    + _d(yc) + _TIMES + _M(f"dyhat_{c + 1}/dz^{L}_{i + 1}",
                                           rf"\frac{{\partial \hat{{y}}_{{{c + 1}}}}}"
                                           rf"{{\partial z^{{{L}}}_{{{i + 1}}}}}"),
                    _M("(-1 / ", "(-1 / ") + _n(sc.yhat[c], False) + ")" + _TIMES + "("
                    + _n(sc.yhat[c]) + _TIMES + "(" + _n(ind, False) + " - "
                    + _n(sc.yhat[i]) + "))", _n(sc.full[i], False)]
    else:
        pred = (_v("a", L) if sc.kind == "sigmoid + binary cross-entropy"
                else _M("sigmoid(", r"\sigma(") + _v("z", L) + ")")
        why = ["Sigmoid with binary cross-entropy makes BE1 exact in a short form: ",
               "with ", _v("yhat", None) + " = " + pred, ", ",
               _M("dL/dyhat = (yhat - y) / (yhat (1 - yhat))",
                  r"\partial L/\partial \hat{y} = (\hat{y} - y) / (\hat{y}\,(1 - \hat{y}))")
               + over, " and ",
               _M("dyhat/dz = yhat (1 - yhat)", r"\partial \hat{y}/\partial z = \hat{y}\,(1 - \hat{y})"),
               " cancel, so ",
               _v("delta", L) + " = " + ("(" + yhat + " - " + y + ")" + over if sc.n > 1
                                         else yhat + " - " + y), "."]

        def full(i: int) -> list[_M]:
            p = sc.yhat[i]
            first = _M("BE1 in full: ", r"\text{BE1 in full: }")
            if sc.kind == "sigmoid + binary cross-entropy":
                return [first + _d(_s("a", L, i + 1)) + _TIMES + _fp(L, _s("z", L, i + 1)),
                        _n(out.dL_da[i]) + _TIMES + _n(out.slope[i]), _n(sc.full[i], False)]
            if not 0 < p < 1:  # saturated: dL/dyhat and dyhat/dz are not finite numbers
                return []
            return [first + _M(f"dL/dyhat_{i + 1} * dyhat_{i + 1}/dz^{L}_{i + 1}",
                               rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{{i + 1}}}}}"
                               rf"\frac{{\partial \hat{{y}}_{{{i + 1}}}}}"
                               rf"{{\partial z^{{{L}}}_{{{i + 1}}}}}"),
                    _n((p - sc.y[i]) / (p * (1 - p)) / sc.n)
                    + _TIMES + _n(p * (1 - p)), _n(sc.full[i], False)]
    rows = []
    for i in range(len(sc.short)):
        yi, yhi = _s("y", None, i + 1), _s("yhat", None, i + 1)
        lhs = ("(" + yhi + " - " + yi + ")" + over) if sc.n > 1 else yhi + " - " + yi
        nums = ("(" + _n(sc.yhat[i]) + " - " + _n(sc.y[i]) + ")" + over if sc.n > 1
                else _n(sc.yhat[i]) + " - " + _n(sc.y[i]))
        rows.append(_Row(f"neuron {i + 1}:", [lhs, nums, _n(sc.short[i], False),
                                               _s("delta", L, i + 1)],
                         [chain for chain in [full(i)] if chain]))
    matrix = [[_v("delta", L), ("(" + yhat + " - " + y + ")" + over) if sc.n > 1
               else yhat + " - " + y,
               ("(" + _col(sc.yhat) + " - " + _col(sc.y) + ")" + over) if sc.n > 1
               else _col(sc.yhat) + " - " + _col(sc.y), _col(sc.short)]]
    diff = magnitude(sc.max_difference)
    if sc.holds:
        verdict: list[str | _M] = [
            "The shortcut holds: ", yhat + " - " + y, ", BE1 in full and the engine's ",
            _v("delta", L), f" agree (largest difference {diff}, float rounding)."]
    else:
        verdict = [f"The shortcut does not hold here: they differ by up to {diff}"
                   + (" (binary_cross_entropy clamps its slope where a (1 - a) < 1e-12, "
                      "as PyTorch does)" if "binary" in sc.kind else "")
                   + "; the engine's delta is BE1 in full."]
    return [_Block("prose", why),
            _Block("equation", [], "BE1, short form", _v("delta", L) + " = " + (
                ("(" + yhat + " - " + y + ")" + over) if sc.n > 1 else yhat + " - " + y),
                rows, matrix),
            _Block("prose", verdict)]


def _be2(step: LayerStep, nxt: LayerStep) -> list[_Block]:
    ly, m = step.layer, nxt.layer
    assert step.terms is not None and step.back is not None
    blocks = [_heading(step), _Block("prose", _activation_sentence(step))]
    rows = []
    for j in range(len(step.delta)):
        sym = _join([_s("delta", m, k + 1) + _TIMES + _s("W", m, k + 1, j + 1)
                     for k in range(len(nxt.delta))], " + ", " + ")
        nums = _join([_n(d) + _TIMES + _n(w) for d, w in step.terms[j]], " + ", " + ")
        slope = _slope_chain(step, j)
        rows.append(_Row(f"neuron {j + 1}:", [
            _s("delta", ly, j + 1), "(" + sym + ")" + _TIMES + _fp(ly, _s("z", ly, j + 1)),
            "(" + nums + ")" + _TIMES + _n(step.slope[j]), _n(step.delta[j], False)],
            [slope] if slope else []))
    WT = [[nxt.W[k][j] for k in range(len(nxt.W))] for j in range(len(step.delta))]
    statement = (_v("delta", ly) + " = (" + _T(_v("W", m)) + " " + _v("delta", m) + ")"
                 + _ODOT + _fp(ly, _v("z", ly)))
    matrix = [[_v("delta", ly), "(" + _T(_v("W", m)) + " " + _v("delta", m) + ")" + _ODOT
               + _fp(ly, _v("z", ly)),
               "(" + _mat(WT) + " " + _col(nxt.delta) + ")" + _ODOT + _col(step.slope),
               _col(step.back) + _ODOT + _col(step.slope), _col(step.delta)]]
    why2: list[str | _M] = [
        "Why: ", _s("z", ly, "j"), " reaches L only through ",
        _s("a", ly, "j") + _M(f" = f_{ly}(", f" = f_{{{ly}}}(") + _s("z", ly, "j") + ")",
        ", which feeds every neuron k of layer ", str(m), " with the weight ",
        _s("W", m, "k", "j"), ": the chain rule adds those paths, ",
        _s("delta", ly, "j") + _M(" = (sum_k ", r" = \Big(\sum_k ") + _s("delta", m, "k")
        + _TIMES + _s("W", m, "k", "j") + _M(")", r"\Big)") + _TIMES
        + _fp(ly, _s("z", ly, "j")), "."]
    blocks.append(_Block("equation", why2, "BE2", statement, rows, matrix))
    return blocks


def _be34(step: LayerStep) -> list[_Block]:
    ly = step.layer
    prev = _v("a", ly - 1)
    nin = len(step.inputs)
    js = ", ".join(str(j) for j in range(1, nin + 1)) if nin <= 4 else f"1, ..., {nin}"
    rows = []
    for i in range(len(step.delta)):
        rows.append(_Row(f"neuron {i + 1} (j = {js}):", [
            _d(_s("W", ly, i + 1, "j")), _s("delta", ly, i + 1) + _TIMES + _s("a", ly - 1, "j"),
            _n(step.delta[i]) + _TIMES + _row(step.inputs), _row(step.dL_dW[i])], []))
    why3: list[str | _M] = [
        "Why: ", _s("z", ly, "i") + _M(" = sum_j ", r" = \sum_j ") + _s("W", ly, "i", "j")
        + " " + _s("a", ly - 1, "j") + " + " + _s("b", ly, "i"), ", so ",
        _M(f"dz^{ly}_i/dW^{ly}_ij = ", rf"\partial z^{{{ly}}}_{{i}}/\partial W^{{{ly}}}_{{ij}} = ")
        + _s("a", ly - 1, "j"), " and ",
        _M(f"dz^{ly}_i/db^{ly}_i = 1", rf"\partial z^{{{ly}}}_{{i}}/\partial b^{{{ly}}}_{{i}} = 1"),
        "."]
    blocks = [_Block("equation", why3, "BE3", _d(_v("W", ly)) + " = " + _v("delta", ly) + " "
                     + _T(prev), rows,
                     [[_d(_v("W", ly)), _v("delta", ly) + " " + _T(prev),
                       _col(step.delta) + " " + _row(step.inputs), _mat(step.dL_dW)]])]
    if step.dL_db is not None:
        brows = [_Row(f"neuron {i + 1}:", [_d(_s("b", ly, i + 1)), _s("delta", ly, i + 1),
                                            _n(g, False)], [])
                 for i, g in enumerate(step.dL_db)]
        blocks.append(_Block("equation", [], "BE4", _d(_v("b", ly)) + " = " + _v("delta", ly),
                             brows, [[_d(_v("b", ly)), _v("delta", ly), _col(step.dL_db)]]))
    return blocks


def _narrate(ex: LayerExplanation) -> list[_Block]:
    first = ex.layers[0].layer
    x = _v("a", first - 1)
    numbering: list[str | _M] = (
        [" (as the lecture notes count). "] if ex.input_layer == 1 else
        [" (as the model's labels w1.i.j; explain(input_layer=1) counts as the lecture "
         "notes, from ", _v("a", 1) + _M(" = x", r" = \mathbf{x}"), "). "])
    blocks = [
        _Block("heading", [f"Backward pass, layer by layer: {visible(ex.loss_name)} loss "
                           f"L = {number(ex.loss)}"]),
        _Block("prose", ["Layers are numbered from the input ",
                         x + _M(" = x", r" = \mathbf{x}"), *numbering,
                         _g("delta", "l") + " = " + _d(_g("z", "l")),
                         " is the gradient at layer l's pre-activations ",
                         _g("z", "l") + " = " + _g("W", "l") + " " + _g("a", "l-1") + " + "
                         + _g("b", "l"), "; ", _s("W", "l", "i", "j"),
                         " is the weight into neuron i of layer l from neuron j of layer l - 1 "
                         f"(the model's w{'<l-1>' if ex.input_layer else '<l>'}.i.j);"
                         " vectors are columns, neurons count from 1, ",
                         _M("⊙", r"\odot"), " multiplies elementwise. (The notes write the "
                         "same equations with row vectors: the numbers are the same.)"]),
    ]
    blocks += _be1(ex)
    blocks += _be34(ex.output)
    for k in range(len(ex.layers) - 2, -1, -1):
        blocks += _be2(ex.layers[k], ex.layers[k + 1])
        blocks += _be34(ex.layers[k])
    return blocks


# --- rendering: text, HTML (MathJax), LaTeX ------------------------------------------------


def _words_text(words: Sequence[str | _M]) -> str:
    return "".join(w if isinstance(w, str) else w.text for w in words)


def _chain_text(chain: Sequence[_M]) -> str:
    return " = ".join(m.text for m in chain)


def _render_text(blocks: list[_Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            if lines:
                lines.append("")
            lines.append(_words_text(b.prose))
        elif b.kind == "prose":
            lines.append("  " + _words_text(b.prose))
        else:
            assert b.statement is not None
            lines.append(f"  {b.name}: {b.statement.text}")
            if b.prose:
                lines.append("    " + _words_text(b.prose))
            for row in b.rows or []:
                lines.append(f"    {row.label} {_chain_text(row.chain)}")
                for k, w in enumerate(row.where):
                    lines.append(" " * (5 + len(row.label)) + ("where " if k == 0 else "and ")
                                 + _chain_text(w))
            for chain in b.matrix or []:
                lines.append("    matrix form: " + _chain_text(chain))
    return "\n".join(lines)


def _math_html(latex: str, mathml: bool, display: bool = False) -> str:
    """A formula for HTML: ``$...$`` (``$$...$$`` displayed) for MathJax, or MathML."""
    if mathml:
        from engine.teach.mathml import mathml as to_mathml

        return to_mathml(latex, display=display)
    fence = "$$" if display else "$"
    return fence + html.escape(latex, quote=False) + fence


def _words_html(words: Sequence[str | _M], mathml: bool = False) -> str:
    return "".join(html.escape(w, quote=False) if isinstance(w, str)
                   else _math_html(w.latex, mathml) for w in words)


def _chain_latex(chain: Sequence[_M]) -> str:
    return " = ".join(m.latex for m in chain)


def _render_html(blocks: list[_Block], mathml: bool = False) -> str:
    parts = ['<div class="chainrule-explain-layers">']
    for b in blocks:
        if b.kind == "heading":
            parts.append(f"<h4>{_words_html(b.prose, mathml)}</h4>")
        elif b.kind == "prose":
            parts.append(f"<p>{_words_html(b.prose, mathml)}</p>")
        else:
            assert b.statement is not None
            sentences = []
            for row in b.rows or []:
                sentences.append(f"<div>{html.escape(row.label, quote=False)} "
                                 f"{_math_html(_chain_latex(row.chain), mathml)}</div>")
                for k, w in enumerate(row.where):
                    sentences.append(f'<div style="margin-left:2em">{"and" if k else "where"} '
                                     f"{_math_html(_chain_latex(w), mathml)}</div>")
            matrix = "".join(f"<div>matrix form: "
                             f"{_math_html(_chain_latex(c), mathml, display=True)}</div>"
                             for c in b.matrix or [])
            why = (f'<p style="margin-left:1em">{_words_html(b.prose, mathml)}</p>'
                   if b.prose else "")
            parts.append(
                f"<p><b>{html.escape(b.name)}</b>: "
                f"{_math_html(b.statement.latex, mathml)}</p>{why}"
                '<table><tr><td style="vertical-align:top;text-align:left;padding-right:2em">'
                + "".join(sentences)
                + f'</td><td style="vertical-align:top;text-align:left">{matrix}</td></tr></table>')
    parts.append("</div>")
    return "\n".join(parts)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "&": r"\&",
                "%": r"\%", "$": r"\$", "#": r"\#", "^": r"\^{}", "~": r"\~{}",
                "⊙": r"$\odot$"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _words_latex(words: Sequence[str | _M]) -> str:
    return "".join(_tex_escape(w) if isinstance(w, str) else f"${w.latex}$" for w in words)


def _align_row(label: str, chain: Sequence[_M]) -> str:
    head = rf"\text{{{_tex_escape(label)}}}\quad " if label else ""
    rest = " = ".join(m.latex for m in chain[1:])
    return f"{head}{chain[0].latex} &= {rest}"


def _render_latex(blocks: list[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            out.append(f"\\subsection*{{{_words_latex(b.prose)}}}\n")
        elif b.kind == "prose":
            out.append(_words_latex(b.prose) + "\n")
        else:
            assert b.statement is not None
            rows = []
            for row in b.rows or []:
                rows.append(_align_row(row.label, row.chain))
                rows += [_align_row("and" if k else "where", w)
                         for k, w in enumerate(row.where)]
            rows += [_align_row("matrix form:", c) for c in b.matrix or []]
            why = _words_latex(b.prose) + "\n" if b.prose else ""
            out.append(f"\\paragraph{{{_tex_escape(b.name)}}} ${b.statement.latex}$\n{why}"
                       "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n")
    return "\n".join(out)

"""The compiled tape: record one sample's graph once, replay it over a batch with NumPy.

Training with scalar Values builds a fresh graph for every sample of every
step. The graph of an MLP does not depend on the sample, though: only the
numbers flowing through it do. A ``Tape`` records that graph once, from
placeholder input leaves, and replays it for a whole batch at a time: every
node becomes one vectorised NumPy call over the batch, made with the same
rule (``Rule.apply_array``, next to the scalar ``Rule.apply`` in the rule
table), and the backward pass is the same chain-rule loop, with arrays::

    input.grad += local * node.grad       # one value per sample

Leaves that are not placeholders (parameters, constants) hold one number for
the whole batch. Their gradient is the sum over the batch of every sample's
gradient, which is what one backward of ``sum(loss of each sample)`` gives.

>>> from engine import Value
>>> from engine.tape import Tape
>>> x = Value(0.0, label="x")                 # a placeholder: one value per sample
>>> w = Value(3.0, label="w")                 # a parameter
>>> y = (w * x).tanh()
>>> tape = Tape(y, inputs=[x])
>>> out = tape.forward([[0.0], [0.1], [0.2]])  # three samples, one input each
>>> out[:, 0].round(4).tolist()              # tanh(3 x) for each sample
[0.0, 0.2913, 0.537]
>>> tape.backward()              # d(sum of outputs)/dw = sum of x (1 - tanh(3x)^2)
>>> round(w.grad, 4)
0.2338

NB where this differs from the scalar engine: the recorded graph is fixed,
so a model whose graph depends on the data (a Python ``if`` on a value,
dropout masks) cannot be replayed: ``nn.fit(compiled=True)`` refuses dropout
(see ``nn/compiled.py``), but a Python ``if`` is replayed silently as the branch it took when recording. The stable
formulas of ``nn.functional`` are such branches (softmax and logsumexp shift by
the recorded max, softplus keeps the recorded sign's form): the same function
either way, equal to rounding, but a sample far from the recorded one can make
an ``exp`` overflow (an OverflowError) where the scalar engine would have
shifted differently. The replayed nodes are not Values, so
there is nothing to draw per sample. What runs is the same graph, ops and
derivative rules, vectorised. NumPy is needed for this file only
(``pip install 'chainrule[numpy]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ops import rule, use_numpy
from .value import Value

np = use_numpy()  # a clear ImportError here if NumPy is missing

__all__ = ["Tape"]


def _inputs_first(outputs: Sequence[Value]) -> list[Value]:
    """Every node the outputs depend on, each after all of its inputs (an explicit stack)."""
    order: list[Value] = []
    seen: set[Value] = set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:  # its inputs are all in ``order`` by now
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            for x in reversed(node.inputs):
                if x not in seen:
                    stack.append((x, False))
    return order


# The kinds of edge in the backward pass, fixed when the tape is recorded.
_PER_SAMPLE = 0  # the input differs from sample to sample: an array of grads
_FIXED = 1  # the node and its input are the same for every sample: floats
_SUMMED = 2  # the node differs per sample, its input not: its grad is the batch's sum


def _edge_kind(node_batched: bool, input_batched: bool) -> int:
    if input_batched:
        return _PER_SAMPLE
    return _SUMMED if node_batched else _FIXED


class Tape:
    """A recorded graph, replayed over batches: ``forward(X)``, then ``backward()``.

    Args:
        outputs: the Value (or list of Values) to compute, e.g. a model's outputs
            ``model(xs)`` or one sample's loss.
        inputs: the placeholder leaves whose values change from sample to sample,
            in the order of the columns of ``X`` (e.g. the ``xs`` given to the model;
            a target can be one too).
        parameters: the leaves that receive gradients (e.g. ``model.parameters()``);
            default: every other leaf. Leaves left out are constants.

    Each ``forward`` reads the current ``.data`` of every non-placeholder leaf, so
    a tape recorded once follows the parameters as an optimizer updates them.
    """

    def __init__(
        self,
        outputs: Value | Sequence[Value],
        inputs: Sequence[Value],
        parameters: Sequence[Value] | None = None,
    ) -> None:
        outputs = [outputs] if isinstance(outputs, Value) else list(outputs)
        inputs = list(inputs)
        parameters = None if parameters is None else list(parameters)  # read twice below
        for what, values in (("outputs", outputs), ("inputs", inputs)):
            bad = [v for v in values if not isinstance(v, Value)]
            if bad:
                raise TypeError(f"Tape {what} must be Values, got {bad[0]!r}")
        if not outputs:
            raise ValueError("Tape needs at least one output Value")
        for x in inputs:
            if not x.is_leaf():
                raise ValueError(
                    f"Tape input {x!r} is not a leaf: placeholders are the Values you made "
                    "for one sample's inputs (e.g. [Value(0.0) for _ in range(nin)])"
                )
        is_input = set(inputs)
        if len(is_input) != len(inputs):
            raise ValueError("Tape inputs must be distinct Values (one per column of X)")
        for p in parameters or ():
            if not isinstance(p, Value) or not p.is_leaf() or p in is_input:
                raise ValueError(
                    f"Tape parameter {p!r} must be a leaf Value that is not an input: "
                    "parameters are the weights that receive gradients "
                    "(e.g. model.parameters())"
                )

        self.nodes = _inputs_first(outputs)
        self.inputs, self.outputs = inputs, outputs
        index = {node: i for i, node in enumerate(self.nodes)}
        wanted = None if parameters is None else set(parameters)

        n = len(self.nodes)
        # batched[i]: node i differs from sample to sample (it depends on a placeholder).
        # wants[i]: node i leads to a leaf that receives a gradient.
        batched = [node in is_input for node in self.nodes]
        wants = [False] * n
        self._leaves: list[tuple[int, Value]] = []  # leaves read once per batch
        self._steps: list[tuple] = []  # forward: (i, apply, a, b, arg)
        self._edges: list[tuple] = []  # backward: (node i, its input j, 1 or 2, kind of edge)
        for i, node in enumerate(self.nodes):
            if node._a is None:  # a leaf
                if not batched[i]:
                    self._leaves.append((i, node))
                    wants[i] = wanted is None or node in wanted
                continue
            a = index[node._a]
            b = None if node._b is None else index[node._b]
            batched[i] = batched[a] or (b is not None and batched[b])
            wants[i] = wants[a] or (b is not None and wants[b])
            op = rule(node.op)
            apply = op.apply_array if batched[i] else op.apply
            self._steps.append((i, apply, a, b, node.arg))
            # The edges a gradient must flow through, b's before a's: reversed below.
            if b is not None and wants[b]:
                self._edges.append((i, b, 2, _edge_kind(batched[i], batched[b])))
            if wants[a]:
                self._edges.append((i, a, 1, _edge_kind(batched[i], batched[a])))
        self._edges.reverse()  # outputs first: a node's grad is complete before it is used
        self._batched, self._wants = batched, wants
        self._input_index = [index.get(x) for x in inputs]  # None: an unused input
        self._output_index = [index[o] for o in outputs]
        self._gradient_leaves = [(i, leaf) for i, leaf in self._leaves if wants[i]]
        self._values: list[Any] | None = None
        self._locals: list[Any] | None = None
        self._size = 0

    def __repr__(self) -> str:
        return (f"Tape({len(self.nodes)} nodes: {len(self.inputs)} inputs, "
                f"{len(self._gradient_leaves)} parameters, {len(self.outputs)} outputs)")

    # --- forward -------------------------------------------------------------------

    def forward(self, X: Any) -> Any:
        """Run the recorded graph on every row of ``X`` (shape: samples x inputs).

        Returns a NumPy array of shape samples x outputs, and keeps every node's
        values and local derivatives for ``backward``.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1 and len(self.inputs) == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != len(self.inputs) or X.shape[0] == 0:
            raise ValueError(
                f"Tape.forward needs a non-empty array of shape (samples, {len(self.inputs)}),"
                f" one column per input; got shape {X.shape}"
            )
        columns = np.ascontiguousarray(X.T)
        values: list[Any] = [None] * len(self.nodes)
        local: list[Any] = [None] * len(self.nodes)
        for i, leaf in self._leaves:
            values[i] = leaf.data
        for j, column in enumerate(self._input_index):
            if column is not None:
                values[column] = columns[j]
        # Domain errors are checked explicitly by the rules (as the scalar forms raise
        # them); 0 * inf and the like give nan silently, as with floats.
        with np.errstate(all="ignore"):
            for i, apply, a, b, arg in self._steps:
                try:
                    if b is not None:
                        result = apply(values[a], values[b])
                    elif arg is None:
                        result = apply(values[a])
                    else:
                        result = apply(values[a], arg)
                except (ValueError, ZeroDivisionError, OverflowError) as error:
                    raise self._error(error, i) from None
                values[i] = result[0]
                local[i] = result
        self._values, self._locals, self._size = values, local, X.shape[0]
        return np.column_stack([np.broadcast_to(values[i], X.shape[0])
                                for i in self._output_index])

    def _error(self, error: Exception, i: int) -> Exception:
        node = self.nodes[i]
        name = f" {node.label!r}" if node.label else ""
        return type(error)(
            f"{node.op} ({rule(node.op).expression}) at tape node{name} (node {i} of "
            f"{len(self.nodes)}), for at least one sample of the batch: {error}"
        )

    # --- backward ------------------------------------------------------------------

    def backward(self, grad_outputs: Any = None) -> None:
        """The chain rule over the batch, from the outputs of the last ``forward``.

        ``grad_outputs`` (shape samples x outputs) is d(loss)/d(output) for every
        sample, e.g. from the loss built on the outputs; default: all ones, i.e.
        the gradient of the sum of every output over the batch. Each parameter's
        ``.grad`` gets the sum over the batch added (leaves accumulate, as in
        ``Value.backward``).
        """
        if self._locals is None:
            raise RuntimeError("Tape.backward needs a forward() first")
        size, batched, local = self._size, self._batched, self._locals
        if grad_outputs is None:
            grad_outputs = np.ones((size, len(self.outputs)))
        G = np.asarray(grad_outputs, dtype=np.float64)
        if G.size != size * len(self.outputs):
            raise ValueError(
                f"Tape.backward: grad_outputs needs one value per sample and output, shape "
                f"({size}, {len(self.outputs)}) like the last forward's; got shape {G.shape}"
            )
        G = G.reshape(size, len(self.outputs))
        # inf * 0 is nan here as it is with floats (and in Value.backward): no warnings
        with np.errstate(all="ignore"):
            self._backward(G, size, batched, local)

    def _backward(self, G: Any, size: int, batched: list[bool], local: list[Any]) -> None:
        grads: list[Any] = [None] * len(self.nodes)
        for k, i in enumerate(self._output_index):
            g = G[:, k].copy() if batched[i] else float(G[:, k].sum())
            grads[i] = g if grads[i] is None else grads[i] + g
        for i, j, k, kind in self._edges:  # the chain rule, one edge at a time
            g = grads[i]
            if g is None:
                continue
            d = local[i][k]  # d node / d input (k = 1 for a, 2 for b)
            if kind == _PER_SAMPLE:  # grads[j] += d * g, one value per sample
                # (d is 1.0 for + and -: g itself, shared, is then the contribution,
                # so the sum below makes a new array rather than adding in place)
                contribution = g if isinstance(d, float) and d == 1.0 else d * g
                grads[j] = contribution if grads[j] is None else grads[j] + contribution
                continue
            if kind == _FIXED:  # this node and its input are the same for every sample
                contribution = d * g
            elif isinstance(d, float):  # an input the same for every sample: sum the batch
                contribution = d * float(g.sum())
            else:
                contribution = float(np.dot(d, g))  # the sum of d * g, in one call
            grads[j] = contribution if grads[j] is None else grads[j] + contribution
        for i, leaf in self._gradient_leaves:
            if grads[i] is not None:
                leaf.grad += grads[i]

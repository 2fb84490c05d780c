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

Layers are fused: where the graph shows a layer of neurons (each a chain
``w1*x1 + ... + wn*xn + b`` of mul and add nodes, then one activation, all in one
scope owner of kind ``"layer"``, reading the same inputs), the tape replays the
whole layer as one matrix product ``X W^T + b`` and one vectorised activation, and
its backward as two products (``dZ^T X`` for the weights, ``dZ W`` for the inputs).
The pattern is found in the graph itself (ops, operands, who uses each node); any
node that does not fit replays on its own, as above. The numbers are the same up
to the order of the additions (1e-12 relative, tested); ``Tape(..., fuse=False)``
replays every node with its rule, the reference. The graph is not changed.

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
from operator import attrgetter
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


# --- fusing the layers the graph shows ------------------------------------------------
# A layer of neurons records, for every neuron, z = w1*x1 + w2*x2 + ... + b as a chain
# of mul and add nodes (and a = f(z) as one more node), all in the layer's scope. Over
# a batch those chains are one matrix product: Z = X W^T + b, A = f(Z). The tape finds
# the chains in the graph itself (the ops, the inputs, who uses each node), groups the
# neurons of one layer (same scope owner of kind "layer", same inputs in the same
# order, same activation) and replays each group with one product; every node that
# does not fit the pattern exactly is replayed node by node, as without fusion.


class _Fused:
    """One fused layer: k neurons reading the same n inputs, replayed as Z = X W^T + b."""

    __slots__ = ("inputs", "outputs", "members", "weights", "biases", "flat", "act", "source",
                 "columns", "input_grads", "grad_weights", "grad_biases", "first", "key")

    def __init__(self, inputs: list[int], key: tuple) -> None:
        self.inputs = inputs  # node indices of the n inputs, in the order the chains read them
        self.outputs: list[int] = []  # node index of each neuron's output (a, or z if linear)
        self.members: list[int] = []  # every node the group replaces (its mul, add, f nodes)
        self.flat: list[Value] = []  # the weights, row after row (one row per neuron)
        self.weights: list[list[Value]] = []  # k rows of n weight leaves
        self.biases: list[Value] | None = [] if key[2] else None
        self.act: Any = None  # the activation's Rule, or None (the identity)
        self.source: Any = None  # the _Fused whose outputs are our inputs, in order
        self.columns = True  # other nodes read our outputs one by one
        self.input_grads = True  # some input leads to a parameter
        self.grad_weights: list[tuple[int, Value]] = []  # (flat index, leaf) wanting a grad
        self.grad_biases: list[tuple[int, Value]] = []
        self.first = 0  # where in the order its step runs: after its last input
        self.key = key


def _find_layers(nodes: list[Value], index: dict[Value, int], batched: list[bool],
                 is_input: set[Value], output_index: list[int]) -> tuple[list[_Fused], list[int]]:
    """The fusable layers of the graph, each a group of neuron chains (see above)."""
    uses = [0] * len(nodes)
    for node in nodes:
        if node._a is not None:
            uses[index[node._a]] += 1
            if node._b is not None:
                uses[index[node._b]] += 1
    for i in output_index:
        uses[i] += 1  # an output's value is read by the caller: never an inner node
    users: list[Value | None] = [None] * len(nodes)  # the one user of a node used once
    for node in nodes:
        for x in node.inputs:
            users[index[x]] = node

    def weight(node: Any) -> bool:  # a leaf that is the same for every sample
        return node._a is None and node not in is_input

    def inner(node: Any, owner: Value) -> bool:  # used once, by owner, in its scope
        i = index[node]
        return uses[i] == 1 and users[i] is owner and node._scope == owner._scope

    def chain(top: Value) -> tuple[list[Value], list[Value], Value | None, list[Value]] | None:
        """(weights, inputs, bias, nodes) of ``top`` = w1*x1 + ... + wn*xn (+ b), or None."""
        bias = None
        node: Any = top  # an interior node here: its _a (and _b, for add and mul) are set
        members = [top]
        if node.op == "add" and weight(node._b) and node._a.op in ("add", "mul"):
            bias, node = node._b, node._a
            if not inner(node, top):
                return None
            members.append(node)
        terms: list[Any] = []
        while node.op == "add":
            term, rest = node._b, node._a
            if term.op != "mul" or not inner(term, node) or not inner(rest, node):
                return None
            terms.append(term)
            members += (term, rest)
            node = rest
        if node.op != "mul":
            return None
        terms.append(node)
        ws, xs = [], []
        for term in reversed(terms):
            a, b = term._a, term._b
            if weight(a):
                ws.append(a)
                xs.append(b)
            elif weight(b):
                ws.append(b)
                xs.append(a)
            else:
                return None
        return ws, xs, bias, members

    groups: dict[tuple, _Fused] = {}
    for node in nodes:
        if node.op not in ("add", "mul") or not node._scope:
            continue
        i = index[node]
        user = users[i]
        if uses[i] == 1 and user is not None and user.op == "add" \
                and user._scope == node._scope:
            continue  # inside a longer chain: its top decides
        layer = next((o for o in reversed(node._scope)
                      if getattr(o, "kind", None) == "layer"), None)
        found = chain(node) if layer is not None else None
        if found is None:
            continue
        ws, xs, bias, members = found
        columns = [index[x] for x in xs]
        if not any(batched[j] for j in columns):
            continue  # nothing varies over the batch: leave it to the plain replay
        out, act = node, None
        if uses[i] == 1 and user is not None and user._b is None and user._arg is None \
                and user._scope == node._scope and user.op:
            out, act = user, user.op  # a = f(z): one unary op, z used by it alone
            members.append(user)
        key = (id(layer), tuple(columns), bias is not None, act)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Fused(columns, key)
            group.act = None if act is None else rule(act)
        group.outputs.append(index[out])
        group.members.extend(index[m] for m in members)
        group.weights.append(ws)
        if group.biases is not None and bias is not None:
            group.biases.append(bias)
    return list(groups.values()), uses


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
        fuse: replay the layers the graph shows as matrix products (default), or,
            with False, every node on its own (``layers`` lists the fused ones).

    Each ``forward`` reads the current ``.data`` of every non-placeholder leaf, so
    a tape recorded once follows the parameters as an optimizer updates them.
    """

    def __init__(
        self,
        outputs: Value | Sequence[Value],
        inputs: Sequence[Value],
        parameters: Sequence[Value] | None = None,
        fuse: bool = True,
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
        self.fuse = bool(fuse)
        index = {node: i for i, node in enumerate(self.nodes)}
        wanted = None if parameters is None else set(parameters)
        self._input_index = [index.get(x) for x in inputs]  # None: an unused input
        self._output_index = [index[o] for o in outputs]

        n = len(self.nodes)
        # batched[i]: node i differs from sample to sample (it depends on a placeholder).
        # wants[i]: node i leads to a leaf that receives a gradient.
        batched = [node in is_input for node in self.nodes]
        wants = [False] * n
        for i, node in enumerate(self.nodes):
            if node._a is None:  # a leaf
                wants[i] = not batched[i] and (wanted is None or node in wanted)
                continue
            a = index[node._a]
            b = None if node._b is None else index[node._b]
            batched[i] = batched[a] or (b is not None and batched[b])
            wants[i] = wants[a] or (b is not None and wants[b])
        self._batched, self._wants = batched, wants

        layers: list[_Fused] = []
        uses: list[int] = []
        if self.fuse:
            layers, uses = _find_layers(self.nodes, index, batched, is_input,
                                        self._output_index)
        self._connect(layers, uses, index, wants)
        fused = {i for layer in layers for i in layer.members}
        self.layers = layers

        # The program: segments of plain steps, each followed by one fused layer (or
        # none, for the last). A layer runs right after the last of its inputs is made.
        self._program: list[tuple[list[tuple], _Fused | None, list[tuple]]] = []
        starts = sorted(layers, key=lambda layer: layer.first)
        steps: list[tuple] = []  # forward: (i, apply, a, b, arg)
        edges: list[tuple] = []  # backward: (node i, its input j, 1 or 2, kind of edge)
        read: set[int] = set(self._output_index)  # nodes whose values a plain step reads
        for layer in layers:
            read.update(j for j in layer.inputs)
        k = 0
        for i, node in enumerate(self.nodes):
            if node._a is not None and i not in fused:
                a = index[node._a]
                b = None if node._b is None else index[node._b]
                read.add(a)
                if b is not None:
                    read.add(b)
                op = rule(node.op)
                apply = op.apply_array if batched[i] else op.apply
                steps.append((i, apply, a, b, node.arg))
                # The edges a gradient must flow through, b's before a's: reversed below.
                if b is not None and wants[b]:
                    edges.append((i, b, 2, _edge_kind(batched[i], batched[b])))
                if wants[a]:
                    edges.append((i, a, 1, _edge_kind(batched[i], batched[a])))
            while k < len(starts) and starts[k].first == i:
                edges.reverse()  # outputs first: a node's grad is complete before it is used
                self._program.append((steps, starts[k], edges))
                steps, edges = [], []
                k += 1
        edges.reverse()
        self._program.append((steps, None, edges))
        # Leaves read once per batch: those a plain step reads (a fused layer reads its
        # weights itself); gradient leaves: those a plain edge reaches.
        self._leaves = [(i, node) for i, node in enumerate(self.nodes)
                        if node._a is None and not batched[i] and i in read]
        self._gradient_leaves = [(i, leaf) for i, leaf in self._leaves if wants[i]]
        self._parameters = sum(wants[i] for i, node in enumerate(self.nodes)
                               if node._a is None)
        self._values: list[Any] | None = None
        self._locals: list[Any] | None = None
        self._state: dict[_Fused, tuple] = {}
        self._size = 0

    def _connect(self, layers: list[_Fused], uses: list[int], index: dict[Value, int],
                 wants: list[bool]) -> None:
        """Where each fused layer reads its inputs from, and what it must write."""
        made_by = {}  # output node -> (its layer, its column)
        for layer in layers:
            for c, i in enumerate(layer.outputs):
                made_by[i] = (layer, c)
        fixed: set[_Fused] = set()
        for layer in layers:
            layer.first = max(layer.inputs)
            layer.input_grads = any(wants[j] for j in layer.inputs)
            if layer.inputs == self._input_index:
                layer.source = _FROM_X  # the batch itself, as given
                continue
            owners = {made_by[j][0] for j in layer.inputs if j in made_by}
            if len(owners) != 1 or not all(j in made_by for j in layer.inputs):
                continue
            (source,) = owners
            order = [made_by[j][1] for j in layer.inputs]
            if sorted(order) != list(range(len(source.outputs))):
                continue  # not exactly the other layer's outputs, each once
            if order != sorted(order):
                if source in fixed:
                    continue  # another layer reads it in another order: by columns
                source.outputs = [source.outputs[c] for c in order]
                source.weights = [source.weights[c] for c in order]
                if source.biases is not None:
                    source.biases = [source.biases[c] for c in order]
                for c, i in enumerate(source.outputs):
                    made_by[i] = (source, c)
            fixed.add(source)
            layer.source = source
        for layer in layers:
            layer.flat = [w for row in layer.weights for w in row]
            layer.grad_weights = [(f, w) for f, w in enumerate(layer.flat) if wants[index[w]]]
            layer.grad_biases = [(f, b) for f, b in enumerate(layer.biases or ())
                                 if wants[index[b]]]
            # By columns, unless every use of every output is a layer reading our matrix.
            readers = sum(len(other.outputs) for other in layers if other.source is layer)
            layer.columns = any(uses[i] != readers for i in layer.outputs)

    def __repr__(self) -> str:
        fused = f", {len(self.layers)} fused layers" if self.layers else ""
        return (f"Tape({len(self.nodes)} nodes: {len(self.inputs)} inputs, "
                f"{self._parameters} parameters, {len(self.outputs)} outputs{fused})")

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
        size = X.shape[0]
        columns = X.T  # column j: input j of every sample (a view: no copy)
        values: list[Any] = [None] * len(self.nodes)
        local: list[Any] = [None] * len(self.nodes)
        state: dict[_Fused, tuple] = {}
        for i, leaf in self._leaves:
            values[i] = leaf.data
        for j, column in enumerate(self._input_index):
            if column is not None:
                values[column] = columns[j]
        # Domain errors are checked explicitly by the rules (as the scalar forms raise
        # them); 0 * inf and the like give nan silently, as with floats.
        with np.errstate(all="ignore"):
            for steps, layer, _ in self._program:
                for i, apply, a, b, arg in steps:
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
                if layer is not None:
                    self._layer_forward(layer, X, values, state, size)
        self._values, self._locals, self._state, self._size = values, local, state, size
        return np.column_stack([np.broadcast_to(values[i], size)
                                for i in self._output_index])

    def _layer_forward(self, layer: _Fused, X: Any, values: list[Any],
                       state: dict[_Fused, tuple], size: int) -> None:
        """Z = X W^T + b and A = f(Z) for every sample: one fused layer's forward."""
        if layer.source is _FROM_X:
            inputs = X
        elif layer.source is not None:
            inputs = state[layer.source][2]  # the outputs of the layer before, as a matrix
        else:
            inputs = np.column_stack([np.broadcast_to(values[j], size) for j in layer.inputs])
        k, n = len(layer.outputs), len(layer.inputs)
        W = np.fromiter(map(_DATA, layer.flat), np.float64, k * n).reshape(k, n)
        Z = inputs @ W.T
        if layer.biases is not None:
            Z += np.fromiter(map(_DATA, layer.biases), np.float64, k)
        D = None
        if layer.act is not None:
            try:
                Z, D = layer.act.apply_array(Z)
            except (ValueError, ZeroDivisionError, OverflowError) as error:
                raise self._error(error, layer.outputs[0]) from None
        state[layer] = (inputs, W, Z, D)
        if layer.columns:
            for c, i in enumerate(layer.outputs):
                values[i] = Z[:, c]

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
        matrices: dict[_Fused, Any] = {}  # d/d(outputs) of a layer, from the layers after it
        for k, i in enumerate(self._output_index):
            g = G[:, k].copy() if batched[i] else float(G[:, k].sum())
            grads[i] = g if grads[i] is None else grads[i] + g
        for _, layer, edges in reversed(self._program):
            if layer is not None:
                self._layer_backward(layer, grads, matrices, size)
            for i, j, k, kind in edges:  # the chain rule, one edge at a time
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

    def _layer_backward(self, layer: _Fused, grads: list[Any], matrices: dict[_Fused, Any],
                        size: int) -> None:
        """One fused layer's backward: what its mul, add and f nodes' edges would pass on.

        With G the gradient of the outputs (samples x neurons): dZ = G f'(Z), then
        the weights get dZ^T X (summed over the batch), the biases the column sums
        of dZ, and the inputs dZ W, one matrix product each.
        """
        G = matrices.pop(layer, None)
        if layer.columns:
            parts = [grads[i] for i in layer.outputs]
            if any(g is not None for g in parts):
                by_column = np.column_stack([np.zeros(size) if g is None
                                             else np.broadcast_to(g, size) for g in parts])
                G = by_column if G is None else G + by_column
        if G is None:
            return  # no gradient reaches this layer
        inputs, W, _, D = self._state[layer]
        dZ = G if D is None else G * D
        if layer.grad_weights:
            dW = (dZ.T @ inputs).ravel().tolist()
            if len(layer.grad_weights) == len(dW):
                for w, g in zip(layer.flat, dW):
                    w.grad += g
            else:
                for f, w in layer.grad_weights:
                    w.grad += dW[f]
        if layer.grad_biases:
            db = dZ.sum(axis=0).tolist()
            for f, b in layer.grad_biases:
                b.grad += db[f]
        if not layer.input_grads:
            return
        dX = dZ @ W
        source = layer.source
        if isinstance(source, _Fused):
            matrices[source] = dX if source not in matrices else matrices[source] + dX
            return
        batched, wants = self._batched, self._wants
        for c, j in enumerate(layer.inputs):
            if wants[j]:
                g = dX[:, c] if batched[j] else float(dX[:, c].sum())
                grads[j] = g if grads[j] is None else grads[j] + g


_FROM_X = "the batch"  # a layer that reads the tape's inputs, in order: X itself
_DATA = attrgetter("data")

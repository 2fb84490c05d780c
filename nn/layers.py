"""Network parts built from ``Value`` nodes: ``Neuron``, ``Layer``, ``MLP``, ``Dropout``.

A neuron computes ``z = w.x + b`` (pre-activation) and ``a = f(z)``
(activation), with engine ops only: its gradients come from the graph that
``backward()`` walks, never from a hand-written layer derivative.

Node labels follow the lecture notes' indices (1-based): weights
``w<l>.<i>.<j>``, biases ``b<l>.<i>``, pre-activations ``z<l>.<i>``,
activations ``a<l>.<i>`` (layer l, neuron i, input j); numeric inputs become
leaves ``x<j>``. A ``"linear"`` neuron's output *is* its pre-activation: one
node, labelled ``z<l>.<i>``. (The notes count the input as layer 1, so our
layer l is their layer l + 1.)

Initialisation (``init=``), reproducible from ``seed`` through its own
``random.Random`` (the global random state is never touched):

* ``"lecun"`` (default, as the notes advise): w ~ N(0, 1/nin), b = 0;
* ``"xavier"``: w ~ N(0, 2/(nin + nout)) (Glorot), b = 0;
* ``"he"``: w ~ N(0, 2/nin) (for ReLU), b = 0;
* ``"uniform"``: w ~ U(-1, 1), b = 0 (as micrograd does);
* ``"zeros"``: every weight 0. With tanh or ReLU hidden units (f(0) = 0) every
  hidden gradient is then exactly 0: the network is dead, not merely symmetric. To
  watch symmetry at work, set every weight to one equal nonzero value instead: the
  units of a layer then get equal gradients and stay identical.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from engine import Value
from engine.value import scope

from .module import Module, _inputs

__all__ = ["Neuron", "Layer", "MLP", "Dropout", "ACTIVATIONS", "INITS"]

#: activation name -> the Value method that applies it (None: the identity, no node).
ACTIVATIONS = {
    "tanh": "tanh",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "linear": None,
}

INITS = ("lecun", "xavier", "he", "uniform", "zeros")

Seed = int | random.Random | None


def _rng(seed: Seed) -> random.Random:
    """A private random generator: from an int seed, shared if given one, fresh if None."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random()
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an int (or None), got {type(seed).__name__} {seed!r}")
    return random.Random(int(seed))


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return int(value)


def _check_activation(activation: Any) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(map(repr, ACTIVATIONS))}"
        )
    return activation


def _check_init(init: Any) -> str:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(map(repr, INITS))}")
    return init


def _check_bias(bias: Any) -> bool:
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    return bias


def _initial_weight(init: str, nin: int, nout: int, rng: random.Random) -> float:
    if init == "lecun":
        return rng.gauss(0.0, math.sqrt(1.0 / nin))
    if init == "xavier":
        return rng.gauss(0.0, math.sqrt(2.0 / (nin + nout)))
    if init == "he":
        return rng.gauss(0.0, math.sqrt(2.0 / nin))
    if init == "uniform":
        return rng.uniform(-1.0, 1.0)
    return 0.0  # "zeros"


class Neuron(Module):
    """One unit: ``a = f(w.x + b)``.

    >>> n = Neuron(2, activation="tanh", seed=0)
    >>> n
    Neuron(2 inputs, tanh(w.x + b))
    >>> [p.label for p in n.parameters()]
    ['w1.1.1', 'w1.1.2', 'b1.1']
    >>> out = n([1.0, -2.0])       # always a list, here of one Value
    >>> out[0].label, out[0].inputs[0].label
    ('a1.1', 'z1.1')

    Attributes: ``w`` (list of weight Values), ``b`` (bias Value, or None
    with ``bias=False``), ``activation``, ``formula`` (e.g. ``"tanh(w.x + b)"``).
    ``seed`` may also be a ``random.Random`` to draw from (layers share one this
    way); ``fan_out`` is the width of the neuron's layer, used by ``"xavier"``.
    """

    kind = "neuron"

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        bias: bool = True,
        init: str = "lecun",
        seed: Seed = None,
        *,
        fan_out: int = 1,
    ) -> None:
        self.n_inputs = _check_count(nin, "Neuron nin")
        self.activation = _check_activation(activation)
        self.init = _check_init(init)
        fan_out = _check_count(fan_out, "Neuron fan_out")
        rng = _rng(seed)
        self.w = [Value(_initial_weight(self.init, self.n_inputs, fan_out, rng))
                  for _ in range(self.n_inputs)]
        self.b = Value(0.0) if _check_bias(bias) else None
        self._place(1, 1)

    def _place(self, layer: int, index: int) -> None:
        """Set this neuron's position (layer, index; 1-based): its name and its nodes' labels."""
        self.layer_index, self.index = layer, index
        self.name = f"layer {layer}, neuron {index}"
        for j, w in enumerate(self.w, start=1):
            w.label = f"w{layer}.{index}.{j}"
        if self.b is not None:
            self.b.label = f"b{layer}.{index}"

    @property
    def formula(self) -> str:
        """The neuron's computation in words, e.g. ``"tanh(w.x + b)"``."""
        inner = "w.x + b" if self.b is not None else "w.x"
        return inner if self.activation == "linear" else f"{self.activation}({inner})"

    def nin(self) -> int:
        return self.n_inputs

    def _own_parameters(self) -> list[tuple[str, Value]]:
        pairs = [(f"w{self.layer_index}.{self.index}.{j}", w) for j, w in enumerate(self.w, 1)]
        if self.b is not None:
            pairs.append((f"b{self.layer_index}.{self.index}", self.b))
        return pairs

    def _own_values(self) -> list[Value]:
        return self.w + [self.b] if self.b is not None else list(self.w)

    def forward(self, xs: list[Value]) -> list[Value]:
        """``[f(w.x + b)]``: the sum runs left to right, w1*x1 + w2*x2 + ... + b."""
        z = self.w[0] * xs[0]
        for w, x in zip(self.w[1:], xs[1:]):
            z = z + w * x
        if self.b is not None:
            z = z + self.b
        where = f"{self.layer_index}.{self.index}"
        z.label = f"z{where}"
        method = ACTIVATIONS[self.activation]
        if method is None:
            return [z]
        a = getattr(z, method)()
        a.label = f"a{where}"
        return [a]

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "nin": self.n_inputs, "activation": self.activation,
                "bias": self.b is not None}

    @classmethod
    def config_size(cls, config: dict[str, Any]) -> int:
        _check_keys(config, {"kind", "nin", "activation", "bias"})
        return _check_count(config["nin"], "nin") + _check_bias(config["bias"])

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Neuron:
        _check_keys(config, {"kind", "nin", "activation", "bias"})
        return cls(config["nin"], activation=config["activation"], bias=config["bias"])

    def __repr__(self) -> str:
        return f"Neuron({self.n_inputs} inputs, {self.formula})"


class Layer(Module):
    """``nout`` neurons that all read the same ``nin`` inputs.

    >>> Layer(2, 3, activation="relu", seed=0)
    Layer(2 -> 3 relu, 9 parameters)

    Calling it returns a list of ``nout`` Values. ``.neurons`` holds the neurons.
    """

    kind = "layer"

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        bias: bool = True,
        init: str = "lecun",
        seed: Seed = None,
    ) -> None:
        self.n_inputs = _check_count(nin, "Layer nin")
        self.n_outputs = _check_count(nout, "Layer nout")
        self.activation = _check_activation(activation)
        self.bias = _check_bias(bias)
        rng = _rng(seed)
        self.neurons = [
            Neuron(nin, activation, bias, init, rng, fan_out=self.n_outputs)
            for _ in range(self.n_outputs)
        ]
        self._place(1)

    def _place(self, layer: int) -> None:
        """Set this layer's position (1-based): its name and its neurons' names and labels."""
        self.layer_index = layer
        self.name = f"layer {layer}"
        for i, n in enumerate(self.neurons, start=1):
            n._place(layer, i)

    def nin(self) -> int:
        return self.n_inputs

    def children(self) -> list[Module]:
        return list(self.neurons)

    def forward(self, xs: list[Value]) -> list[Value]:
        return [n._run(xs)[0] for n in self.neurons]

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "nin": self.n_inputs, "nout": self.n_outputs,
                "activation": self.activation, "bias": self.bias}

    @classmethod
    def config_size(cls, config: dict[str, Any]) -> int:
        _check_keys(config, {"kind", "nin", "nout", "activation", "bias"})
        nin, nout = _check_count(config["nin"], "nin"), _check_count(config["nout"], "nout")
        return (nin + _check_bias(config["bias"])) * nout

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        _check_keys(config, {"kind", "nin", "nout", "activation", "bias"})
        return cls(config["nin"], config["nout"], activation=config["activation"],
                   bias=config["bias"])

    def __repr__(self) -> str:
        return (f"Layer({self.n_inputs} -> {self.n_outputs} {self.activation}, "
                f"{self.num_parameters()} parameters)")


class Dropout(Module):
    """Inverted dropout: in training, zero each input with probability ``p`` and
    scale the others by ``1 / (1 - p)``; in ``eval()`` mode, the identity.

    Scaling in training (not at test time) keeps each output's expected value
    equal to its input, so evaluation needs no change. The mask of the last
    call is kept in ``last_mask`` (1 = kept, 0 = dropped) for inspection.

    >>> d = Dropout(0.5, seed=0)
    >>> [v.data for v in d([1.0, 2.0, 3.0, 4.0])]    # training: dropped or doubled
    [0.0, 0.0, 6.0, 8.0]
    >>> [v.data for v in d.eval()([1.0, 2.0, 3.0, 4.0])]
    [1.0, 2.0, 3.0, 4.0]
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5, seed: Seed = None) -> None:
        if isinstance(p, bool) or not isinstance(p, Real) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"Dropout p must be a probability in [0, 1], got {p!r}")
        self.p: float = float(p)
        self.rng: random.Random = _rng(seed)
        self.name = "dropout"
        self.last_mask: list[int] | None = None

    def nin(self) -> None:
        return None

    def forward(self, xs: list[Value]) -> list[Value]:
        if not self.training or self.p == 0.0:
            self.last_mask = None
            return list(xs)
        keep = 1.0 - self.p
        mask = [1 if self.rng.random() < keep else 0 for _ in xs]
        self.last_mask = mask
        scale = 1.0 / keep if keep > 0.0 else 0.0
        return [x * (scale if m else 0.0) for x, m in zip(xs, mask)]

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "p": self.p}

    @classmethod
    def config_size(cls, config: dict[str, Any]) -> int:
        _check_keys(config, {"kind", "p"})
        return 0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dropout:
        _check_keys(config, {"kind", "p"})
        return cls(config["p"])

    def __repr__(self) -> str:
        mode = "" if self.training else ", eval"
        return f"Dropout(p={self.p:g}{mode})"


class MLP(Module):
    """A multi-layer perceptron: fully connected layers, one after another.

    ``nouts`` lists each layer's width; hidden layers use ``activation``, the
    last one ``output_activation``. With ``dropout > 0`` a ``Dropout`` follows
    every hidden layer (active in ``train()`` mode only).

    >>> model = MLP(2, [16, 16, 1], activation="relu", seed=0)
    >>> model
    MLP(2 -> [16 relu, 16 relu, 1 linear], 337 parameters)
    >>> out = model([1.0, -1.0])   # a list of one Value: the linear output z3.1
    >>> len(out), out[0].label
    (1, 'z3.1')

    Attributes: ``layers`` (the Layers, in order), ``dropouts`` (one Dropout
    per hidden layer, or empty), ``activation``, ``output_activation``.
    """

    kind = "mlp"

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "linear",
        bias: bool = True,
        init: str = "lecun",
        seed: Seed = None,
        dropout: float = 0.0,
    ) -> None:
        self.n_inputs = _check_count(nin, "MLP nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(
                f"MLP nouts must be a non-empty list of layer widths, e.g. [16, 16, 1], got {nouts!r}"
            )
        self.nouts = [_check_count(n, f"MLP layer {k} width") for k, n in enumerate(nouts, 1)]
        self.activation = _check_activation(activation)
        self.output_activation = _check_activation(output_activation)
        self.bias = _check_bias(bias)
        self.init = _check_init(init)
        if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0 <= dropout < 1:
            raise ValueError(f"MLP dropout must be a probability in [0, 1), got {dropout!r}")
        self.dropout: float = float(dropout)
        rng = _rng(seed)
        sizes = [self.n_inputs] + self.nouts
        last = len(self.nouts)
        self.layers: list[Layer] = []
        for k in range(1, last + 1):
            act = self.output_activation if k == last else self.activation
            layer = Layer(sizes[k - 1], sizes[k], act, self.bias, self.init, rng)
            layer._place(k)
            self.layers.append(layer)
        # Dropout masks come from their own stream, so adding dropout does not change the weights.
        self.dropouts: list[Dropout] = []
        if self.dropout > 0:
            drop_rng = random.Random(rng.getrandbits(64))
            for k in range(1, last):
                d = Dropout(self.dropout, seed=drop_rng)
                d.name = f"dropout after layer {k}"
                self.dropouts.append(d)
        self.name = "mlp"

    def nin(self) -> int:
        return self.n_inputs

    def children(self) -> list[Module]:
        out: list[Module] = []
        for k, layer in enumerate(self.layers):
            out.append(layer)
            if k < len(self.dropouts):
                out.append(self.dropouts[k])
        return out

    def forward(self, xs: list[Value]) -> list[Value]:
        return self._layer_outputs(xs)[-1]

    def layer_outputs(self, x: Sequence[Any]) -> list[list[Value]]:
        """Run the MLP on one sample like a call, but return every layer's output list, in
        order (after the layer's dropout, if any); the last one is the model's output."""
        xs = _inputs(self, x)
        with scope(self):
            return self._layer_outputs(xs)

    def _layer_outputs(self, xs: list[Value]) -> list[list[Value]]:
        outs: list[list[Value]] = []
        for child in self.children():
            xs = child._run(xs)
            if isinstance(child, Layer):
                outs.append(xs)
            else:  # a dropout replaces its layer's output
                outs[-1] = xs
        return outs

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "nin": self.n_inputs, "nouts": list(self.nouts),
                "activation": self.activation, "output_activation": self.output_activation,
                "bias": self.bias, "dropout": self.dropout}

    @classmethod
    def config_size(cls, config: dict[str, Any]) -> int:
        _check_keys(config, {"kind", "nin", "nouts", "activation", "output_activation",
                             "bias", "dropout"})
        nouts = config["nouts"]
        if not isinstance(nouts, list) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of widths, got {nouts!r}")
        sizes = [_check_count(config["nin"], "nin")] + [_check_count(n, "width") for n in nouts]
        bias = _check_bias(config["bias"])
        return sum((sizes[k] + bias) * sizes[k + 1] for k in range(len(nouts)))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MLP:
        _check_keys(config, {"kind", "nin", "nouts", "activation", "output_activation",
                             "bias", "dropout"})
        return cls(config["nin"], config["nouts"], activation=config["activation"],
                   output_activation=config["output_activation"], bias=config["bias"],
                   dropout=config["dropout"])

    def __repr__(self) -> str:
        parts = []
        for k, layer in enumerate(self.layers):
            parts.append(f"{layer.n_outputs} {layer.activation}")
            if k < len(self.dropouts):
                parts.append(f"dropout {self.dropout:g}")
        return f"MLP({self.n_inputs} -> [{', '.join(parts)}], {self.num_parameters()} parameters)"


def _check_keys(config: dict[str, Any], keys: set[str]) -> None:
    missing = sorted(keys - set(config))
    unexpected = sorted(set(config) - keys)
    if missing or unexpected:
        raise ValueError(f"architecture keys: missing {missing}, unexpected {unexpected}")

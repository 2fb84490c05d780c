"""The graduation path: move a model to PyTorch and back, weights and all.

``to_torch(model)`` builds a ``torch.nn.Sequential`` of ``Linear`` layers
(float64) and activation modules with exactly the model's weights, so the
same input gives the same output (to rounding) and the same gradients.
``from_torch(seq)`` turns such a Sequential back into an ``MLP``.

PyTorch is optional: it is imported only when these functions run, and a
missing install raises an ``ImportError`` that says how to get it.

Mapping: neuron i of layer l is row i of ``Linear.weight`` (weights
``w<l>.<i>.<j>`` are ``weight[i-1, j-1]``) and entry i of ``Linear.bias``.
"""

from __future__ import annotations

import math
from typing import Any

from .layers import MLP, Layer, Neuron
from .module import Module

__all__ = ["to_torch", "from_torch"]

_TORCH_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "to_torch/from_torch need PyTorch, which is not installed "
            f"({error}). Install the CPU build with: pip install torch==2.13.0 "
            "(or the extra: pip install 'chainrule[torch]')"
        ) from None
    return torch


def _as_layers(model: Module) -> tuple[list[list[Neuron]], float]:
    """The model's neurons, layer by layer, and its dropout probability."""
    if isinstance(model, MLP):
        return [layer.neurons for layer in model.layers], model.dropout
    if isinstance(model, Layer):
        return [model.neurons], 0.0
    if isinstance(model, Neuron):
        return [[model]], 0.0
    raise TypeError(
        f"to_torch needs an nn MLP, Layer or Neuron, got {type(model).__name__} {model!r}"
    )


def to_torch(model: Module) -> Any:
    """A ``torch.nn.Sequential`` (float64) computing the same function with the same weights.

    Works for an ``MLP``, a ``Layer`` or a ``Neuron``. A linear activation
    adds no module; an MLP with dropout gets ``torch.nn.Dropout(p)`` after each
    hidden layer (its masks are PyTorch's, not ours). The Sequential is in the
    model's mode (``train()`` or ``eval()``).
    """
    layers, p = _as_layers(model)
    torch = _torch()
    modules = []
    for k, neurons in enumerate(layers):
        first = neurons[0]
        bias = first.b is not None
        linear = torch.nn.Linear(first.n_inputs, len(neurons), bias=bias, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in neurons],
                                             dtype=torch.float64))
            if bias:
                biases = [n.b.data for n in neurons if n.b is not None]  # all have one
                linear.bias.copy_(torch.tensor(biases, dtype=torch.float64))
        modules.append(linear)
        if first.activation != "linear":
            modules.append(getattr(torch.nn, _TORCH_ACTIVATIONS[first.activation])())
        if p > 0 and k < len(layers) - 1:
            modules.append(torch.nn.Dropout(p))
    seq = torch.nn.Sequential(*modules)
    seq.train(model.training)
    return seq


def from_torch(seq: Any) -> MLP:
    """An ``MLP`` with the weights of a ``torch.nn.Sequential`` of ``Linear`` layers.

    Each ``Linear`` may be followed by one of ``Tanh``, ``ReLU``, ``Sigmoid``
    (or ``Identity``), and hidden layers by ``Dropout`` (the same p after each
    hidden layer). All ``Linear`` layers must agree on having a bias, and
    every hidden layer must use the same activation (as in ``MLP``). Anything
    else, or a weight that is NaN or infinite, raises a ``ValueError`` naming
    the module (as ``load_model`` refuses such a file).
    """
    torch = _torch()
    if not isinstance(seq, torch.nn.Sequential):
        raise TypeError(f"from_torch needs a torch.nn.Sequential, got {type(seq).__name__}")
    names = {v: k for k, v in _TORCH_ACTIVATIONS.items()}
    specs: list[dict[str, Any]] = []  # one per Linear: weight, bias, activation, dropout
    for position, module in enumerate(seq):
        kind = type(module).__name__
        where = f"from_torch: module {position} ({kind})"
        if isinstance(module, torch.nn.Linear):
            weight = module.weight.detach().double().tolist()
            bias = None if module.bias is None else module.bias.detach().double().tolist()
            _check_finite({f"weight[{i}, {j}]": v for i, row in enumerate(weight)
                           for j, v in enumerate(row)}, where)
            _check_finite({f"bias[{i}]": v for i, v in enumerate(bias or [])}, where)
            specs.append({"weight": weight, "bias": bias,
                          "activation": "linear", "dropout": 0.0, "in": module.in_features})
            continue
        if not specs:
            raise ValueError(f"{where} comes before any Linear layer; the first must be Linear")
        last = specs[-1]
        if kind in names or isinstance(module, torch.nn.Identity):
            if last["activation"] != "linear" or last["dropout"]:
                raise ValueError(f"{where}: a second activation after one Linear is not supported")
            if kind in names:
                last["activation"] = names[kind]
        elif isinstance(module, torch.nn.Dropout):
            last["dropout"] = float(module.p)
        else:
            raise ValueError(
                f"{where} is not supported; an MLP has Linear, Tanh, ReLU, Sigmoid, "
                "Identity and Dropout modules only"
            )
    if not specs:
        raise ValueError("from_torch: the Sequential has no Linear layer")
    hidden, output = specs[:-1], specs[-1]
    if output["dropout"]:
        raise ValueError("from_torch: Dropout after the output layer is not supported")
    for name, values in (("activation", {s["activation"] for s in hidden}),
                         ("dropout", {s["dropout"] for s in hidden}),
                         ("bias", {s["bias"] is None for s in specs})):
        if len(values) > 1:
            raise ValueError(
                f"from_torch: the layers differ in {name} ({sorted(map(str, values))}); "
                "an MLP uses one hidden activation, one dropout p and bias everywhere or nowhere"
            )
    for k in range(1, len(specs)):
        if specs[k]["in"] != len(specs[k - 1]["weight"]):
            raise ValueError(f"from_torch: Linear layer {k + 1} takes {specs[k]['in']} inputs "
                             f"but layer {k} gives {len(specs[k - 1]['weight'])}")
    model = MLP(
        specs[0]["in"],
        [len(s["weight"]) for s in specs],
        activation=hidden[0]["activation"] if hidden else "tanh",
        output_activation=output["activation"],
        bias=output["bias"] is not None,
        init="zeros",
        dropout=hidden[0]["dropout"] if hidden else 0.0,
    )
    for layer, spec in zip(model.layers, specs):
        for i, neuron in enumerate(layer.neurons):
            for w, value in zip(neuron.w, spec["weight"][i]):
                w.data = float(value)
            if neuron.b is not None:
                neuron.b.data = float(spec["bias"][i])
    model.train(bool(seq.training))
    return model


def _check_finite(values: dict[str, float], where: str) -> None:
    """Refuse NaN and infinite weights, as a model file holding them is refused."""
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} is {value}, not a finite number; "
                             "an nn model holds finite weights only")

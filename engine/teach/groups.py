"""How the drawer sees ``nn`` modules: which nodes belong to which module.

Nodes made inside ``engine.value.scope(owner)`` blocks remember their owners
(``node.scope``, outermost first). This file reads those owners through the
scope protocol documented at ``engine.value.scope`` (``kind``, ``name``,
``parameters()``, ``formula``) and nothing else, so it works for any object
that offers them and never imports ``nn``:

* ``module_paths``: each node's owner path, parameters placed with their owner;
* ``find_neurons``: for ``draw_graph(collapse=True)``, which nodes merge into
  which neuron call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..value import Value

__all__ = ["kind_of", "owner_name", "owner_parameters", "owner_formula", "module_paths", "Neurons",
           "find_neurons"]


def kind_of(owner: Any) -> str | None:
    """The owner's ``kind`` ("neuron", "layer", ...), or None if it has no str kind."""
    kind = getattr(owner, "kind", None)
    return kind if isinstance(kind, str) else None


def owner_name(owner: Any) -> str:
    """The owner's ``name`` (e.g. "neuron 1.2"), else its class name."""
    name = getattr(owner, "name", None)
    return name if isinstance(name, str) and name else type(owner).__name__


def owner_formula(owner: Any) -> str | None:
    """The owner's ``formula`` (e.g. "tanh(w.x + b)"), or None."""
    formula = getattr(owner, "formula", None)
    return formula if isinstance(formula, str) and formula else None


def owner_parameters(owner: Any) -> list[Value]:
    """The Values the owner's ``parameters()`` lists ([] if it has none or it fails)."""
    method = getattr(owner, "parameters", None)
    if not callable(method):
        return []
    try:
        return [p for p in method() if isinstance(p, Value)]
    except Exception:  # an owner we do not know: not worth failing a drawing for
        return []


def module_paths(order: list[Value]) -> tuple[dict[Value, tuple], set[Value]]:
    """Each node's module path, and the set of parameter leaves of those modules.

    Nodes made in a module's forward remember it in ``node.scope``. Parameters
    are made before (in the module's constructor), so a leaf that an owner lists
    in its ``parameters()`` gets the path of its innermost such owner.
    """
    scopes = {node: node.scope for node in order}
    paths: dict[int, tuple] = {}  # id(owner) -> owner path, outermost first
    for node in order:
        path = node.scope
        for depth in range(len(path)):
            paths.setdefault(id(path[depth]), path[: depth + 1])
    parameters: set[Value] = set()
    for path in sorted(paths.values(), key=len):  # inner owners last: they win
        for p in owner_parameters(path[-1]):
            parameters.add(p)
            if p in scopes and p.is_leaf():
                scopes[p] = path
    return scopes, parameters


@dataclass
class Neurons:
    """For ``collapse``: which nodes merge into which neuron node.

    A neuron called several times (once per sample of a batch) gives one node per
    call: nodes made in one ``scope()`` block share one scope tuple, which tells
    the calls apart. Its parameters are merged into its node only when it is
    called once; otherwise they stay leaves, with an edge to every call.
    """

    of: dict[Value, int] = field(default_factory=dict)  # node -> key of its neuron call
    owner: dict[int, Any] = field(default_factory=dict)  # call key -> the neuron
    calls: dict[int, list[int]] = field(default_factory=dict)  # id(neuron) -> its call keys
    members: dict[int, list[Value]] = field(default_factory=dict)  # call key -> its nodes
    output: dict[int, Value] = field(default_factory=dict)  # call key -> the node it outputs

    def sources(self, key: int) -> list[Value]:
        """The Values from outside a neuron call that its nodes read, in order of first use
        (for an ``nn`` neuron: its inputs x1, x2, ..., then, in a batch, its parameters)."""
        inside = set(self.members[key])
        seen: dict[Value, None] = {}
        for m in self.members[key]:
            for i in m.inputs:
                if i not in inside:
                    seen.setdefault(i, None)
        return list(seen)

    def pre_activation(self, key: int) -> Value:
        """The call's pre-activation z: the input of its output's one-input op (``a =
        tanh(z)``) when that input is made inside the call; else the output itself (a
        linear neuron's output is its z). A neuron's delta is dL/dz of this node."""
        out = self.output[key]
        if len(out.inputs) == 1 and out.inputs[0] in set(self.members[key]):
            return out.inputs[0]
        return out

    def name(self, key: int) -> str:
        owner = self.owner[key]
        calls = self.calls[id(owner)]
        if len(calls) == 1:
            return owner_name(owner)
        return f"{owner_name(owner)} (call {calls.index(key) + 1})"


def find_neurons(order: list[Value], scopes: dict[Value, tuple], root: Value) -> Neurons:
    found = Neurons()
    parameters: list[tuple[Value, Any]] = []
    for node in order:
        path = scopes[node]
        owner = next((o for o in reversed(path) if kind_of(o) == "neuron"), None)
        if owner is None:
            continue
        if path is not node.scope:  # a parameter, placed with its owner by _scopes
            parameters.append((node, owner))
            continue
        key = id(path) if path[-1] is owner else id(owner)
        found.of[node] = key
        if key not in found.owner:
            found.owner[key] = owner
            found.calls.setdefault(id(owner), []).append(key)
    for p, owner in parameters:
        keys = found.calls.get(id(owner), [])
        if len(keys) == 1:
            found.of[p] = keys[0]
    # A call's output: its last node that is used outside it (or is the root).
    used_outside: set[Value] = {root}
    for node in order:
        if node in found.of:
            found.members.setdefault(found.of[node], []).append(node)
        for i in node.inputs:
            if i in found.of and found.of.get(node) != found.of[i]:
                used_outside.add(i)
    for key, nodes in found.members.items():
        found.output[key] = [m for m in nodes if m in used_outside][-1]
    return found

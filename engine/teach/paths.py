"""Backprop paths: the chain rule as a sum over paths, ``gradient_paths(root, leaf)``.

For a graph, the multivariate chain rule says

    d(root)/d(leaf) = sum over every path leaf -> ... -> root of
                      the product of the local derivatives on the path's edges

(each edge ``input -> node`` carries d(node)/d(input), stored by the forward
pass in ``node.local_grads``). ``backward()`` computes the same number without
listing the paths, which is why it is fast: the number of paths can grow
exponentially with depth. ``gradient_paths`` lists them, for small graphs, so
the sum can be checked by hand.

>>> from engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b
>>> c.label = "c"
>>> L = c + a
>>> L.label = "L"
>>> L.backward()
>>> for path in gradient_paths(L, a):
...     print(path)
a -> c -> L: (-3) * 1 = -3
a -> L: 1
>>> a.grad
-2.0

Nodes are named as every tool names them (``engine/teach/notation.py``): a
label, a short expression such as ``a * b``, or ``v<k>``, which the line then
defines (``; where v7 = ...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..value import Value
from .notation import Notation, number

__all__ = ["gradient_paths", "GradientPath", "count_paths"]


@dataclass(frozen=True, eq=False)
class GradientPath:
    """One path from ``leaf`` to ``root`` through the graph.

    Attributes:
        nodes: the Values on the path, ``leaf`` first, ``root`` last.
        positions: for each edge, which input of the next node it enters
            (``positions[k]`` is the index of ``nodes[k]`` in
            ``nodes[k + 1].inputs``; for ``a * a`` the two paths differ only here).
        locals: for each edge, the local derivative d(nodes[k+1])/d(nodes[k]).
        product: the product of ``locals`` (1.0 for the empty path root -> root).
    """

    nodes: tuple[Value, ...]
    positions: tuple[int, ...]
    locals: tuple[float, ...]
    product: float
    notation: Notation | None = field(default=None, repr=False, compare=False)

    @property
    def edges(self) -> tuple[tuple[Value, int], ...]:
        """Each edge as ``(node, position)``: the edge into ``node`` from ``node.inputs[position]``."""
        return tuple(zip(self.nodes[1:], self.positions))

    def __len__(self) -> int:
        """The number of edges."""
        return len(self.positions)

    def _notation(self) -> Notation:
        return self.notation if self.notation is not None else Notation(self.nodes[-1])

    def __str__(self) -> str:
        notation = self._notation()
        names = " -> ".join(notation.name(node) for node in self.nodes)
        if len(self.locals) == 0:
            said = f"{names}: 1"
        elif len(self.locals) == 1:
            said = f"{names}: {number(self.product)}"
        else:
            factors = " * ".join(_factor(x) for x in self.locals)
            said = f"{names}: {factors} = {number(self.product)}"
        where = notation.where_text(self.nodes)
        return f"{said}; {where}" if where else said

    def __repr__(self) -> str:
        return f"GradientPath({self})"


def _factor(x: float) -> str:
    """A local derivative as a factor of the product: negative ones in parentheses."""
    text = number(x)
    return f"({text})" if text.startswith("-") else text


def _forward_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, inputs before the nodes using them (no recursion)."""
    from ..backward import backward_order

    return backward_order(root)[::-1]


def count_paths(root: Value, leaf: Value) -> int:
    """How many paths lead from ``leaf`` to ``root`` (a use twice, as in ``a*a``, counts twice).

    Dynamic programming over the graph in one pass: the number of paths from
    ``leaf`` to a node is the sum of those to each of its inputs. Exact (Python
    integers), so it works even when the count is astronomically large.
    """
    _check(root, leaf)
    count: dict[Value, int] = {}
    for node in _forward_order(root):
        if node is leaf:
            count[node] = 1
        else:
            count[node] = sum(count[i] for i in node.inputs)
    return count.get(root, 0) if leaf in count else 0


def _check(root: object, leaf: object) -> None:
    for name, v in (("root", root), ("leaf", leaf)):
        if not isinstance(v, Value):
            raise TypeError(f"gradient_paths: {name} must be a Value, got {type(v).__name__} {v!r}")


def gradient_paths(root: Value, leaf: Value, limit: int = 10_000) -> list[GradientPath]:
    """Every path from ``leaf`` to ``root``, with the local derivative on each edge.

    The paths' products sum to d(root)/d(leaf), which is ``leaf.grad`` after
    ``root.backward()`` (up to floating-point rounding: backward adds the same
    terms in another order). ``leaf`` may also be an interior node.

    Paths are listed in a fixed order: depth first from the root, inputs in
    operand order. The count is found first (by dynamic programming, cheap);
    if it exceeds ``limit`` a ValueError says how many there are, before any is
    built.

    Raises:
        TypeError: ``root`` or ``leaf`` is not a Value.
        ValueError: ``leaf`` is not in the graph of ``root``, or there are more
            than ``limit`` paths.
    """
    _check(root, leaf)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"gradient_paths: limit must be a non-negative int, got {limit!r}")
    order = _forward_order(root)
    count: dict[Value, int] = {}
    for node in order:
        count[node] = 1 if node is leaf else sum(count[i] for i in node.inputs)
    if leaf not in count:
        raise ValueError(
            f"gradient_paths: {leaf!r} is not in the graph of {root!r}: the root does not "
            "depend on it, so there is no path (and the derivative is 0)"
        )
    total = count[root]
    notation = Notation(root)
    if total > limit:
        raise ValueError(
            f"gradient_paths: there are {total} paths from {notation.name(leaf)} to "
            f"{notation.name(root)}, "
            f"more than limit={limit}; pass a larger limit= if you really want them all, "
            "or pick a leaf closer to the root"
        )

    # Depth first from the root, following only inputs that lead to the leaf. Each
    # stack entry links back to its parent entry, so a path of length n costs O(n)
    # once, however deep the graph (no recursion, no copying prefixes).
    paths: list[GradientPath] = []
    stack: list[tuple[Value, tuple | None]] = [(root, None)]
    while stack:
        node, link = stack.pop()
        if node is leaf:
            paths.append(_path(node, link, notation))
            continue
        inputs = node.inputs
        for position in range(len(inputs) - 1, -1, -1):  # reversed: pops in operand order
            child = inputs[position]
            if count[child]:
                stack.append((child, (node, position, link)))
    return paths


def _path(leaf: Value, link: tuple | None, notation: Notation) -> GradientPath:
    nodes = [leaf]
    positions: list[int] = []
    locals_: list[float] = []
    while link is not None:
        node, position, link = link
        nodes.append(node)
        positions.append(position)
        locals_.append(node.local_grads[position])
    product = math.prod(locals_) if locals_ else 1.0
    return GradientPath(tuple(nodes), tuple(positions), tuple(locals_), float(product),
                        notation)

"""The backward pass: an order to visit the graph in, and one chain-rule loop.

The chain rule for a node ``x`` used by nodes ``y1, y2, ...`` is

    d(root)/dx = sum over users y of  d(root)/dy * dy/dx

so ``x.grad`` is final once every node that uses ``x`` has passed its share
back. ``backward_order`` lists the nodes in exactly such an order (a reverse
topological order, found without recursion, so graphs a million nodes deep
work), and ``backward`` walks it once doing ``input.grad += local * node.grad``.
The local derivatives were stored by the forward pass (see ``engine/ops.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .value import Value

__all__ = ["backward_order", "backward"]


def backward_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, root first, each after all its users.

    Kahn's algorithm on the reversed graph: count how many times each node is
    used as an input (a node used twice, as in ``a * a``, counts twice), then
    release a node when its count drops to zero. Both passes use an explicit
    stack, never recursion.
    """
    uses: dict[Value, int] = {root: 0}
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:  # pass 1: count the uses of every reachable node
        node = pop()
        a = node._a
        if a is not None:
            if a in uses:
                uses[a] += 1
            else:
                uses[a] = 1
                push(a)
            b = node._b
            if b is not None:
                if b in uses:
                    uses[b] += 1
                else:
                    uses[b] = 1
                    push(b)

    order = []
    ready = [root]
    pop, push, emit = ready.pop, ready.append, order.append
    while ready:  # pass 2: a node is ready when all its users are done
        node = pop()
        emit(node)
        a = node._a
        if a is not None:
            uses[a] -= 1
            if not uses[a]:
                push(a)
            b = node._b
            if b is not None:
                uses[b] -= 1
                if not uses[b]:
                    push(b)
    if len(order) != len(uses):  # pragma: no cover - impossible for graphs built by ops
        raise RuntimeError(
            f"backward: the graph has a cycle ({len(uses) - len(order)} nodes never became ready)"
        )
    return order


def backward(root: Value) -> None:
    """Apply the chain rule from ``root`` to every node it depends on.

    Semantics (as in PyTorch): interior nodes' grads are reset to 0 first, the
    root is seeded with 1 (``root.grad += 1`` if the root is itself a leaf),
    and leaves *accumulate*: call ``zero_grad`` between training steps.
    """
    order = backward_order(root)
    for node in order:
        if node._a is not None:
            node.grad = 0.0
    root.grad += 1.0
    for node in order:  # the chain rule, one edge at a time
        a = node._a
        if a is not None:
            g = node.grad
            a.grad += node._da * g
            b = node._b
            if b is not None:
                b.grad += node._db * g

"""The backward pass: an order to visit the graph in, and one chain-rule loop.

The chain rule for a node ``x`` used by nodes ``y1, y2, ...`` is

    d(root)/dx = sum over users y of  d(root)/dy * dy/dx

so ``x.grad`` is final once every node that uses ``x`` has passed its share
back. ``backward_order`` lists the nodes in exactly such an order (a reverse
topological order, found without recursion, so graphs a million nodes deep
work), and the whole backward pass is then the loop of ``backward_textbook``::

    for node in backward_order(root):
        for input, local in zip(node.inputs, node.local_grads):
            input.grad += local * node.grad

The local derivatives were stored by the forward pass (see ``engine/ops.py``).
``backward`` (what ``Value.backward()`` runs) is the same loop, fused into
the pass that finds the order: an optimisation that gives the same numbers,
bit for bit, in the same order (``tests/test_fast_paths.py`` checks it). Read
``backward_textbook`` to learn the algorithm; the explainer replays it.

The fast code reads a node's fields directly: ``node._a`` and ``node._b`` are
``inputs[0]`` and ``inputs[1]`` (``_b`` is None for a unary op, ``_a`` None for
a leaf), ``node._da`` and ``node._db`` the matching ``local_grads``. Methods used
once per node are looked up once per pass (``pop = stack.pop``): in a loop over
a million nodes, each attribute lookup saved is measurable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .value import Value

__all__ = ["backward_order", "backward_textbook", "backward"]


def _check_root(root: Any, caller: str) -> None:
    """A TypeError naming ``caller`` unless ``root`` is a node (a Value: anything with
    the fields read below; value.py imports this file, so it cannot import Value)."""
    if not hasattr(root, "_a"):
        raise TypeError(
            f"{caller}() needs a Value, the root of a graph: pass the Value your "
            f"computation returned (e.g. the loss), not {type(root).__name__} {root!r}"
        )


def _count_uses(root: Value, reset: bool = False) -> dict[Value, int]:
    """How many times each node reachable from ``root`` is used as an input
    (a node used twice, as in ``a * a``, counts twice); the root counts 0.

    With ``reset``, also set every interior node's grad to 0 on the way (what
    ``backward`` needs before it accumulates). An explicit stack, no recursion.
    """
    uses: dict[Value, int] = {root: 0}
    get = uses.get
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        a = node._a
        if a is None:  # a leaf: no inputs
            continue
        if reset:
            node.grad = 0.0
        n = get(a)
        if n is None:
            uses[a] = 1
            push(a)
        else:
            uses[a] = n + 1
        b = node._b
        if b is not None:
            n = get(b)
            if n is None:
                uses[b] = 1
                push(b)
            else:
                uses[b] = n + 1
    return uses


def backward_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, root first, each after all its users.

    Kahn's algorithm on the reversed graph: count how many times each node is
    used as an input, then release a node when its count drops to zero. Both
    passes use an explicit stack, never recursion.
    """
    _check_root(root, "backward_order")
    uses = _count_uses(root)
    order: list[Value] = []
    ready = [root]
    pop, push, emit = ready.pop, ready.append, order.append
    while ready:  # a node is ready when all its users are done
        node = pop()
        emit(node)
        a = node._a
        if a is not None:
            n = uses[a] - 1
            uses[a] = n
            if not n:
                push(a)
            b = node._b
            if b is not None:
                n = uses[b] - 1
                uses[b] = n
                if not n:
                    push(b)
    if len(order) != len(uses):  # pragma: no cover - impossible for graphs built by ops
        raise RuntimeError(
            f"backward: the graph has a cycle ({len(uses) - len(order)} nodes never became ready)"
        )
    return order


def backward_textbook(root: Value) -> None:
    """The backward pass as the textbook writes it: the chain rule, one edge at a time.

    The same semantics as ``backward`` (and PyTorch): every interior node's grad
    is reset to 0, the root is seeded with 1 (``root.grad += 1`` if the root is
    itself a leaf), and leaves *accumulate* across calls. It gives exactly the
    numbers ``backward`` gives; it is the version to read, ``backward`` the one
    that runs (it saves building the list and the second loop).

    >>> from engine import Value
    >>> a = Value(3.0)
    >>> c = a * a + a          # dc/da = 2a + 1
    >>> backward_textbook(c)
    >>> a.grad
    7.0
    """
    _check_root(root, "backward_textbook")
    order = backward_order(root)  # every node after all the nodes that use it
    for node in order:
        if not node.is_leaf():
            node.grad = 0.0  # interior grads show this call's derivative only
    root.grad += 1.0  # d(root)/d(root)
    for node in order:  # node.grad is complete: all its users have passed theirs back
        for input, local in zip(node.inputs, node.local_grads):
            input.grad += local * node.grad  # the chain rule, for one edge


# --- the optimisation: the same loop, fused into Kahn's release pass ---------------


def backward(root: Value) -> None:
    """Apply the chain rule from ``root`` to every node it depends on (what
    ``Value.backward()`` runs): ``backward_textbook``, optimised.

    Semantics (as in PyTorch): interior nodes' grads are reset to 0 first, the
    root is seeded with 1 (``root.grad += 1`` if the root is itself a leaf),
    and leaves *accumulate*: call ``zero_grad`` between training steps.

    It walks the nodes in ``backward_order``, but without building that list:
    a node's grad is complete exactly when Kahn's algorithm releases it (all its
    users have passed their share back), so it passes its own share on right
    then: ``input.grad += local * node.grad``, one edge at a time, in the same
    order and with the same float operations as ``backward_textbook``.
    """
    _check_root(root, "backward")
    uses = _count_uses(root, reset=True)
    root.grad += 1.0
    ready = [root]
    pop, push = ready.pop, ready.append
    while ready:
        node = pop()
        a = node._a
        if a is None:
            continue
        g = node.grad
        a.grad += node._da * g
        n = uses[a] - 1
        uses[a] = n
        if not n:
            push(a)
        b = node._b
        if b is not None:
            b.grad += node._db * g
            n = uses[b] - 1
            uses[b] = n
            if not n:
                push(b)

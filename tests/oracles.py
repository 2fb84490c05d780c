"""Two independent oracles for gradients: central differences and PyTorch float64.

Neither uses any of chainrule's code, so a wrong derivative rule cannot hide
behind itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest


def central_difference(f: Callable[[list[float]], float], xs: Sequence[float], h: float = 1e-6):
    """Numerical gradient of f at xs: (f(x + h e_i) - f(x - h e_i)) / 2h for each i."""
    grads = []
    for i in range(len(xs)):
        up = list(xs)
        down = list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


def torch_or_skip():
    """Import torch, or skip the test with a reason that the summary prints."""
    try:
        import torch
    except ImportError:
        pytest.skip("PyTorch is not installed: comparisons with PyTorch float64 skipped "
                    "(CI installs torch==2.13.0)")
    return torch


def torch_grads(f, xs: Sequence[float]):
    """Value and gradient of f (written on torch tensors) at xs, in float64."""
    torch = torch_or_skip()
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.item(), [0.0 if t.grad is None else t.grad.item() for t in leaves]

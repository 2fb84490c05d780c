"""Optimizers: how a parameter's ``.data`` moves, given its ``.grad``.

Each optimizer follows the update rule of its ``torch.optim`` namesake, written
out one parameter at a time in plain Python so the formula can be read::

    loss.backward()        # fills p.grad for every parameter p
    optimizer.step()       # p.data -= (something made of p.grad)
    optimizer.zero_grad()  # p.grad = 0 before the next backward

Optimizers only ever change ``.data`` (and their own state); they build no graph.
The lecture notes start from plain gradient descent,
``w_k = w_{k-1} - alpha * dL/dw_{k-1}`` (``SGD``), and point on to momentum,
Nesterov momentum, Adagrad and Adam.

NB, where this differs from PyTorch: one parameter group, no ``state_dict``, and
a parameter whose gradient is 0 is still updated (PyTorch skips a parameter
whose ``.grad`` is ``None``; here every parameter always has a number).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

from engine import Value

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam", "AdamW"]


def _number(name: str, value: Any, owner: str, *, low: float = 0.0,
            high: float | None = None, high_open: bool = False) -> float:
    """Check one hyper-parameter: a real number in [low, high] (or [low, high))."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value) or value < low or (high is not None and (
            value > high or (high_open and value == high))):
        if high is None:
            allowed = f">= {low:g}"
        else:
            allowed = f"in [{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be {allowed}, got {value!r}")
    return value


class Optimizer:
    """Base class: holds the parameters and clears their gradients.

    Args:
        params: the Values to optimize, e.g. ``model.parameters()``. A model
            (anything with a ``parameters()`` method) is accepted too.

    Subclasses implement ``step()``. ``lr`` and the other hyper-parameters are
    plain attributes: change ``optimizer.lr`` between steps to schedule it.
    """

    def __init__(self, params: Iterable[Value] | Any) -> None:
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        if isinstance(params, Value):
            raise TypeError(
                f"{type(self).__name__} needs an iterable of Values (e.g. model.parameters()), "
                "got a single Value: wrap it in a list, e.g. [w]"
            )
        try:
            params = list(params)
        except TypeError:
            raise TypeError(
                f"{type(self).__name__} needs an iterable of Values (e.g. model.parameters()), "
                f"got {type(params).__name__} {params!r}"
            ) from None
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list: nothing to optimize")
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is a {type(p).__name__} ({p!r}), "
                    "not a Value; pass model.parameters() or a list of Values"
                )
            if not p.is_leaf():
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} ({p!r}) was computed by an op "
                    f"({p.op!r}); optimize leaf Values (weights and biases), not results"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} ({p!r}) appears twice; "
                    "each step would update it twice. Pass each parameter once"
                )
            seen.add(id(p))
        #: The Values this optimizer updates, in order.
        self.params: list[Value] = params
        #: Number of ``step()`` calls so far.
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (call it before each ``backward()``)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter's ``.data`` from its ``.grad``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _hyper(self) -> dict[str, Any]:
        """The hyper-parameters shown by ``repr``, in order."""
        return {}

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        n = len(self.params)
        return f"{type(self).__name__}({hyper}; {n} parameter{'s' if n != 1 else ''})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (as ``torch.optim.SGD``).

    For each parameter p with gradient g, at step t (1, 2, ...)::

        g = g + weight_decay * p                      (L2 penalty, if weight_decay)
        b = g                                          (t = 1)
        b = momentum * b + (1 - dampening) * g         (t > 1)
        g = g + momentum * b   if nesterov   else   b  (if momentum)
        p = p - lr * g

    With ``momentum=0`` this is the notes' plain update ``p = p - lr * dL/dp``.

    Args:
        params: the Values to optimize (e.g. ``model.parameters()``).
        lr: learning rate (step size), >= 0.
        momentum: factor in [0, 1] of the running velocity ``b``.
        dampening: in [0, 1]; scales the new gradient's share of ``b``.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        weight_decay: L2 penalty factor, >= 0 (adds ``weight_decay * p`` to g).

    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.1)
    >>> w.grad = 2.0
    >>> opt.step()
    >>> w.data                   # 1 - 0.1 * 2
    0.8
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = _number("lr", lr, "SGD")
        self.momentum = _number("momentum", momentum, "SGD", high=1.0)
        self.dampening = _number("dampening", dampening, "SGD", high=1.0)
        self.weight_decay = _number("weight_decay", weight_decay, "SGD")
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                "SGD: nesterov=True needs momentum > 0 and dampening = 0 "
                f"(got momentum={self.momentum:g}, dampening={self.dampening:g})"
            )
        self.nesterov = nesterov
        #: The momentum buffer ``b`` of each parameter (None before the first step).
        self.velocity: list[float] | None = None

    def step(self) -> None:
        self.steps += 1
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        first = self.velocity is None
        if mu and first:
            self.velocity = [0.0] * len(self.params)
        velocity = self.velocity if self.velocity is not None else []
        for i, p in enumerate(self.params):
            g = p.grad
            if wd:
                g = g + wd * p.data
            if mu:
                if first:
                    b = g
                else:
                    b = mu * velocity[i] + (1.0 - self.dampening) * g
                velocity[i] = b
                g = g + mu * b if self.nesterov else b
            p.data -= lr * g

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adagrad(Optimizer):
    """Adagrad: each parameter's step shrinks with its summed squared gradients
    (as ``torch.optim.Adagrad``).

    For each parameter p with gradient g, at step t (1, 2, ...)::

        lr_t = lr / (1 + (t - 1) * lr_decay)
        g = g + weight_decay * p                      (if weight_decay)
        s = s + g^2                                    (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)

    Args:
        params: the Values to optimize.
        lr: learning rate, >= 0.
        lr_decay: >= 0, the learning-rate decay above.
        weight_decay: L2 penalty factor, >= 0.
        initial_accumulator_value: the starting value of each ``s``, >= 0.
        eps: > 0, keeps the division finite.
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.01, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params)
        self.lr = _number("lr", lr, "Adagrad")
        self.lr_decay = _number("lr_decay", lr_decay, "Adagrad")
        self.weight_decay = _number("weight_decay", weight_decay, "Adagrad")
        self.initial_accumulator_value = _number(
            "initial_accumulator_value", initial_accumulator_value, "Adagrad")
        self.eps = _number("eps", eps, "Adagrad")
        if self.eps == 0 and self.initial_accumulator_value == 0:
            raise ValueError("Adagrad: eps must be > 0 (it keeps g / sqrt(s) finite when s = 0)")
        #: The running sum of squared gradients ``s`` of each parameter.
        self.sum_squares: list[float] = [self.initial_accumulator_value] * len(self.params)

    def step(self) -> None:
        self.steps += 1
        lr_t = self.lr / (1.0 + (self.steps - 1) * self.lr_decay)
        wd, eps, s = self.weight_decay, self.eps, self.sum_squares
        for i, p in enumerate(self.params):
            g = p.grad
            if wd:
                g = g + wd * p.data
            s[i] += g * g
            p.data -= lr_t * g / (math.sqrt(s[i]) + eps)

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "eps": self.eps}


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction
    (as ``torch.optim.Adam``).

    For each parameter p with gradient g, at step t (1, 2, ...)::

        g = g + weight_decay * p                      (L2 penalty, if weight_decay)
        m = beta1 * m + (1 - beta1) * g                (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)
        v_hat = v / (1 - beta2^t)                      (amsgrad: the largest v_hat so far)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Args:
        params: the Values to optimize.
        lr: learning rate, >= 0.
        betas: (beta1, beta2), each in [0, 1).
        eps: >= 0, keeps the division finite.
        weight_decay: L2 penalty factor, >= 0 (see ``AdamW`` for the decoupled kind).
        amsgrad: use the AMSGrad variant.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params)
        name = type(self).__name__
        self.lr = _number("lr", lr, name)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (_number("betas[0]", beta1, name, high=1.0, high_open=True),
                      _number("betas[1]", beta2, name, high=1.0, high_open=True))
        self.eps = _number("eps", eps, name)
        self.weight_decay = _number("weight_decay", weight_decay, name)
        if not isinstance(amsgrad, bool):
            raise TypeError(f"{name}: amsgrad must be True or False, got {amsgrad!r}")
        self.amsgrad = amsgrad
        n = len(self.params)
        #: First moments ``m`` (running mean of g) and second moments ``v`` (of g^2).
        self.m: list[float] = [0.0] * n
        self.v: list[float] = [0.0] * n
        self.v_max: list[float] = [0.0] * n

    def step(self) -> None:
        self.steps += 1
        t = self.steps
        lr, eps, wd = self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        correction1 = 1.0 - beta1 ** t
        correction2 = 1.0 - beta2 ** t
        m, v, v_max = self.m, self.v, self.v_max
        for i, p in enumerate(self.params):
            g = p.grad
            if wd:
                if self._decoupled:
                    p.data *= 1.0 - lr * wd  # AdamW: shrink the weight itself
                else:
                    g = g + wd * p.data  # Adam: L2 penalty added to the gradient
            m[i] = beta1 * m[i] + (1.0 - beta1) * g
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
            if self.amsgrad:
                v_max[i] = max(v_max[i], v[i])
                v_hat = v_max[i] / correction2
            else:
                v_hat = v[i] / correction2
            p.data -= lr * (m[i] / correction1) / (math.sqrt(v_hat) + eps)

    def _hyper(self) -> dict[str, Any]:
        hyper = {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                 "weight_decay": self.weight_decay}
        if self.amsgrad:
            hyper["amsgrad"] = True
        return hyper


class AdamW(Adam):
    """Adam with decoupled weight decay (as ``torch.optim.AdamW``).

    Instead of adding ``weight_decay * p`` to the gradient, each step first
    shrinks the weight, ``p = p * (1 - lr * weight_decay)``, then takes the Adam
    step (``Adam`` above) with the plain gradient. Default weight_decay 0.01.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

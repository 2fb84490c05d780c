"""The benchmark workloads W1-W5, written once per engine.

Each workload is a function that builds its inputs outside the timed region and
returns a zero-argument callable doing the timed work, so ``run.py`` can time
every engine the same way. Engines:

* ``chainrule``: our scalar ``engine.Value`` (and ``nn``);
* ``micrograd``: ``micrograd==0.1.0`` from PyPI, with ``tanh``/``exp`` added in
  its own closure style for W3 (0.1.0 has neither);
* ``torch-scalar``: PyTorch with one 0-d float64 tensor per scalar;
* ``torch-batched``: PyTorch the usual way, one tensor per layer or level;
* ``chainrule, gc_paused``: W1's plain step inside ``engine.gc_paused()``;
* ``chainrule-tape``: chainrule's compiled tape (``engine.tape``, layers fused into
  matrix products) for W1/W5; ``tape, unfused``: the same replayed node by node.

All engines start from the same weights and data (seeded), so their first
losses agree; ``run.py`` checks that.
"""

from __future__ import annotations

import math
import random

# --- data -------------------------------------------------------------------


def two_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """``n`` points on two interleaving half circles, labels -1 / +1 (as micrograd's demo)."""
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        upper = i < n // 2
        k = i if upper else i - n // 2
        m = n // 2 if upper else n - n // 2
        t = math.pi * k / max(m - 1, 1)
        if upper:
            px, py = math.cos(t), math.sin(t)
        else:
            px, py = 1.0 - math.cos(t), 0.5 - math.sin(t)
        X.append([px + rng.gauss(0.0, noise), py + rng.gauss(0.0, noise)])
        y.append(-1.0 if upper else 1.0)
    return X, y


def micrograd_weights(sizes: list[int], seed: int = 1337) -> list[list[list[float]]]:
    """Starting weights of ``micrograd.nn.MLP(sizes[0], sizes[1:])`` after ``random.seed(seed)``.

    Returned as ``[layer][neuron] = [w_1, ..., w_nin, b]``; every engine starts from these.
    """
    from micrograd.nn import MLP

    state = random.getstate()
    random.seed(seed)
    model = MLP(sizes[0], sizes[1:])
    random.setstate(state)
    return [[[w.data for w in n.w] + [n.b.data] for n in layer.neurons] for layer in model.layers]


# --- W1: micrograd's demo training step ---------------------------------------------
# MLP 2-16-16-1 (relu hidden, linear out), SVM (hinge) loss + 1e-4 * sum p^2, SGD.

ALPHA = 1e-4
LR = 0.1


def _load_weights_micrograd(model, weights):
    for layer, wl in zip(model.layers, weights):
        for neuron, wn in zip(layer.neurons, wl):
            for w, v in zip(neuron.w, wn[:-1]):
                w.data = v
            neuron.b.data = wn[-1]


def w1_micrograd(X, y, weights):
    from micrograd.engine import Value
    from micrograd.nn import MLP

    model = MLP(2, [len(layer) for layer in weights])
    _load_weights_micrograd(model, weights)
    params = model.parameters()

    def step():
        inputs = [list(map(Value, row)) for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in params)
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.data

    return step


def _chainrule_mlp(weights):
    """nn.MLP with micrograd's shape (relu hidden, linear out) and the given weights."""
    from nn import MLP

    model = MLP(2, [len(layer) for layer in weights], activation="relu",
                output_activation="linear")
    for layer, wl in zip(model.layers, weights):
        for neuron, wn in zip(layer.neurons, wl):
            for w, v in zip(neuron.w, wn[:-1]):
                w.data = v
            neuron.b.data = wn[-1]
    return model


def w1_chainrule(X, y, weights):
    """The same step, with nn.MLP and nn.losses (the calls a student writes)."""
    from nn.losses import hinge_loss, l2_penalty

    model = _chainrule_mlp(weights)
    params = model.parameters()

    def step():
        scores = [model(row) for row in X]
        # ALPHA * sum p^2 is l2_penalty with lam = 2 * ALPHA
        total = hinge_loss(scores, y) + l2_penalty(params, lam=2 * ALPHA)
        model.zero_grad()
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.data

    return step


def w1_chainrule_paused(X, y, weights):
    """The plain step inside ``engine.gc_paused()``, as its docstring advises for a loop
    of one's own (Value graphs hold no cycles: reference counting frees them)."""
    from engine import gc_paused

    step = w1_chainrule(X, y, weights)

    def paused():
        with gc_paused():
            return step()

    return paused


def w1_chainrule_tape(X, y, weights, fuse=True):
    """The same step through ``nn.compiled.fit_step`` (what ``fit(compiled=True)`` runs)."""
    from nn.compiled import fit_step
    from nn.losses import hinge_loss

    model = _chainrule_mlp(weights)
    params = model.parameters()
    run = fit_step(model, hinge_loss, params, 2 * ALPHA, fuse=fuse)

    def step():
        model.zero_grad()
        _, total, _ = run(X, y)
        for p in params:
            p.data -= LR * p.grad
        return total

    return step


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def w1_torch_scalar(X, y, weights):
    torch = _torch()
    f64 = torch.float64
    layers = [[([torch.tensor(v, dtype=f64, requires_grad=True) for v in wn[:-1]],
                torch.tensor(wn[-1], dtype=f64, requires_grad=True)) for wn in wl]
              for wl in weights]
    params = [p for wl in layers for ws, b in wl for p in ws + [b]]
    last = len(layers) - 1

    def model(xs):
        for k, wl in enumerate(layers):
            outs = []
            for ws, b in wl:
                act = sum((wi * xi for wi, xi in zip(ws, xs)), b)
                outs.append(act.relu() if k != last else act)
            xs = outs
        return xs[0]

    def step():
        inputs = [[torch.tensor(v, dtype=f64) for v in row] for row in X]
        scores = [model(xs) for xs in inputs]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return total.item()

    return step


def w1_torch_batched(X, y, weights):
    torch = _torch()
    f64 = torch.float64
    Ws = [torch.tensor([wn[:-1] for wn in wl], dtype=f64).T.contiguous().requires_grad_()
          for wl in weights]
    bs = [torch.tensor([wn[-1] for wn in wl], dtype=f64, requires_grad=True) for wl in weights]
    params = Ws + bs
    Xt = torch.tensor(X, dtype=f64)
    yt = torch.tensor(y, dtype=f64)

    def step():
        h = Xt
        for k, (W, b) in enumerate(zip(Ws, bs)):
            h = h @ W + b
            if k != len(Ws) - 1:
                h = h.relu()
        scores = h[:, 0]
        total = (1 - yt * scores).relu().mean() + ALPHA * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return total.item()

    return step


def w1_chainrule_tape_unfused(X, y, weights):
    """The tape replayed node by node (``fuse=False``): the reference the fused one equals."""
    return w1_chainrule_tape(X, y, weights, fuse=False)


W1 = {
    "chainrule": w1_chainrule,
    "chainrule, gc_paused": w1_chainrule_paused,
    "chainrule-tape": w1_chainrule_tape,
    "tape, unfused": w1_chainrule_tape_unfused,
    "micrograd": w1_micrograd,
    "torch-scalar": w1_torch_scalar,
    "torch-batched": w1_torch_batched,
}


# --- W2: a deep chain x -> x * 1.0001 + 0.0001, then backward -----------------------


def _chain(Value, n):
    def run():
        x = Value(0.5)
        v = x
        for _ in range(n):
            v = v * 1.0001 + 0.0001
        v.backward()
        return x.grad

    return run


def w2_chainrule(n):
    from engine import Value

    return _chain(Value, n)


def w2_micrograd(n):
    from micrograd.engine import Value

    return _chain(Value, n)


def w2_torch_scalar(n):
    torch = _torch()

    def run():
        x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        v = x
        for _ in range(n):
            v = v * 1.0001 + 0.0001
        v.backward()
        return x.grad.item()

    return run


W2 = {"chainrule": w2_chainrule, "micrograd": w2_micrograd, "torch-scalar": w2_torch_scalar}


def w2_expected(n: int) -> float:
    """d x_n / d x_0 = 1.0001 ** n (the exact answer every engine must give)."""
    return 1.0001 ** n


# --- W3: a random graph of +, *, tanh, exp -----------------------------------------


WIDTH = 1000


def w3_program(nodes: int, seed: int = 0):
    """A random layered graph of about ``nodes`` nodes, as a program every engine replays.

    ``WIDTH`` leaves, then levels of ``WIDTH`` nodes; node k of a level reads
    node ``perm[k]`` of the level before (so every node is used) and, for
    + and *, a random second one. Ops are drawn at random among +, *, tanh,
    exp, except that exp only takes inputs <= 1 and + or * only results of
    size <= 4 (else tanh): values stay bounded. The root adds up the last
    level pairwise. Returns ``(leaves, levels, count)``: each level is a list
    of ``(op, firsts, seconds)`` groups whose outputs are concatenated.
    """
    rng = random.Random(seed)
    leaves = [rng.uniform(-1.0, 1.0) for _ in range(WIDTH)]
    depth = max(1, (nodes - 2 * WIDTH) // WIDTH)
    prev = leaves
    levels = []
    for _ in range(depth):
        perm = list(range(WIDTH))
        rng.shuffle(perm)
        groups = {"add": ([], []), "mul": ([], []), "tanh": ([], []), "exp": ([], [])}
        for k in range(WIDTH):
            i, j = perm[k], rng.randrange(WIDTH)
            a, b = prev[i], prev[j]
            op = rng.choice(("add", "mul", "tanh", "exp"))
            if op == "exp" and a > 1.0:
                op = "tanh"
            elif op == "add" and abs(a + b) > 4.0:
                op = "tanh"
            elif op == "mul" and abs(a * b) > 4.0:
                op = "tanh"
            groups[op][0].append(i)
            groups[op][1].append(j)
        level = [(op, firsts, seconds) for op, (firsts, seconds) in groups.items() if firsts]
        new = []
        for op, firsts, seconds in level:
            for i, j in zip(firsts, seconds):
                a, b = prev[i], prev[j]
                new.append(a + b if op == "add" else a * b if op == "mul" else
                           math.tanh(a) if op == "tanh" else math.exp(a))
        levels.append(level)
        prev = new
    count = WIDTH + depth * WIDTH + WIDTH - 1
    return leaves, levels, count


def _pairwise_sum(values):
    while len(values) > 1:
        paired = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            paired.append(values[-1])
        values = paired
    return values[0]


def _w3_scalar(Value, program, backward=True):
    leaves_data, levels, _ = program

    def build():
        leaves = [Value(v) for v in leaves_data]
        prev = leaves
        for level in levels:
            new = []
            for op, firsts, seconds in level:
                if op == "add":
                    new += [prev[i] + prev[j] for i, j in zip(firsts, seconds)]
                elif op == "mul":
                    new += [prev[i] * prev[j] for i, j in zip(firsts, seconds)]
                elif op == "tanh":
                    new += [prev[i].tanh() for i in firsts]
                else:
                    new += [prev[i].exp() for i in firsts]
            prev = new
        return leaves, _pairwise_sum(prev)

    def run():
        leaves, root = build()
        root.backward()
        return root.data, leaves[0].grad

    return run, build


def _micrograd_value():
    """micrograd 0.1.0's Value, with tanh and exp added in its own closure style."""
    from micrograd.engine import Value

    if not hasattr(Value, "tanh"):
        def tanh(self):
            out = Value(math.tanh(self.data), (self,), "tanh")

            def _backward():
                self.grad += (1 - out.data ** 2) * out.grad
            out._backward = _backward
            return out

        def exp(self):
            out = Value(math.exp(self.data), (self,), "exp")

            def _backward():
                self.grad += out.data * out.grad
            out._backward = _backward
            return out

        Value.tanh = tanh
        Value.exp = exp
    return Value


def w3_chainrule(program):
    from engine import Value

    return _w3_scalar(Value, program)


def w3_micrograd(program):
    return _w3_scalar(_micrograd_value(), program)


def w3_torch_scalar(program):
    torch = _torch()

    def value(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    run, build = _w3_scalar(value, program)

    def run_torch():
        leaves, root = build()
        root.backward()
        return root.item(), leaves[0].grad.item()

    return run_torch, build


def w3_torch_batched(program):
    torch = _torch()
    leaves_data, levels, _ = program
    index = [[(op, torch.tensor(f), torch.tensor(s)) for op, f, s in level] for level in levels]

    def run():
        leaves = torch.tensor(leaves_data, dtype=torch.float64, requires_grad=True)
        prev = leaves
        for level in index:
            parts = []
            for op, firsts, seconds in level:
                a = prev[firsts]
                if op == "add":
                    parts.append(a + prev[seconds])
                elif op == "mul":
                    parts.append(a * prev[seconds])
                elif op == "tanh":
                    parts.append(torch.tanh(a))
                else:
                    parts.append(torch.exp(a))
            prev = torch.cat(parts)
        root = prev.sum()
        root.backward()
        return root.item(), leaves.grad[0].item()

    return run, None


W3 = {
    "chainrule": w3_chainrule,
    "micrograd": w3_micrograd,
    "torch-scalar": w3_torch_scalar,
    "torch-batched": w3_torch_batched,
}


def w1_chainrule_engine(X, y, weights):
    """W1 with only ``engine.Value``, line for line micrograd's demo code."""
    from engine import Value

    layers = [[([Value(v) for v in wn[:-1]], Value(wn[-1])) for wn in wl] for wl in weights]
    params = [p for wl in layers for ws, b in wl for p in ws + [b]]
    last = len(layers) - 1

    def model(xs):
        for k, wl in enumerate(layers):
            outs = []
            for ws, b in wl:
                act = sum((wi * xi for wi, xi in zip(ws, xs)), b)
                outs.append(act.relu() if k != last else act)
            xs = outs
        return xs[0]

    def step():
        inputs = [list(map(Value, row)) for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.data

    return step


W1["chainrule-engine"] = w1_chainrule_engine


# --- the bare CPython bound for W3 ---------------------------------------------------


class BareNode:
    """The least a scalar autodiff node can be in CPython: a float, two inputs, two
    local derivatives and a grad, in one small object. No labels, ops, scopes or
    checks: the lower bound that W3 compares chainrule's Value with."""

    __slots__ = ("data", "grad", "a", "b", "da", "db")

    def __init__(self, data, a=None, b=None, da=None, db=None):
        self.data, self.grad, self.a, self.b, self.da, self.db = data, 0.0, a, b, da, db

    def __add__(self, other):
        return BareNode(self.data + other.data, self, other, 1.0, 1.0)

    def __mul__(self, other):
        return BareNode(self.data * other.data, self, other, other.data, self.data)

    def tanh(self):
        t = math.tanh(self.data)
        return BareNode(t, self, None, 1.0 - t * t)

    def exp(self):
        e = math.exp(self.data)
        return BareNode(e, self, None, e)

    def backward(self):
        uses, stack = {self: 0}, [self]
        while stack:  # count the uses, iteratively
            node = stack.pop()
            a, b = node.a, node.b
            if a is not None:
                n = uses.get(a)
                uses[a] = 1 if n is None else n + 1
                if n is None:
                    stack.append(a)
            if b is not None:
                n = uses.get(b)
                uses[b] = 1 if n is None else n + 1
                if n is None:
                    stack.append(b)
        self.grad = 1.0
        ready = [self]
        while ready:  # release a node when all its users are done; one multiply-add per edge
            node = ready.pop()
            a, b = node.a, node.b
            if a is not None:
                a.grad += node.da * node.grad
                uses[a] -= 1
                if not uses[a]:
                    ready.append(a)
            if b is not None:
                b.grad += node.db * node.grad
                uses[b] -= 1
                if not uses[b]:
                    ready.append(b)


def w3_bare(program):
    return _w3_scalar(BareNode, program)


W3["bare node"] = w3_bare

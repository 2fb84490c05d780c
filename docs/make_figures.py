"""Make the README's figures: ``python docs/make_figures.py`` (needs Graphviz's ``dot``).

Each figure is written twice: its DOT text (``docs/<name>.dot``, the source of
truth, checked by the tests to be exactly what this script produces) and the SVG
that ``dot`` renders from it (``docs/<name>.svg``, shown by the README).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine import Graph, Value, draw_graph, formula

HERE = Path(__file__).resolve().parent


def neuron() -> Graph:
    """One tanh neuron with two inputs, after backward, local derivatives on the edges."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return draw_graph(o, show_local=True, title=f"o = {formula(o)}")


def paths() -> Graph:
    """The Quickstart's c = a*b + tanh(a): both paths from a to c highlighted."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    c.backward()
    return draw_graph(c, highlight=a, title="dc/da: the sum over both paths from a to c")


def mlp() -> Graph:
    """A 2-16-16-1 MLP's loss on one sample, each neuron collapsed to one node."""
    from nn import MLP, mse_loss

    model = MLP(2, [16, 16, 1], seed=0)
    loss = mse_loss(model([0.5, -1.0]), 1.0)
    loss.label = "loss"
    loss.backward()
    return draw_graph(loss, collapse=True, title="MLP(2, [16, 16, 1]), collapse=True")


FIGURES = {"neuron": neuron, "paths": paths, "mlp": mlp}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(FIGURES)
    for name in names:
        graph = FIGURES[name]()
        graph.save(HERE / f"{name}.dot")
        written = graph.save(HERE / f"{name}.svg")
        print(f"wrote {written.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

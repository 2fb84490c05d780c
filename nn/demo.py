"""The main job (``make demo``): a short tour of the engine.

Later work fills this in with a trained network and its pictures; for now it
builds one neuron, runs backward and prints every gradient.
"""

from __future__ import annotations

import argparse

from engine import Value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chainrule demo", description="A short tour of chainrule's engine."
    )
    parser.parse_args(argv)
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.label = "out"
    out.backward()
    print(f"out = tanh(x1*w1 + x2*w2 + b) = {out.data:.4f}")
    for v in (x1, x2, w1, w2, b):
        print(f"d out / d {v.label:<2} = {v.grad:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

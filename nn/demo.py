"""The main job (``make demo``, ``chainrule demo``): train a network, then look inside it.

It trains a small MLP on two moons with a progress bar and writes to an output
folder (``demo-output/`` by default):

* ``decision_boundary.png`` and ``loss_curve.png``: what the network learned;
* ``neuron_backward.svg``: the graph of one neuron's backward pass, every node
  with its value and gradient and every edge with its local derivative (without
  Graphviz's ``dot`` program: ``neuron_backward.dot`` and a hint to render it);
* ``explanation.txt`` and ``explanation.html``: the chain rule for that neuron,
  step by step, as a table and as a page with Previous/Next buttons;
* ``model.json``: the trained weights (load them with ``nn.load_model``).

It ends by printing what it wrote and how to open the notebooks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine import no_grad

__all__ = ["main", "build_parser"]

#: Network and data of the demo (the tour in notebooks/03_training.ipynb uses the same).
HIDDEN = [16, 16]
LEARNING_RATE = 0.05


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m nn.demo`` and ``chainrule demo``."""
    parser = argparse.ArgumentParser(
        prog="chainrule demo",
        description=(
            "Train a small MLP on two moons with chainrule, then write pictures of what it "
            "learned and of one neuron's backward pass, and the chain rule step by step."
        ),
        epilog="Then open the notebooks with: make notebook",
    )
    parser.add_argument("--epochs", type=_at_least(1), default=60,
                        help="passes over the training data (default: 60)")
    parser.add_argument("--samples", type=_at_least(2), default=100,
                        help="number of two-moons points (default: 100)")
    parser.add_argument("--out", type=Path, default=Path("demo-output"),
                        help="folder to write into, created if missing (default: demo-output)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the initial weights and the shuffling (default: 0)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    return parser


def _at_least(low: int):
    """An argparse type: a whole number >= low, with a message naming what was wrong."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {number}")
        return number

    return parse


def _need_pyplot():
    """matplotlib with the file-only Agg backend (no window, works over SSH and in CI)."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "chainrule demo needs matplotlib for its pictures: "
            "pip install 'chainrule[viz,plot,progress]' (make demo installs it for you)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def train(args: argparse.Namespace):
    """Make the data and the model, train it; return (model, X, y, history, seconds)."""
    from nn import MLP, Adam, fit, make_moons

    X, y = make_moons(args.samples, noise=0.1, seed=args.seed)
    model = MLP(2, HIDDEN + [1], activation="tanh", output_activation="sigmoid", seed=args.seed)
    print(f"Training {model} on {len(X)} two-moons points for {args.epochs} epochs "
          "(binary cross-entropy, Adam)")
    start = time.perf_counter()
    history = fit(model, X, y, loss="bce", optimizer=Adam(model.parameters(), lr=LEARNING_RATE),
                  epochs=args.epochs, batch_size=None, seed=args.seed, progress=args.progress)
    return model, X, y, history, time.perf_counter() - start


def plot_decision_boundary(model, X, y, path: Path, plt, steps: int = 60) -> Path:
    """The model's probability of class 1 over the plane, with the boundary p = 0.5."""
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    x0, x1 = min(xs) - 0.5, max(xs) + 0.5
    y0, y1 = min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (steps - 1) for i in range(steps)]
    gy = [y0 + (y1 - y0) * j / (steps - 1) for j in range(steps)]
    model.eval()
    with no_grad():  # evaluation only: no graph to keep
        grid = [[model([a, b])[0].data for a in gx] for b in gy]
    model.train()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    filled = ax.contourf(gx, gy, grid, levels=20, cmap="RdBu_r", vmin=0, vmax=1, alpha=0.75)
    ax.contour(gx, gy, grid, levels=[0.5], colors="black", linewidths=1.5)
    for label, marker in ((0, "o"), (1, "s")):
        pts = [p for p, t in zip(X, y) if t == label]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker,
                   edgecolors="black", linewidths=0.6, s=28,
                   c="#2166ac" if label == 0 else "#b2182b", label=f"class {label}")
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.set_title("Decision boundary of a 2-16-16-1 MLP (chainrule)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_loss(history, path: Path, plt) -> Path:
    """Training loss (and accuracy) per epoch."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    history.plot(ax=ax)
    ax.set_title("Training on two moons")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_graph(graph, path: Path) -> tuple[Path, str]:
    """Write ``graph`` as SVG; without ``dot`` write the ``.dot`` file and return a hint."""
    from engine.teach.draw import dot_available

    if dot_available():
        return graph.save(path), ""
    dot_path = path.with_suffix(".dot")
    dot_path.write_text(graph.source, encoding="utf-8")
    hint = (f"Graphviz's dot was not found, so {dot_path.name} holds the graph as DOT text. "
            f"Install Graphviz (apt-get install graphviz / brew install graphviz) and run: "
            f"dot -Tsvg {dot_path} -o {path}")
    return dot_path, hint


def one_neuron(model, x: list[float]):
    """The first hidden neuron of ``model`` on input ``x``, backpropagated.

    Returns (neuron, output Value). The output's graph is small enough to read:
    two weights, two inputs, a bias, the sum and the activation.
    """
    neuron = model.layers[0].neurons[0]
    out = neuron(x)[0]
    return neuron, out


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; give a folder (it is created if missing)")
    plt = _need_pyplot()
    from engine import draw_graph, explain
    from nn import accuracy

    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    model, X, y, history, seconds = train(args)
    acc = accuracy(model, X, y)
    print(f"Trained in {seconds:.1f} s: loss {history.train_loss[-1]:.4f}, "
          f"training accuracy {acc:.0%}")

    written: list[tuple[Path, str]] = []
    written.append((plot_decision_boundary(model, X, y, out_dir / "decision_boundary.png", plt),
                    "what the network learned"))
    written.append((plot_loss(history, out_dir / "loss_curve.png", plt), "loss per epoch"))
    model.save(out_dir / "model.json")
    written.append((out_dir / "model.json", "the trained weights (nn.load_model)"))

    model.zero_grad()  # fit leaves the last step's gradients on the weights
    neuron, out = one_neuron(model, X[0])
    explanation = explain(out)  # runs the backward pass, step by step
    graph = draw_graph(out, show_local=True, title=f"{neuron.name}: {neuron.formula}")
    graph_path, hint = save_graph(graph, out_dir / "neuron_backward.svg")
    written.append((graph_path, f"the backward pass of {neuron.name}"))
    text_path = out_dir / "explanation.txt"
    text_path.write_text(str(explanation) + "\n", encoding="utf-8")
    written.append((text_path, "the chain rule, step by step"))
    page = Path(explanation.to_html(out_dir / "explanation.html",
                                    title=f"Backward pass of {neuron.name}"))
    written.append((page, "the same, as a page with Previous/Next buttons"))

    print()
    print(f"One neuron's backward pass ({neuron.name}, {neuron.formula}) on x = "
          f"[{X[0][0]:.3f}, {X[0][1]:.3f}]:")
    print(explanation.text(max_rows=12))  # a long one: the first rows and a count of the rest
    print()
    print(f"Wrote to {out_dir}/:")
    for path, what in written:
        print(f"  {path.name:<24} {what}")
    if hint:
        print(hint)
    print()
    print(f"Open {page} in a browser and press the arrow keys to step through backprop.")
    print("Next: the notebooks. Run `make notebook` to open JupyterLab on notebooks/")
    print("(01_chain_rule.ipynb first).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

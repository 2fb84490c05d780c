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

It never overwrites a file it did not write: the folder's ``.chainrule-demo.json``
lists each file it wrote with its SHA-256, and a file of one of its names that is
not listed (or was changed since) stops the demo before training, unless
``--force``. ``--out`` is checked to be a writable folder before training too;
either failure is one line on stderr and exit code 2. Every file is written
atomically (``engine.teach.files.atomic_write``): an interrupted demo leaves each
file whole, old or new.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine import no_grad
from engine.teach.files import atomic_write

__all__ = ["main", "build_parser"]

#: Network and data of the demo (the tour in notebooks/03_training.ipynb uses the same).
HIDDEN = [16, 16]
LEARNING_RATE = 0.05

#: Every name the demo may write in ``--out`` (the graph is .svg, or .dot without Graphviz).
OUTPUTS = ("decision_boundary.png", "loss_curve.png", "model.json", "neuron_backward.svg",
           "neuron_backward.dot", "explanation.txt", "explanation.html")
#: The list of what the demo wrote there: name -> SHA-256 of the bytes it wrote.
MANIFEST = ".chainrule-demo.json"
MANIFEST_FORMAT = "chainrule.demo.manifest"


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
    parser.add_argument("--force", action="store_true",
                        help="overwrite files in --out that the demo did not write")
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


class _Refusal(Exception):
    """Why the demo cannot write into ``--out`` (one line for the user)."""


class OutputFolder:
    """The ``--out`` folder: checked before training, written atomically, with a manifest.

    ``check()`` creates the folder if needed, proves it writable, and refuses
    (``_Refusal``) files of the demo's names it did not write, unless ``force``.
    ``write(name, data)`` writes one file atomically and lists its SHA-256 in the
    manifest, which is rewritten (atomically) after each file.
    """

    def __init__(self, path: Path, force: bool = False) -> None:
        self.path = path
        self.force = force
        self.written: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"OutputFolder({str(self.path)!r}, {len(self.written)} files listed)"

    def check(self) -> None:
        """Before training: a writable folder holding none of our names but our own files."""
        if self.path.exists() and not self.path.is_dir():
            raise _Refusal(f"--out {self.path} is a file; give a folder (it is created if "
                           "missing)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.path, prefix=".chainrule-demo-probe.")
            os.close(fd)
            os.unlink(probe)
        except OSError as error:
            raise _Refusal(f"--out {self.path} is not a writable folder "
                           f"({error.strerror or error}); give another --out") from None
        listed = self._manifest()
        if listed is None and (self.path / MANIFEST).exists():
            foreign = [MANIFEST]  # a file of our manifest's name that is not one
        else:
            foreign = []
        self.written = listed or {}
        foreign += [name for name in OUTPUTS if (self.path / name).exists()
                    and self.written.get(name) != _digest(self.path / name)]
        if foreign and not self.force:
            raise _Refusal(
                f"--out {self.path} holds {', '.join(foreign)}, which the demo did not write "
                f"(or which changed since); give a new --out folder, or --force to "
                f"overwrite them"
            )

    def _manifest(self) -> dict[str, str] | None:
        """What the manifest lists (name -> SHA-256), or None without a valid one."""
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return None
        files = data.get("files")
        if not isinstance(files, dict):
            return None
        return {k: v for k, v in files.items() if k in OUTPUTS and isinstance(v, str)}

    def write(self, name: str, data: str | bytes) -> Path:
        """Write ``data`` to ``name`` in the folder atomically, then list it in the manifest."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        path = atomic_write(self.path / name, payload)
        self._list(name, payload)
        return path

    def save_model(self, model: Any, name: str = "model.json") -> Path:
        """``model.save`` (atomic) into the folder, listed in the manifest."""
        path = self.path / name
        model.save(path)
        self._list(name, path.read_bytes())
        return path

    def _list(self, name: str, payload: bytes) -> None:
        self.written[name] = _sha256(payload)
        manifest = {"format": MANIFEST_FORMAT, "files": dict(sorted(self.written.items()))}
        atomic_write(self.path / MANIFEST, json.dumps(manifest, indent=1) + "\n")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; None if it is not a readable regular file."""
    try:
        return _sha256(path.read_bytes()) if path.is_file() else None
    except OSError:
        return None


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


def _png(fig: Any, plt: Any) -> bytes:
    """The figure as PNG bytes (then closed): written in one atomic step by the caller."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def plot_decision_boundary(model, X, y, plt, steps: int = 60) -> bytes:
    """The model's probability of class 1 over the plane, with the boundary p = 0.5 (PNG)."""
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
    return _png(fig, plt)


def plot_loss(history, plt) -> bytes:
    """Training loss (and accuracy) per epoch (PNG)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    history.plot(ax=ax)
    ax.set_title("Training on two moons")
    fig.tight_layout()
    return _png(fig, plt)


def save_graph(graph, out: OutputFolder, name: str = "neuron_backward.svg") -> tuple[Path, str]:
    """Write ``graph`` as SVG; without ``dot`` write the ``.dot`` file and return a hint."""
    from engine.teach.draw import dot_available

    if dot_available():
        try:
            return out.write(name, graph.pipe("svg")), ""
        except (ImportError, RuntimeError) as error:  # dot is there but failed
            reason = f"Graphviz could not draw it ({error})"
    else:
        reason = "Graphviz's dot was not found"
    dot_name = Path(name).with_suffix(".dot").name
    dot_path = out.write(dot_name, graph.source)
    hint = (f"{reason}, so {dot_name} holds the graph as DOT text, and explanation.html "
            f"draws it in the browser itself. To have Graphviz draw them, install it "
            f"(apt-get install graphviz / brew install graphviz), then run "
            f"dot -Tsvg {dot_path} -o {out.path / name} for the picture, or run the "
            f"demo again with the same --out to put Graphviz's drawing into the page too.")
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
    """Run the demo; return the process exit code (2: a bad option or ``--out``;
    130: Ctrl-C during training)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    folder = OutputFolder(args.out, force=args.force)
    try:
        folder.check()  # before any training
    except _Refusal as refusal:
        print(f"chainrule demo: error: {refusal}", file=sys.stderr)
        return 2
    plt = _need_pyplot()
    from engine import draw_graph, explain
    from engine.teach.page import render_page
    from nn import accuracy

    out_dir = args.out
    model, X, y, history, seconds = train(args)
    if history.interrupted:  # Ctrl-C: fit stopped cleanly; the demo stops too
        print(f"chainrule demo: interrupted during training; nothing written to {out_dir}",
              file=sys.stderr)
        return 130
    acc = accuracy(model, X, y)
    print(f"Trained in {seconds:.1f} s: loss {history.train_loss[-1]:.4f}, "
          f"training accuracy {acc:.0%}")

    written: list[tuple[Path, str]] = []
    written.append((folder.write("decision_boundary.png", plot_decision_boundary(model, X, y, plt)),
                    "what the network learned"))
    curve = "loss and accuracy per epoch" if history.train_accuracy else "loss per epoch"
    written.append((folder.write("loss_curve.png", plot_loss(history, plt)), curve))
    written.append((folder.save_model(model), "the trained weights (nn.load_model)"))

    model.zero_grad()  # fit leaves the last step's gradients on the weights
    neuron, out = one_neuron(model, X[0])
    explanation = explain(out)  # runs the backward pass, step by step
    graph = draw_graph(out, show_local=True, title=f"{neuron.name}: {neuron.formula}")
    graph_path, hint = save_graph(graph, folder)
    written.append((graph_path, f"the backward pass of {neuron.name}"))
    written.append((folder.write("explanation.txt", str(explanation) + "\n"),
                    "the chain rule, step by step"))
    page = folder.write("explanation.html",
                     render_page(explanation, title=f"Backward pass of {neuron.name}"))
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

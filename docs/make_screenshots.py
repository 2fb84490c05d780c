"""Make the README's screenshots: ``.venv/bin/python docs/make_screenshots.py``.

Two pictures, both made by chainrule's own code and photographed by headless
Chromium (Debian's ``chromium`` package; nothing is downloaded):

* ``docs/page.png``: the step-through page (``Explanation.to_html``) of the lecture
  notes' workshop network (seed 001), at a backward step;
* ``docs/notebook_graph.png``: what a notebook shows for ``draw_graph`` of the same
  network, collapsed to one box per neuron (the HTML display, legend included).

The network, its weights and its input are those of notebook 04, so the numbers
in the pictures are the ones the notebook asserts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from engine import draw_graph, explain
from engine.teach.files import atomic_write
from nn import MLP, mse_loss

HERE = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def workshop():
    """Seed 001's 2-2-2 tanh network with the slides' weights, on input [0, 1], target [1, 0]."""
    net = MLP(2, [2, 2], activation="tanh", output_activation="linear")
    V = {1: [1.0, -1.0, 0.0], 2: [1.0, 0.0, 1.0]}   # V[j] = [v_0j, v_1j, v_2j]
    W = {1: [1.0, 1.0, 0.0], 2: [1.0, -1.0, 1.0]}   # W[k] = [w_0k, w_1k, w_2k]
    for layer, weights in zip(net.layers, (V, W)):
        for j, unit in enumerate(layer.neurons, start=1):
            unit.b.data, unit.w[0].data, unit.w[1].data = weights[j]
    loss = mse_loss(net([0.0, 1.0]), [1.0, 0.0])
    loss.label = "L"
    return loss


def shoot(chromium: str, url: str, out: Path, size: str, profile: Path) -> None:
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                    "--virtual-time-budget=4000", f"--screenshot={out}", url],
                   check=True, capture_output=True, timeout=120)


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs headless Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        steps = explain(workshop())
        page = steps.to_html(folder / "page.html", title="Seed 001's workshop network")
        shot = folder / "page.png"
        shoot(chromium, page.as_uri() + "#step=31", shot, "1400,900", folder / "p1")
        atomic_write(HERE / "page.png", shot.read_bytes())
        print("wrote docs/page.png")

        loss = workshop()
        loss.backward()
        graph = draw_graph(loss, group="neuron", collapse=True, local_grads=True)
        html = ('<!doctype html><meta charset="utf-8"><body style="margin:16px;'
                'font-family:sans-serif;width:1100px">' + graph._repr_html_() + "</body>")
        (folder / "graph.html").write_text(html, encoding="utf-8")
        shot = folder / "graph.png"
        shoot(chromium, (folder / "graph.html").as_uri(), shot, "1140,360", folder / "p2")
        atomic_write(HERE / "notebook_graph.png", shot.read_bytes())
        print("wrote docs/notebook_graph.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

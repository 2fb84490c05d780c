"""Make the README's demo pictures: ``python docs/make_demo_figures.py``.

Runs the demo (``nn.demo``, default settings) into a temporary folder and copies
its decision boundary and loss curve here as ``docs/demo_decision_boundary.png``
and ``docs/demo_loss_curve.png``. The training is seeded, so the pictures show
the same network every time (the PNG bytes may differ between matplotlib versions).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from engine.teach.files import atomic_write
from nn.demo import main as demo

HERE = Path(__file__).resolve().parent
PICTURES = {"decision_boundary.png": "demo_decision_boundary.png",
            "loss_curve.png": "demo_loss_curve.png"}


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)  # e.g. --epochs 60
    with tempfile.TemporaryDirectory() as tmp:
        code = demo(["--out", tmp, "--no-progress", *extra])
        if code:
            return code
        for source, target in PICTURES.items():
            atomic_write(HERE / target, (Path(tmp) / source).read_bytes())
            print(f"wrote docs/{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

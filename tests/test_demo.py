"""The main job runs end to end and writes well-formed files.

The demo runs as a newcomer would start it (``python -m nn.demo``, in a fresh
process) with few epochs and samples, into a temporary folder. Its PNGs must be
PNGs, its SVG must parse as XML, its page must load in headless Chromium (skipped
with the reason printed where Chromium is absent; CI installs it) and step when
Next is pressed. A second run without Graphviz's ``dot`` must still succeed and
write the ``.dot`` file with a hint.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the demo needs matplotlib (the [plot] extra)")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUICK = ["--epochs", "3", "--samples", "30", "--no-progress"]


def run_demo(out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "nn.demo", *QUICK, "--out", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    return out, run_demo(out)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path.name} has no IHDR chunk"
    assert data[-8:-4] == b"IEND", f"{path.name} is truncated (no IEND chunk)"
    return struct.unpack(">II", data[16:24])


def test_help_names_the_options():
    result = subprocess.run([sys.executable, "-m", "nn.demo", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--epochs", "--out", "--seed", "--samples"):
        assert option in result.stdout


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--samples", "1"], ["--epochs", "ten"]])
def test_bad_option_is_refused(option):
    result = subprocess.run([sys.executable, "-m", "nn.demo", *option], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and option[0] in result.stderr, result.stderr


def test_chainrule_command(capsys):
    from nn.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    assert "--epochs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["nonsense"])
    assert exit_info.value.code == 2


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["chainrule"] == "nn.cli:main"
    from importlib.metadata import entry_points

    installed = [e for e in entry_points(group="console_scripts") if e.name == "chainrule"]
    if installed:  # installed (e.g. pip install -e .): the command runs the same function
        assert installed[0].value == "nn.cli:main"


def test_the_summary_says_what_the_loss_curve_shows(demo):
    _, result = demo
    line = next(x for x in result.stdout.splitlines() if "loss_curve.png" in x)
    assert line.split(None, 1)[1] == "loss and accuracy per epoch"


def test_pictures_are_pngs(demo):
    out, _ = demo
    for name in ("decision_boundary.png", "loss_curve.png"):
        width, height = png_size(out / name)
        assert width >= 200 and height >= 200, (name, width, height)


def test_neuron_graph_is_svg_or_dot_with_hint(demo):
    out, result = demo
    svg = out / "neuron_backward.svg"
    if svg.exists():
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        text = svg.read_text()
        for label in ("w1.1.1", "w1.1.2", "b1.1", "x1", "x2"):
            assert label in text, f"{label} missing from the neuron graph"
    else:
        assert (out / "neuron_backward.dot").read_text().lstrip().startswith("digraph")
        assert "dot -Tsvg" in result.stdout


def test_explanation_text_and_model(demo):
    out, result = demo
    text = (out / "explanation.txt").read_text()
    assert "upstream" in text and "w1.1.1" in text
    from nn import load_model

    model = load_model(out / "model.json")
    assert model.num_parameters() == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    for name in ("decision_boundary.png", "explanation.html", "make notebook"):
        assert name in result.stdout


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(value for key, value in attrs if key == "id")


def test_page_is_wellformed_html(demo):
    out, _ = demo
    page = (out / "explanation.html").read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert parser.tags[:1] == ["html"] or "html" in parser.tags
    assert {"prev", "next", "counter"} <= parser.ids, parser.ids
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page, (
        "the page must be self-contained (no network)"
    )


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium not found: the demo page's browser check is skipped "
                "(install the Debian package chromium; CI does)")


def test_page_steps_in_headless_chromium(demo, tmp_path):
    out, _ = demo
    executable = _chromium()
    url = (out / "explanation.html").resolve().as_uri()
    try:
        from browser import Browser  # the DevTools-pipe driver of the page tests
    except ImportError:
        Browser = None
    if Browser is None:  # load only: the DOM after the page's script ran
        result = subprocess.run(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert 'id="counter"' in result.stdout and "step 0 of" in result.stdout
        return
    counter = "document.getElementById('counter').textContent"
    with Browser(executable, url) as browser:
        browser.wait_for("window.chainrule && document.readyState === 'complete'")
        # With dot the page carries dot's SVG; without, Viz.js draws it in the browser.
        browser.wait_for("!!document.querySelector('#graph svg')")
        first = browser.evaluate(counter)
        assert first.startswith("Forward step 0 of"), first  # the forward pass comes first
        browser.click("#next")
        browser.wait_for(f"{counter}.startsWith('Forward step 1 of')")
    with Browser(executable, url + "#step=1") as browser:  # straight to the backward pass
        browser.wait_for("window.chainrule && document.readyState === 'complete'")
        browser.wait_for(f"{counter}.startsWith('Backward step 1 of')")
        browser.press("ArrowRight", 39)
        browser.wait_for(f"{counter}.startsWith('Backward step 2 of')")
        sentence = browser.evaluate("document.getElementById('sentence').textContent")
        assert "grad(" in sentence and "+=" in sentence, sentence
        ARTIFACTS.mkdir(exist_ok=True)
        browser.screenshot(ARTIFACTS / "demo_explanation_step2.png")


def test_demo_without_dot_writes_dot_and_hint(tmp_path):
    """No Graphviz on the PATH: the demo still succeeds and says how to render."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    out = tmp_path / "out"
    result = run_demo(out, "--epochs", "1", env=env)
    dot_file = out / "neuron_backward.dot"
    assert dot_file.read_text().lstrip().startswith("digraph")
    assert "dot -Tsvg" in result.stdout
    assert "run the demo again with the same --out" in result.stdout  # the page's drawing
    from engine.teach.assets import read

    # "explanation.html draws it in the browser itself": the vendored Viz.js is inlined
    assert read("viz-global.js")[-2000:] in (out / "explanation.html").read_text()
    assert (out / "explanation.html").exists() and (out / "decision_boundary.png").exists()
    json.loads((out / "model.json").read_text())


# --- the output folder: checked before training, never someone else's files -------------


def _run_in_process(argv, monkeypatch, capsys, train_allowed=True):
    import nn.demo as demo

    if not train_allowed:
        def no_training(args):
            raise AssertionError("the demo trained before checking --out")

        monkeypatch.setattr(demo, "train", no_training)
    code = demo.main([*QUICK, *argv])
    return code, capsys.readouterr()


def test_an_unwritable_out_fails_in_one_line_before_training(tmp_path, monkeypatch, capsys):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as a read-only folder would
    code, out = _run_in_process(["--out", str(tmp_path / "out")], monkeypatch, capsys,
                                train_allowed=False)
    assert code == 2
    assert out.err.splitlines() == [f"chainrule demo: error: --out {tmp_path / 'out'} is not "
                                    "a writable folder (Permission denied); give another --out"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write into a read-only folder; the monkeypatched test "
                           "above stands in")
def test_a_read_only_out_fails_in_one_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, out = _run_in_process(["--out", str(folder)], monkeypatch, capsys,
                                    train_allowed=False)
    finally:
        folder.chmod(0o700)
    assert code == 2 and len(out.err.splitlines()) == 1 and "not a writable folder" in out.err


@pytest.mark.parametrize("where, message", [("a-file", "is a file; give a folder"),
                                            ("a-file/sub", "is not a writable folder")])
def test_out_that_cannot_be_a_folder_fails_in_one_line(tmp_path, monkeypatch, capsys, where,
                                                        message):
    (tmp_path / "a-file").write_text("mine")
    code, out = _run_in_process(["--out", str(tmp_path / where)], monkeypatch, capsys,
                                train_allowed=False)
    assert code == 2 and len(out.err.splitlines()) == 1 and message in out.err, out.err
    assert (tmp_path / "a-file").read_text() == "mine"


def test_the_demo_never_overwrites_a_file_it_did_not_write(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "model.json").write_text("my own model")
    (folder / "notes.txt").write_text("mine too")
    code, out = _run_in_process(["--out", str(folder)], monkeypatch, capsys,
                                train_allowed=False)
    assert code == 2
    assert out.err.splitlines() == [
        f"chainrule demo: error: --out {folder} holds model.json, which the demo did not "
        "write (or which changed since); give a new --out folder, or --force to overwrite them"]
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "notes.txt"]
    assert (folder / "model.json").read_text() == "my own model"


def test_the_demo_rewrites_its_own_files_and_force_overwrites(demo, tmp_path, monkeypatch,
                                                              capsys):
    from nn import load_model

    folder = tmp_path / "again"
    shutil.copytree(demo[0], folder)
    (folder / "notes.txt").write_text("mine")  # other names are never touched
    code, _ = _run_in_process(["--out", str(folder)], monkeypatch, capsys)
    assert code == 0  # every file there is one the demo wrote
    (folder / "loss_curve.png").write_bytes(b"changed by hand")
    code, out = _run_in_process(["--out", str(folder)], monkeypatch, capsys)
    assert code == 2 and "holds loss_curve.png, which the demo did not write" in out.err
    assert (folder / "loss_curve.png").read_bytes() == b"changed by hand"
    (folder / ".chainrule-demo.json").write_text("not a manifest")
    code, out = _run_in_process(["--out", str(folder)], monkeypatch, capsys)
    assert code == 2 and "holds .chainrule-demo.json, " in out.err
    code, _ = _run_in_process(["--out", str(folder), "--force"], monkeypatch, capsys)
    assert code == 0
    png_size(folder / "loss_curve.png")
    load_model(folder / "model.json")
    assert (folder / "notes.txt").read_text() == "mine"
    manifest = json.loads((folder / ".chainrule-demo.json").read_text())
    assert set(manifest["files"]) == {p.name for p in folder.iterdir()} - {
        ".chainrule-demo.json", "notes.txt"}


def test_every_file_of_the_demo_is_written_atomically(tmp_path, monkeypatch, capsys):
    import nn.demo as demo
    from engine.teach import files

    written = []
    real = files.atomic_write

    def recording(path, data, **kwargs):
        written.append(Path(path).name)
        return real(path, data, **kwargs)

    monkeypatch.setattr(files, "atomic_write", recording)  # model.save goes through here
    monkeypatch.setattr(demo, "atomic_write", recording)
    monkeypatch.setattr("nn.module.atomic_write", recording)
    folder = tmp_path / "out"
    code, _ = _run_in_process(["--out", str(folder)], monkeypatch, capsys)
    assert code == 0
    assert {p.name for p in folder.iterdir()} == set(written)  # nothing written otherwise
    assert {"decision_boundary.png", "loss_curve.png", "model.json"} <= set(written)


def test_ctrl_c_during_training_stops_the_demo_and_writes_nothing(tmp_path, monkeypatch,
                                                                   capsys):
    import nn.demo as demo
    from nn import History

    def interrupted(args):
        from nn import MLP

        return MLP(2, [1]), [[0.0, 0.0]], [0], History(interrupted=True), 0.1

    monkeypatch.setattr(demo, "train", interrupted)
    folder = tmp_path / "out"
    code = demo.main([*QUICK, "--out", str(folder)])
    assert code == 130
    assert capsys.readouterr().err.splitlines() == [
        f"chainrule demo: interrupted during training; nothing written to {folder}"]
    assert list(folder.iterdir()) == []

"""The notebooks run top to bottom, assert their numbers, and are committed stripped.

Each notebook in notebooks/ is one test (``pytest -k 04_lecture`` runs one), executed
by nbclient in a fresh kernel of *this* Python (the test's virtual environment), with
notebooks/ as the working directory and a time limit per notebook. The notebooks check
their key numbers with ``assert`` cells, so a wrong number fails the test.

A second test per notebook checks it is committed without outputs or execution counts
(what ``nbstripout`` leaves), so diffs stay readable and no stale number is shown.

Exercises: a code cell where the student writes an answer carries the cell tag
``answer:<name>`` and runs as committed (usually ``answer = None``: the check cell
after it then says "not answered yet", so the notebook still runs top to bottom).
The solutions live apart, in ``notebooks/solutions/<notebook>.py``, as
``ANSWERS = {"<name>": "<code>", ...}``. A third test runs the notebook with each
tagged cell replaced by its solution and ``CHAINRULE_SOLUTIONS=1`` in the kernel's
environment; a check cell turns a wrong answer into an error there (e.g.
``if SOLUTIONS: assert feedback.ok``), so every solution is proven right.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: The notebooks the README promises (a deleted one must fail a test, not vanish quietly).
EXPECTED = ("01_chain_rule", "02_neuron_to_mlp", "03_training", "04_lecture_examples",
            "05_to_pytorch", "06_softmax_cross_entropy",
            "07_initialisation", "08_regularisation",
            "09_seed004_logistic", "10_optimizers", "11_vanishing_gradients")

#: Optional packages a notebook needs; without them its run is skipped, with the reason.
REQUIRES = {"05_to_pytorch": ("torch", "PyTorch (pip install torch==2.13.0; CI installs it)")}

#: Seconds each notebook may take in all (training takes longest); default below.
TIMEOUTS = {"03_training": 300}
DEFAULT_TIMEOUT = 180

#: Cell metadata keys that only record a session (nbstripout removes them).
SESSION_KEYS = {"execution", "ExecuteTime", "collapsed", "scrolled"}


def _param(path: Path):
    return pytest.param(path, id=path.stem, marks=[pytest.mark.notebook, pytest.mark.slow])


def test_there_are_notebooks():
    names = [p.stem for p in NOTEBOOKS]
    for expected in EXPECTED:
        assert expected in names, f"notebooks/{expected}.ipynb is missing (found {names})"


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch):
    """A kernelspec named python3 that runs the interpreter running the tests.

    JUPYTER_PATH is searched before the user's and the system's kernelspecs, so the
    notebooks run with this environment's packages, whatever else is installed.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # No stray IPython profile in the user's home.
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return "python3"


def execute(path: Path, kernel: str, tmp_path: Path, answers: dict[str, str] | None = None):
    """Run the notebook at ``path`` top to bottom; fail the test on the first error.

    ``answers`` replaces the source of each cell tagged ``answer:<name>``."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient.exceptions import CellExecutionError

    if path.stem in REQUIRES:
        module, what = REQUIRES[path.stem]
        pytest.importorskip(module, reason=f"{path.name} needs {what}: not installed")
    nb = nbformat.read(path, as_version=4)
    if answers is not None:
        for cell in nb.cells:
            name = _answer_name(cell)
            if name is not None:
                cell.source = answers[name]
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=TIMEOUTS.get(path.stem, DEFAULT_TIMEOUT),
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        # Keep the executed copy for a look at what went wrong.
        out = Path(os.environ.get("CHAINRULE_ARTIFACTS", tmp_path)) / f"{path.stem}.failed.ipynb"
        nbformat.write(nb, out)
        pytest.fail(f"{path.name} failed (executed copy: {out}):\n{error}", pytrace=False)
    return nb


@pytest.mark.parametrize("path", [_param(p) for p in NOTEBOOKS])
def test_notebook_runs(path, this_python_kernel, tmp_path):
    execute(path, this_python_kernel, tmp_path)


SOLUTIONS_DIR = NOTEBOOKS_DIR / "solutions"


def _answer_name(cell) -> str | None:
    """``name`` for a cell tagged ``answer:name``, else None."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith("answer:"):
            return tag.split(":", 1)[1]
    return None


def _answers(path: Path) -> dict[str, str]:
    import runpy

    return dict(runpy.run_path(str(SOLUTIONS_DIR / f"{path.stem}.py"))["ANSWERS"])


WITH_EXERCISES = [p for p in NOTEBOOKS if '"answer:' in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_every_exercise_has_a_solution(path):
    nbformat = pytest.importorskip("nbformat")
    asked = [_answer_name(c) for c in nbformat.read(path, as_version=4).cells]
    asked = [name for name in asked if name is not None]
    assert len(asked) == len(set(asked)), f"{path.name}: an answer tag is used twice"
    solved = _answers(path) if (SOLUTIONS_DIR / f"{path.stem}.py").exists() else {}
    assert set(asked) == set(solved), (
        f"{path.name}: exercises {sorted(set(asked) - set(solved))} have no solution and "
        f"solutions {sorted(set(solved) - set(asked))} no exercise in "
        f"notebooks/solutions/{path.stem}.py")


@pytest.mark.parametrize("path", [_param(p) for p in WITH_EXERCISES])
def test_notebook_solutions_pass(path, this_python_kernel, tmp_path, monkeypatch):
    """The notebook with every answer cell replaced by its solution: every check passes."""
    monkeypatch.setenv("CHAINRULE_SOLUTIONS", "1")  # the kernel inherits it
    execute(path, this_python_kernel, tmp_path, answers=_answers(path))


DRAWING = [p for p in NOTEBOOKS if "draw_graph" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", [_param(p) for p in DRAWING])
def test_notebook_runs_without_dot(path, this_python_kernel, tmp_path, monkeypatch):
    """Without Graphviz's dot the graphs degrade to DOT text; the notebook still runs."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the kernel inherits it: no dot to be found
    nb = execute(path, this_python_kernel, tmp_path)
    shown = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not any("image/svg+xml" in output.get("data", {}) for output in shown), (
        "an SVG was rendered although dot was not on the PATH"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_stripped(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if cell.outputs:
                dirty.append(f"cell {index} has outputs")
            if cell.execution_count is not None:
                dirty.append(f"cell {index} has execution_count {cell.execution_count}")
        left = SESSION_KEYS & set(cell.metadata)
        if left:
            dirty.append(f"cell {index} has session metadata {sorted(left)}")
    if "widgets" in nb.metadata:
        dirty.append("notebook metadata holds widget state")
    assert not dirty, (
        f"{path.name} is not stripped: {'; '.join(dirty)}. "
        "Run `make strip` (nbstripout) before committing."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nbstripout_would_not_change_notebook(path):
    """The same check by nbstripout itself, where its --verify option exists."""
    import subprocess

    pytest.importorskip("nbstripout")
    probe = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--help"], capture_output=True, text=True
    )
    if "--verify" not in probe.stdout:
        pytest.skip("this nbstripout has no --verify option; the direct check above still runs")
    result = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"nbstripout would change {path.name}: run `make strip`.\n{result.stdout}{result.stderr}"
    )


def test_stripped_check_catches_outputs(tmp_path):
    """The stripped check can fail: a notebook with an output and a count is caught."""
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("1 + 1", execution_count=1)
    cell.outputs = [new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    path = tmp_path / "dirty.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    with pytest.raises(AssertionError, match="outputs.*execution_count"):
        test_notebook_is_committed_stripped(path)

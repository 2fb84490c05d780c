"""A sample assignment graded end to end by nbgrader, offline: a right and a wrong
submission of a hand-derived gradient, checked with ``assert_gradients``.

nbgrader lives in its own environment (``make grader`` creates ``.venv-grader``; CI
does), so its pins never touch the test environment's Jupyter packages. chainrule is
taken from this checkout (PYTHONPATH), as the course's kernel would import it.
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = Path(os.environ.get("CHAINRULE_NBGRADER", ROOT / ".venv-grader" / "bin" / "nbgrader"))

pytestmark = pytest.mark.slow

SOLUTION = '''def student_gradient(x, y):
    """d/dx and d/dy of f(x, y) = tanh(x y) + x^2."""
    ### BEGIN SOLUTION
    import math
    s = 1 - math.tanh(x * y) ** 2
    return [s * y + 2 * x, s * x]
    ### END SOLUTION'''

TESTS = '''from engine.teach.grading import assert_gradients
f = lambda x, y: (x * y).tanh() + x ** 2
report = assert_gradients(student_gradient, f, [(0.5, -1.0), (2.0, 0.25)], names=["x", "y"])'''

ANSWERS = {
    "right": "    import math\n    s = 1 - math.tanh(x * y) ** 2\n    return [s * y + 2 * x, s * x]",
    "wrong": "    import math\n    s = 1 - math.tanh(x * y) ** 2\n    return [s + 2 * x, s]",
}


def _nbgrader(course: Path, *args: str) -> str:
    # Its own bin first: nbgrader runs `alembic` for its database, and the kernel that
    # grades is that environment's python3.
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(NBGRADER), *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def test_nbgrader_grades_a_gradient_assignment_end_to_end(tmp_path):
    if not NBGRADER.exists():
        pytest.skip("nbgrader is not installed: `make grader` makes .venv-grader (CI does)")
    import nbformat

    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "backprop"\nc.CourseDirectory.root = "."\n')
    answer = nbformat.v4.new_code_cell(SOLUTION)
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                   "task": False, "grade_id": "answer", "schema_version": 3}
    check = nbformat.v4.new_code_cell(TESTS)
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                  "task": False, "points": 2, "grade_id": "check",
                                  "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[answer, check])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, course / "source" / "ps1" / "ps1.ipynb")
    for student in ANSWERS:
        _nbgrader(course, "db", "student", "add", student)
    _nbgrader(course, "generate_assignment", "ps1", "--force")
    released = nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4)
    assert "### BEGIN SOLUTION" not in released.cells[0].source  # the answer is removed
    for student, body in ANSWERS.items():
        handed_in = nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4)
        src = handed_in.cells[0].source
        assert "raise NotImplementedError()" in src
        handed_in.cells[0].source = src.replace(
            "    # YOUR CODE HERE\n    raise NotImplementedError()", body)
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        nbformat.write(handed_in, course / "submitted" / student / "ps1" / "ps1.ipynb")
    _nbgrader(course, "autograde", "ps1", "--force")
    _nbgrader(course, "export")
    with open(course / "grades.csv", newline="") as table:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(table)}
    assert scores == {"right": 2.0, "wrong": 0.0}
    _nbgrader(course, "generate_feedback", "ps1", "--force")
    feedback = (course / "feedback" / "wrong" / "ps1" / "ps1.html").read_text()
    assert "partial derivatives wrong" in feedback and "d/dx at (0.5, -1)" in feedback

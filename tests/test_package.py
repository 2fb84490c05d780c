"""The two packages ship together: one version, and nn refuses a foreign engine.

Also the tooling around them: the pre-commit config and the notebook tests' kernel.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import test_notebooks  # tests/ is on sys.path (conftest.py)

import engine
import nn

ROOT = Path(__file__).resolve().parents[1]

#: The notebook tests' fixture, so the kernel test below starts its kernel as they do.
this_python_kernel = test_notebooks.this_python_kernel


def test_one_version():
    assert nn.__version__ == engine.__version__
    text = (ROOT / "pyproject.toml").read_text()
    assert 'version = { attr = "engine.__version__" }' in text


def test_engine_core_has_no_runtime_dependency():
    text = (ROOT / "pyproject.toml").read_text()
    assert "dependencies = []" in text
    code = "import sys, engine; bad = [m for m in ('numpy', 'graphviz', 'torch') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


def _import_nn_with_fake_engine(tmp_path, engine_source):
    fake = tmp_path / "engine"
    fake.mkdir()
    (fake / "__init__.py").write_text(textwrap.dedent(engine_source))
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); sys.path.insert(1, {str(ROOT)!r}); import nn"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)


def test_nn_refuses_a_foreign_engine(tmp_path):
    out = _import_nn_with_fake_engine(tmp_path, "x = 1\n")
    assert out.returncode != 0
    assert "is not chainrule's engine" in out.stderr


def test_nn_refuses_an_engine_of_another_version(tmp_path):
    out = _import_nn_with_fake_engine(tmp_path, "__chainrule__ = 'engine'\n__version__ = '0.0.1'\n")
    assert out.returncode != 0
    assert "must be of the same version" in out.stderr


def test_demo_module_answers_help():
    """`make demo` runs `python -m nn.demo`; tests/test_demo.py runs the whole demo."""
    out = subprocess.run([sys.executable, "-m", "nn.demo", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "--epochs" in out.stdout


def _api_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## API at a glance")
    return readme[start:readme.index("\n## ", start + 1)]


def test_readme_api_table_imports_work():
    imports = re.findall(r"`(from (?:engine|nn) import [\w, ]+)`", _api_table())
    assert len(imports) >= 10
    for statement in imports:
        exec(statement, {})  # raises ImportError for a name the packages do not export


def test_readme_api_table_lists_every_exported_name():
    listed = set()
    for names in re.findall(r"`from (?:engine|nn) import ([\w, ]+)`", _api_table()):
        listed.update(name.strip() for name in names.split(","))
    exported = {name for module in (engine, nn) for name in module.__all__
                if not name.startswith("__")}
    missing = sorted(exported - listed)
    assert not missing, f"add these exported names to the README's API table: {missing}"


# The tooling: pre-commit, and the kernel the notebook tests run in.

def test_pre_commit_config_runs_ruff_and_nbstripout_from_the_venv():
    """The hooks are local (nothing to fetch offline) and run the [dev] extra's tools."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "nbstripout"} <= set(hooks), sorted(hooks)
    assert all(repo["repo"] == "local" for repo in config["repos"])
    assert hooks["ruff"]["entry"].startswith(".venv/bin/python -m ruff check")
    assert hooks["nbstripout"]["entry"] == ".venv/bin/python -m nbstripout"
    assert "jupyter" in hooks["ruff"]["types_or"] and hooks["nbstripout"]["types"] == ["jupyter"]
    # the tools the hooks run are the ones the [dev] extra installs
    text = (ROOT / "pyproject.toml").read_text()
    assert '"ruff>=' in text and '"nbstripout>=' in text and '"pre-commit>=' in text


def test_pre_commit_accepts_its_config():
    pytest.importorskip("pre_commit")
    out = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config",
                          ".pre-commit-config.yaml"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.notebook
def test_notebook_kernel_is_the_python_under_test(this_python_kernel, tmp_path):
    """The notebooks run in this interpreter (this venv, this version), not another one."""
    nbformat = pytest.importorskip("nbformat")
    cell = nbformat.v4.new_code_cell("import sys; print(sys.prefix, sys.version_info[:2])")
    path = tmp_path / "which_python.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    nb = test_notebooks.execute(path, this_python_kernel, tmp_path)
    printed = "".join(output.get("text", "") for output in nb.cells[0].outputs).strip()
    assert printed == f"{sys.prefix} {sys.version_info[:2]}"

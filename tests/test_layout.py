"""The layout holds: the autodiff core stands alone, the teaching tools read it, nn builds on it.

Imports are read from the source with ``ast`` (every ``import`` and ``from ...
import``, at any depth, including the ones inside functions), so a lazy import
cannot slip past the rule.
"""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["value.py", "ops.py", "backward.py", "tape.py"]


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] != "__init__" else ".".join(parts[:-1])


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved to absolute names."""
    return _imports(path.read_text(encoding="utf-8"), _package_of(path))


def _imports(source: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _reaches(modules: set[str], prefix: str) -> list[str]:
    return sorted(m for m in modules if m == prefix or m.startswith(prefix + "."))


def test_the_engine_root_holds_the_core_only():
    files = sorted(p.name for p in (ROOT / "engine").glob("*.py"))
    assert files == sorted(CORE + ["__init__.py"])
    assert (ROOT / "engine" / "teach" / "__init__.py").is_file()


@pytest.mark.parametrize("name", CORE)
def test_the_core_imports_no_teaching_tool_and_no_nn(name):
    modules = imported_modules(ROOT / "engine" / name)
    assert _reaches(modules, "engine.teach") == []
    assert _reaches(modules, "nn") == []


@pytest.mark.parametrize("path", sorted((ROOT / "engine" / "teach").glob("*.py")),
                         ids=lambda p: p.name)
def test_the_teaching_tools_import_no_nn(path):
    assert _reaches(imported_modules(path), "nn") == []


def test_the_checker_sees_relative_and_lazy_imports():
    # the rule must be able to fail: lazy, relative and absolute imports of nn are found
    source = ("def f():\n    from ..value import Value\n    import nn.train\n"
              "    from nn import fit\n")
    modules = _imports(source, "engine.teach")
    assert "engine.value.Value" in modules
    assert _reaches(modules, "nn") == ["nn", "nn.fit", "nn.train"]


def test_importing_the_core_alone_loads_no_nn():
    code = ("import sys, engine.value, engine.backward, engine.ops; "
            "print([m for m in sys.modules if m == 'nn' or m.startswith('nn.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_page_assets(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    if out.returncode != 0 and "No module named" in out.stderr:
        pytest.skip(f"cannot build a wheel here: {out.stderr.strip()[-200:]}")
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("chainrule-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for asset in ("page.html", "page.css", "page.js"):
        assert f"engine/teach/assets/{asset}" in names
    assert any(n.endswith("LICENSE") for n in names)

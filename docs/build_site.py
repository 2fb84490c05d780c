"""Build the documentation site and the in-browser course into one folder (``make site``).

Two steps, so that the build itself needs no network:

    python docs/build_site.py --fetch   # once, online: Pyodide and the wheels, into a cache
    python docs/build_site.py           # offline: build/site/ (docs) and build/site/lite/

The output folder holds

* the documentation (Sphinx with myst-nb and autodoc, theme furo): the landing page,
  the user guide, the API reference and every notebook executed, with its outputs;
* ``lite/``: a JupyterLite app (the Pyodide kernel) with every notebook, chainrule's
  wheel built from this checkout and the pure-Python wheels the notebooks need.

Pyodide comes from the npm package ``pyodide`` (the core runtime only). The core's
lock file names every package of Pyodide's distribution, but the npm package ships
none of their wheels: the pure-Python ones the kernel and the notebooks need are taken
from PyPI at their locked versions and the lock is rewritten to point at them (with
their hashes). Compiled packages (matplotlib, NumPy) exist only in Pyodide's own
distribution: the lock points at it, so they load when the browser is online.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "build" / "site-cache"
WORK = ROOT / "build" / "site-work"
OUT = ROOT / "build" / "site"

#: Where Pyodide's own distribution lives, for the packages loaded at run time (online).
PYODIDE_CDN = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"

#: Packages of Pyodide's lock the kernel needs at start (micropip, then piplite installs
#: ipython, jedi, comm) and the notebooks import (tqdm); their dependencies follow.
LOCK_ROOTS = ["micropip", "packaging", "ipython", "jedi", "traitlets", "tqdm"]

#: Pure-Python wheels not in Pyodide's lock, served by the app's own package index
#: (piplite) at the versions installed here, so the widgets' front end matches.
PIPLITE_WHEELS = ["ipywidgets", "jupyterlab_widgets", "comm", "latex2mathml"]

#: MathJax (npm) typesets the docs' formulas, from the site itself.
MATHJAX = "3.2.2"

#: What each notebook needs in the browser beyond the bundled wheels.
def needs(path: Path) -> str | None:
    """What a notebook needs in the browser: "desktop" (PyTorch, which has no build for
    it), "online" (matplotlib or NumPy: Pyodide's own distribution, loaded from its
    servers) or None (it runs offline). Read from the notebook's imports."""
    code = "\n".join("".join(cell["source"]) for cell in json.loads(
        path.read_text(encoding="utf-8"))["cells"] if cell["cell_type"] == "code")
    if re.search(r"^\s*(import|from) torch\b", code, re.M):
        return "desktop"
    if re.search(r"^\s*(import|from) (matplotlib|numpy)\b", code, re.M):
        return "online"
    return None


def pyodide_version() -> str:
    from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION

    return PYODIDE_VERSION


def run(*cmd: str | Path, cwd: Path = ROOT, env: dict | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True, env=env)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_closure(packages: dict) -> list[str]:
    """LOCK_ROOTS and every package of the lock they depend on, sorted."""
    seen: set[str] = set()
    todo = list(LOCK_ROOTS)
    while todo:
        name = todo.pop().lower().replace("_", "-")  # the lock's keys are normalised
        if name in seen:
            continue
        if name not in packages:
            raise SystemExit(f"build_site: {name!r} is not in Pyodide's lock file")
        seen.add(name)
        todo += packages[name]["depends"]
    return sorted(seen)


# ---------------------------------------------------------------- fetch (online)

def fetch() -> None:
    """Download Pyodide's npm package and the wheels into CACHE (needs the registries)."""
    version = pyodide_version()
    npm_dir = CACHE / "npm"
    npm_dir.mkdir(parents=True, exist_ok=True)
    tgz = npm_dir / f"pyodide-{version}.tgz"
    if not tgz.exists():
        run("npm", "pack", f"pyodide@{version}", "--pack-destination", npm_dir, "--silent")
    with tarfile.open(tgz) as tar:
        lock = json.load(tar.extractfile("package/pyodide-lock.json"))  # type: ignore[arg-type]
    mathjax = npm_dir / f"mathjax-{MATHJAX}.tgz"
    if not mathjax.exists():
        run("npm", "pack", f"mathjax@{MATHJAX}", "--pack-destination", npm_dir, "--silent")
    pins = [f"{name}=={lock['packages'][name]['version']}"
            for name in lock_closure(lock["packages"])]
    pins += [f"{name}=={metadata.version(name)}" for name in PIPLITE_WHEELS]
    from jupyterlite_pyodide_kernel.constants import PYODIDE_PYTHON_VERSION

    wheels = CACHE / "wheels"
    # Pure-Python wheels for the browser's Python, whatever Python runs this build.
    run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--python-version", PYODIDE_PYTHON_VERSION, "--dest", wheels, *pins)
    print(f"build_site: cached Pyodide {version} and {len(pins)} wheels in {CACHE.relative_to(ROOT)}")


# ---------------------------------------------------------------- build (offline)

def cached_wheel(name: str, version: str) -> Path:
    norm = name.replace("-", "_").lower()
    for path in (CACHE / "wheels").glob("*.whl"):
        dist, ver = path.name.split("-")[:2]
        if dist.lower().replace("-", "_") == norm and ver == version:
            return path
    raise SystemExit(
        f"build_site: no cached wheel of {name} {version}: run `make site` online once "
        f"(or `python docs/build_site.py --fetch`) to fill {CACHE.relative_to(ROOT)}"
    )


def build_pyodide(dest: Path) -> None:
    """Pyodide's core from npm in dest, its lock pointing at the bundled wheels."""
    version = pyodide_version()
    tgz = CACHE / "npm" / f"pyodide-{version}.tgz"
    if not tgz.exists():
        raise SystemExit(f"build_site: {tgz.relative_to(ROOT)} missing: run `make site` online once")
    dest.mkdir(parents=True)
    keep = (".mjs", ".js", ".wasm", ".zip", ".json")
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and name.endswith(keep) and "/" not in name and name != "package.json":
                (dest / name).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    lock_path = dest / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    packages = lock["packages"]
    bundled = set(lock_closure(packages))
    cdn = PYODIDE_CDN.format(version=version)
    for name, entry in packages.items():
        if name in bundled:
            wheel = cached_wheel(name, entry["version"])
            shutil.copy2(wheel, dest / wheel.name)
            entry["file_name"] = wheel.name
            entry["sha256"] = sha256(wheel)
        elif "://" not in entry["file_name"]:
            # Not bundled: loaded from Pyodide's distribution when the browser is online.
            entry["file_name"] = cdn + entry["file_name"]
    lock_path.write_text(json.dumps(lock))


def build_wheel(dest: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", dest, ROOT)
    (wheel,) = dest.glob("chainrule-*.whl")
    return wheel


def notebook_banner(name: str) -> dict:
    """The markdown cell put on top of a notebook's docs page: the link to run it."""
    need = needs(NOTEBOOKS / name)
    link = f"../lite/notebooks/index.html?path={name}"
    if need == "desktop":
        text = ("This notebook needs PyTorch, which does not run in the browser: "
                "run it on your computer (`make notebook`).")
    else:
        text = (f'<a class="run-in-browser" href="{link}">Run this notebook in your browser</a> '
                "(JupyterLite: nothing to install")
        text += ("; its plots load matplotlib from Pyodide's servers, so it needs a connection)."
                 if need == "online" else ", works offline).")
    return {"cell_type": "markdown", "metadata": {}, "source": text, "id": "run-in-browser"}


def build_docs(out: Path) -> None:
    src = WORK / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("build_site.py", "make_*.py", "*.dot"))
    shutil.copy2(ROOT / "README.md", WORK / "README.md")  # the landing page includes it
    (src / "notebooks").mkdir()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        install, title = nb["cells"][:2]
        if "piplite" not in "".join(install["source"]):
            raise SystemExit(f"build_site: {path.name} does not start with the install cell")
        # The page shows the title, then the link; the install cell is for the browser only.
        install.setdefault("metadata", {}).setdefault("tags", []).append("remove-cell")
        nb["cells"][:2] = [title, notebook_banner(path.name), install]
        (src / "notebooks" / path.name).write_text(json.dumps(nb, indent=1))
    # The notebooks run in a kernel of this interpreter (the one with chainrule and the
    # extras), not in whatever "python3" kernel the user's Jupyter has: JUPYTER_PATH is
    # searched first.
    spec = WORK / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (chainrule site build)", "language": "python"}))
    if shutil.which("dot") is None:
        print("build_site: Graphviz's dot is not installed: each drawing of the notebook pages "
              "will carry its own copy of Viz.js (about 1.3 MB each, over the site's budget); "
              "install Graphviz (apt-get install graphviz) for SVG drawings")
    env = dict(os.environ, CHAINRULE_ROOT=str(ROOT),
               JUPYTER_PATH=os.pathsep.join(filter(None, [str(WORK / "jupyter"),
                                                          os.environ.get("JUPYTER_PATH")])))
    try:
        import torch  # noqa: F401
    except ImportError:
        print("build_site: PyTorch is not installed: notebook 05 is shown without outputs")
        env["CHAINRULE_SITE_SKIP"] = "05_to_pytorch"
    # MathJax's combined TeX-to-HTML file and its fonts, served with the docs.
    tgz = CACHE / "npm" / f"mathjax-{MATHJAX}.tgz"
    if not tgz.exists():
        raise SystemExit(f"build_site: {tgz.relative_to(ROOT)} missing: run `make site` online once")
    static = src / "_static" / "mathjax"
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/es5/")
            if member.isfile() and (name == "tex-chtml.js"
                                    or name.startswith("output/chtml/fonts/woff-v2/")):
                (static / name).parent.mkdir(parents=True, exist_ok=True)
                (static / name).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    run(sys.executable, "-m", "sphinx", "-b", "html", "-q",
        src, out, env=env)


def build_lite(out: Path) -> None:
    lite = WORK / "lite"
    (lite / "files").mkdir(parents=True)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(path, lite / "files" / path.name)
    pypi = lite / "pypi"
    build_wheel(pypi)
    for name in PIPLITE_WHEELS:
        shutil.copy2(cached_wheel(name, metadata.version(name)), pypi)
    build_pyodide(lite / "static" / "pyodide")
    (lite / "jupyter-lite.json").write_text(json.dumps({
        "jupyter-lite-schema-version": 0,
        # exposeAppInBrowser: window.jupyterapp, which tests/test_site.py drives.
        "jupyter-config-data": {"appName": "chainrule in the browser", "exposeAppInBrowser": True},
    }))
    run(sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", lite, "--output-dir", out,
        "--contents", lite / "files", "--no-sourcemaps",
        "--apps", "lab", "--apps", "notebooks", "--apps", "tree", cwd=lite)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build() -> None:
    start = time.monotonic()
    for path in (WORK, OUT):
        shutil.rmtree(path, ignore_errors=True)
    WORK.mkdir(parents=True)
    build_docs(OUT)
    docs_done = time.monotonic()
    build_lite(OUT / "lite")
    for junk in [*OUT.rglob("*.map"), OUT / ".doctrees", OUT / ".buildinfo", OUT / "lite" / ".jupyterlite.doit.db"]:
        if junk.is_dir():
            shutil.rmtree(junk)
        elif junk.exists():
            junk.unlink()
    seconds = time.monotonic() - start
    info = {
        "seconds": round(seconds, 1),
        "docs_seconds": round(docs_done - start, 1),
        "bytes": folder_size(OUT),
        "lite_bytes": folder_size(OUT / "lite"),
        "pyodide": pyodide_version(),
    }
    (WORK / "build-info.json").write_text(json.dumps(info, indent=1))
    print(f"build_site: {OUT.relative_to(ROOT)}: {info['bytes'] / 1e6:.1f} MB "
          f"(JupyterLite {info['lite_bytes'] / 1e6:.1f} MB) in {seconds:.0f} s "
          f"(docs {info['docs_seconds']:.0f} s). Serve it with: "
          f"python -m http.server -d {OUT.relative_to(ROOT)} -b 127.0.0.1 8000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", action="store_true",
                        help="download Pyodide and the wheels into the cache (online), then stop")
    args = parser.parse_args()
    fetch() if args.fetch else build()


if __name__ == "__main__":
    main()

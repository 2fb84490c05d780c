"""The documentation site and the course in the browser, as `make site` built them.

`make site-test` builds build/site/ and runs this file on it (CHAINRULE_SITE names the
folder; without it every test here is skipped, with the reason). The folder is served
on 127.0.0.1 only, and Chromium resolves no host name, so what runs is what the folder
holds: JupyterLite starts, notebook 01 runs top to bottom with its drawings, and so does
every notebook that needs no network. The docs' internal links all resolve and the API
reference documents every exported name.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import browser
import pytest
from browser import Browser, find_chromium

import engine
import nn

pytestmark = [pytest.mark.slow, pytest.mark.site]

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ["CHAINRULE_SITE"]).resolve() if os.environ.get("CHAINRULE_SITE") else None
ARTIFACTS = ROOT / "tests" / "artifacts"

def _needs():
    """docs/build_site.py's ``needs``: what a notebook needs in the browser."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.needs


#: Notebooks that run in the browser with no connection (the others load matplotlib
#: from Pyodide's servers, or need PyTorch), by the rule the docs pages state.
OFFLINE_NOTEBOOKS = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
                     if _needs()(p) is None]

#: Seconds for the kernel to start and for a whole notebook to run, on 2 shared cores.
KERNEL_START = 240
RUN_ALL = 300

needs_site = pytest.mark.skipif(
    SITE is None, reason="no built site: run `make site-test` (it sets CHAINRULE_SITE)")


@pytest.fixture(scope="module")
def site_url():
    """The site served over HTTP on 127.0.0.1 (a free port), for this module's tests."""
    if SITE is None or not (SITE / "index.html").exists():
        pytest.skip(f"no built site at {SITE}: run `make site-test`")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript",
                      ".js": "text/javascript", ".json": "application/json"}

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


# --- the folder -------------------------------------------------------------------------


@needs_site
def test_site_ships_no_source_maps_and_stays_in_budget():
    maps = [str(p.relative_to(SITE)) for p in SITE.rglob("*.map")]
    assert not maps, f"source maps shipped: {maps[:5]}"
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert size < 60e6, f"the site is {size / 1e6:.1f} MB, over the 60 MB budget"


@needs_site
def test_lite_app_bundles_the_wheels_and_the_runtime():
    pypi = {p.name.split("-")[0] for p in (SITE / "lite" / "pypi").glob("*.whl")}
    assert {"chainrule", "ipywidgets", "jupyterlab_widgets", "comm"} <= pypi
    lock = json.loads((SITE / "lite" / "static" / "pyodide" / "pyodide-lock.json").read_text())
    for name in ("micropip", "ipython", "traitlets", "tqdm"):
        file = lock["packages"][name]["file_name"]
        assert (SITE / "lite" / "static" / "pyodide" / file).exists(), f"{name}: {file} missing"
    assert "://" in lock["packages"]["matplotlib"]["file_name"], "matplotlib is loaded online"
    notebooks = {p.name for p in (SITE / "lite" / "files").glob("*.ipynb")}
    assert notebooks == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}


# --- the docs ---------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") == "preconnect"):
                self.links.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@needs_site
def test_every_internal_link_of_the_docs_resolves():
    pages = [p for p in SITE.rglob("*.html") if "lite" not in p.relative_to(SITE).parts[:1]]
    assert len(pages) >= 15, [str(p) for p in pages]
    parsed = {p: _parse(p) for p in pages}
    broken = []
    checked = 0
    for page, links in parsed.items():
        base = "file://" + str(page)
        for link in links.links:
            url = urlparse(urljoin(base, link))
            if url.scheme != "file":
                continue  # an outside link (the docs name a few sites); not ours to check
            target = Path(unquote(url.path))
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)}: {link}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if url.fragment not in ids:
                    broken.append(f"{page.relative_to(SITE)}: {link} (no such anchor)")
    assert checked > 200
    assert not broken, "\n".join(broken)


@needs_site
def test_every_notebook_page_has_its_outputs_and_the_run_link():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = SITE / "notebooks" / (path.stem + ".html")
        html = page.read_text(encoding="utf-8")
        if path.stem == "05_to_pytorch":
            assert "does not run in the browser" in html
        else:
            assert f'href="../lite/notebooks/index.html?path={path.name}"' in html, page
        assert 'class="cell_output' in html, f"{page.name} shows no outputs"
    assert "<svg" in (SITE / "notebooks" / "01_chain_rule.html").read_text(encoding="utf-8")


@needs_site
def test_the_api_reference_covers_every_exported_name():
    ids = _parse(SITE / "api.html").ids
    for module in (engine, nn):
        missing = [name for name in module.__all__ if not name.startswith("__")
                   and f"{module.__name__}.{name}" not in ids]
        assert not missing, f"{module.__name__}: not in the API reference: {missing}"


# --- the course in the browser -----------------------------------------------------------

#: The notebook panel of JupyterLite's notebook app, once it exists.
_PANEL = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = (f"(() => {{ const w = {_PANEL}; const k = w && w.sessionContext.session"
                " && w.sessionContext.session.kernel; return !!k && k.status === 'idle'; })()")
_PROGRESS = f"""(() => {{
  const w = {_PANEL};
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  cells.forEach((c, i) => {{
    for (const o of c.model.outputs.toJSON()) {{
      if (o.output_type === 'error') errors.push(`cell ${{i}}: ${{o.ename}}: ${{o.evalue}}`);
    }}
  }});
  const done = cells.filter(c => c.model.executionCount !== null).length;
  const status = w.sessionContext.session.kernel.status;
  return {{cells: cells.length, done, errors, status}};
}})()"""
#: Live ipywidgets views (the stepper's slider), rendered by the bundled jupyterlab_widgets.
_SLIDERS = "document.querySelectorAll('.jp-OutputArea-output .widget-slider').length"
_DRAWINGS = """(() => {
  const graphs = [...document.querySelectorAll('.jp-OutputArea-output .chainrule-graph')];
  return {graphs: graphs.length,
          drawn: graphs.filter(g => g.querySelector('.chainrule-picture svg')).length};
})()"""


def _wait(page, expression: str, timeout: float):
    """Poll a JavaScript expression until truthy, across the page's own navigations.

    Until the page has loaded (and while JupyterLite reloads it once for its service
    worker) there may be no document to evaluate in: that counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(f"location.protocol === 'http:' && ({expression})")
        except RuntimeError as error:
            if "context" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:.0f} s: {expression}")
        time.sleep(0.25)


def _offline_browser(monkeypatch):
    """Chromium that resolves no host name: only the 127.0.0.1 server can answer."""
    monkeypatch.setattr(browser, "FLAGS", [*browser.FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])


@needs_site
@pytest.mark.parametrize("notebook", OFFLINE_NOTEBOOKS)
def test_notebook_runs_in_jupyterlite_offline(site_url, notebook, monkeypatch):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on the PATH (Debian: apt-get install chromium)")
    _offline_browser(monkeypatch)
    url = urljoin(site_url, f"lite/notebooks/index.html?path={notebook}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"site-lite-{Path(notebook).stem}.png"
    with Browser(chromium, url, timeout=KERNEL_START) as page:
        start = time.monotonic()
        _wait(page, _KERNEL_IDLE, KERNEL_START)
        started = time.monotonic() - start
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + RUN_ALL
        while True:
            progress = page.evaluate(_PROGRESS)
            finished = progress["done"] == progress["cells"] and progress["status"] == "idle"
            if progress["errors"] or finished:
                break
            if time.monotonic() > deadline:
                page.screenshot(shot)
                pytest.fail(f"{notebook}: {progress['done']} of {progress['cells']} cells ran "
                            f"in {RUN_ALL} s (kernel {progress['status']}); see {shot}")
            time.sleep(0.5)
        ran = time.monotonic() - start - started
        # The drawings are laid out by Viz.js after the output arrives: give them a moment.
        drawings = page.evaluate(_DRAWINGS)
        for _ in range(60):
            if drawings["drawn"] == drawings["graphs"]:
                break
            time.sleep(0.5)
            drawings = page.evaluate(_DRAWINGS)
        sliders = page.evaluate(_SLIDERS)
        page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex = 6,"
                      " window.jupyterapp.shell.currentWidget.content.scrollToItem(6)")
        time.sleep(1)
        page.screenshot(shot)
        if "stepper" in (ROOT / "notebooks" / notebook).read_text(encoding="utf-8"):
            page.evaluate("document.querySelector('.widget-slider')"
                          ".scrollIntoView({block: 'center'})")
            time.sleep(1)
            page.screenshot(ARTIFACTS / f"site-lite-{Path(notebook).stem}-stepper.png")
    print(f"{notebook}: kernel ready in {started:.0f} s, ran {progress['cells']} cells "
          f"in {ran:.0f} s, {drawings['drawn']} drawings, {sliders} widget sliders")
    assert not progress["errors"], f"{notebook}: " + "; ".join(progress["errors"])
    # One drawing at least per cell that draws (draw_graph, an explanation's graph, an
    # exercise's display), up to three: a notebook that draws nothing expects none.
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    drawing_cells = sum(1 for c in cells if c["cell_type"] == "code" and re.search(
        r"draw_graph\(|\.graph\(|exercise\(", "".join(c["source"])))
    assert drawings["graphs"] >= min(3, drawing_cells), (
        f"{notebook}: expected its drawings, got {drawings}")
    assert drawings["drawn"] == drawings["graphs"], f"{notebook}: drawings not drawn: {drawings}"
    if "stepper" in (ROOT / "notebooks" / notebook).read_text(encoding="utf-8"):
        assert sliders >= 1, f"{notebook}: the stepper's widget did not render"


@needs_site
def test_a_plotting_notebook_offline_fails_only_for_matplotlib(site_url, monkeypatch):
    """What the site says of 02-04: offline, only matplotlib (Pyodide's distribution) is missing.

    The notebook stops at its first cell that imports matplotlib, and nothing before it
    failed: chainrule and the bundled wheels were there. (Online, Pyodide fetches
    matplotlib from its own servers; this machine cannot reach them, so that is untested.)
    """
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on the PATH (Debian: apt-get install chromium)")
    _offline_browser(monkeypatch)
    notebook = "02_neuron_to_mlp.ipynb"
    url = urljoin(site_url, f"lite/notebooks/index.html?path={notebook}")
    with Browser(chromium, url, timeout=KERNEL_START) as page:
        _wait(page, _KERNEL_IDLE, KERNEL_START)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + RUN_ALL
        while not (progress := page.evaluate(_PROGRESS))["errors"]:
            assert time.monotonic() < deadline, f"{notebook}: no error after {RUN_ALL} s"
            time.sleep(0.5)
    source = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code"]
    first_plot = next(i for i, text in enumerate(code) if "import matplotlib" in text)
    assert progress["errors"] == [f"cell {first_plot}: <class 'ModuleNotFoundError'>: "
                                  "No module named 'matplotlib'"]


@needs_site
def test_docs_pages_render(site_url):
    """Screenshots of the landing page and a notebook page, to look at (tests/artifacts/)."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on the PATH (Debian: apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ("index", "notebooks/01_chain_rule", "api"):
        with Browser(chromium, urljoin(site_url, f"{name}.html")) as page:
            _wait(page, "document.readyState === 'complete'", 30)
            title = page.evaluate("document.title")
            page.screenshot(ARTIFACTS / f"site-{re.sub(r'/', '-', name)}.png")
        assert "chainrule" in title

"""The README's figures are reproducible: docs/make_figures.py makes exactly the
committed DOT files, and each committed SVG was rendered from that DOT."""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine import dot_available

DOCS = Path(__file__).resolve().parents[1] / "docs"


def load_script():
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = load_script()


@pytest.mark.parametrize("name", sorted(SCRIPT.FIGURES))
def test_committed_dot_is_what_the_script_makes(name):
    source = SCRIPT.FIGURES[name]().source
    assert (DOCS / f"{name}.dot").read_text(encoding="utf-8") == source, (
        f"docs/{name}.dot is stale: run python docs/make_figures.py"
    )


def svg_content(svg: str) -> tuple[list[str], list[str]]:
    """The element ids and texts of an SVG: what it shows, independent of Graphviz's version."""
    root = ET.fromstring(svg)
    ids = sorted(el.get("id", "") for el in root.iter() if el.tag.endswith("}g") and el.get("id"))
    # a node or edge with a tooltip is wrapped in a link group, id "a_" + its own id
    ids = [i for i in ids if not (i.startswith("a_") and i[2:] in ids)]
    texts = sorted(el.text or "" for el in root.iter() if el.tag.endswith("}text") and el.text)
    return ids, texts


@pytest.mark.parametrize("name", sorted(SCRIPT.FIGURES))
def test_committed_svg_shows_the_committed_dot(name):
    source = (DOCS / f"{name}.dot").read_text(encoding="utf-8")
    ids, texts = svg_content((DOCS / f"{name}.svg").read_text(encoding="utf-8"))
    dot_ids = re.findall(r'\[id="(\w+)"', source)
    assert sorted(dot_ids + ["graph0"]) == ids
    if dot_available():
        from engine.teach.draw import _render

        assert svg_content(_render(source, "svg").decode()) == (ids, texts)


def test_readme_shows_the_figures():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for name in SCRIPT.FIGURES:
        assert f"(docs/{name}.svg)" in readme

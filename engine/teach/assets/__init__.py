"""The teaching tools' package data: the page's HTML, CSS and script, and the
vendored Viz.js (``viz-global.js``, see ``THIRD_PARTY.md``). Read them with ``read``."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["read"]


@cache
def read(name: str) -> str:
    """The file ``name`` of this folder (package data), as text."""
    return (resources.files(__package__) / name).read_text(encoding="utf-8")

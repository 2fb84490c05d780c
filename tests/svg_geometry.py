"""Reading Graphviz's SVG output for the drawing tests: node outlines, arrow tips, size.

Graphviz writes each node as ``<g class="node">`` (a value box is the polygons of
its table cells, an op an ``<ellipse>``) and each edge as ``<g class="edge">``
with a ``<path>`` ending at the arrowhead's base and a ``<polygon>`` arrowhead.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Outline:
    """A node's outline: a box (x0, y0, x1, y1) or an ellipse (cx, cy, rx, ry)."""

    kind: str
    box: tuple[float, float, float, float]

    def distance(self, x: float, y: float) -> float:
        """How far (x, y) lies from the outline (0 on it)."""
        if self.kind == "ellipse":
            cx, cy, rx, ry = self.box
            r = math.hypot((x - cx) / rx, (y - cy) / ry)
            return abs(1 - 1 / r) * math.hypot(x - cx, y - cy) if r else min(rx, ry)
        x0, y0, x1, y1 = self.box
        if x0 <= x <= x1 and y0 <= y <= y1:  # inside: to the nearest side
            return min(x - x0, x1 - x, y - y0, y1 - y)
        return math.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1))


def _points(text: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]
    return list(zip(numbers[::2], numbers[1::2]))


def outlines(svg: str) -> dict[str, Outline]:
    """Each node's title (its DOT id) -> its outline."""
    found = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if "node" not in (g.get("class") or "").split():
            continue
        title = g.find(f"{SVG}title").text
        ellipse = next(g.iter(f"{SVG}ellipse"), None)  # (inside an <a> when it has a tooltip)
        if ellipse is not None:
            found[title] = Outline("ellipse", tuple(float(ellipse.get(k))
                                                   for k in ("cx", "cy", "rx", "ry")))
            continue
        points = [p for poly in g.iter(f"{SVG}polygon") for p in _points(poly.get("points"))]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        found[title] = Outline("box", (min(xs), min(ys), max(xs), max(ys)))
    return found


def arrow_tips(svg: str) -> list[tuple[str, str, tuple[float, float], float]]:
    """(tail, head, the arrow's tip, its stroke width) for every edge: the tip is the
    arrowhead point farthest from where the edge's path ends (the arrowhead's base)."""
    tips = []
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if "edge" not in (g.get("class") or "").split():
            continue
        # the title is "tail->head", with ":port" after a node that has ports
        tail, head = (end.split(":")[0] for end in g.find(f"{SVG}title").text.split("->"))
        end = _points(next(g.iter(f"{SVG}path")).get("d"))[-1]
        arrow = next(g.iter(f"{SVG}polygon"))
        head_points = _points(arrow.get("points"))
        tip = max(head_points, key=lambda p: math.hypot(p[0] - end[0], p[1] - end[1]))
        tips.append((tail, head, tip, float(arrow.get("stroke-width", "1"))))
    return tips


def tip_gaps(svg: str) -> list[tuple[str, str, float]]:
    """(tail, head, gap) per edge: how far the drawn tip of the arrow is from the head
    node's outline. A thick arrow's outline reaches half its stroke width past the
    tip's point (Graphviz pulls thick arrows back by that much), so that is taken off."""
    shapes = outlines(svg)
    return [(tail, head, max(0.0, shapes[head].distance(*tip) - width / 2))
            for tail, head, tip, width in arrow_tips(svg)]


def size_pt(svg: str) -> tuple[float, float]:
    """The drawing's width and height in points (Graphviz writes ``width="123pt"``)."""
    root = ET.fromstring(svg)
    return tuple(float(root.get(k).removesuffix("pt")) for k in ("width", "height"))


def font_sizes(svg: str) -> list[float]:
    """The font size, in points, of every text in the drawing."""
    return [float(t.get("font-size")) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def fitted_text_px(svg: str, screen: tuple[int, int] = (1280, 1024)) -> float:
    """The smallest text's height in CSS pixels when the drawing is shown scaled down
    (never up) to fit ``screen`` (a browser draws 1 pt as 4/3 px)."""
    width, height = (v * 4 / 3 for v in size_pt(svg))
    scale = min(1.0, screen[0] / width, screen[1] / height)
    return min(font_sizes(svg)) * 4 / 3 * scale


def port_cells(svg: str, fill: str) -> dict[str, list[Outline]]:
    """Each node's cells filled with ``fill`` (e.g. the port cells), in drawing order."""
    found: dict[str, list[Outline]] = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if "node" not in (g.get("class") or "").split():
            continue
        title = g.find(f"{SVG}title").text
        for poly in g.iter(f"{SVG}polygon"):
            if poly.get("fill") == fill:
                pts = _points(poly.get("points"))
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                found.setdefault(title, []).append(
                    Outline("box", (min(xs), min(ys), max(xs), max(ys))))
    return found


def tips_by_id(svg: str) -> dict[str, tuple[float, float]]:
    """Each edge's element id (its DOT ``id``) -> the arrow's tip. (Graphviz's edge
    titles keep a head port's compass side but not the port's name.)"""
    ids = [g.get("id") for g in ET.fromstring(svg).iter(f"{SVG}g")
           if "edge" in (g.get("class") or "").split()]
    return {i: tip for i, (_, _, tip, _) in zip(ids, arrow_tips(svg))}

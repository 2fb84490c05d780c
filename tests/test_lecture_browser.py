"""explain()'s MathML page in a real browser: headless Chromium typesets every formula.

Skipped (with the reason printed) where the Debian package ``chromium`` or the
``latex2mathml`` package (the ``[viz]`` extra) is absent. Never downloads a
browser. Leaves a screenshot in tests/artifacts/ to look at.
"""

from pathlib import Path

import pytest
from browser import Browser, find_chromium
from test_lecture import toy_net, workshop_net

from nn import layer_view

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: For each <math> element: rendered as MathML (not as a fallback), and its box size.
MEASURE = """Array.from(document.querySelectorAll('math')).map(m => {
  const r = m.getBoundingClientRect();
  return [m.namespaceURI, r.width, r.height, m.querySelectorAll('mfrac').length];
})"""


@pytest.mark.parametrize("name", ["workshop", "toy"])
def test_mathml_page_typesets_in_chromium(tmp_path, name):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium not found: browser test skipped "
                    "(install the Debian package chromium; CI does)")
    pytest.importorskip("latex2mathml", reason="latex2mathml (the [viz] extra) writes "
                        "the MathML; without it the page shows LaTeX source")
    if name == "workshop":
        ex = layer_view(workshop_net()[0], [0.0, 1.0], [1.0, 0.0]).explain()
    else:
        ex = layer_view(toy_net()[0], [0.5, -1.5], 1.0, loss="bce").explain(input_layer=1)
    body = ex.to_html(math="mathml")
    assert '<code class="latex">' not in body       # every formula converted
    page = tmp_path / "explain.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'></head><body>"
                    + body + "</body></html>", encoding="utf-8")
    with Browser(chromium, page.as_uri()) as browser:
        browser.wait_for("document.readyState === 'complete' && "
                         "document.querySelectorAll('math').length > 0")
        boxes = browser.evaluate(MEASURE)
        ARTIFACTS.mkdir(exist_ok=True)
        browser.screenshot(ARTIFACTS / f"lecture_explain_{name}.png")
    assert len(boxes) == body.count("<math")
    assert all(ns == "http://www.w3.org/1998/Math/MathML" for ns, *_ in boxes)
    assert all(w > 0 and h > 0 for _, w, h, _ in boxes)
    # a typeset fraction is taller than a line of text: dL/da is drawn as a fraction
    line = min(h for _, _, h, fracs in boxes if fracs == 0)
    assert max(h for _, _, h, fracs in boxes if fracs) > 1.5 * line

"""The exercise page (``Exercise.to_html``) in headless Chromium: type answers, press
Check, read the feedback in place. Skipped, with the reason, without Chromium.
Screenshots are left in tests/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import Browser, find_chromium

from engine import Value, exercise

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        pytest.skip("headless Chromium not found: browser test skipped "
                    "(install the Debian package chromium; CI does)")
    return path


def carried_graph():
    """x = 2, w = 3, u = x * w, s = u + x, L = s * s. By hand: grad(s) = 2 s = 16,
    grad(u) = 16, grad(w) = 16 x = 32, grad(x) = 16 w + 16 = 64."""
    x, w = Value(2.0, label="x"), Value(3.0, label="w")
    u = x * w
    u.label = "u"
    s = u + x
    s.label = "s"
    L = s * s
    L.label = "L"
    return L


def type_into(browser: Browser, k: int, text: str) -> None:
    browser.evaluate(f"document.getElementById('ans-{k}').value = ''")
    browser.click(f"#ans-{k}")
    browser.send("Input.insertText", {"text": text})


FEEDBACK = "document.getElementById('feedback').textContent"


def verdict(k: int) -> str:
    return f"document.getElementById('verdict-{k}').textContent"


def test_the_page_checks_answers_in_place(chromium, tmp_path):
    ex = exercise(carried_graph(), ask=["s", "u", "w", "x"])
    page = ex.to_html(tmp_path / "exercise.html")
    index = {name: k for k, name in enumerate(ex.names)}
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.watch_network()
        browser.wait_for("document.readyState === 'complete'")
        assert browser.evaluate(FEEDBACK) == ""
        # a mistake at s, carried on consistently below it
        for name, text in {"s": "8", "u": "8", "w": "16", "x": "32"}.items():
            type_into(browser, index[name], text)
        browser.click("#check")
        browser.wait_for(f"{FEEDBACK} !== ''")
        said = browser.evaluate(FEEDBACK)
        assert said.startswith("0 of 4 right; first mistake: grad(s)")
        # 8 is grad(s) through one of the two edges of s * s
        assert "grad(s) collects from 2 paths (through L (input 1) and through L (input 2))" in said
        ARTIFACTS.mkdir(exist_ok=True)
        browser.screenshot(ARTIFACTS / "exercise_mistake.png")
        assert browser.evaluate(verdict(index["u"])) == "follows from your grad(s)"
        assert browser.evaluate(verdict(index["x"])) == "follows from your grad(s, u)"
        assert "16" not in said and "64" not in said
        # the page says what Exercise.check says
        fb = ex.check({"s": 8, "u": 8, "w": 16, "x": 32})
        assert fb.hint in said
        # now the right answers
        for name, text in {"s": "16", "u": "16", "w": "32", "x": "64"}.items():
            type_into(browser, index[name], text)
        browser.click("#check")
        browser.wait_for(f"{FEEDBACK}.indexOf('all right') >= 0")
        assert all(browser.evaluate(verdict(k)) == "right" for k in range(4))
        browser.screenshot(ARTIFACTS / "exercise_right.png")
        assert [url for url in browser.requests() if not url.startswith("file:")] == []


def test_labels_are_text_on_the_page(chromium, tmp_path):
    a = Value(2.0, label="<img src=x onerror=alert(1)>")
    y = a * a
    y.label = "y"
    page = exercise(y, ask=[a]).to_html(tmp_path / "exercise.html")
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.wait_for("document.readyState === 'complete'")
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        type_into(browser, 0, "1")
        browser.click("#check")
        browser.wait_for(f"{FEEDBACK} !== ''")
        assert "<img src=x onerror=alert(1)>" in browser.evaluate(FEEDBACK)
        assert browser.evaluate("document.querySelectorAll('img').length") == 0

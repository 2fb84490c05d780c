"""The exercise page (``Exercise.to_html``) in headless Chromium: type answers, press
Check, read the feedback in place. Skipped, with the reason, without Chromium.
Screenshots are left in tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

from browser import Browser
from test_exercise import carried_graph

from engine import Value, exercise

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def type_into(browser: Browser, k: int, text: str) -> None:
    browser.evaluate(f"document.getElementById('ans-{k}').value = ''")
    browser.click(f"#ans-{k}")
    browser.send("Input.insertText", {"text": text})


FEEDBACK = "document.getElementById('feedback').textContent"
# the page's script has run (after watch_network's reload too: the old page may linger)
LOADED = "document.readyState === 'complete' && !!window.chainruleCheck && !!document.getElementById('ans-0')"


def verdict(k: int) -> str:
    return f"document.getElementById('verdict-{k}').textContent"


def test_the_page_checks_answers_in_place(chromium, tmp_path):
    ex = exercise(carried_graph(), ask=["s", "u", "w", "x"])
    page = ex.to_html(tmp_path / "exercise.html")
    index = {name: k for k, name in enumerate(ex.names)}
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.watch_network()
        browser.wait_for(LOADED)
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
        browser.wait_for(LOADED)
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        type_into(browser, 0, "1")
        browser.click("#check")
        browser.wait_for(f"{FEEDBACK} !== ''")
        assert "<img src=x onerror=alert(1)>" in browser.evaluate(FEEDBACK)
        assert browser.evaluate("document.querySelectorAll('img').length") == 0


def test_predict_mode_hides_each_step_until_a_guess_is_revealed(chromium, tmp_path):
    from engine import explain
    from engine.teach.notation import number

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    steps = explain(c)
    page = steps.to_html(tmp_path / "predict.html", forward=False, predict=True)
    rows = "Array.from(document.querySelectorAll('table.steps tbody tr')).filter(tr => !tr.hidden).length"
    with Browser(chromium, page.resolve().as_uri() + "#step=3") as browser:  # no peeking by URL
        browser.wait_for("window.chainrule && window.chainrule.ready")
        assert browser.evaluate("document.body.dataset.step") == "0"
        assert browser.evaluate(rows) == 0
        assert browser.evaluate("document.getElementById('predict').hidden") is True
        browser.click("#next")
        # asked, not shown: still step 0, Next disabled, the contribution nowhere in the text
        assert browser.evaluate("document.body.dataset.asking") == "1"
        assert browser.evaluate("document.body.dataset.step") == "0"
        assert browser.evaluate("document.getElementById('next').disabled") is True
        assert "Predict step 1" in browser.evaluate("document.getElementById('predict-question').textContent")
        if shutil.which("dot"):  # the edge it asks about is pointed at
            assert browser.evaluate("document.querySelectorAll('#graph g.edge.cr-current').length") >= 1
        browser.screenshot(ARTIFACTS / "predict_asking.png")
        # a wrong guess, then Reveal
        wrong = steps[0].contribution + 5
        browser.click("#guess")
        browser.send("Input.insertText", {"text": repr(wrong)})
        browser.click("#reveal")
        browser.wait_for("document.body.dataset.step === '1'")
        said = browser.evaluate("document.getElementById('predict-verdict').textContent")
        assert said.startswith("Not quite") and number(steps[0].contribution) in said
        assert browser.evaluate(rows) == 1
        browser.screenshot(ARTIFACTS / "predict_revealed.png")
        # the next one, guessed right (to the page's 4 digits)
        browser.click("#next")
        assert browser.evaluate("document.body.dataset.asking") == "2"
        browser.click("#guess")
        browser.send("Input.insertText", {"text": number(steps[1].contribution)})
        browser.press("Enter", 13)
        browser.wait_for("document.body.dataset.step === '2'")
        assert browser.evaluate("document.getElementById('predict-verdict').textContent").startswith("Right")
        assert browser.evaluate(rows) == 2
        # going back needs no guess; going forward past what is revealed asks again
        browser.click("#prev")
        assert browser.evaluate("document.body.dataset.step") == "1"
        browser.press("ArrowRight", 39)
        assert browser.evaluate("document.body.dataset.step") == "2"
        browser.press("ArrowRight", 39)
        assert browser.evaluate("document.body.dataset.asking") == "3"


def test_without_dot_the_exercise_page_draws_in_the_browser_offline(chromium, tmp_path,
                                                                    monkeypatch):
    from engine.teach import draw as draw_module

    which = draw_module.shutil.which
    monkeypatch.setattr(draw_module.shutil, "which",
                        lambda name, *a, **k: None if name == "dot" else which(name, *a, **k))
    ex = exercise(carried_graph(), ask=["s", "u"])
    page = ex.to_html(tmp_path / "exercise.html")
    assert "<svg" not in page.read_text(encoding="utf-8").split("<script")[0]
    with Browser(chromium, page.resolve().as_uri()) as browser:
        browser.watch_network()
        browser.wait_for("!!document.querySelector('svg g.node')")
        type_into(browser, 0, "16")
        type_into(browser, 1, "16")
        browser.click("#check")
        browser.wait_for(f"{FEEDBACK}.indexOf('all right') >= 0")
        browser.screenshot(ARTIFACTS / "exercise_without_dot.png")
        asked = [u for u in browser.requests() if not u.startswith("data:")]
        assert asked == [page.resolve().as_uri()], asked

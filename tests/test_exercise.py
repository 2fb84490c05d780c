"""Exercises: ``exercise(root, ask=...)`` and ``Exercise.check`` (engine/teach/exercise.py).

Every right answer here is derived by hand in the test (and the first graph's
also by central differences), never taken from the code under test.
"""

from __future__ import annotations

import json
import re

import pytest
from oracles import central_difference

from engine import Value
from engine.teach.exercise import Exercise, Feedback, exercise


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def assert_no_answer_in(feedback: Feedback, right: dict[str, float]) -> None:
    """No answer's hint holds its right number (nor minus it, nor its size)."""
    assert feedback.hint == (feedback[feedback.first_mistake].hint if feedback.first_mistake else "")
    for answer in feedback.answers:
        for x in numbers_in(answer.hint):
            assert abs(abs(x) - abs(right[answer.name])) > 1e-9, (answer.hint, right[answer.name])


def small():
    """a = 3, b = -4, c = a * b, L = c + a; by hand dL/dc = 1, dL/da = b + 1 = -3, dL/db = a = 3."""
    a, b = Value(3.0, label="a"), Value(-4.0, label="b")
    c = a * b
    c.label = "c"
    L = c + a
    L.label = "L"
    return L, a, b, c


RIGHT_SMALL = {"c": 1.0, "a": -3.0, "b": 3.0}


def test_the_hand_derivation_agrees_with_central_differences():
    da, db = central_difference(lambda xs: xs[0] * xs[1] + xs[0], [3.0, -4.0])
    assert (da, db) == (pytest.approx(-3.0, abs=1e-6), pytest.approx(3.0, abs=1e-6))


def test_right_answers_pass():
    L, *_ = small()
    fb = exercise(L, ask=["a", "b", "c"]).check(RIGHT_SMALL)
    assert fb.ok and fb.wrong == () and fb.first_mistake is None and fb.score == 1.0
    assert fb.hint == "" and "all right" in str(fb)


def test_backward_order_and_values_as_keys():
    L, a, b, c = small()
    ex = exercise(L, ask=[b, "a", c])
    assert ex.names[0] == "c" and set(ex.names) == {"a", "b", "c"}  # backward order: c first
    assert ex.check({a: -3, b: 3, c: 1}).ok


def test_one_wrong_value():
    L, *_ = small()
    fb = exercise(L, ask=["c", "a", "b"]).check({"c": 1, "a": -3, "b": 7})
    assert not fb.ok and fb.wrong == ("b",) and fb.first_mistake == "b"
    assert fb.score == pytest.approx(2 / 3)
    assert fb["b"].status == "wrong" and fb["b"].kind == "other"
    assert "grad(b) = grad(c) * d(c)/d(b)" in fb.hint
    assert_no_answer_in(fb, RIGHT_SMALL)


def test_a_missed_path():
    L, *_ = small()
    fb = exercise(L, ask=["c", "a", "b"]).check({"c": 1, "a": -4, "b": 3})
    assert fb.wrong == ("a",) and fb.first_mistake == "a" and fb["a"].kind == "missed path"
    assert fb.hint == ("grad(a) collects from 2 paths (through L and through c); your value "
                       "matches the one through c only: add the other path's contribution")
    assert_no_answer_in(fb, RIGHT_SMALL)


def test_a_sign_slip():
    L, *_ = small()
    fb = exercise(L, ask=["c", "a", "b"]).check({"c": 1, "a": -3, "b": -3})
    assert fb.wrong == ("b",) and fb["b"].kind == "sign"
    assert "wrong sign" in fb.hint
    assert_no_answer_in(fb, RIGHT_SMALL)


def test_a_sign_slip_in_one_contribution():
    # d(L)/d(a) = b * 1 + 1: with b's term flipped the student writes 4 + 1 = 5
    L, *_ = small()
    fb = exercise(L, ask=["a"]).check({"a": 5})
    assert fb["a"].kind == "sign" and "through c has the wrong sign" in fb.hint
    assert_no_answer_in(fb, RIGHT_SMALL)


def test_a_missing_local_derivative():
    # x = 2, w = 3, u = x * w, L = u * 5: by hand grad(u) = 5, grad(x) = 5 w = 15, grad(w) = 10
    x, w = Value(2.0, label="x"), Value(3.0, label="w")
    u = x * w
    u.label = "u"
    L = u * 5
    L.label = "L"
    fb = exercise(L, ask=["u", "x", "w"]).check({"u": 5, "x": 5, "w": 10})
    assert fb.wrong == ("x",) and fb["x"].kind == "missing local"
    assert fb.hint == ("through u you used grad(u) without multiplying by the local "
                       "derivative d(u)/d(x)")
    assert_no_answer_in(fb, {"u": 5.0, "x": 15.0, "w": 10.0})


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


RIGHT_CARRIED = {"s": 16.0, "u": 16.0, "w": 32.0, "x": 64.0}


def test_right_answers_pass_on_the_carried_graph():
    assert exercise(carried_graph(), ask=["s", "u", "w", "x"]).check(RIGHT_CARRIED).ok


def test_a_mistake_carried_on_is_traced_to_where_it_began():
    # grad(s) = 10 is wrong; the rest applies the chain rule rightly to it:
    # u = 10, w = 10 * 2 = 20, x = 10 * 3 + 10 = 40
    fb = exercise(carried_graph(), ask=["s", "u", "w", "x"]).check(
        {"s": 10, "u": 10, "w": 20, "x": 40})
    assert set(fb.wrong) == {"s", "u", "w", "x"}
    assert fb.first_mistake == "s" and fb.mistakes == ("s",)
    for name in ("u", "w", "x"):
        assert fb[name].status == "carried" and "s" in fb[name].carried_from
    assert "fix that first" in fb["x"].hint
    assert_no_answer_in(fb, RIGHT_CARRIED)


def test_a_second_mistake_below_a_carried_one():
    # s wrong (10), u carried (10), but x = 41 is not what the rule gives from 10: its own slip
    fb = exercise(carried_graph(), ask=["s", "u", "w", "x"]).check(
        {"s": 10, "u": 10, "w": 20, "x": 41})
    assert fb.first_mistake == "s" and fb.mistakes == ("s", "x")
    assert fb["x"].status == "wrong"


def test_two_edges_into_one_node_are_two_paths():
    # L = s * s with grad(s) = s (one of the two edges) = 8: a missed path, named by input
    fb = exercise(carried_graph(), ask=["s"]).check({"s": 8})
    assert fb["s"].kind == "missed path"
    assert "through L (input 1) and through L (input 2)" in fb.hint
    assert_no_answer_in(fb, RIGHT_CARRIED)


def test_unanswered_names_count_as_not_right():
    L, *_ = small()
    fb = exercise(L, ask=["c", "a", "b"]).check({"c": 1})
    assert not fb.ok and set(fb.missing) == {"a", "b"} and fb.wrong == () and fb.score == pytest.approx(1 / 3)


def test_json_round_trip():
    fb = exercise(carried_graph(), ask=["s", "u", "w", "x"]).check(
        {"s": 10, "u": 10, "w": 20})
    data = json.loads(json.dumps(fb.to_dict()))
    assert data == fb.to_dict()
    assert data["first_mistake"] == "s" and data["missing"] == ["x"]
    again = Feedback.from_dict(data)
    assert again.to_dict() == fb.to_dict() and again.wrong == fb.wrong
    for value in RIGHT_CARRIED.values():  # the JSON holds no right answer
        assert value not in [a["answer"] for a in data["answers"] if a["status"] != "right"]
    assert not any(x in RIGHT_CARRIED.values() for x in numbers_in(json.dumps(
        {k: v for k, v in data.items() if k != "answers"})))


def test_displays():
    L, *_ = small()
    ex = exercise(L, ask=["a", "b"])
    assert isinstance(ex, Exercise)
    text = str(ex)
    assert "Compute by hand" in text and text.count("?") == 2
    page = ex._repr_html_()
    assert "?" in page and "<table" in page
    fb = ex.check({"a": -4, "b": 3})
    assert "first mistake: grad(a)" in str(fb)
    assert "<table" in fb._repr_html_() and "Feedback(ok=False" in repr(fb)


def test_gradients_below_the_asked_ones_are_hidden_too():
    # grad(w) = grad(u) * x would give grad(u) away: asked u hides w and x, not s or L
    ex = exercise(carried_graph(), ask=["u"])
    rows = {row[0]: row[2] for row in ex._rows()}
    assert rows == {"L": "1", "s": "16", "u": "?", "w": "hidden", "x": "hidden"}
    shown = {ex.notation.name(n) for n in ex._shown_grads()}
    assert shown == {"L", "s"}


def test_labels_are_escaped_on_the_page(tmp_path):
    a = Value(2.0, label="<b>a</b>")
    y = a * a
    y.label = "y"
    html = exercise(y, ask=[a]).to_html(tmp_path / "ex.html").read_text(encoding="utf-8")
    assert "<b>a</b>" not in html and "&lt;b&gt;a&lt;/b&gt;" in html


@pytest.mark.parametrize("call, error, message", [
    (lambda: exercise(3.0), TypeError, "root must be a Value"),
    (lambda: exercise(small()[0], ask="a"), TypeError, "ask= takes a list"),
    (lambda: exercise(small()[0], ask=["nope"]), ValueError, "no node named 'nope'"),
    (lambda: exercise(small()[0], ask=[Value(1.0)]), ValueError, "is not in the graph"),
    (lambda: exercise(small()[0], ask=[3]), TypeError, "must be a label (str) or a Value"),
    (lambda: exercise(small()[0], ask=[]), ValueError, "asks nothing"),
    (lambda: exercise(small()[0], tolerance="x"), TypeError, "tolerance must be a number"),
    (lambda: exercise(small()[0], tolerance=-1), ValueError, "tolerance must be >= 0"),
    (lambda: exercise(small()[0], ask=["a"]).check({"q": 1}), ValueError, "no asked gradient named 'q'"),
    (lambda: exercise(small()[0], ask=["a"]).check({"a": "1"}), TypeError, "must be a number"),
    (lambda: exercise(small()[0], ask=["a"]).check({"a": True}), TypeError, "must be a number"),
    (lambda: exercise(small()[0], ask=["a"]).check({"a": float("nan")}), ValueError, "finite"),
    (lambda: exercise(small()[0], ask=["a"]).check([1]), TypeError, "must be a dict"),
])
def test_errors_name_the_argument_and_the_fix(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# --- predict, then reveal, in the notebook stepper ---------------------------------


def explained():
    from engine import explain

    # by hand: c = a * b + a, a = 2, b = -3; step 1 passes grad(c) = 1 to a * b (1 * 1 = 1)
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a
    c.label = "c"
    return explain(c)


def test_the_stepper_hides_the_next_step_until_a_guess_is_revealed():
    pytest.importorskip("ipywidgets")
    steps = explained()
    box = steps.stepper(predict=True)
    assert box.slider.max == 0 and "Predict step 1" in box.question.value
    box.guess.value = "5"
    box.reveal.click()
    assert box.slider.max == 1 and box.slider.value == 1
    assert box.verdict.value.startswith("Not quite") and "Predict step 2" in box.question.value
    box.guess.value = "not a number"
    box.reveal.click()
    assert box.slider.max == 1 and "Type a number" in box.verdict.value
    box.guess.value = repr(steps[1].contribution)
    box.reveal.click()
    assert box.slider.max == 2 and box.verdict.value.startswith("Right")


def test_the_stepper_without_ipywidgets_shows_the_predict_page(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    out = explained().stepper(predict=True)
    assert '"predict": true' in out.page and 'id="reveal"' in out.page


def test_predict_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="predict must be True or False"):
        explained().stepper(predict="yes")
    with pytest.raises(TypeError, match="predict must be True or False"):
        explained().to_html(tmp_path / "p.html", predict=1)

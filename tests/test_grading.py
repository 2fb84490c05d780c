"""engine.teach.grading: right answers pass, each kind of mistake is caught and named,
the reference gradients agree with central differences and PyTorch float64."""

from __future__ import annotations

import json
import math

import pytest
from oracles import central_difference, torch_or_skip

from engine.teach.grading import assert_gradients, check_gradients

POINTS = [(0.5, -1.0), (2.0, 0.25), (-1.5, 0.75)]


def f(x, y):
    return (x * y).tanh() + x ** 2


def right(x, y):
    s = 1 - math.tanh(x * y) ** 2
    return [s * y + 2 * x, s * x]


def forgot_the_inner_derivative(x, y):  # a classic: d tanh(u)/dx written as 1 - tanh^2
    s = 1 - math.tanh(x * y) ** 2
    return [s + 2 * x, s]


def test_a_right_answer_passes_and_matches_two_oracles():
    report = check_gradients(right, f, POINTS, names=["x", "y"])
    assert report.ok and report.score == 1.0 and report.wrong == []
    for k, point in enumerate(POINTS):
        numeric = central_difference(lambda p: math.tanh(p[0] * p[1]) + p[0] ** 2, point)
        assert [report[2 * k].expected, report[2 * k + 1].expected] == pytest.approx(
            numeric, rel=1e-6)


def test_reference_gradients_match_pytorch():
    torch = torch_or_skip()
    report = check_gradients(right, f, POINTS)
    for k, (a, b) in enumerate(POINTS):
        x = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        y = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        (torch.tanh(x * y) + x ** 2).backward()
        assert report[2 * k].expected == pytest.approx(x.grad.item(), rel=1e-12)
        assert report[2 * k + 1].expected == pytest.approx(y.grad.item(), rel=1e-12)


def test_a_wrong_answer_is_named_per_partial_and_point():
    report = check_gradients(forgot_the_inner_derivative, f, POINTS, names=["x", "y"])
    assert not report.ok
    assert 0.0 <= report.score < 1.0
    assert "d/dx at (0.5, -1)" in report.wrong
    with pytest.raises(AssertionError, match=r"d/dy at \(2, 0.25\): expected"):
        assert_gradients(forgot_the_inner_derivative, f, POINTS, names=["x", "y"])
    assert assert_gradients(right, f, POINTS).ok


def test_close_numbers_are_shown_with_digits_enough_to_differ():
    def nearly(x, y):
        gx, gy = right(x, y)
        return [gx * (1 + 1e-5), gy]

    text = str(check_gradients(nearly, f, POINTS[:1], names=["x", "y"]))
    row = next(line for line in text.splitlines() if "WRONG" in line)
    *_, expected, got, verdict = row.split()
    assert verdict == "WRONG" and expected != got


@pytest.mark.parametrize("student, said", [
    (lambda x, y: 1 / 0, "raised ZeroDivisionError"),
    (lambda x, y: [1.0], "returned 1 number(s) for 2 input(s)"),
    (lambda x, y: "dx", "not 2 number(s)"),
])
def test_a_broken_student_function_is_graded_wrong_not_crashed(student, said):
    report = check_gradients(student, f, POINTS)
    assert report.score == 0.0 and not report.ok
    assert any(said in p for p in report.problems)


def test_one_input_points_json_and_html():
    report = check_gradients(lambda x: 3 * x ** 2, lambda x: x ** 3, [1.0, -2.0])
    assert report.ok and [row.name for row in report] == ["x1", "x1"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["score"] == 1.0 and data["rows"][1]["point"] == [-2.0]
    nan = check_gradients(lambda x: math.nan, lambda x: x ** 3, [1.0]).to_dict()
    assert json.dumps(nan) and nan["rows"][0]["got"] == "nan"
    assert "<table" in report._repr_html_()
    assert repr(report) == "GradingReport(score=1, ok=True, 2 rows)"


def test_teacher_mistakes_stop_with_clear_errors():
    with pytest.raises(TypeError, match="non-empty list of points"):
        check_gradients(right, f, [])
    with pytest.raises(TypeError, match="tuple of numbers"):
        check_gradients(right, f, [("a", 1.0)])
    with pytest.raises(ValueError, match="same number of inputs"):
        check_gradients(right, f, [(1.0, 2.0), (1.0,)])
    with pytest.raises(ValueError, match="1 names for 2 inputs"):
        check_gradients(right, f, POINTS, names=["x"])
    with pytest.raises(TypeError, match="reference must return a Value"):
        check_gradients(right, lambda x, y: 1.0, POINTS)
    with pytest.raises(ValueError, match="rtol must be"):
        check_gradients(right, f, POINTS, rtol=-1)

"""Students' own ops: ``define_op`` adds a rule to the table, ``check_op`` grades it.

The op of the tests is softsign, x / (1 + |x|), with derivative 1 / (1 + |x|)^2.
Once defined it must behave as a built-in everywhere the table is read: backward
(against central differences and PyTorch float64), explain, the drawing, formula
and the compiled tape. A wrong derivative must fail ``check_op``, naming the op and
the points; every mistake a student can make in ``define_op`` gets a clear error.

Every op defined here is removed after its test (the ``clean_table`` fixture), so
the table-driven op tests (tests/test_ops.py) see the built-ins only.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from oracles import EDGE_POINTS, central_difference, domain_floats, same_float, torch_or_skip
from test_ops import evaluate

import engine
from engine import (
    RULES,
    OpCheckReport,
    Value,
    check_op,
    define_op,
    draw_graph,
    explain,
    formula,
    remove_op,
)
from engine.ops import BUILTINS, Domain, Op, user_ops


@pytest.fixture(autouse=True)
def clean_table():
    before = set(RULES)
    yield
    for name in list(user_ops()):
        remove_op(name)
    assert set(RULES) == before == set(BUILTINS)


def softsign_forward(x):
    return x / (1 + abs(x))


def softsign_derivative(x):
    return 1 / (1 + abs(x)) ** 2


@pytest.fixture
def softsign() -> Op:
    return define_op("softsign", softsign_forward, softsign_derivative,
                     formula="1 / (1 + abs(x))^2", latex=r"\frac{1}{(1 + \lvert x \rvert)^{2}}",
                     symbol="ss")


def graph(op, w=0.7, x=-1.3, b=0.4):
    """y = softsign(w * x + b) * w, with w used twice (two paths to w)."""
    W, X, B = Value(w, label="w"), Value(x, label="x"), Value(b, label="b")
    y = op(W * X + B) * W
    return y, (W, X, B)


# --- the op joins the table ------------------------------------------------------------


def test_the_op_is_a_rule_of_the_table(softsign):
    rule = RULES["softsign"]
    assert softsign.rule is rule and softsign.name == "softsign" and softsign.arity == 1
    assert rule.operands == ("x",) and rule.form == "function" and rule.symbol == "ss"
    assert rule.expression == "softsign(x)"
    assert rule.derivatives == ("1 / (1 + abs(x))^2",)
    assert rule.apply(1.0) == (0.5, 0.25)
    node = softsign(Value(1.0))
    assert node.op == "softsign" and node.rule is rule and node.local_grads == (0.25,)
    assert "softsign" in repr(softsign) and "1 / (1 + abs(x))^2" in repr(softsign)


def test_the_rule_is_as_complete_as_a_builtin(softsign):
    # the checks tests/test_ops.py makes of every built-in rule
    r = RULES["softsign"]
    assert len(r.derivatives) == len(r.derivatives_latex) == len(r.domain) == r.arity
    assert r.symbol and r.expression and r.latex and callable(r.apply_array)
    for kind, text in r.hints.items():
        assert issubclass(kind, (ValueError, ZeroDivisionError, OverflowError))
        assert text and not text.endswith(".")


def test_backward_matches_central_differences(softsign):
    point = (0.7, -1.3, 0.4)
    y, leaves = graph(softsign, *point)
    y.backward()
    numeric = central_difference(lambda v: graph(softsign, *v)[0].data, point)
    for leaf, n in zip(leaves, numeric):
        assert leaf.grad == pytest.approx(n, rel=1e-6, abs=1e-9)


def test_backward_matches_pytorch_float64(softsign):
    torch = torch_or_skip()
    for point in [(0.7, -1.3, 0.4), (-2.0, 0.5, 3.0), (1.5, 2.0, -0.25)]:
        y, leaves = graph(softsign, *point)
        y.backward()
        w, x, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point)
        t = torch.nn.functional.softsign(w * x + b) * w
        t.backward()
        assert y.data == pytest.approx(t.item(), rel=1e-14)
        for leaf, g in zip(leaves, (w.grad, x.grad, b.grad)):
            assert leaf.grad == pytest.approx(g.item(), rel=1e-12, abs=1e-15)


def test_a_number_becomes_a_constant_leaf(softsign):
    y = softsign(3)
    assert y.data == 0.75 and y.inputs[0].is_leaf() and y.inputs[0].data == 3.0


def test_explain_writes_each_step_so_it_reads_to_its_number(softsign):
    y, (w, x, b) = graph(softsign)
    steps = explain(y)
    values = {"w": w.data, "x": x.data, "b": b.data}
    ours = [s for s in steps if s.node.op == "softsign"]
    assert len(ours) == 1
    assert ours[0].local_formula == "1 / (1 + abs(w * x + b))^2"
    assert ours[0].formula == "1 / (1 + abs(x))^2"
    assert r"\lvert" in ours[0].local_latex
    for step in steps:  # every step: its written local derivative gives its number
        assert evaluate(step.local_formula, values) == pytest.approx(step.local, rel=1e-12)
    assert "softsign(w * x + b)" in str(steps)


def test_explain_shows_the_default_formula(softsign):
    plain = define_op("plain_softsign", softsign_forward, softsign_derivative)
    y = plain(Value(0.5, label="u"))
    (step,) = explain(y)
    assert step.local_formula == "plain_softsign'(u)"
    assert step.local_latex == r"\operatorname{plain\_softsign}'(u)"
    assert step.local == pytest.approx(1 / 1.5**2)


def test_the_drawing_labels_the_op_with_its_symbol(softsign):
    y, _ = graph(softsign)
    source = draw_graph(y, show_local=True).source
    assert "label=<ss>" in source
    default = define_op("softsign2", softsign_forward, softsign_derivative)
    assert "label=<softsign2>" in draw_graph(default(Value(1.0))).source


def test_formula_writes_the_op(softsign):
    y, _ = graph(softsign)
    assert formula(y) == "softsign(w * x + b) * w"
    assert r"\operatorname{softsign}" in formula(y, latex=True)
    # the written formula evaluates to the value (the op by its own forward pass)
    assert evaluate(formula(y), {"w": 0.7, "x": -1.3, "b": 0.4}) == pytest.approx(y.data)


def test_gradcheck_agrees(softsign):
    y, leaves = graph(softsign)
    assert engine.gradcheck(lambda w, x, b: softsign(w * x + b) * w, list(leaves)).ok


# --- the compiled tape ------------------------------------------------------------------


def _tape_against_scalar(op, xs=(-2.0, -0.3, 0.0, 0.4, 3.5)):
    np = pytest.importorskip("numpy")
    from engine.tape import Tape

    x, w, b = Value(0.0), Value(0.8, label="w"), Value(-0.2, label="b")
    tape = Tape(op(w * x + b) * w, inputs=[x])
    out = tape.forward(np.array(xs)[:, None])
    tape.backward()
    grads = (w.grad, b.grad)
    w.grad = b.grad = 0.0
    values = []
    for v in xs:  # the scalar engine, sample by sample; gradients summed over the batch
        y = op(w * Value(v) + b) * w
        y.backward()
        values.append(y.data)
    assert out[:, 0].tolist() == pytest.approx(values, rel=1e-14)
    assert grads == pytest.approx((w.grad, b.grad), rel=1e-12)


def test_the_tape_without_an_array_form_calls_the_floats_per_sample(softsign):
    calls = []

    def counted(x):
        calls.append(x)
        return softsign_forward(x)

    op = define_op("counted", counted, softsign_derivative)
    _tape_against_scalar(op)
    np = pytest.importorskip("numpy")
    from engine.tape import Tape

    x = Value(0.0)
    tape = Tape(op(x), inputs=[x])
    calls.clear()
    tape.forward(np.array([[1.0], [2.0], [3.0]]))
    assert calls == [1.0, 2.0, 3.0] and all(type(c) is float for c in calls)  # once a sample


def test_the_tape_with_an_array_form(softsign):
    np = pytest.importorskip("numpy")
    seen = []

    def forward_array(x):
        seen.append(type(x))
        return x / (1 + np.abs(x))

    op = define_op("vectorised", softsign_forward, softsign_derivative,
                   array=(forward_array, lambda x: 1 / (1 + np.abs(x)) ** 2))
    _tape_against_scalar(op)
    assert np.ndarray in seen
    # array=True: the float functions work on arrays as written (abs and / do)
    _tape_against_scalar(define_op("same", softsign_forward, softsign_derivative, array=True))


@pytest.mark.parametrize("array", [None, True])
def test_the_array_form_agrees_with_the_float_form(array):
    # what tests/test_ops.py checks of every built-in: at random points of the domain
    # and at the edge points of the floats (where the float form returns a number)
    np = pytest.importorskip("numpy")
    rule = define_op("softsign", softsign_forward, softsign_derivative, array=array).rule

    errors = (ValueError, ZeroDivisionError, OverflowError)

    def agree(points):
        for x in points:
            try:
                expected = rule.apply(x)
            except errors as error:  # the per-sample form raises the same
                if array is None:
                    with pytest.raises(type(error)):
                        rule.apply_array(np.array([x]))
                continue  # 1 / 1.8e308 ** 2 overflows in Python's floats, not in NumPy's
            with np.errstate(all="ignore"):  # as the tape calls it
                got = [float(np.broadcast_to(c, (1,))[0]) for c in rule.apply_array(np.array([x]))]
            assert all(same_float(e, g, rel=1e-15) for e, g in zip(expected, got)), (x, got)

    agree(list(EDGE_POINTS))

    @settings(max_examples=30, deadline=None)
    @given(domain_floats(rule.domain[0]))
    def check(x):
        agree([x, -x, 0.5 * x])

    check()


def test_the_tape_raises_the_op_errors_as_the_scalar_engine_does():
    np = pytest.importorskip("numpy")
    from engine.tape import Tape

    def root(x):
        if x < 0:
            raise ValueError("root is defined only for x >= 0")
        return math.sqrt(x)

    op = define_op("root", root, lambda x: 0.5 / math.sqrt(x), domain=(0.1, 4.0))
    x = Value(1.0)
    tape = Tape(op(x), inputs=[x])
    assert tape.forward(np.array([[1.0], [4.0]]))[:, 0].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"root \(root\(x\)\).*defined only for x >= 0"):
        tape.forward(np.array([[1.0], [-1.0]]))
    bad = define_op("complex_array", softsign_forward, softsign_derivative,
                    array=(lambda x: x + 0j, lambda x: 1.0 + 0 * x))
    x = Value(0.0)
    tape = Tape(bad(x), inputs=[x])
    with pytest.raises(TypeError, match="complex_array: its array forward returned .*complex"):
        tape.forward(np.array([[1.0]]))


# --- check_op ---------------------------------------------------------------------------


def test_check_op_passes_a_right_derivative(softsign):
    report = check_op(softsign)
    assert isinstance(report, OpCheckReport) and report.ok and not report.failures
    assert len(report) >= 9 and any(r.edge for r in report)
    for row in report:
        assert row.analytic == pytest.approx(softsign_derivative(row.point[0]), rel=1e-15)
        assert row.numeric == pytest.approx(row.analytic, rel=1e-5)
        assert row.written == pytest.approx(row.analytic, rel=1e-12)
    assert "softsign" in str(report) and "ok at all" in str(report)
    assert repr(report).startswith("OpCheckReport(softsign: ok")


def test_check_op_fails_a_wrong_derivative_naming_the_op_and_the_points():
    wrong = define_op("softsign", softsign_forward, lambda x: 1 / (1 + abs(x)),
                      formula="1 / (1 + abs(x))")
    report = check_op(wrong)
    assert not report.ok
    failed = report.failed_points
    assert failed and (0.0,) not in failed  # 1 / (1 + |x|) is right at 0 only
    assert all(r.reason == "slope" for r in report.failures)
    text = str(report)
    assert "check_op softsign" in text and "FAILED" in text and "FAIL (slope)" in text
    first = re.escape(engine.teach.number(failed[0][0]))
    assert re.search(rf"x = {first}", report.summary())
    assert "softsign" in repr(report) and "failed" in repr(report)
    html = report._repr_html_()
    assert "softsign" in html and 'class="fail"' in html


def test_check_op_fails_a_formula_that_differs_from_the_derivative():
    op = define_op("softsign", softsign_forward, softsign_derivative,
                   formula="1 / (1 + abs(x))")
    report = check_op(op)
    assert not report.ok
    assert {r.reason for r in report.failures} == {"formula"}
    assert "the formula d/dx = 1 / (1 + abs(x))" in report.summary()


def test_check_op_at_given_points_and_domain(softsign):
    report = check_op(softsign, points=[0.5, -2, 10.0])
    assert [r.point for r in report] == [(0.5,), (-2.0,), (10.0,)] and report.ok
    wide = check_op(softsign, domain=(-100.0, 100.0))
    assert max(abs(r.point[0]) for r in wide) > 50 and wide.ok


def test_check_op_reports_points_where_the_op_raises():
    op = define_op("root", lambda x: math.sqrt(x), lambda x: 0.5 / math.sqrt(x),
                   domain=(0.5, 4.0))
    assert check_op(op).ok
    report = check_op(op, domain=(-1.0, 4.0))
    assert not report.ok
    errors = [r for r in report.failures if r.reason == "error"]
    assert errors and all(r.point[0] <= 0 for r in errors)  # 0.5 / sqrt(0) divides by 0
    assert "math domain error" in errors[0].note


def test_check_op_grades_a_two_input_op_per_partial():
    def hypot(a, b):
        return math.sqrt(a * a + b * b)

    right = define_op("my_hypot", hypot, (lambda a, b: a / hypot(a, b),
                                          lambda a, b: b / hypot(a, b)),
                      formula=("a / sqrt(a^2 + b^2)", "b / sqrt(a^2 + b^2)"),
                      domain=(0.5, 3.0))
    assert check_op(right).ok
    a, b = Value(3.0, label="a"), Value(4.0, label="b")
    y = right(a, b)
    y.backward()
    assert (y.data, a.grad, b.grad) == pytest.approx((5.0, 0.6, 0.8))
    assert formula(y) == "my_hypot(a, b)"
    wrong = define_op("my_hypot", hypot, (lambda a, b: a / hypot(a, b),
                                          lambda a, b: a / hypot(a, b)), domain=(0.5, 3.0))
    report = check_op(wrong)
    assert not report.ok and {r.operand for r in report.failures} == {"b"}
    assert all(r.point[0] != r.point[1] for r in report.failures)  # right where a == b


def test_check_op_grades_builtins_too():
    for name in ("tanh", "sigmoid", "log", "relu", "div", "pow"):
        assert check_op(name).ok, check_op(name)


def test_check_op_refuses_what_it_cannot_check(softsign):
    with pytest.raises(TypeError, match="check_op needs an op"):
        check_op(3)
    with pytest.raises(ValueError, match="no rule for op 'nope'"):
        check_op("nope")
    with pytest.raises(ValueError, match="takes a constant c"):
        check_op("pow_const")
    with pytest.raises(TypeError, match="points or domain, not both"):
        check_op(softsign, points=[1.0], domain=(0, 1))
    with pytest.raises(ValueError, match="eps must be > 0"):
        check_op(softsign, eps=0)
    with pytest.raises(ValueError, match="rtol must be a finite number"):
        check_op(softsign, rtol=-1)
    with pytest.raises(TypeError, match="each point must be a number"):
        check_op(softsign, points=["a"])
    with pytest.raises(ValueError, match="points is empty"):
        check_op(softsign, points=[])


# --- redefining and removing ------------------------------------------------------------


def test_defining_again_replaces_the_op():
    first = define_op("twice", lambda x: 2 * x, lambda x: 3.0)  # a slip...
    assert first(Value(1.0)).local_grads == (3.0,)
    second = define_op("twice", lambda x: 2 * x, lambda x: 2.0)  # ...fixed, the cell re-run
    assert second(Value(1.0)).local_grads == (2.0,)
    assert RULES["twice"] is second.rule and list(user_ops()) == ["twice"]
    with pytest.raises(ValueError, match="defined again"):
        first(Value(1.0))


def test_a_builtin_name_is_refused():
    for name in ("tanh", "add", "pow_const"):
        with pytest.raises(ValueError, match=f"'{name}' is a built-in op.*'my_{name}'"):
            define_op(name, math.tanh, lambda x: 1 - math.tanh(x) ** 2)
        assert RULES[name] is not None and name not in user_ops()


def test_remove_op():
    op = define_op("gone", lambda x: x, lambda x: 1.0)
    remove_op("gone")
    assert "gone" not in RULES
    with pytest.raises(ValueError, match="removed"):
        op(Value(1.0))
    with pytest.raises(ValueError, match="'tanh' is a built-in op"):
        remove_op("tanh")
    with pytest.raises(ValueError, match="not an op of the table"):
        remove_op("gone")


# --- mistakes in define_op, each with a clear error -------------------------------------


@pytest.mark.parametrize("name, kind, message", [
    (3, TypeError, "the name must be an identifier"),
    ("soft sign", ValueError, "the name must be an identifier"),
    ("2x", ValueError, "the name must be an identifier"),
    ("x", ValueError, "an operand name"),
    ("if", ValueError, "an operand name"),
])
def test_bad_names(name, kind, message):
    with pytest.raises(kind, match=message):
        define_op(name, softsign_forward, softsign_derivative)


def test_non_callables():
    with pytest.raises(TypeError, match=r"define_op\('f'\): forward must be a function"):
        define_op("f", 3.0, softsign_derivative)
    with pytest.raises(TypeError, match=r"define_op\('f'\): derivative must be a function"):
        define_op("f", softsign_forward, "1 / (1 + abs(x))^2")
    with pytest.raises(TypeError, match="derivative 2 must be a function"):
        define_op("f", lambda a, b: a * b, (lambda a, b: b, None))


def test_derivatives_of_the_wrong_arity():
    with pytest.raises(TypeError, match=r"forward takes 1 input\(s\), so derivative must be "
                                        "one function of x; got 2"):
        define_op("f", softsign_forward, (softsign_derivative, softsign_derivative))
    with pytest.raises(TypeError, match=r"forward takes 2 input\(s\), so derivative must be "
                                        r"a tuple of two functions of a, b: \(d/da, d/db\)"):
        define_op("f", lambda a, b: a * b, lambda a, b: b)
    with pytest.raises(TypeError, match=r"derivative 1 takes 2 input\(s\), forward 1"):
        define_op("f", softsign_forward, lambda x, y: 1.0)
    with pytest.raises(ValueError, match="an op takes one .x. or two .a, b."):
        define_op("f", lambda a, b, c: a, (lambda a, b, c: 1.0,) * 3)


@pytest.mark.parametrize("result, kind, message", [
    ("0.5", TypeError, "its forward returned str '0.5'"),
    (None, TypeError, "its forward returned NoneType None"),
    (True, TypeError, r"its forward returned a bool \(True\).*1.0 if ... else 0.0"),
    (1 + 2j, TypeError, "its forward returned complex .*must be real"),
    (math.nan, ValueError, "its forward returned nan .* every input is finite"),
    (math.inf, OverflowError, "its forward returned inf"),
])
def test_a_forward_that_returns_a_non_real_is_refused_at_once(result, kind, message):
    with pytest.raises(kind, match=r"define_op\('f'\).*" + message):
        define_op("f", lambda x: result, lambda x: 1.0)
    assert "f" not in RULES


def test_a_derivative_that_returns_a_non_real_is_refused():
    with pytest.raises(TypeError, match="its derivative returned a bool"):
        define_op("f", lambda x: x, lambda x: x > 0)
    with pytest.raises(ValueError, match="its derivative returned nan"):
        define_op("f", lambda x: x, lambda x: math.nan)


def test_accepted_numbers():
    # ints, and numbers such as numpy.float64, are real: converted to float
    op = define_op("f", lambda x: 2, lambda x: 0)
    node = op(Value(1.0))
    assert (type(node.data), node.data, node.local_grads) == (float, 2.0, (0.0,))
    # an infinite derivative is a result (sqrt's at 0), not an error
    op = define_op("g", lambda x: math.sqrt(abs(x)), lambda x: math.inf, domain=(0.5, 1.0))
    assert op(Value(0.0)).local_grads == (math.inf,)


def test_errors_when_the_op_is_used_name_the_op_the_node_and_the_fix():
    def partial(x):
        return math.nan if x > 3 else x

    op = define_op("partial", partial, lambda x: 1.0, domain=(-1.0, 1.0))
    with pytest.raises(ValueError) as info:
        op(Value(4.0, label="u"))
    text = str(info.value)
    assert "partial (partial(x))" in text and "'u' with value 4.0" in text
    assert "returned nan" in text and "Fix: keep partial's input(s)" in text
    with pytest.raises(TypeError, match=r"partial\(x\): x must be a Value or a number, got str"):
        op("a")
    with pytest.raises(TypeError, match=r"partial\(x\): x must be a Value or a number, got bool"):
        op(True)
    with pytest.raises(TypeError, match=r"takes 1 input\(s\), got 2"):
        op(Value(1.0), Value(2.0))


def test_code_that_fails_on_floats_is_reported_with_the_fix():
    with pytest.raises(TypeError, match=r"AttributeError.*get plain floats \(not Values\)"):
        define_op("f", lambda x: x.data * 2, lambda x: 2.0)


def test_a_domain_where_the_op_is_undefined_is_reported():
    with pytest.raises(ValueError, match=r"math domain error; if the op is not defined there, "
                                         r"pass domain=\(low, high\)"):
        define_op("f", math.log, lambda x: 1 / x, domain=(-5.0, -1.0))
    op = define_op("f", math.log, lambda x: 1 / x, domain=Domain(0.1, 5.0))
    assert op.rule.domain == (Domain(0.1, 5.0),)


def test_a_formula_in_other_names_is_refused():
    with pytest.raises(ValueError, match=r"the formula '1 / \(1 \+ abs\(u\)\)\^2' uses 'u', "
                                         "which is not an operand; write the derivative in x"):
        define_op("f", softsign_forward, softsign_derivative, formula="1 / (1 + abs(u))^2")
    with pytest.raises(ValueError, match="uses 'x', which is not an operand; .* in a and b"):
        define_op("f", lambda a, b: a * b, (lambda a, b: b, lambda a, b: a),
                  formula=("b", "x"))
    # functions, numbers, conditions and a prime are fine
    op = define_op("f", softsign_forward, softsign_derivative,
                   formula="1 / (1 + abs(x))^2 if x > -1e3 else g'(x)")
    assert op.rule.derivatives[0].startswith("1 / (1 + abs(x))^2 if")


@pytest.mark.parametrize("keyword, value, message", [
    ("formula", 3, "formula must be a str"),
    ("formula", ("1", "2"), "formula must be a str"),
    ("latex", ("x", "y"), "latex must be a str"),
    ("symbol", "", "symbol must be a non-empty str"),
    ("array", "numpy", "array must be True"),
    ("domain", "wide", "domain must be a Domain or a .low, high. pair"),
    ("domain", (3.0, 1.0), "finite low < high"),
])
def test_bad_keywords(keyword, value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        define_op("f", softsign_forward, softsign_derivative, **{keyword: value})


# --- Value.apply: the public way an op builds its node ----------------------------------


def test_value_apply_builds_a_node_of_any_rule():
    a, b = Value(3.0), Value(4.0)
    assert (a.apply("mul", b).data, a.apply("mul", b).op) == (12.0, "mul")
    assert a.apply("mul", 2).inputs[1].data == 2.0
    assert a.apply("tanh").data == math.tanh(3.0)
    assert a.apply("pow_const", arg=2).data == 9.0 and a.apply("pow_const", arg=2).arg == 2.0
    with pytest.raises(TypeError, match=r"mul \(a \* b\) takes 2 operand"):
        a.apply("mul")
    with pytest.raises(TypeError, match="takes no constant arg"):
        a.apply("mul", b, arg=2.0)
    with pytest.raises(KeyError, match="no rule for op 'nope'"):
        a.apply("nope")

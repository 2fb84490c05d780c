"""The compiled tape (engine/tape.py) and the array forms of the rules.

The tape replays any graph: its gradients are checked against central
differences here, and against per-sample scalar training and PyTorch in
tests/test_compiled.py (the training step built on it). The array forms of the
rules must equal the scalar forms.
"""

import math

import pytest
from oracles import central_difference

np = pytest.importorskip("numpy", reason="the compiled tape needs NumPy")

from engine import RULES, Value  # noqa: E402
from engine.tape import Tape  # noqa: E402

# --- the array form of every rule --------------------------------------------------

# op -> inputs drawn in its domain (first operand, second operand), and the constant c
DOMAIN = {
    "add": [(-5, 5), (-5, 5)], "sub": [(-5, 5), (-5, 5)], "mul": [(-5, 5), (-5, 5)],
    "div": [(-5, 5), (0.2, 5)], "neg": [(-5, 5)], "pow_const": [(0.0, 4)],
    "pow": [(0.0, 4), (-0.9, 3)], "exp": [(-5, 5)], "log": [(0.05, 20)],
    "tanh": [(-4, 4)], "sigmoid": [(-40, 40)], "relu": [(-5, 5)], "sin": [(-6, 6)],
    "cos": [(-6, 6)], "sqrt": [(0.0, 20)], "abs": [(-5, 5)],
}
# Points where the scalar forms take a special branch; each array form must agree there.
SPECIAL = {"relu": [0.0, -0.0], "abs": [0.0], "sqrt": [0.0], "pow_const": [0.0],
           "sigmoid": [0.0, -745.0, 745.0], "pow": [0.0]}


def test_every_rule_has_an_array_form():
    assert set(DOMAIN) == set(RULES), "add the new op's domain to DOMAIN above"
    for name, rule in RULES.items():
        assert callable(rule.apply_array), f"rule {name!r} has no apply_array"


def _same(x, y):
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    # NumPy's and the math module's libm may differ in the last bit (e.g. tanh near 1).
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)


CASES = [(name, 2.5) for name in sorted(RULES)] + [("pow_const", c) for c in (3.0, 0.5, 1.0, 0.0)]


@pytest.mark.parametrize("name, c", CASES)
def test_array_form_equals_scalar_form(name, c):
    rule = RULES[name]
    rng = np.random.default_rng(len(name))
    columns = [rng.uniform(lo, hi, 200) for lo, hi in DOMAIN[name]]
    for k, column in enumerate(columns):
        column[:len(SPECIAL.get(name, []))] = SPECIAL.get(name, [])
        if name == "pow" and k == 1:
            column[:4] = [0.0, 1.0, 0.5, 2.0]  # with the base 0 above: each special case
    extra = (c,) if name == "pow_const" else ()
    with np.errstate(divide="ignore", invalid="ignore"):  # inf at 0 is wanted, as in the tape
        arrays = rule.apply_array(*columns, *extra)
    for s in range(200):
        scalars = rule.apply(*(float(col[s]) for col in columns), *extra)
        for k, (got, want) in enumerate(zip(arrays, scalars)):
            value = float(np.broadcast_to(got, 200)[s])
            assert _same(value, want), (name, k, [float(col[s]) for col in columns], value, want)


@pytest.mark.parametrize("name, good, bad, error", [
    ("div", (1.0, 1.0), (2.0, 0.0), ZeroDivisionError),
    ("log", (1.0,), (0.0,), ValueError),
    ("sqrt", (1.0,), (-1.0,), ValueError),
    ("exp", (1.0,), (1000.0,), OverflowError),
    ("pow", (2.0, 2.0), (-1.0, 2.0), ValueError),
    ("pow", (2.0, 2.0), (0.0, -1.0), ZeroDivisionError),
    ("pow", (2.0, 2.0), (10.0, 400.0), OverflowError),
])
def test_array_form_raises_what_the_scalar_form_raises(name, good, bad, error):
    rule = RULES[name]
    with pytest.raises(error):
        rule.apply(*bad)
    with pytest.raises(error), np.errstate(over="ignore"):
        rule.apply_array(*(np.array([g, b]) for g, b in zip(good, bad)))


@pytest.mark.parametrize("x, c, error", [(-1.0, 0.5, ValueError), (0.0, -1.0, ZeroDivisionError),
                                         (1e200, 2.0, OverflowError)])
def test_pow_const_array_errors(x, c, error):
    rule = RULES["pow_const"]
    with pytest.raises(error):
        rule.apply(x, c)
    with pytest.raises(error), np.errstate(over="ignore"):
        rule.apply_array(np.array([1.0, x]), c)


def test_tape_gradient_equals_central_differences():
    x = Value(0.0, label="x")
    w, b = Value(0.7, label="w"), Value(-0.3, label="b")
    y = ((w * x + b).sigmoid() * x.exp() / (w ** 2 + 1.0)).log()
    tape = Tape(y, inputs=[x], parameters=[w, b])
    X = [[-1.0], [0.5], [2.0]]

    def total(wb):
        w.data, b.data = wb
        return float(tape.forward(X).sum())

    numeric = central_difference(total, [0.7, -0.3])
    w.data, b.data = 0.7, -0.3
    tape.forward(X)
    tape.backward()
    assert [w.grad, b.grad] == pytest.approx(numeric, rel=1e-6)


def test_tape_leaves_constants_and_unlisted_leaves_alone():
    x, w, c = Value(0.0), Value(2.0), Value(5.0)
    tape = Tape(x * w * c, inputs=[x], parameters=(p for p in [w]))  # any iterable
    tape.forward([[1.0], [2.0]])
    tape.backward()
    assert w.grad == 15.0 and c.grad == 0.0  # d/dw of 5 w (1 + 2), summed over the batch
    assert repr(tape) == "Tape(5 nodes: 1 inputs, 1 parameters, 1 outputs)"


# --- errors --------------------------------------------------------------------------


def test_tape_errors_name_the_problem():
    x, w = Value(1.0, label="x"), Value(2.0, label="w")
    y = (x * w).log()
    y.label = "y"
    with pytest.raises(ValueError, match="not a leaf"):
        Tape(y, inputs=[x * w])
    with pytest.raises(TypeError, match="must be Values"):
        Tape(y, inputs=[1.0])
    tape = Tape(y, inputs=[x])
    with pytest.raises(RuntimeError, match="forward"):
        tape.backward()
    with pytest.raises(ValueError, match=r"shape \(samples, 1\)"):
        tape.forward([[1.0, 2.0]])
    with pytest.raises(ValueError, match="log .* 'y'"):
        tape.forward([[1.0], [-1.0]])
    tape.forward([[1.0], [2.0]])
    with pytest.raises(ValueError, match=r"grad_outputs .* shape \(2, 1\)"):
        tape.backward([1.0, 2.0, 3.0])
    for bad in (x, x * w, 2.0):  # an input, an interior node, not a Value
        with pytest.raises(ValueError, match="must be a leaf Value that is not an input"):
            Tape(y, inputs=[x], parameters=[w, bad])


def test_missing_numpy_is_a_clear_import_error(monkeypatch):
    import sys

    from engine import ops

    monkeypatch.setattr(ops, "np", None)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[numpy\]'"):
        ops.use_numpy()

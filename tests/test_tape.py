"""The compiled tape (engine/tape.py) and the array forms of the rules.

The tape replays any graph: its gradients are checked against central
differences here, and against per-sample scalar training and PyTorch in
tests/test_compiled.py (the training step built on it). The array forms of the
rules must equal the scalar forms.
"""

import itertools
import math
import struct
import warnings

import pytest
from oracles import CONSTANTS, central_difference, edge_points, takes_constant

np = pytest.importorskip("numpy", reason="the compiled tape needs NumPy")

from engine import RULES, Value  # noqa: E402
from engine.tape import Tape  # noqa: E402

# --- the array form of every rule --------------------------------------------------
# Read from the rule table: each operand's Domain (where to sample), its edge points,
# the constants tried for x ** c (tests/oracles.py). A new op needs no edit here.

CASES = [(name, c) for name, rule in sorted(RULES.items())
         for c in (CONSTANTS if takes_constant(rule) else (None,))]
IDS = [name if c is None else f"{name}-{c:g}" for name, c in CASES]
ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def test_every_rule_has_an_array_form():
    for name, rule in RULES.items():
        assert callable(rule.apply_array), f"rule {name!r} has no apply_array"


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _agree(got: float, want: float) -> bool:
    """The same float: both nan, or the same bits (the sign of a zero too); finite
    non-zero values may differ in the last bit or two, as NumPy's and the math
    module's libm do (tanh near 1, for instance)."""
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if _bits(got) == _bits(want):
        return True
    return (math.isfinite(want) and want != 0.0
            and math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0))


def _sample(rng, domain, n):
    """n points of the operand's domain, away from the points it must avoid."""
    x = rng.uniform(domain.low, domain.high, 4 * n)
    for p in domain.away_from:
        x = x[np.abs(x - p) > domain.margin]
    return x[:n]


def _scalar(rule, xs, extra):
    try:
        return rule.apply(*xs, *extra)
    except ERRORS as error:
        return error


@pytest.mark.parametrize("name, c", CASES, ids=IDS)
def test_array_form_equals_scalar_form(name, c):
    rule = RULES[name]
    rng = np.random.default_rng(len(name))
    columns = [_sample(rng, d, 200) for d in rule.domain]
    extra = () if c is None else (c,)
    with np.errstate(all="ignore"):  # as in the tape
        arrays = rule.apply_array(*columns, *extra)
    for s in range(200):
        scalars = rule.apply(*(float(col[s]) for col in columns), *extra)
        for k, (got, want) in enumerate(zip(arrays, scalars)):
            value = float(np.broadcast_to(got, 200)[s])
            assert _agree(value, want), (name, k, [float(col[s]) for col in columns], value, want)


@pytest.mark.parametrize("name, c", CASES, ids=IDS)
def test_array_form_equals_scalar_form_at_every_edge_point(name, c):
    # Each edge point (0, -0.0, +-inf, nan, tiny, huge, and the op's own) for every
    # operand, paired with a safe point of the domain in the same batch: the array
    # form gives the scalar form's numbers, or raises the scalar form's error.
    rule = RULES[name]
    extra = () if c is None else (c,)
    safe = [(d.low + d.high) / 2 + (d.margin if d.away_from else 0.0) for d in rule.domain]
    wrong = []
    for xs in itertools.product(*(edge_points(rule, k) for k in range(rule.arity))):
        want = _scalar(rule, xs, extra)
        batch = [np.array([s, x]) for s, x in zip(safe, xs)]
        try:
            with np.errstate(all="ignore"):
                got = rule.apply_array(*batch, *extra)
        except ERRORS as error:
            if type(error) is not type(want):
                wrong.append((xs, type(error).__name__, want))
            continue
        if isinstance(want, Exception):
            wrong.append((xs, "no error", type(want).__name__))
            continue
        values = [float(np.broadcast_to(g, 2)[1]) for g in got]
        if not all(_agree(g, w) for g, w in zip(values, want)):
            wrong.append((xs, values, want))
    assert not wrong, f"{name} (c={c}): {len(wrong)} edge points disagree: {wrong[:6]}"


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


def test_an_infinite_input_is_not_an_overflow():
    # 2 ** inf is inf for floats; only a finite input overflowing into inf is an error
    out, *_ = RULES["pow"].apply_array(np.array([2.0, 3.0]), np.array([1.0, math.inf]))
    assert out.tolist() == [2.0, math.inf] == [2.0 ** 1.0, 3.0 ** math.inf]


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


def test_the_tape_prints_no_numpy_warnings():
    # inf * 0 is nan and 1e10 * 1e300 is inf for floats, silently, in Value.backward
    # too: the tape gives the same with no RuntimeWarning, whatever NumPy's settings.
    x, w = Value(1.0), Value(1.0)
    zero, big = Value(0.0), Value(1e300)
    u = x * w
    y = u.sqrt() * zero + u * big  # d/du: inf * 0 at u = 0; d/dw overflows at x = 1e10
    tape = Tape(y, inputs=[x], parameters=[w])
    logs = Tape(x.log(), inputs=[x])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = tape.forward([[0.0], [1e10]])
        tape.backward()
        with pytest.raises(ValueError, match="log"):  # the domain error, no FloatingPointError
            logs.forward([[0.0]])
    assert out[:, 0].tolist() == [0.0, math.inf]
    assert math.isnan(w.grad)
    grads = []  # the scalar engine, one sample at a time
    for sample in (0.0, 1e10):
        ws = Value(1.0)
        us = Value(sample) * ws
        (us.sqrt() * 0.0 + us * 1e300).backward()
        grads.append(ws.grad)
    assert math.isnan(grads[0]) and grads[1] == math.inf


def test_missing_numpy_is_a_clear_import_error(monkeypatch):
    import sys

    from engine import ops

    monkeypatch.setattr(ops, "np", None)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[numpy\]'"):
        ops.use_numpy()

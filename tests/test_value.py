"""Value: construction, the node interface, display, errors with context."""

import math

import pytest

from engine import Value


def test_attributes():
    v = Value(3, label="x")
    assert isinstance(v.data, float) and v.data == 3.0
    assert v.grad == 0.0 and v.label == "x" and v.op == "" and v.inputs == ()
    assert v.local_grads == () and v.rule is None and v.arg is None
    assert float(v) == 3.0


def test_numbers_that_are_accepted():
    assert Value(True).data == 1.0
    np = pytest.importorskip("numpy")
    assert Value(np.float32(1.5)).data == 1.5
    assert Value(np.array(2.5)).data == 2.5
    assert Value(np.int64(2)).data == 2.0


@pytest.mark.parametrize("bad", ["1.0", None, 1 + 2j, [1.0], b"1"])
def test_non_real_data_is_a_type_error_naming_the_value(bad):
    with pytest.raises(TypeError, match="real number") as info:
        Value(bad)
    assert repr(bad) in str(info.value)


def test_value_of_value_says_what_to_do():
    with pytest.raises(TypeError, match=r"\.data"):
        Value(Value(1.0))


def test_label_must_be_text():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)


@pytest.mark.parametrize("bad", ["2", None, 1j])
def test_bad_operand_is_a_type_error(bad):
    x = Value(1.0)
    with pytest.raises(TypeError, match="operand"):
        x + bad
    with pytest.raises(TypeError, match="operand"):
        bad * x


def test_repr():
    x = Value(2.0, label="x")
    assert repr(x) == "Value(label='x', data=2, grad=0)"
    y = x * 3
    assert repr(y) == "Value(data=6, grad=0, op='mul')"


def test_inputs_are_ordered_and_constants_are_nodes():
    x = Value(2.0)
    y = 5 - x
    assert y.inputs[1] is x and y.inputs[0].data == 5.0 and y.inputs[0].is_leaf()
    assert y.local_grads == (1.0, -1.0)
    p = x**3
    assert p.op == "pow_const" and p.arg == 3.0 and p.inputs == (x,)


def test_comparisons_use_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and b > a and a <= 1 and b >= 2
    assert a != Value(1.0)  # == is identity: Values are graph nodes
    assert len({a, b, a}) == 2


# --- errors: the op, the node's label and value, and a fix -----------------


def test_log_of_nonpositive():
    x = Value(-2.0, label="x")
    with pytest.raises(ValueError) as info:
        x.log()
    message = str(info.value)
    assert "log" in message and "'x'" in message and "-2.0" in message and "Fix" in message
    with pytest.raises(ValueError, match="log"):
        Value(0.0).log()


def test_sqrt_of_negative():
    with pytest.raises(ValueError, match=r"sqrt.*'h'.*-0\.5.*Fix"):
        Value(-0.5, label="h").sqrt()


def test_negative_base_with_value_exponent():
    with pytest.raises(ValueError, match=r"pow.*'base'.*-2\.0"):
        Value(-2.0, label="base") ** Value(0.5, label="e")
    with pytest.raises(ValueError, match="pow"):
        (-2) ** Value(2.0)


def test_negative_base_fractional_number_exponent():
    with pytest.raises(ValueError, match="pow_const"):
        Value(-2.0) ** 0.5


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError) as info:
        Value(1.0, label="num") / Value(0.0, label="den")
    message = str(info.value)
    assert "div" in message and "'den'" in message and "'num'" in message
    with pytest.raises(ZeroDivisionError, match="div"):
        1 / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="pow"):
        Value(0.0) ** -1


def test_int_beyond_float_range_says_so():
    # 10 ** 400 is a real number but no float: an OverflowError that names the
    # argument, whether it is the data, a mixed-in operand (either side) or an exponent.
    huge = 10**400
    for make, what in [
        (lambda: Value(huge), "Value()"),
        (lambda: Value(1.0) * huge, "Value * operand"),
        (lambda: huge - Value(1.0), "Value - operand"),
        (lambda: Value(2.0) ** huge, "exponent"),
    ]:
        with pytest.raises(OverflowError, match="too large for a float") as info:
            make()
        assert what in str(info.value)
    assert (Value(1.0) * 2**60).data == float(2**60)  # large but representable: fine


def test_exp_overflow():
    with pytest.raises(OverflowError, match=r"exp.*'big'.*1000\.0"):
        Value(1000.0, label="big").exp()
    with pytest.raises(OverflowError, match="pow_const"):
        Value(1e200) ** 2


def test_errors_are_not_asserts():
    # the checks are real exceptions, so `python -O` keeps them
    import subprocess
    import sys

    code = "from engine import Value\ntry:\n Value(-1.0).log()\nexcept ValueError:\n print('ok')"
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_inf_data_is_allowed():
    assert Value(math.inf).data == math.inf


def test_scope_nests_and_is_shared():
    from engine.value import scope

    x = Value(1.0)
    assert x.scope == ()
    with scope("layer"):
        y = x * 2
        with scope("neuron"):
            z = y.tanh()
            w = z + 1
        v = y - 1
    after = v * 3
    assert y.scope == ("layer",) and v.scope == ("layer",)
    assert z.scope == ("layer", "neuron") and z.scope is w.scope
    assert after.scope == ()


def test_infinite_or_nan_exponent_is_not_a_crash():
    # the sign/integer check must not choke on inf or nan exponents
    assert (Value(2.0) ** math.inf).data == math.inf
    assert math.isnan((Value(2.0) ** math.nan).data)
    with pytest.raises(ValueError, match="pow_const"):
        Value(-2.0) ** math.nan

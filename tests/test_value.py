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


@pytest.mark.parametrize("label", ["\udc80", "w\ud83d", "a\udfffb"])
def test_label_with_a_lone_surrogate_is_refused(label):
    # half of a UTF-16 pair (a badly decoded file, a cut emoji) cannot be written out
    with pytest.raises(ValueError, match="not valid text.*lone surrogate.*errors='replace'"):
        Value(1.0, label=label)
    assert Value(1.0, label="w\U0001f600 \u00e9").label == "w\U0001f600 \u00e9"  # whole ones are fine


def test_bools_are_refused_everywhere_a_number_is_expected():
    # one rule with nn (which refuses model([True, False])): a bool is a flag, not a number
    np = pytest.importorskip("numpy")
    x = Value(2.0)
    for make, what in [(lambda: Value(True), "Value()"), (lambda: Value(np.bool_(False)), "Value()"),
                       (lambda: x * True, "Value * operand"), (lambda: False + x, "Value + operand"),
                       (lambda: x ** True, "exponent"), (lambda: x < True, "comparison")]:
        with pytest.raises(TypeError, match=r"got a bool .*float\(flag\)") as info:
            make()
        assert what in str(info.value)
    assert (x * 1).data == 2.0 and Value(np.int64(1)).data == 1.0  # ints still are numbers


def test_numpy_arrays_are_refused_on_either_side():
    # a Value is one number: an array on either side is the same TypeError (NumPy
    # would otherwise make an object array of Values for array + value)
    np = pytest.importorskip("numpy")
    x = Value(1.0)
    for make in (lambda: x + np.array([1.0, 2.0]), lambda: np.array([1.0, 2.0]) + x,
                 lambda: np.array([1.0, 2.0]) * x, lambda: np.ones(2) ** x):
        with pytest.raises(TypeError, match=r"with a Value: ndarray .*each element"):
            make()
    for y in (x + np.array(2.0), np.array(2.0) + x, np.float64(2.0) * x):  # 0-d: numbers
        assert type(y) is Value and y.data in (3.0, 2.0)


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
    # the sign/integer check must not choke on inf or nan exponents: they follow IEEE
    # (and PyTorch), even for a negative base, where a finite fraction is an error
    assert (Value(2.0) ** math.inf).data == math.inf
    assert math.isnan((Value(2.0) ** math.nan).data)
    assert (Value(-2.0) ** math.inf).data == math.inf == (-2.0) ** math.inf
    assert math.isnan((Value(-2.0) ** math.nan).data)
    with pytest.raises(ValueError, match="pow_const"):
        Value(-2.0) ** 0.5


# --- grad mode and scope: per thread and per asyncio task ----------------------------


def test_no_grad_in_one_thread_leaves_another_thread_recording():
    import threading

    from engine import is_grad_enabled, no_grad

    inside, done = threading.Event(), threading.Event()
    seen = []

    def evaluate():
        with no_grad():
            seen.append(is_grad_enabled())
            inside.set()  # stay inside no_grad() while the main thread records
            done.wait(10)
            seen.append((Value(2.0) * 3).is_leaf())

    worker = threading.Thread(target=evaluate)
    worker.start()
    assert inside.wait(10)
    a = Value(3.0)
    b = a * a  # the main thread records, whatever the other thread does
    b.backward()
    done.set()
    worker.join()
    assert is_grad_enabled() and b.inputs == (a, a) and a.grad == 6.0
    assert seen == [False, True]


def test_a_new_thread_starts_recording_whatever_its_parent_does():
    import threading

    from engine import is_grad_enabled, no_grad
    from engine.value import scope

    seen = []
    with no_grad(), scope("layer"):
        thread = threading.Thread(target=lambda: seen.append((is_grad_enabled(),
                                                                Value(1.0).scope)))
        thread.start()
        thread.join()
    assert seen == [(True, ())]  # as in PyTorch, where grad mode is per thread


def test_threads_evaluating_under_no_grad_leave_the_state_intact():
    # issue 11: two threads entering and leaving no_grad() (and scope()) 200 times
    # each once left recording off and stale scope owners for the whole process
    import sys
    import threading

    from engine import is_grad_enabled, no_grad
    from engine.value import scope

    errors = []
    start = threading.Barrier(2)

    def evaluate(owner):
        start.wait()
        for _ in range(200):
            with scope(owner), no_grad():
                y = Value(1.0) * 2.0
                if not y.is_leaf() or y.scope != (owner,) or is_grad_enabled():
                    errors.append((owner, y.scope, is_grad_enabled()))
            if not is_grad_enabled() or Value(0.0).scope != ():
                errors.append((owner, "after the block"))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=evaluate, args=(name,)) for name in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    x = Value(1.5)
    y = x * x
    assert is_grad_enabled() and y.inputs == (x, x) and y.scope == ()


def test_asyncio_tasks_each_have_their_own_grad_mode_and_scope():
    import asyncio

    from engine import is_grad_enabled, no_grad
    from engine.value import scope

    async def evaluate(entered, resume):
        with no_grad(), scope("evaluation"):
            entered.set()
            await resume.wait()  # suspended inside the blocks while the other task runs
            return (Value(1.0) * 2).is_leaf(), is_grad_enabled()

    async def train(entered, resume):
        await entered.wait()
        x = Value(2.0)
        y = x * x
        resume.set()
        return y.inputs == (x, x), y.scope, is_grad_enabled()

    async def main():
        entered, resume = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(evaluate(entered, resume), train(entered, resume))

    assert asyncio.run(main()) == [(True, False), (True, (), True)]
    assert is_grad_enabled()


def test_a_task_made_inside_no_grad_starts_in_it_and_changes_nothing_outside():
    import asyncio

    from engine import is_grad_enabled, no_grad

    async def inner():
        with no_grad():  # its own block, inside its own copy of the state
            pass
        return is_grad_enabled()

    async def main():
        with no_grad():
            inherited = await asyncio.create_task(inner())
        return inherited, is_grad_enabled()

    assert asyncio.run(main()) == (False, True)


def test_no_grad_and_scope_work_as_decorators_and_blocks_of_one_instance_nest():
    from engine import is_grad_enabled, no_grad
    from engine.value import scope

    @no_grad()
    def evaluate(x):
        return (x * x).is_leaf(), is_grad_enabled()

    @scope("layer")
    def forward(x):
        return (x * 2).scope

    x = Value(3.0)
    assert evaluate(x) == (True, False) and is_grad_enabled()
    assert forward(x) == ("layer",) and (x * 2).scope == ()
    block = no_grad()
    with block:
        with block:  # the same instance twice: each exit restores its own entry
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert (repr(no_grad()), repr(scope("layer"))) == ("no_grad()", "scope('layer')")

"""forward_steps: the forward pass in the one notation, each line reading to its number."""

import math

import pytest
from hypothesis import given, settings
from random_graphs import build, rule_programs
from test_ops import evaluate

from engine import Value
from engine.teach.forward import ForwardStep, forward_inputs, forward_steps
from engine.teach.notation import Notation, precision


def test_each_node_from_its_inputs_in_order():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.tanh()
    c.label = "c"
    steps = forward_steps(c)
    assert [s.text() for s in steps] == [
        "a * b = 2 * (-3) = -6",
        "tanh(a) = tanh(2) = 0.964",
        "c = a * b + tanh(a) = -6 + 0.964 = -5.036",
    ]
    assert [s.number for s in steps] == [1, 2, 3]
    assert steps[0].latex == r"a \, b = 2 \, \left(-3\right) = -6"
    assert steps[-1].sentence() == "compute c = a * b + tanh(a) = -6 + 0.964 = -5.036"
    assert repr(steps[0]) == "ForwardStep(1: a * b = 2 * (-3) = -6)"
    assert forward_inputs(c) == [("a", "2"), ("b", "-3")]


def test_negative_constants_are_parenthesised():
    x = Value(1.5, label="x")
    y = x / -2.0
    y.label = "y"
    assert forward_steps(y)[0].text() == "y = x / (-2) = 1.5 / (-2) = -0.75"
    z = Value(-2.0, label="a") ** 3
    assert forward_steps(z)[0].text() == "a^3 = (-2)^3 = -8"


def test_a_step_that_is_just_a_number_is_written_once():
    one = Value(1.0) + 0.0  # name, expression and numbers all "1 + 0"
    assert forward_steps(one)[0].text() == "1 + 0 = 1"


@settings(max_examples=60, deadline=None)
@given(rule_programs())
def test_every_line_reads_to_its_number(program):
    """The numbers written, evaluated, give the node's value (17 digits: exact numbers)."""
    leaves = [Value(x, label=f"x{k}") for k, x in enumerate(program[0])]
    nodes = build(program, leaves)
    root = nodes[-1]
    with precision(17):
        steps = forward_steps(root)
    notation = Notation(root)
    seen = {n for n in notation.order if n.is_leaf()}
    for step in steps:
        assert all(i in seen for i in step.node.inputs)  # inputs first
        seen.add(step.node)
        value = evaluate(step.numbers, {})
        if math.isfinite(step.value):
            assert value == pytest.approx(step.value, rel=1e-9, abs=1e-12), step
    assert len(steps) == sum(1 for n in notation.order if not n.is_leaf())


def test_bad_arguments_name_the_fix():
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"forward_steps\(\) needs the Value"):
        forward_steps(1.0)
    with pytest.raises(TypeError, match="notation must be a Notation"):
        forward_steps(x * 2, notation="x")
    with pytest.raises(TypeError, match="constants must be True or False"):
        forward_steps(x * 2, constants=None)
    assert isinstance(forward_steps(x * 2)[0], ForwardStep)

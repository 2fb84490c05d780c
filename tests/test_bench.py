"""The benchmark workloads compute the same thing on every engine (no timing here).

``bench/run.py`` compares engines only if each engine's version of a workload
does the same work. At tiny sizes: W1's engines start from the same loss and,
after one SGD step each, reach the same second loss (so their gradients agree);
W2's chain gives its known gradient; W3's engines agree on the root and a
leaf's gradient. micrograd (the dev extra), PyTorch and NumPy are each skipped
with a reason when absent.
"""

import importlib.util

import pytest

W = pytest.importorskip("bench.workloads", reason="run the tests from the repository root")


def _engines(table, names):
    needs = {"micrograd": "micrograd", "torch-scalar": "torch", "torch-batched": "torch",
             "chainrule-tape": "numpy", "tape, unfused": "numpy"}
    present = [n for n in names
               if n in table and (n not in needs or importlib.util.find_spec(needs[n]))]
    return {n: table[n] for n in present}


def test_w1_engines_agree_on_the_first_two_losses():
    pytest.importorskip("micrograd", reason="W1's starting weights are micrograd's")
    X, y = W.two_moons(12)
    weights = W.micrograd_weights([2, 4, 4, 1])
    losses = {}
    for name, make in _engines(W.W1, list(W.W1)).items():
        step = make(X, y, weights)
        losses[name] = (step(), step())  # the second loss follows one SGD step
    assert {"chainrule", "chainrule, gc_paused", "micrograd"} <= set(losses)
    want = losses["micrograd"]
    for name, got in losses.items():
        assert got == pytest.approx(want, rel=1e-12), name
    assert want[1] != want[0]  # the step did move the weights


def test_w2_chains_give_the_known_gradient():
    for name, make in _engines(W.W2, ["chainrule", "torch-scalar"]).items():
        assert make(300)() == pytest.approx(W.w2_expected(300), rel=1e-12), name


def test_w3_engines_build_the_same_graph():
    program = W.w3_program(3000, seed=1)
    results = {name: make(program)[0]()
               for name, make in _engines(W.W3, list(W.W3)).items()}
    assert {"chainrule", "bare node"} <= set(results)
    root, grad = results["chainrule"]
    for name, (r, g) in results.items():
        assert (r, g) == pytest.approx((root, grad), rel=1e-9), name

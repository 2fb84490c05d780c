"""engine.gc_paused: the cyclic collector is off inside, back on after, however the
block ends; fit, predict, accuracy and gradcheck use it; memory stays flat."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import pytest

from engine import Value, gc_paused, gradcheck
from nn import MLP, SGD, accuracy, fit, mse_loss, predict


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_off_inside_on_after_and_nested():
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not switch it back on
    assert gc.isenabled()


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_restored_after_an_exception_or_ctrl_c(error):
    with pytest.raises(error):
        with gc_paused():
            raise error()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_as_a_decorator_and_repr():
    @gc_paused()
    def inside() -> bool:
        return gc.isenabled()

    assert inside() is False and gc.isenabled()
    assert repr(gc_paused()) == "gc_paused()"


def test_threads_overlapping_blocks():
    """The collector is one per process: it comes back on when the last block ends."""
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(10)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other thread's block is still open
    release.set()
    thread.join(10)
    assert gc.isenabled()


def _recording_loss(seen: list):
    def loss(outputs, targets):
        seen.append(gc.isenabled())
        return mse_loss(outputs, targets)
    return loss


X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [0.1, 0.2]]
Y = [1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_pauses_the_collector_and_restores_it(compiled):
    if compiled:
        pytest.importorskip("numpy")
    seen: list[bool] = []
    model = MLP(2, [3, 1], seed=0)
    fit(model, X, Y, loss=_recording_loss(seen), optimizer=SGD(model.parameters(), lr=0.1),
        epochs=2, batch_size=2, progress=False, compiled=compiled)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_fit_restores_the_collector_when_it_raises():
    def broken(outputs, targets):
        raise ArithmeticError("a loss of your own that fails")

    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ArithmeticError):
        fit(model, X, Y, loss=broken, optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            progress=False)
    assert gc.isenabled()


def test_fit_restores_the_collector_after_ctrl_c():
    def interrupted(outputs, targets):
        raise KeyboardInterrupt

    model = MLP(2, [3, 1], seed=0)
    history = fit(model, X, Y, loss=interrupted, optimizer=SGD(model.parameters(), lr=0.1),
                  epochs=3, progress=False)
    assert history.interrupted and gc.isenabled()


def test_predict_accuracy_and_gradcheck_pause_it():
    seen: list[bool] = []

    class Spy:
        def __call__(self, x):
            seen.append(gc.isenabled())
            return [Value(x[0])]

    predict(Spy(), X)
    accuracy(Spy(), X, [1, 0, 1, 0])
    a = Value(0.3)

    def f(a):
        seen.append(gc.isenabled())
        return a * a

    assert gradcheck(f, [a]).ok
    assert seen and not any(seen)
    assert gc.isenabled()


def test_memory_stays_flat_across_epochs():
    """With the collector paused, a cycle made per batch would pile up: none does.
    The memory held at each batch of epochs 21-40 is within 64 KiB of epoch 20's."""
    held: list[int] = []

    def loss(outputs, targets):
        held.append(tracemalloc.get_traced_memory()[0])
        return mse_loss(outputs, targets)

    model = MLP(2, [4, 1], seed=0)
    tracemalloc.start()
    try:
        fit(model, X * 5, Y * 5, loss=loss, optimizer=SGD(model.parameters(), lr=0.05),
            epochs=40, batch_size=5, progress=False)
    finally:
        tracemalloc.stop()
    per_epoch = len(held) // 40
    settled = held[19 * per_epoch]
    assert max(held[20 * per_epoch:]) - settled < 64 * 1024, (settled, max(held))

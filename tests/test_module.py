"""Module: zero_grad, modes, state dicts, and JSON model files (round trip and rejection)."""

from __future__ import annotations

import json

import pytest

from nn import MLP, Dropout, Layer, Module, Neuron, load_model


def _snapshot(model):
    return [p.data for p in model.parameters()]


def test_zero_grad():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0])[0].backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_train_and_eval_propagate_and_return_self():
    model = MLP(2, [3, 1], dropout=0.1, seed=0)
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="True or False"):
        model.train("yes")


def test_modules_lists_everything_in_order():
    model = MLP(2, [2, 1], dropout=0.5, seed=0)
    kinds = [m.kind for m in model.modules()]
    assert kinds == ["mlp", "layer", "neuron", "neuron", "dropout", "layer", "neuron"]


def test_state_dict_round_trip():
    a, b = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    assert _snapshot(a) != _snapshot(b)
    state = a.state_dict()
    assert list(state) == [name for name, _ in a.named_parameters()]
    b.load_state_dict(state)
    assert _snapshot(a) == _snapshot(b)
    assert b([0.3, 0.4])[0].data == a([0.3, 0.4])[0].data


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("b2.1"), r"missing 1 \(b2.1\)"),
    (lambda s: s.update({"w3.1.1": 0.5}), r"unexpected 1 \(w3.1.1\)"),
    (lambda s: s.update({"w1.1.1": "0.5"}), "must be a number"),
    (lambda s: s.update({"w1.1.1": True}), "must be a number"),
    (lambda s: s.update({"w1.2.1": float("nan")}), "not a finite number"),
])
def test_load_state_dict_rejects_and_changes_nothing(change, message):
    model = MLP(2, [3, 1], seed=1)
    before = _snapshot(model)
    state = MLP(2, [3, 1], seed=2).state_dict()
    change(state)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    assert _snapshot(model) == before


def test_load_state_dict_needs_a_dict():
    with pytest.raises(TypeError, match="dict"):
        MLP(2, [1]).load_state_dict([1.0, 2.0, 3.0])


@pytest.mark.parametrize("make", [
    lambda: MLP(2, [4, 3, 1], activation="relu", output_activation="sigmoid", seed=3),
    lambda: MLP(3, [2], bias=False, dropout=0.0, seed=3),
    lambda: MLP(2, [4, 1], dropout=0.25, init="he", seed=3),
    lambda: Layer(3, 2, activation="sigmoid", seed=3),
    lambda: Neuron(4, activation="relu", seed=3),
    lambda: Dropout(0.3),
])
def test_save_load_round_trip(tmp_path, make):
    model = make()
    path = tmp_path / "model.json"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert repr(loaded) == repr(model)
    assert loaded.config() == model.config()
    assert loaded.state_dict() == model.state_dict()  # exact: JSON floats round-trip
    if model.nin() is not None:
        x = [0.1 * k - 0.2 for k in range(model.nin())]
        loaded.eval(), model.eval()
        assert [v.data for v in loaded(x)] == [v.data for v in model(x)]
    assert type(model).load(path).state_dict() == model.state_dict()


def test_the_file_is_tagged_json(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [1], seed=0).save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "chainrule.nn.model"
    assert data["version"] == 1
    assert data["architecture"]["kind"] == "mlp"
    assert data["parameters"]["w1.1.2"] == MLP(2, [1], seed=0).layers[0].neurons[0].w[1].data


def test_load_checks_the_class(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [1], seed=0).save(path)
    with pytest.raises(ValueError, match="holds an MLP .* not a Layer"):
        Layer.load(path)
    assert isinstance(Module.load(path), MLP)


def test_load_weights_in_place(tmp_path):
    path = tmp_path / "m.json"
    source = MLP(2, [3, 1], seed=5)
    source.save(path)
    target = MLP(2, [3, 1], seed=6)
    target.load_weights(path)
    assert target.state_dict() == source.state_dict()


@pytest.mark.parametrize("other,differs", [
    (lambda: MLP(2, [4, 1], seed=0), r"nouts: file \[4, 1\], model \[3, 1\]"),
    (lambda: MLP(2, [3, 1], activation="relu", seed=0), "activation: file 'relu', model 'tanh'"),
    (lambda: MLP(3, [3, 1], seed=0), "nin: file 3, model 2"),
    (lambda: Layer(2, 3, seed=0), "kind: file 'layer', model 'mlp'"),
])
def test_load_weights_of_another_architecture_is_rejected(tmp_path, other, differs):
    path = tmp_path / "other.json"
    other().save(path)
    model = MLP(2, [3, 1], seed=1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=differs):
        model.load_weights(path)
    assert _snapshot(model) == before


def _valid(seed=0):
    return MLP(2, [3, 1], seed=seed).to_json()


def _broken(kind):
    data = _valid(9)
    if kind == "not json":
        return "{this is not json"
    if kind == "a list":
        return "[1, 2, 3]"
    if kind == "format":
        data["format"] = "something.else"
    elif kind == "newer version":
        data["version"] = 99
    elif kind == "version type":
        data["version"] = "1"
    elif kind == "no parameters":
        del data["parameters"]
    elif kind == "parameters list":
        data["parameters"] = [1, 2]
    elif kind == "missing parameter":
        del data["parameters"]["w1.2.1"]
    elif kind == "extra parameter":
        data["parameters"]["w9.9.9"] = 1.0
    elif kind == "string parameter":
        data["parameters"]["b2.1"] = "0.3"
    elif kind == "unknown kind":
        data["architecture"]["kind"] = "transformer"
    elif kind == "bad nouts":
        data["architecture"]["nouts"] = "3, 1"
    elif kind == "extra key":
        data["architecture"]["layers"] = 3
    text = json.dumps(data)
    if kind == "nan":
        text = text.replace(str(data["parameters"]["w1.1.1"]), "NaN", 1)
    return text


MALFORMED = {
    "not json": "not valid JSON",
    "a list": "not a chainrule model file",
    "format": "format tag 'something.else'",
    "newer version": "version 99 is newer",
    "version type": "bad format version",
    "no parameters": "no 'parameters' entry",
    "parameters list": "'parameters' must be an object",
    "missing parameter": r"missing 1 \(w1.2.1\)",
    "extra parameter": r"unexpected 1 \(w9.9.9\)",
    "string parameter": "'b2.1' must be a number",
    "unknown kind": "unknown module kind 'transformer'",
    "bad nouts": "nouts",
    "extra key": "layers",
    "nan": "NaN is not allowed",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_files_are_rejected_and_change_nothing(tmp_path, kind):
    path = tmp_path / "bad.json"
    path.write_text(_broken(kind))
    with pytest.raises(ValueError, match=MALFORMED[kind]):
        load_model(path)
    model = MLP(2, [3, 1], seed=1)
    before = _snapshot(model)
    with pytest.raises(ValueError):
        model.load_weights(path)
    assert _snapshot(model) == before


def test_binary_file_rejected(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="not a text"):
        load_model(path)


def test_saving_a_diverged_model_says_why(tmp_path):
    model = MLP(2, [1], seed=0)
    model.layers[0].neurons[0].b.data = float("inf")
    with pytest.raises(ValueError, match="'b1.1' is inf"):
        model.save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_a_huge_width_in_a_file_is_rejected_before_building(tmp_path):
    data = _valid()
    data["architecture"]["nouts"] = [10**9, 1]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="parameters but the file lists 13"):
        load_model(path)


def test_error_messages_name_the_module():
    with pytest.raises(ValueError, match="^MLP expected 2 inputs, got 3"):
        MLP(2, [1])([1, 2, 3])
    with pytest.raises(ValueError, match="^Layer 1, neuron 1 expected 2 inputs, got 1"):
        Neuron(2)([1])


# --- saving never destroys the old file -----------------------------------------------


def _full_disk_during_write(monkeypatch):
    """os.fdopen's files write half their bytes, then fail as a full disk does."""
    import errno
    import os

    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.handle, name)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))


def _full_disk_at_fsync(monkeypatch):
    import errno
    import os

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("fault", [_full_disk_during_write, _full_disk_at_fsync])
def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch, fault):
    path = tmp_path / "model.json"
    old = MLP(2, [3, 1], seed=1)
    old.save(path)
    before = path.read_bytes()
    fault(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        MLP(2, [3, 1], seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_model(path).state_dict() == old.state_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left


KEEP_SAVING = r"""
import builtins, os, signal, sys
import nn

a, b = (nn.MLP(2, [100, 100, 1], seed=seed) for seed in (1, 2))
a.save(sys.argv[1])
print("ready", flush=True)
if sys.argv[2] == "loop":  # until killed from outside
    while True:
        b.save(sys.argv[1])
        a.save(sys.argv[1])


class Dying:
    # a file that dies (SIGKILL) halfway through its first write
    def __init__(self, handle):
        self.handle = handle
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.handle.close()
    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    def __getattr__(self, name):
        return getattr(self.handle, name)


def dying(opener):
    def open_for_writing(*args, **kwargs):
        handle = opener(*args, **kwargs)
        mode = str(kwargs.get("mode", args[1] if len(args) > 1 else "r"))
        return Dying(handle) if set(mode) & set("wax+") else handle
    return open_for_writing


builtins.open, os.fdopen = dying(builtins.open), dying(os.fdopen)
b.save(sys.argv[1])
"""


def test_a_save_killed_midway_leaves_the_old_or_the_new_file(tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    states = [MLP(2, [100, 100, 1], seed=seed).state_dict() for seed in (1, 2)]
    rng = random.Random()
    runs = []
    for k, mode in enumerate(["halfway"] + ["loop"] * 4):  # side by side
        path = tmp_path / f"model{k}.json"
        process = subprocess.Popen([sys.executable, "-c", KEEP_SAVING, str(path), mode],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs.append((mode, path, process))
    for _, _, process in runs:
        assert process.stdout.readline() == "ready\n", process.stderr.read()
    for mode, _, process in runs:
        if mode == "loop":  # killed at a random moment, mostly inside a save
            time.sleep(rng.uniform(0.0, 0.1))  # a 10k-parameter save takes some 50 ms
            process.send_signal(signal.SIGKILL)
    for mode, path, process in runs:
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        state = load_model(path).state_dict()  # whole: never a torn file
        assert state == states[0] if mode == "halfway" else state in states


# --- model files: every malformed file is a ValueError naming it ----------------------


def _text_of(data):
    return json.dumps(data)


def _with_raw(data, raw, *keys):
    """The file's text with the value at data[keys[0]][keys[1]]... replaced by raw JSON text."""
    target = data
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = "@RAW@"
    return json.dumps(data).replace('"@RAW@"', raw)


HOSTILE = {
    "huge integer parameter": (lambda d: _with_raw(d, "1" + "0" * 399, "parameters", "w1.1.1"),
                               "'w1.1.1' is too large for a float"),
    "5000-digit integer": (lambda d: _with_raw(d, "7" * 5000, "parameters", "b1.1"),
                           "an integer literal of 5000 digits"),
    "5000-digit width": (lambda d: _with_raw(d, "2" * 5000, "architecture", "nin"),
                         "an integer literal of 5000 digits"),
    "huge width": (lambda d: _with_raw(d, "9" * 300, "architecture", "nin"),
                   "more than 10\\^15 parameters but the file lists 13"),
    "NaN literal": (lambda d: _with_raw(d, "NaN", "parameters", "w1.1.1"),
                    "NaN is not allowed in a model file"),
    "-Infinity literal": (lambda d: _with_raw(d, "-Infinity", "parameters", "w1.1.1"),
                          "-Infinity is not allowed"),
    "1e999": (lambda d: _with_raw(d, "1e999", "parameters", "w1.1.1"),
              "the number '1e999' is beyond the float range"),
    "10^5 nested arrays": (lambda d: _with_raw(d, "[" * 10**5 + "]" * 10**5, "architecture",
                                               "nouts"), "nested too deeply"),
    "duplicate key": (lambda d: _text_of(d)[:-1] + ', "parameters": {}}',
                      "the key 'parameters' appears twice"),
    "unknown top-level key": (lambda d: _text_of({**d, "junk": "x" * 10**5}),
                              r"unknown top-level key\(s\) 1 \(junk\)"),
    "nin 2.0": (lambda d: _with_raw(d, "2.0", "architecture", "nin"), "nin must be an int"),
    "bias 1": (lambda d: _with_raw(d, "1", "architecture", "bias"), "bias must be True or False"),
    "width true": (lambda d: _with_raw(d, "[true, 1]", "architecture", "nouts"), "must be an int"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_files_are_a_value_error_naming_the_file(tmp_path, kind):
    make, message = HOSTILE[kind]
    path = tmp_path / "hostile.json"
    path.write_text(make(_valid(9)))
    where = f"loading '{path}': "
    with pytest.raises(ValueError, match=f"^{where}.*{message}") as caught:
        load_model(path)
    assert len(str(caught.value)) < 600  # a hostile file cannot make a huge message
    model = MLP(2, [3, 1], seed=1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=f"^{where}"):
        model.load_weights(path)
    assert _snapshot(model) == before


def test_the_size_cap_is_checked_before_parsing(tmp_path, monkeypatch):
    from nn import module

    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    size = path.stat().st_size
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(module.json, "loads", lambda *a, **k: parsed.append(1) or
                        real_loads(*a, **k))
    model = MLP(2, [3, 1], seed=1)
    for load in (load_model, model.load_weights, MLP.load):
        with pytest.raises(ValueError, match=rf"'{path}': the file is larger than "
                                             rf"max_bytes={size - 1:,}; .*larger max_bytes"):
            load(path, max_bytes=size - 1)
    assert parsed == []
    assert load_model(path, max_bytes=size).state_dict() == MLP(2, [3, 1], seed=0).state_dict()
    assert module.MAX_FILE_BYTES == 32 * 1024 * 1024
    with pytest.raises(TypeError, match="max_bytes must be a positive int"):
        load_model(path, max_bytes="big")


def test_load_weights_refuses_what_load_model_refuses(tmp_path):
    data = _valid(3)
    data["architecture"]["nin"] = 2.0  # equal to 2 in Python, but not an int
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="nin must be an int"):
        load_model(path)
    model = MLP(2, [3, 1], seed=1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="nin must be an int"):
        model.load_weights(path)
    assert _snapshot(model) == before


def test_load_state_dict_refuses_a_huge_integer():
    model = MLP(2, [1], seed=0)
    state = model.state_dict()
    state["w1.1.1"] = 10**400
    before = _snapshot(model)
    with pytest.raises(ValueError, match="'w1.1.1' is too large for a float"):
        model.load_state_dict(state)
    assert _snapshot(model) == before
    with pytest.raises(ValueError, match=r"unexpected 1 \(7\)"):
        model.load_state_dict({**MLP(2, [1]).state_dict(), 7: 1.0})  # a key that is no str


# --- model files, fuzzed ----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

RAW_VALUES = ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" + "0" * 5000,
              "[" * 3000 + "]" * 3000, "{" * 10, "]", '"\\ud800"', "0", "-0.0", "true",
              "null", "1.5", "2.0", "[]", "{}", '""', "1e-400", "12345678901234567890"]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=10,
)


def _paths(data, prefix=()):
    """Every key path into the JSON structure (dicts and lists)."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for k, value in enumerate(data):
            yield from _paths(value, prefix + (k,))


@st.composite
def mutated_files(draw):
    """A valid model file, mutated: a value replaced, a key added or removed, or the
    text itself cut, spliced or overwritten."""
    data = _valid(draw(st.integers(0, 3)))
    how = draw(st.sampled_from(["value", "raw", "delete", "add", "text"]))
    paths = list(_paths(data))[1:]
    if how in ("value", "raw", "delete"):
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if how == "delete":
            del parent[path[-1]]
            return json.dumps(data)
        if how == "value":
            parent[path[-1]] = draw(JSONISH)
            return json.dumps(data)  # NaN and Infinity come out as literals
        parent[path[-1]] = "@RAW@"
        return json.dumps(data).replace('"@RAW@"', draw(st.sampled_from(RAW_VALUES)))
    if how == "add":
        parents = [p for p in [()] + paths if isinstance(_at(data, p), dict)]
        parent = _at(data, draw(st.sampled_from(parents)))
        parent[draw(st.text(max_size=8))] = draw(JSONISH)
        return json.dumps(data)
    text = json.dumps(data)
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 20)))
    insert = draw(st.text(alphabet='{}[]",:0123456789.-+eENaIfinty \\u', max_size=12))
    return text[:start] + insert + text[end:]


def _at(data, path):
    for key in path:
        data = data[key]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_files())
def test_fuzzed_files_load_or_are_a_value_error_and_never_change_the_model(text):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_model(path)
        except ValueError as error:
            assert str(error).startswith(f"loading '{path}': ")
        else:  # a valid model: what the file says, every number finite
            expected = json.loads(text)["parameters"]
            assert loaded.state_dict() == {name: float(v) for name, v in expected.items()}
        model = MLP(2, [3, 1], seed=7)
        before = model.state_dict()
        try:
            model.load_weights(path)
        except ValueError as error:
            assert str(error).startswith(f"loading '{path}': ")
            assert model.state_dict() == before
        else:
            expected = json.loads(text)["parameters"]
            assert model.state_dict() == {name: float(v) for name, v in expected.items()}
        try:  # the same numbers as a state dict (json's own parser lets NaN and 10**400 in)
            state = json.loads(text)["parameters"]
        except (ValueError, TypeError, KeyError, RecursionError):
            return
        before = model.state_dict()
        try:
            model.load_state_dict(state)
        except TypeError:  # not a dict
            assert not isinstance(state, dict)
        except ValueError as error:
            assert str(error).startswith("load_state_dict: ")
            assert model.state_dict() == before
        else:
            assert model.state_dict() == {name: float(v) for name, v in state.items()}

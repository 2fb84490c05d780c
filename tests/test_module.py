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

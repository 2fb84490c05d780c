"""to_torch / from_torch: identical weights, outputs and gradients (float64, 1e-10);
round trips; unsupported modules; a clear message when torch is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from oracles import torch_or_skip

from nn import MLP, Layer, Neuron, from_torch, mse_loss, to_torch

ROOT = Path(__file__).resolve().parents[1]

ARCHITECTURES = [
    dict(nin=2, nouts=[16, 16, 1], activation="relu"),
    dict(nin=3, nouts=[4, 3], activation="tanh", output_activation="sigmoid"),
    dict(nin=2, nouts=[5, 5, 2], activation="sigmoid", output_activation="tanh", bias=False),
    dict(nin=1, nouts=[3, 1], activation="linear"),
]
X = [[0.3, -1.2, 0.8], [1.5, 0.2, -0.4], [-0.7, -0.9, 1.1], [0.05, 2.0, -1.5]]


def _linears(torch, seq):
    return [m for m in seq if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_to_torch_same_outputs_and_gradients(arch):
    torch = torch_or_skip()
    model = MLP(**arch, seed=4)
    seq = to_torch(model)
    X_ = [x[: arch["nin"]] for x in X]
    ys = [[0.5 * k - 0.3 for k in range(arch["nouts"][-1])] for _ in X_]
    outs = [model(x) for x in X_]
    loss = mse_loss(outs, ys)
    loss.backward()

    t_out = seq(torch.tensor(X_, dtype=torch.float64))
    t_loss = torch.nn.functional.mse_loss(t_out, torch.tensor(ys, dtype=torch.float64))
    t_loss.backward()
    assert [o.data for row in outs for o in row] == pytest.approx(
        t_out.flatten().tolist(), abs=1e-12)
    assert loss.data == pytest.approx(t_loss.item(), abs=1e-12)
    for layer, linear in zip(model.layers, _linears(torch, seq)):
        assert linear.weight.dtype == torch.float64
        for i, n in enumerate(layer.neurons):
            assert [w.grad for w in n.w] == pytest.approx(linear.weight.grad[i].tolist(), abs=1e-10)
            if n.b is not None:
                assert n.b.grad == pytest.approx(linear.bias.grad[i].item(), abs=1e-10)
            else:
                assert linear.bias is None


def test_to_torch_copies_weights_in_row_layout():
    torch = torch_or_skip()
    model = MLP(3, [2, 1], seed=1)
    first = _linears(torch, to_torch(model))[0]
    n = model.layers[0].neurons[1]
    assert first.weight[1, 2].item() == n.w[2].data
    assert first.bias[1].item() == n.b.data


def test_to_torch_module_list_and_modes():
    torch_or_skip()
    model = MLP(2, [4, 4, 1], activation="tanh", output_activation="sigmoid", dropout=0.2, seed=0)
    seq = to_torch(model)
    names = [type(m).__name__ for m in seq]
    assert names == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear", "Sigmoid"]
    assert seq.training
    assert not to_torch(model.eval()).training
    assert [type(m).__name__ for m in to_torch(MLP(2, [1]))] == ["Linear"]


@pytest.mark.parametrize("module", [Layer(3, 2, activation="relu", seed=2),
                                    Neuron(3, activation="sigmoid", seed=2)])
def test_to_torch_layer_and_neuron(module):
    torch = torch_or_skip()
    x = [0.4, -0.2, 1.3]
    ours = [v.data for v in module(x)]
    theirs = to_torch(module)(torch.tensor(x, dtype=torch.float64)).tolist()
    assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("arch", ARCHITECTURES + [dict(nin=2, nouts=[3, 1], dropout=0.5)])
def test_round_trip(arch):
    torch_or_skip()
    model = MLP(**arch, seed=8)
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model)
    assert back.state_dict() == model.state_dict()


def test_from_torch_of_a_torch_made_network():
    torch = torch_or_skip()
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 5), torch.nn.ReLU(),
        torch.nn.Linear(5, 2), torch.nn.Identity(),
    ).double()
    model = from_torch(seq)
    assert repr(model) == "MLP(3 -> [5 relu, 5 relu, 2 linear], 62 parameters)"
    for x in X:
        assert [v.data for v in model(x)] == pytest.approx(
            seq(torch.tensor(x, dtype=torch.float64)).tolist(), abs=1e-12)


def test_from_torch_rejects_what_an_mlp_cannot_be():
    torch = torch_or_skip()
    nn_ = torch.nn
    cases = [
        (nn_.Sequential(nn_.ReLU(), nn_.Linear(2, 1)), "before any Linear"),
        (nn_.Sequential(nn_.Linear(2, 3), nn_.GELU(), nn_.Linear(3, 1)), r"module 1 \(GELU\) is not supported"),
        (nn_.Sequential(nn_.Linear(2, 3), nn_.Tanh(), nn_.Linear(3, 3), nn_.ReLU(), nn_.Linear(3, 1)),
         "differ in activation"),
        (nn_.Sequential(nn_.Linear(2, 3), nn_.Linear(4, 1)), "takes 4 inputs but layer 1 gives 3"),
        (nn_.Sequential(nn_.Linear(2, 3, bias=False), nn_.Linear(3, 1)), "differ in bias"),
        (nn_.Sequential(nn_.Linear(2, 3), nn_.Tanh(), nn_.Tanh()), "second activation"),
        (nn_.Sequential(nn_.Linear(2, 1), nn_.Dropout(0.1)), "after the output layer"),
        (nn_.Sequential(), "no Linear"),
    ]
    for seq, message in cases:
        with pytest.raises(ValueError, match=message):
            from_torch(seq)
    with pytest.raises(TypeError, match="Sequential"):
        from_torch(nn_.Linear(2, 1))
    with pytest.raises(TypeError, match="MLP, Layer or Neuron"):
        to_torch("model")


def test_missing_torch_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0") as info:
        to_torch(MLP(2, [1]))
    assert "chainrule[torch]" in str(info.value)
    with pytest.raises(ImportError, match="PyTorch"):
        from_torch(object())


def test_importing_nn_does_not_import_torch():
    code = "import sys, nn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_from_torch_refuses_nan_weights():
    torch = torch_or_skip()
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with torch.no_grad():
        seq[2].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"module 2 \(Linear\): weight\[0, 1\] is nan"):
        from_torch(seq)
    with torch.no_grad():
        seq[2].weight[0, 1] = 0.0
        seq[0].bias[2] = float("inf")
    with pytest.raises(ValueError, match=r"module 0 \(Linear\): bias\[2\] is inf"):
        from_torch(seq)

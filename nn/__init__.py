"""chainrule's neural-network package, built only from ``engine.Value`` nodes.

Every gradient in ``nn`` comes from the engine's graph: there are no
hand-written layer derivatives anywhere in this package.

User API::

    from nn import MLP, Layer, Neuron, Dropout, load_model
    from nn import mse_loss, cross_entropy, ...          # losses (nn.losses.LOSSES by name)
    from nn import softmax, log_softmax, logsumexp       # on lists of Values
    from nn import layer_view                            # z, a, dL/dz per layer (BE1-BE4)
    from nn import to_torch, from_torch                  # graduate to PyTorch
    from nn import SGD, Adagrad, Adam, AdamW             # optimizers: step(), zero_grad()
    from nn import fit, History, predict, accuracy       # the training loop
    from nn import make_moons, make_circles, make_xor, make_spiral, lecture_table
"""

__version__ = "0.1.0"


def _check_engine() -> None:
    """``engine`` and ``nn`` are generic names: make sure we found ours."""
    try:
        import engine
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "chainrule's nn needs its engine package, which could not be imported "
            f"({error}). Reinstall with: pip install --force-reinstall chainrule"
        ) from error
    if getattr(engine, "__chainrule__", None) != "engine":
        raise ImportError(
            f"the 'engine' package found at {getattr(engine, '__file__', '?')} is not "
            "chainrule's engine (another package of that name shadows it). Uninstall the "
            "other package or run from a fresh virtual environment with: pip install chainrule"
        )
    if engine.__version__ != __version__:
        raise ImportError(
            f"chainrule's nn {__version__} found engine {engine.__version__} at "
            f"{engine.__file__}; the two must be of the same version. "
            "Reinstall with: pip install --force-reinstall chainrule"
        )


_check_engine()
del _check_engine

from .diagnose import Diagnosis, LayerDiagnosis, diagnose  # noqa: E402
from .functional import log_softmax, logsumexp, softmax, softplus  # noqa: E402
from .layers import MLP, Dropout, Layer, Neuron  # noqa: E402
from .lecture import LayerView, layer_view  # noqa: E402
from .losses import (  # noqa: E402
    LOSSES,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    logistic_loss,
    mse_loss,
)
from .module import Module, load_model  # noqa: E402
from .torch_bridge import from_torch, to_torch  # noqa: E402

__all__ = [
    "__version__",
    # modules
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "Dropout",
    "load_model",
    # functions on lists of Values
    "softmax",
    "log_softmax",
    "logsumexp",
    "softplus",
    # losses
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "logistic_loss",
    "l2_penalty",
    "LOSSES",
    # the lecture's notation
    "layer_view",
    "LayerView",
    # what stops a network from learning
    "diagnose",
    "Diagnosis",
    "LayerDiagnosis",
    # PyTorch
    "to_torch",
    "from_torch",
]

# --- training: optimizers, the training loop, datasets ---
from .data import lecture_table, make_circles, make_moons, make_spiral, make_xor  # noqa: E402
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer  # noqa: E402
from .train import History, accuracy, fit, predict  # noqa: E402

__all__ += [
    "Optimizer", "SGD", "Adagrad", "Adam", "AdamW",
    "fit", "History", "predict", "accuracy",
    "make_moons", "make_circles", "make_xor", "make_spiral", "lecture_table",
]

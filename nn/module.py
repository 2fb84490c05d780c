"""``Module``: what every network part shares (parameters, modes, saving).

A module owns parameters (leaf ``Value`` nodes) and, possibly, child modules.
This file holds the behaviour they all share, PyTorch-shaped:

* ``parameters()`` in a documented, stable order (children in order, so for an
  MLP: layer by layer, neuron by neuron, each neuron's weights then its bias)
  and ``named_parameters()`` with names like ``w1.2.3`` (layer 1, neuron 2,
  input 3; 1-based), the same names the parameter nodes carry as labels;
* ``zero_grad()``, ``train()`` / ``eval()`` and the ``training`` flag;
* ``state_dict()`` / ``load_state_dict()`` and saving to / loading from JSON
  (never pickle: a model file is data, not code).

Loading validates everything first and only then assigns, so a bad file or a
file of another architecture raises ``ValueError`` (naming the file and saying
what is wrong) and leaves the model exactly as it was. A model file is read
with a size cap (``MAX_FILE_BYTES``, raised with ``max_bytes=``) checked
before parsing; integers longer than ``MAX_DIGITS`` digits, numbers beyond the
float range, NaN and Infinity, duplicate and unknown keys are refused.
Saving goes through ``engine.teach.files.atomic_write``: a failed or killed
save leaves the old file whole.

The concrete modules (``Neuron``, ``Layer``, ``MLP``, ``Dropout``) live in
``nn/layers.py``; ``load_model`` finds them through ``Module.registry``.
"""

from __future__ import annotations

import json
import math
import os
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

from engine import Value
from engine.teach.files import atomic_write
from engine.value import scope

__all__ = ["Module", "load_model", "FORMAT", "FORMAT_VERSION", "MAX_FILE_BYTES"]

#: The format tag written in every model file, and its version.
FORMAT = "chainrule.nn.model"
FORMAT_VERSION = 1
#: The entries of a model file; any other top-level key is refused.
FILE_KEYS = ("format", "version", "architecture", "parameters")
#: The largest model file read unless ``max_bytes=`` says otherwise (32 MiB: at
#: about 40 bytes a parameter, some 800,000 parameters).
MAX_FILE_BYTES = 32 * 1024 * 1024
#: The longest integer literal a model file may hold (a float stops at 309 digits).
MAX_DIGITS = 400


class Module:
    """Base class of every ``nn`` module.

    Subclasses set ``kind`` (a class attribute: ``"neuron"``, ``"layer"``,
    ``"mlp"``, ``"dropout"``), give instances a ``name`` (e.g. ``"layer 2,
    neuron 1"``), and implement:

    * ``forward(xs)``: the computation on a list of Values; ``__call__`` checks
      and wraps the inputs, then runs ``forward`` inside
      ``engine.value.scope(self)`` so every node made remembers this module;
    * ``children()``: sub-modules, in order (default: none);
    * ``_own_parameters()``: ``(name, Value)`` pairs of this module's own
      parameters (default: none);
    * ``config()``: the architecture as a JSON-able dict, and the class method
      ``from_config(config)`` that builds a fresh module from it.
    """

    kind: ClassVar[str] = "module"
    #: kind -> class, filled by ``__init_subclass__``; used by ``load_model``.
    registry: ClassVar[dict[str, type[Module]]] = {}

    name: str = ""
    training: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Module.registry[cls.kind] = cls

    # --- structure -----------------------------------------------------------

    def children(self) -> list[Module]:
        """Direct sub-modules, in forward order."""
        return []

    def modules(self) -> Iterator[Module]:
        """This module, then every sub-module, depth first, in order."""
        yield self
        for child in self.children():
            yield from child.modules()

    def _own_parameters(self) -> list[tuple[str, Value]]:
        return []

    def _own_values(self) -> list[Value]:
        # parameters() without building the names (it runs every training step)
        return [p for _, p in self._own_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs in ``parameters()`` order.

        Names follow the node labels: ``w<l>.<i>.<j>`` (layer l, neuron i,
        input j) and ``b<l>.<i>``, all 1-based. They come from the module's
        structure, so relabelling a node for a drawing does not rename it here.
        """
        pairs = list(self._own_parameters())
        for child in self.children():
            pairs.extend(child.named_parameters())
        return pairs

    def parameters(self) -> list[Value]:
        """Every trainable Value: layer by layer, neuron by neuron, weights then bias."""
        return [p for module in self.modules() for p in module._own_values()]

    def num_parameters(self) -> int:
        """How many numbers training adjusts."""
        return len(self.named_parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (do it before each ``backward()``)."""
        for p in self.parameters():
            p.grad = 0.0

    # --- modes -----------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all sub-modules; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) needs True or False, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout is the identity); returns self. Same as ``train(False)``."""
        return self.train(False)

    # --- calling -----------------------------------------------------------------

    def nin(self) -> int | None:  # pragma: no cover - overridden where it matters
        """How many inputs the module takes (None: any number)."""
        return None

    def __call__(self, x: Sequence[Any]) -> list[Value]:
        """Run the module on one sample: a sequence of numbers or Values.

        Numbers become leaf Values labelled ``x1, x2, ...``; the result is
        always a list of Values, even for a single output.
        """
        return self._run(_inputs(self, x))

    def _run(self, xs: list[Value]) -> list[Value]:
        # Parents call this directly on already-checked inputs.
        with scope(self):
            return self.forward(xs)

    def forward(self, xs: list[Value]) -> list[Value]:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(xs)")

    # --- state -------------------------------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """Every parameter's value, by name, in ``parameters()`` order (a plain dict of floats)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from ``state`` (as made by ``state_dict()``).

        The names must be exactly this module's (missing or unexpected names
        raise ``ValueError`` listing them) and every value a finite real
        number. Nothing is assigned unless everything is valid.
        """
        values = self._check_state(state, "load_state_dict")
        for (_, p), value in zip(self.named_parameters(), values):
            p.data = value

    def _check_state(self, state: Any, where: str) -> list[float]:
        """The values of ``state`` in parameter order, or a ValueError saying what is wrong."""
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{where}: expected a dict of parameter name -> number, got {type(state).__name__}"
            )
        names = [name for name, _ in self.named_parameters()]
        missing = [n for n in names if n not in state]
        known = set(names)
        unexpected = [n for n in state if n not in known]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {_few(missing)}")
            if unexpected:
                parts.append(f"unexpected {_few(unexpected)}")
            raise ValueError(
                f"{where}: the parameters do not match {self!r}: {'; '.join(parts)}. "
                "Build the model with the same architecture as the one that was saved."
            )
        values = []
        for n in names:
            v = state[n]
            if isinstance(v, bool) or not isinstance(v, Real):
                raise ValueError(f"{where}: parameter {n!r} must be a number, got {_shown(v)}")
            try:
                v = float(v)
            except OverflowError:  # an int beyond the float range, e.g. 10**400
                raise ValueError(f"{where}: parameter {n!r} is too large for a float "
                                 f"({_shown(v)})") from None
            if not math.isfinite(v):
                raise ValueError(f"{where}: parameter {n!r} is {v}, not a finite number")
            values.append(v)
        return values

    def config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The architecture as a JSON-able dict (with ``"kind"``), enough to rebuild the module."""
        raise NotImplementedError

    @classmethod
    def config_size(cls, config: dict[str, Any]) -> int:  # pragma: no cover - abstract
        """How many parameters the architecture ``config`` has (checked, without building it)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Module:  # pragma: no cover - abstract
        """A fresh module (new random weights) of the architecture ``config`` describes."""
        raise NotImplementedError

    # --- files ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The model file's content: format tag, version, architecture and parameters."""
        params = self.state_dict()
        for name, value in params.items():
            if not math.isfinite(value):
                raise ValueError(
                    f"cannot save: parameter {name!r} is {value} (training diverged?); "
                    "JSON has no NaN or infinity. Lower the learning rate and retrain."
                )
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "architecture": self.config(),
            "parameters": params,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the architecture and every parameter to ``path`` as JSON, atomically.

        The text goes to a temporary file in the same folder, is flushed to disk,
        then replaces ``path`` in one step: a full disk, an error or a killed
        process leaves the old file (if any) whole, never a torn one.

        Raises:
            ValueError: a parameter is NaN or infinite (nothing is written).
            OSError: the file could not be written (the old one is unchanged).
        """
        text = json.dumps(self.to_json(), indent=1, allow_nan=False)
        atomic_write(path, text + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> Module:
        """Build the model saved in ``path`` (``MLP.load(path)`` also checks it is an MLP).

        ``max_bytes`` caps the file's size, checked before parsing (see ``load_model``).
        """
        model = load_model(path, max_bytes=max_bytes)
        if cls is not Module and not isinstance(model, cls):
            raise ValueError(
                f"{os.fspath(path)!r} holds {_a(type(model).__name__)} ({model!r}), "
                f"not {_a(cls.__name__)}; load it with nn.load_model(path)"
            )
        return model

    def load_weights(self, path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> None:
        """Load the parameters saved in ``path`` into this model, in place.

        The file is checked as ``load_model`` checks it (``max_bytes`` caps its
        size), and its architecture must equal this model's; otherwise a
        ``ValueError`` says what is wrong and the model is left unchanged.
        """
        data = _read(path, max_bytes)
        where = f"loading {os.fspath(path)!r}"
        _architecture(data, where)  # the same checks as load_model: "nin": 2.0 is refused
        theirs = data["architecture"]
        ours = self.config()
        if theirs != ours:
            raise ValueError(
                f"{where}: the file holds another architecture than this model: "
                f"{_config_diff(theirs, ours)}. Build the model as it was saved, "
                "or use nn.load_model(path) to get the saved model itself."
            )
        values = self._check_state(data["parameters"], where)
        for (_, p), value in zip(self.named_parameters(), values):
            p.data = value


def load_model(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> Module:
    """Rebuild the model saved by ``model.save(path)``: architecture and parameters.

    Args:
        path: the model file (JSON, as ``save`` writes it).
        max_bytes: refuse files larger than this (checked before parsing; default
            ``MAX_FILE_BYTES``, 32 MiB); raise it to load a bigger model.

    Raises:
        ValueError: the file is not a valid model file (too big, not JSON, NaN,
            an unknown key, an invalid architecture, a missing parameter...):
            the message names the file and the problem.
        OSError: the file cannot be read (e.g. FileNotFoundError).
    """
    data = _read(path, max_bytes)
    where = f"loading {os.fspath(path)!r}"
    cls = _architecture(data, where)
    config = data["architecture"]
    try:
        model = cls.from_config(config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: invalid architecture {_shown(config)}: {error}") from None
    values = model._check_state(data["parameters"], where)
    for (_, p), value in zip(model.named_parameters(), values):
        p.data = value
    return model


def _architecture(data: dict[str, Any], where: str) -> type[Module]:
    """The module class of the file's architecture, its counts checked (ints, not 2.0)
    and its size bounded by the parameters the file lists, before anything is built."""
    config = data["architecture"]
    if not isinstance(config, dict):
        raise ValueError(f"{where}: 'architecture' must be an object, got {_shown(config)}")
    kind = config.get("kind")
    cls = Module.registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"{where}: unknown module kind {_shown(kind)}; known: {sorted(Module.registry)}"
        )
    try:
        size = cls.config_size(config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: invalid architecture {_shown(config)}: {error}") from None
    # A corrupt width like 10**9 must not build a huge model. (A small mismatch is
    # left to the name check, which says which names differ.)
    listed = len(data["parameters"])
    if size > 2 * listed + 1000:
        count = f"{size:,}" if size < 10**15 else "more than 10^15"
        raise ValueError(f"{where}: invalid architecture {_shown(config)}: it has {count} "
                         f"parameters but the file lists {listed}")
    return cls


def _read(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """Parse and check the envelope of a model file; ValueError if it is not one."""
    where = f"loading {os.fspath(path)!r}"
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, Integral) or max_bytes < 1:
        raise TypeError(f"max_bytes must be a positive int, got {max_bytes!r}")
    too_big = (f"{where}: the file is larger than max_bytes={max_bytes:,}; if it is a model "
               f"you trust, pass a larger max_bytes")
    if os.stat(path).st_size > max_bytes:  # before reading a byte
        raise ValueError(too_big)
    with open(path, "rb") as f:
        raw = f.read(max_bytes + 1)  # bounded, even if the file grows or is not a regular file
    if len(raw) > max_bytes:
        raise ValueError(too_big)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not a text (JSON) file") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          parse_float=_parse_float, object_pairs_hook=_no_duplicates)
    except _Refused as error:
        raise ValueError(f"{where}: {error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{where}: not a model file: its JSON is nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"{where}: not a chainrule model file (format tag {_shown(found)}, "
            f"expected {FORMAT!r})"
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: bad format version {_shown(version)}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where}: file format version {version} is newer than this chainrule "
            f"understands ({FORMAT_VERSION}); upgrade chainrule"
        )
    unknown = [key for key in data if key not in FILE_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown top-level key(s) {_few(unknown)}; a model file "
                         f"holds only {', '.join(FILE_KEYS)}")
    for key in ("architecture", "parameters"):
        if key not in data:
            raise ValueError(f"{where}: the file has no {key!r} entry")
    if not isinstance(data["parameters"], dict):
        raise ValueError(f"{where}: 'parameters' must be an object of name -> number")
    return data


class _Refused(ValueError):
    """A literal the parser refuses (NaN, a 5000-digit integer, 1e999, a duplicate key)."""


def _reject_constant(name: str) -> None:
    raise _Refused(f"{name} is not allowed in a model file (JSON has no NaN or infinity)")


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise _Refused(f"an integer literal of {digits} digits (at most {MAX_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e999, which float() reads as inf
        raise _Refused(f"the number {reprlib.repr(text)} is beyond the float range")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):  # json.loads would keep the last one silently
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {reprlib.repr(key)} appears twice in one object")
            seen.add(key)
    return data


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel = 3


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: a hostile file must not make a huge error message."""
    return _SHORT.repr(value)


def _inputs(module: Module, x: Any) -> list[Value]:
    """Check one sample's inputs for ``module`` and wrap numbers as leaves ``x1, x2, ...``."""
    where = _title(module)
    if isinstance(x, (str, bytes, Value, Real)) or not hasattr(x, "__iter__"):
        raise TypeError(
            f"{where} expects a sequence of inputs (a list of numbers or Values), got "
            f"{type(x).__name__} {x!r}; wrap a single input in a list: model([x])"
        )
    xs = list(x)
    nin = module.nin()
    if nin is not None and len(xs) != nin:
        raise ValueError(
            f"{where} expected {nin} inputs, got {len(xs)}: pass one number or Value per "
            f"input feature of {module!r}"
        )
    out = []
    for j, v in enumerate(xs, start=1):
        if isinstance(v, Value):
            out.append(v)
        elif isinstance(v, Real) and not isinstance(v, bool) or _is_scalar_array(v):
            out.append(Value(float(v), label=f"x{j}"))
        else:
            hint = (
                "; call the model on one sample at a time: [model(x) for x in X]"
                if hasattr(v, "__iter__") and not isinstance(v, str)
                else ""
            )
            raise TypeError(
                f"{where}: input {j} must be a number or a Value, got "
                f"{type(v).__name__} {v!r}{hint}"
            )
    return out


def _title(module: Module) -> str:
    """How messages name a module: "MLP", "Layer 2", "Layer 2, neuron 1", "Dropout"."""
    if module.kind == "mlp" or not module.name:
        return type(module).__name__
    return module.name[0].upper() + module.name[1:]


def _is_scalar_array(v: Any) -> bool:
    # A 0-d numpy array / tensor of real numbers (no numpy import needed).
    dtype = getattr(v, "dtype", None)
    return getattr(v, "ndim", None) == 0 and getattr(dtype, "kind", "f") in "fiu"


def _few(names: Sequence[Any], limit: int = 6) -> str:
    plain = [isinstance(n, str) and n.isprintable() and 0 < len(n) <= 40 for n in names]
    shown = ", ".join(n if ok else _shown(n) for n, ok in zip(names[:limit], plain))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)} ({shown}{more})"


def _config_diff(theirs: Any, ours: Any) -> str:
    """Say in words how two architecture dicts differ."""
    if not isinstance(theirs, dict):
        return f"the file's architecture is {_shown(theirs)}, this model's is {ours!r}"
    parts = []
    for key in list(ours) + [k for k in theirs if k not in ours]:
        if theirs.get(key, "<absent>") != ours.get(key, "<absent>"):
            parts.append(f"{key}: file {_shown(theirs.get(key, '<absent>'))}, "
                         f"model {ours.get(key, '<absent>')!r}")
    return "; ".join(parts)


def _a(noun: str) -> str:
    """``noun`` with its article, as it is read aloud: "a Layer", "an MLP"."""
    # an acronym is read letter by letter: "an MLP", "an RNN"
    vowel_sound = noun[0] in "AEIOU" or (noun.isupper() and noun[0] in "FHLMNRSX")
    return f"{'an' if vowel_sound else 'a'} {noun}"

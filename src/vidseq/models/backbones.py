"""Per-frame CNNs: image (H, W, C) → feature vector. From scratch, or Keras applications with weights."""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
from keras import layers

from vidseq.errors import VidseqError


def convnet(
    frame_shape: tuple[int, int, int], width: float = 1.0, momentum: float = 0.9
) -> keras.Model:
    """The keras-video-generators article's ConvNet: 4 blocks of two 3×3 convs + BatchNorm, GlobalMaxPool."""
    x = inputs = keras.Input(frame_shape)
    for i, filters in enumerate((64, 128, 256, 512)):
        for _ in range(2):
            x = layers.Conv2D(scaled(filters, width), 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization(momentum=momentum)(x)
        if i < 3:
            x = layers.MaxPooling2D()(x)
    return keras.Model(inputs, layers.GlobalMaxPooling2D()(x), name="convnet")


def lrcn_stack(frame_shape: tuple[int, int, int], width: float = 1.0) -> keras.Model:
    """The LRCN article's conv stack: 32 7×7/2, 32 3×3, pool, 2×64, pool, 2×128, pool, 2×256, pool, Flatten."""
    x = inputs = keras.Input(frame_shape)
    x = layers.Conv2D(scaled(32, width), 7, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(
        scaled(32, width), 3, padding="same", activation="relu", kernel_initializer="he_normal"
    )(x)
    x = layers.MaxPooling2D()(x)
    for filters in (64, 128, 256):
        for _ in range(2):
            x = layers.Conv2D(scaled(filters, width), 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    return keras.Model(inputs, layers.Flatten()(x), name="lrcn_stack")


def vgg16(
    frame_shape: tuple[int, int, int], weights: str | None = "imagenet", trainable: bool = False
) -> keras.Model:
    """VGG16 without top + GlobalAveragePooling2D (the Keras-docs seed); frozen unless `trainable`."""
    base = _application(keras.applications.VGG16, frame_shape, weights)
    base.trainable = trainable
    return keras.Model(base.input, layers.GlobalAveragePooling2D()(base.output), name="vgg16")


def mobilenet(
    frame_shape: tuple[int, int, int],
    weights: str | None = "imagenet",
    trainable_layers: int = 9,
    version: int = 1,
    alpha: float = 1.0,
) -> keras.Model:
    """MobileNet v1 (or v2) without top + GlobalMaxPool2D; only the last `trainable_layers` layers train."""
    factory = keras.applications.MobileNet if version == 1 else keras.applications.MobileNetV2
    base = _application(factory, frame_shape, weights, alpha=alpha)
    cut = len(base.layers) - trainable_layers
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= cut
    return keras.Model(
        base.input, layers.GlobalMaxPooling2D()(base.output), name=f"mobilenet_v{version}"
    )


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights: $KERAS_HOME/models or ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def _application(factory, frame_shape, weights, **kwargs) -> keras.Model:
    """Build a keras.applications model with weights None, 'imagenet' or a local file path."""
    if weights not in (None, "imagenet") and not Path(str(weights)).is_file():
        raise VidseqError(
            f"weights file {weights} does not exist; give a path to a weights file, 'imagenet' or None."
        )
    try:
        return factory(include_top=False, weights=weights, input_shape=tuple(frame_shape), **kwargs)
    except ValueError as e:
        raise VidseqError(
            f"{factory.__name__} cannot take frames shaped {tuple(frame_shape)}: {e}"
        ) from None
    except Exception as e:  # keras raises a bare Exception when a download fails
        url = re.search(r"https?://\S+?\.h5", str(e))
        if weights != "imagenet" or not url:
            raise
        name = url.group(0).rsplit("/", 1)[-1]
        raise VidseqError(
            f"could not download the ImageNet weights {name} for {factory.__name__} (no network?); "
            f"place that file in {keras_cache_dir()}/ and run again, or use weights=None or a local weights file."
        ) from None


def scaled(filters: int, width: float) -> int:
    """`filters` times `width`, at least 4."""
    return max(4, int(round(filters * width)))

"""Networks that see the whole clip at once, the non-recurrent baselines: a small 3D CNN (C3D-style,
or R(2+1)D-style factorised) and a ConvLSTM2D stack. Each maps (frames, H, W, C) → a feature vector."""

from __future__ import annotations

import keras
from keras import layers

from vidseq.models.backbones import scaled


def c3d(
    clip_shape: tuple[int, int, int, int], width: float = 1.0, factorised: bool = False
) -> keras.Model:
    """Four blocks of 3×3×3 convs (or 1×3×3 spatial then 3×1×1 temporal, R(2+1)D) + BatchNorm + pooling;
    the first pool keeps time, as in C3D; global average pooling at the end."""
    x = inputs = keras.Input(clip_shape)
    for i, filters in enumerate((32, 64, 128, 256)):
        n = scaled(filters, width)
        if factorised:
            x = layers.Conv3D(n, (1, 3, 3), padding="same", activation="relu")(x)
            x = layers.Conv3D(n, (3, 1, 1), padding="same", activation="relu")(x)
        else:
            x = layers.Conv3D(n, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
        if i < 3:
            x = layers.MaxPooling3D((1 if i == 0 or x.shape[1] < 2 else 2, 2, 2))(x)
    return keras.Model(inputs, layers.GlobalAveragePooling3D()(x), name="c3d")


def convlstm(clip_shape: tuple[int, int, int, int], width: float = 1.0) -> keras.Model:
    """A strided per-frame conv to a quarter of the resolution, then two ConvLSTM2D layers
    (the second returns its last state) with BatchNorm, global max pooling."""
    x = inputs = keras.Input(clip_shape)
    x = layers.Conv3D(
        scaled(32, width), (1, 5, 5), strides=(1, 2, 2), padding="same", activation="relu"
    )(x)
    x = layers.MaxPooling3D((1, 2, 2))(x)
    x = layers.ConvLSTM2D(scaled(64, width), 3, padding="same", return_sequences=True)(x)
    x = layers.MaxPooling3D((1, 2, 2))(layers.BatchNormalization()(x))
    x = layers.ConvLSTM2D(scaled(128, width), 3, padding="same")(x)
    return keras.Model(
        inputs, layers.GlobalMaxPooling2D()(layers.BatchNormalization()(x)), name="convlstm"
    )

"""Temporal heads over per-frame features (batch, frames, features) → (batch, features), and the dense head.

Every head is a function `(x, units, dropout, **options) → tensor`, built from Keras layers so
models stay serializable, and registered by name in models.registry. "mean" is not a head: it
keeps per-frame features and averages the per-frame predictions (the single-frame baseline).
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers, ops

from vidseq.errors import VidseqError


def recurrent(x, units: int, dropout: float = 0.0, cell: str = "gru", bidirectional: bool = False):
    """An LSTM or GRU over time (its last state); both directions concatenated when `bidirectional`."""
    rnn = {"lstm": layers.LSTM, "gru": layers.GRU}[cell](units, dropout=dropout)
    return layers.Bidirectional(rnn)(x) if bidirectional else rnn(x)


def attention_pooling(x, units: int, dropout: float = 0.0):
    """Attention pooling: a small MLP scores each frame, softmax over time weights the frames' features."""
    scores = layers.Dense(1)(layers.Dense(units, activation="tanh")(x))
    weights = layers.Softmax(axis=1, name="frame_attention")(scores)
    pooled = layers.Flatten()(layers.Dot(axes=1)([weights, x]))
    return layers.Dropout(dropout)(pooled) if dropout else pooled


def transformer(
    x, units: int, dropout: float = 0.0, blocks: int = 2, heads: int = 4, pooling: str = "cls"
):
    """A small pre-norm Transformer encoder: features projected to `units`, learned positions,
    `blocks` self-attention + MLP blocks, then the class token ("cls") or the mean over time ("mean")."""
    if pooling not in ("cls", "mean"):
        raise VidseqError(f"transformer pooling {pooling!r} is unknown; use 'cls' or 'mean'.")
    x = PositionEmbedding(class_token=pooling == "cls")(layers.Dense(units)(x))
    for _ in range(blocks):
        h = layers.LayerNormalization()(x)
        x = x + layers.MultiHeadAttention(heads, max(1, units // heads), dropout=dropout)(h, h)
        h = layers.LayerNormalization()(x)
        h = layers.Dense(units, activation="gelu")(layers.Dense(2 * units, activation="gelu")(h))
        x = x + (layers.Dropout(dropout)(h) if dropout else h)
    x = layers.LayerNormalization()(x)
    if pooling == "cls":
        return layers.Flatten()(layers.Cropping1D((0, x.shape[1] - 1))(x))
    return layers.GlobalAveragePooling1D()(x)


def average_pooling(x, units: int, dropout: float = 0.0):
    """Temporal average pooling of the features (the TSN segmental consensus before the head)."""
    pooled = layers.GlobalAveragePooling1D()(x)
    return layers.Dropout(dropout)(pooled) if dropout else pooled


def motion_pooling(x, units: int, dropout: float = 0.0):
    """The frames' average features beside the average of their absolute change from one frame to
    the next: what the clip shows and how much it moves, in the backbone's feature space. On frozen
    ImageNet features of surv_fight it beat a GRU, attention and plain averaging (docs/results.md)."""
    if x.shape[1] is not None and x.shape[1] < 2:
        raise VidseqError(
            f"the motion head compares consecutive frames: it needs at least 2. Received: frames={x.shape[1]}"
        )
    moved = layers.GlobalAveragePooling1D()(FrameChange()(x))
    pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), moved])
    return layers.Dropout(dropout)(pooled) if dropout else pooled


def lstm(x, units: int, dropout: float = 0.0):
    """An LSTM over time (its last state)."""
    return recurrent(x, units, dropout, "lstm")


def gru(x, units: int, dropout: float = 0.0):
    """A GRU over time (its last state)."""
    return recurrent(x, units, dropout, "gru")


def bilstm(x, units: int, dropout: float = 0.0):
    """A bidirectional LSTM (both last states concatenated)."""
    return recurrent(x, units, dropout, "lstm", bidirectional=True)


def bigru(x, units: int, dropout: float = 0.0):
    """A bidirectional GRU (both last states concatenated)."""
    return recurrent(x, units, dropout, "gru", bidirectional=True)


@keras.saving.register_keras_serializable(package="vidseq")
class FrameChange(layers.Layer):
    """|x[t+1] − x[t]| along time: (batch, frames, features) → (batch, frames − 1, features)."""

    def call(self, x):
        return ops.abs(x[:, 1:] - x[:, :-1])

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], steps, *input_shape[2:])


@keras.saving.register_keras_serializable(package="vidseq")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector per time step; with `class_token`, first prepends a learned token."""

    def __init__(self, class_token: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.class_token = class_token

    def build(self, input_shape):
        steps, dim = input_shape[1] + int(self.class_token), input_shape[2]
        self.positions = self.add_weight(
            shape=(steps, dim), initializer=keras.initializers.RandomNormal(stddev=0.02)
        )
        if self.class_token:
            self.token = self.add_weight(shape=(1, 1, dim), initializer="zeros")

    def call(self, x):
        if self.class_token:
            token = ops.broadcast_to(
                ops.cast(self.token, x.dtype), (ops.shape(x)[0], 1, x.shape[2])
            )
            x = ops.concatenate([token, x], axis=1)
        return x + ops.cast(self.positions, x.dtype)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] + int(self.class_token)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "class_token": self.class_token}


def dense_head(
    x,
    sizes: Sequence[int],
    dropout: float,
    num_classes: int,
    name: str = "predictions",
    dropout_last: bool = False,
):
    """ReLU layers of `sizes` with dropout after each but the last (after the last too with
    `dropout_last`), then softmax. Works on (batch, features) and on (batch, frames, features),
    where it acts per frame."""
    for i, size in enumerate(sizes):
        x = layers.Dense(size, activation="relu")(x)
        if dropout and (i < len(sizes) - 1 or dropout_last):
            x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name=name)(x)

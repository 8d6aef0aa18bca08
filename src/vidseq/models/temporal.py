"""Temporal layers over per-frame features, and the dense decision head."""

from __future__ import annotations

from typing import Sequence

from keras import layers

TEMPORAL = ("lstm", "gru", "mean")


def temporal_layer(kind: str, units: int, dropout: float = 0.0) -> layers.Layer:
    """(batch, frames, features) → (batch, units) with an LSTM or GRU."""
    if kind == "lstm":
        return layers.LSTM(units, dropout=dropout)
    if kind == "gru":
        return layers.GRU(units, dropout=dropout)
    raise ValueError(f"temporal layer {kind!r} is unknown; use one of {TEMPORAL}")


def dense_head(x, sizes: Sequence[int], dropout: float, num_classes: int, dropout_last: bool = False,
               name: str = "predictions"):
    """ReLU layers of `sizes` (dropout after each but the last unless `dropout_last`), then softmax.

    Works on (batch, features) and on (batch, frames, features), where it acts per frame.
    """
    for i, size in enumerate(sizes):
        x = layers.Dense(size, activation="relu")(x)
        if dropout and (i < len(sizes) - 1 or dropout_last):
            x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name=name)(x)

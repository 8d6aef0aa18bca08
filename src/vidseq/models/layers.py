"""Layers the zoo needs beyond Keras: the frame encoder and input preprocessing (both serializable)."""

from __future__ import annotations

import keras
from keras import ops

FRAME_MODES = ("fold", "loop")
PREPROCESS_STYLES = ("unit", "tf", "caffe", "lite")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="vidseq")
class FrameEncoder(keras.layers.Wrapper):
    """Applies one per-frame model to every frame of a (batch, frames, ...) tensor: one set of weights.

    mode="fold" reshapes (B, T, ...) to (B·T, ...) and calls the model once; mode="loop" calls it
    once per frame (what keras.layers.TimeDistributed does). Both compute the same function.
    """

    def __init__(self, layer: keras.layers.Layer, mode: str = "fold", **kwargs):
        super().__init__(layer, **kwargs)
        if mode not in FRAME_MODES:
            raise ValueError(f"FrameEncoder mode {mode!r} is unknown; use one of {FRAME_MODES}.")
        self.mode = mode

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None,) + tuple(input_shape[2:]))
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def call(self, inputs, training=None):
        if self.mode == "loop":
            return ops.stack(
                [self.layer(inputs[:, t], training=training) for t in range(inputs.shape[1])],
                axis=1,
            )
        shape = ops.shape(inputs)
        flat = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        out = self.layer(flat, training=training)
        return ops.reshape(out, (shape[0], shape[1]) + tuple(out.shape[1:]))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="vidseq")
class Preprocess(keras.layers.Layer):
    """Maps [0, 1] RGB pixels to what a backbone was trained on: 'unit' (as is), 'tf' ([-1, 1]),
    'caffe' (0..255 BGR minus the ImageNet mean), 'lite' ((0..255 − 127) / 128, EfficientNet-Lite)."""

    def __init__(self, style: str = "unit", **kwargs):
        super().__init__(**kwargs)
        if style not in PREPROCESS_STYLES:
            raise ValueError(
                f"Preprocess style {style!r} is unknown; use one of {', '.join(PREPROCESS_STYLES)}."
            )
        self.style = style

    def call(self, x):
        if self.style == "tf":
            return x * 2.0 - 1.0
        if self.style == "lite":
            return (x * 255.0 - 127.0) / 128.0
        if self.style == "caffe":
            return ops.flip(x, axis=-1) * 255.0 - ops.convert_to_tensor(
                _CAFFE_MEAN_BGR, dtype=x.dtype
            )
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "style": self.style}

"""A portable clone of a model for export: the same function and weights, built from ops that every
exporter and runtime has.

Rewrites, each exact up to float rounding:
- LSTM / GRU / ConvLSTM2D (also inside Bidirectional): `unroll=True` and no cuDNN kernel, so the
  graph has no while loop (TFLite needs none of its Flex ops) and no `CudnnRNNV3` even when TF sees
  a GPU; a fixed number of frames makes unrolling possible.
- MaxPooling3D with a window equal to its stride (what the zoo uses): a 2-D max pool per frame,
  then a maximum over each time window (TFLite has no 3-D max pool).
- The exact GELU `0.5·x·erfc(-x/√2)` of Dense layers: written with `erf` (tf2onnx has no `Erfc`).
"""

from __future__ import annotations

import math

import keras
from keras import ops

RECURRENT = frozenset({"LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})
CUDNN = frozenset(
    {"LSTM", "GRU"}
)  # the layers with a cuDNN kernel (`use_cudnn`, not in their config)


@keras.saving.register_keras_serializable(package="vidseq")
def gelu_erf(x):
    """The exact GELU, 0.5·x·(1 + erf(x/√2))."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


@keras.saving.register_keras_serializable(package="vidseq")
class FrameMaxPooling3D(keras.layers.Layer):
    """MaxPooling3D (valid padding, stride = window) as a per-frame 2-D max pool and a max over time."""

    def __init__(self, pool_size=(2, 2, 2), **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("strides", "padding", "data_format")}
        super().__init__(**kwargs)
        self.pool_size = tuple(int(p) for p in pool_size)

    def call(self, x):
        t, h, w, c = x.shape[1:]
        pt, ph, pw = self.pool_size
        y = ops.max_pool(ops.reshape(x, (-1, h, w, c)), (ph, pw), strides=(ph, pw), padding="valid")
        y = ops.reshape(y, (-1, t) + tuple(y.shape[1:]))
        if pt == 1:
            return y
        steps = t // pt
        return ops.max(ops.stack([y[:, k : steps * pt : pt] for k in range(pt)], axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        b, t, h, w, c = input_shape
        pt, ph, pw = self.pool_size
        return (b, t // pt, h // ph, w // pw, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


def portable_clone(model: keras.Model) -> keras.Model:
    """A clone of `model` with the rewrites above and its weights, called once (exporters need that)."""
    clone = type(model).from_config(_rewrite(model.get_config()))
    clone.set_weights(model.get_weights())
    clone(
        keras.tree.map_structure(lambda t: ops.zeros((1, *t.shape[1:]), t.dtype), clone.input),
        training=False,
    )
    return clone


def _rewrite(node):
    """The config tree with every rewritable layer config rewritten (a new tree; the input is kept)."""
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _rewrite(v) for k, v in node.items()}
    name, cfg = node.get("class_name"), node.get("config")
    if not isinstance(cfg, dict):
        return node
    if name in RECURRENT:
        node["config"] = {**cfg, "unroll": True, **({"use_cudnn": False} if name in CUDNN else {})}
    elif name == "MaxPooling3D" and _pool_is_tiling(cfg):
        node.update(
            class_name="FrameMaxPooling3D",
            module=__name__,
            registered_name="vidseq>FrameMaxPooling3D",
            config={**cfg, "pool_size": list(cfg["pool_size"])},
        )
    elif cfg.get("activation") == "gelu":
        node["config"] = {**cfg, "activation": keras.saving.serialize_keras_object(gelu_erf)}
    return node


def _pool_is_tiling(cfg: dict) -> bool:
    """Whether a MaxPooling3D config tiles its input: valid padding, channels last, stride = window."""
    strides = cfg.get("strides") or cfg["pool_size"]
    return (
        cfg.get("padding", "valid") == "valid"
        and cfg.get("data_format", "channels_last") == "channels_last"
        and tuple(strides) == tuple(cfg["pool_size"])
    )

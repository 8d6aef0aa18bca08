"""The model zoo's registry: named specs (backbone × temporal layer × head) and `build_model`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Callable

import keras
from keras import layers

from vidseq.errors import VidseqError
from vidseq.models.backbones import BACKBONES, PREPROCESS
from vidseq.models.layers import FrameEncoder, Preprocess
from vidseq.data.motion import channels
from vidseq.models.temporal import dense_head, temporal_layer


@dataclass(frozen=True)
class Spec:
    """A zoo entry. Every field can be overridden by a keyword of `build_model`."""

    backbone: str
    temporal: str  # lstm | gru | mean (average per-frame predictions: the single-frame baseline)
    units: int = 64
    head: tuple[int, ...] = (1024, 512, 128, 64)
    dropout: float = 0.5
    feature_dropout: float = 0.0
    temporal_dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    backbone_options: dict = field(default_factory=dict)
    streams: tuple[str, ...] = ("rgb",)  # dataset modalities = the model's named inputs
    fusion: str = "late"  # several streams: "late" (mean of each stream's softmax) or "concat" (features)
    description: str = ""


_ZOO: dict[str, Spec] = {}
_OPTIMIZERS: dict[str, Callable[[float], keras.optimizers.Optimizer]] = {
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "nadam": lambda lr: keras.optimizers.Nadam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
    "sgd": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
}


def register(name: str, spec: Spec) -> None:
    """Add (or replace) a zoo entry."""
    _ZOO[name] = spec


def list_models() -> list[str]:
    """Names in the zoo, sorted."""
    return sorted(_ZOO)


def get_spec(name: str) -> Spec:
    """The spec of a zoo entry, or a clear error naming the choices."""
    if name not in _ZOO:
        raise VidseqError(f"model {name!r} is not in the zoo; choose one of: {', '.join(list_models())}.")
    return _ZOO[name]


def build_model(
    name: str,
    input_shape: tuple[int, int, int, int],
    num_classes: int,
    frame_mode: str = "fold",
    channels_first: bool = False,
    compile: bool = True,
    jit_compile: bool | str = "auto",
    **options,
) -> keras.Model:
    """Build (and compile) zoo entry `name` for clips shaped `input_shape` = (frames, H, W, C).

    With `channels_first=True`, `input_shape` is the seed's (frames, channels, rows, cols) and the
    model transposes. `frame_mode` "fold" (one CNN call on all frames; measured faster for training
    on TensorFlow and JAX, see README) or "loop" (one call per frame, like TimeDistributed).
    `options` override Spec fields (units, head, optimizer, learning_rate, …) or
    go to the backbone (width, weights, trainable, trainable_layers, version, …).
    """
    spec = get_spec(name)
    spec_keys = {f.name for f in fields(Spec)} - {"backbone_options", "description"}
    overrides = {k: v for k, v in options.items() if k in spec_keys}
    backbone_options = {**spec.backbone_options, **{k: v for k, v in options.items() if k not in spec_keys}}
    spec = replace(spec, **overrides)
    if len(input_shape) != 4 or num_classes < 2:
        raise VidseqError(f"input_shape must be (frames, H, W, C) and num_classes >= 2 (got {input_shape}, {num_classes}).")
    if len(spec.streams) == 1:
        clip = keras.Input(tuple(input_shape), name="clip")
        x = layers.Permute((1, 3, 4, 2))(clip) if channels_first else clip
        features = _stream(x, spec, backbone_options, frame_mode, name)
        model = keras.Model(clip, _decide(features, spec, num_classes), name=name)
    elif channels_first:
        raise VidseqError(f"model {name!r} has several input streams; give them channels-last (channels_first=False).")
    else:
        model = _multi_stream(name, spec, tuple(input_shape), num_classes, backbone_options, frame_mode)
    if compile:
        compile_model(model, spec.optimizer, spec.learning_rate, jit_compile)
    return model


def _stream(x, spec: Spec, backbone_options: dict, frame_mode: str, name: str, suffix: str = ""):
    """Per-frame CNN (shared over frames) → temporal layer; (batch, frames, features) for temporal "mean"."""
    frame_shape = tuple(x.shape[2:])
    try:
        cnn = BACKBONES[spec.backbone](frame_shape, **backbone_options)
    except TypeError as e:
        raise VidseqError(f"model {name!r} got an unknown option: {e}.") from None
    per_frame = keras.Sequential([keras.Input(frame_shape), Preprocess(PREPROCESS[spec.backbone]), cnn],
                                 name="frame_cnn" + suffix)
    x = FrameEncoder(per_frame, mode=frame_mode, name="frames" + suffix)(x)
    if spec.feature_dropout:
        x = layers.Dropout(spec.feature_dropout)(x)
    if spec.temporal == "mean":
        return x
    return temporal_layer(spec.temporal, spec.units, spec.temporal_dropout)(x)


def _decide(features, spec: Spec, num_classes: int, suffix: str = ""):
    """Dense head → softmax; for temporal "mean", per frame and then averaged over frames."""
    out = dense_head(features, spec.head, spec.dropout, num_classes, name="predictions" + suffix)
    return layers.GlobalAveragePooling1D(name="average_frames" + suffix)(out) if spec.temporal == "mean" else out


def _multi_stream(name: str, spec: Spec, input_shape: tuple, num_classes: int, backbone_options: dict,
                  frame_mode: str) -> keras.Model:
    """One branch per stream (input named after its modality), fused late or by concatenation."""
    if spec.fusion not in ("late", "concat") or spec.temporal == "mean":
        raise VidseqError(f"fusion={spec.fusion!r}: use 'late' or 'concat' with an LSTM or GRU temporal layer.")
    inputs = {m: keras.Input(input_shape[:3] + (channels(m, input_shape[3]),), name=m) for m in spec.streams}
    branches = {m: _stream(x, spec, backbone_options, frame_mode, name, f"_{m}") for m, x in inputs.items()}
    if spec.fusion == "concat":
        outputs = _decide(layers.Concatenate()(list(branches.values())), spec, num_classes)
    else:
        outputs = layers.Average(name="late_fusion")([_decide(f, spec, num_classes, f"_{m}") for m, f in branches.items()])
    return keras.Model(inputs, outputs, name=name)


def compile_model(model: keras.Model, optimizer: str, learning_rate: float, jit_compile: bool | str = "auto") -> None:
    """Compile with categorical cross-entropy, accuracy and (with more than two classes) top-2 accuracy."""
    if optimizer not in _OPTIMIZERS:
        raise VidseqError(f"optimizer {optimizer!r} is unknown; use one of {', '.join(_OPTIMIZERS)}.")
    metrics = ["categorical_accuracy"]
    if model.output_shape[-1] > 2:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(2, name="top2"))
    model.compile(optimizer=_OPTIMIZERS[optimizer](learning_rate), loss="categorical_crossentropy",
                  metrics=metrics, jit_compile=jit_compile)

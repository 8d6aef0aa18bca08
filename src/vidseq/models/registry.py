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
from vidseq.models.clipnets import CLIP_NETS
from vidseq.models.temporal import TEMPORAL_OPTIONS, dense_head, temporal_head


@dataclass(frozen=True)
class Spec:
    """A zoo entry. Every field can be overridden by a keyword of `build_model`."""

    backbone: str
    temporal: str  # a temporal head (temporal.TEMPORAL), "mean" (average per-frame predictions), "none" (clip nets)
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
    `options` override Spec fields (temporal, units, head, optimizer, learning_rate, …), go to the
    transformer head (blocks, heads, pooling) or to the backbone (width, weights, trainable, …).

    A single-stream model with a per-frame CNN is clip → `frames` (FrameEncoder) → `head` (a
    nested model on the (frames, features) sequence), so the head can train on cached features.
    """
    spec, temporal_options, backbone_options = _route(get_spec(name), options)
    if len(input_shape) != 4 or num_classes < 2:
        raise VidseqError(f"input_shape must be (frames, H, W, C) and num_classes >= 2 (got {input_shape}, {num_classes}).")
    try:
        if len(spec.streams) > 1:
            if channels_first:
                raise VidseqError(f"model {name!r} has several input streams; give them channels-last (channels_first=False).")
            model = _multi_stream(name, spec, tuple(input_shape), num_classes, backbone_options, temporal_options, frame_mode)
        else:
            clip = keras.Input(tuple(input_shape), name="clip")
            x = layers.Permute((1, 3, 4, 2))(clip) if channels_first else clip
            if spec.backbone in CLIP_NETS:
                if spec.temporal != "none":
                    raise VidseqError(f"model {name!r} sees the whole clip at once; it takes no temporal head (temporal=none).")
                outputs = _decide(CLIP_NETS[spec.backbone](tuple(x.shape[1:]), **backbone_options)(x), spec, num_classes)
            else:
                frames = _frame_features(x, spec, backbone_options, frame_mode)
                outputs = head_model(tuple(frames.shape[1:]), spec, num_classes, temporal_options)(frames)
            model = keras.Model(clip, outputs, name=name)
    except TypeError as e:
        raise VidseqError(f"model {name!r} got an unknown option: {e}.") from None
    except ValueError as e:
        raise VidseqError(f"model {name!r}: {e}") from None
    if compile:
        compile_model(model, spec.optimizer, spec.learning_rate, jit_compile)
    return model


def head_model(feature_shape: tuple[int, int], spec: Spec, num_classes: int, temporal_options: dict) -> keras.Model:
    """The part after the frame CNN: (frames, features) → temporal head → dense head → softmax."""
    features = keras.Input(feature_shape, name="features")
    return keras.Model(features, _decide(_temporal(features, spec, temporal_options), spec, num_classes), name="head")


def _route(spec: Spec, options: dict) -> tuple[Spec, dict, dict]:
    """Split build_model's options into Spec overrides, transformer options and backbone options."""
    spec_keys = {f.name for f in fields(Spec)} - {"backbone_options", "description"}
    spec = replace(spec, **{k: v for k, v in options.items() if k in spec_keys})
    temporal_options = {k: v for k, v in options.items() if k in TEMPORAL_OPTIONS}
    rest = {k: v for k, v in options.items() if k not in spec_keys and k not in TEMPORAL_OPTIONS}
    return spec, temporal_options, {**spec.backbone_options, **rest}


def _frame_features(x, spec: Spec, backbone_options: dict, frame_mode: str, suffix: str = ""):
    """The per-frame CNN (one set of weights for every frame): (batch, frames, features)."""
    frame_shape = tuple(x.shape[2:])
    cnn = BACKBONES[spec.backbone](frame_shape, **backbone_options)
    per_frame = keras.Sequential([keras.Input(frame_shape), Preprocess(PREPROCESS[spec.backbone]), cnn],
                                 name="frame_cnn" + suffix)
    return FrameEncoder(per_frame, mode=frame_mode, name="frames" + suffix)(x)


def _temporal(x, spec: Spec, temporal_options: dict):
    """Feature dropout, then the temporal head; "mean" keeps (batch, frames, features)."""
    if spec.feature_dropout:
        x = layers.Dropout(spec.feature_dropout)(x)
    if spec.temporal == "mean":
        return x
    return temporal_head(spec.temporal, x, spec.units, spec.temporal_dropout, **temporal_options)


def _decide(features, spec: Spec, num_classes: int, suffix: str = ""):
    """Dense head → softmax; for temporal "mean", per frame and then averaged over frames."""
    out = dense_head(features, spec.head, spec.dropout, num_classes, name="predictions" + suffix)
    return layers.GlobalAveragePooling1D(name="average_frames" + suffix)(out) if spec.temporal == "mean" else out


def _multi_stream(name: str, spec: Spec, input_shape: tuple, num_classes: int, backbone_options: dict,
                  temporal_options: dict, frame_mode: str) -> keras.Model:
    """One branch per stream (input named after its modality), fused late or by concatenation."""
    if spec.fusion not in ("late", "concat") or spec.temporal == "mean" or spec.backbone in CLIP_NETS:
        raise VidseqError(f"fusion={spec.fusion!r}: use 'late' or 'concat' with a per-frame CNN and a temporal head.")
    inputs = {m: keras.Input(input_shape[:3] + (channels(m, input_shape[3]),), name=m) for m in spec.streams}
    branches = {m: _temporal(_frame_features(x, spec, backbone_options, frame_mode, f"_{m}"), spec, temporal_options)
                for m, x in inputs.items()}
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

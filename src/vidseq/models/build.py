"""build_model: a zoo entry (backbone × temporal head × dense head) as a compiled Keras model."""

from __future__ import annotations

import inspect
from dataclasses import fields, replace

import keras
from keras import layers

from vidseq.data.motion import channels
from vidseq.errors import VidseqError
from vidseq.models import zoo  # noqa: F401  (registers the named models)
from vidseq.models.layers import FRAME_MODES, FrameEncoder, Preprocess
from vidseq.models.registry import (
    NOT_HEADS,
    TEMPORAL_HEADS,
    Spec,
    backbone,
    check_optimizer,
    get_spec,
    temporal_head,
)
from vidseq.models.temporal import dense_head

_OPTIMIZERS = {
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "nadam": lambda lr: keras.optimizers.Nadam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
    "sgd": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
}


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

    A single-stream model with a per-frame CNN is clip → `frames` (FrameEncoder) → `head` (a
    nested model on the (frames, features) sequence), so the head can train on cached features.

    Args:
        name: a zoo entry (`vidseq.list_models()`).
        input_shape: (frames, H, W, C); with `channels_first=True` the seed's (frames, C, H, W),
            which the model transposes.
        num_classes: outputs of the softmax (at least 2).
        frame_mode: "fold" (one CNN call on all frames; measured faster for training on
            TensorFlow and JAX, see docs/performance.md) or "loop" (one call per frame, like
            TimeDistributed). Both compute the same function.
        compile: compile with categorical cross-entropy and the entry's optimizer.
        jit_compile: Keras' `jit_compile` ("auto", True or False).
        **options: Spec fields (temporal, units, head, optimizer, learning_rate, …), options of
            the temporal head (e.g. blocks, heads, pooling) or of the backbone (width, weights,
            trainable, …); an unknown option is an error naming it.
    """
    spec, temporal_options, backbone_options = _route(name, get_spec(name), options)
    if len(input_shape) != 4 or num_classes < 2:
        raise VidseqError(
            f"input_shape must be (frames, H, W, C) and num_classes >= 2 (got {input_shape}, {num_classes})."
        )
    if frame_mode not in FRAME_MODES:
        raise VidseqError(
            f"frame_mode must be one of {', '.join(FRAME_MODES)}. Received: frame_mode={frame_mode!r}"
        )
    net = backbone(spec.backbone)
    if len(spec.streams) > 1:
        if channels_first:
            raise VidseqError(
                f"model {name!r} has several input streams; give them channels-last (channels_first=False)."
            )
        model = _multi_stream(
            name,
            spec,
            tuple(input_shape),
            num_classes,
            backbone_options,
            temporal_options,
            frame_mode,
        )
    else:
        clip = keras.Input(_stream_shape(input_shape, spec.streams[0], channels_first), name="clip")
        x = layers.Permute((1, 3, 4, 2))(clip) if channels_first else clip
        if not net.per_frame:
            if spec.temporal != "none":
                raise VidseqError(
                    f"model {name!r} sees the whole clip at once; it takes no temporal head (temporal=none)."
                )
            outputs = _decide(
                net.build()(tuple(x.shape[1:]), **backbone_options)(x), spec, num_classes
            )
        else:
            frames = _frame_features(x, spec, backbone_options, frame_mode)
            outputs = head_model(tuple(frames.shape[1:]), spec, num_classes, temporal_options)(
                frames
            )
        model = keras.Model(clip, outputs, name=name)
    if compile:
        compile_model(model, spec.optimizer, spec.learning_rate, jit_compile)
    return model


def _stream_shape(input_shape: tuple[int, ...], stream: str, channels_first: bool) -> tuple:
    """`input_shape` with the channels of `stream` (its C counts the RGB or gray channels)."""
    shape = list(input_shape)
    axis = 1 if channels_first else 3
    shape[axis] = channels(stream, shape[axis])
    return tuple(shape)


def head_model(
    feature_shape: tuple[int, int], spec: Spec, num_classes: int, temporal_options: dict
) -> keras.Model:
    """The part after the frame CNN: (frames, features) → temporal head → dense head → softmax."""
    features = keras.Input(feature_shape, name="features")
    return keras.Model(
        features,
        _decide(_temporal(features, spec, temporal_options), spec, num_classes),
        name="head",
    )


def compile_model(
    model: keras.Model, optimizer: str, learning_rate: float, jit_compile: bool | str = "auto"
) -> None:
    """Compile with categorical cross-entropy, accuracy and (with more than two classes) top-2 accuracy."""
    metrics = ["categorical_accuracy"]
    if model.output_shape[-1] > 2:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(2, name="top2"))
    model.compile(
        optimizer=_OPTIMIZERS[check_optimizer(optimizer)](learning_rate),
        loss="categorical_crossentropy",
        metrics=metrics,
        jit_compile=jit_compile,
    )


def _route(name: str, spec: Spec, options: dict) -> tuple[Spec, dict, dict]:
    """Split build_model's options into Spec overrides, temporal head options and backbone options,
    each checked against what its receiver takes."""
    spec_keys = {f.name for f in fields(Spec)} - {"backbone_options", "description", "size"}
    spec = replace(spec, **{k: v for k, v in options.items() if k in spec_keys})
    check_optimizer(spec.optimizer)
    rest = {k: v for k, v in options.items() if k not in spec_keys}
    head_keys = set()
    if spec.temporal not in NOT_HEADS:
        head_keys = set(temporal_head(spec.temporal).options)
    temporal_options = {k: v for k, v in rest.items() if k in head_keys}
    backbone_options = {
        **spec.backbone_options,
        **{k: v for k, v in rest.items() if k not in head_keys},
    }
    accepted = inspect.signature(backbone(spec.backbone).build()).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    unknown = [k for k in backbone_options if k not in accepted and not takes_any]
    if unknown:
        owners = sorted(h for h, head in TEMPORAL_HEADS.items() if set(unknown) & set(head.options))
        if owners:
            raise VidseqError(
                f"options {sorted(unknown)} do not apply to the {spec.temporal!r} head; "
                f"they are options of the {', '.join(owners)} head only."
            )
        raise VidseqError(
            f"model {name!r} got an unknown option {unknown[0]!r}; it takes Spec fields "
            f"({', '.join(sorted(spec_keys))}), options of its temporal head and of its backbone "
            f"({', '.join(p for p in accepted if p not in ('frame_shape', 'clip_shape'))})."
        )
    return spec, temporal_options, backbone_options


def frame_encoder(
    name: str,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    weights: str | None = "imagenet",
    **options,
) -> keras.Model:
    """Backbone `name` as a Keras model from [0, 1] frames to its per-frame (pooled) features,
    its input scaling included: what every vidseq model applies to each frame.

    Args:
        name: a registered backbone, e.g. "efficientnet-lite0" (1280 features).
        input_shape: (H, W, 3) of the frames.
        weights: "imagenet" (offline for EfficientNet-Lite), a local weights file, or None.
        **options: the backbone's own options (e.g. trainable_blocks).
    """
    net = backbone(name)
    if "weights" in inspect.signature(net.build()).parameters:
        options["weights"] = weights
    elif weights is not None:
        raise VidseqError(f"backbone {name!r} has no pretrained weights; use weights=None.")
    return per_frame_cnn(name, tuple(input_shape), name.replace("-", "_") + "_encoder", **options)


def per_frame_cnn(
    name: str, frame_shape: tuple[int, int, int], model_name: str = "frame_cnn", **options
) -> keras.Model:
    """The backbone's input scaling, then backbone `name` built with `options`, as one model."""
    net = backbone(name)
    cnn = net.build()(tuple(frame_shape), **options)
    return keras.Sequential(
        [keras.Input(tuple(frame_shape)), Preprocess(net.preprocess), cnn], name=model_name
    )


def _frame_features(x, spec: Spec, backbone_options: dict, frame_mode: str, suffix: str = ""):
    """The per-frame CNN (one set of weights for every frame): (batch, frames, features)."""
    per_frame = per_frame_cnn(
        spec.backbone, tuple(x.shape[2:]), "frame_cnn" + suffix, **backbone_options
    )
    return FrameEncoder(per_frame, mode=frame_mode, name="frames" + suffix)(x)


def _temporal(x, spec: Spec, temporal_options: dict):
    """Feature dropout, then the temporal head; "mean" keeps (batch, frames, features)."""
    if spec.feature_dropout:
        x = layers.Dropout(spec.feature_dropout)(x)
    if spec.temporal == "mean":
        return x
    return temporal_head(spec.temporal).build()(
        x, spec.units, spec.temporal_dropout, **temporal_options
    )


def _decide(features, spec: Spec, num_classes: int, suffix: str = ""):
    """Dense head → softmax; for temporal "mean", per frame and then averaged over frames."""
    out = dense_head(
        features, spec.head, spec.dropout, num_classes, "predictions" + suffix, spec.dropout_last
    )
    return (
        layers.GlobalAveragePooling1D(name="average_frames" + suffix)(out)
        if spec.temporal == "mean"
        else out
    )


def _multi_stream(
    name: str,
    spec: Spec,
    input_shape: tuple,
    num_classes: int,
    backbone_options: dict,
    temporal_options: dict,
    frame_mode: str,
) -> keras.Model:
    """One branch per stream (input named after its modality), fused late or by concatenation."""
    if (
        spec.fusion not in ("late", "concat")
        or spec.temporal == "mean"
        or not backbone(spec.backbone).per_frame
    ):
        raise VidseqError(
            f"fusion={spec.fusion!r}: use 'late' or 'concat' with a per-frame CNN and a temporal head."
        )
    inputs = {
        m: keras.Input(_stream_shape(input_shape, m, channels_first=False), name=m)
        for m in spec.streams
    }
    branches = {
        m: _temporal(
            _frame_features(x, spec, backbone_options, frame_mode, f"_{m}"), spec, temporal_options
        )
        for m, x in inputs.items()
    }
    if spec.fusion == "concat":
        outputs = _decide(layers.Concatenate()(list(branches.values())), spec, num_classes)
    else:
        outputs = layers.Average(name="late_fusion")(
            [_decide(f, spec, num_classes, f"_{m}") for m, f in branches.items()]
        )
    return keras.Model(inputs, outputs, name=name)

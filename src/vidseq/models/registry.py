"""The model zoo's registries, free of Keras so that names can be listed and checked cheaply: named
specs (backbone × temporal head × dense head), backbones and temporal heads.

A built-in entry names its builder as "module:function", imported when a model is built; entries
registered by users may be the callables themselves.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Callable

from vidseq.errors import VidseqError


@dataclass(frozen=True)
class Spec:
    """A zoo entry. Every field can be overridden by a keyword of `build_model`."""

    backbone: str
    temporal: str  # a registered temporal head, "mean" (average per-frame predictions), "none" (clip nets)
    units: int = 64
    head: tuple[int, ...] = (1024, 512, 128, 64)
    dropout: float = 0.5
    dropout_last: bool = False  # dropout after the head's last dense layer too
    feature_dropout: float = 0.0
    temporal_dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    backbone_options: dict = field(default_factory=dict)
    streams: tuple[str, ...] = ("rgb",)  # dataset modalities = the model's named inputs
    fusion: str = (
        "late"  # several streams: "late" (mean of each stream's softmax) or "concat" (features)
    )
    size: str | None = None  # the frame size `vidseq train` uses for video unless told (None: 112)
    description: str = ""


@dataclass(frozen=True)
class Backbone:
    """A registered network: `factory(shape, **options)` → keras.Model; `preprocess` maps [0, 1]
    pixels to its input ("unit", "tf", "caffe"); `per_frame` False for networks that see a whole clip."""

    factory: Callable | str
    preprocess: str = "unit"
    per_frame: bool = True
    options: dict = field(default_factory=dict)  # fixed keywords of the factory (e.g. a variant)

    def build(self) -> Callable:
        """The factory (imported when given as "module:function") with its fixed keywords."""
        factory = _resolve(self.factory)
        return functools.partial(factory, **self.options) if self.options else factory


@dataclass(frozen=True)
class TemporalHead:
    """A registered head `fn(x, units, dropout, **options)` over (batch, frames, features); `options`
    are the extra keywords it takes."""

    fn: Callable | str
    options: tuple[str, ...] = ()

    def build(self) -> Callable:
        """The head function, imported when given as "module:function"."""
        return _resolve(self.fn)


_ZOO: dict[str, Spec] = {}
BACKBONES: dict[str, Backbone] = {
    "convnet": Backbone("vidseq.models.backbones:convnet"),
    "lrcn": Backbone("vidseq.models.backbones:lrcn_stack"),
    "vgg16": Backbone("vidseq.models.backbones:vgg16", "caffe"),
    "mobilenet": Backbone("vidseq.models.backbones:mobilenet", "tf"),
    "c3d": Backbone("vidseq.models.clipnets:c3d", per_frame=False),
    "convlstm": Backbone("vidseq.models.clipnets:convlstm", per_frame=False),
    **{
        f"efficientnet-lite{v}": Backbone(
            "vidseq.models.efficientnet:efficientnet_lite", options={"variant": v}
        )
        for v in (0, 1, 2)
    },  # scales its input inside its own model
}
TEMPORAL_HEADS: dict[str, TemporalHead] = {
    "lstm": TemporalHead("vidseq.models.temporal:lstm"),
    "gru": TemporalHead("vidseq.models.temporal:gru"),
    "bilstm": TemporalHead("vidseq.models.temporal:bilstm"),
    "bigru": TemporalHead("vidseq.models.temporal:bigru"),
    "attention": TemporalHead("vidseq.models.temporal:attention_pooling"),
    "transformer": TemporalHead(
        "vidseq.models.temporal:transformer", ("blocks", "heads", "pooling")
    ),
    "avgpool": TemporalHead("vidseq.models.temporal:average_pooling"),
    "motion": TemporalHead("vidseq.models.temporal:motion_pooling"),
}
NOT_HEADS = (
    "mean",
    "none",
)  # temporal values that are no head: per-frame averaging, whole-clip networks
OPTIMIZERS = ("adam", "nadam", "sgd", "rmsprop")


def register(name: str, spec: Spec) -> None:
    """Add (or replace) a zoo entry."""
    _ZOO[name] = spec


def register_backbone(
    name: str, factory: Callable, preprocess: str = "unit", per_frame: bool = True
) -> None:
    """Make a network usable as `backbone=name` (in any zoo entry, `--model-option backbone=name`)."""
    BACKBONES[name] = Backbone(factory, preprocess, per_frame)


def register_temporal(name: str, fn: Callable, options: tuple[str, ...] = ()) -> None:
    """Make a temporal head usable as `temporal=name`."""
    TEMPORAL_HEADS[name] = TemporalHead(fn, tuple(options))


def list_models() -> list[str]:
    """Names in the zoo, sorted."""
    return sorted(_ZOO)


def get_spec(name: str) -> Spec:
    """The spec of a zoo entry, or a clear error naming the choices."""
    if name not in _ZOO:
        raise VidseqError(
            f"model {name!r} is not in the zoo; choose one of: {', '.join(list_models())}."
        )
    return _ZOO[name]


def backbone(name: str) -> Backbone:
    """A registered backbone, or a clear error naming the choices."""
    if name not in BACKBONES:
        raise VidseqError(f"backbone {name!r} is unknown; use one of {', '.join(BACKBONES)}.")
    return BACKBONES[name]


def temporal_head(name: str) -> TemporalHead:
    """A registered temporal head, or a clear error naming the choices."""
    if name not in TEMPORAL_HEADS:
        raise VidseqError(
            f"temporal head {name!r} is unknown; use one of {', '.join(TEMPORAL_HEADS)} or mean."
        )
    return TEMPORAL_HEADS[name]


def check_optimizer(name: str) -> str:
    """`name` if it is a known optimizer, else a clear error."""
    if name not in OPTIMIZERS:
        raise VidseqError(f"optimizer {name!r} is unknown; use one of {', '.join(OPTIMIZERS)}.")
    return name


def _resolve(target: Callable | str) -> Callable:
    """A callable, or the function named by "module:function"."""
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)

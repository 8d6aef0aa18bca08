"""RunConfig: every setting of a training run, checked once, read from / written to YAML.

Each field carries its help text and allowed values; the `vidseq train` options are generated
from them (cli.py), and the allowed values come from the registries (samplers, augmentation
presets, the zoo), so a sampler or model a user registers is reachable from the CLI and YAML.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from vidseq.data.audio import AUDIO_NORMS
from vidseq.data.augment import AUDIO_PRESETS, PRESETS
from vidseq.data.cache import DEFAULT_CACHE
from vidseq.data.mixup import check_mixup
from vidseq.data.samples import DEFAULT_POOL
from vidseq.data.sampling import SAMPLERS
from vidseq.data.transforms import FIT_MODES, parse_size
from vidseq.errors import VidseqError
from vidseq.models import zoo  # noqa: F401  (registers the named models)
from vidseq.models.registry import OPTIMIZERS, get_spec, list_models

SWITCHES = ("auto", "on", "off")


def augment_choices() -> tuple[str, ...]:
    """Augmentation presets for video and audio, and "none"."""
    return (*PRESETS, *AUDIO_PRESETS, "none")


def _zoo_entry(name: str | None) -> None:
    """None (the default model) or a zoo entry; else the zoo's error naming the choices."""
    if name is not None:
        get_spec(name)


def setting(
    default,
    help: str,
    choices: Callable[[], typing.Iterable[str]] | None = None,
    flag: str | None = None,
    check: Callable[[typing.Any], typing.Any] | None = None,
):
    """A RunConfig field with its help text, its allowed values (a function, read when checked; or
    `check`, which raises a VidseqError for a value not allowed) and CLI flag."""
    kind = {"default_factory": default} if callable(default) else {"default": default}
    return field(**kind, metadata={"help": help, "choices": choices, "flag": flag, "check": check})


@dataclass
class RunConfig:
    """The resolved settings of `vidseq train`; stored as RUN/config.yaml."""

    data: str = setting("", "folder (one sub-folder per class), glob with {classname}, or CSV")
    model: str | None = setting(
        None,
        "zoo entry (`vidseq models`; default: the pretrained default for video when "
        "its weights are installed, else convnet-gru)",
        list_models,
        check=_zoo_entry,
    )
    model_options: dict = setting(dict, "zoo options such as width, units, head, weights, temporal")
    frames: int = setting(8, "frames per clip")
    size: str | None = setting(None, "frame size S or HxW (default 112; audio 40x24)")
    resize: str = setting("crop", "fit frames by centre crop or letterbox", lambda: FIT_MODES)
    gray: bool = setting(False, "grayscale frames")
    sampler: str = setting("uniform", "how clips pick frames", lambda: tuple(SAMPLERS))
    stride: float | None = setting(
        None, "sliding sampler: window step (frames, or seconds with --sequence-time)"
    )
    sequence_time: float | None = setting(None, "sliding sampler: window length in seconds")
    batch: int = setting(8, "clips per batch")
    epochs: int = setting(10, "training epochs")
    optimizer: str | None = setting(None, "optimizer (default: the model's)", lambda: OPTIMIZERS)
    learning_rate: float | None = setting(None, "learning rate (default: the model's)", flag="--lr")
    val: float = setting(0.2, "validation fraction")
    test: float = setting(0.2, "test fraction")
    groups: str | None = setting(
        None, "groups (source videos) kept in one split part: a file,group CSV or a regex"
    )
    folds: int | None = setting(None, "grouped k-fold: number of folds (with --fold)")
    fold: int | None = setting(None, "grouped k-fold: the test fold (with --folds)")
    train_list: str | None = setting(None, "fixed split: file of training paths relative to DATA")
    test_list: str | None = setting(None, "fixed split: file of test paths relative to DATA")
    seed: int = setting(0, "seed of the split, the sample order and every random draw")
    workers: int = setting(2, "loader threads")
    cache: str = setting(
        DEFAULT_CACHE,
        "memory for decoded frames: a size (512MB) or auto (a quarter of free memory)",
    )
    cache_dir: str | None = setting(
        None, "disk store for decoded frames and features, reused by later runs"
    )
    pool: int = setting(
        DEFAULT_POOL, "training draws each segment's frame from this many fixed candidates (0: any)"
    )
    augment: str | None = setting(
        None, "clip-consistent augmentation preset (default none; audio: audio)", augment_choices
    )
    mixup: float | None = setting(None, "mixup alpha, 0 for none (default 0; audio 0.3)")
    audio_norm: str | None = setting(
        None, "audio: band or peak normalisation (default band)", lambda: AUDIO_NORMS
    )
    class_weights: bool = setting(False, "weight classes by inverse frequency")
    early_stopping: int | None = setting(
        None, "stop after this many epochs without a better validation loss"
    )
    jit_compile: str = setting("auto", "XLA compilation", lambda: SWITCHES)
    features: str = setting(
        "auto", "frozen per-frame CNN: train the head on cached features", lambda: SWITCHES
    )
    max_bad: float = setting(0.1, "fraction of files that may fail before training stops")

    def __post_init__(self):
        self.check()

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "RunConfig":
        """Checked construction: unknown keys and wrong types are errors naming the key."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            if key not in known:
                raise VidseqError(
                    f"{source}: unknown setting {key!r}; known settings: {', '.join(known)}."
                )
            if not _type_ok(value, hints[key]):
                raise VidseqError(
                    f"{source}: {key} = {value!r} should be {_type_name(hints[key])}."
                )
        return cls(**data)

    @property
    def spectrogram_norm(self) -> str:
        """The audio normalisation of this (resolved) run: a run saved before the setting existed used "peak"."""
        return self.audio_norm or "peak"

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RunConfig":
        """Read a YAML file written by `save` or by hand."""
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise VidseqError(f"cannot read config {path}: {e}") from None
        if not isinstance(data, dict):
            raise VidseqError(f"config {path} must be a mapping of setting: value.")
        return cls.from_dict(data, str(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write as YAML."""
        from vidseq.io import write_atomic

        write_atomic(path, yaml.safe_dump(dataclasses.asdict(self), sort_keys=False).encode())

    def check(self) -> None:
        """Allowed values (from each field's choices) and checks that types alone cannot express."""
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata["choices"]
            if f.metadata["check"] is not None:
                f.metadata["check"](value)
            elif choices is not None and value is not None and value not in tuple(choices()):
                raise VidseqError(
                    f"{f.name} must be {_either(tuple(choices()))}. Received: {f.name}={value!r}"
                )
        if self.size is not None:
            parse_size(self.size)
        if self.frames < 1:
            raise VidseqError(f"frames must be at least 1. Received: frames={self.frames}")
        if self.batch < 1 or self.epochs < 1:
            raise VidseqError(
                f"batch and epochs must be at least 1. Received: batch={self.batch}, epochs={self.epochs}"
            )
        if (self.folds is None) != (self.fold is None):
            raise VidseqError("give --folds and --fold together (e.g. --folds 5 --fold 0).")
        if self.mixup is not None:
            check_mixup(self.mixup)
        if (self.train_list is None) != (self.test_list is None):
            raise VidseqError("give --train-list and --test-list together.")


def _either(choices: tuple) -> str:
    """ "a or b", or "one of a, b, c"."""
    names = [str(c) for c in choices]
    return " or ".join(names) if len(names) <= 2 else f"one of {', '.join(names)}"


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _type_name(hint) -> str:
    return " or ".join(getattr(h, "__name__", str(h)) for h in (typing.get_args(hint) or (hint,)))

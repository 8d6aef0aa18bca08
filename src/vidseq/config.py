"""RunConfig: every setting of a training run, checked, and read from / written to YAML."""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vidseq.data.audio import check_norm
from vidseq.data.augment import check_mixup
from vidseq.errors import VidseqError


@dataclass
class RunConfig:
    """The resolved settings of `vidseq train`; stored as RUN/config.yaml."""

    data: str = ""
    model: str = "convnet-gru"
    model_options: dict = field(default_factory=dict)
    frames: int = 8
    size: str | None = None  # None: 112 for video, 40x24 (mel bands x columns) for audio
    resize: str = "crop"
    gray: bool = False
    sampler: str = "uniform"
    stride: float | None = None
    sequence_time: float | None = None
    batch: int = 8
    epochs: int = 10
    optimizer: str | None = None
    learning_rate: float | None = None
    val: float = 0.2
    test: float = 0.2
    groups: str | None = None
    folds: int | None = None
    fold: int | None = None
    train_list: str | None = None
    test_list: str | None = None
    seed: int = 0
    workers: int = 2
    cache: str = "auto"
    cache_dir: str | None = None
    pool: int = 3
    augment: str | None = None
    mixup: float | None = None  # None: 0 (none) for video, the audio default for audio
    audio_norm: str | None = None  # audio: "band" (the default) or "peak"; absent in runs saved before it existed
    class_weights: bool = False
    early_stopping: int | None = None
    jit_compile: str = "auto"
    features: str = "auto"  # frozen per-frame CNN: train the head on cached features (auto | on | off)
    max_bad: float = 0.1

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "RunConfig":
        """Checked construction: unknown keys and wrong types are errors naming the key."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            if key not in known:
                raise VidseqError(f"{source}: unknown setting {key!r}; known settings: {', '.join(known)}.")
            if not _type_ok(value, hints[key]):
                raise VidseqError(f"{source}: {key} = {value!r} should be {_type_name(hints[key])}.")
        cfg = cls(**data)
        cfg.check()
        return cfg

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
        """Value checks that types alone cannot express."""
        if self.frames < 1:
            raise VidseqError(f"frames must be at least 1 (got {self.frames}).")
        if self.batch < 1 or self.epochs < 1:
            raise VidseqError(f"batch and epochs must be at least 1 (got {self.batch}, {self.epochs}).")
        if self.sampler not in ("uniform", "sliding"):
            raise VidseqError(f"sampler must be uniform or sliding (got {self.sampler!r}).")
        if (self.folds is None) != (self.fold is None):
            raise VidseqError("give --folds and --fold together (e.g. --folds 5 --fold 0).")
        if self.features not in ("auto", "on", "off"):
            raise VidseqError(f"features must be auto, on or off (got {self.features!r}).")
        if self.audio_norm is not None:
            check_norm(self.audio_norm)
        if self.mixup is not None:
            check_mixup(self.mixup)
        if (self.train_list is None) != (self.test_list is None):
            raise VidseqError("give --train-list and --test-list together.")


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

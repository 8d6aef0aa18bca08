"""preprocess.json: what a deployment must do to a video (or sound) to feed an exported model as vidseq does.

docs/export.md describes every field.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import keras

from vidseq.config import RunConfig
from vidseq.data import audio
from vidseq.data.decode import RESAMPLING
from vidseq.data.motion import MOTION
from vidseq.data.transforms import parse_size
from vidseq.run.datasets import modalities
from vidseq.run.rundir import RunDir

LAYOUT = "batch, frames, height, width, channels"


def input_contract(model: keras.Model) -> dict:
    """The model's inputs: names, shapes (None = any batch), dtype, range and layout."""
    return {
        "names": [t.name for t in model.inputs],
        "shapes": {t.name: list(t.shape) for t in model.inputs},
        "dtype": "float32",
        "range": [0.0, 1.0],
        "scale": "uint8 value / 255",
        "layout": LAYOUT,
    }


def preprocess_manifest(cfg: RunConfig, run: str | os.PathLike, model: keras.Model) -> dict:
    """The preprocessing of run `run` (its config `cfg`, its model `model`) as plain JSON data."""
    height, width = parse_size(cfg.size or "112")
    streams = list(modalities(cfg))
    is_audio = _is_audio(Path(run))
    return {
        "model": cfg.model,
        "media": "audio" if is_audio else "video",
        "frames": cfg.frames,
        "size": [height, width],
        "resize": cfg.resize,
        "resampling": RESAMPLING,
        "gray": cfg.gray,
        "sampler": _sampler(cfg),
        "streams": streams,
        "extra_frame": bool(MOTION & set(streams)),
        "audio": _audio(cfg, height, width) if is_audio else None,
        "input": input_contract(model),
        "output": {"kind": "class probabilities (softmax)", "classes": "classes.json"},
    }


def _sampler(cfg: RunConfig) -> dict:
    """The evaluation sampler and its options (the frames a deployment picks from a video)."""
    if cfg.sampler == "sliding":
        return {"name": "sliding", "stride": cfg.stride, "sequence_time": cfg.sequence_time}
    return {"name": cfg.sampler}


def _audio(cfg: RunConfig, mels: int, columns: int) -> dict:
    """How a sound becomes `frames` spectrogram windows (the defaults of vidseq.data.audio)."""
    image = _defaults(audio.spectrogram_image, "duration", "sample_rate", "offset")
    return {
        **image,
        **_defaults(audio.log_mel, "win_ms", "hop_ms"),
        "mels": mels,
        "window_columns": columns,
        "audio_norm": cfg.spectrogram_norm,
        "dynamic_range_db": audio.DYNAMIC_RANGE_DB,
        "band_range_db": audio.BAND_RANGE_DB,
        "sound_db": audio.SOUND_DB,
    }


def _defaults(fn, *names: str) -> dict:
    """The default values of some keyword parameters of `fn`."""
    params = inspect.signature(fn).parameters
    return {name: params[name].default for name in names}


def _is_audio(run: Path) -> bool:
    """Whether the run trained on sound files (its split says so; a run without one is taken as video)."""
    rundir = RunDir(run)
    return (rundir / "split.json").is_file() and rundir.split()["train"].is_audio

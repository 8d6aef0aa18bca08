"""predict: class probabilities for new, unlabelled videos, and timelines over long ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from vidseq.config import RunConfig
from vidseq.data.catalog import MEDIA_EXTENSIONS
from vidseq.data.dataset import NO_CLIP_LEFT, ClipDataset
from vidseq.data.probe import probe
from vidseq.data.sampling import SlidingSampler
from vidseq.data.sources import open_source
from vidseq.errors import VidseqError
from vidseq.run.datasets import clip_spec, dataset_for
from vidseq.run.metrics import average_views
from vidseq.run.rundir import RunDir
from vidseq.viz import plot_timeline


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Files as given; a directory means every media file (video or audio) below it."""
    files = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files += sorted(
                str(f)
                for f in p.rglob("*")
                if f.suffix.lower() in MEDIA_EXTENSIONS and not f.name.startswith(".")
            )
        elif p.is_file():
            files.append(str(p))
        else:
            raise VidseqError(f"{p} does not exist; give video files or folders of videos.")
    if not files:
        raise VidseqError("no video files were found in the given inputs.")
    return files


def video_probabilities(
    model: keras.Model, ds: ClipDataset, verbose: int | str = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(item indices, class probabilities) per readable video of `ds`: the mean softmax of its clips."""
    probs = model.predict(ds, verbose=verbose)
    owners = ds.sample_items()
    keep = ~np.isin(owners, [i for i in range(len(ds.items)) if ds.is_quarantined(i)])
    if not keep.any():
        return np.zeros(0, np.int64), np.zeros((0, probs.shape[-1]), np.float32)
    return average_views(probs[keep], owners[keep])


def ranked(probs: np.ndarray, classes: Sequence[str], top: int = 3) -> list[dict]:
    """The `top` most probable classes of one probability vector: `[{"class", "probability"}, ...]`."""
    order = np.argsort(-probs)[:top]
    return [{"class": classes[k], "probability": float(probs[k])} for k in order]


def predict_loaded(
    cfg: RunConfig,
    model: keras.Model,
    classes: Sequence[str],
    files: Sequence[str],
    clips: int = 1,
    top: int = 3,
) -> tuple[list[dict], ClipDataset | None]:
    """`predict_files` with a loaded run: the results, and the dataset whose clips were predicted
    (None when no file gave a clip: then each result gives its file's reason)."""
    if clips < 1:
        raise VidseqError(f"clips must be at least 1. Received: clips={clips}")
    try:
        ds = dataset_for(cfg, list(files), views=clips, max_bad=1.0)
    except VidseqError as e:
        if str(e) != NO_CLIP_LEFT:
            raise
        return [{"file": f, "error": _reason(f, cfg)} for f in files], None
    ids, probs = video_probabilities(model, ds)
    by_item = dict(zip((int(i) for i in ids), probs))
    results = []
    for i, f in enumerate(files):
        if i not in by_item:
            results.append({"file": f, "error": ds.report.quarantined.get(f, "could not be read")})
        else:
            results.append({"file": f, "top": ranked(by_item[i], classes, top)})
    return results, ds


def predict_files(
    run: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    clips: int = 1,
    top: int = 3,
    unsafe: bool = False,
) -> list[dict]:
    """Per file: `{"file", "top": [{"class", "probability"}, ...]}`, or `{"file", "error"}`.

    Args:
        run: a finished run directory.
        inputs: media files, or folders searched for them.
        clips: clips per file (evenly offset, as `evaluate --clips`), their softmax averaged.
        top: how many classes to list, most probable first.
        unsafe: allow a model whose Lambda layers run code when loaded (trusted files only).
    """
    cfg, model, classes = RunDir(run).load(unsafe)
    return predict_loaded(cfg, model, classes, expand_inputs(inputs), clips, top)[0]


def timeline_loaded(
    cfg: RunConfig, model: keras.Model, file: str | os.PathLike, window: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """(window centres in seconds, class probabilities per window) of `window`-second clips slid
    over a video by half a window, with a loaded run."""
    sampler = SlidingSampler(stride=window / 2, sequence_time=window)
    ds = dataset_for(cfg, [str(file)], sampler=sampler, max_bad=0.0)
    probs = model.predict(ds, verbose=0)
    starts = sampler.starts(probe(file), cfg.frames)
    centres = np.array([starts[s.window] for s in ds.samples]) + window / 2
    return centres, probs


def _reason(path: str, cfg: RunConfig) -> str:
    """Why a file gives no clip, in the dataset's words."""
    source = open_source(path, clip_spec(cfg), None)
    return source if isinstance(source, str) else "could not be read"


def predict_timeline(
    run: str | os.PathLike,
    file: str | os.PathLike,
    out: str | os.PathLike,
    window: float = 2.0,
    unsafe: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Slide `window`-second clips (half-window stride) over a long video; plot probability vs time to `out`."""
    cfg, model, classes = RunDir(run).load(unsafe)
    centres, probs = timeline_loaded(cfg, model, file, window)
    plot_timeline(centres, probs, classes, out)
    return centres, probs

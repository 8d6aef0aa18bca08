"""predict: class probabilities for new, unlabelled videos, and timelines over long ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from vidseq.data.catalog import MEDIA_EXTENSIONS
from vidseq.data.dataset import ClipDataset
from vidseq.data.probe import probe
from vidseq.data.sampling import SlidingSampler
from vidseq.errors import VidseqError
from vidseq.evaluate import load_run
from vidseq.training import modalities
from vidseq.metrics import average_views
from vidseq.viz import plot_timeline


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Files as given; a directory means every media file (video or audio) below it."""
    files = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files += sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in MEDIA_EXTENSIONS and not f.name.startswith("."))
        elif p.is_file():
            files.append(str(p))
        else:
            raise VidseqError(f"{p} does not exist; give video files or folders of videos.")
    if not files:
        raise VidseqError("no video files were found in the given inputs.")
    return files


def predict_files(run: str | os.PathLike, inputs: Sequence[str | os.PathLike], clips: int = 1, top: int = 3,
                  unsafe: bool = False) -> list[dict]:
    """Per file: the `top` classes with probabilities (mean over `clips` clips), or the error."""
    cfg, model, classes = load_run(run, unsafe)
    files = expand_inputs(inputs)
    ds = ClipDataset(files, frames=cfg.frames, size=cfg.size, batch_size=cfg.batch, shuffle=False, views=clips,
                     resize=cfg.resize, gray=cfg.gray, cache=None, max_bad=1.0, modality=modalities(cfg),
                     audio_norm=cfg.spectrogram_norm)
    probs = model.predict(ds, verbose=0)
    owners = ds.sample_items()
    ok = ~np.isin(owners, [i for i, f in enumerate(files) if f in ds.report.quarantined])
    ids, video_probs = average_views(probs[ok], owners[ok]) if ok.any() else ([], [])
    by_item = dict(zip((int(i) for i in ids), video_probs))
    results = []
    for i, f in enumerate(files):
        if i not in by_item:
            results.append({"file": f, "error": ds.report.quarantined.get(f, "could not be read")})
            continue
        order = np.argsort(-by_item[i])[:top]
        results.append({"file": f, "top": [{"class": classes[k], "probability": float(by_item[i][k])} for k in order]})
    return results


def predict_timeline(run: str | os.PathLike, file: str | os.PathLike, out: str | os.PathLike,
                     window: float = 2.0, unsafe: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Slide `window`-second clips (half-window stride) over a long video; plot probability vs time."""
    cfg, model, classes = load_run(run, unsafe)
    sampler = SlidingSampler(stride=window / 2, sequence_time=window)
    ds = ClipDataset([str(file)], frames=cfg.frames, size=cfg.size, batch_size=cfg.batch, sampler=sampler,
                     shuffle=False, resize=cfg.resize, gray=cfg.gray, cache=None, max_bad=0.0, modality=modalities(cfg),
                     audio_norm=cfg.spectrogram_norm)
    probs = model.predict(ds, verbose=0)
    starts = sampler.starts(probe(file), cfg.frames)
    centres = np.array([starts[w] for _, w, _ in ds.samples]) + window / 2
    plot_timeline(centres, probs, classes, out)
    return centres, probs

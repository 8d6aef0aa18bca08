"""show: sampled clips of a dataset drawn as one picture (the modern `show_sample`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidseq.data.augment import augment_clip
from vidseq.data.catalog import Catalog
from vidseq.data.dataset import ClipDataset
from vidseq.viz import clip_grid


def show_clips(data: str, out: str | os.PathLike, clips: int = 6, frames: int = 8, size: str | int = 112,
               augment: str | None = None, seed: int = 0) -> Path:
    """One row per sampled clip (class as title); with `augment`, one clip drawn `clips` times augmented."""
    catalog = Catalog.open(data)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(catalog), size=min(clips, len(catalog)), replace=False)
    subset = catalog.subset([catalog.items[i] for i in sorted(picks)])
    ds = ClipDataset(subset, frames=frames, size=size, shuffle=False, cache=None, max_bad=1.0)
    loaded = [(s, ds.load(s)) for s in range(len(ds.samples)) if ds.items[ds.samples[s][0]].path not in ds.report.quarantined]
    if augment:
        s, clip = loaded[0]
        name = catalog.classes[ds.items[ds.samples[s][0]].label]
        views = [augment_clip(clip, np.random.default_rng((seed, k)), augment) for k in range(clips)]
        return clip_grid([clip] + views, [f"{name} (original)"] + [f"augmented {k + 1}" for k in range(clips)], out)
    titles = [f"{catalog.classes[ds.items[ds.samples[s][0]].label]}\n{Path(ds.items[ds.samples[s][0]].path).name}" for s, _ in loaded]
    return clip_grid([c for _, c in loaded], titles, out)

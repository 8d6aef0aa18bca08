"""show: sampled clips of a dataset drawn as one picture (the modern `show_sample`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidseq.config import RunConfig
from vidseq.data.augment import augment_clip
from vidseq.data.catalog import Catalog
from vidseq.run.datasets import dataset_for, resolve_defaults
from vidseq.viz import clip_grid


def show_clips(
    data: str,
    out: str | os.PathLike,
    clips: int = 6,
    frames: int = 8,
    size: str | int = 112,
    augment: str | None = None,
    seed: int = 0,
) -> Path:
    """One row per sampled clip (class and file as title); with `augment`, one clip drawn `clips` times augmented."""
    catalog = Catalog.open(data)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(catalog), size=min(clips, len(catalog)), replace=False)
    subset = catalog.subset([catalog.items[i] for i in sorted(picks)])
    cfg = resolve_defaults(
        RunConfig(data=str(data), frames=frames, size=str(size), seed=seed), catalog.is_audio
    )
    ds = dataset_for(cfg, subset, max_bad=1.0)
    loaded = [
        (s, ds.load(s)) for s in range(len(ds.samples)) if not ds.is_quarantined(ds.samples[s].item)
    ]
    titles = [
        (
            catalog.classes[ds.items[ds.samples[s].item].label],
            Path(ds.items[ds.samples[s].item].path).name,
        )
        for s, _ in loaded
    ]
    if augment:
        (_, clip), (name, _) = loaded[0], titles[0]
        views = [
            augment_clip(clip, np.random.default_rng((seed, k)), augment) for k in range(clips)
        ]
        return clip_grid(
            [clip] + views,
            [f"{name} (original)"] + [f"augmented {k + 1}" for k in range(clips)],
            out,
        )
    return clip_grid([c for _, c in loaded], [f"{name}\n{file}" for name, file in titles], out)

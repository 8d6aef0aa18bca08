"""keras_video.utils.show_sample, for the compat generators: one batch drawn as a picture."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidseq.viz import clip_grid


def show_sample(
    generator,
    index: int = 0,
    random: bool = False,
    row_width: int = 22,
    out: str | os.PathLike | None = None,
) -> Path:
    """Draw the clips of one batch (a random one with `random=True`), one row per clip, class as title;
    saved to `out` (default sample.png). `row_width` is accepted for the old signature."""
    if random:
        index = int(np.random.default_rng().integers(len(generator)))
    x, y = generator[index]
    pixels = np.clip(x / max(float(generator.rescale), 1e-12), 0, 255).astype(np.uint8)
    titles = [generator.classes[int(k)] for k in np.argmax(y, axis=1)]
    return clip_grid(list(pixels), titles, out or "sample.png")

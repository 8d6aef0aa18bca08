"""The sample table and frame choice: which clips a dataset has, and which frames each reads in an epoch."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vidseq.data.probe import VideoInfo
from vidseq.data.sampling import Sampler

DEFAULT_POOL = 3  # fixed candidate frames per segment for random draws: cached after a few epochs


class Sample(NamedTuple):
    """One clip of a dataset: its item (file), sampler window and view (evenly offset evaluation clip)."""

    item: int
    window: int
    view: int


def sample_table(
    infos: dict[int, VideoInfo | None], sampler: Sampler, frames: int, views: int
) -> list[Sample]:
    """Every clip of the usable items (item → probe, None for audio: one window), in item order."""
    table = []
    for item, info in infos.items():
        windows = 1 if info is None else sampler.windows(info, frames)
        table += [Sample(item, w, v) for w in range(windows) for v in range(views)]
    return table


class FrameChoice:
    """Which frames a video sample reads: the sampler's fixed positions (view `v` of `views`, evenly
    offset within the segments), or in training a random frame per segment, drawn from `pool` fixed
    candidates (0: the whole segment) by a generator seeded with (seed, epoch, sample)."""

    def __init__(
        self, sampler: Sampler, frames: int, random: bool, pool: int, views: int, seed: int
    ):
        self.sampler, self.frames, self.random, self.views, self.seed = (
            sampler,
            frames,
            random,
            views,
            seed,
        )
        self.pool = pool if hasattr(sampler, "pool") else 0

    def indices(self, info: VideoInfo | None, sample: Sample, index: int, epoch: int) -> np.ndarray:
        """The frames sample number `index` reads in `epoch` (audio, whose info is None: every window)."""
        if info is None:
            return np.arange(self.frames)
        if not self.random:
            return self.fixed(info, sample)
        rng = np.random.default_rng((self.seed, epoch, index))
        if self.pool:
            return self.sampler.pool(info, self.frames, self.pool)[
                np.arange(self.frames), rng.integers(0, self.pool, self.frames)
            ]
        return self.sampler.indices(info, self.frames, sample.window, rng=rng)

    def fixed(self, info: VideoInfo, sample: Sample) -> np.ndarray:
        """The evaluation frames of a sample: its view's evenly offset positions."""
        return self.sampler.indices(
            info, self.frames, sample.window, offset=(sample.view + 0.5) / self.views
        )

    def drawable(self, info: VideoInfo | None, sample: Sample) -> np.ndarray | None:
        """Every frame a sample can read in any epoch (sorted), or None when that is not a fixed set
        (random frames without a pool)."""
        if info is None:
            return self.indices(info, sample, 0, 0)
        if not self.random:
            return np.unique(self.fixed(info, sample))
        return np.unique(self.sampler.pool(info, self.frames, self.pool)) if self.pool else None

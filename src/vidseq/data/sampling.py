"""Samplers: which frame indices make a clip. Plain objects, registered by name."""

from __future__ import annotations

import bisect
from typing import Callable, Protocol

import numpy as np

from vidseq.data.probe import VideoInfo
from vidseq.errors import VidseqError


class Sampler(Protocol):
    """Gives `windows(info, n)` samples per video and the frame indices of each."""

    def windows(self, info: VideoInfo, n: int) -> int:
        """Number of samples (clips) this video yields."""

    def indices(
        self,
        info: VideoInfo,
        n: int,
        window: int = 0,
        rng: np.random.Generator | None = None,
        offset: float = 0.5,
    ) -> np.ndarray:
        """`n` frame indices of sample `window`; random when `rng` is given, else at `offset` in [0, 1)."""


class UniformSampler:
    """TSN segments: N equal segments, one frame each (random in training, the centre otherwise).

    A video with fewer than N frames repeats frames evenly.
    """

    name = "uniform"

    def windows(self, info: VideoInfo, n: int) -> int:
        """One sample per video."""
        return 1

    def indices(
        self,
        info: VideoInfo,
        n: int,
        window: int = 0,
        rng: np.random.Generator | None = None,
        offset: float = 0.5,
    ) -> np.ndarray:
        """Frame index of each of the `n` segments."""
        _check_n(n)
        edges = np.linspace(0, info.frames, n + 1)
        lo = np.floor(edges[:-1]).astype(np.int64)
        hi = np.maximum(lo + 1, np.floor(edges[1:]).astype(np.int64))
        if rng is not None:
            return rng.integers(lo, hi)
        return np.minimum(lo + np.floor((hi - lo) * offset).astype(np.int64), info.frames - 1)

    def pool(self, info: VideoInfo, n: int, size: int) -> np.ndarray:
        """(n, size) fixed candidate frames per segment: training draws one per row, so a cache of
        these frames keeps the sampling random without decoding again."""
        return np.stack(
            [self.indices(info, n, offset=(j + 0.5) / size) for j in range(size)], axis=1
        )


class SlidingSampler:
    """Windows of N frames advancing by `stride`; each window is one sample.

    Without `sequence_time` a window is N consecutive frames and `stride` counts frames. With
    `sequence_time` (seconds) a window spans that much time, its N frames picked by timestamp,
    and `stride` counts seconds, so videos of any frame rate give the same time span. A video
    shorter than one window gives one window with frames repeated evenly.
    """

    name = "sliding"

    def __init__(self, stride: float | None = None, sequence_time: float | None = None):
        if stride is not None and stride <= 0 or sequence_time is not None and sequence_time <= 0:
            raise VidseqError(
                f"sliding sampler needs stride > 0 and sequence_time > 0 (got {stride}, {sequence_time})."
            )
        self.stride = stride
        self.sequence_time = sequence_time

    def starts(self, info: VideoInfo, n: int) -> np.ndarray:
        """Window start positions: frame indices, or seconds when `sequence_time` is set."""
        if self.sequence_time is None:
            step = int(self.stride or n)
            return np.arange(0, max(info.frames - n, 0) + 1, max(step, 1))
        step = self.stride or self.sequence_time
        span = info.times()[-1] + 1.0 / info.fps
        return np.arange(0.0, max(span - self.sequence_time, 0.0) + 1e-9, step)

    def windows(self, info: VideoInfo, n: int) -> int:
        """Number of windows that fit (at least one)."""
        _check_n(n)
        return len(self.starts(info, n))

    def indices(
        self,
        info: VideoInfo,
        n: int,
        window: int = 0,
        rng: np.random.Generator | None = None,
        offset: float = 0.5,
    ) -> np.ndarray:
        """Frames of window `window` (rng and offset do not move a sliding window)."""
        start = self.starts(info, n)[window]
        times = info.times()
        too_short = (
            info.frames < n
            if self.sequence_time is None
            else times[-1] + 1.0 / info.fps < self.sequence_time
        )
        if too_short:
            return UniformSampler().indices(info, n)
        if self.sequence_time is None:
            return np.arange(start, start + n, dtype=np.int64)
        wanted = start + np.arange(n) * (self.sequence_time / n)
        return np.array(
            [min(bisect.bisect_right(times, t + 1e-9) - 1, info.frames - 1) for t in wanted],
            dtype=np.int64,
        )


SAMPLERS: dict[str, Callable[..., Sampler]] = {"uniform": UniformSampler, "sliding": SlidingSampler}


def register_sampler(name: str, factory: Callable[..., Sampler]) -> None:
    """Make a sampler class or factory available by name."""
    SAMPLERS[name] = factory


def get_sampler(sampler: str | Sampler, **options) -> Sampler:
    """A sampler object from a registered name (with options) or an object passed through."""
    if not isinstance(sampler, str):
        return sampler
    if sampler not in SAMPLERS:
        raise VidseqError(
            f"sampler {sampler!r} is unknown; choose one of {', '.join(sorted(SAMPLERS))}."
        )
    return SAMPLERS[sampler](**options)


def _check_n(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise VidseqError(f"frames must be a positive integer (got {n!r}).")

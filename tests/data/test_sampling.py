"""Samplers: TSN segments, sliding windows by frames or by time, registry."""

from __future__ import annotations

import numpy as np
import pytest

from vidseq import VidseqError
from vidseq.data.probe import VideoInfo
from vidseq.data.sampling import SlidingSampler, UniformSampler, get_sampler, register_sampler


def info(frames: int, fps: float = 25.0) -> VideoInfo:
    return VideoInfo(
        "v.mp4", frames, fps, frames / fps, 64, 64, "h264", frames, (0,), None, 1 / fps
    )


def test_uniform_takes_segment_centres_for_evaluation():
    assert UniformSampler().indices(info(80), 8).tolist() == [5, 15, 25, 35, 45, 55, 65, 75]


def test_uniform_random_stays_inside_each_segment_and_varies():
    s, rng = UniformSampler(), np.random.default_rng(0)
    draws = np.stack([s.indices(info(80), 8, rng=rng) for _ in range(200)])
    lo = np.arange(8) * 10
    assert ((draws >= lo) & (draws < lo + 10)).all()
    assert all(len(set(draws[:, k])) > 5 for k in range(8))


def test_uniform_offsets_give_distinct_views():
    views = [UniformSampler().indices(info(80), 4, offset=(v + 0.5) / 4).tolist() for v in range(4)]
    assert views == [[2, 22, 42, 62], [7, 27, 47, 67], [12, 32, 52, 72], [17, 37, 57, 77]]


def test_short_video_repeats_frames_evenly():
    assert UniformSampler().indices(info(3), 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert SlidingSampler().indices(info(3), 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert SlidingSampler().windows(info(3), 6) == 1


def test_sliding_windows_advance_by_the_stride():
    s = SlidingSampler(stride=4)
    assert s.windows(info(20), 8) == 4
    windows = [s.indices(info(20), 8, w).tolist() for w in range(4)]
    assert windows[0] == list(range(0, 8)) and windows[3] == list(range(12, 20))
    assert all(b[0] - a[0] == 4 for a, b in zip(windows, windows[1:]))


def test_sliding_by_time_spans_the_same_seconds_at_any_frame_rate():
    for fps in (10.0, 30.0):
        s = SlidingSampler(sequence_time=2.0, stride=1.0)
        video = info(int(6 * fps), fps)
        assert s.windows(video, 4) == 5
        first = s.indices(video, 4, 0)
        assert (first / fps).tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5])
        assert s.indices(video, 4, 2)[0] / fps == pytest.approx(2.0)


def test_registry_and_errors():
    class Every2nd:
        def windows(self, info, n):
            return 1

        def indices(self, info, n, window=0, rng=None, offset=0.5):
            return np.arange(n) * 2

    register_sampler("every2nd", Every2nd)
    assert get_sampler("every2nd").indices(info(20), 3).tolist() == [0, 2, 4]
    with pytest.raises(VidseqError, match="unknown"):
        get_sampler("nope")
    with pytest.raises(VidseqError, match="positive integer"):
        UniformSampler().indices(info(10), 0)

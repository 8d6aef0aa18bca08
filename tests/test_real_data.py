"""Real videos from ../shared/data/surv_fight (skipped when absent). `make test` runs a quick subset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import shared
from vidseq import VideoReader, probe, read_clip


def _files(step: int) -> list[tuple[str, dict]]:
    root = shared("surv_fight")
    meta = json.loads((root / "_meta" / "probe.json").read_text())
    return [(str(root / m["file"]), m) for m in meta[::step]]


def _check(path: str, meta: dict) -> None:
    info = probe(path)
    assert info.frames == meta["frames"], "frame count differs from ffprobe's"
    assert (info.width, info.height) == (meta["w"], meta["h"])
    clip = read_clip(path, frames=8, size=112)
    assert clip.shape == (8, 112, 112, 3) and clip.dtype == np.uint8
    last = VideoReader(path, size=32).read([info.frames - 1, 0])
    assert last.shape == (2, 32, 32, 3)


def test_a_sample_of_surv_fight_gives_exact_clips_and_ffprobe_counts():
    for path, meta in _files(step=15):  # 20 files
        _check(path, meta)


@pytest.mark.slow
def test_every_surv_fight_file_gives_an_exact_8_frame_clip():
    for path, meta in _files(step=1):
        _check(path, meta)


def test_fsdd_band_normalised_windows_all_hold_the_word():
    """Peak-normalised windows of a short word end in silence; band-normalised ones are spread over the word."""
    from vidseq.data.audio import spectrogram_sequence

    files = sorted(shared("fsdd").glob("*/*_theo_0.wav"))  # the ten digits of one speaker
    assert len(files) == 10
    for path in files:
        peak, band = spectrogram_sequence(path, norm="peak"), spectrogram_sequence(path)
        assert band.shape == peak.shape == (8, 40, 24, 1)
        assert peak[-1].max() == 0, f"{path.name}: the padded second should end in silence"
        assert (band.reshape(8, -1).max(axis=1) > 160).all(), (
            f"{path.name}: a band-normalised window without the word"
        )

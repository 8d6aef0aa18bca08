"""Shared fixtures: real video files written with PyAV, an isolated cache, a tiny motion dataset."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vidseq.data.synthetic import make_motion_dataset, write_video

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BITS = 8


def numbered_frames(n: int, h: int = 64, w: int = 96) -> list[np.ndarray]:
    """Frame i shows i in binary: BITS vertical stripes, white for 1, black for 0."""
    stripe = w // BITS
    frames = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        for b in range(BITS):
            if (i >> b) & 1:
                f[:, b * stripe : (b + 1) * stripe] = 255
        frames.append(f)
    return frames


def frame_number(frame: np.ndarray) -> int:
    """Inverse of numbered_frames for a decoded (unresized) frame."""
    stripe = frame.shape[1] // BITS
    return sum(
        1 << b for b in range(BITS) if frame[:, b * stripe + 2 : (b + 1) * stripe - 2].mean() > 128
    )


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Probe caches go to a temporary folder, never the user's home."""
    os.environ["VIDSEQ_CACHE"] = str(tmp_path_factory.mktemp("vidseq-cache"))


@pytest.fixture(scope="session")
def numbered_video(tmp_path_factory):
    """Factory: a numbered-frame video of `n` frames for a container/GOP/B-frame setting."""
    root = tmp_path_factory.mktemp("numbered")

    def make(
        ext: str = ".mp4", n: int = 60, gop: int = 12, bframes: int = 0, fps: float = 25
    ) -> Path:
        path = root / f"n{n}_g{gop}_b{bframes}_f{fps}{ext}"
        if not path.exists():
            write_video(path, numbered_frames(n), fps=fps, gop=gop, bframes=bframes)
        return path

    return make


@pytest.fixture(scope="session")
def motion_data(tmp_path_factory) -> Path:
    """The embedded motion dataset, tiny: 4 classes × 6 videos of 12 frames at 32×32."""
    return make_motion_dataset(tmp_path_factory.mktemp("motion"), per_class=6, frames=12, size=32)


def shared(name: str) -> Path:
    """Path of a dataset in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is not present (real-data test)")
    return path

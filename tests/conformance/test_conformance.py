"""vidseq against ffmpeg on the conformance corpus: the frame count, the displayed size and the frames.

How the oracle frame is made (see oracle.py): frame i is the i-th frame ffmpeg's full decode writes
(`-fps_mode passthrough`, rgb24), autorotated as a player shows it.
- Square pixels (all files but three): vidseq's full frames, `VideoReader(path)`, are compared
  with ffmpeg's at the displayed size, for a rotated file the turned one (portrait for 90°/270°).
- Non-square pixels (sar8_9, sar32_27, dv_ntsc): ffmpeg scales the stored frame straight to
  COMPARE_WIDTH × (the displayed aspect) with the area filter and sets SAR 1
  (`scale=W:H:flags=area,setsar=1`); vidseq is asked for that size, `VideoReader(path,
  size=(H, W), resize="crop")`, which a reader that knows the displayed aspect fills without cropping.
A frame matches when its mean absolute difference to ffmpeg's frame i is at most the spec's
tolerance (2 grey levels; 3 for 10-bit and DV's 4:1:1, see corpus.CHROMA) and smaller than to ffmpeg's frames
i-1 and i+1 wherever those differ from frame i by more than the tolerance. A file cut short (`*_cut80`)
may instead raise VideoDecodeError naming the file, in the probe or in any read, but never give a
wrong frame or a wrong count.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.conformance import corpus, oracle
from tests.conformance.conftest import Corpus, sample_indices
from vidseq import VideoDecodeError, VideoInfo, VideoReader, probe

SPECS = corpus.specs()


def _probe(spec: corpus.Spec, path: os.PathLike) -> VideoInfo | None:
    """vidseq's probe of `path`; None where a file cut short is refused with an error naming it."""
    try:
        return probe(path, cache=False)
    except VideoDecodeError as e:
        if spec.truncated and _names(e, path):
            return None
        raise


def _names(error: VideoDecodeError, path: os.PathLike) -> bool:
    """Whether `error` names the file at `path`."""
    return os.fsdecode(path) in str(error)


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_frame_count_is_ffmpegs(conformance: Corpus, spec: corpus.Spec):
    """probe(path).frames is the number of frames ffmpeg's full decode writes."""
    path, truth = conformance.path(spec), conformance.truth(spec)
    info = _probe(spec, path)
    if info is None:
        return
    if info.frames != truth.count:
        pytest.fail(
            f"{spec.id}: vidseq counts {info.frames} frames, ffmpeg decodes {truth.count} (ffprobe -count_frames: "
            f"{oracle.probed_count(path)}; the header: {info.header_frames})",
            pytrace=False,
        )


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_size_is_the_displayed_one(conformance: Corpus, spec: corpus.Spec):
    """probe(path).width/height are the size a player shows: SAR applied to the width, then rotated."""
    path, truth = conformance.path(spec), conformance.truth(spec)
    info = _probe(spec, path)
    if info is None:
        return
    if (info.width, info.height) != truth.displayed:
        pytest.fail(
            f"{spec.id}: vidseq's size is {info.width}x{info.height}, the displayed one "
            f"{truth.displayed[0]}x{truth.displayed[1]}",
            pytrace=False,
        )


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_frames_are_ffmpegs(conformance: Corpus, spec: corpus.Spec):
    """VideoReader(path).read(first, middle, last and seeded random indices) gives ffmpeg's frames at those indices."""
    path, truth = conformance.path(spec), conformance.truth(spec)
    if _probe(spec, path) is None:
        return
    indices = sample_indices(spec.name, truth.count)
    reader = VideoReader(path, size=truth.compare_at) if truth.compare_at else VideoReader(path)
    try:
        got = dict(zip(indices, reader.read(indices)))
    except VideoDecodeError as e:
        if not (spec.truncated and _names(e, path)):
            got, error = {}, e
        else:  # a file cut short: the frames it does give one at a time must be right
            got, error = _readable(reader, indices), None
    if not got and error is not None:
        pytest.fail(
            f"{spec.id}: read({indices}) of {truth.count} frames raised {error}\n  asked one at a time:\n    "
            + "\n    ".join(_one_by_one(reader, spec, truth, indices)),
            pytrace=False,
        )
    wrong = [
        line for i, frame in got.items() if (line := mismatch(truth, i, frame, spec.tolerance))
    ]
    if wrong:
        pytest.fail(
            f"{spec.id}: {len(wrong)} of {len(got)} frames are not ffmpeg's (read({indices}) of {truth.count}; "
            f"tolerance {spec.tolerance}):\n    " + "\n    ".join(wrong),
            pytrace=False,
        )


def _readable(reader: VideoReader, indices: list[int]) -> dict[int, np.ndarray]:
    """The frames at `indices` that reader gives when asked one at a time (those it refuses, naming
    the file, left out)."""
    got = {}
    for i in indices:
        try:
            got[i] = reader.read([i])[0]
        except VideoDecodeError as e:
            if not _names(e, reader.path):
                raise
    return got


def _one_by_one(
    reader: VideoReader, spec: corpus.Spec, truth: oracle.Truth, indices: list[int]
) -> list[str]:
    """What reading each index alone gives: the error, the mismatch or ok, one line each (for a failure message)."""
    lines = []
    for i in indices:
        try:
            lines.append(
                mismatch(truth, i, reader.read([i])[0], spec.tolerance) or f"frame {i}: ok"
            )
        except VideoDecodeError as e:
            lines.append(f"frame {i}: {e.reason}")
    return lines


def mismatch(truth: oracle.Truth, i: int, frame: np.ndarray, tolerance: float) -> str:
    """Why `frame` is not ffmpeg's frame i, or '' when it is."""
    want = truth.frames[i]
    if frame.shape != want.shape:
        return f"frame {i}: {frame.shape[1]}x{frame.shape[0]}, ffmpeg's is {want.shape[1]}x{want.shape[0]}"
    diff = oracle.mad(frame, want)
    near = {
        j: oracle.mad(frame, truth.frames[j])
        for j in (i - 1, i + 1)
        if j in truth.frames and oracle.mad(truth.frames[j], want) > tolerance
    }
    if diff <= tolerance and all(diff < d for d in near.values()):
        return ""
    around = "".join(f", to {j} = {d:.2f}" for j, d in near.items())
    return (
        f"frame {i}: mean |diff| to ffmpeg's {i} = {diff:.2f}{around}; {_looks_like(truth, frame)}"
    )


def _looks_like(truth: oracle.Truth, frame: np.ndarray) -> str:
    """Which of ffmpeg's frames `frame` is nearest to, compared as thumbnails."""
    diffs = np.abs(truth.thumbs - oracle.thumbnails(frame[None])[0]).mean(axis=(1, 2, 3))
    best = int(diffs.argmin())
    return f"nearest ffmpeg frame {best} (thumbnail |diff| {diffs[best]:.2f})"

"""ffmpeg as the oracle: how many frames a file has and what they look like, as a player shows them.

Frame i is the i-th frame that

    ffmpeg -i FILE -map 0:v:0 -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -

writes: decoder output order, no frame dropped or repeated. ffmpeg's default autorotation stays on,
so a file with a 90° display matrix gives upright (portrait) frames. Two additions that change no
frame's identity:
- `-vf scale=interl=-1`: an interlaced frame's 4:2:0 chroma is upsampled field by field (as PyAV's
  swscale does; ffmpeg's default mixes the fields' chroma, 2.3 grey levels off on the MPEG-2 file).
  It changes only the interlaced files' bytes.
- `-enc_time_base:v -1`: keeps the rawvideo muxer from complaining about the timestamps of
  variable-rate files (the bytes are the same).
For non-square pixels the filter is `scale=W:H:flags=area:interl=-1,setsar=1` with W:H of the
displayed aspect ratio (see `compare_size`), the size the test then asks vidseq for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np

THUMB = 8  # thumbnails are THUMB times smaller (area averages), to name the frame a wrong one looks like
COMPARE_WIDTH = 320  # non-square-pixel files are compared at this width


@dataclass(frozen=True)
class StreamFacts:
    """What ffprobe says of the first video stream."""

    container: str
    codec: str
    width: int  # as stored, before the sample aspect ratio and rotation
    height: int
    sar: Fraction
    rotation: int  # degrees of the display matrix, 0–359

    def displayed(self) -> tuple[int, int]:
        """(width, height) as a player shows it: the width scaled by the SAR (rounded), then turned."""
        w, h = round(self.width * self.sar), self.height
        return (h, w) if self.rotation % 180 == 90 else (w, h)


@dataclass(frozen=True)
class Truth:
    """ffmpeg's answer for one file."""

    count: int  # frames the full decode writes: the truth (ffprobe -count_frames is asked only to report)
    displayed: tuple[int, int]  # (width, height) a player shows
    compare_at: tuple[int, int] | None  # (height, width) to ask vidseq for; None: full frames
    frames: dict[int, np.ndarray]  # the chosen indices and their neighbours, uint8 (H, W, 3)
    thumbs: np.ndarray  # every frame as a float32 thumbnail (n, H/THUMB, W/THUMB, 3)


def stream_facts(path: str | os.PathLike) -> StreamFacts:
    """Container, codec, stored size, sample aspect ratio and rotation of the first video stream."""
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            path,
        ]
    )
    info = json.loads(out)
    s = info["streams"][0]
    sar = s.get("sample_aspect_ratio", "1:1")
    num, den = (int(x) for x in sar.split(":")) if ":" in sar else (1, 1)
    rotation = next((int(d["rotation"]) for d in s.get("side_data_list", []) if "rotation" in d), 0)
    return StreamFacts(
        info["format"]["format_name"],
        s["codec_name"],
        int(s["width"]),
        int(s["height"]),
        Fraction(num, den) if num and den else Fraction(1),
        rotation % 360,
    )


def compare_size(facts: StreamFacts) -> tuple[int, int] | None:
    """(height, width) at which to compare a file with non-square pixels, None for square ones."""
    if facts.sar == 1:
        return None
    w, h = facts.displayed()
    return round(COMPARE_WIDTH * h / w), COMPARE_WIDTH


def probed_count(path: str | os.PathLike) -> int | None:
    """Frames `ffprobe -count_frames` reads from the first video stream (None when it says none)."""
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "json",
            path,
        ]
    )
    value = json.loads(out)["streams"][0].get("nb_read_frames")
    return int(value) if value not in (None, "N/A") else None


def decode(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Every frame ffmpeg writes, uint8 (n, H, W, 3); scaled to size=(height, width) if given."""
    scale = (
        f"scale={size[1]}:{size[0]}:flags=area:interl=-1,setsar=1" if size else "scale=interl=-1"
    )
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-i",
        path,
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "-1",
        "-vf",
        scale,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=300)
    log = done.stderr.decode(errors="replace")
    found = re.search(r"Output #0.*?Video: rawvideo.*?, (\d+)x(\d+)", log, re.S)
    if not found or not done.stdout:
        raise RuntimeError(
            f"ffmpeg decoded no frame of {os.fsdecode(path)} ({done.returncode}): {log[-2000:]}"
        )
    w, h = int(found[1]), int(found[2])
    if len(done.stdout) % (w * h * 3):
        raise RuntimeError(
            f"ffmpeg wrote {len(done.stdout)} bytes for {w}x{h} frames of {os.fsdecode(path)}"
        )
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, h, w, 3)


def decoded_count(path: str | os.PathLike) -> int:
    """Frames ffmpeg's full decode writes."""
    return len(decode(path, compare_size(stream_facts(path))))


def truth(path: str | os.PathLike, pick: Callable[[int], list[int]]) -> Truth:
    """ffmpeg's count, displayed size and frames at `pick(count)` and their neighbours, for one file."""
    facts = stream_facts(path)
    at = compare_size(facts)
    frames = decode(path, at)
    n = len(frames)
    if at is None and frames.shape[2:0:-1] != facts.displayed():
        raise RuntimeError(
            f"{os.fsdecode(path)}: ffmpeg decodes {frames.shape[2]}x{frames.shape[1]} frames, "
            f"ffprobe's size, SAR and rotation give {facts.displayed()}"
        )
    near = {j for i in pick(n) for j in (i - 1, i, i + 1) if 0 <= j < n}
    return Truth(
        n, facts.displayed(), at, {j: frames[j].copy() for j in sorted(near)}, thumbnails(frames)
    )


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) frames shrunk THUMB times by area averaging, float32."""
    h, w = frames.shape[1:3]
    size = (max(1, w // THUMB), max(1, h // THUMB))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]).astype(
        np.float32
    )


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two same-shaped images, in grey levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _run(cmd: list[str | os.PathLike]) -> str:
    """stdout of `cmd`; raise with its error output when it fails."""
    done = subprocess.run(cmd, capture_output=True, timeout=300)
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(map(os.fsdecode, cmd))} failed: {done.stderr.decode(errors='replace')[-2000:]}"
        )
    return done.stdout.decode()

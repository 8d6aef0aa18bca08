"""probe: a video's real frame count, rate, displayed size and exact seek points, measured and cached.

Frame i of a video is the i-th frame ffmpeg's decoder outputs (`ffmpeg -fps_mode passthrough`),
as data.frames finds them; its size is the one a player shows (data.display).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidseq.data.display import displayed_size, mp4_rotation
from vidseq.data.frames import from_decoder, from_packets
from vidseq.data.media import LIMITS, Limits, open_video  # noqa: F401  (LIMITS, Limits: public here too)
from vidseq.errors import VideoDecodeError
from vidseq.io import cache_home, write_atomic

log = logging.getLogger("vidseq")
_PROBE_VERSION = 2
_MOV = {"mov", "mp4"}  # containers whose tkhd box holds the display matrix


@dataclass(frozen=True)
class VideoInfo:
    """What one video holds. `frames` is counted from what the file holds, never taken from the header.

    `pts` are the timestamps the decoder gives frames 0..frames-1 (None when they cannot tell the
    frames apart: such a file is read from its start). `keyframes` are the frame indices where a
    seek is exact: decoding from there gives every later frame. `decoded` says the frames were
    counted by decoding the whole file, so `pts` follow the decoder's output order, not
    necessarily time. `width` and `height` are the displayed size (sample aspect ratio and
    `rotation`, counter-clockwise degrees, applied); `coded_width`, `coded_height` the decoder's.
    """

    path: str
    frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    header_frames: int | None
    keyframes: tuple[int, ...]
    pts: tuple[int, ...] | None
    time_base: float
    rotation: int = 0
    coded_width: int = 0
    coded_height: int = 0
    decoded: bool = False

    def times(self) -> list[float]:
        """Presentation time in seconds of each frame (from timestamps when they increase, else from fps)."""
        if self.pts is None or any(b <= a for a, b in zip(self.pts, self.pts[1:])):
            return [i / self.fps for i in range(self.frames)]
        return [(p - self.pts[0]) * self.time_base for p in self.pts]


def probe(path: str | os.PathLike, cache: bool = True) -> VideoInfo:
    """Measure a video (cached on disk by path + size + mtime)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise VideoDecodeError(str(p), f"cannot be read ({e.strerror})") from None
    if st.st_size == 0:
        raise VideoDecodeError(str(p), "is empty (0 bytes)")
    key = hashlib.sha1(
        os.fsencode(f"{_PROBE_VERSION}|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}")
    ).hexdigest()
    entry = cache_home() / "probe" / f"{key}.json"
    if cache and entry.is_file():
        try:
            data = json.loads(entry.read_text())
            data["keyframes"] = tuple(data["keyframes"])
            data["pts"] = tuple(data["pts"]) if data["pts"] is not None else None
            return _within_limits(VideoInfo(**data))
        except (ValueError, TypeError, KeyError):
            log.debug("rebuilding damaged probe cache entry %s", entry)
    info = _measure(str(p))
    if cache:
        try:
            write_atomic(
                entry, json.dumps(vars(info)).encode(), sync=False
            )  # asdict deep-copies every timestamp: 1 ms a file
        except OSError as e:
            log.debug("probe cache not written (%s)", e)
    return _within_limits(info)


def _within_limits(info: VideoInfo) -> VideoInfo:
    if info.width * info.height > LIMITS.max_pixels:
        raise VideoDecodeError(
            info.path,
            f"frames of {info.width}x{info.height} exceed the limit of "
            f"{LIMITS.max_pixels} pixels (vidseq.data.probe.LIMITS.max_pixels)",
        )
    if info.duration > LIMITS.max_seconds:
        raise VideoDecodeError(
            info.path,
            f"lasts {info.duration:.0f} s, over the limit of {LIMITS.max_seconds:.0f} s "
            "(vidseq.data.probe.LIMITS.max_seconds)",
        )
    return info


def _measure(path: str) -> VideoInfo:
    try:
        with open_video(path) as container:
            if not container.streams.video:
                raise VideoDecodeError(path, "has no video stream")
            stream = container.streams.video[0]
            formats = set(container.format.name.split(","))
            ctx = stream.codec_context
            width, height, codec = ctx.width, ctx.height, ctx.name
            sar = stream.sample_aspect_ratio
            header = stream.frames or None
            rate = stream.average_rate or stream.guessed_rate
            time_base = float(stream.time_base or Fraction(1, 1))
            frames = from_packets(path, container, stream, formats)
        if frames is None:
            frames = from_decoder(path)
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"is not a readable video ({_reason(e)})") from None
    except OSError as e:
        raise VideoDecodeError(path, f"cannot be read ({e.strerror or e})") from None
    if not frames.pts:
        raise VideoDecodeError(path, "has a video stream with no frames")
    if not width or not height:
        raise VideoDecodeError(path, "has a video stream with no frame size")
    rotation = (
        frames.rotation
        if frames.rotation is not None
        else (mp4_rotation(path) if formats & _MOV else 0)
    )
    pts = (
        tuple(frames.pts)
        if None not in frames.pts and len(set(frames.pts)) == len(frames.pts)
        else None
    )
    n = len(frames.pts)
    times = pts is not None and all(b > a for a, b in zip(pts, pts[1:]))
    if times and n > 1:
        duration = (pts[-1] - pts[0]) * time_base * n / (n - 1)
    else:
        duration = n / float(rate) if rate else 0.0
    fps = n / duration if duration > 0 else float(rate or 0) or 25.0
    if header and header != n:
        log.debug("%s: header says %d frames, the file holds %d", path, header, n)
    shown_w, shown_h = displayed_size(width, height, sar, rotation)
    return VideoInfo(
        path,
        n,
        fps,
        duration,
        shown_w,
        shown_h,
        codec,
        header,
        tuple(frames.keyframes) if pts is not None else (0,),
        pts,
        time_base,
        rotation,
        width,
        height,
        frames.decoded,
    )


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).split(": '")[0]

"""How a player shows a video's frames: the display rotation of MP4/MOV files, and the displayed size.

ffmpeg and every player turn a frame by the display matrix of its track; FFmpeg exposes it to
PyAV only on decoded frames, so for MP4/MOV (where phones write it) it is read here from the
video track's `tkhd` box, which costs a few small reads instead of opening a decoder. The reader
checks the rotation of the first frame it decodes against this one.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import BinaryIO, Iterator

_CONTAINERS = {b"moov", b"trak", b"mdia"}
_MAX_BOX = 64 * 2**20  # a moov box larger than this is not read for its matrix


def mp4_rotation(path: str) -> int:
    """Counter-clockwise display rotation (0, 90, 180 or 270) of the first video track of an MP4/MOV
    file, 0 when it has none or the boxes cannot be read (a damaged file fails later, in the probe)."""
    try:
        with open(path, "rb") as f:
            for trak in _children(f, _find(f, b"moov")):
                matrix, video = None, False
                for kind, start, size in _walk(f, trak):
                    if kind == b"tkhd":
                        matrix = _tkhd_matrix(f, start, size)
                    elif kind == b"hdlr":
                        f.seek(start + 8)
                        video = f.read(4) == b"vide"
                if video and matrix:
                    return _rotation(*matrix)
    except (OSError, struct.error, ValueError):
        return 0
    return 0


def displayed_size(width: int, height: int, sar: Fraction | None, rotation: int) -> tuple[int, int]:
    """(width, height) of a coded frame as shown: stretched by its sample aspect ratio, then rotated."""
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * sar))
    return (height, width) if rotation in (90, 270) else (width, height)


def _rotation(a: float, b: float, c: float, d: float) -> int:
    """Counter-clockwise degrees of a display matrix [[a, b], [c, d]], as FFmpeg's av_display_rotation_get."""
    degrees = -math.degrees(math.atan2(b, a))
    return int(round(degrees / 90.0)) % 4 * 90 if math.hypot(a, b) > 0 else 0


def _tkhd_matrix(f: BinaryIO, start: int, size: int) -> tuple[float, float, float, float] | None:
    """a, b, c, d of a tkhd box's matrix (16.16 fixed point), or None when the box is too short."""
    f.seek(start)
    version = f.read(1)[0]
    offset = (
        start + 4 + (32 if version == 1 else 20) + 16
    )  # flags, times/ids/duration, reserved/layer/volume
    if offset + 36 > start + size:
        return None
    f.seek(offset)
    a, b, _, c, d = struct.unpack(">5i", f.read(20))
    return a / 65536, b / 65536, c / 65536, d / 65536


def _find(f: BinaryIO, kind: bytes) -> tuple[int, int]:
    """(payload start, payload size) of the first top-level box `kind`."""
    for found, start, size in _boxes(f, 0, None):
        if found == kind:
            if size > _MAX_BOX:
                raise ValueError("box too large")
            return start, size
    raise ValueError(f"no {kind!r} box")


def _children(f: BinaryIO, parent: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """(start, size) of each trak box directly inside `parent`."""
    for kind, start, size in _boxes(f, *parent):
        if kind == b"trak":
            yield start, size


def _walk(f: BinaryIO, parent: tuple[int, int]) -> Iterator[tuple[bytes, int, int]]:
    """Every box below `parent`, descending into the containers that lead to tkhd and hdlr."""
    for kind, start, size in list(_boxes(f, *parent)):
        yield kind, start, size
        if kind in _CONTAINERS:
            yield from _walk(f, (start, size))


def _boxes(f: BinaryIO, start: int, size: int | None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload size) of the boxes in [start, start + size) (to the end of file when None)."""
    position, end = start, None if size is None else start + size
    while end is None or position + 8 <= end:
        f.seek(position)
        header = f.read(8)
        if len(header) < 8:
            return
        length, kind = struct.unpack(">I4s", header)
        head = 8
        if length == 1:
            length, head = struct.unpack(">Q", f.read(8))[0], 16
        elif length == 0:
            length = (end or f.seek(0, 2)) - position
        if length < head:
            return
        yield kind, position + head, length - head
        position += length

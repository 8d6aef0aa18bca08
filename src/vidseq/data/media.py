"""Opening media with PyAV as vidseq does everywhere: non-UTF-8 names and tags, damaged packets, limits."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import av


@dataclass
class Limits:
    """What vidseq agrees to decode, so that a crafted file cannot exhaust memory or time.

    Change them on the module object: `vidseq.data.probe.LIMITS.max_pixels = 8000 * 8000`.
    """

    max_pixels: int = 7680 * 4320  # 8K
    max_seconds: float = 4 * 3600.0
    decode_seconds: float = 120.0  # per read, checked between decoded frames


LIMITS = Limits()


@contextmanager
def open_video(path: str):
    """av.open for reading (metadata that is not UTF-8 is kept, its bad bytes dropped); names that
    are not valid UTF-8 go through a Python file object."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        with open(path, "rb") as f, av.open(f, metadata_errors="ignore") as container:
            yield container
        return
    with av.open(path, metadata_errors="ignore") as container:
        yield container


def decode_packet(packet) -> list:
    """The frames a packet decodes to; a damaged packet gives none, as ffmpeg goes on past it."""
    try:
        return packet.decode()
    except av.InvalidDataError:
        return []

"""Exceptions that carry one sentence a user can act on."""

from __future__ import annotations


class VidseqError(Exception):
    """A user-facing error: the message says what is wrong and what to do (CLI exit code 2)."""


class VideoDecodeError(VidseqError):
    """A media file that cannot give exactly the requested frames."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

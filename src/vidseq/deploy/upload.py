"""Uploads: one multipart file field streamed into a server-made file, its bytes counted as they arrive."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from vidseq.errors import VidseqError

FIELD = "file"


class ServeError(VidseqError):
    """A request the server refuses: an HTTP status and one sentence for the client."""

    def __init__(self, status: int, sentence: str):
        self.status, self.sentence = status, sentence
        super().__init__(sentence)


def too_large(limit: int) -> ServeError:
    """The 413 error for a body over `limit` bytes."""
    return ServeError(
        413,
        f"the upload is larger than the server's limit of {limit / 2**20:g} MB; "
        "send a shorter or smaller file, or start the server with a larger --max-upload-mb.",
    )


@dataclass
class _Part:
    """What the parser has seen of the current part."""

    header: bytes = b""
    value: bytes = b""
    disposition: bytes = b""


class _FileWriter:
    """Parser callbacks that write the first part named FIELD with a filename into `out`."""

    def __init__(self, out: BinaryIO):
        self.out, self.part, self.filename, self.writing = out, _Part(), None, False

    def callbacks(self) -> dict:
        """The callbacks MultipartParser calls."""
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self.part = _Part()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.part.header += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.part.value += data[start:end]

    def _header_end(self) -> None:
        if self.part.header.strip().lower() == b"content-disposition":
            self.part.disposition = self.part.value
        self.part.header, self.part.value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        name, filename = options.get(b"name"), options.get(b"filename")
        self.writing = self.filename is None and name == FIELD.encode() and filename is not None
        if self.writing:
            self.filename = "".join(
                c if c.isprintable() else "?" for c in filename.decode("utf-8", "replace")
            )

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.writing:
            self.out.write(data[start:end])

    def _end(self) -> None:
        self.writing = False


async def receive_upload(request: Request, path: Path, limit: int) -> str:
    """Stream the multipart body's FIELD file into `path` and return its original filename;
    413 as soon as more than `limit` body bytes arrived (or at once for a larger Content-Length)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(limit)
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise ServeError(
            400,
            f"send the file as multipart/form-data in a field named {FIELD!r} "
            f"(e.g. curl -F {FIELD}=@clip.mp4 URL).",
        )
    with open(path, "xb") as out:
        writer = _FileWriter(out)
        await _feed(request, MultipartParser(options[b"boundary"], writer.callbacks()), limit)
    if writer.filename is None:
        raise ServeError(
            400, f"the form has no file in a field named {FIELD!r}; choose a file to upload."
        )
    if os.path.getsize(path) == 0:
        raise ServeError(
            415,
            f"{writer.filename or 'the upload'} is empty (0 bytes); upload a video or audio file.",
        )
    return writer.filename


async def _feed(request: Request, parser: MultipartParser, limit: int) -> None:
    """Give the body to `parser` chunk by chunk, counting bytes; stop reading past `limit`."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise ServeError(
            400,
            "the multipart body is malformed; send the file with a browser form, "
            "curl -F or another HTTP client's multipart upload.",
        ) from None
    except ClientDisconnect:
        raise ServeError(400, "the client went away before the upload finished.") from None

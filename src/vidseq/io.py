"""Small file helpers: atomic writes, byte sizes, a per-user cache folder."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from vidseq.errors import VidseqError

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync, then rename over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_bytes(size: str | int) -> int:
    """'2GB', '512MiB' or an int → bytes."""
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(size))
    if not m or m.group(2).upper() not in _UNITS:
        raise VidseqError(f"size {size!r} is not a byte size; write e.g. 512MB or 2GB.")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def cache_home() -> Path:
    """Folder for vidseq's own caches: $VIDSEQ_CACHE, else ~/.cache/vidseq."""
    return Path(os.environ.get("VIDSEQ_CACHE") or Path.home() / ".cache" / "vidseq")

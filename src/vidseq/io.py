"""Small file helpers: atomic writes, byte sizes, a per-user cache folder."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from vidseq.errors import VidseqError

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
}


def write_atomic(path: str | os.PathLike, data: bytes, sync: bool = True) -> None:
    """Write `data` to a temporary file beside `path`, fsync (unless `sync=False`: a cache entry whose
    reader rebuilds a damaged one), then rename over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, so not from worker threads


def parse_bytes(size: str | int) -> int:
    """'2GB', '512MiB', an int, or 'auto' (a quarter of the memory available now) → bytes."""
    if isinstance(size, int):
        return size
    if str(size).strip().lower() == "auto":
        return available_memory() // 4
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(size))
    if not m or m.group(2).upper() not in _UNITS:
        raise VidseqError(f"size {size!r} is not a byte size; write e.g. 512MB or 2GB.")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux; 4 GB where that cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 10**9


def cache_home() -> Path:
    """Folder for vidseq's own caches: $VIDSEQ_CACHE, else ~/.cache/vidseq."""
    return Path(os.environ.get("VIDSEQ_CACHE") or Path.home() / ".cache" / "vidseq")

"""ClipCache: decoded clips in memory under a byte budget (LRU), optionally backed by a disk store."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Hashable

import numpy as np

from vidseq.io import parse_bytes, write_atomic

log = logging.getLogger("vidseq")
DEFAULT_CACHE = "auto"  # a quarter of the memory available when the cache is made


class ClipCache:
    """Thread-safe LRU map from a key to a read-only array (uint8 frames and spectrograms, float32
    features), capped in bytes.

    With `directory`, every clip put is also written there as a `.npy` file (temporary name,
    then rename, so readers and other worker processes never see half a file) and a memory miss
    is read from disk (a whole .npy read: memory-mapping each entry would hold one open file
    descriptor per cached entry and exhaust the process's limit). An entry that cannot be read back (truncated,
    damaged) is deleted and counted as a miss, so the caller decodes and rebuilds it.
    """

    def __init__(
        self, max_bytes: int | str = DEFAULT_CACHE, directory: str | os.PathLike | None = None
    ):
        self.max_bytes = parse_bytes(max_bytes)
        self.directory = Path(directory) if directory else None
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._data)

    def __getstate__(self) -> dict:
        """Worker processes get the settings and the disk store, not this process's memory."""
        state = {**self.__dict__, "_data": OrderedDict(), "bytes": 0}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached clip for `key` (memory, then disk), or None."""
        with self._lock:
            clip = self._data.get(key)
            if clip is not None:
                self._data.move_to_end(key)
                self.hits += 1
                return clip
        clip = self._from_disk(key)
        with self._lock:
            if clip is None:
                self.misses += 1
            else:
                self.hits += 1
        if clip is not None:
            self._remember(key, clip)
        return clip

    def has(self, key: Hashable) -> bool:
        """Whether `key` is held in memory or on disk (without reading it; a damaged entry counts)."""
        with self._lock:
            if key in self._data:
                return True
        return bool(self.directory) and self._path(key).is_file()

    def put(self, key: Hashable, clip: np.ndarray, memory: bool = True) -> None:
        """Store `clip` (made read-only) in memory (unless `memory=False`: the caller keeps it),
        and on disk when a directory is set."""
        clip = np.array(clip, copy=True)
        clip.setflags(write=False)
        if self.directory:
            buf = io.BytesIO()
            np.save(buf, clip, allow_pickle=False)
            try:
                write_atomic(self._path(key), buf.getvalue(), sync=False)
            except OSError as e:
                log.warning(
                    "clip cache: cannot write to %s (%s); continuing without the disk store",
                    self.directory,
                    e,
                )
        if memory:
            self._remember(key, clip)

    def _remember(self, key: Hashable, clip: np.ndarray) -> None:
        if clip.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            while self._data and self.bytes + clip.nbytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self.bytes -= evicted.nbytes
            self._data[key] = clip
            self.bytes += clip.nbytes

    def _path(self, key: Hashable) -> Path:
        return (
            self.directory
            / f"{hashlib.sha1(repr(key).encode('utf-8', 'backslashreplace')).hexdigest()}.npy"
        )

    def _from_disk(self, key: Hashable) -> np.ndarray | None:
        if not self.directory:
            return None
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            clip = np.load(
                path, allow_pickle=False
            )  # read, not memory-mapped: a mapping holds a file descriptor
            if clip.dtype not in (np.uint8, np.float32) or clip.ndim < 2:
                raise ValueError(f"unexpected array {clip.dtype} {clip.shape}")
            return clip
        except (ValueError, OSError, EOFError) as e:
            log.warning("clip cache: rebuilding damaged entry %s (%s)", path.name, e)
            path.unlink(missing_ok=True)
            return None

"""ClipCache: decoded clips kept in memory under a byte budget, least recently used out first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

import numpy as np

from vidseq.io import parse_bytes


class ClipCache:
    """Thread-safe LRU map from a clip key to a read-only uint8 array, capped in bytes."""

    def __init__(self, max_bytes: int | str = "1GB"):
        self.max_bytes = parse_bytes(max_bytes)
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached clip for `key`, or None."""
        with self._lock:
            clip = self._data.get(key)
            if clip is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return clip

    def put(self, key: Hashable, clip: np.ndarray) -> None:
        """Store `clip` (made read-only), evicting old entries to stay under the budget."""
        if clip.nbytes > self.max_bytes:
            return
        clip = np.array(clip, copy=True)
        clip.setflags(write=False)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            while self._data and self.bytes + clip.nbytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self.bytes -= evicted.nbytes
            self._data[key] = clip
            self.bytes += clip.nbytes

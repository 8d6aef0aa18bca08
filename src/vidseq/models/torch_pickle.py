"""A small, restricted reader of PyTorch state-dict files (.pth) into NumPy arrays, without torch.

Two layouts exist. The legacy one (torch < 1.6) is a stream of pickles: a magic number, a protocol
version, system info, then the state dict whose tensors refer to storages by persistent id, then
the list of storage keys, then each storage's raw bytes preceded by its element count (int64).
The zip one (torch >= 1.6) holds the same state-dict pickle as `<name>/data.pkl` and each
storage's raw bytes as `<name>/data/<key>`. Either way, unpickling may only name the handful of
globals a state dict needs; anything else (`os.system`, …) is refused before it can run.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vidseq.errors import VidseqError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    """Stands in for a `torch.<X>Storage` class: only its element type matters."""

    dtype: type


@dataclass(frozen=True)
class _TensorRef:
    """What `torch._utils._rebuild_tensor_v2` would rebuild: a strided view of a storage."""

    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: str, offset: int, shape, stride, *_ignored) -> _TensorRef:
    return _TensorRef(
        storage, int(offset), tuple(int(n) for n in shape), tuple(int(s) for s in stride)
    )


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only the globals in `_ALLOWED`; records each storage a persistent id names."""

    def __init__(self, file: BinaryIO, source: Path):
        super().__init__(file)
        self.source = source
        self.storages: dict[str, tuple[np.dtype, int]] = {}  # key → (element type, element count)

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise VidseqError(
                f"{self.source} asks to load {module}.{name}, which a state dict never needs; "
                f"it is not a plain PyTorch weights file, so it was not loaded."
            )
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (
            isinstance(pid, tuple)
            and len(pid) in (5, 6)
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
        ):
            raise VidseqError(
                f"{self.source} has a persistent id {pid!r:.80} that is not a tensor storage; "
                f"re-save it with torch.save(model.state_dict())."
            )
        if len(pid) == 6 and pid[5] is not None:
            raise VidseqError(
                f"{self.source} uses storage views (torch < 0.4); re-save it with a newer torch."
            )
        key = str(pid[2])
        self.storages[key] = (np.dtype(pid[1].dtype), int(pid[4]))
        return key


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a .pth state dict (legacy or zip layout) as NumPy arrays, keyed by name."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        with open(path, "rb") as f:
            return _load_legacy(f, path)
    except (
        pickle.UnpicklingError,
        EOFError,
        struct.error,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        zipfile.BadZipFile,
    ) as e:
        raise VidseqError(
            f"{path} is not a readable PyTorch state dict ({e}); reinstall the package it came from."
        ) from None


def _load_legacy(f: BinaryIO, path: Path) -> dict[str, np.ndarray]:
    """The pickle-stream layout: header pickles, state dict, storage keys, then the raw storages."""
    magic, protocol, info = (_Unpickler(f, path).load() for _ in range(3))
    if (
        magic != LEGACY_MAGIC
        or protocol != LEGACY_PROTOCOL
        or not (isinstance(info, dict) and info.get("little_endian"))
    ):
        raise ValueError("unknown header (not a little-endian torch < 1.6 file)")
    unpickler = _Unpickler(f, path)
    state = unpickler.load()
    data = {
        key: _read_storage(f, key, *unpickler.storages[key]) for key in _Unpickler(f, path).load()
    }
    return _tensors(state, data)


def _read_storage(f: BinaryIO, key: str, dtype: np.dtype, count: int) -> np.ndarray:
    """One legacy storage: its element count (int64, which must be `count`), then its bytes."""
    (stored,) = struct.unpack("<q", f.read(8))
    if stored != count:
        raise ValueError(f"storage {key} holds {stored} elements where its tensors expect {count}")
    if count * dtype.itemsize > os.fstat(f.fileno()).st_size - f.tell():
        raise ValueError(f"storage {key} is truncated")
    return _exact(f.read(count * dtype.itemsize), dtype, count, key)


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    """The zip layout: `<name>/data.pkl` and one `<name>/data/<key>` entry per storage."""
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
        if pkl is None:
            raise ValueError("no data.pkl in the archive")
        prefix = pkl[: -len("data.pkl")]
        if (
            prefix + "byteorder" in archive.namelist()
            and archive.read(prefix + "byteorder").strip() != b"little"
        ):
            raise ValueError("its storages are big-endian")
        with archive.open(pkl) as f:
            unpickler = _Unpickler(f, path)
            state = unpickler.load()
        data = {
            key: _exact(archive.read(f"{prefix}data/{key}"), dtype, count, key)
            for key, (dtype, count) in unpickler.storages.items()
        }
    return _tensors(state, data)


def _exact(raw: bytes, dtype: np.dtype, count: int, key: str) -> np.ndarray:
    """`count` little-endian elements of `dtype` from `raw`, or an error when the file is short."""
    if len(raw) < count * dtype.itemsize:
        raise ValueError(f"storage {key} is truncated")
    return np.frombuffer(raw, dtype.newbyteorder("<"), count)


def _tensors(state, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Materialise each `_TensorRef` of the state dict as a C-contiguous copy of its storage view."""
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRef) for v in state.values()):
        raise ValueError("the pickle is not a flat {name: tensor} state dict")
    return {str(name): _view(data[ref.key], ref) for name, ref in state.items()}


def _view(storage: np.ndarray, ref: _TensorRef) -> np.ndarray:
    """The strided view `ref` of `storage`, bounds-checked before NumPy sees any stride."""
    if any(n == 0 for n in ref.shape):
        return np.zeros(ref.shape, storage.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
    if ref.offset < 0 or min(ref.stride, default=0) < 0 or last >= storage.size:
        raise ValueError(f"a tensor of storage {ref.key} reaches past its end")
    strides = tuple(s * storage.itemsize for s in ref.stride)
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :], ref.shape, strides, writeable=False
    )
    return np.array(
        view, dtype=storage.dtype.newbyteorder("="), order="C"
    )  # a copy: owned and writable

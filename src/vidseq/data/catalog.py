"""Catalog: the labelled media files of a dataset, and how it splits without leakage."""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from vidseq.data.audio import AUDIO_EXTENSIONS, is_audio
from vidseq.data.groups import group_map, read_csv
from vidseq.data.splits import split_items
from vidseq.errors import VidseqError
from vidseq.io import write_atomic

log = logging.getLogger("vidseq")

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .avi .mkv .mov .webm .mpg .mpeg .wmv .flv .ogv .3gp .ts".split()
)
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


@dataclass(frozen=True)
class Item:
    """One labelled media file: absolute path, class index and optional group (source video)."""

    path: str
    label: int
    group: str | None = None


@dataclass(frozen=True)
class Catalog:
    """An ordered list of items with their sorted class names and the root their paths live under."""

    items: tuple[Item, ...]
    classes: tuple[str, ...]
    root: str

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_folder(cls, root: str | os.PathLike) -> "Catalog":
        """One class per sub-folder of `root` (searched recursively for media files)."""
        base = _existing_dir(root)
        folders = sorted(d.name for d in base.iterdir() if d.is_dir() and not _hidden(d.name))
        files = {n: sorted(p for p in (base / n).rglob("*") if p.is_file()) for n in folders}
        media = {n for n in folders if any(p.suffix.lower() in MEDIA_EXTENSIONS for p in files[n])}
        metadata = [n for n in folders if files[n] and n not in media]
        if metadata:
            log.warning(
                "ignored sub-folder(s) without media files (not classes): %s", ", ".join(metadata)
            )
        classes = [n for n in folders if n not in metadata]
        if not classes:
            raise VidseqError(
                f"{base} has no class sub-folders with media: put each class's files in root/<class>/."
            )
        labelled = [(p, name) for name in classes for p in files[name]]
        return cls._build(labelled, base, classes)

    @classmethod
    def from_glob(cls, pattern: str) -> "Catalog":
        """keras-video-generators style pattern such as "videos/{classname}/*.avi"."""
        if "{classname}" not in pattern:
            raise VidseqError(
                f"glob {pattern!r} has no {{classname}} placeholder: write e.g. 'videos/{{classname}}/*.avi'."
            )
        head = pattern.split("{classname}")[0]
        rx = re.compile(_glob_regex(pattern))
        labelled = []
        for p in sorted(glob.glob(pattern.replace("{classname}", "*"), recursive=True)):
            m = rx.match(os.path.normpath(p))
            if m and os.path.isfile(p):
                labelled.append((Path(p), m.group("c")))
        base = Path(head if head.endswith(os.sep) or not head else os.path.dirname(head) or ".")
        return cls._build(
            labelled, base.resolve(), sorted({c for _, c in labelled}), what=f"glob {pattern!r}"
        )

    @classmethod
    def from_csv(cls, path: str | os.PathLike, allow_outside: bool = False) -> "Catalog":
        """Rows `path,label[,group]`; paths relative to the CSV's folder, which they may not leave
        (absolute paths, `..`, links) unless `allow_outside`."""
        csv_path = Path(path)
        if not csv_path.is_file():
            raise VidseqError(f"CSV file {csv_path} does not exist.")
        rows = read_csv(csv_path, required=("path", "label"))
        base = csv_path.resolve().parent
        labelled, groups, seen = [], {}, set()
        for row in rows:
            p = (base / row["path"]).resolve()
            if not allow_outside and base not in p.parents:
                raise VidseqError(
                    f"{csv_path}: {row['path']} lies outside the CSV's folder {base}; move the file "
                    "there or allow it explicitly (Catalog.from_csv(..., allow_outside=True))."
                )
            if p in seen:
                raise VidseqError(
                    f"{csv_path}: {row['path']} is listed twice; keep one row per file."
                )
            seen.add(p)
            if not p.is_file():
                raise VidseqError(
                    f"{csv_path}: {row['path']} does not exist (paths are relative to the CSV's folder)."
                )
            labelled.append((p, row["label"]))
            if row.get("group"):
                groups[str(p)] = row["group"]
        cat = cls._build(labelled, base, sorted({c for _, c in labelled}), what=str(csv_path))
        return cat._with_group_map(groups) if groups else cat

    @classmethod
    def open(cls, source: str | os.PathLike) -> "Catalog":
        """A folder, a glob with {classname}, or a CSV, decided by its form."""
        src = str(source)
        if "{classname}" in src:
            return cls.from_glob(src)
        if src.lower().endswith(".csv"):
            return cls.from_csv(src)
        return cls.from_folder(src)

    def from_list(self, path: str | os.PathLike) -> "Catalog":
        """The items named in a file of paths relative to the root, one per line."""
        p = Path(path)
        if not p.is_file():
            raise VidseqError(f"list file {p} does not exist.")
        by_rel = {self.relpath(it): it for it in self.items}
        names = [ln.strip().replace("\\", "/") for ln in p.read_text().splitlines() if ln.strip()]
        unknown = [n for n in names if n not in by_rel]
        if unknown:
            raise VidseqError(
                f"{len(unknown)} path(s) in {p} are not in {self.root} (first: {unknown[0]}); "
                "paths are relative to the data folder."
            )
        return self.subset([by_rel[n] for n in dict.fromkeys(names)])

    @classmethod
    def _build(cls, labelled, root: Path, classes, what: str | None = None) -> "Catalog":
        what = what or str(root)
        index = {c: i for i, c in enumerate(classes)}
        items, skipped = [], 0
        for p, c in labelled:
            if _hidden(Path(p).name) or Path(p).suffix.lower() not in MEDIA_EXTENSIONS:
                skipped += 1
                continue
            items.append(Item(str(Path(p).resolve()), index[c]))
        if skipped:
            log.warning("skipped %d hidden or non-media file(s) in %s", skipped, what)
        if not items:
            raise VidseqError(
                f"{what} holds no media files ({', '.join(sorted(MEDIA_EXTENSIONS))})."
            )
        counts = Counter(it.label for it in items)
        empty = [c for c in classes if counts[index[c]] == 0]
        if empty:
            raise VidseqError(
                f"class {empty[0]!r} in {what} has no media files; add some or remove the class."
            )
        return cls(tuple(items), tuple(classes), str(root))

    # ---- views --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def paths(self) -> list[str]:
        """Absolute paths in catalog order."""
        return [it.path for it in self.items]

    @property
    def is_audio(self) -> bool:
        """True when every item is an audio file (spectrogram sequences)."""
        return all(is_audio(it.path) for it in self.items)

    @property
    def labels(self) -> np.ndarray:
        """Class indices in catalog order."""
        return np.array([it.label for it in self.items], dtype=np.int64)

    def counts(self) -> dict[str, int]:
        """Number of items per class name."""
        c = Counter(it.label for it in self.items)
        return {name: c[i] for i, name in enumerate(self.classes)}

    def relpath(self, item: Item) -> str:
        """Item path relative to the catalog root, with forward slashes."""
        return Path(os.path.relpath(item.path, self.root)).as_posix()

    def subset(self, items: Sequence[Item]) -> "Catalog":
        """A catalog with the same classes and root holding only `items`."""
        return replace(self, items=tuple(items))

    # ---- groups and splits ----------------------------------------------------------------
    def with_groups(self, source: str | os.PathLike) -> "Catalog":
        """Groups from a CSV (`file,group` columns) or a regex with one capture group over file names."""
        return self._with_group_map(
            group_map(source, [(it.path, self.relpath(it)) for it in self.items])
        )

    def _with_group_map(self, groups: dict[str, str]) -> "Catalog":
        return replace(
            self, items=tuple(replace(it, group=groups.get(it.path)) for it in self.items)
        )

    def split(
        self,
        val: float = 0.2,
        test: float = 0.2,
        group_by: str | os.PathLike | None = None,
        seed: int = 0,
        folds: int | None = None,
        fold: int | None = None,
    ) -> tuple["Catalog", "Catalog", "Catalog"]:
        """Stratified (train, val, test); no group in two parts; deterministic for a seed.

        With `folds=k, fold=i` the test part is grouped fold i of k and `val` is the fraction of
        the whole data taken from the other folds for validation.
        """
        cat = self.with_groups(group_by) if group_by is not None else self
        small = [c for c, n in cat.counts().items() if 0 < n < 3]
        if small:
            log.warning(
                "class(es) %s have fewer than 3 files: they cannot appear in every split part",
                ", ".join(small),
            )
        parts = split_items(cat.items, len(cat.classes), val, test, seed, folds, fold)
        return tuple(cat.subset(p) for p in parts)  # type: ignore[return-value]

    # ---- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready form with paths relative to the root."""
        return {
            "root": self.root,
            "classes": list(self.classes),
            "items": [
                {"path": self.relpath(it), "label": self.classes[it.label], "group": it.group}
                for it in self.items
            ],
        }

    @classmethod
    def from_dict(cls, data: dict, root: str | None = None) -> "Catalog":
        """Inverse of `to_dict`; `root` overrides the stored root (data moved)."""
        base = Path(root or data["root"])
        classes = tuple(data["classes"])
        index = {c: i for i, c in enumerate(classes)}
        items = tuple(
            Item(str((base / d["path"]).resolve()), index[d["label"]], d.get("group"))
            for d in data["items"]
        )
        return cls(items, classes, str(base))


def save_split(path: str | os.PathLike, parts: dict[str, Catalog]) -> None:
    """Write named catalogs (e.g. train/val/test) to one JSON file, atomically."""
    write_atomic(path, json.dumps({k: v.to_dict() for k, v in parts.items()}, indent=1).encode())


def load_split(path: str | os.PathLike, root: str | None = None) -> dict[str, Catalog]:
    """Read the catalogs written by `save_split`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise VidseqError(
            f"cannot read split file {path} ({e}); was the run directory moved or damaged?"
        ) from None
    return {k: Catalog.from_dict(v, root) for k, v in data.items()}


def _glob_regex(pattern: str) -> str:
    """A regex matching the files of a {classname} glob, the class name as group "c"."""
    rx = re.escape(os.path.normpath(pattern)).replace(re.escape("{classname}"), "(?P<c>[^/\\\\]+)")
    return "^" + rx.replace(r"\*\*", ".*").replace(r"\*", "[^/\\\\]*").replace(r"\?", ".") + "$"


def _existing_dir(root: str | os.PathLike) -> Path:
    base = Path(root)
    if not base.is_dir():
        raise VidseqError(
            f"data folder {base} does not exist; give a folder with one sub-folder per class."
        )
    return base.resolve()


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("_")

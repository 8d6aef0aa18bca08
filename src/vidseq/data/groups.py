"""Groups (the source video each clip was cut from) from a CSV or a regex over file names, and CSV reading."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Sequence

from vidseq.errors import VidseqError


def group_map(source: str | os.PathLike, items: Sequence[tuple[str, str]]) -> dict[str, str]:
    """{path: group} for `items` ((absolute path, path relative to the data root) pairs): from a CSV
    with `file,group` columns (file relative to the root, or a bare name), or from a regex with one
    capture group searched in each file name."""
    src = str(source)
    if src.lower().endswith(".csv"):
        return _from_csv(Path(src), items)
    try:
        rx = re.compile(src)
    except re.error as e:
        raise VidseqError(
            f"group pattern {src!r} is not a valid regex ({e}); give a CSV or e.g. '_g(\\d+)_'."
        ) from None
    groups = {}
    for path, _ in items:
        m = rx.search(Path(path).name)
        if not m:
            raise VidseqError(
                f"group pattern {src!r} does not match {Path(path).name}; fix the pattern."
            )
        groups[path] = m.group(1) if rx.groups else m.group(0)
    return groups


def _from_csv(path: Path, items: Sequence[tuple[str, str]]) -> dict[str, str]:
    if not path.is_file():
        raise VidseqError(f"group file {path} does not exist.")
    rows = read_csv(path, required=("file", "group"))
    by_rel = {r["file"].replace("\\", "/"): r["group"] for r in rows}
    by_name = {Path(k).name: v for k, v in by_rel.items()}
    groups, missing = {}, []
    for full, rel in items:
        g = by_rel.get(rel, by_name.get(Path(full).name))
        if g is None:
            missing.append(rel)
        groups[full] = g
    if missing:
        raise VidseqError(
            f"{len(missing)} file(s) have no group in {path} (first: {missing[0]}); add them."
        )
    return groups


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a UTF-8 CSV file as stripped strings; a missing required column is an error."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in fields]
            if missing:
                raise VidseqError(
                    f"{path} lacks column(s) {', '.join(missing)}; its header must include {','.join(required)}."
                )
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except UnicodeDecodeError:
        raise VidseqError(f"{path} is not UTF-8 text; save it as UTF-8 CSV.") from None

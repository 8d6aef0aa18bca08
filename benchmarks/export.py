"""Export figures per zoo entry and format: conversion time, artifact size, max |Δp| against Keras.

    python benchmarks/export.py [MODEL ...]

Each entry is built tiny as in tests/deploy/test_zoo_table.py (4 frames of 32×32×3, 3 classes) and
exported with `vidseq.deploy.export.export_model`, whose check runs the artifact in its runtime on
random clips of batch 1 and 3. Prints a markdown table.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from vidseq import build_model, list_models
from vidseq.deploy.export import FORMATS, export_model
from vidseq.errors import VidseqError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.models.test_zoo import TINY  # noqa: E402  (the tiny options of every zoo entry)

SHAPE, CLASSES = (4, 32, 32, 3), ["a", "b", "c"]


def main(names: list[str]) -> None:
    """Print one row per (model, format)."""
    print("| model | format | export s | MB | max abs diff |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name in names or list_models():
            model = build_model(name, SHAPE, len(CLASSES), compile=False, **TINY[name])
            for fmt in FORMATS:
                try:
                    r = export_model(model, fmt, Path(work) / f"{name}-{fmt}", CLASSES)
                    print(
                        f"| {name} | {fmt} | {r.seconds:.1f} | {r.bytes / 1e6:.2f} | {r.max_abs_diff:.1e} |",
                        flush=True,
                    )
                except VidseqError as e:
                    print(f"| {name} | {fmt} | refused: {e} | | |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

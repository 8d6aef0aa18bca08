"""What the three example scripts share: their command line and the data folder."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import vidseq
from vidseq.data.synthetic import make_motion_dataset


def parse(description: str) -> argparse.Namespace:
    """`DATA` (a folder with one sub-folder per class; default: the embedded motion dataset) and `--quick`."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "data", nargs="?", help="folder of videos, one sub-folder per class (default: generated)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="tiny sizes and one epoch: a smoke run in seconds"
    )
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    if args.data is None:
        per_class = 8 if args.quick else 60
        args.data = str(
            make_motion_dataset(
                Path(tempfile.gettempdir()) / f"vidseq-examples-{per_class}", per_class=per_class
            )
        )
    if args.quick:
        args.epochs = 1
    return args


def datasets(
    data: str, frames: int, size: int
) -> tuple[vidseq.Catalog, vidseq.ClipDataset, vidseq.ClipDataset]:
    """The catalog, a training ClipDataset and a validation one (a 60/20/20 split)."""
    catalog = vidseq.Catalog.from_folder(data)
    train, val, _ = catalog.split(val=0.2, test=0.2, seed=0)
    return (
        catalog,
        vidseq.ClipDataset(train, frames=frames, size=size, batch_size=8),
        vidseq.ClipDataset(val, frames=frames, size=size, batch_size=8, shuffle=False),
    )

"""Accuracy study: grouped k-fold cross-validation of configurations on surv_fight (or any labelled folder).

    python benchmarks/study.py                          # ../shared/data/surv_fight, 5 grouped folds, every config
    python benchmarks/study.py --quick                  # smoke run: 2 folds, 1 epoch, 4 frames at 32×32
    python benchmarks/study.py --configs lite0-gru-160 lite0-attention-160 --out runs/study

Every (configuration, fold) is one `vidseq.train` run: the test part is fold i, grouped by the
source video (`_meta/groups.csv`), and the validation part (for the best checkpoint and the
learning-rate schedule) is carved from the other folds, so nothing is chosen on a test fold.
Clips are centre-cropped to one square size and sampled spread over each video's duration, so the
capture format cannot leak. Frames and frozen-backbone features go to one disk cache shared by all
runs. Each row: validation accuracy (the best checkpoint's, mean over folds: the one to choose a
configuration by), test accuracy with one clip and with 3 clips per video (softmax averaged),
and minutes per fold. A "+" configuration averages two others' per-video test probabilities
(late fusion of separately trained runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import vidseq

SURV_FIGHT = Path(__file__).resolve().parents[2] / "shared" / "data" / "surv_fight"
SCRATCH = {"width": 0.25, "head": [128]}


def _lite(model: str, variant: int, size: str, **options) -> tuple[str, dict, dict]:
    """A pretrained configuration: zoo entry `model` on EfficientNet-Lite`variant` at `size`."""
    backbone = {"backbone": f"efficientnet-lite{variant}"} if variant else {}
    return model, {**backbone, **options}, {"size": size}


CONFIGS = {  # name → (model, model options, settings); from scratch ones are CPU-sized
    "single-frame": ("single-frame", SCRATCH, {}),
    "convnet-gru": ("convnet-gru", SCRATCH, {}),
    "lrcn": ("lrcn", {"width": 0.25, "units": 128}, {}),
    "convnet-transformer": ("convnet-transformer", {"width": 0.25}, {}),
    "c3d": ("c3d", {"width": 0.5}, {}),
    "tsn": ("tsn", {"width": 0.25}, {}),
    "two-stream": ("two-stream", SCRATCH, {}),
    "flow-gru": ("convnet-gru", {**SCRATCH, "streams": ["flow"]}, {}),
    "lite0-gru-112": _lite("efficientnet-lite0-gru", 0, "112"),
    "lite0-gru-160": _lite("efficientnet-lite0-gru", 0, "160"),
    "lite0-gru-224": _lite("efficientnet-lite0-gru", 0, "224"),
    "lite0-attention-160": _lite("efficientnet-lite0-gru", 0, "160", temporal="attention"),
    "lite0-mean-160": _lite("efficientnet-lite0-gru", 0, "160", temporal="mean"),
    "lite1-gru-160": _lite("efficientnet-lite0-gru", 1, "160"),
    "lite2-gru-160": _lite("efficientnet-lite0-gru", 2, "160"),
    **{
        f"lite{v}-motion-{size}": _lite("efficientnet-lite0-motion", v, size)
        for v in (0, 1, 2)
        for size in ("112", "160", "224")
    },
    "lite0-ft-112": ("efficientnet-lite0-gru-ft", {}, {"size": "112", "augment": "standard"}),
    **{
        f"lite0-motion-ft-{size}": (
            "efficientnet-lite0-motion",
            {"trainable_blocks": 2, "learning_rate": 1e-4},
            {"size": size, "augment": "standard"},
        )
        for size in ("112", "160")
    },
}
FUSIONS = {
    "lite0-gru-160+flow-gru": ("lite0-gru-160", "flow-gru"),
    "lite0-motion-160+flow-gru": ("lite0-motion-160", "flow-gru"),
}
DEFAULT = [*CONFIGS, *FUSIONS]


def run_config(
    name: str,
    data: str,
    groups: str | None,
    folds: int,
    fold_ids: list[int],
    out: Path,
    settings: dict,
    quick: bool = False,
) -> dict:
    """Train and test one configuration on every fold: {"val", "accuracy" (test, 1 clip), "test3", "seconds"} lists
    (`quick` keeps the settings' small frame size)."""
    model, options, overrides = CONFIGS[name]
    settings = {**settings, **overrides, **({"size": settings["size"]} if quick else {})}
    row: dict[str, list] = {"val": [], "accuracy": [], "test3": [], "seconds": []}
    for fold in fold_ids:
        run = out / f"{name}-fold{fold}"
        result = vidseq.train(
            data,
            run,
            model=model,
            model_options=options,
            groups=groups,
            folds=folds,
            fold=fold,
            verbose=0,
            **settings,
        )
        row["val"].append(_best_validation(run))
        row["accuracy"].append(result.metrics["accuracy"])
        row["seconds"].append(result.seconds)
        (run / "predictions-1clip.csv").write_bytes((run / "predictions.csv").read_bytes())
        row["test3"].append(vidseq.evaluate_run(run, clips=3)["accuracy"])
        print(
            f"  {name:24s} fold {fold}: val {row['val'][-1]:.3f}, test {row['accuracy'][-1]:.3f} "
            f"(3 clips {row['test3'][-1]:.3f}, n={result.metrics['n']}), {result.seconds:.0f} s",
            flush=True,
        )
    return row


def fuse(name: str, fold_ids: list[int], out: Path) -> dict:
    """Test accuracy of the mean of two configurations' per-video probabilities (1 and 3 clips)."""
    a, b = FUSIONS[name]
    row: dict[str, list] = {"val": [], "accuracy": [], "test3": [], "seconds": []}
    for fold in fold_ids:
        for key, file in (("accuracy", "predictions-1clip.csv"), ("test3", "predictions.csv")):
            (pa, labels), (pb, _) = (_predictions(out / f"{c}-fold{fold}" / file) for c in (a, b))
            row[key].append(float(np.mean(np.argmax(pa + pb, axis=1) == labels)))
    return row


def _predictions(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, true class indices) of a predictions.csv, in file order."""
    with open(path, newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["file"])
    classes = [k for k in rows[0] if k not in ("file", "label", "predicted")]
    return (
        np.array([[float(r[c]) for c in classes] for r in rows]),
        np.array([classes.index(r["label"]) for r in rows]),
    )


def _best_validation(run: Path) -> float:
    """Validation accuracy at the epoch of the lowest validation loss (the checkpoint kept)."""
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    best = min(rows, key=lambda r: float(r["val_loss"]))
    return float(best["val_categorical_accuracy"])


def table(results: dict[str, dict]) -> str:
    """Markdown table: configuration, validation and test accuracy (mean ± std over folds), minutes per fold."""
    lines = [
        "| configuration | validation | test (1 clip) | test (3 clips) | per fold (1 clip) | min per fold |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        cells = [_mean_std(row[k]) for k in ("val", "accuracy", "test3")]
        folds = " ".join(f"{a:.2f}" for a in row["accuracy"])
        minutes = f"{statistics.mean(row['seconds']) / 60:.1f}" if row["seconds"] else "—"
        lines.append(f"| {name} | {' | '.join(cells)} | {folds} | {minutes} |")
    return "\n".join(lines)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the study, print and save the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(SURV_FIGHT))
    parser.add_argument(
        "--groups", default=None, help="default: DATA/_meta/groups.csv when present"
    )
    parser.add_argument("--configs", nargs="+", default=DEFAULT, choices=DEFAULT, metavar="CONFIG")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument(
        "--size", default="64", help="frame size of the configurations that do not set one"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--out", default=None, help="run folders and results.json (default: a new temporary folder)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 folds, 1 epoch, 4 frames at 32×32"
    )
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(
            f"{args.data} is not a folder; pass --data (surv_fight lives in ../shared/data)."
        )
    groups = args.groups or (
        str(Path(args.data) / "_meta" / "groups.csv")
        if (Path(args.data) / "_meta" / "groups.csv").is_file()
        else None
    )
    fold_ids = list(range(2 if args.quick else args.folds))
    frames, size, epochs = (4, "32", 1) if args.quick else (args.frames, args.size, args.epochs)
    out = Path(args.out or tempfile.mkdtemp(prefix="vidseq-study-"))
    settings = dict(
        frames=frames,
        size=size,
        epochs=epochs,
        batch=8,
        val=0.15,
        seed=0,
        pool=3,
        cache_dir=str(out / "cache"),
    )
    print(
        f"{args.data}: {len(fold_ids)} of {args.folds} grouped folds (groups {groups}), {frames} frames, "
        f"{epochs} epochs, batch 8; runs in {out}",
        flush=True,
    )
    started, results = time.time(), {}
    for name in args.configs:
        if name in FUSIONS:
            results[name] = fuse(name, fold_ids, out)
        else:
            results[name] = run_config(
                name, args.data, groups, args.folds, fold_ids, out, settings, args.quick
            )
        (out / "results.json").write_text(
            json.dumps(
                {"settings": {**settings, "folds": args.folds}, "results": results}, indent=1
            )
        )
    print(
        f"\n{table(results)}\n\ntotal {(time.time() - started) / 60:.1f} min; results in {out / 'results.json'}"
    )


if __name__ == "__main__":
    main()

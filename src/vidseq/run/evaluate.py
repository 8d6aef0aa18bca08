"""evaluate: video-level metrics of a run on its saved test split (or on other data)."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np

from vidseq.data.catalog import Catalog
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.run.datasets import dataset_for
from vidseq.run.metrics import classification_metrics
from vidseq.run.predict import video_probabilities
from vidseq.run.rundir import RunDir
from vidseq.viz import plot_confusion


def evaluate_run(
    run: str | os.PathLike,
    data: str | None = None,
    clips: int = 1,
    verbose: int | str = 0,
    unsafe: bool = False,
) -> dict:
    """Metrics of a finished run; writes RUN/metrics.json, RUN/predictions.csv (per video) and RUN/confusion.png.

    Args:
        run: the run directory.
        data: a folder, {classname} glob or CSV to evaluate on instead of the saved test split.
        clips: clips per video (evenly offset), their softmax averaged.
        verbose: Keras' predict verbosity.
        unsafe: allow a model whose Lambda layers run code when loaded (trusted files only).
    """
    rundir = RunDir(run)
    cfg, model, _ = rundir.load(unsafe)
    catalog = evaluation_catalog(rundir, data, clips)
    ds = dataset_for(cfg, catalog, views=clips)
    ids, probs = video_probabilities(model, ds, verbose)
    return write_evaluation(rundir, catalog, ids, probs, clips, sorted(ds.report.quarantined))


def evaluation_catalog(rundir: RunDir, data: str | None, clips: int) -> Catalog:
    """The videos to evaluate a run on (`data`, else its saved test split), checked against the run."""
    if clips < 1:
        raise VidseqError(f"clips must be at least 1. Received: clips={clips}")
    classes = rundir.classes()
    catalog = Catalog.open(data) if data else rundir.split()["test"]
    if list(catalog.classes) != classes:
        raise VidseqError(
            f"the data's classes {list(catalog.classes)} differ from the run's {classes}."
        )
    if not len(catalog):
        raise VidseqError(
            f"{rundir.path} has an empty test split; pass --data to evaluate on other videos."
        )
    return catalog


def write_evaluation(
    rundir: RunDir,
    catalog: Catalog,
    ids: np.ndarray,
    probs: np.ndarray,
    clips: int,
    skipped: list[str],
) -> dict:
    """Metrics of per-video probabilities (`ids` index `catalog`), written into the run directory."""
    classes = list(catalog.classes)
    metrics = classification_metrics(catalog.labels[ids], probs, classes)
    metrics["clips_per_video"] = clips
    metrics["skipped"] = skipped
    write_atomic(rundir / "metrics.json", json.dumps(metrics, indent=1).encode())
    write_atomic(
        rundir / "predictions.csv", _predictions_csv(catalog, ids, probs, classes).encode()
    )
    plot_confusion(np.array(metrics["confusion"]), classes, rundir / "confusion.png")
    return metrics


def _predictions_csv(
    catalog: Catalog, ids: np.ndarray, probs: np.ndarray, classes: list[str]
) -> str:
    """One row per evaluated video: its path (relative to the data), true and predicted class, the probabilities."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["file", "label", "predicted", *classes])
    for i, p in zip(ids, probs):
        item = catalog.items[int(i)]
        writer.writerow(
            [
                catalog.relpath(item),
                classes[item.label],
                classes[int(np.argmax(p))],
                *(f"{v:.6f}" for v in p),
            ]
        )
    return buf.getvalue()


def metrics_table(metrics: dict) -> str:
    """A small per-class text table and the confusion matrix."""
    names = metrics["classes"]
    width = max(8, *(len(n) for n in names))
    lines = [f"{'class':<{width}}  precision  recall  f1     support"]
    for name in names:
        m = metrics["per_class"][name]
        lines.append(
            f"{name:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:.3f}  {m['support']:7d}"
        )
    lines.append("confusion (rows true, columns predicted): " + json.dumps(metrics["confusion"]))
    return "\n".join(lines)

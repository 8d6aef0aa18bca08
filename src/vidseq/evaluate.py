"""evaluate: video-level metrics of a run on its saved test split (or on other data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from vidseq.config import RunConfig
from vidseq.data.catalog import Catalog, load_split
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.metrics import average_views, classification_metrics
from vidseq.viz import plot_confusion


def load_run(run: str | os.PathLike, unsafe: bool = False) -> tuple[RunConfig, keras.Model, list[str]]:
    """The config, trained model and class names of a run directory.

    The model loads with Keras' safe_mode (no code from Lambda layers); `unsafe=True` is the
    explicit opt-in for a model you trust.
    """
    base = Path(run)
    if not (base / "model.keras").is_file():
        raise VidseqError(f"{base} is not a finished run (no model.keras); train it first or check the path.")
    cfg = RunConfig.load(base / "config.yaml")
    try:
        model = keras.models.load_model(base / "model.keras", safe_mode=not unsafe)
    except Exception as e:  # a damaged or foreign file: say which, not a traceback
        if "safe_mode" in str(e):
            raise VidseqError(f"{base / 'model.keras'} contains code (a Lambda layer) that runs when loaded; "
                              "load it only if you trust its source, with --unsafe.") from None
        raise VidseqError(f"{base / 'model.keras'} cannot be loaded ({type(e).__name__}); retrain or restore the file.") from None
    return cfg, model, json.loads((base / "classes.json").read_text())


def evaluate_run(run: str | os.PathLike, data: str | None = None, clips: int = 1, verbose: int | str = 0,
                 unsafe: bool = False) -> dict:
    """Mean softmax over `clips` clips per video; writes metrics.json and confusion.png into the run."""
    from vidseq.training import dataset_for

    base = Path(run)
    cfg, model, classes = load_run(base, unsafe)
    catalog = Catalog.open(data) if data else load_split(base / "split.json")["test"]
    if list(catalog.classes) != classes:
        raise VidseqError(f"the data's classes {list(catalog.classes)} differ from the run's {classes}.")
    if not len(catalog):
        raise VidseqError(f"{base} has an empty test split; pass --data to evaluate on other videos.")
    ds = dataset_for(cfg, catalog, training=False, views=clips)
    probs = model.predict(ds, verbose=verbose)
    owners = ds.sample_items()
    bad = {i for i, it in enumerate(ds.items) if it.path in ds.report.quarantined}
    keep = ~np.isin(owners, list(bad))
    ids, video_probs = average_views(probs[keep], owners[keep])
    metrics = classification_metrics(catalog.labels[ids], video_probs, classes)
    metrics["clips_per_video"] = clips
    metrics["skipped"] = sorted(ds.report.quarantined)
    write_atomic(base / "metrics.json", json.dumps(metrics, indent=1).encode())
    plot_confusion(np.array(metrics["confusion"]), classes, base / "confusion.png")
    return metrics


def metrics_table(metrics: dict) -> str:
    """A small per-class text table and the confusion matrix."""
    names = metrics["classes"]
    width = max(8, *(len(n) for n in names))
    lines = [f"{'class':<{width}}  precision  recall  f1     support"]
    for name in names:
        m = metrics["per_class"][name]
        lines.append(f"{name:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:.3f}  {m['support']:7d}")
    lines.append("confusion (rows true, columns predicted): " + json.dumps(metrics["confusion"]))
    return "\n".join(lines)

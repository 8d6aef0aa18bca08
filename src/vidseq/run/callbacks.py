"""Callbacks that make a run directory resumable and inspectable."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import keras

from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.run.parallel import local_keras
from vidseq.viz import plot_curves


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> None:
    """model.save to a temporary .keras name beside `path`, then rename over it; a failed write
    (disk full) leaves the previous file intact and raises a VidseqError."""
    target = Path(path)
    tmp = target.with_name(f".{target.stem}.tmp.keras")
    try:
        with local_keras():  # one process saves alone: no variable it makes may wait for the others
            model.save(tmp)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise VidseqError(
            f"cannot write {target} ({e.strerror or e}); the previous checkpoint is intact: "
            "free disk space, then continue with --resume."
        ) from None


def read_history(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of history.csv as dicts of floats (epoch first); [] when absent."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


class RunRecorder(keras.callbacks.Callback):
    """After each epoch: history.csv and curves.png, checkpoints/last.keras, best.keras (by
    `monitor`) and state.json, each written atomically, so a killed run resumes from its last
    finished epoch with one history row per epoch. `export` is the model the checkpoints hold
    when it is not the one being fitted (a full model whose head trains on cached features)."""

    def __init__(
        self,
        run: str | os.PathLike,
        monitor: str = "val_loss",
        history: list[dict] | None = None,
        export: keras.Model | None = None,
    ):
        super().__init__()
        self.run = Path(run)
        self.export = export
        self.monitor = monitor
        self.rows = list(history or [])
        self.best = min((r[monitor] for r in self.rows if monitor in r), default=math.inf)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not all(math.isfinite(v) for v in logs.values()):
            return  # TerminateOnNaN stops the run; keep the last good checkpoint
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [{"epoch": epoch, **logs}]
        ckpt = self.run / "checkpoints"
        ckpt.mkdir(parents=True, exist_ok=True)
        if logs.get(self.monitor, math.inf) < self.best:
            self.best = logs[self.monitor]
            save_model_atomic(self.export or self.model, ckpt / "best.keras")
        save_model_atomic(self.export or self.model, ckpt / "last.keras")
        self._write_history()
        write_atomic(
            self.run / "state.json", json.dumps({"epoch": epoch, "best": self.best}).encode()
        )
        plot_curves(self.rows, self.run / "curves.png")

    def _write_history(self) -> None:
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.run / "history.csv", buf.getvalue().encode())

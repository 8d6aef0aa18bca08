"""Pictures: clip grids, training curves, confusion matrices and prediction timelines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure


def _subplots(rows: int, cols: int, figsize: tuple[float, float], squeeze: bool = True):
    """A figure of its own (no pyplot, so no global backend is chosen or changed) and its axes."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def _save(fig: Figure, out: str | os.PathLike) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def clip_grid(clips: Sequence[np.ndarray], titles: Sequence[str], out: str | os.PathLike) -> Path:
    """One row per uint8 clip (T, H, W, C), its title on the left; saved as PNG."""
    rows, cols = len(clips), max(c.shape[0] for c in clips)
    fig, axes = _subplots(rows, cols, (1.3 * cols, 1.4 * rows), squeeze=False)
    for r, (clip, title) in enumerate(zip(clips, titles)):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < clip.shape[0]:
                frame = clip[c]
                ax.imshow(
                    frame[..., 0] if frame.shape[-1] == 1 else frame,
                    cmap="gray" if frame.shape[-1] == 1 else None,
                )
        axes[r][0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    return _save(fig, out)


def plot_curves(history: Sequence[dict], out: str | os.PathLike) -> Path:
    """Loss and accuracy per epoch, train against validation."""
    fig, axes = _subplots(1, 2, (9, 3.2))
    epochs = [int(r["epoch"]) + 1 for r in history]
    for ax, key in zip(axes, ("loss", "categorical_accuracy")):
        for prefix, style in (("", "-o"), ("val_", "--o")):
            values = [r.get(prefix + key) for r in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, style, ms=3, label=(prefix or "train_").rstrip("_"))
        ax.set_xlabel("epoch")
        ax.set_title(key.replace("categorical_", ""))
        if ax.lines:
            ax.legend()
    return _save(fig, out)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], out: str | os.PathLike) -> Path:
    """Confusion matrix with counts (rows: true class, columns: predicted)."""
    cm = np.asarray(confusion)
    fig, ax = _subplots(1, 1, (1.2 + 0.6 * len(classes), 1 + 0.6 * len(classes)))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black"
        )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _save(fig, out)


def plot_timeline(
    times: Sequence[float], probs: np.ndarray, classes: Sequence[str], out: str | os.PathLike
) -> Path:
    """Class probability against time (window centres) for one long video."""
    fig, ax = _subplots(1, 1, (9, 3))
    for k, name in enumerate(classes):
        ax.plot(times, probs[:, k], label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return _save(fig, out)

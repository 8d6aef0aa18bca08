"""Video-level classification metrics in the metrics.json schema."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def classification_metrics(
    y_true: Sequence[int], probs: np.ndarray, classes: Sequence[str]
) -> dict:
    """accuracy, n, classes, confusion, per_class precision/recall/f1/support and top_k accuracy."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    k = len(classes)
    pred = p.argmax(1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = {}
    for i, name in enumerate(classes):
        tp, support, predicted = confusion[i, i], confusion[i].sum(), confusion[:, i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support),
        }
    ranks = np.argsort(-p, axis=1)
    top_k = {
        str(t): float(np.mean([y[i] in ranks[i, :t] for i in range(len(y))]))
        for t in range(2, min(k, 5) + 1)
    }
    recalls = [per_class[c]["recall"] for c in classes if per_class[c]["support"]]
    return {
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "n": int(len(y)),
        "classes": list(classes),
        "confusion": confusion.tolist(),
        "per_class": per_class,
        "top_k": top_k,
        "mean_class_accuracy": float(np.mean(recalls)) if recalls else 0.0,
    }


def average_views(probs: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the softmax over all clips of each video: (video ids, (videos, classes))."""
    ids = np.unique(owners)
    return ids, np.stack([probs[owners == i].mean(0) for i in ids])

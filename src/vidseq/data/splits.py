"""Splits without leakage: whole groups (source videos) assigned to train/validation/test, stratified by class."""

from __future__ import annotations

from typing import Protocol, Sequence, TypeVar

import numpy as np

from vidseq.errors import VidseqError


class Item(Protocol):
    """What a split needs of an item (catalog.Item has it)."""

    path: str
    label: int
    group: str | None


T = TypeVar("T", bound=Item)


def split_items(
    items: Sequence[T],
    num_classes: int,
    val: float,
    test: float,
    seed: int,
    folds: int | None = None,
    fold: int | None = None,
) -> tuple[list[T], list[T], list[T]]:
    """(train, val, test) items; no group in two parts; deterministic for a seed.

    With `folds=k, fold=i` the test part is grouped fold i of k and `val` is the fraction of the
    whole data taken from the other folds for validation. An item without a group is its own group.
    """
    groups = _group_table(items, num_classes)
    rng = np.random.default_rng(seed)
    if folds is not None:
        if not (
            isinstance(folds, int) and folds >= 2 and isinstance(fold, int) and 0 <= fold < folds
        ):
            raise VidseqError(f"folds={folds}, fold={fold}: need folds >= 2 and 0 <= fold < folds.")
        part = _assign(groups, [1.0 / folds] * folds, rng)
        rest = [g for g, p in zip(groups, part) if p != fold]
        test_keys = {g[0] for g, p in zip(groups, part) if p == fold}
        val_share = val / (1.0 - 1.0 / folds)
        sub = _assign(rest, [1.0 - val_share, val_share], rng)
        val_keys = {g[0] for g, p in zip(rest, sub) if p == 1}
    else:
        if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
            raise VidseqError(
                f"val={val}, test={test}: each must be in [0, 1) and together below 1."
            )
        part = _assign(groups, [1.0 - val - test, val, test], rng)
        val_keys = {g[0] for g, p in zip(groups, part) if p == 1}
        test_keys = {g[0] for g, p in zip(groups, part) if p == 2}
    parts = (
        [it for it in items if group_key(it) not in val_keys and group_key(it) not in test_keys],
        [it for it in items if group_key(it) in val_keys],
        [it for it in items if group_key(it) in test_keys],
    )
    wanted = (True, val > 0, test > 0 or folds is not None)
    for name, chosen, want in zip(("train", "validation", "test"), parts, wanted):
        if want and not chosen:
            raise VidseqError(
                f"the {name} split is empty: {len(groups)} group(s) are too few for these fractions; "
                "lower val/test or use more source videos."
            )
    return parts


def group_key(item: Item) -> str:
    """The group an item belongs to: its own, or the file itself."""
    return item.group if item.group is not None else "file:" + item.path


def _group_table(items: Sequence[Item], num_classes: int) -> list[tuple[str, np.ndarray]]:
    """(group, items per class) for every group, in first-seen order."""
    table: dict[str, np.ndarray] = {}
    for it in items:
        table.setdefault(group_key(it), np.zeros(num_classes))[it.label] += 1
    return list(table.items())


def _assign(
    groups: list[tuple[str, np.ndarray]], fractions: Sequence[float], rng: np.random.Generator
) -> list[int]:
    """Greedy stratified assignment of whole groups to parts with the given size fractions."""
    order = rng.permutation(len(groups))
    order = sorted(
        order, key=lambda i: -groups[i][1].sum()
    )  # big groups first, random among equals
    total = sum(c for _, c in groups)
    target = np.array(fractions)[:, None] * total[None, :]
    have = np.zeros_like(target)
    part = [0] * len(groups)
    for i in order:
        counts = groups[i][1]
        deficit = target - have
        fit = np.minimum(counts[None, :], np.maximum(deficit, 0)).sum(1) / counts.sum()
        overall = deficit.sum(1) / np.maximum(target.sum(1), 1e-9)
        overall[np.array(fractions) == 0] = -np.inf
        best = max(range(len(fractions)), key=lambda p: (fit[p], overall[p]))
        part[i] = best
        have[best] += counts
    return part

"""Frozen-backbone feature cache: run a frozen per-frame CNN once per frame, then train the head on features.

A zoo model with a per-frame CNN is clip → `frames` (FrameEncoder around the CNN) → `head`. When
the CNN has no trainable weights, its output for a frame never changes, so `FeatureDataset`
computes it once for every frame a ClipDataset can draw (its pool candidates, or its fixed
evaluation frames) and serves (batch, frames, features) sequences with the same sample order,
random draws and labels as the clips would have. The head trains on them; because the head is
part of the full model, the saved model still takes raw clips.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

import keras
import numpy as np

from vidseq.data.cache import ClipCache
from vidseq.data.dataset import ClipDataset
from vidseq.data.transforms import unit_scale
from vidseq.errors import VideoDecodeError, VidseqError

log = logging.getLogger("vidseq")


def frame_cnn(model: keras.Model) -> keras.Model | None:
    """The per-frame CNN of a single-stream zoo model (None for clip networks and multi-stream models)."""
    names = {layer.name for layer in model.layers}
    return model.get_layer("frames").layer if {"frames", "head"} <= names else None


def is_frozen(cnn: keras.Model | None) -> bool:
    """Whether a per-frame CNN exists and has no trainable weights."""
    return cnn is not None and not cnn.trainable_weights


def fingerprint(cnn: keras.Model) -> str:
    """A digest of the CNN's architecture and weights: features computed by another CNN never match."""
    digest = hashlib.sha256(json.dumps(cnn.get_config(), sort_keys=True, default=str).encode())
    for weights in cnn.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def features_refusal(clips: ClipDataset, cnn: keras.Model | None) -> str | None:
    """Why `clips` cannot be served as cached features of `cnn` (None when they can)."""
    if not is_frozen(cnn):
        return "the model has no frozen per-frame CNN"
    if clips.augment:
        return "augmentation changes the pixels every epoch"
    if clips.mixup:
        return "mixup blends the clips of each batch"
    if clips.modalities not in (("rgb",), ("gray",)):
        return f"modality {'+'.join(clips.modalities)} is computed between frames"
    if clips.drawable(0) is None:  # random video frames without a pool (audio windows are fixed)
        return "random frames without a pool (pool=0) have no fixed set of frames"
    return None


@dataclass(frozen=True)
class FeatureJob:
    """The frames of one video whose features a dataset needs, and their cache keys (one per frame)."""

    item: int
    path: str
    indices: np.ndarray
    keys: tuple[tuple, ...]


def feature_keys(source, fingerprint: str, indices: np.ndarray) -> tuple[tuple, ...]:
    """The cache key of each frame's features: file identity, the CNN's fingerprint, the frame format,
    the index. Per frame, so a video's evaluation frames find the features its training pool computed."""
    return tuple(
        (*source.identity, "feature", fingerprint, *source.frame_format, int(i)) for i in indices
    )


def feature_jobs(clips: ClipDataset, fingerprint: str) -> list[FeatureJob]:
    """One job per usable video of `clips`: every frame its samples can draw in any epoch."""
    frames: dict[int, list[np.ndarray]] = {}
    for sample, s in enumerate(clips.samples):
        if not clips.is_quarantined(s.item):
            frames.setdefault(s.item, []).append(clips.drawable(sample))
    jobs = []
    for item, lists in frames.items():
        indices = np.unique(np.concatenate(lists))
        jobs.append(
            FeatureJob(
                item,
                clips.items[item].path,
                indices,
                feature_keys(clips.sources[item], fingerprint, indices),
            )
        )
    return jobs


def compute_features(cnn: keras.Model, pixels: np.ndarray, chunk: int = 64) -> np.ndarray:
    """The frozen CNN on uint8 frames (T, H, W, C), `chunk` frames at a time: float32 (T, features)."""
    scaled = unit_scale(pixels)
    return np.concatenate(
        [cnn.predict_on_batch(scaled[i : i + chunk]) for i in range(0, len(scaled), chunk)]
    ).astype(np.float32)


def cached_features(
    cnn: keras.Model,
    source,
    indices: np.ndarray,
    keys: tuple[tuple, ...],
    cache: ClipCache | None,
    chunk: int = 64,
) -> tuple[np.ndarray, int]:
    """(features (T, features) of a video's frames `indices`, frames computed): each frame's from
    `cache` when there (as a (1, features) entry), the rest decoded, computed and stored."""
    found = [cache.get(k) if cache is not None else None for k in keys]
    missing = [j for j, f in enumerate(found) if f is None]
    if missing:
        for j, row in zip(missing, compute_features(cnn, source.read(indices[missing]), chunk)):
            found[j] = row[None]
            if cache is not None:
                cache.put(keys[j], found[j], memory=False)  # the caller keeps the features it needs
    return np.concatenate(found), len(missing)


class FeatureDataset(keras.utils.PyDataset):
    """Batches of per-frame CNN features (batch, frames, features) for the samples of `clips`.

    Features are computed on construction for every frame `clips` can draw and kept per video;
    with `cache` (a ClipCache, e.g. the one with a disk directory that the clips use), each frame's
    are stored under its file identity, index, frame format and the CNN's fingerprint, so later
    runs (and other folds) reuse them.
    """

    def __init__(
        self, clips: ClipDataset, cnn: keras.Model, cache: ClipCache | None = None, chunk: int = 64
    ):
        super().__init__(workers=1)
        reason = features_refusal(clips, cnn)
        if reason:
            raise VidseqError(f"cannot train on cached features: {reason}; use --features off.")
        self.clips, self.cnn, self.cache, self.chunk = clips, cnn, cache, chunk
        self.fingerprint = fingerprint(cnn)
        self._frames: dict[int, np.ndarray] = {}  # video item → its sorted frame indices
        self._features: dict[int, np.ndarray] = {}  # video item → (frames, features) float32
        self._extract_all()

    def __len__(self) -> int:
        return self.clips.num_batches

    @property
    def videos(self) -> int:
        """Videos whose features are held."""
        return len(self._features)

    def on_epoch_end(self) -> None:
        """Advance the clips to their next epoch (new order, new random frames)."""
        self.clips.on_epoch_end()

    def set_epoch(self, epoch: int) -> None:
        """Go to `epoch`, as ClipDataset.set_epoch."""
        self.clips.set_epoch(epoch)

    def batch_samples(self, index: int) -> list[int]:
        """The samples of batch `index` in this epoch's order (the clips')."""
        return self.clips.batch_samples(index)

    def __getitem__(self, index: int):
        return self.batch_of(self.batch_samples(index), index)

    def batch_of(self, samples: list[int], index: int):
        """(features, labels) of `samples` (a batch, or one process's part of it)."""
        chosen, rows = [], []
        for s in samples:
            s, row = self.clips.load_or_substitute(s, self.sequence)
            chosen.append(s)
            rows.append(row)
        return np.stack(rows), self.clips.targets(chosen)

    def sequence(self, sample: int) -> np.ndarray:
        """(frames, features) of one sample in the current epoch."""
        item = self.clips.samples[sample].item
        if item not in self._features:
            raise VideoDecodeError(self.clips.items[item].path, "has no cached features")
        indices = self.clips.frame_indices(sample)
        return self._features[item][np.searchsorted(self._frames[item], indices)]

    def _extract_all(self) -> None:
        started, computed = time.time(), 0
        for job in feature_jobs(self.clips, self.fingerprint):
            self._frames[job.item] = job.indices
            try:
                computed += self._extract(job)
            except VideoDecodeError as e:
                self.clips.quarantine(job.item, e.reason)
        self.computed = computed
        log.info(
            "features: %d videos (%d frames computed, the rest from the cache) in %.1f s",
            len(self._features),
            computed,
            time.time() - started,
        )

    def _extract(self, job: FeatureJob) -> int:
        """Features of a video's frames, each from the cache or computed; returns the frames computed."""
        source = self.clips.sources[job.item]
        self._features[job.item], computed = cached_features(
            self.cnn, source, job.indices, job.keys, self.cache, self.chunk
        )
        return computed

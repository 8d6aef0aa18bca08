"""ClipDataset: a keras PyDataset of clip batches shaped (batch, frames, H, W, C)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import keras
import numpy as np

from vidseq.data.cache import DEFAULT_CACHE, ClipCache
from vidseq.data.catalog import Catalog, Item
from vidseq.data.mixup import check_mixup, mixup
from vidseq.data.motion import as_modality
from vidseq.data.quarantine import Quarantine, Report
from vidseq.data.samples import DEFAULT_POOL, FrameChoice, Sample, sample_table
from vidseq.data.sampling import Sampler, get_sampler
from vidseq.data.sources import AudioSource, VideoSource, open_source
from vidseq.data.spec import ClipSpec
from vidseq.data.transforms import unit_scale
from vidseq.errors import VideoDecodeError, VidseqError

NO_CLIP_LEFT = "no readable video is left in this dataset; see the quarantine list above."


class ClipDataset(keras.utils.PyDataset):
    """Batches of clips from labelled items (a Catalog) or unlabelled paths.

    `x` is float32 in [0, 1] (or uint8 with `dtype="uint8"`), shaped (batch, frames, H, W, C), a
    dict keyed by modality when there are several (the input names of the `two-stream` model); `y`
    is one-hot (or integer with `one_hot=False`); unlabelled paths yield `x` alone. Every sample's
    order, frames and augmentation depend only on (seed, epoch, sample). A file that fails is
    quarantined (data.quarantine): logged once, replaced in its batch by another sample, listed in
    `report`; more than `max_bad` of the files failing is an error.

    Args:
        items: a Catalog, or paths of unlabelled files.
        frames, size, resize, gray, modality, audio_norm: the clips (see ClipSpec).
        batch_size: clips per batch; the last partial batch is kept.
        sampler: "uniform", "sliding", another registered name, or a Sampler object.
        shuffle: a new sample order every epoch (also turns `random_frames` on by default).
        augment: a clip-consistent preset (augment.PRESETS for video, AUDIO_PRESETS for audio)
            drawn anew per sample and epoch, or False.
        random_frames: a random frame per segment (training) instead of the sampler's fixed positions.
        views: evaluation clips per video at evenly spread offsets.
        one_hot, dtype: label and pixel formats ("float32" in [0, 1] or "uint8").
        short: a video shorter than the clip: "repeat" its frames evenly, or "skip" (quarantine) it.
        cache: a ClipCache or a byte budget ("512MB"; "auto" is a quarter of the free memory) for
            decoded frames; None turns it off.
        cache_dir: a disk store behind the cache, reused by later runs.
        pool: training draws each segment's frame from `pool` fixed candidates (0: any frame), so
            after a few epochs every draw is a cache hit.
        max_bad: the fraction of files that may fail before it is an error.
        mixup: alpha > 0 blends each sample with another of its batch (data.mixup).
        workers, use_multiprocessing, max_queue_size: Keras' loader settings (threads by default).
    """

    def __init__(
        self,
        items: Catalog | Sequence[str],
        frames: int = 8,
        size: int | str | tuple[int, int] = (112, 112),
        batch_size: int = 8,
        sampler: str | Sampler = "uniform",
        shuffle: bool = True,
        augment: bool | str = False,
        random_frames: bool | None = None,
        views: int = 1,
        one_hot: bool = True,
        dtype: str = "float32",
        resize: str = "crop",
        gray: bool = False,
        short: str = "repeat",
        modality: str | Sequence[str] = "rgb",
        cache: ClipCache | int | str | None = DEFAULT_CACHE,
        cache_dir: str | None = None,
        pool: int = DEFAULT_POOL,
        max_bad: float = 0.1,
        seed: int = 0,
        workers: int = 2,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        audio_norm: str = "band",
        mixup: float = 0.0,
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        _check_settings(batch_size, views, short, dtype, mixup, one_hot)
        spec = self.spec = ClipSpec.of(frames, size, resize, gray, modality, audio_norm)
        self.frames, self.size, self.modalities = spec.frames, spec.size, spec.modalities
        labelled = isinstance(items, Catalog)
        self.catalog = items if labelled else None
        self.items: list[Item] = list(
            items.items if labelled else (Item(str(p), -1) for p in items)
        )
        self.classes = list(items.classes) if labelled else []
        self.batch_size, self.shuffle, self.views = batch_size, shuffle, views
        self.augment, self.mixup = augment, mixup
        self.one_hot, self.dtype, self.seed = one_hot, dtype, seed
        self.sampler = get_sampler(sampler)
        random = shuffle if random_frames is None else random_frames
        self.choice = FrameChoice(self.sampler, self.spec.read_frames, random, pool, views, seed)
        own = not isinstance(cache, ClipCache) and cache is not None
        self.cache = ClipCache(cache, cache_dir) if own else cache
        self.quarantined = Quarantine(len(self.items), max_bad)
        self.report: Report = self.quarantined.report
        self.sources = self._sources(short)
        infos = {i: getattr(s, "info", None) for i, s in self.sources.items()}
        self.samples: list[Sample] = sample_table(infos, self.sampler, self.frames, views)
        if not self.samples:
            self.quarantined.fail(VidseqError(NO_CLIP_LEFT))
        self.set_epoch(0)

    @property
    def random_frames(self) -> bool:
        """Whether training draws random frames (else the sampler's fixed positions)."""
        return self.choice.random

    @property
    def pool(self) -> int:
        """Fixed candidates per segment that random draws choose from (0: the whole segment)."""
        return self.choice.pool

    def _sources(self, short: str) -> dict[int, VideoSource | AudioSource]:
        """A clip source per usable item; the others quarantined (probing on the loader threads)."""
        with ThreadPoolExecutor(max(1, self.workers)) as threads:
            opened = list(
                threads.map(lambda item: open_source(item.path, self.spec, self.cache), self.items)
            )
        sources: dict[int, VideoSource | AudioSource] = {}
        for i, (item, source) in enumerate(zip(self.items, opened)):
            if isinstance(source, str):
                self.quarantined.add(item.path, source)
                continue
            if isinstance(source, VideoSource) and source.info.frames < self.frames:
                if short == "skip":
                    self.quarantined.add(
                        item.path, f"has {source.info.frames} frames, fewer than {self.frames}"
                    )
                    continue
                self.report.short.append(item.path)
            sources[i] = source
        return sources

    # ---- epochs ---------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Go to `epoch`: its sample order and random draws depend only on (seed, epoch)."""
        self.epoch = epoch
        self._order = np.arange(len(self.samples))
        if self.shuffle:
            np.random.default_rng((self.seed, epoch)).shuffle(self._order)

    def on_epoch_end(self) -> None:
        """Advance to the next epoch (new order, new random frames)."""
        self.set_epoch(self.epoch + 1)

    @property
    def num_batches(self) -> int:
        """Batches per epoch; the last partial batch is kept."""
        return math.ceil(len(self.samples) / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def batch_samples(self, index: int) -> list[int]:
        """The samples of batch `index` in this epoch's order."""
        if not 0 <= index < self.num_batches:
            raise IndexError(f"batch {index} out of range ({self.num_batches} batches)")
        return [
            int(s) for s in self._order[index * self.batch_size : (index + 1) * self.batch_size]
        ]

    # ---- batches --------------------------------------------------------------------------
    def __getitem__(self, index: int):
        return self.batch_of(self.batch_samples(index), index)

    def batch_of(self, samples: Sequence[int], index: int):
        """The batch of `samples` (all of batch `index`, or one process's part of it)."""
        clips, chosen = [], []
        for s in samples:
            s, clip = self.load_or_substitute(s)
            clips.append(self.streams(clip))
            chosen.append(s)
        scale = unit_scale if self.dtype == "float32" else (lambda a: a)
        x = {m: scale(np.stack([c[m] for c in clips])) for m in self.modalities}
        x = x[self.modalities[0]] if len(x) == 1 else x
        if self.catalog is None:
            return (x,)
        y = self.targets(chosen)
        return (
            mixup(x, y, np.random.default_rng((self.seed, self.epoch, index, 2)), self.mixup)
            if self.mixup
            else (x, y)
        )

    def targets(self, samples: Sequence[int]) -> np.ndarray:
        """The labels of `samples`: one-hot float32, or int64 with `one_hot=False`."""
        y = np.array([self.items[self.samples[s].item].label for s in samples], dtype=np.int64)
        return (
            keras.utils.to_categorical(y, len(self.classes)).astype(np.float32)
            if self.one_hot
            else y
        )

    def streams(self, clip: np.ndarray) -> dict[str, np.ndarray]:
        """The clip as each of the dataset's modalities."""
        return {m: as_modality(clip, m, self.frames) for m in self.modalities}

    def load(self, sample: int) -> np.ndarray:
        """The uint8 clip of one sample in this epoch (raises VideoDecodeError)."""
        source = self.sources[self.samples[sample].item]
        rng = np.random.default_rng((self.seed, self.epoch, sample, 1)) if self.augment else None
        if isinstance(source, AudioSource):
            return source.clip(self.augment, rng)
        return source.clip(self.frame_indices(sample), self.augment, rng)

    def frame_indices(self, sample: int) -> np.ndarray:
        """The frames a video sample reads this epoch."""
        s = self.samples[sample]
        return self.choice.indices(self.sources[s.item].info, s, sample, self.epoch)

    def drawable(self, sample: int) -> np.ndarray | None:
        """Every frame a video sample can read in any epoch (see FrameChoice.drawable)."""
        s = self.samples[sample]
        return self.choice.drawable(self.sources[s.item].info, s)

    def sample_items(self) -> np.ndarray:
        """Item index of every sample, in unshuffled order (for grouping predictions per video)."""
        return np.array([s.item for s in self.samples])

    def warm(self) -> None:
        """Decode and cache every frame this dataset can draw (all pool candidates, or each
        sample's fixed frames), e.g. to fill a disk cache before training."""
        for sample, s in enumerate(self.samples):
            if self.is_quarantined(s.item):
                continue
            source = self.sources[s.item]
            try:
                if isinstance(source, AudioSource):
                    source.image()
                    continue
                indices = self.drawable(sample)
                source.read(self.frame_indices(sample) if indices is None else indices)
            except VideoDecodeError as e:
                self.quarantine(s.item, e.reason)

    # ---- failures -------------------------------------------------------------------------
    def load_or_substitute(
        self, sample: int, load: Callable[[int], np.ndarray] | None = None
    ) -> tuple[int, np.ndarray]:
        """(sample, `load(sample)`), or another sample's when its file fails (then quarantined)."""
        load = load or self.load
        rng = np.random.default_rng((self.seed, self.epoch, sample, 2))
        for _ in range(len(self.samples)):
            item = self.samples[sample].item
            if not self.is_quarantined(item):
                try:
                    return sample, load(sample)
                except VideoDecodeError as e:
                    self.quarantine(item, e.reason)
            sample = int(rng.integers(len(self.samples)))
        self.quarantined.fail(VidseqError(NO_CLIP_LEFT))

    def is_quarantined(self, item: int) -> bool:
        """Whether item `item` failed and is no longer used."""
        return self.items[item].path in self.quarantined

    def quarantine(self, item: int, reason: str) -> None:
        """Stop using item `item` (see Quarantine.add)."""
        self.quarantined.add(self.items[item].path, reason)

    @property
    def failure(self) -> VidseqError | None:
        """The error that stopped this dataset (too many failed files), if any."""
        return self.quarantined.failure


def _check_settings(
    batch_size: int, views: int, short: str, dtype: str, alpha: float, one_hot: bool
) -> None:
    """The batch settings of a ClipDataset, with "Received: ..." errors."""
    if batch_size < 1 or views < 1:
        raise VidseqError(
            f"batch_size and views must be >= 1. Received: batch_size={batch_size}, views={views}"
        )
    if short not in ("repeat", "skip"):
        raise VidseqError(
            f"short must be 'repeat' (repeat frames evenly) or 'skip'. Received: short={short!r}"
        )
    if dtype not in ("float32", "uint8"):
        raise VidseqError(
            f"dtype must be 'float32' (scaled to [0, 1]) or 'uint8'. Received: dtype={dtype!r}"
        )
    if check_mixup(alpha) and (not one_hot or dtype != "float32"):
        raise VidseqError(
            f"mixup blends labels and pixels: it needs one_hot=True and dtype='float32'. "
            f"Received: mixup={alpha!r}, one_hot={one_hot}, dtype={dtype!r}"
        )

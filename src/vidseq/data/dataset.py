"""ClipDataset: a keras PyDataset of clip batches shaped (batch, frames, H, W, C)."""

from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import keras
import numpy as np

from vidseq.data.audio import check_norm, is_audio, read_audio, spectrogram_image, spectrogram_windows
from vidseq.data.augment import augment_clip, augment_spectrogram, check_mixup, mixup
from vidseq.data.cache import ClipCache
from vidseq.data.catalog import Catalog, Item
from vidseq.data import decode
from vidseq.data.decode import VideoReader
from vidseq.data.motion import MODALITIES, MOTION, as_modality
from vidseq.data.probe import VideoInfo, probe
from vidseq.data.sampling import Sampler, get_sampler
from vidseq.data.transforms import parse_size, unit_scale
from vidseq.errors import VideoDecodeError, VidseqError

log = logging.getLogger("vidseq")


@dataclass
class Report:
    """What the dataset noticed: files it quarantined (path → reason) and short videos."""

    quarantined: dict[str, str] = field(default_factory=dict)
    short: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines (empty when nothing happened)."""
        out = [f"quarantined {p}: {r}" for p, r in self.quarantined.items()]
        if self.short:
            out.append(f"{len(self.short)} video(s) had fewer frames than asked; their frames were repeated evenly")
        return out


class ClipDataset(keras.utils.PyDataset):
    """Batches of clips from labelled items (a Catalog) or unlabelled paths.

    `x` is float32 in [0, 1] (or uint8 with `dtype="uint8"`), shaped (batch, frames, H, W, C);
    `y` is one-hot (or integer with `one_hot=False`); unlabelled paths yield `x` alone. Training
    mode (`random_frames`, default = `shuffle`) draws a random frame per segment; otherwise the
    sampler's deterministic positions are used, with `views` clips per video at evenly spread
    offsets. A file that fails to decode is quarantined: logged once, replaced in its batch by
    another item and listed in `report`; more than `max_bad` of the files failing is an error.
    `augment` names a clip-consistent image preset for video (augment.PRESETS) or a spectrogram
    preset for audio files (augment.AUDIO_PRESETS), drawn anew per sample and epoch; `mixup` > 0
    blends each training sample with another of its batch (augment.mixup, Beta(mixup, mixup)
    weights, labels alike; one-hot float32 batches only). An audio
    file's windows are spread over its sound, each band relative to its mean (`audio_norm="band"`,
    see audio.normalise_bands), or over its first second as it is (`"peak"`).

    Caching: decoded, resized frames are kept in `cache` (a ClipCache, or a byte budget such as
    "512MB"; `cache_dir` adds a disk store that later runs reuse), keyed by file identity (path,
    size, mtime), frame index and `frame_format` (size, resize mode, colour mode, resize filter);
    a clip decodes only its frames that are not cached yet. With `pool` > 0 a training clip draws
    each segment's frame from `pool` fixed candidates, so after a few epochs every draw is a cache
    hit and the sampling stays random; with `pool=0` frames are drawn from the whole segment.

    `modality` picks what a clip shows: "rgb", "gray", "flow" (Farneback dx, dy between
    consecutive sampled frames), "diff" (absolute difference), "flow-mask", "diff-mask"; motion
    modalities sample one frame more. Several modalities (e.g. ("rgb", "flow")) make `x` a dict
    keyed by modality, the input names of the `two-stream` model. `workers` threads (2 by default) load
    batches while the model trains; with 1, Keras loads each batch between training steps.
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
        cache: ClipCache | int | str | None = "512MB",
        cache_dir: str | None = None,
        pool: int = 0,
        max_bad: float = 0.1,
        seed: int = 0,
        workers: int = 2,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        audio_norm: str = "band",
        mixup: float = 0.0,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        if batch_size < 1 or views < 1:
            raise VidseqError(f"batch_size and views must be >= 1 (got {batch_size}, {views}).")
        if short not in ("repeat", "skip"):
            raise VidseqError(f"short={short!r}: use 'repeat' (repeat frames evenly) or 'skip'.")
        if dtype not in ("float32", "uint8"):
            raise VidseqError(f"dtype={dtype!r}: use 'float32' (scaled to [0, 1]) or 'uint8'.")
        self.mixup = check_mixup(mixup)
        if mixup and (not one_hot or dtype != "float32"):
            raise VidseqError(f"mixup={mixup!r} blends labels and pixels: it needs one_hot=True and dtype='float32'.")
        self.audio_norm = check_norm(audio_norm)
        self.modalities = (modality,) if isinstance(modality, str) else tuple(modality)
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown or not self.modalities:
            raise VidseqError(f"modality {unknown or modality!r} is unknown; use one or more of {', '.join(MODALITIES)}.")
        labelled = isinstance(items, Catalog)
        self.catalog = items if labelled else None
        self.items: list[Item] = list(items.items) if labelled else [Item(str(p), -1) for p in items]
        self.classes = list(items.classes) if labelled else []
        self.frames, self.size, self.batch_size = frames, parse_size(size), batch_size
        self._read_frames = frames + (1 if MOTION & set(self.modalities) else 0)
        self.sampler = get_sampler(sampler)
        self.shuffle, self.augment = shuffle, augment
        self.random_frames = shuffle if random_frames is None else random_frames
        self.views, self.one_hot, self.dtype = views, one_hot, dtype
        self.resize, self.gray, self.max_bad, self.seed = resize, gray, max_bad, seed
        self.cache = cache if isinstance(cache, ClipCache) or cache is None else ClipCache(cache, cache_dir)
        self.pool = pool if hasattr(self.sampler, "pool") else 0
        self.report = Report()
        self._lock = threading.Lock()
        self._infos: dict[int, VideoInfo] = {}
        self._identity: dict[int, tuple] = {}
        self._bad: set[int] = set()
        self.samples = self._build_samples(short)
        if not self.samples:
            raise VidseqError("no readable video is left in this dataset; see the quarantine list above.")
        self.set_epoch(0)

    # ---- sample table ---------------------------------------------------------------------
    def _build_samples(self, short: str) -> list[tuple[int, int, int]]:
        samples = []
        with ThreadPoolExecutor(max(1, self.workers)) as pool:  # probing demuxes whole files: share it
            probed = list(pool.map(probe_file, (item.path for item in self.items)))
        for i, (item, result) in enumerate(zip(self.items, probed)):
            if isinstance(result, str):
                self.quarantine(i, result)
                continue
            info, st = result
            self._identity[i] = (item.path, st.st_size, st.st_mtime_ns)
            if info is None:  # audio: one spectrogram sequence per file
                samples += [(i, 0, v) for v in range(self.views)]
                continue
            if info.frames < self.frames:
                if short == "skip":
                    self.quarantine(i, f"has {info.frames} frames, fewer than {self.frames}")
                    continue
                self.report.short.append(item.path)
            self._infos[i] = info
            n = self.sampler.windows(info, self.frames)
            samples += [(i, w, v) for w in range(n) for v in range(self.views)]
        return samples

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

    def __getstate__(self) -> dict:
        """Picklable for process workers (each keeps its own quarantine list and memory cache)."""
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def identity(self, item_idx: int) -> tuple:
        """(path, size, mtime) of an item: the start of its cache keys."""
        return self._identity[item_idx]

    @property
    def frame_format(self) -> tuple:
        """(size, resize, gray, resampling): how decoded frames are made; part of every cache key."""
        return self.size, self.resize, self.gray, decode.RESAMPLING

    def is_quarantined(self, item_idx: int) -> bool:
        """Whether item `item_idx` failed and is no longer used."""
        return item_idx in self._bad

    def sample_items(self) -> np.ndarray:
        """Item index of every sample, in unshuffled order (for grouping predictions per video)."""
        return np.array([s[0] for s in self.samples])

    # ---- loading --------------------------------------------------------------------------
    def __getitem__(self, index: int):
        clips, chosen = [], []
        for s in self.batch_samples(index):
            s, clip = self.load_or_substitute(s)
            clips.append(self.streams(clip))
            chosen.append(s)
        scale = unit_scale if self.dtype == "float32" else (lambda a: a)
        x = {m: scale(np.stack([c[m] for c in clips])) for m in self.modalities}
        x = x[self.modalities[0]] if len(x) == 1 else x
        if self.catalog is None:
            return (x,)
        y = self.targets(chosen)
        return mixup(x, y, np.random.default_rng((self.seed, self.epoch, index, 2)), self.mixup) if self.mixup else (x, y)

    def batch_samples(self, index: int) -> list[int]:
        """The samples of batch `index` in this epoch's order."""
        if not 0 <= index < self.num_batches:
            raise IndexError(f"batch {index} out of range ({self.num_batches} batches)")
        return [int(s) for s in self._order[index * self.batch_size : (index + 1) * self.batch_size]]

    def targets(self, samples: Sequence[int]) -> np.ndarray:
        """The labels of `samples`: one-hot float32, or int64 with `one_hot=False`."""
        y = np.array([self.items[self.samples[s][0]].label for s in samples], dtype=np.int64)
        return keras.utils.to_categorical(y, len(self.classes)).astype(np.float32) if self.one_hot else y

    def load(self, sample: int) -> np.ndarray:
        """The uint8 clip of one sample (raises VideoDecodeError)."""
        item_idx = self.samples[sample][0]
        augment_rng = np.random.default_rng((self.seed, self.epoch, sample, 1)) if self.augment else None
        if item_idx not in self._infos:
            return self._audio(item_idx, augment_rng)
        clip = self.read(item_idx, self.frame_indices(sample))
        return clip if augment_rng is None else augment_clip(clip, augment_rng, self.augment)

    def frame_indices(self, sample: int) -> np.ndarray:
        """The frames a video sample reads this epoch: random draws depend only on (seed, epoch, sample)."""
        item_idx, window, view = self.samples[sample]
        info = self._infos[item_idx]
        if not self.random_frames:
            return self._fixed_indices(info, window, view)
        rng = np.random.default_rng((self.seed, self.epoch, sample))
        n = self._read_frames
        if self.pool:
            return self.sampler.pool(info, n, self.pool)[np.arange(n), rng.integers(0, self.pool, n)]
        return self.sampler.indices(info, n, window, rng=rng)

    def drawable(self, sample: int) -> np.ndarray | None:
        """Every frame a video sample can read in any epoch (sorted), or None when that is not a
        fixed set (random frames without a pool)."""
        item_idx, window, view = self.samples[sample]
        info = self._infos[item_idx]
        if not self.random_frames:
            return np.unique(self._fixed_indices(info, window, view))
        return np.unique(self.sampler.pool(info, self._read_frames, self.pool)) if self.pool else None

    def warm(self) -> None:
        """Decode and cache every frame this dataset can draw (all pool candidates, or each
        sample's deterministic frames), e.g. to fill a disk cache before training."""
        for sample, (item_idx, _, _) in enumerate(self.samples):
            if item_idx in self._bad:
                continue
            try:
                if item_idx not in self._infos:
                    self._audio(item_idx)
                    continue
                indices = self.drawable(sample)
                self.read(item_idx, self.frame_indices(sample) if indices is None else indices)
            except VideoDecodeError as e:
                self.quarantine(item_idx, e.reason)

    def _fixed_indices(self, info: VideoInfo, window: int, view: int) -> np.ndarray:
        """Evaluation frames of a sample: view `view` of `views`, evenly offset within the segments."""
        return self.sampler.indices(info, self._read_frames, window, offset=(view + 0.5) / self.views)

    def streams(self, clip: np.ndarray) -> dict[str, np.ndarray]:
        """The clip as each of the dataset's modalities."""
        return {m: as_modality(clip, m, self.frames) for m in self.modalities}

    def _audio(self, item_idx: int, augment_rng: np.random.Generator | None = None) -> np.ndarray:
        """An audio item as `frames` spectrogram windows sized `size` = (mel bands, columns); the
        log-mel image is cached, and augmented (`augment_rng`) before it is normalised and cut."""
        mels, width = self.size
        key = (*self._identity[item_idx], "log-mel", mels)
        image = self.cache.get(key) if self.cache is not None else None
        if image is None:
            image = spectrogram_image(self.items[item_idx].path, mels)
            if self.cache is not None:
                self.cache.put(key, image)
        if augment_rng is not None:
            image = augment_spectrogram(image, augment_rng, self.augment)
        return spectrogram_windows(image, self.frames, width, self.audio_norm)

    def read(self, item_idx: int, indices: np.ndarray) -> np.ndarray:
        """uint8 frames `indices` of video item `item_idx`; each frame through the cache, the missing ones decoded in one pass."""
        info = self._infos[item_idx]
        if self.cache is None:
            return VideoReader(info.path, self.size, self.resize, self.gray, info=info).read(indices)
        keys = {int(i): (*self._identity[item_idx], int(i), *self.frame_format) for i in indices}
        frames = {i: self.cache.get(k) for i, k in keys.items()}
        missing = sorted(i for i, f in frames.items() if f is None)
        if missing:
            decoded = VideoReader(info.path, self.size, self.resize, self.gray, info=info).read(missing)
            for i, frame in zip(missing, decoded):
                frames[i] = frame[None]
                self.cache.put(keys[i], frames[i])
        return np.concatenate([frames[int(i)] for i in indices])

    def load_or_substitute(self, sample: int, load: Callable[[int], np.ndarray] | None = None) -> tuple[int, np.ndarray]:
        """(sample, `load(sample)`), or another sample's when its file fails (then quarantined)."""
        load = load or self.load
        rng = np.random.default_rng((self.seed, self.epoch, sample, 2))
        for _ in range(len(self.samples)):
            item_idx = self.samples[sample][0]
            if item_idx not in self._bad:
                try:
                    return sample, load(sample)
                except VideoDecodeError as e:
                    self.quarantine(item_idx, e.reason)
            sample = int(rng.integers(len(self.samples)))
        raise VidseqError("no readable video is left in this dataset; see the quarantine list above.")

    def quarantine(self, item_idx: int, reason: str) -> None:
        """Stop using item `item_idx`: log the reason once and list it in `report`."""
        with self._lock:
            if item_idx in self._bad:
                return
            self._bad.add(item_idx)
            path = self.items[item_idx].path
            self.report.quarantined[path] = reason
            log.warning("quarantined %s: %s", path, reason)
            check_bad_fraction(self.report.quarantined, len(self.items), self.max_bad)


def probe_file(path: str, decode_audio: bool = False) -> tuple[VideoInfo | None, os.stat_result] | str:
    """(probe of a video or None for audio, its stat), or the reason it cannot be used; with
    `decode_audio`, an audio file is decoded once to check it."""
    try:
        if is_audio(path) and decode_audio:
            read_audio(path)
        return (None if is_audio(path) else probe(path)), os.stat(path)
    except VideoDecodeError as e:
        return e.reason
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"


def check_bad_fraction(bad: dict[str, str], total: int, max_bad: float) -> None:
    """Raise a VidseqError listing the bad files when more than `max_bad` of `total` failed."""
    if len(bad) > max_bad * total:
        listed = "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:5])
        raise VidseqError(
            f"{len(bad)} of {total} files failed to decode (more than max_bad={max_bad:.0%}): "
            f"{listed}{' …' if len(bad) > 5 else ''}. Fix or remove them, or raise max_bad."
        )

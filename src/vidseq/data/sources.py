"""Clip sources: how one item (a video or an audio file) becomes a uint8 clip, through the clip cache."""

from __future__ import annotations

import os

import numpy as np

from vidseq.data.audio import is_audio, spectrogram_image, spectrogram_windows
from vidseq.data.augment import augment_clip, augment_spectrogram
from vidseq.data.cache import ClipCache
from vidseq.data.decode import VideoReader
from vidseq.data.probe import VideoInfo, probe
from vidseq.data.spec import ClipSpec
from vidseq.errors import VideoDecodeError


def open_source(
    path: str, spec: ClipSpec, cache: ClipCache | None
) -> "VideoSource | AudioSource | str":
    """The clip source of one file (a video is probed; audio is decoded when first read), or the
    reason it cannot be used."""
    try:
        source = (
            AudioSource(path, (), spec, cache)
            if is_audio(path)
            else VideoSource(probe(path), (), spec, cache)
        )
        st = os.stat(path)
    except VideoDecodeError as e:
        return e.reason
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    source.identity = (path, st.st_size, st.st_mtime_ns)
    return source


class VideoSource:
    """A video's decoded, resized frames by index; each frame kept in the cache under the file's
    identity (path, size, mtime), its index and the spec's frame format, so a clip decodes only the
    frames not cached yet."""

    def __init__(self, info: VideoInfo, identity: tuple, spec: ClipSpec, cache: ClipCache | None):
        self.info, self.identity, self.spec, self.cache = info, identity, spec, cache

    @property
    def frame_format(self) -> tuple:
        """How this source's frames are made: part of the cache key of each one's features."""
        return self.spec.frame_format

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 frames `indices` (T, H, W, C); the missing ones decoded in one pass."""
        spec = self.spec
        if self.cache is None:
            return self._reader().read(indices)
        keys = {int(i): (*self.identity, int(i), *spec.frame_format) for i in indices}
        frames = {i: self.cache.get(k) for i, k in keys.items()}
        missing = sorted(i for i, f in frames.items() if f is None)
        if missing:
            for i, frame in zip(missing, self._reader().read(missing)):
                frames[i] = frame[None]
                self.cache.put(keys[i], frames[i])
        return np.concatenate([frames[int(i)] for i in indices])

    def clip(
        self,
        indices: np.ndarray,
        augment: str | bool = False,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """The frames `indices`, with one clip-consistent augmentation drawn from `rng` when asked."""
        clip = self.read(indices)
        return augment_clip(clip, rng, augment) if augment and rng is not None else clip

    def _reader(self) -> VideoReader:
        spec = self.spec
        return VideoReader(self.info.path, spec.size, spec.resize, spec.gray, info=self.info)


class AudioSource:
    """An audio file as `frames` spectrogram windows sized `size` = (mel bands, columns); the log-mel
    image is cached, and augmented before it is normalised and cut. Without augmentation, window i
    is fixed: `read` gives windows by index, as a video gives frames (for the feature cache)."""

    info = None  # no probe: a sample reads every window (data.samples.FrameChoice)

    def __init__(self, path: str, identity: tuple, spec: ClipSpec, cache: ClipCache | None):
        self.path, self.identity, self.spec, self.cache = path, identity, spec, cache

    @property
    def frame_format(self) -> tuple:
        """How the windows are made (their count and normalisation move each one's columns)."""
        return (*self.spec.frame_format, self.spec.frames, self.spec.audio_norm)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """The unaugmented windows `indices` (T, mels, width, 1)."""
        return self.clip()[np.asarray(indices, dtype=int)]

    def image(self) -> np.ndarray:
        """The uint8 log-mel image (mels, columns) of the file's first second, cached."""
        mels = self.spec.size[0]
        key = (*self.identity, "log-mel", mels)
        image = self.cache.get(key) if self.cache is not None else None
        if image is None:
            image = spectrogram_image(self.path, mels)
            if self.cache is not None:
                self.cache.put(key, image)
        return image

    def clip(
        self, augment: str | bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """(frames, mels, width, 1) windows, from an augmented image when asked."""
        image = self.image()
        if augment and rng is not None:
            image = augment_spectrogram(image, rng, augment)
        return spectrogram_windows(image, self.spec.frames, self.spec.size[1], self.spec.audio_norm)

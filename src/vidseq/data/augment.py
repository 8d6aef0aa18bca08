"""Clip-consistent augmentation: one random geometric and colour transform per clip, every frame alike."""

from __future__ import annotations

import cv2
import numpy as np

from vidseq.data.audio import DYNAMIC_RANGE_DB
from vidseq.errors import VidseqError

# name → (zoom, rotation degrees, shift fraction, horizontal flip, brightness/contrast)
PRESETS = {
    "standard": (0.1, 8.0, 0.1, True, 0.2),
    "no-flip": (0.1, 8.0, 0.1, False, 0.2),
    "light": (0.05, 4.0, 0.05, False, 0.1),
}


def augment_clip(
    clip: np.ndarray, rng: np.random.Generator, preset: bool | str = "standard"
) -> np.ndarray:
    """Apply one random transform (drawn from `preset`) to every frame of a uint8 clip (T, H, W, C)."""
    name = "standard" if preset is True else preset
    if name not in PRESETS:
        raise VidseqError(
            f"augmentation {preset!r} is unknown; use one of {', '.join(PRESETS)} (or False)."
        )
    zoom, degrees, shift, flip, colour = PRESETS[name]
    t, h, w, c = clip.shape
    scale = rng.uniform(1 - zoom, 1 + zoom)
    angle = rng.uniform(-degrees, degrees)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-shift, shift, 2) * (w, h)
    if flip and rng.random() < 0.5:
        matrix[0] = -matrix[0]
        matrix[0, 2] += w - 1
    gain, bias = rng.uniform(1 - colour, 1 + colour), rng.uniform(-colour, colour) * 128
    warped = np.stack(
        [
            cv2.warpAffine(
                clip[i], matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            ).reshape(h, w, c)
            for i in range(t)
        ]
    )
    return np.clip(warped * np.float32(gain) + np.float32(bias), 0, 255).astype(np.uint8)


# name → (frequency warp, tempo stretch, largest frequency mask, largest time mask: fractions;
#         largest gain of a random equaliser curve over the bands, dB)
AUDIO_PRESETS = {
    "audio": (0.12, 0.15, 0.15, 0.1, 0.0),
    "audio-light": (0.06, 0.08, 0.1, 0.05, 0.0),
    "audio-eq": (0.12, 0.15, 0.15, 0.1, 8.0),
}


def augment_spectrogram(
    image: np.ndarray, rng: np.random.Generator, preset: bool | str = "audio"
) -> np.ndarray:
    """One random transform of a uint8 log-mel image (mels, columns): a vocal-tract-length warp of
    the frequency axis, a tempo stretch, a random placement of the sound in time, and
    SpecAugment-style frequency and time masks; "audio-eq" adds a smooth random gain per band
    (a different microphone)."""
    name = "audio" if preset is True else preset
    if name not in AUDIO_PRESETS:
        raise VidseqError(
            f"augmentation {preset!r} is for video, not audio; use one of {', '.join(AUDIO_PRESETS)} (or none)."
        )
    warp, stretch, freq_mask, time_mask, eq_db = AUDIO_PRESETS[name]
    mels, cols = image.shape
    h = max(1, round(mels * rng.uniform(1 - warp, 1 + warp)))
    w = max(1, round(cols * rng.uniform(1 - stretch, 1 + stretch)))
    scaled = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)[:mels]
    sound = np.flatnonzero(scaled.max(axis=0))
    content = scaled[:, sound[0] : sound[-1] + 1][:, :cols] if sound.size else scaled[:, :0]
    out = np.zeros_like(image)
    start = int(rng.integers(0, cols - content.shape[1] + 1))
    out[: content.shape[0], start : start + content.shape[1]] = content
    out[_band(rng, mels, freq_mask)] = 0
    out[:, _band(rng, cols, time_mask)] = 0
    if eq_db:
        gain = np.interp(
            np.arange(mels), np.linspace(0, mels - 1, 5), rng.uniform(-eq_db, eq_db, 5)
        )
        levels = out + (gain * 255.0 / DYNAMIC_RANGE_DB)[:, None]
        out = np.where(out > 0, np.clip(levels, 1, 255), 0).astype(np.uint8)
    return out


def _band(rng: np.random.Generator, length: int, fraction: float) -> slice:
    """A random run of up to `fraction` of `length` positions (possibly empty)."""
    size = int(rng.integers(0, int(fraction * length) + 1))
    first = int(rng.integers(0, length - size + 1))
    return slice(first, first + size)

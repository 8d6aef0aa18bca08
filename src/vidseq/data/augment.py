"""Clip-consistent augmentation: one random geometric and colour transform per clip, every frame alike."""

from __future__ import annotations

import cv2
import numpy as np

from vidseq.errors import VidseqError

# name → (zoom, rotation degrees, shift fraction, horizontal flip, brightness/contrast)
PRESETS = {
    "standard": (0.1, 8.0, 0.1, True, 0.2),
    "no-flip": (0.1, 8.0, 0.1, False, 0.2),
    "light": (0.05, 4.0, 0.05, False, 0.1),
}


def augment_clip(clip: np.ndarray, rng: np.random.Generator, preset: bool | str = "standard") -> np.ndarray:
    """Apply one random transform (drawn from `preset`) to every frame of a uint8 clip (T, H, W, C)."""
    name = "standard" if preset is True else preset
    if name not in PRESETS:
        raise VidseqError(f"augmentation {preset!r} is unknown; use one of {', '.join(PRESETS)} (or False).")
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
    warped = np.stack([
        cv2.warpAffine(clip[i], matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).reshape(h, w, c)
        for i in range(t)
    ])
    return np.clip(warped * np.float32(gain) + np.float32(bias), 0, 255).astype(np.uint8)

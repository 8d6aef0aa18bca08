"""Real video files made here: a writer, and the embedded motion dataset used by the demo and tests."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

MOTION_CLASSES = ("grow", "shrink", "grow-shrink", "shrink-grow")
_CONTAINER_CODEC = {".mp4": "libx264", ".mkv": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9"}


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 25,
    codec: str | None = None,
    gop: int = 12,
    bframes: int = 0,
    quality: int = 23,
    pix_fmt: str = "yuv420p",
    container_options: dict | None = None,
    rotation: int = 0,
) -> Path:
    """Encode uint8 RGB frames (H, W, 3; even H and W for yuv420p) to a real video file with PyAV;
    `rotation` (counter-clockwise degrees) is written as the stream's display matrix."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    codec = codec or _CONTAINER_CODEC.get(out.suffix.lower(), "libx264")
    with av.open(str(out), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = pix_fmt
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.options = {
                "crf": str(quality),
                "bf": str(bframes),
                "keyint_min": str(min(gop, 25)),
                "sc_threshold": "0",
            }
        elif codec in ("mpeg4", "mpeg2video"):
            stream.options = {"qscale": "3", "bf": str(bframes)}
        elif codec.startswith("libvpx"):
            stream.options = {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        for i, rgb in enumerate(frames):
            if i == 0:
                stream.height, stream.width = rgb.shape[:2]
                if rotation:
                    stream.set_display_rotation(rotation)
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"))
            )
        container.mux(stream.encode())
    return out


def motion_clip(
    kind: str, rng: np.random.Generator, frames: int = 16, size: int = 64
) -> np.ndarray:
    """One clip where only the motion tells the class: a striped disc on a textured background.

    The disc grows, shrinks, grows then shrinks, or shrinks then grows, while it turns and
    drifts in random directions. Every radius profile sweeps the same range linearly, so the
    radius of a single frame is uniform on that range in every class, as are the stripe angle
    and position: a model that looks at frames one at a time cannot beat chance.
    """
    if kind not in MOTION_CLASSES:
        raise ValueError(f"unknown motion class {kind!r}; use one of {MOTION_CLASSES}")
    t = np.linspace(0.0, 1.0, frames)
    peak = rng.uniform(0.35, 0.65)
    profile = {
        "grow": t,
        "shrink": 1 - t,
        "grow-shrink": np.where(t < peak, t / peak, (1 - t) / (1 - peak)),
        "shrink-grow": 1 - np.where(t < peak, t / peak, (1 - t) / (1 - peak)),
    }[kind]
    r_small, r_big = 0.08 * size, 0.28 * size
    radius = r_small + (r_big - r_small) * profile
    angle = rng.uniform(0, np.pi) + rng.uniform(-1.0, 1.0) * t
    drift = rng.uniform(0, 0.15 * size) * np.array(
        [np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)]
    )
    centre = rng.uniform(r_big + 0.08 * size, size - r_big - 0.08 * size, 2)
    cx, cy = centre[0] + drift[0] * (t - 0.5), centre[1] + drift[1] * (t - 0.5)
    background = 0.4 * _texture(rng, size, size, smooth=8) + 76
    first = rng.uniform(0, 255, 3).astype(np.float32)
    colours = np.stack([first, 255 - first])
    period = rng.uniform(0.6, 0.9)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = np.empty((frames, size, size, 3), np.uint8)
    for i in range(frames):
        dx, dy = xx - cx[i], yy - cy[i]
        u = dx * np.cos(angle[i]) + dy * np.sin(angle[i])
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * u / (period * radius[i]))
        disc = stripes[..., None] * colours[0] + (1 - stripes[..., None]) * colours[1]
        inside = (dx**2 + dy**2 <= radius[i] ** 2)[..., None]
        frame = np.where(inside, disc, background) + rng.normal(0, 5, (size, size, 3))
        out[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return out


def make_motion_dataset(
    root: str | os.PathLike,
    per_class: int = 40,
    frames: int = 16,
    size: int = 64,
    classes: tuple[str, ...] = MOTION_CLASSES,
    ext: str = ".mp4",
    seed: int = 0,
) -> Path:
    """Write `per_class` videos for each motion class under root/<class>/; returns root."""
    base = Path(root)
    rng = np.random.default_rng(seed)
    for kind in classes:
        for j in range(per_class):
            target = base / kind / f"{kind}_{j:03d}{ext}"
            clip, fps = motion_clip(kind, rng, frames, size), float(rng.choice([15, 25, 30]))
            if not target.exists():
                write_video(target, clip, fps=fps)
    return base


def _texture(rng: np.random.Generator, h: int, w: int, smooth: int) -> np.ndarray:
    """Random coloured blobs: smoothed noise stretched to the full 0..255 range."""
    small = rng.uniform(0, 255, (max(2, h // smooth), max(2, w // smooth), 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 255).astype(np.float32)

"""Motion between consecutive frames of a clip: Farneback optical flow and absolute differences."""

from __future__ import annotations

import cv2
import numpy as np


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame[..., 0] if frame.shape[-1] == 1 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def optical_flow(
    clip: np.ndarray, levels: int = 3, winsize: int = 15, iterations: int = 3
) -> np.ndarray:
    """Farneback flow between frames t and t+1 of a uint8 clip (T, H, W, C): float32 (T-1, H, W, 2),
    channel 0 = dx, channel 1 = dy, in pixels (the sign of the motion is kept)."""
    gray = [_gray(f) for f in clip]
    return np.stack(
        [
            cv2.calcOpticalFlowFarneback(a, b, None, 0.5, levels, winsize, iterations, 5, 1.1, 0)
            for a, b in zip(gray, gray[1:])
        ]
    ).astype(np.float32)


def flow_to_uint8(flow: np.ndarray, bound: float | None = None) -> np.ndarray:
    """Map flow (…, 2) to uint8 with 128 = no motion and ±`bound` pixels (default 1/8 of the
    frame's larger side) at 1 and 255; a third channel holds the magnitude (0..255)."""
    bound = bound or max(flow.shape[-3:-1]) / 8
    signed = np.clip(128 + flow * (127 / bound), 0, 255)
    magnitude = np.clip(np.linalg.norm(flow, axis=-1, keepdims=True) * (255 / bound), 0, 255)
    return np.concatenate([signed, magnitude], axis=-1).astype(np.uint8)


def abs_diff(clip: np.ndarray) -> np.ndarray:
    """|frame t+1 − frame t| in grayscale, uint8 (T-1, H, W, 1)."""
    gray = np.stack([_gray(f) for f in clip]).astype(np.int16)
    return np.abs(np.diff(gray, axis=0)).astype(np.uint8)[..., None]


def masked(clip: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of frames t and t+1 weighted by a blurred [0, 1] motion mask (T-1, H, W, 1): uint8."""
    blurred = np.stack([cv2.GaussianBlur(m, (15, 15), 0) for m in mask.astype(np.float32)])
    if blurred.ndim == 3:
        blurred = blurred[..., None]
    mean = (clip[:-1].astype(np.float32) + clip[1:]) / 2
    return np.clip(mean * blurred, 0, 255).astype(np.uint8)


MODALITIES = ("rgb", "gray", "flow", "diff", "flow-mask", "diff-mask")
MOTION = frozenset({"flow", "diff", "flow-mask", "diff-mask"})


def channels(modality: str, rgb_channels: int = 3) -> int:
    """Channels of a modality's frames."""
    return {"gray": 1, "flow": 2, "diff": 1}.get(modality, rgb_channels)


def as_modality(clip: np.ndarray, modality: str, frames: int, **flow_options) -> np.ndarray:
    """uint8 (frames, H, W, C) of `modality` from a decoded clip; motion modalities take a clip of
    frames + 1 and look between consecutive frames (flow: dx, dy with 128 = still; `flow_options`
    go to `optical_flow`)."""
    if modality == "rgb":
        return clip[:frames]
    if modality == "gray":
        return np.stack([_gray(f) for f in clip[:frames]])[..., None]
    if modality in ("diff", "diff-mask"):
        diff = abs_diff(clip)
        return diff if modality == "diff" else masked(clip, diff[..., 0] / 255.0)
    if modality in ("flow", "flow-mask"):
        flow = flow_to_uint8(optical_flow(clip, **flow_options))
        return flow[..., :2] if modality == "flow" else masked(clip, flow[..., 2] / 255.0)
    raise ValueError(f"modality {modality!r} is unknown; use one of {MODALITIES}")

"""ClipSpec: what one clip is — frames, size, resize mode, colour, modalities, audio normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from vidseq.data import decode
from vidseq.data.audio import check_norm
from vidseq.data.motion import MODALITIES, MOTION
from vidseq.data.transforms import FIT_MODES, parse_size
from vidseq.errors import VidseqError


@dataclass(frozen=True)
class ClipSpec:
    """The shape and content of every clip of a dataset, checked once at construction.

    Args:
        frames: frames per clip (time steps; spectrogram windows for audio).
        size: (height, width) of each frame, or an int / "S" / "HxW" string; for audio
            (mel bands, columns per window).
        resize: "crop" (centre crop, keeps the aspect ratio) or "letterbox" (black bars).
        gray: one channel instead of RGB.
        modalities: what a clip shows: one or more of motion.MODALITIES, e.g. ("rgb", "flow").
        audio_norm: "band" or "peak" (see audio.spectrogram_windows).
    """

    frames: int = 8
    size: tuple[int, int] = (112, 112)
    resize: str = "crop"
    gray: bool = False
    modalities: tuple[str, ...] = ("rgb",)
    audio_norm: str = "band"

    def __post_init__(self):
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 1:
            raise VidseqError(
                f"frames must be a positive integer. Received: frames={self.frames!r}"
            )
        object.__setattr__(self, "size", parse_size(self.size))
        if self.resize not in FIT_MODES:
            raise VidseqError(
                f"resize must be one of {', '.join(FIT_MODES)}. Received: resize={self.resize!r}"
            )
        modalities = (
            (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        )
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or not modalities:
            raise VidseqError(
                f"modality must be one or more of {', '.join(MODALITIES)}. "
                f"Received: modality={self.modalities!r}"
            )
        object.__setattr__(self, "modalities", modalities)
        check_norm(self.audio_norm)

    @classmethod
    def of(
        cls,
        frames: int = 8,
        size: int | str | Sequence[int] = (112, 112),
        resize: str = "crop",
        gray: bool = False,
        modality: str | Sequence[str] = "rgb",
        audio_norm: str = "band",
    ) -> "ClipSpec":
        """A spec from ClipDataset's keywords (`modality` may be one name or several)."""
        return cls(frames, size, resize, gray, modality, audio_norm)

    @property
    def read_frames(self) -> int:
        """Frames decoded per clip: one more than `frames` when a modality looks between frames."""
        return self.frames + (1 if MOTION & set(self.modalities) else 0)

    @property
    def frame_format(self) -> tuple:
        """(size, resize, gray, resampling): how decoded frames are made; part of every cache key."""
        return self.size, self.resize, self.gray, decode.RESAMPLING

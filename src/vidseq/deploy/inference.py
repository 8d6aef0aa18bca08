"""The served run: loaded once; what an upload holds (probed, never guessed from its name); its
prediction as `vidseq predict --json` gives it, with the frames the model saw and a timeline."""

from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path

import av
import cv2
import numpy as np

from vidseq.data.audio import AUDIO_EXTENSIONS
from vidseq.data.dataset import ClipDataset
from vidseq.data.media import LIMITS, open_video
from vidseq.data.sources import AudioSource
from vidseq.deploy.upload import ServeError
from vidseq.errors import VidseqError
from vidseq.run.datasets import screen_file
from vidseq.run.predict import predict_loaded, timeline_loaded
from vidseq.run.rundir import RunDir

log = logging.getLogger("vidseq")


class Predictor:
    """A finished run, loaded once; `predict` runs one upload at a time (a lock around the model)."""

    def __init__(self, run: str | os.PathLike, unsafe: bool = False):
        self.run = RunDir(run)
        self.cfg, self.model, self.classes = self.run.load(unsafe)
        self.audio = self.run.split()["train"].is_audio
        self._lock = threading.Lock()

    def info(self) -> dict:
        """What the page shows about the run: its model, classes and clips."""
        return {
            "run": self.run.path.name,
            "model": self.cfg.model,
            "classes": list(self.classes),
            "kind": "audio" if self.audio else "video",
            "frames": self.cfg.frames,
            "size": self.cfg.size,
            "sampler": self.cfg.sampler,
        }

    def media_suffix(self, path: Path, filename: str) -> str:
        """The file name suffix for what PyAV finds in `path` (415 when it holds no stream this run
        reads, 422 past a decode limit): the data layer tells audio from video by it."""
        try:
            with open_video(str(path)) as container:
                names = container.format.name.split(",") + sorted(container.format.extensions)
                video = [
                    s
                    for s in container.streams.video
                    if not s.disposition & av.stream.Disposition.attached_pic
                ]
                has_audio, seconds = bool(container.streams.audio), (container.duration or 0) / 1e6
        except (av.FFmpegError, OSError, UnicodeDecodeError):
            raise ServeError(
                415,
                f"{filename} is not a video or audio file (PyAV cannot open it); "
                "upload a video such as MP4, MKV, WebM or AVI, or audio such as WAV, MP3 or FLAC.",
            ) from None
        wanted, present = ("audio", has_audio) if self.audio else ("video", bool(video))
        if not present:
            raise ServeError(
                415,
                f"{filename} holds no {wanted} stream, and this run classifies {wanted}; "
                f"upload {'an audio' if self.audio else 'a video'} file.",
            )
        if self.audio and seconds > LIMITS.max_seconds:
            raise ServeError(
                422,
                f"{filename} lasts {seconds:.0f} s, over the limit of {LIMITS.max_seconds:.0f} s "
                "(vidseq.data.probe.LIMITS.max_seconds).",
            )
        fits = [n for n in names if (n in _AUDIO) == self.audio]
        return "." + (fits[0] if fits else "wav" if self.audio else "mp4")

    def predict(
        self,
        path: Path,
        filename: str,
        top: int = 3,
        window: float | None = None,
        frames: bool = False,
    ) -> dict:
        """`{"file", "top"}` as a line of `vidseq predict --json`; with `window`, a `"timeline"` of
        `window`-second clips; with `frames`, the `"frames"` of the clip the model saw as PNGs."""
        with self._lock:
            try:
                reason = screen_file(
                    self.cfg, str(path)
                )  # the clip and last frame decode, or the reason
                if reason is not None:
                    raise ServeError(422, _sentence(filename, reason, path))
                results, ds = predict_loaded(
                    self.cfg, self.model, self.classes, [str(path)], top=top
                )
                if "error" in results[0]:
                    raise ServeError(422, _sentence(filename, results[0]["error"], path))
                result = {"file": filename, "top": results[0]["top"]}
                if window is not None:
                    result["timeline"] = self._timeline(path, window)
                if frames:
                    result["frames"] = seen_frames(ds, 0)
            except ServeError:
                raise
            except VidseqError as e:  # a decode failure or limit while reading the clips
                raise ServeError(422, _sentence(filename, str(e), path)) from None
        return result

    def _timeline(self, path: Path, window: float) -> dict:
        """Window centres (s) and class probabilities of `window`-second clips slid over a video."""
        centres, probs = timeline_loaded(self.cfg, self.model, path, window)
        return {
            "window": window,
            "times": [float(t) for t in centres],
            "classes": list(self.classes),
            "probabilities": np.asarray(probs, np.float64).tolist(),
        }


_AUDIO = {e.lstrip(".") for e in AUDIO_EXTENSIONS}


def _sentence(filename: str, reason: str, path: Path) -> str:
    """The data layer's reason about the temporary file, told about the uploaded one."""
    text = reason.replace(str(path), filename).strip().rstrip(".")
    if not text.startswith(filename):
        text = f"{filename}: {text}"
    return text + "."


def seen_frames(ds: ClipDataset, sample: int) -> list[dict]:
    """The frames of `sample` as the model read them (video frames with index and time; audio:
    its spectrogram windows), each a PNG data URL."""
    clip = ds.load(sample)
    source = ds.sources[ds.samples[sample].item]
    if isinstance(source, AudioSource):
        return [{"index": None, "time": None, "image": _png(np.flipud(w))} for w in clip]
    times = source.info.times()
    return [
        {"index": int(i), "time": round(float(times[i]), 3), "image": _png(f)}
        for i, f in zip(ds.frame_indices(sample), clip)
    ]


def _png(frame: np.ndarray) -> str:
    """A uint8 frame (H, W, 1 or 3; RGB) as a PNG data URL."""
    image = frame[..., 0] if frame.shape[-1] == 1 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise VidseqError("a frame could not be encoded as PNG.")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")

"""Audio as a sequence of image-like frames: waveform → log-mel spectrogram → T windows (T, mels, width, 1).

PyAV (already a dependency) decodes and resamples wav, flac, ogg and mp3 with its own codecs; the
mel filterbank and STFT are a few lines of NumPy, so audio needs no further package.
"""

from __future__ import annotations

import os

import av
import numpy as np

from vidseq.data.media import open_video
from vidseq.errors import VideoDecodeError, VidseqError

AUDIO_EXTENSIONS = frozenset(".wav .flac .ogg .mp3 .m4a .opus".split())
DYNAMIC_RANGE_DB = 80.0  # a spectrogram image shows the loudest 80 dB of its clip
SOUND_DB = 35.0  # the sound: from the first to the last column within 35 dB of the loudest
BAND_RANGE_DB = (
    40.0  # a band-normalised image shows each band from 40 dB below to 40 dB above its mean
)
AUDIO_NORMS = ("band", "peak")


def is_audio(path: str | os.PathLike) -> bool:
    """Whether the file name has an audio extension."""
    return os.path.splitext(str(path))[1].lower() in AUDIO_EXTENSIONS


def read_audio(path: str | os.PathLike, sample_rate: int = 8000) -> np.ndarray:
    """Mono float32 waveform at `sample_rate` (raises VideoDecodeError naming the file)."""
    path = str(path)
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "is empty (0 bytes)")
    try:
        with open_video(path) as container:
            if not container.streams.audio:
                raise VideoDecodeError(path, "has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = [
                f.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for f in resampler.resample(frame)
            ]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"is not readable audio ({e})") from None
    except OSError as e:
        raise VideoDecodeError(path, f"cannot be read ({e.strerror or e})") from None
    if not chunks or not sum(len(c) for c in chunks):
        raise VideoDecodeError(path, "has an audio stream with no samples")
    return np.concatenate(chunks).astype(np.float32)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 20.0) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1) evenly spaced on the mel scale."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def log_mel(
    wave: np.ndarray, sample_rate: int, n_mels: int = 40, win_ms: float = 25.0, hop_ms: float = 10.0
) -> np.ndarray:
    """Log-mel power spectrogram in dB, (n_mels, columns), one column per hop."""
    win, hop = int(sample_rate * win_ms / 1000), int(sample_rate * hop_ms / 1000)
    n_fft = 1 << (win - 1).bit_length()
    padded = np.pad(wave, (win // 2, win // 2 + max(0, win - len(wave))))
    starts = np.arange(0, len(padded) - win + 1, hop)
    frames = np.stack([padded[s : s + win] for s in starts]) * np.hanning(win).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n_fft, axis=1)) ** 2
    return 10.0 * np.log10(mel_filterbank(sample_rate, n_fft, n_mels) @ power.T + 1e-10)


def spectrogram_image(
    path: str | os.PathLike,
    mels: int = 40,
    duration: float = 1.0,
    sample_rate: int = 8000,
    offset: float = 0.5,
) -> np.ndarray:
    """uint8 log-mel image (mels, columns) of the file padded or cropped to `duration` seconds
    (crop at `offset` in [0, 1] of the spare length); the top 80 dB of the clip map to 0..255."""
    wave = read_audio(path, sample_rate)
    target = int(duration * sample_rate)
    if len(wave) > target:
        start = int((len(wave) - target) * offset)
        wave = wave[start : start + target]
    wave = np.pad(wave, (0, target - len(wave)))
    db = log_mel(wave, sample_rate, n_mels=mels)
    return np.clip(
        (db - (db.max() - DYNAMIC_RANGE_DB)) * (255.0 / DYNAMIC_RANGE_DB), 0, 255
    ).astype(np.uint8)


def cut_windows(image: np.ndarray, steps: int, width: int) -> np.ndarray:
    """(steps, mels, width, 1): `steps` evenly spaced windows of `width` columns of a (mels, columns) image."""
    if image.shape[1] < width:
        image = np.pad(image, ((0, 0), (0, width - image.shape[1])))
    starts = np.linspace(0, image.shape[1] - width, steps).round().astype(int)
    return np.stack([image[:, s : s + width] for s in starts])[..., None]


def sound_columns(image: np.ndarray) -> np.ndarray:
    """A uint8 log-mel image cut to its sound: the first to the last column within SOUND_DB of its loudest."""
    loud = np.flatnonzero(image.max(axis=0) >= int(image.max()) - SOUND_DB * 255 / DYNAMIC_RANGE_DB)
    return image[:, loud[0] : loud[-1] + 1] if loud.size else image


def normalise_bands(image: np.ndarray) -> np.ndarray:
    """The image cut to its sound, each band shown relative to its mean level over the sound
    (cepstral mean normalisation), 128 ± BAND_RANGE_DB mapped to 0..255: a louder take or another
    microphone (a constant gain per band) gives the same image, and silence before or after is gone."""
    db = sound_columns(image).astype(np.float32) * np.float32(DYNAMIC_RANGE_DB / 255)
    relative = db - db.mean(axis=1, keepdims=True)
    return np.clip(128 + relative * (127 / BAND_RANGE_DB), 0, 255).astype(np.uint8)


def check_norm(norm: str) -> str:
    """`norm` if it names an audio normalisation, else a clear error."""
    if norm not in AUDIO_NORMS:
        raise VidseqError(f"audio_norm must be {' or '.join(AUDIO_NORMS)} (got {norm!r}).")
    return norm


def spectrogram_windows(
    image: np.ndarray, steps: int, width: int, norm: str = "band"
) -> np.ndarray:
    """(steps, mels, width, 1) windows of a uint8 log-mel image: spread over its sound after
    `normalise_bands` with norm="band", or over the whole image as it is with norm="peak"."""
    check_norm(norm)
    return cut_windows(normalise_bands(image) if norm == "band" else image, steps, width)


def spectrogram_sequence(
    path: str | os.PathLike,
    steps: int = 8,
    size: tuple[int, int] = (40, 24),
    duration: float = 1.0,
    sample_rate: int = 8000,
    offset: float = 0.5,
    norm: str = "band",
) -> np.ndarray:
    """uint8 (steps, mels, width, 1): `spectrogram_image` cut into `steps` windows of `width` columns."""
    mels, width = size
    return spectrogram_windows(
        spectrogram_image(path, mels, duration, sample_rate, offset), steps, width, norm
    )

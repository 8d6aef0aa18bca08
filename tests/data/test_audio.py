"""Audio files as spectrogram sequences: shapes, where the energy is, errors, and training through the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import keras
import numpy as np
import pytest

import vidseq
from vidseq import Catalog, ClipDataset, VideoDecodeError
from vidseq.cli import main
from vidseq.config import RunConfig
from vidseq.data.audio import (
    log_mel,
    mel_filterbank,
    normalise_bands,
    read_audio,
    spectrogram_image,
    spectrogram_sequence,
)
from vidseq.data.augment import augment_spectrogram
from vidseq.data.cache import ClipCache
from vidseq.errors import VidseqError
from vidseq.run.datasets import dataset_for, resolve_defaults
from vidseq.run.features import FeatureDataset

RATE = 8000


def tone(path: Path, hz: float, seconds: float = 1.0, rate: int = RATE) -> Path:
    """A real 16-bit PCM wav of a sine tone, written with PyAV."""
    return write_wav(
        path, 0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate), rate
    )


def chirp(path: Path, gain: float = 0.5, silence: float = 0.0) -> Path:
    """0.4 s sweeping from 300 to 3000 Hz at amplitude `gain`, after `silence` seconds of silence."""
    t = np.arange(int(0.4 * RATE)) / RATE
    sweep = gain * np.sin(2 * np.pi * (300 * t + (2700 / 0.8) * t**2))
    return write_wav(path, np.concatenate([np.zeros(int(silence * RATE)), sweep]))


def write_wav(path: Path, wave: np.ndarray, rate: int = RATE) -> Path:
    """`wave` (floats in [-1, 1]) as a 16-bit PCM wav, written with PyAV."""
    samples = (wave * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for i in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[None, i : i + 1024].copy(), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _centres(n_mels: int = 40) -> np.ndarray:
    bank = mel_filterbank(RATE, 256, n_mels)
    return (bank * np.fft.rfftfreq(256, 1 / RATE)).sum(1) / bank.sum(1)


@pytest.mark.parametrize("hz", [500.0, 1000.0, 3000.0])
def test_a_tone_lands_in_its_mel_band(tmp_path, hz):
    seq = spectrogram_sequence(
        tone(tmp_path / f"{hz}.wav", hz), steps=8, size=(40, 24), norm="peak"
    )
    assert seq.shape == (8, 40, 24, 1) and seq.dtype == np.uint8
    energy = seq[..., 0].astype(float).mean(axis=(0, 2))
    expected = int(np.argmin(np.abs(_centres() - hz)))
    assert abs(int(np.argmax(energy)) - expected) <= 1


def test_read_audio_resamples_and_log_mel_has_one_column_per_hop(tmp_path):
    wave = read_audio(tone(tmp_path / "t.wav", 440, seconds=0.5, rate=16000), sample_rate=RATE)
    assert abs(len(wave) - RATE // 2) <= 64 and np.abs(wave).max() == pytest.approx(0.5, abs=0.05)
    assert log_mel(wave, RATE).shape == (40, 51)


def test_short_clips_are_padded_and_long_ones_cropped(tmp_path):
    short = spectrogram_sequence(
        tone(tmp_path / "s.wav", 800, seconds=0.2), steps=4, size=(20, 10), norm="peak"
    )
    long = spectrogram_sequence(
        tone(tmp_path / "l.wav", 800, seconds=3.0), steps=4, size=(20, 10), norm="peak"
    )
    assert short.shape == long.shape == (4, 20, 10, 1)
    assert (
        short[-1].max() == 0 and long[-1].max() > 0
    )  # silence after a short clip; tone throughout a long one


def test_band_normalisation_ignores_level_silence_and_microphone(tmp_path):
    loud = spectrogram_image(chirp(tmp_path / "loud.wav"))
    quiet_late = spectrogram_image(chirp(tmp_path / "quiet.wav", gain=0.1, silence=0.3))
    assert quiet_late.shape == loud.shape and not np.array_equal(quiet_late, loud)
    a, b = normalise_bands(loud), normalise_bands(quiet_late)
    assert a.shape[1] < loud.shape[1] * 0.6  # cut to the 0.4 s of sound
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 3
    microphone = (np.linspace(-10, 10, 40) * 255 / 80)[
        :, None
    ]  # a gain per band: -10 dB low to +10 dB high
    other = np.clip(loud + microphone, 0, 255).astype(np.uint8)
    x, y = normalise_bands(loud).astype(int), normalise_bands(other).astype(int)
    n = min(x.shape[1], y.shape[1])  # the sound's last column may fall either side of the threshold
    assert abs(x.shape[1] - y.shape[1]) <= 1 and np.median(np.abs(x[:, :n] - y[:, :n])) <= 2
    assert (
        np.median(np.abs(loud.astype(int) - other.astype(int))[loud > 0]) > 10
    )  # as the images differed


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "is empty"), (b"RIFF not really a wave file" * 10, "is not readable audio")],
)
def test_empty_or_corrupt_audio_is_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match=reason) as err:
        spectrogram_sequence(path)
    assert str(path) in str(err.value)


def test_a_folder_of_audio_trains_with_audio_defaults(tmp_path):
    for digit, hz in (("low", 300.0), ("high", 2500.0)):
        for k in range(6):
            tone(tmp_path / "d" / digit / f"{k}.wav", hz * (1 + 0.05 * k), seconds=0.3 + 0.1 * k)
    ds = ClipDataset(
        Catalog.from_folder(tmp_path / "d"), frames=4, size=(40, 24), batch_size=12, shuffle=False
    )
    assert ds[0][0].shape == (12, 4, 40, 24, 1)
    run = tmp_path / "run"
    argv = [
        "train",
        str(tmp_path / "d"),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--batch",
        "4",
        "--model-option",
        "width=0.125",
        "--model-option",
        "head=[8]",
        "--frames",
        "4",
    ]
    assert main(argv) == 0
    saved = (run / "config.yaml").read_text()
    assert (
        "size: 40x24" in saved
        and "gray: true" in saved
        and "augment: audio" in saved
        and "audio_norm: band" in saved
    )
    assert json.loads((run / "metrics.json").read_text())["n"] > 0
    assert main(["predict", str(run), str(tmp_path / "d" / "low")]) == 0  # a folder of audio files


def test_audio_file_deleted_before_the_dataset_is_quarantined(tmp_path):
    for k in range(10):
        tone(tmp_path / "d" / ("a" if k % 2 else "b") / f"{k}.wav", 400 + 100 * k, seconds=0.2)
    cat = Catalog.from_folder(tmp_path / "d")
    gone = tmp_path / "d" / "a" / "1.wav"
    gone.unlink()
    ds = ClipDataset(cat, frames=2, size=(20, 8), batch_size=4, shuffle=False)
    assert "cannot be read (No such file or directory)" in ds.report.quarantined[str(gone)]


def test_spectrogram_augmentation_moves_warps_and_masks_the_sound(tmp_path):
    image = spectrogram_image(tone(tmp_path / "t.wav", 1000.0, seconds=0.3))
    sound = lambda a: np.flatnonzero(a.max(axis=0))  # noqa: E731
    band = lambda a: int(a.sum(axis=1).argmax())  # noqa: E731
    outs = [augment_spectrogram(image, np.random.default_rng(k)) for k in range(20)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert len({int(sound(o)[0]) for o in outs}) > 5  # placed at many different times
    assert {band(o) for o in outs} != {band(image)}  # the tone's band moves with the warp
    assert all(abs(band(o) - band(image)) <= 0.15 * 40 for o in outs)
    np.testing.assert_array_equal(outs[3], augment_spectrogram(image, np.random.default_rng(3)))


def test_audio_training_augments_each_epoch_and_evaluation_does_not(tmp_path):
    for k in range(4):
        tone(tmp_path / "d" / ("a" if k % 2 else "b") / f"{k}.wav", 500 + 200 * k, seconds=0.3)
    cat = Catalog.from_folder(tmp_path / "d")
    train = ClipDataset(
        cat,
        frames=4,
        size=(40, 24),
        batch_size=4,
        shuffle=False,
        random_frames=True,
        augment="audio",
    )
    first = train[0][0]
    train.set_epoch(1)
    assert not np.array_equal(first, train[0][0])
    plain = ClipDataset(cat, frames=4, size=(40, 24), batch_size=4, shuffle=False)
    plain.set_epoch(1)
    expected = (
        np.stack([spectrogram_sequence(item.path, steps=4, size=(40, 24)) for item in cat]) / 255.0
    )
    np.testing.assert_allclose(plain[0][0], expected, atol=1e-6)


def test_audio_defaults_mix_up_training_batches_only(tmp_path):
    for k in range(4):
        tone(tmp_path / "d" / ("a" if k % 2 else "b") / f"{k}.wav", 500 + 200 * k, seconds=0.3)
    cat = Catalog.from_folder(tmp_path / "d")
    cfg = resolve_defaults(RunConfig(data=str(tmp_path / "d"), batch=4), audio=True)
    assert cfg.mixup == 0.3 and cfg.model_options == {"width": 0.5, "head": [128]}
    assert (
        dataset_for(cfg, cat, training=True).mixup == 0.3
        and dataset_for(cfg, cat, training=False).mixup == 0
    )
    _, y = dataset_for(cfg, cat, training=True)[0]
    assert (y.max(1) < 1).any() and np.allclose(y.sum(1), 1)
    assert resolve_defaults(RunConfig(mixup=0), audio=True).mixup == 0
    assert resolve_defaults(RunConfig(), audio=False).mixup == 0


def test_audio_augmentation_defaults_on_and_video_presets_are_refused():
    assert resolve_defaults(RunConfig(), audio=True).augment == "audio"
    assert resolve_defaults(RunConfig(), audio=True).audio_norm == "band"
    assert (
        RunConfig().spectrogram_norm == "peak"
    )  # what a run saved before the setting existed used
    with pytest.raises(VidseqError, match="audio_norm must be band or peak"):
        RunConfig.from_dict({"audio_norm": "pcen"})
    off = resolve_defaults(RunConfig(augment="none"), audio=True)
    assert (
        off.augment == "none" and resolve_defaults(off, audio=True).augment == "none"
    )  # a resumed run stays off
    with pytest.raises(VidseqError, match="does not apply to audio"):
        resolve_defaults(RunConfig(augment="standard"), audio=True)
    with pytest.raises(VidseqError, match="does not apply to video"):
        resolve_defaults(RunConfig(augment="audio"), audio=False)


def test_equaliser_augmentation_changes_levels_not_silence(tmp_path):
    image = spectrogram_image(tone(tmp_path / "t.wav", 1000.0, seconds=0.3))
    plain = augment_spectrogram(image, np.random.default_rng(5), "audio")
    eq = augment_spectrogram(image, np.random.default_rng(5), "audio-eq")
    np.testing.assert_array_equal(eq > 0, plain > 0)
    diff = np.abs(eq.astype(int) - plain.astype(int))
    assert 0 < diff.max() <= round(8.0 * 255 / 80) + 1


def test_warm_quarantines_an_undecodable_audio_file(tmp_path):
    for k in range(9):
        tone(tmp_path / "d" / ("a" if k % 2 else "b") / f"{k}.wav", 400 + 100 * k, seconds=0.2)
    bad = tmp_path / "d" / "a" / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file" * 10)
    ds = ClipDataset(
        Catalog.from_folder(tmp_path / "d"), frames=2, size=(20, 8), batch_size=4, shuffle=False
    )
    ds.warm()
    assert "is not readable audio" in ds.report.quarantined[str(bad)]


def test_audio_windows_train_a_frozen_imagenet_backbone_on_cached_features(
    tmp_path, caplog, capsys
):
    for k in range(8):
        tone(tmp_path / "d" / ("a" if k % 2 else "b") / f"{k}.wav", 300 + 400 * k, seconds=0.4)
    cnn = vidseq.frame_encoder("efficientnet-lite0", (32, 32, 1))
    cache = ClipCache("64MB", tmp_path / "cache")

    def datasets(frames):
        clips = ClipDataset(
            Catalog.from_folder(tmp_path / "d"), frames=frames, size=(32, 32), shuffle=False
        )
        return clips, FeatureDataset(clips, cnn, cache)

    clips, features = datasets(4)
    (x, y), (f, fy) = clips[0], features[0]
    expected = keras.ops.convert_to_numpy(cnn(x.reshape(-1, 32, 32, 1))).reshape(f.shape)
    np.testing.assert_allclose(f, expected, atol=1e-4)
    np.testing.assert_array_equal(fy, y)
    assert datasets(4)[1].computed == 0 and datasets(2)[1].computed == 8 * 2  # windows move
    argv = ["train", str(tmp_path / "d"), "--epochs", "1", "--model", "efficientnet-lite0-motion"]
    argv += ["--frames", "4", "--augment", "none", "--mixup", "0"]
    assert main([*argv, "--out", str(tmp_path / "small")]) == 2  # the audio default 40x24
    assert "for audio, size 64x32 is 64 mel bands × 32 columns" in capsys.readouterr().err
    with caplog.at_level(logging.INFO, logger="vidseq"):
        assert main([*argv, "--out", str(tmp_path / "run"), "--size", "32x32", "--pool", "0"]) == 0
    assert "computing its features once and training the head on them" in caplog.text

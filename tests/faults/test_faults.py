"""Fault injection: each broken input gets its documented behaviour, a sentence naming the file, no hang.

Run alone with `make faults` (or `pytest tests/faults`). docs/reliability.md's table lists the
same faults with their behaviour.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import av
import keras
import numpy as np
import pytest

import vidseq
from tests.conftest import numbered_frames
from vidseq import Catalog, ClipDataset, VideoDecodeError, VidseqError, probe, read_clip
from vidseq.cli import main
from vidseq.data import probe as probe_module
from vidseq.data.synthetic import write_video
from vidseq.run.callbacks import RunRecorder

TINY = [
    "--model",
    "convnet-gru",
    "--model-option",
    "width=0.125",
    "--model-option",
    "head=[8]",
    "--frames",
    "4",
    "--size",
    "16",
    "--batch",
    "4",
    "--epochs",
    "1",
    "--val",
    "0.2",
    "--test",
    "0.2",
]


def good(path: Path, n: int = 12, h: int = 32, w: int = 32, **kw) -> Path:
    return write_video(path, [np.full((h, w, 3), 10 * i % 255, np.uint8) for i in range(n)], **kw)


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (
            lambda p: p.write_text("this is a text file renamed to .mp4\n" * 20),
            "not a readable video",
        ),
    ],
)
def test_empty_or_text_file(tmp_path, make, reason):
    path = tmp_path / "x.mp4"
    make(path)
    with pytest.raises(VideoDecodeError, match=reason) as err:
        read_clip(path, frames=4, size=16)
    assert str(path) in str(err.value)


def test_mp4_truncated_before_its_index(tmp_path):
    data = good(tmp_path / "whole.mp4", n=60).read_bytes()  # moov (index) at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match="not a readable video"):
        probe(cut)


def test_mp4_truncated_after_its_index(tmp_path):
    data = good(
        tmp_path / "whole.mp4", n=60, container_options={"movflags": "faststart"}
    ).read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    info = probe(cut)
    assert (
        info.header_frames == 60 and 0 < info.frames < 60
    )  # the index lists 60, demuxing finds what is there
    with pytest.raises(
        VideoDecodeError, match="frame 59 was requested"
    ):  # an error, never fewer frames
        vidseq.VideoReader(cut).read([0, 59])


def test_video_shorter_than_the_clip_repeats_frames_and_says_so(tmp_path):
    root = tmp_path / "d"
    good(root / "a" / "short.mp4", n=3)
    good(root / "b" / "long.mp4", n=12)
    ds = ClipDataset(Catalog.from_folder(root), frames=6, size=16, shuffle=False)
    assert ds.report.short == [str(root / "a" / "short.mp4")]
    assert "fewer frames than asked" in ds.report.lines()[0]
    with pytest.raises(VidseqError, match="has 3 frames, fewer than 6"):
        ClipDataset(Catalog.from_folder(root), frames=6, size=16, short="skip", max_bad=0.0)


def test_audio_only_file(tmp_path):
    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        samples = np.zeros((1, 1024), np.float32)
        for _ in range(4):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 8000
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(VideoDecodeError, match="has no video stream"):
        read_clip(path, frames=4, size=16)


def test_grayscale_video_reads_as_rgb_or_gray(tmp_path):
    path = good(tmp_path / "gray.mkv", codec="ffv1", pix_fmt="gray")
    rgb = read_clip(path, frames=4, size=16)
    assert rgb.shape == (4, 16, 16, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    assert read_clip(path, frames=4, size=16, gray=True).shape == (4, 16, 16, 1)


def test_one_pixel_video(tmp_path):
    path = write_video(
        tmp_path / "dot.mkv", [np.full((1, 1, 3), 200, np.uint8)] * 5, codec="ffv1", pix_fmt="bgr0"
    )
    clip = read_clip(path, frames=4, size=16)
    assert clip.shape == (4, 16, 16, 3) and abs(int(clip.mean()) - 200) <= 2


def test_huge_frames_read_and_a_size_limit_rejects_them(tmp_path, monkeypatch):
    path = good(tmp_path / "big.mkv", n=2, h=3000, w=4000, codec="ffv1")
    assert read_clip(path, frames=2, size=32).shape == (2, 32, 32, 3)
    monkeypatch.setattr(probe_module.LIMITS, "max_pixels", 1920 * 1080)
    with pytest.raises(VideoDecodeError, match="4000x3000 exceed the limit"):
        read_clip(path, frames=2, size=32)


def test_decoding_has_a_time_limit(tmp_path, monkeypatch):
    path = good(tmp_path / "v.mp4", n=30)
    monkeypatch.setattr(probe_module.LIMITS, "decode_seconds", 0.0)
    with pytest.raises(VideoDecodeError, match="decoding took over 0 s"):
        vidseq.VideoReader(path).read([29])


def test_file_disappears_between_catalog_and_read(tmp_path):
    root = tmp_path / "d"
    for k in range(10):
        good(root / ("a" if k % 2 else "b") / f"{k}.mp4")
    cat = Catalog.from_folder(root)
    (root / "a" / "1.mp4").unlink()
    ds = ClipDataset(cat, frames=4, size=16, shuffle=False)
    assert (
        "cannot be read (No such file or directory)"
        in ds.report.quarantined[str(root / "a" / "1.mp4")]
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = good(tmp_path / "locked.mp4")
    path.chmod(0)
    with pytest.raises(VideoDecodeError, match="cannot be read"):
        read_clip(path, frames=4, size=16)


def test_non_utf8_and_spaces_in_file_names(tmp_path):
    folder = tmp_path / "d" / "my class"
    good(folder / "plain.mp4")
    odd = os.fsencode(str(folder)) + b"/caf\xe9 clip.mp4"
    shutil.copy(folder / "plain.mp4", odd)
    good(tmp_path / "d" / "other" / "x.mp4")
    cat = Catalog.from_folder(tmp_path / "d")
    assert len(cat) == 3
    for path in cat.paths:
        assert read_clip(path, frames=4, size=16).shape == (4, 16, 16, 3)


def test_symlink_loop_in_the_data_folder(tmp_path):
    good(tmp_path / "d" / "a" / "x.mp4")
    good(tmp_path / "d" / "b" / "y.mp4")
    (tmp_path / "d" / "a" / "loop").symlink_to(tmp_path / "d")
    assert len(Catalog.from_folder(tmp_path / "d")) == 2  # links to folders are not followed


def test_image_in_a_class_folder_is_skipped_with_a_count(tmp_path, caplog):
    good(tmp_path / "d" / "a" / "x.mp4")
    good(tmp_path / "d" / "b" / "y.mp4")
    (tmp_path / "d" / "a" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        assert len(Catalog.from_folder(tmp_path / "d")) == 2
    assert "skipped 1 hidden or non-media file(s)" in caplog.text


def test_class_folder_with_one_file(tmp_path, caplog):
    for k in range(10):
        good(tmp_path / "d" / "many" / f"{k}.mp4", n=2)
    good(tmp_path / "d" / "lonely" / "0.mp4", n=2)
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        train, val, test = Catalog.from_folder(tmp_path / "d").split(val=0.2, test=0.2)
    assert "lonely" in caplog.text and "fewer than 3 files" in caplog.text
    assert len(train) + len(val) + len(test) == 11


def test_csv_paths_cannot_escape_the_manifest_folder(tmp_path):
    good(tmp_path / "outside.mp4")
    manifest = tmp_path / "sub" / "labels.csv"
    manifest.parent.mkdir()
    manifest.write_text("path,label\n../outside.mp4,a\n")
    with pytest.raises(VidseqError, match="outside the CSV's folder"):
        Catalog.from_csv(manifest)
    assert len(Catalog.from_csv(manifest, allow_outside=True)) == 1


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faultdata")
    for k in range(20):
        good(root / ("a" if k % 2 else "b") / f"{k}.mp4", n=8)
    run = tmp_path_factory.mktemp("faultruns") / "r"
    assert main(["train", str(root), "--out", str(run), *TINY]) == 0
    return root, run


def test_corrupt_keras_file(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["evaluate", str(broken)]) == 2
    assert "model.keras cannot be loaded" in capsys.readouterr().err


def test_model_with_code_needs_an_explicit_unsafe(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    lam = tmp_path / "run"
    shutil.copytree(run, lam)
    inputs = keras.Input((4, 16, 16, 3))
    x = keras.layers.Lambda(lambda t: t * 1.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling3D()(x))
    keras.Model(inputs, outputs).save(lam / "model.keras")
    assert main(["evaluate", str(lam)]) == 2
    assert "--unsafe" in capsys.readouterr().err
    assert main(["evaluate", str(lam), "--unsafe"]) == 0


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = vidseq.build_model("convnet-gru", (2, 16, 16, 3), 2, width=0.125, head=[4])
    recorder = RunRecorder(tmp_path, monitor="loss")
    recorder.set_model(model)
    recorder.on_epoch_end(0, {"loss": 1.0})
    before = (tmp_path / "checkpoints" / "last.keras").read_bytes()

    def full(self, path, *a, **k):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full)
    with pytest.raises(VidseqError, match="No space left on device.*previous checkpoint is intact"):
        recorder.on_epoch_end(1, {"loss": 0.5})
    assert (tmp_path / "checkpoints" / "last.keras").read_bytes() == before
    assert not list((tmp_path / "checkpoints").glob(".*tmp*"))


def test_nan_loss_keeps_the_last_good_checkpoint(tmp_path):
    model = vidseq.build_model("convnet-gru", (2, 16, 16, 3), 2, width=0.125, head=[4])
    recorder = RunRecorder(tmp_path, monitor="loss")
    recorder.set_model(model)
    recorder.on_epoch_end(0, {"loss": 1.0})
    good_bytes = (tmp_path / "checkpoints" / "best.keras").read_bytes()
    recorder.on_epoch_end(1, {"loss": float("nan")})
    assert (tmp_path / "checkpoints" / "best.keras").read_bytes() == good_bytes
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 0
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 2


def test_nan_from_the_first_epoch_is_a_clear_error(tiny_run, tmp_path, capsys):
    root, _ = tiny_run
    argv = [
        "train",
        str(root),
        "--out",
        str(tmp_path / "r"),
        *TINY,
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
    ]
    assert main(argv) == 2
    assert "no finished epoch" in capsys.readouterr().err


def test_training_on_a_folder_with_10_percent_bad_files_finishes_and_lists_them(
    tiny_run, tmp_path, caplog
):
    root, _ = tiny_run
    data = tmp_path / "d"
    shutil.copytree(root, data)
    (data / "a" / "bad1.mp4").write_bytes(b"")
    (data / "b" / "bad2.mp4").write_text("nope")
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        assert (
            main(["train", str(data), "--out", str(tmp_path / "r"), *TINY, "--max-bad", "0.1"]) == 0
        )
    assert "bad1.mp4" in caplog.text and "bad2.mp4" in caplog.text


def test_same_seed_same_split_frames_and_augmentation(tiny_run):
    root, _ = tiny_run
    cat = Catalog.from_folder(root)
    assert [p.paths for p in cat.split(seed=5)] == [p.paths for p in cat.split(seed=5)]
    a = ClipDataset(cat, frames=4, size=16, batch_size=20, augment=True, seed=3)[0][0]
    b = ClipDataset(cat, frames=4, size=16, batch_size=20, augment=True, seed=3)[0][0]
    c = ClipDataset(cat, frames=4, size=16, batch_size=20, augment=True, seed=4)[0][0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_numbered_fixture_is_real(tmp_path):
    """Guard: the fault videos above are real encodes, not placeholders."""
    path = write_video(tmp_path / "n.mp4", numbered_frames(10))
    assert probe(path).frames == 10


def _damaged_middle(path: Path) -> Path:
    """An MP4 whose index is whole but whose middle packets are zeros: it opens and probes, some frames fail."""
    data = bytearray(path.read_bytes())
    start, end = data.index(b"mdat"), data.index(b"moov")
    data[start + (end - start) // 2 : start + (end - start) * 9 // 10] = bytes(
        (end - start) * 9 // 10 - (end - start) // 2
    )
    path.write_bytes(bytes(data))
    return path


def test_the_screen_finds_a_file_that_opens_but_cannot_give_its_frames_before_epoch_1(
    tmp_path, caplog
):
    root = tmp_path / "d"
    for k in range(20):
        write_video(root / ("a" if k % 2 else "b") / f"{k}.mp4", numbered_frames(60), gop=12)
    damaged = _damaged_middle(root / "a" / "1.mp4")
    assert probe(damaged).frames == 60  # it opens and counts its frames
    with pytest.raises(VideoDecodeError, match="could not be decoded"):
        vidseq.VideoReader(damaged).read([35])
    out = tmp_path / "r"
    with caplog.at_level(logging.INFO, logger="vidseq"):
        assert main(["train", str(root), "--out", str(out), *TINY]) == 0
    lines = caplog.text.splitlines()
    found = next(i for i, line in enumerate(lines) if f"quarantined {damaged}: frame" in line)
    assert found < next(
        i for i, line in enumerate(lines) if line.split()[-1:] and "videos" in line
    )  # before the split log
    split = json.loads((out / "split.json").read_text())
    assert all(it["path"] != "a/1.mp4" for part in split.values() for it in part["items"])

"""`vidseq export` on a trained run: each artifact, run in a fresh process without vidseq or Keras, gives
the Keras model's probabilities on real decoded clips; user errors are one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.data.test_audio import tone
from tests.deploy.fresh import run_fresh
from tests.models.test_zoo import TINY
from tests.test_cli import TINY_TRAIN
from vidseq import Catalog, ClipDataset, Item, RunConfig, build_model, read_clip, save_split
from vidseq.cli import main
from vidseq.data.audio import spectrogram_sequence
from vidseq.deploy.export import FORMATS, export_model, keras_predict
from vidseq.deploy.manifest import preprocess_manifest
from vidseq.deploy.portable import portable_clone
from vidseq.errors import VidseqError
from vidseq.run.rundir import RunDir


@pytest.fixture(scope="module")
def run_dir(motion_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export-runs") / "gru"
    assert main(["train", str(motion_data), "--out", str(out), "--epochs", "1", *TINY_TRAIN]) == 0
    return out


@pytest.fixture(scope="module")
def real_clips(run_dir, motion_data) -> np.ndarray:
    """Three clips decoded from video files of three classes, with the run's settings."""
    cfg, _, classes = RunDir(run_dir).load()
    files = [str(sorted((motion_data / c).iterdir())[0]) for c in classes[:3]]
    ds = ClipDataset(
        files,
        frames=cfg.frames,
        size=cfg.size,
        resize=cfg.resize,
        gray=cfg.gray,
        batch_size=3,
        shuffle=False,
        cache=None,
    )
    (x,) = ds[0]
    assert (
        x.shape == (3, cfg.frames, 24, 24, 3)
        and x.dtype == np.float32
        and 0 <= x.min() < x.max() <= 1
    )
    return x


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    """Factory: the folder `vidseq export` made for a format (each format exported once)."""
    root, made = tmp_path_factory.mktemp("exports"), {}

    def export(fmt: str) -> Path:
        if fmt not in made:
            out = root / fmt
            assert main(["export", str(run_dir), "--format", fmt, "--out", str(out)]) == 0
            made[fmt] = out
        return made[fmt]

    return export


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_export_matches_keras_on_real_clips_in_a_fresh_process(
    fmt, run_dir, real_clips, exported, tmp_path, capsys
):
    out = exported(fmt)
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith(f"exported {run_dir} as {fmt} to {out}")
    )
    _, model, classes = RunDir(run_dir).load()
    batches = [{"clip": real_clips[:1]}, {"clip": real_clips}]
    got, report = run_fresh(fmt, out / FORMATS[fmt].artifact, batches, tmp_path / "fresh")
    assert report["loaded"] == [] and report["inputs"] == ["clip"]
    for batch, probs in zip(batches, got):
        expected = keras_predict(model, batch)
        assert probs.shape == expected.shape == (len(batch["clip"]), len(classes))
        np.testing.assert_allclose(probs, expected, rtol=0, atol=FORMATS[fmt].tolerance)
        np.testing.assert_array_equal(probs.argmax(1), expected.argmax(1))
    assert json.loads((out / "classes.json").read_text()) == classes


def test_preprocess_json_describes_the_run(run_dir, exported, real_clips, motion_data):
    cfg, _, classes = RunDir(run_dir).load()
    pre = json.loads((exported("onnx") / "preprocess.json").read_text())
    video = sorted((motion_data / classes[0]).iterdir())[
        0
    ]  # the first of real_clips, as the docs' example reads it
    clip = read_clip(
        video,
        frames=pre["frames"],
        size=tuple(pre["size"]),
        sampler=pre["sampler"]["name"],
        resize=pre["resize"],
        gray=pre["gray"],
    )
    np.testing.assert_array_equal(clip.astype(np.float32) / 255, real_clips[0])
    assert (pre["model"], pre["media"], pre["frames"], pre["size"]) == (
        "convnet-gru",
        "video",
        cfg.frames,
        [24, 24],
    )
    assert (pre["resize"], pre["resampling"], pre["gray"], pre["sampler"]) == (
        "crop",
        "area",
        False,
        {"name": "uniform"},
    )
    assert pre["streams"] == ["rgb"] and pre["extra_frame"] is False and pre["audio"] is None
    assert pre["input"] == {
        "names": ["clip"],
        "shapes": {"clip": [None, cfg.frames, 24, 24, 3]},
        "dtype": "float32",
        "range": [0.0, 1.0],
        "scale": "uint8 value / 255",
        "layout": "batch, frames, height, width, channels",
    }
    art = pre["artifact"]
    assert (art["format"], art["file"], art["inputs"], art["batch"]) == (
        "onnx",
        "model.onnx",
        ["clip"],
        "dynamic",
    )
    assert art["max_abs_diff"] <= art["tolerance"] == 1e-5 and art["checked_batches"] == [1, 3]
    assert set(art["made_with"]) == {"keras", "tensorflow", "tf2onnx", "onnxruntime"}


def test_preprocess_json_of_an_audio_run_reproduces_its_spectrograms(tmp_path):
    wav = tone(tmp_path / "a.wav", 600, seconds=1.5)
    save_split(
        tmp_path / "split.json",
        {"train": Catalog((Item(str(wav), 0), Item(str(wav), 1)), ("a", "b"), str(tmp_path))},
    )
    cfg = RunConfig(
        data=str(tmp_path),
        model="convnet-gru",
        frames=6,
        size="40x24",
        gray=True,
        audio_norm="band",
    )
    model = build_model("convnet-gru", (6, 40, 24, 1), 2, compile=False, **TINY["convnet-gru"])
    pre = preprocess_manifest(cfg, tmp_path, model)
    a = pre["audio"]
    assert (
        pre["media"] == "audio"
        and pre["size"] == [40, 24]
        and a["audio_norm"] == "band"
        and a["sample_rate"] == 8000
    )
    rebuilt = spectrogram_sequence(
        wav,
        steps=pre["frames"],
        size=(a["mels"], a["window_columns"]),
        duration=a["duration"],
        sample_rate=a["sample_rate"],
        offset=a["offset"],
        norm=a["audio_norm"],
    )
    ds = ClipDataset(
        [str(wav)],
        frames=6,
        size=(40, 24),
        batch_size=1,
        shuffle=False,
        cache=None,
        dtype="uint8",
        audio_norm="band",
    )
    np.testing.assert_array_equal(ds[0][0][0], rebuilt)


def test_portable_clone_unrolls_recurrent_layers_and_keeps_the_function():
    model = build_model(
        "convnet-gru", (4, 32, 32, 3), 3, compile=False, temporal="bilstm", **TINY["convnet-gru"]
    )
    clone = portable_clone(model)
    rnns = [layer for layer in _all_layers(clone) if isinstance(layer, keras.layers.LSTM)]
    assert len(rnns) == 2 and all(
        r.unroll and r.use_cudnn is False for r in rnns
    )  # both directions
    x = {"clip": np.random.default_rng(1).random((2, 4, 32, 32, 3), dtype=np.float32)}
    np.testing.assert_allclose(keras_predict(clone, x), keras_predict(model, x), atol=1e-6)


def test_portable_clone_replaces_3d_max_pooling_exactly():
    model = build_model("c3d", (4, 32, 32, 3), 3, compile=False, **TINY["c3d"])
    clone = portable_clone(model)
    kinds = {type(layer).__name__ for layer in _all_layers(clone)}
    assert "MaxPooling3D" not in kinds and "FrameMaxPooling3D" in kinds
    x = {"clip": np.random.default_rng(2).random((3, 4, 32, 32, 3), dtype=np.float32)}
    np.testing.assert_allclose(keras_predict(clone, x), keras_predict(model, x), atol=1e-6)


def test_an_unconvertible_model_is_refused_in_one_sentence_and_leaves_nothing(tmp_path):
    clip = keras.Input((4, 8, 8, 1), name="clip")
    pooled = keras.layers.MaxPooling3D((2, 2, 2), padding="same")(
        clip
    )  # not tiling: kept as a 3-D max pool
    probs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(pooled))
    model = keras.Model(clip, probs, name="pool3d-same")
    with pytest.raises(VidseqError) as err:
        export_model(model, "tflite", tmp_path / "out", ["a", "b"])
    message = str(err.value)
    assert message.startswith(
        "model 'pool3d-same' cannot be exported to tflite (no builtin op for tf.MaxPool3D)"
    )
    assert "--format saved_model" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["export", "{run}", "--format", "coreml", "--out", "{tmp}/x"],
            "export format 'coreml' is unknown; use one of",
        ),
        (
            ["export", "{run}", "--format", "onnx", "--out", "{tmp}"],
            "already exists; export into a new folder",
        ),
        (["export", "{tmp}", "--format", "onnx", "--out", "{tmp}/x"], "not a finished run"),
    ],
)
def test_user_errors_exit_2_with_one_sentence(argv, message, run_dir, tmp_path, capsys):
    (tmp_path / "something").write_text("")
    assert main([a.format(run=run_dir, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vidseq: ") and message in err[0]


def test_a_missing_export_package_names_the_extra(run_dir, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "vidseq: exporting to onnx needs onnxruntime, not installed here; run pip install 'vidseq[export]'."
    )


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer inside `model`, nested models and wrapped layers included."""
    return list(model._flatten_layers(include_self=False, recursive=True))

"""The `vidseq` command end to end on a tiny generated dataset: train → evaluate → predict, and errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from vidseq.cli import main
from vidseq.data.synthetic import MOTION_CLASSES
from vidseq.run.metrics import classification_metrics

TINY_TRAIN = [
    "--model",
    "convnet-gru",
    "--model-option",
    "width=0.125",
    "--model-option",
    "head=[16]",
    "--frames",
    "4",
    "--size",
    "24",
    "--batch",
    "4",
    "--seed",
    "0",
]


@pytest.fixture(scope="module")
def run_dir(motion_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "a"
    assert main(["train", str(motion_data), "--out", str(out), "--epochs", "2", *TINY_TRAIN]) == 0
    return out


def test_train_writes_a_complete_run_directory(run_dir, capsys):
    for name in (
        "config.yaml",
        "classes.json",
        "split.json",
        "model.keras",
        "history.csv",
        "curves.png",
        "metrics.json",
        "confusion.png",
        "checkpoints/last.keras",
    ):
        assert (run_dir / name).is_file(), name
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 3 and history[0].startswith("epoch,")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    split = json.loads((run_dir / "split.json").read_text())
    assert metrics["n"] == len(split["test"]["items"]) > 0
    assert set(metrics) >= {"accuracy", "n", "classes", "confusion", "per_class", "top_k"}
    assert np.array(metrics["confusion"]).sum() == metrics["n"]


def test_evaluate_with_several_clips_prints_a_summary(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--clips", "3"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert last == f"test accuracy {metrics['accuracy']:.3f} (n={metrics['n']})"
    assert metrics["clips_per_video"] == 3


def test_predict_files_and_folders_as_json(run_dir, motion_data, capsys):
    video = next((motion_data / "grow").iterdir())
    assert main(["predict", str(run_dir), str(video), str(motion_data / "shrink"), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    results = [json.loads(line) for line in lines[:-1]]
    assert len(results) == 1 + 6 and lines[-1] == "predicted 7 file(s)"
    top = results[0]["top"]
    assert len(top) == 3 and top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
    assert {t["class"] for t in top} <= set(MOTION_CLASSES)


def test_predict_reports_a_broken_file_and_goes_on(run_dir, motion_data, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    good = next((motion_data / "grow").iterdir())
    assert main(["predict", str(run_dir), str(bad), str(good)]) == 0
    out = capsys.readouterr().out
    assert (
        f"{bad}: error: is not a readable video" in out and "predicted 1 file(s), 1 failed" in out
    )


def test_timeline_over_a_long_video(run_dir, tmp_path):
    from vidseq.data.synthetic import motion_clip, write_video

    rng = np.random.default_rng(0)
    long_clip = np.concatenate([motion_clip(k, rng, 20, 32) for k in ("grow", "shrink", "grow")])
    video = write_video(tmp_path / "long.mp4", long_clip, fps=10)
    png = tmp_path / "timeline.png"
    assert main(["predict", str(run_dir), str(video), "--timeline", str(png), "--window", "2"]) == 0
    assert png.stat().st_size > 1000


def test_show_draws_a_grid(motion_data, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert (
        main(
            [
                "show",
                str(motion_data),
                "--out",
                str(png),
                "--clips",
                "3",
                "--frames",
                "4",
                "--size",
                "32",
            ]
        )
        == 0
    )
    assert png.stat().st_size > 1000
    assert (
        main(
            [
                "show",
                str(motion_data),
                "--out",
                str(png),
                "--augment",
                "--clips",
                "3",
                "--frames",
                "4",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "/no/such/folder", "--out", "x"], "does not exist"),
        (["train", "{data}", "--out", "{tmp}/r", "--model", "resnet-9000"], "not in the zoo"),
        (["train", "{data}", "--out", "{tmp}/r", "--frames", "0"], "frames must be at least 1"),
        (["train", "{data}", "--out", "{tmp}/r", "--folds", "5"], "--folds and --fold together"),
        (["train", "{data}", "--out", "{tmp}/r", "--model-option", "width"], "key=value"),
        (
            ["train", "{data}", "--out", "{tmp}/r", "--mixup", "-1"],
            "mixup must be 0 (none) or an alpha > 0",
        ),
        (["evaluate", "{tmp}"], "not a finished run"),
        (["predict", "{tmp}", "{data}"], "not a finished run"),
    ],
)
def test_user_errors_exit_2_with_one_sentence(argv, message, motion_data, tmp_path, capsys):
    argv = [a.format(data=motion_data, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vidseq: ") and message in err[0]
    assert "Traceback" not in err[0]


def test_config_file_with_wrong_types_is_rejected(motion_data, tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("frames: eight\n")
    assert (
        main(["train", str(motion_data), "--out", str(tmp_path / "r"), "--config", str(cfg)]) == 2
    )
    assert "frames = 'eight' should be int" in capsys.readouterr().err


def test_metrics_match_a_hand_computed_confusion():
    probs = np.array(
        [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]]
    )
    m = classification_metrics([0, 1, 2, 1, 1], probs, ["a", "b", "c"])
    assert m["confusion"] == [[1, 0, 0], [1, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class"]["b"] == {
        "precision": 1.0,
        "recall": pytest.approx(1 / 3),
        "f1": pytest.approx(0.5),
        "support": 3,
    }
    assert m["per_class"]["a"]["precision"] == 0.5
    assert m["top_k"]["2"] == pytest.approx(
        4 / 5
    )  # sample 4 (b): ranks a, b → hit; sample 5 (b): c then a/b tie


def test_resume_after_sigkill_continues_from_the_last_finished_epoch(motion_data, tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "vidseq.cli",
        "train",
        str(motion_data),
        "--out",
        str(out),
        "--epochs",
        "40",
        *TINY_TRAIN,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "history.csv").is_file() or _epochs(out) < 2:
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _epochs(out)
    split_before = (out / "split.json").read_text()
    assert (
        main(
            [
                "train",
                str(motion_data),
                "--out",
                str(out),
                "--epochs",
                str(done + 2),
                "--resume",
                *TINY_TRAIN,
            ]
        )
        == 0
    )
    epochs = [
        int(float(line.split(",")[0]))
        for line in (out / "history.csv").read_text().splitlines()[1:]
    ]
    assert epochs == list(range(done + 2))  # each epoch once, none lost beyond the one in progress
    assert (out / "split.json").read_text() == split_before


def _epochs(run: Path) -> int:
    path = run / "history.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def test_resume_alone_continues_with_the_runs_own_settings(motion_data, tmp_path, capsys):
    """`--resume` reads RUN/config.yaml: the README's command needs no other option again."""
    out = tmp_path / "r"
    assert main(["train", str(motion_data), "--out", str(out), "--epochs", "1", *TINY_TRAIN]) == 0
    state = out / "state.json"
    (out / "state.done.json").rename(state)  # as if killed after epoch 1 of 2
    (out / "model.keras").unlink()
    capsys.readouterr()
    assert main(["train", str(motion_data), "--out", str(out), "--resume", "--epochs", "2"]) == 0
    assert [
        int(float(r.split(",")[0])) for r in (out / "history.csv").read_text().splitlines()[1:]
    ] == [0, 1]
    assert (
        "frames: 4" in (out / "config.yaml").read_text()
        and "epochs: 2" in (out / "config.yaml").read_text()
    )


def test_resume_refuses_a_changed_setting_in_one_sentence(run_dir, motion_data, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    (out / "state.done.json").rename(out / "state.json")
    (out / "model.keras").unlink()
    assert main(["train", str(motion_data), "--out", str(out), "--resume", "--frames", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frames is 4 in the run, not 8" in err[0]


def test_predict_and_evaluate_read_a_sliding_run_the_same_way(motion_data, tmp_path, monkeypatch):
    """One RunConfig → dataset mapping: predict uses the run's sliding windows, as evaluate does."""
    from vidseq.data import decode

    out = tmp_path / "sliding"
    assert (
        main(
            [
                "train",
                str(motion_data),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--sampler",
                "sliding",
                "--stride",
                "4",
                *TINY_TRAIN,
            ]
        )
        == 0
    )
    test_file = json.loads((out / "split.json").read_text())["test"]["items"][0]["path"]
    path = str((Path(motion_data) / test_file).resolve())
    seen: dict[str, list] = {}
    original = decode.VideoReader.read

    def spy(self, indices):
        seen.setdefault(self.path, []).append([int(i) for i in indices])
        return original(self, indices)

    monkeypatch.setattr(decode.VideoReader, "read", spy)
    assert main(["evaluate", str(out)]) == 0
    by_evaluate = {
        tuple(r) for r in seen.pop(path)
    }  # as sets: Keras reads a first batch twice to learn its shapes
    assert main(["predict", str(out), path]) == 0
    assert by_evaluate == {
        (0, 1, 2, 3),
        (4, 5, 6, 7),
        (8, 9, 10, 11),
    }  # 12 frames, windows of 4, stride 4
    assert {tuple(r) for r in seen[path]} == by_evaluate


def test_a_single_flow_stream_model_trains_evaluates_and_predicts(motion_data, tmp_path, capsys):
    """`--model-option streams=[flow]`: the model takes the dataset's 2-channel flow clips."""
    out = tmp_path / "flow"
    argv = ["train", str(motion_data), "--out", str(out), "--epochs", "1", *TINY_TRAIN]
    assert main([*argv, "--model-option", "streams=[flow]"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["model_options"]["streams"] == ["flow"]
    assert main(["evaluate", str(out)]) == 0
    video = next((motion_data / "grow").iterdir())
    capsys.readouterr()
    assert main(["predict", str(out), str(video), "--json"]) == 0
    top = json.loads(capsys.readouterr().out.splitlines()[0])["top"]
    assert {t["class"] for t in top} <= set(MOTION_CLASSES)


def test_a_data_failure_inside_fit_ends_train_with_its_sentence(
    motion_data, tmp_path, monkeypatch, capsys
):
    """Files that pass the screen but cannot give their frames during an epoch: exit 2, no backend traceback."""
    from vidseq.data import sources
    from vidseq.run import datasets

    monkeypatch.setattr(datasets, "_screen_file", lambda *args: None)
    original = sources.VideoSource.read

    def broken(self, indices):
        if "grow" in self.info.path:
            raise sources.VideoDecodeError(self.info.path, "frame 3 could not be decoded")
        return original(self, indices)

    monkeypatch.setattr(sources.VideoSource, "read", broken)
    code = main(
        ["train", str(motion_data), "--out", str(tmp_path / "r"), "--epochs", "1", *TINY_TRAIN]
    )
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("vidseq: ") and "files failed to decode (more than max_bad=10%)" in last
    assert "Traceback" not in err and "UnknownError" not in err

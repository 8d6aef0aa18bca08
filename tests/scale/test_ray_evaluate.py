"""`vidseq evaluate --ray` gives the single-process metrics and per-video probabilities."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tests.scale.conftest import vidseq
from tests.test_cli import TINY_TRAIN
from vidseq.cli import main


def _rows(run) -> dict[str, list[float]]:
    with open(run / "predictions.csv", newline="") as f:
        return {
            r.pop("file"): [float(v) for k, v in r.items() if k not in ("label", "predicted")]
            for r in csv.DictReader(f)
        }


def _data_with_a_broken_file(motion_data, folder):
    """Four videos of each class and one broken file (quarantined: below the 10% limit)."""
    for label in sorted(p for p in motion_data.iterdir() if p.is_dir()):
        (folder / label.name).mkdir(parents=True)
        for video in sorted(label.iterdir())[:4]:
            shutil.copy(video, folder / label.name / video.name)
    (folder / label.name / "broken.mp4").write_bytes(b"garbage" * 100)
    return folder


@pytest.mark.slow
def test_evaluate_on_ray_equals_evaluate_in_one_process(ray_head, motion_data, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(motion_data), "--out", str(run), "--epochs", "1", *TINY_TRAIN]) == 0
    data = str(_data_with_a_broken_file(motion_data, tmp_path / "data"))
    assert main(["evaluate", str(run), "--data", data, "--clips", "2"]) == 0
    oracle, oracle_rows = json.loads((run / "metrics.json").read_text()), _rows(run)
    assert len(oracle["skipped"]) == 1 and oracle["skipped"][0].endswith("broken.mp4")
    (run / "metrics.json").unlink()
    done = vidseq("evaluate", str(run), "--data", data, "--clips", "2", "--ray", ray_head)
    assert done.returncode == 0, done.stderr
    metrics, rows = json.loads((run / "metrics.json").read_text()), _rows(run)
    assert list(rows) == list(oracle_rows) and len(rows) == oracle["n"]
    for name, probs in rows.items():
        assert probs == pytest.approx(oracle_rows[name], abs=1e-5)
    assert metrics["confusion"] == oracle["confusion"] and metrics["skipped"] == oracle["skipped"]
    assert metrics["accuracy"] == oracle["accuracy"] and metrics["clips_per_video"] == 2

"""`vidseq predict --ray` gives the single-process predictions, file by file, in the same order."""

from __future__ import annotations

import json

import pytest

from tests.scale.conftest import vidseq
from tests.test_cli import TINY_TRAIN
from vidseq.cli import main


@pytest.mark.slow
def test_predict_on_ray_equals_predict_in_one_process(ray_head, motion_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(motion_data), "--out", str(run), "--epochs", "1", *TINY_TRAIN]) == 0
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    inputs = [str(motion_data), str(bad)]
    capsys.readouterr()
    assert main(["predict", str(run), *inputs, "--json", "--clips", "2"]) == 0
    oracle = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()[:-1]]
    done = vidseq("predict", str(run), *inputs, "--json", "--clips", "2", "--ray", ray_head)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"predicted {len(oracle) - 1} file(s), 1 failed"
    results = [json.loads(line) for line in lines[:-1]]
    assert [r["file"] for r in results] == [r["file"] for r in oracle]
    assert results[-1] == oracle[-1] == {"file": str(bad), "error": oracle[-1]["error"]}
    for r, o in zip(results[:-1], oracle[:-1]):
        assert [t["class"] for t in r["top"]] == [t["class"] for t in o["top"]]
        assert [t["probability"] for t in r["top"]] == pytest.approx(
            [t["probability"] for t in o["top"]], abs=1e-6
        )

"""`vidseq features --ray` fills the disk cache as the single-process run does, and train then computes none."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.scale.conftest import vidseq

FROZEN = [
    "--model",
    "vgg16-lstm",
    "--model-option",
    "weights=null",
    "--model-option",
    "units=8",
    "--model-option",
    "head=[8]",
    "--frames",
    "4",
    "--size",
    "32",
    "--batch",
    "4",
    "--workers",
    "1",
    "--pool",
    "2",
]


def _entries(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in folder.glob("*.npy")}


@pytest.mark.slow
def test_features_on_ray_equal_the_single_process_ones_and_train_computes_none(
    ray_head, motion_data, tmp_path
):
    one = vidseq("features", str(motion_data), "--cache-dir", str(tmp_path / "one"), *FROZEN)
    assert one.returncode == 0, one.stderr
    on_ray = vidseq(
        "features",
        str(motion_data),
        "--cache-dir",
        str(tmp_path / "ray"),
        *FROZEN,
        "--ray",
        ray_head,
    )
    assert on_ray.returncode == 0, on_ray.stderr
    assert re.search(r"features: \d+/\d+ tasks done on Ray", on_ray.stderr)
    assert "0 frames computed in this process" in on_ray.stdout and "0 failed" in on_ray.stdout
    oracle, ray = _entries(tmp_path / "one"), _entries(tmp_path / "ray")
    features = {name for name, a in oracle.items() if a.dtype == np.float32}
    assert features and set(ray) == set(oracle)  # the same keys (file names are their digests)
    for name in features:
        np.testing.assert_allclose(ray[name], oracle[name], rtol=0, atol=1e-6)
    trained = vidseq(
        "train",
        str(motion_data),
        "--out",
        str(tmp_path / "run"),
        "--cache-dir",
        str(tmp_path / "ray"),
        "--epochs",
        "1",
        *FROZEN,
    )
    assert trained.returncode == 0, trained.stderr
    counts = re.findall(r"features: \d+ videos \((\d+) frames computed", trained.stderr)
    assert counts == ["0", "0"]  # training and validation features all found in the cache

"""Motion modalities in ClipDataset, and a two-stream model trained through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidseq import Catalog, ClipDataset, VidseqError
from vidseq.cli import main


@pytest.mark.parametrize(
    "modality,channels",
    [("rgb", 3), ("gray", 1), ("flow", 2), ("diff", 1), ("flow-mask", 3), ("diff-mask", 3)],
)
def test_each_modality_has_its_shape(motion_data, modality, channels):
    x, y = ClipDataset(
        Catalog.from_folder(motion_data),
        frames=4,
        size=24,
        batch_size=3,
        shuffle=False,
        modality=modality,
    )[0]
    assert x.shape == (3, 4, 24, 24, channels) and x.dtype == np.float32 and y.shape == (3, 4)


def test_several_modalities_make_a_dict_and_flow_is_centred(motion_data):
    x, _ = ClipDataset(
        Catalog.from_folder(motion_data),
        frames=4,
        size=24,
        batch_size=3,
        shuffle=False,
        modality=("rgb", "flow"),
    )[0]
    assert set(x) == {"rgb", "flow"} and x["flow"].shape == (3, 4, 24, 24, 2)
    assert (
        abs(float(x["flow"].mean()) - 128 / 255) < 0.05
    )  # 128 = no motion; the discs barely drift
    with pytest.raises(VidseqError, match="modality"):
        ClipDataset(Catalog.from_folder(motion_data), frames=4, modality="thermal")


def test_two_stream_trains_and_evaluates_through_the_cli(motion_data, tmp_path):
    run = tmp_path / "two"
    argv = [
        "train",
        str(motion_data),
        "--out",
        str(run),
        "--model",
        "two-stream",
        "--model-option",
        "width=0.125",
        "--model-option",
        "head=[8]",
        "--model-option",
        "units=8",
        "--frames",
        "3",
        "--size",
        "24",
        "--batch",
        "4",
        "--epochs",
        "1",
    ]
    assert main(argv) == 0
    assert json.loads((run / "metrics.json").read_text())["n"] > 0
    assert main(["predict", str(run), str(next((motion_data / "grow").iterdir()))]) == 0

"""keras-video-generators drop-in: old shapes and label order, leak-free splits, real sliding windows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidseq import VidseqError
from vidseq.compat.keras_video import (
    METHOD_ABS_DIFF,
    METHOD_DIFF_MASK,
    METHOD_FLOW_MASK,
    METHOD_OPTICAL_FLOW,
    OpticalFlowGenerator,
    SlidingFrameGenerator,
    VideoFrameGenerator,
)
from vidseq.compat.keras_video.utils import show_sample
from vidseq.data.motion import abs_diff, flow_to_uint8, optical_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pattern(root: Path) -> str:
    return str(root / "{classname}" / "*.mp4")


def test_shapes_label_order_and_attributes(motion_data):
    g = VideoFrameGenerator(
        glob_pattern=pattern(motion_data), nb_frames=5, batch_size=4, target_shape=(32, 24)
    )
    x, y = g[0]
    assert x.shape == (4, 5, 24, 32, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.shape == (4, 4) and (y.sum(1) == 1).all()
    assert (
        g.classes == sorted(g.classes)
        and g.classes_count == 4
        and g.files_count == 24 == len(g.files)
    )
    for clip_labels, path_index in zip(y.argmax(1), g._order[:4]):
        assert (
            g.classes[clip_labels] in g.files[path_index]
        )  # label = the {classname} folder of the file
    gray = VideoFrameGenerator(
        glob_pattern=pattern(motion_data),
        nb_frames=3,
        batch_size=2,
        nb_channel=1,
        target_shape=(16, 16),
        rescale=1.0,
    )
    xg = gray[0][0]
    assert xg.shape == (2, 3, 16, 16, 1) and xg.max() > 1  # rescale=1.0 keeps 0..255


def test_validation_and_test_are_disjoint_from_training(motion_data):
    g = VideoFrameGenerator(
        glob_pattern=pattern(motion_data), split_val=0.25, split_test=0.25, batch_size=2
    )
    val, test = g.get_validation_generator(), g.get_test_generator()
    assert set(g.files).isdisjoint(val.files) and set(g.files).isdisjoint(test.files)
    assert set(val.files).isdisjoint(test.files)
    assert len(g.files) + len(val.files) + len(test.files) == 24
    only_val = VideoFrameGenerator(glob_pattern=pattern(motion_data), split_val=0.25, batch_size=2)
    assert only_val.get_validation_generator().files_count == 6  # no test split needed (old bug)
    with pytest.raises(VidseqError, match="split_test"):
        only_val.get_test_generator()


def test_deprecated_split_and_class_subset(motion_data):
    g = VideoFrameGenerator(
        glob_pattern=pattern(motion_data), classes=["shrink", "grow"], split=0.5, batch_size=2
    )
    assert (
        g.classes == ["grow", "shrink"]
        and g.files_count + g.get_validation_generator().files_count == 12
    )


def test_sliding_windows_differ_and_advance_by_the_stride(numbered_video):
    from tests.conftest import frame_number

    path = numbered_video(".mp4", n=60, fps=25)
    root = Path(path).parent / "sliding"
    (root / "numbers").mkdir(parents=True, exist_ok=True)
    link = root / "numbers" / "n.mp4"
    if not link.exists():
        link.symlink_to(path)
    g = SlidingFrameGenerator(
        glob_pattern=pattern(root),
        nb_frames=4,
        sequence_time=0.8,
        stride=0.4,
        batch_size=1,
        shuffle=False,
        target_shape=(96, 64),
        rescale=1.0,
    )
    starts = [[frame_number(f.astype(np.uint8)) for f in g[i][0][0]] for i in range(len(g))]
    assert len(starts) == 5  # 2.4 s of video, 0.8 s windows every 0.4 s
    assert all(
        s[1:] == [s[0] + 5, s[0] + 10, s[0] + 15] for s in starts
    )  # 4 frames spanning 0.8 s at 25 fps
    assert [s[0] for s in starts] == [0, 10, 20, 30, 40]


def test_optical_flow_generator_methods(motion_data):
    for method, channels in (
        (METHOD_OPTICAL_FLOW, 3),
        (METHOD_FLOW_MASK, 3),
        (METHOD_DIFF_MASK, 3),
        (METHOD_ABS_DIFF, 3),
    ):
        g = OpticalFlowGenerator(
            glob_pattern=pattern(motion_data),
            nb_frames=4,
            batch_size=2,
            target_shape=(32, 32),
            method=method,
        )
        assert g[0][0].shape == (2, 4, 32, 32, channels)
    with pytest.raises(VidseqError, match="METHOD_"):
        OpticalFlowGenerator(glob_pattern=pattern(motion_data), method=9)


def test_flow_of_a_clip_moving_right_has_positive_dx():
    rng = np.random.default_rng(0)
    texture = (rng.random((40, 80)) * 255).astype(np.uint8)
    import cv2

    texture = cv2.GaussianBlur(texture, (5, 5), 0)
    clip = np.stack(
        [np.repeat(texture[:, 20 - 2 * t : 60 - 2 * t, None], 3, axis=2) for t in range(5)]
    )  # content moves right
    flow = optical_flow(clip)
    assert flow.shape == (4, 40, 40, 2)
    assert flow[..., 0].mean() > 1.0 and abs(flow[..., 1].mean()) < 0.5
    assert flow_to_uint8(flow)[..., 0].mean() > 128
    assert abs_diff(clip).shape == (4, 40, 40, 1) and abs_diff(clip).max() > 0


def test_legacy_image_data_generator_is_applied_the_same_way_to_every_frame(motion_data):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    flip = ImageDataGenerator(horizontal_flip=True)
    g = VideoFrameGenerator(
        glob_pattern=pattern(motion_data),
        nb_frames=3,
        batch_size=4,
        target_shape=(32, 32),
        transformation=flip,
        shuffle=False,
        rescale=1.0,
    )
    plain = VideoFrameGenerator(
        glob_pattern=pattern(motion_data),
        nb_frames=3,
        batch_size=4,
        target_shape=(32, 32),
        shuffle=False,
        rescale=1.0,
        seed=0,
    )
    x, ref = g[0][0], plain[0][0]
    for clip, original in zip(x, ref):
        flipped = np.array_equal(clip, original[:, :, ::-1])
        assert flipped or np.array_equal(clip, original)  # one draw per clip, all frames alike


def test_show_sample_writes_a_picture(motion_data, tmp_path):
    g = VideoFrameGenerator(
        glob_pattern=pattern(motion_data), nb_frames=3, batch_size=2, target_shape=(32, 32)
    )
    assert show_sample(g, out=tmp_path / "s.png").stat().st_size > 1000


@pytest.mark.parametrize("script", ["vgg16_lstm.py", "lrcn.py", "article_convnet_gru.py"])
def test_examples_run_quick(script, motion_data):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), str(motion_data), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "val_" in result.stdout  # trained an epoch with validation

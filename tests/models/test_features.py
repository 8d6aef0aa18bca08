"""Frozen-backbone feature cache: features equal the CNN on the clips, are reused from disk, and train a run."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

import vidseq
from vidseq import ClipDataset, VidseqError, build_model
from vidseq.data.cache import ClipCache
from vidseq.run.features import FeatureDataset, fingerprint, frame_cnn

SHAPE = (4, 32, 32, 3)
FROZEN = {"weights": None, "units": 8, "head": [8]}


@pytest.fixture
def frozen_model():
    return build_model("vgg16-lstm", SHAPE, 4, **FROZEN)


def _clips(motion_data, **kwargs) -> ClipDataset:
    options = {
        "frames": 4,
        "size": 32,
        "batch_size": 5,
        "pool": 3,
        "shuffle": True,
        "workers": 1,
        **kwargs,
    }
    return ClipDataset(vidseq.Catalog.from_folder(motion_data), **options)


def test_features_are_the_frozen_cnn_on_the_same_random_frames(motion_data, frozen_model):
    clips, cnn = _clips(motion_data), frame_cnn(frozen_model)
    features = FeatureDataset(_clips(motion_data), cnn)
    for epoch in (0, 3):
        clips.set_epoch(epoch)
        features.set_epoch(epoch)
        x, y = clips[1]
        f, fy = features[1]
        expected = keras.ops.convert_to_numpy(cnn(x.reshape(-1, 32, 32, 3))).reshape(f.shape)
        np.testing.assert_allclose(f, expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(fy, y)
    head = frozen_model.get_layer("head")
    np.testing.assert_allclose(
        head.predict(f, verbose=0), frozen_model.predict(x, verbose=0), atol=1e-5
    )


def test_features_are_reused_from_disk_and_keyed_by_the_weights(
    motion_data, frozen_model, tmp_path, caplog
):
    cnn = frame_cnn(frozen_model)
    FeatureDataset(_clips(motion_data), cnn, ClipCache("64MB", tmp_path))
    with caplog.at_level(logging.INFO, logger="vidseq"):
        again = FeatureDataset(_clips(motion_data), cnn, ClipCache("64MB", tmp_path))
    assert "0 frames computed" in caplog.text
    other = build_model("vgg16-lstm", SHAPE, 4, **FROZEN)
    assert fingerprint(frame_cnn(other)) != again.fingerprint


def test_features_refuse_augmentation_motion_and_trainable_cnns(motion_data, frozen_model):
    with pytest.raises(VidseqError, match="augmentation"):
        FeatureDataset(_clips(motion_data, augment="light"), frame_cnn(frozen_model))
    with pytest.raises(VidseqError, match="mixup blends"):
        FeatureDataset(_clips(motion_data, mixup=0.3), frame_cnn(frozen_model))
    with pytest.raises(VidseqError, match="modality flow"):
        FeatureDataset(_clips(motion_data, modality="flow"), frame_cnn(frozen_model))
    with pytest.raises(VidseqError, match="without a pool"):
        FeatureDataset(_clips(motion_data, pool=0), frame_cnn(frozen_model))
    trainable = build_model("convnet-gru", SHAPE, 4, width=0.125, head=[8])
    with pytest.raises(VidseqError, match="no frozen per-frame CNN"):
        FeatureDataset(_clips(motion_data), frame_cnn(trainable))


def test_training_on_features_saves_a_model_that_takes_clips(motion_data, tmp_path, caplog):
    settings = dict(
        model="vgg16-lstm",
        model_options=FROZEN,
        frames=4,
        size="32",
        epochs=2,
        batch=4,
        workers=1,
        val=0.25,
        test=0.25,
    )
    with caplog.at_level(logging.INFO, logger="vidseq"):
        result = vidseq.train(str(motion_data), tmp_path / "run", **settings)
    assert "training the head on them" in caplog.text
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.input_shape == (None, *SHAPE) and result.metrics["n"] == 6
    with pytest.raises(VidseqError, match="--features on: augmentation"):
        vidseq.train(str(motion_data), tmp_path / "aug", features="on", augment="light", **settings)

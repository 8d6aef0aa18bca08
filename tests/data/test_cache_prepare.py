"""Disk-backed clip cache, pooled random sampling, and one-time `prepare`."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from vidseq import Catalog, ClipDataset, VidseqError, probe
from vidseq.cli import main
from vidseq.data.cache import ClipCache
from vidseq.data.prepare import prepare


def test_disk_store_survives_a_new_process_and_is_bit_identical(motion_data, tmp_path):
    cat = Catalog.from_folder(motion_data)
    first = ClipDataset(
        cat,
        frames=4,
        size=16,
        batch_size=24,
        shuffle=False,
        dtype="uint8",
        cache="64MB",
        cache_dir=str(tmp_path / "store"),
    )
    x1 = first[0][0]
    assert len(list((tmp_path / "store").glob("*.npy"))) == 24 * 4  # one entry per decoded frame
    fresh = ClipCache("64MB", tmp_path / "store")  # what a second run starts with
    second = ClipDataset(
        cat, frames=4, size=16, batch_size=24, shuffle=False, dtype="uint8", cache=fresh
    )
    x2 = second[0][0]
    assert fresh.hits == 24 * 4 and fresh.misses == 0
    np.testing.assert_array_equal(x1, x2)


def test_frames_cached_with_another_resize_filter_are_decoded_again(
    motion_data, tmp_path, monkeypatch
):
    """A disk store written by a version that resized with another filter never serves its pixels."""
    import vidseq.data.decode as decode_module

    cat = Catalog.from_folder(motion_data)
    monkeypatch.setattr(decode_module, "RESAMPLING", "bilinear")
    ClipDataset(
        cat, frames=4, size=16, batch_size=24, shuffle=False, cache="64MB", cache_dir=str(tmp_path)
    )[0]
    monkeypatch.undo()
    fresh = ClipCache("64MB", tmp_path)
    ClipDataset(cat, frames=4, size=16, batch_size=24, shuffle=False, cache=fresh)[0]
    assert fresh.hits == 0 and fresh.misses == 24 * 4


def test_entries_read_from_disk_hold_no_open_files(tmp_path):
    store = ClipCache("64MB", tmp_path)
    for i in range(300):
        store.put(i, np.full((1, 8, 8, 3), i % 256, np.uint8))
    fresh = ClipCache("64MB", tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    kept = [fresh.get(i) for i in range(300)]
    assert fresh.hits == 300 and int(kept[299][0, 0, 0, 0]) == 299 % 256
    assert len(os.listdir("/proc/self/fd")) < before + 10  # memory-mapped entries held one each


def test_a_truncated_entry_is_detected_and_rebuilt(motion_data, tmp_path):
    cat = Catalog.from_folder(motion_data).subset(Catalog.from_folder(motion_data).items[:2])
    ds = ClipDataset(
        cat,
        frames=4,
        size=16,
        batch_size=2,
        shuffle=False,
        dtype="uint8",
        cache="1MB",
        cache_dir=str(tmp_path / "store"),
    )
    good = ds[0][0]
    entry = sorted((tmp_path / "store").glob("*.npy"))[0]
    entry.write_bytes(entry.read_bytes()[:100])
    fresh = ClipCache("1MB", tmp_path / "store")
    again = ClipDataset(
        cat, frames=4, size=16, batch_size=2, shuffle=False, dtype="uint8", cache=fresh
    )
    np.testing.assert_array_equal(again[0][0], good)
    assert fresh.misses == 1 and entry.stat().st_size > 100


def test_pooled_random_frames_are_cached_and_still_random(motion_data):
    cat = Catalog.from_folder(motion_data)
    cache = ClipCache("64MB")
    ds = ClipDataset(
        cat,
        frames=4,
        size=16,
        batch_size=24,
        shuffle=False,
        random_frames=True,
        dtype="uint8",
        cache=cache,
        pool=3,
    )
    epochs = []
    for epoch in range(16):
        ds.set_epoch(epoch)
        epochs.append(ds[0][0])
    assert cache.misses <= 24 * 4 * 3  # never more than the pool: each candidate decoded once
    filled = cache.misses
    for epoch in range(16, 20):
        ds.set_epoch(epoch)
        epochs.append(ds[0][0])
    assert cache.misses == filled  # the pool is full: every draw is a hit
    assert len({e.tobytes() for e in epochs[-4:]}) == 4  # and the draws still differ between epochs


def test_warm_caches_every_frame_the_dataset_can_draw(motion_data):
    cat = Catalog.from_folder(motion_data)
    cache = ClipCache("64MB")
    ds = ClipDataset(cat, frames=4, size=16, batch_size=24, random_frames=True, cache=cache, pool=3)
    ds.warm()
    decoded = cache.misses
    assert decoded == len(cache) <= 24 * 12
    for epoch in range(5):
        ds.set_epoch(epoch)
        ds[0]
    assert cache.misses == decoded  # training never decodes after warm()


def test_prepare_is_idempotent_keeps_labels_and_duration(motion_data, tmp_path, capsys):
    source = tmp_path / "source"
    shutil.copytree(motion_data, source)
    (source / "labels.csv").write_text("path,label\n")
    motion_data = source
    out = tmp_path / "prepared"
    first = prepare(motion_data, out, size=16, fps=10, gop=4, workers=1)
    assert first.converted == 24 and first.copied == 1 and not first.failed
    assert (out / "labels.csv").read_text() == "path,label\n"
    assert Catalog.from_folder(out).classes == Catalog.from_folder(motion_data).classes
    for src in sorted(motion_data.rglob("*.mp4"))[::6]:
        a, b = probe(src), probe(out / src.relative_to(motion_data))
        assert b.duration == pytest.approx(a.duration, abs=0.1 + 1e-9)
        assert b.fps == pytest.approx(10) and min(b.width, b.height) == 16
        assert b.keyframes == tuple(range(0, b.frames, 4))
    assert (
        main(
            [
                "prepare",
                str(motion_data),
                str(out),
                "--size",
                "16",
                "--fps",
                "10",
                "--gop",
                "4",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "prepared 0 video(s), skipped 25 already done" in capsys.readouterr().out


def test_prepare_refuses_to_write_inside_its_source(motion_data):
    with pytest.raises(VidseqError, match="outside the source"):
        prepare(motion_data, motion_data / "out")


def test_dataset_and_cache_pickle_for_process_workers(motion_data, tmp_path):
    import pickle

    cat = Catalog.from_folder(motion_data)
    ds = ClipDataset(
        cat,
        frames=4,
        size=16,
        batch_size=4,
        shuffle=False,
        cache="8MB",
        cache_dir=str(tmp_path / "s"),
    )
    x = ds[0][0]
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone.cache) == 0  # memory stays with the parent; the disk store is shared
    np.testing.assert_array_equal(clone[0][0], x)
    assert clone.cache.hits == 4 * 4

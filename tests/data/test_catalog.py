"""Catalog construction, errors, and leak-free deterministic splits."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import shared
from vidseq import Catalog, VidseqError, load_split, save_split


def _tree(root: Path, spec: dict[str, list[str]]) -> Path:
    for cls, names in spec.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for n in names:
            (root / cls / n).write_bytes(b"x")
    return root


def _balanced(root: Path, per_class: int = 20, groups: int = 5) -> Path:
    return _tree(
        root,
        {
            c: [f"v_g{j % groups:02d}_c{j:02d}.mp4" for j in range(per_class)]
            for c in ("b", "a", "c")
        },
    )


def test_from_folder_sorts_classes_and_skips_hidden_and_non_media(tmp_path, caplog):
    _tree(
        tmp_path,
        {
            "walk": ["1.mp4", ".hidden.mp4", "notes.txt"],
            "run": ["2.avi", "3.MKV"],
            "_meta": ["x.mp4"],
        },
    )
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        cat = Catalog.from_folder(tmp_path)
    assert cat.classes == ("run", "walk")
    assert sorted(Path(p).name for p in cat.paths) == ["1.mp4", "2.avi", "3.MKV"]
    assert [cat.classes[it.label] for it in cat] == ["run", "run", "walk"]
    assert "skipped 2 hidden or non-media file(s)" in caplog.text


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"a": ["1.mp4"], "b": []}, "class 'b'"),
        ({"a": ["x.txt"]}, "no class sub-folders with media"),
    ],
)
def test_empty_class_or_no_media_is_a_clear_error(tmp_path, spec, message):
    with pytest.raises(VidseqError, match=message):
        Catalog.from_folder(_tree(tmp_path, spec))


def test_a_folder_of_metadata_is_not_a_class(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vidseq"):
        cat = Catalog.from_folder(
            _tree(tmp_path, {"a": ["1.mp4"], "b": ["2.wav"], "splits": ["train.txt"]})
        )
    assert cat.classes == ("a", "b") and "splits" in caplog.text


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(VidseqError, match="does not exist"):
        Catalog.from_folder(tmp_path / "nope")


def test_from_glob_and_open(tmp_path):
    _tree(tmp_path, {"a": ["1.avi", "2.mp4"], "b": ["3.avi"]})
    cat = Catalog.from_glob(str(tmp_path / "{classname}" / "*.avi"))
    assert cat.classes == ("a", "b") and len(cat) == 2
    assert len(Catalog.open(str(tmp_path))) == 3


def test_from_csv_with_groups_and_its_errors(tmp_path):
    _tree(tmp_path, {"v": ["1.mp4", "2.mp4", "3.mp4"]})
    good = tmp_path / "labels.csv"
    good.write_text("path,label,group\nv/1.mp4,jump,g1\nv/2.mp4,sit,g1\nv/3.mp4,jump,g2\n")
    cat = Catalog.from_csv(good)
    assert cat.classes == ("jump", "sit")
    assert [it.group for it in cat] == ["g1", "g1", "g2"]
    for text, message in [
        ("file,label\nv/1.mp4,jump\n", "lacks column"),
        ("path,label\nv/1.mp4,jump\nv/1.mp4,jump\n", "listed twice"),
        ("path,label\nv/9.mp4,jump\n", "does not exist"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(VidseqError, match=message):
            Catalog.from_csv(bad)


def test_split_is_stratified_deterministic_and_covers_everything(tmp_path):
    cat = Catalog.from_folder(_balanced(tmp_path))
    train, val, test = cat.split(val=0.2, test=0.2, seed=3)
    assert [len(train), len(val), len(test)] == [36, 12, 12]
    for part in (val, test):
        assert part.counts() == {"a": 4, "b": 4, "c": 4}
    assert sorted(train.paths + val.paths + test.paths) == sorted(cat.paths)
    again = cat.split(val=0.2, test=0.2, seed=3)
    assert [p.paths for p in again] == [train.paths, val.paths, test.paths]
    assert cat.split(val=0.2, test=0.2, seed=4)[2].paths != test.paths


@pytest.mark.parametrize("group_by", [r"_g(\d+)_", "groups.csv"])
def test_grouped_split_never_puts_a_group_in_two_parts(tmp_path, group_by):
    cat = Catalog.from_folder(_balanced(tmp_path / "data", per_class=20, groups=10))
    if group_by.endswith(".csv"):
        rows = ["file,group"] + [f"{cat.relpath(it)},{Path(it.path).name[2:5]}" for it in cat]
        (tmp_path / group_by).write_text("\n".join(rows))
        group_by = str(tmp_path / group_by)
    parts = cat.split(val=0.2, test=0.2, group_by=group_by, seed=0)
    groups = [{it.group for it in p} for p in parts]
    assert all(g for g in groups)
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


def test_grouped_kfold_partitions_the_data(tmp_path):
    cat = Catalog.from_folder(_balanced(tmp_path, per_class=20, groups=10)).with_groups(r"_g(\d+)_")
    tests = []
    for fold in range(5):
        train, val, test = cat.split(val=0.1, folds=5, fold=fold, seed=1)
        assert not {it.group for it in test.items} & {it.group for it in train.items + val.items}
        assert set(train.paths + val.paths + test.paths) == set(cat.paths)
        tests += test.paths
    assert sorted(tests) == sorted(cat.paths)  # every file is tested exactly once


def test_too_few_groups_is_a_clear_error(tmp_path):
    cat = Catalog.from_folder(_balanced(tmp_path, per_class=4, groups=1))
    with pytest.raises(VidseqError, match="split is empty"):
        cat.split(val=0.2, test=0.2, group_by=r"_g(\d+)_")


def test_split_saves_and_loads_exactly(tmp_path):
    cat = Catalog.from_folder(_balanced(tmp_path / "data"))
    train, val, test = cat.split(seed=0)
    save_split(tmp_path / "split.json", {"train": train, "val": val, "test": test})
    loaded = load_split(tmp_path / "split.json")
    assert loaded["test"] == test and loaded["train"] == train
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "data", moved)
    relocated = load_split(tmp_path / "split.json", root=str(moved))
    assert all(p.startswith(str(moved)) for p in relocated["test"].paths)


def test_surv_fight_groups_csv_gives_a_leak_free_split():
    root = shared("surv_fight")
    cat = Catalog.from_folder(root).with_groups(root / "_meta" / "groups.csv")
    assert len(cat) == 300 and cat.classes == ("fight", "noFight")
    parts = cat.split(val=0.15, test=0.2, seed=0)
    groups = [{it.group for it in p} for p in parts]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert all(min(Counter(it.label for it in p).values()) > 0 for p in parts)

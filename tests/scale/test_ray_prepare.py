"""`vidseq prepare --ray` against the single-process prepare (the oracle), on real local clusters."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.scale.conftest import vidseq
from vidseq.data.prepare import prepare
from vidseq.data.synthetic import make_motion_dataset

SETTINGS = ["--size", "24", "--fps", "10", "--gop", "4"]


def _source(root: Path, per_class: int, frames: int, size: int) -> Path:
    src = make_motion_dataset(root / "src", per_class=per_class, frames=frames, size=size)
    (src / "grow" / "broken.mp4").write_bytes(b"not a video" * 50)  # fails to decode, reported once
    (src / "labels.txt").write_text("copied as it is\n")
    return src


def _decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _assert_same_outputs(oracle: Path, out: Path) -> None:
    """Same files; each video with the same frame count and the same decoded frames."""
    files = sorted(p.relative_to(oracle) for p in oracle.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(out) for p in out.rglob("*") if p.is_file()
    )  # no temporary left
    for rel in files:
        if rel.suffix == ".mp4":
            a, b = _decoded(oracle / rel), _decoded(out / rel)
            assert a.shape == b.shape and np.array_equal(a, b), rel
        else:
            assert (oracle / rel).read_bytes() == (out / rel).read_bytes()


def _report(stdout: str) -> tuple[str, list[str]]:
    lines = stdout.strip().splitlines()
    return lines[-1], sorted(line for line in lines if ": failed: " in line)


def test_prepare_on_a_ray_cluster_equals_the_single_process_run(ray_head, tmp_path):
    src = _source(tmp_path, per_class=3, frames=12, size=32)
    oracle = prepare(src, tmp_path / "oracle", size=24, fps=10, gop=4, workers=1)
    done = vidseq("prepare", str(src), str(tmp_path / "ray"), *SETTINGS, "--ray", ray_head)
    assert done.returncode == 0, done.stderr
    summary, failed = _report(done.stdout)
    assert summary.startswith(
        f"prepared {oracle.converted} video(s), skipped 0 already done, copied 1 other file(s), "
        "1 failed"
    )
    assert failed == [
        f"{p}: failed: {r}" for p, r in oracle.failed.items()
    ]  # the same sentence, once
    assert re.search(r"prepare: \d+/\d+ tasks done on Ray", done.stderr)  # progress lines
    _assert_same_outputs(tmp_path / "oracle", tmp_path / "ray")
    again = vidseq("prepare", str(src), str(tmp_path / "ray"), *SETTINGS, "--ray", ray_head)
    assert (
        f"prepared 0 video(s), skipped {oracle.converted + 1} already done" in again.stdout
    )  # resumable


def test_a_missing_cluster_is_one_sentence(tmp_path, motion_data):
    pytest.importorskip("ray")
    done = vidseq(
        "prepare", str(motion_data), str(tmp_path / "out"), "--ray", "127.0.0.1:9", timeout=120
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("vidseq: cannot connect to the Ray cluster at '127.0.0.1:9'")
        and "Traceback" not in done.stderr
    )


def _task_pids(name: str) -> list[int]:
    """Processes of Ray workers running a task of `name` now (Ray titles them ray::NAME)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(
                f"ray::{name}".encode()
            ):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_nothing_is_lost_or_written_twice(two_nodes, tmp_path):
    src = _source(tmp_path, per_class=5, frames=90, size=96)
    oracle = prepare(src, tmp_path / "oracle", size=48, fps=10, gop=4, workers=1)
    out = tmp_path / "ray"
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vidseq.cli",
            "prepare",
            str(src),
            str(out),
            "--size",
            "48",
            "--fps",
            "10",
            "--gop",
            "4",
            "--ray",
            two_nodes,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed, finished_before = None, {}
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and job.poll() is None:
        if any(out.rglob("*.mp4")):  # a task has finished a file; its worker or another is mid-task
            for pid in _task_pids("reencode_files"):
                finished_before = {
                    p: (p.stat().st_ino, p.stat().st_mtime_ns)
                    for p in out.rglob("*.mp4")
                    if not p.name.startswith(".")
                }
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.02)
    stdout, stderr = job.communicate(timeout=300)
    assert killed is not None, "no worker was caught mid-task"
    assert job.returncode == 0, stderr
    summary, failed = _report(stdout)
    assert summary.startswith(f"prepared {oracle.converted} video(s), skipped 0 already done")
    assert failed == [f"{p}: failed: {r}" for p, r in oracle.failed.items()]
    _assert_same_outputs(tmp_path / "oracle", out)
    for path, identity in finished_before.items():  # finished outputs were kept, not encoded again
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity, path

"""Multi-process data-parallel training (JAX, gloo, 127.0.0.1) against one process, and its failures."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vidseq
from tests.scale.conftest import free_port
from tests.scale.conftest import vidseq as run_vidseq
from tests.test_cli import TINY_TRAIN
from vidseq.run.parallel import Processes, ShardedDataset, shard_positions

DETERMINISTIC = [
    *TINY_TRAIN,
    "--pool",
    "1",
    "--val",
    "0.25",
    "--test",
    "0.25",
    "--optimizer",
    "sgd",
]
# Every weight within 1e-4 after 6 steps (measured: 4.3e-5): the sharded program sums in another
# order, and batch norm over 4 clips of a tiny network magnifies float rounding (Adam more so, on
# biases whose true gradient is 0 before a batch norm); the logged losses agree to every digit shown.
TOLERANCE = 1e-4


@pytest.mark.parametrize("count", [2, 3])
def test_shards_are_disjoint_and_cover_every_batch_of_an_epoch(motion_data, count):
    ds = vidseq.ClipDataset(
        vidseq.Catalog.from_folder(motion_data),
        frames=4,
        size=16,
        batch_size=6,
        pool=1,
        dtype="uint8",
        workers=1,
    )
    shards = [ShardedDataset(ds, p, count) for p in range(count)]
    for epoch in (0, 1):
        for shard in shards:
            shard.set_epoch(epoch)
        assert len({len(s) for s in shards}) == 1
        for i in range(len(shards[0])):
            whole = ds.batch_samples(i)
            parts = [
                [whole[j] for j in shard_positions(len(whole), p, count)] for p in range(count)
            ]
            joined = [s for part in parts for s in part]
            assert (
                joined == whole[: len(whole) // count * count]
            )  # disjoint, in order, all but a short batch's rest
            x = np.concatenate([shards[p][i][0] for p in range(count)])
            np.testing.assert_array_equal(x, ds[i][0][: len(joined)])  # the batch one process loads


def test_shard_positions_of_a_short_last_batch():
    assert [list(shard_positions(5, p, 2)) for p in range(2)] == [[0, 1], [2, 3]]
    assert [list(shard_positions(1, p, 2)) for p in range(2)] == [[], []]
    with pytest.raises(vidseq.VidseqError, match="--batch 5 does not split over 2 processes"):
        Processes(0, 2).check_batch(5)


@pytest.mark.parametrize(
    "env,message",
    [
        ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}, "KERAS_DISTRIBUTION_JOB_ADDRESSES is not set"),
        (
            {
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:1",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": "2",
            },
            "must be from 0 to",
        ),
        (
            {
                "KERAS_BACKEND": "tensorflow",
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:1",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": "0",
            },
            "set KERAS_BACKEND=jax",
        ),
    ],
)
def test_wrong_multi_process_settings_are_one_sentence(env, message, motion_data, tmp_path):
    done = run_vidseq(
        "train", str(motion_data), "--out", str(tmp_path / "r"), *TINY_TRAIN, timeout=120, env=env
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("vidseq: ") and message in last and "Traceback" not in done.stderr


def _start(
    motion_data: Path, outs: list[Path], args: list[str], logs: Path
) -> list[subprocess.Popen]:
    """One `vidseq train` per --out in `outs`, joined into one job on 127.0.0.1."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{free_port()}",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": str(len(outs)),
        "PYTHONUNBUFFERED": "1",
    }
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vidseq.cli",
                "train",
                str(motion_data),
                "--out",
                str(out),
                *args,
            ],
            env={**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(p)},
            stdout=open(logs / f"p{p}.out", "w"),
            stderr=open(logs / f"p{p}.log", "w"),
        )
        for p, out in enumerate(outs)
    ]


def _listening(pid: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) of the TCP sockets `pid` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:
                found.append(cols[1].split(":")[0])
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    from vidseq.models import layers, temporal  # noqa: F401  (vidseq's layers, for loading)

    return keras.models.load_model(path).get_weights()


@pytest.mark.slow
def test_two_processes_give_the_weights_of_one_process_on_the_same_global_batch(
    motion_data, tmp_path
):
    one = run_vidseq(
        "train",
        str(motion_data),
        "--out",
        str(tmp_path / "one"),
        "--epochs",
        "2",
        *DETERMINISTIC,
        env={"KERAS_BACKEND": "jax"},
    )
    assert one.returncode == 0, one.stderr
    outs = [
        tmp_path / "two",
        tmp_path / "never-written",
    ]  # process 1 gets its own --out: it must write nothing
    procs = _start(motion_data, outs, ["--epochs", "2", *DETERMINISTIC], tmp_path)
    addresses = []
    while (
        all(p.poll() is None for p in procs) and "Epoch 2" not in (tmp_path / "p0.log").read_text()
    ):
        if "data parallel" in (tmp_path / "p1.log").read_text() and not addresses:
            addresses = [a for p in procs for a in _listening(p.pid)]
        time.sleep(0.5)
    assert [p.wait(300) for p in procs] == [0, 0], (tmp_path / "p0.log").read_text()[-3000:]
    assert addresses and set(addresses) <= LOOPBACK, (
        addresses
    )  # coordinator and gloo on 127.0.0.1 only
    for p in range(2):
        assert f"train: process {p} of 2" in (tmp_path / f"p{p}.log").read_text()
    assert not outs[1].exists()
    split = (tmp_path / "one" / "split.json").read_text()
    assert (tmp_path / "two" / "split.json").read_text() == split
    a, b = (
        _weights(tmp_path / "one" / "checkpoints" / "last.keras"),
        _weights(outs[0] / "checkpoints" / "last.keras"),
    )
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(y, x, rtol=0, atol=TOLERANCE)
    losses = lambda text: re.findall(r"- loss: ([0-9.]+)", text)  # noqa: E731
    assert (
        losses(one.stdout) == losses((tmp_path / "p0.out").read_text())
        and len(losses(one.stdout)) == 2
    )
    for name in ("model.keras", "history.csv", "metrics.json", "curves.png", "confusion.png"):
        assert (outs[0] / name).is_file(), name


def _epochs(run: Path) -> list[int]:
    path = run / "history.csv"
    return [int(float(r["epoch"])) for r in csv.DictReader(open(path))] if path.is_file() else []


@pytest.mark.slow
def test_a_killed_process_stops_the_other_with_a_sentence_and_resume_continues(
    motion_data, tmp_path
):
    out = tmp_path / "run"
    procs = _start(motion_data, [out, out], ["--epochs", "40", *DETERMINISTIC], tmp_path)
    deadline = time.time() + 400
    while time.time() < deadline and len(_epochs(out)) < 1:
        assert all(p.poll() is None for p in procs), (tmp_path / "p0.log").read_text()[-3000:]
        time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    code = procs[0].wait(180)
    waited = time.time() - killed_at
    log = (tmp_path / "p0.log").read_text().strip().splitlines()
    assert code == 2 and waited < 120, (code, waited)
    assert (
        log[-1].startswith("vidseq: process 0 of 2: training stopped (")
        and "again with --resume" in log[-1]
    )
    done = _epochs(out)[-1] + 1
    procs = _start(motion_data, [out, out], ["--epochs", str(done + 1), "--resume"], tmp_path)
    assert [p.wait(400) for p in procs] == [0, 0], (tmp_path / "p0.log").read_text()[-3000:]
    assert _epochs(out) == list(range(done + 1))
    assert "resuming" in (tmp_path / "p1.log").read_text()

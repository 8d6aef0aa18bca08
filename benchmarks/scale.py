"""Scale-out throughput on this machine, side by side in one run:

    python benchmarks/scale.py            # about 10 minutes on 2 cores

1. `prepare` (re-encode) files/s: one process, then Ray with 1 and with 2 workers (a head and a
   second node of 1 CPU each, on 127.0.0.1), same files, a fresh output folder each time;
2. frozen-CNN feature extraction (vgg16-lstm, random weights, 8 frames at 64×64) frames/s: one
   process, then Ray with 1 and 2 workers, a fresh cache folder each time;
3. training clips/s (convnet-gru, JAX): 1 process on a global batch of 16, then 2 processes on
   127.0.0.1 (gloo) on the same global batch, from Keras' ms/step of the last epoch (frames cached).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault(
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"
)  # keep Ray's one-machine cluster on 127.0.0.1

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vidseq.config import RunConfig
from vidseq.data.prepare import prepare
from vidseq.data.synthetic import make_motion_dataset

ROOT = Path(tempfile.mkdtemp(prefix="vidseq-scale-"))
FEATURES = dict(
    model="vgg16-lstm",
    model_options={"weights": None, "units": 8, "head": [8]},
    frames=8,
    size="64",
    workers=1,
    pool=3,
    val=0.2,
    test=0.2,
)
TRAIN = [
    "--model",
    "convnet-gru",
    "--model-option",
    "width=0.25",
    "--model-option",
    "head=[64]",
    "--frames",
    "8",
    "--size",
    "48",
    "--batch",
    "16",
    "--pool",
    "1",
    "--val",
    "0",
    "--test",
    "0",
    "--epochs",
    "3",
    "--workers",
    "1",
]


def timed(fn) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row(label: str, amount: int, unit: str, seconds: float, base: float | None) -> float:
    """Print one table row (amount per second, and its ratio to `base`); returns the rate."""
    rate = amount / seconds
    print(
        f"   {label:<26} {rate:8.1f} {unit}/s  ({seconds:6.1f} s)"
        + (f"  x{rate / base:.2f}" if base else ""),
        flush=True,
    )
    return rate


def data_jobs(videos: Path) -> None:
    """Tables 1 and 2: one process, then Ray with one and two worker nodes."""
    from ray.cluster_utils import Cluster

    from vidseq.run.train import warm_features
    from vidseq.scale.features import features_on_ray
    from vidseq.scale.prepare import prepare_on_ray

    n_files = len(list(videos.rglob("*.mp4")))
    cfg = lambda name: RunConfig(data=str(videos), cache_dir=str(ROOT / name), **FEATURES)  # noqa: E731
    frames = lambda name: sum(1 for _ in (ROOT / name).glob("*.npy"))  # noqa: E731 (features + frames entries)
    print(f"1. prepare, {n_files} videos (size 64, 10 fps, GOP 8)", flush=True)
    base = row(
        "one process",
        n_files,
        "files",
        timed(lambda: prepare(videos, ROOT / "p0", 64, 10, 8, workers=1)),
        None,
    )
    print("2. features: see below", flush=True)
    f_base_s = timed(lambda: warm_features(cfg("f0")))
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "temp_dir": tempfile.mkdtemp(prefix="vsb", dir="/tmp"),
        },
    )
    try:
        rates = {}
        for workers in (1, 2):
            if workers == 2:
                cluster.add_node(num_cpus=1)
            rates[workers] = (
                timed(
                    lambda: prepare_on_ray(videos, ROOT / f"p{workers}", cluster.address, 64, 10, 8)
                ),
                timed(lambda: features_on_ray(cfg(f"f{workers}"), cluster.address)),
            )
    finally:
        cluster.shutdown()
    one = row("Ray, 1 worker", n_files, "files", rates[1][0], base)
    row("Ray, 2 workers", n_files, "files", rates[2][0], one)
    print(f"2. features ({frames('f0')} cache entries: frames and per-video features)", flush=True)
    base = row("one process", frames("f0"), "entries", f_base_s, None)
    one = row("Ray, 1 worker", frames("f1"), "entries", rates[1][1], base)
    row("Ray, 2 workers", frames("f2"), "entries", rates[2][1], one)


def step_ms(log: str) -> float:
    """Keras' ms/step of the last epoch line."""
    found = re.findall(r"(\d+)ms/step", log) or [
        str(int(s) * 1000) for s in re.findall(r"(\d+)s/step", log)
    ]
    return float(found[-1])


def training(videos: Path) -> None:
    """Table 3: one process against two on the same global batch (16)."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    cmd = [sys.executable, "-m", "vidseq.cli", "train", str(videos), *TRAIN]
    one = subprocess.run([*cmd, "--out", str(ROOT / "t1")], env=env, capture_output=True, text=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.update(
        KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}", KERAS_DISTRIBUTION_NUM_PROCESSES="2"
    )
    procs = [
        subprocess.Popen(
            [*cmd, "--out", str(ROOT / "t2")],
            env={**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(p)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for p in range(2)
    ]
    two = procs[0].communicate()[0]
    procs[1].wait()
    print("3. training convnet-gru (JAX), global batch 16, last of 3 epochs", flush=True)
    base = row("1 process", 16, "clips", step_ms(one.stdout) / 1000, None)
    row("2 processes (gloo)", 16, "clips", step_ms(two) / 1000, base)


def main() -> None:
    """Make the data, run the three comparisons, print their tables."""
    videos = make_motion_dataset(ROOT / "videos", per_class=16, frames=48, size=96)
    print(
        f"{os.cpu_count()} cores (shared with other work on this machine); data in {ROOT}\n",
        flush=True,
    )
    try:
        data_jobs(videos)
        training(videos)
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()

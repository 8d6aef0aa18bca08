"""Real Ray clusters on 127.0.0.1 for the scale tests, stopped by the ids of the processes started here.

Ray replaces 127.0.0.1 by the machine's network address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
(its switch for one-machine clusters), so it is set for this process and every command it starts;
`ray start` refuses to add a worker node under that switch, so the two-node cluster is Ray's own
one-machine multi-node harness (ray.cluster_utils.Cluster: a GCS, two raylets, their workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vidseq(
    *argv: str, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The `vidseq` command in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "vidseq.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def ray_head():
    """`ray start --head --block` on 127.0.0.1 with 2 CPUs; yields its address; ended by its process group."""
    pytest.importorskip("ray")
    port, temp = (
        free_port(),
        tempfile.mkdtemp(prefix="vsr", dir="/tmp"),
    )  # short: Ray's socket paths
    proc = subprocess.Popen(
        [
            str(RAY),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--include-dashboard=false",
            f"--port={port}",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_line(proc, "Ray runtime started", 180)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_group(proc)


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> None:
    deadline, seen = time.time() + timeout, []
    while time.time() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise RuntimeError("ray start did not come up:\n" + "".join(seen[-20:]))


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to `ray start --block` (it stops its node's processes), then SIGKILL to what is left of its group."""
    pgid = proc.pid  # start_new_session: the group of the processes started here
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture
def two_nodes():
    """A head and a worker node of 1 CPU each on 127.0.0.1; yields the address; shut down afterwards."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    temp = tempfile.mkdtemp(prefix="vsr", dir="/tmp")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": temp},
    )
    try:
        cluster.add_node(num_cpus=1)
        yield cluster.address
    finally:
        cluster.shutdown()

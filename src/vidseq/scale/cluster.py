"""Ray for vidseq's data jobs: connect to a cluster, split work into tasks, gather results with progress."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

from vidseq.errors import VidseqError

log = logging.getLogger("vidseq")
T = TypeVar("T")
RETRIES = 3  # a task whose worker process (or node) dies is run again, up to this many times
TASKS_PER_CPU = 4  # small enough tasks to balance the load, few enough to keep their overhead low


def require_ray():
    """The ray module, or a VidseqError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise VidseqError(
            "--ray needs Ray, which is not installed: pip install 'vidseq[ray]'."
        ) from None
    return ray


@contextlib.contextmanager
def connected(address: str) -> Iterator[Any]:
    """Connect this process to the Ray cluster at `address` ("auto": the one started on this machine;
    "local": a new one in this process), and disconnect afterwards (a cluster started here is stopped)."""
    ray = require_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _reachable(address)
    try:
        ray.init(
            address=None if address == "local" else address,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VidseqError(
            f"cannot connect to the Ray cluster at {address!r} ({first}); start one with "
            "`ray start --head` or give its address (host:port) to --ray."
        ) from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        log.info("ray: connected to %s (%d nodes, %d CPUs)", address, len(ray.nodes()), cpus)
        yield ray
    finally:
        ray.shutdown()


def _reachable(address: str, timeout: float = 10) -> None:
    """Fail in one sentence at once when a host:port address takes no connection (Ray would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local", ray://…: left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise VidseqError(
            f"cannot connect to the Ray cluster at {address!r} ({e.strerror or e}); start one with "
            "`ray start --head` or give its address (host:port) to --ray."
        ) from None


def cluster_cpus() -> int:
    """CPUs of the connected cluster (at least 1)."""
    return max(1, int(require_ray().cluster_resources().get("CPU", 1)))


def chunks(items: Sequence[T], size: int | None = None, multiple: int = 1) -> list[list[T]]:
    """`items` in contiguous chunks, in order: of `size`, or enough for TASKS_PER_CPU tasks per CPU
    of the cluster; each chunk's size a multiple of `multiple` (the last one excepted)."""
    if not items:
        return []
    size = size or math.ceil(len(items) / (TASKS_PER_CPU * cluster_cpus()))
    size = max(multiple, math.ceil(size / multiple) * multiple)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run_tasks(
    function: Callable[..., T],
    args: Sequence[tuple],
    label: str,
    env: dict[str, str] | None = None,
    ordered: bool = False,
) -> Iterator[T]:
    """Run `function(*a)` for each `a` in `args` as Ray tasks (one CPU each, retried when their worker
    dies) and yield the results as they finish (in submission order with `ordered`); logs progress."""
    ray = require_ray()
    options = {"num_cpus": 1, "max_retries": RETRIES, "retry_exceptions": False}
    if env:
        options["runtime_env"] = {"env_vars": env}
    remote = ray.remote(**options)(function)
    pending = [remote.remote(*a) for a in args]
    index = {ref: i for i, ref in enumerate(pending)}
    results: dict[int, T] = {}
    started, done, shown = time.time(), 0, 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        results[index[ready[0]]] = _get(ray, ready[0], label)
        done += 1
        if done == len(args) or time.time() - shown > 5 or done % max(1, len(args) // 10) == 0:
            log.info(
                "%s: %d/%d tasks done on Ray (%.0f s)",
                label,
                done,
                len(args),
                time.time() - started,
            )
            shown = time.time()
        if not ordered:
            yield results.pop(index[ready[0]])
    if ordered:
        yield from (results[i] for i in range(len(args)))


def _get(ray, ref, label: str):
    """The result of a finished task, or a VidseqError when Ray gave up on it."""
    try:
        return ray.get(ref)
    except (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.OutOfMemoryError,
    ) as e:
        raise VidseqError(
            f"{label}: a Ray task lost its worker {RETRIES + 1} times ({type(e).__name__}); "
            "check the cluster's nodes (memory, logs), then run the same command again: "
            "finished outputs are kept."
        ) from None
    except ray.exceptions.RayTaskError as e:
        raise VidseqError(
            f"{label}: a Ray task failed ({e.cause!r}); run the same command again to retry: "
            "finished outputs are kept."
        ) from None

"""Multi-process data-parallel training: Keras' own multi-process settings, on the JAX backend.

`vidseq train` run once per process with KERAS_BACKEND=jax and Keras' variables
KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port first), _NUM_PROCESSES and
_PROCESS_ID joins the job with keras.distribution.initialize() (CPU collectives over gloo) and
trains with keras.distribution.DataParallel over every device of every process; run.train shards
each global batch (run.parallel) and lets process 0 alone write the run directory.

The multi-host path is JAX because TensorFlow's MultiWorkerMirroredStrategy has been broken under
Keras 3 since TF 2.16 (see docs/scaling.md); one-host TensorFlow training is unchanged.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import socket
import sys

from vidseq.errors import VidseqError
from vidseq.run.parallel import Processes

log = logging.getLogger("vidseq")
ENV = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


def requested() -> bool:
    """Whether any of Keras' multi-process variables is set."""
    return any(os.environ.get(name) for name in ENV)


def join() -> Processes:
    """Join the job Keras' variables describe (one process, untouched, when none is set)."""
    if not requested():
        return Processes()
    addresses, count, index = _settings()
    if count == 1:
        log.info("train: 1 process (KERAS_DISTRIBUTION_NUM_PROCESSES=1): no distribution")
        return Processes()
    jax = _jax_backend()
    coordinator = addresses.split(",")[0].strip()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    os.environ.setdefault(
        "JAX_COORDINATOR_BIND_ADDRESS", coordinator
    )  # not every interface ([::]), as JAX would
    if _is_loopback(coordinator.rpartition(":")[0]):
        _gloo_on_loopback(jax)
    import keras

    try:
        keras.distribution.initialize()
    except Exception as e:  # noqa: BLE001 (JAX reports a missing peer as its runtime's error)
        raise VidseqError(
            f"process {index} of {count} could not join the job at {coordinator} ({_first_line(e)}); "
            f"start all {count} processes with the same KERAS_DISTRIBUTION_JOB_ADDRESSES, each "
            "with its own KERAS_DISTRIBUTION_PROCESS_ID."
        ) from None
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    )
    log.info(
        "train: process %d of %d (JAX %s, gloo), data parallel over %d devices",
        index,
        count,
        jax.__version__,
        len(devices),
    )
    return Processes(index, count)


def abandon(error: BaseException) -> None:
    """End this process now with the error's sentence: a normal exit would wait at JAX's shutdown
    barrier for peers that are gone, then abort with the runtime's own message."""
    print(f"vidseq: {error}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(2)


def _settings() -> tuple[str, int, int]:
    missing = [name for name in ENV if not os.environ.get(name)]
    if missing:
        raise VidseqError(
            f"multi-process training needs all of {', '.join(ENV)}; {missing[0]} is not set."
        )
    try:
        count, index = int(os.environ[ENV[1]]), int(os.environ[ENV[2]])
    except ValueError:
        raise VidseqError(f"{ENV[1]} and {ENV[2]} must be whole numbers (e.g. 2 and 0).") from None
    if not 0 <= index < count:
        raise VidseqError(f"{ENV[2]}={index} must be from 0 to {ENV[1]} - 1 = {count - 1}.")
    return os.environ[ENV[0]], count, index


def _jax_backend():
    """The jax module, when Keras runs on it; else a VidseqError saying what to set."""
    if os.environ.get("KERAS_BACKEND") != "jax":
        import keras

        if keras.backend.backend() != "jax":
            raise VidseqError(
                "multi-process training runs on JAX (TensorFlow's MultiWorkerMirroredStrategy is "
                "broken under Keras 3): set KERAS_BACKEND=jax in every process."
            )
    try:
        import jax
    except ImportError:
        raise VidseqError("multi-process training needs JAX: pip install 'vidseq[jax]'.") from None
    return jax


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host.strip("[]"))).is_loopback
    except (OSError, ValueError):
        return False


def _gloo_on_loopback(jax) -> None:
    """Gloo listens on the address of this machine's hostname; a job whose coordinator is on the
    loopback runs on this machine alone, so its collectives listen on 127.0.0.1 too."""
    try:
        from jax._src import xla_bridge

        make = xla_bridge._jax.make_gloo_tcp_collectives
        xla_bridge._jax.make_gloo_tcp_collectives = functools.partial(make, hostname="127.0.0.1")
    except (ImportError, AttributeError):  # another JAX: gloo keeps its default address
        log.debug("gloo: could not pin the collectives to 127.0.0.1 on JAX %s", jax.__version__)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__

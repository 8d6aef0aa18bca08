"""`vidseq predict --ray`: the files split into Ray tasks, each predicting its files as predict_files does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from vidseq.errors import VidseqError
from vidseq.run.predict import expand_inputs, predict_loaded
from vidseq.run.rundir import RunDir
from vidseq.scale.cluster import chunks, connected, run_tasks

_RUNS: dict[
    tuple, tuple
] = {}  # per worker process: loaded runs, by (model file, its mtime, unsafe)


def predict_on_ray(
    run: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    address: str,
    clips: int = 1,
    top: int = 3,
    unsafe: bool = False,
) -> list[dict]:
    """run.predict.predict_files with the files predicted by Ray tasks on the cluster at `address` (the
    run directory and the files on a filesystem every node shares); the results in the files' order.

    Tasks take contiguous runs of files, a multiple of the run's batch, so that each batch holds the
    clips it holds in one process (the same probabilities, not only the same classes)."""
    if clips < 1:
        raise VidseqError(f"clips must be at least 1. Received: clips={clips}")
    rundir = finished_run(run, unsafe)
    cfg, given = rundir.config(), expand_inputs(inputs)
    files = [str(Path(f).resolve()) for f in given]  # the workers' current folders differ
    with connected(address):
        args = [
            (str(rundir.path.resolve()), chunk, clips, top, unsafe)
            for chunk in chunks(files, multiple=cfg.batch)
        ]
        results = [
            r
            for part in run_tasks(predict_chunk, args, "predict", env=worker_env(), ordered=True)
            for r in part
        ]
    return [{**r, "file": f} for r, f in zip(results, given)]  # the paths as the user gave them


def predict_chunk(run: str, files: list[str], clips: int, top: int, unsafe: bool) -> list[dict]:
    """One Ray task: predictions for `files` with the run's model, loaded once per worker process."""
    return predict_loaded(*loaded_run(run, unsafe), files, clips, top)[0]


def finished_run(run: str | os.PathLike, unsafe: bool) -> RunDir:
    """The run directory, or the sentence RunDir.model gives for a run that is not finished (the
    driver checks once; its workers load the model)."""
    rundir = RunDir(run)
    if not (rundir / "model.keras").is_file():
        rundir.model(unsafe)
    return rundir


def loaded_run(run: str, unsafe: bool) -> tuple:
    """RunDir(run).load(unsafe), kept per worker process while model.keras stays the same file."""
    model_file = Path(run) / "model.keras"
    key = (str(model_file), model_file.stat().st_mtime_ns, unsafe)
    if key not in _RUNS:
        _RUNS[key] = RunDir(run).load(unsafe)
    return _RUNS[key]


def worker_env() -> dict[str, str]:
    """The environment of the Ray workers: this process's Keras backend, quiet TensorFlow."""
    import keras

    return {"KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "2"}

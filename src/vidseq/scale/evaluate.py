"""`vidseq evaluate --ray`: the test videos split into Ray tasks, the metrics computed here as
evaluate_run does from the same per-video probabilities."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidseq.data.catalog import Catalog
from vidseq.data.quarantine import Quarantine
from vidseq.run.datasets import dataset_for
from vidseq.run.evaluate import evaluation_catalog, write_evaluation
from vidseq.run.predict import video_probabilities
from vidseq.scale.cluster import chunks, connected, run_tasks
from vidseq.scale.predict import finished_run, loaded_run, worker_env


def evaluate_on_ray(
    run: str | os.PathLike,
    address: str,
    data: str | None = None,
    clips: int = 1,
    unsafe: bool = False,
) -> dict:
    """run.evaluate.evaluate_run with the videos' probabilities computed by Ray tasks on the cluster
    at `address` (the run directory and the videos on a filesystem every node shares).

    Tasks take contiguous runs of videos, a multiple of the run's batch, so that each batch holds
    the clips it holds in one process."""
    rundir = finished_run(run, unsafe)
    cfg, catalog = rundir.config(), evaluation_catalog(rundir, data, clips)
    root = str(Path(catalog.root).resolve())  # the workers' current folders differ
    with connected(address):
        groups = chunks(catalog.items, multiple=cfg.batch)  # sized by the cluster's CPUs
        args = [
            (str(rundir.path.resolve()), catalog.subset(group).to_dict(), root, clips, unsafe)
            for group in groups
        ]
        parts = list(run_tasks(evaluate_chunk, args, "evaluate", env=worker_env(), ordered=True))
    offsets = np.cumsum([0] + [len(group) for group in groups])
    ids = np.concatenate([offset + part[0] for offset, part in zip(offsets, parts)])
    probs = np.concatenate([part[1] for part in parts])
    paths = {catalog.relpath(item): item.path for item in catalog.items}
    failed = Quarantine(len(catalog), cfg.max_bad)
    for relpath, reason in (bad for part in parts for bad in part[2]):
        failed.add(paths[relpath], reason, check=False)
    failed.check()  # over the whole job, as in one process: each task took every failure
    return write_evaluation(rundir, catalog, ids, probs, clips, sorted(failed.report.quarantined))


def evaluate_chunk(
    run: str, catalog: dict, root: str, clips: int, unsafe: bool
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """One Ray task: (video indices within the chunk, their probabilities, (path relative to the
    root, reason) of each video that failed; the driver applies max_bad to the whole job)."""
    cfg, model, _ = loaded_run(run, unsafe)
    part = Catalog.from_dict(catalog, root)
    ds = dataset_for(cfg, part, views=clips, max_bad=1.0)
    ids, probs = video_probabilities(model, ds)
    reasons = ds.report.quarantined
    return (
        ids,
        probs,
        [(part.relpath(it), reasons[it.path]) for it in part.items if it.path in reasons],
    )

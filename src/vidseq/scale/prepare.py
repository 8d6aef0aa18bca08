"""`vidseq prepare --ray`: the same re-encode jobs as data.prepare, run as Ray tasks."""

from __future__ import annotations

import os
from typing import Iterator

from vidseq.data.prepare import Job, Outcome, PrepareReport, prepare, reencode_outcome
from vidseq.scale.cluster import chunks, connected, run_tasks


def prepare_on_ray(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    address: str,
    size: int = 160,
    fps: float = 15,
    gop: int = 8,
) -> PrepareReport:
    """`data.prepare.prepare` with the videos re-encoded by Ray tasks on the cluster at `address`;
    `dst` must be on a filesystem every node shares. Same outputs, same report."""
    with connected(address):
        return prepare(src, dst, size=size, fps=fps, gop=gop, runner=_on_ray)


def _on_ray(jobs: list[Job], size: int, fps: float, gop: int) -> Iterator[Outcome]:
    """Yield one Outcome per job, from tasks of a few files each."""
    args = [(chunk, size, fps, gop) for chunk in chunks(jobs)]
    for outcomes in run_tasks(reencode_files, args, "prepare"):
        yield from outcomes


def reencode_files(jobs: list[Job], size: int, fps: float, gop: int) -> list[Outcome]:
    """One Ray task: re-encode each job (a retried task keeps the outputs its dead attempt finished)."""
    return [reencode_outcome(s, t, size, fps, gop) for s, t in jobs]

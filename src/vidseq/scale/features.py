"""`vidseq features --ray`: the frozen CNN's features computed by Ray tasks into the shared disk cache.

The driver builds the run exactly as `train` does (run.warm.warm_features: same split, datasets,
seeded model, so the same CNN fingerprint and cache keys), sends the CNN once to the cluster's
object store, and each task computes the features of a few videos with vidseq's own reader,
writing them into the cache folder under temporary names renamed when whole (ClipCache). A later
`vidseq train --cache-dir DIR` with the same settings finds every feature and computes none.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from vidseq.config import RunConfig
from vidseq.data.cache import ClipCache
from vidseq.data.sources import open_source
from vidseq.data.spec import ClipSpec
from vidseq.errors import VideoDecodeError, VidseqError
from vidseq.run.features import FeatureJob, cached_features, feature_keys, fingerprint
from vidseq.run.warm import warm_features
from vidseq.scale.cluster import chunks, connected, require_ray, run_tasks

log = logging.getLogger("vidseq")
_CNNS: dict[str, keras.Model] = {}  # per worker process: the CNNs already fetched, by fingerprint
TASK_CACHE = "256MB"  # memory for decoded frames in one task (the disk store is the shared folder)


def features_on_ray(cfg: RunConfig, address: str) -> dict:
    """run.warm.warm_features with the missing features computed on the Ray cluster at `address`."""
    with connected(address):
        return warm_features(cfg, runner=_on_ray)


def _on_ray(
    cnn: keras.Model, fp: str, spec: ClipSpec, directory: str, jobs: list[FeatureJob]
) -> dict[str, str]:
    """Compute `jobs` in Ray tasks of a few videos each; returns {path: reason} of the files that failed."""
    if not jobs:
        return {}
    ref = require_ray().put(cnn)
    env = {"KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = [
        ([ref], fp, spec, directory, [(j.path, j.indices, j.keys) for j in chunk])
        for chunk in chunks(jobs)
    ]
    failed: dict[str, str] = {}
    for part in run_tasks(extract_files, args, "features", env=env):
        failed.update(part)
    return failed


def extract_files(
    cnn_ref: list,
    fp: str,
    spec: ClipSpec,
    directory: str,
    jobs: list[tuple[str, np.ndarray, tuple]],
) -> dict[str, str]:
    """One Ray task: features of each (path, frames, keys) into the disk cache; {path: reason} of failures.
    Frames whose entries exist already (a retried task, another run) are not computed again."""
    cnn, cache, failed = _cnn(cnn_ref[0], fp), ClipCache(TASK_CACHE, directory), {}
    for path, indices, keys in jobs:
        if all(cache.has(k) for k in keys):
            continue
        source = open_source(path, spec, cache)
        if isinstance(source, str):
            failed[path] = source
            continue
        if feature_keys(source, fp, indices) != keys:
            failed[path] = "changed while the job ran (another size or time); run the command again"
            continue
        try:
            cached_features(cnn, source, indices, keys, cache)
        except VideoDecodeError as e:
            failed[path] = e.reason
    return failed


def _cnn(ref, fp: str) -> keras.Model:
    """The CNN of fingerprint `fp`, fetched once per worker process and checked against its fingerprint."""
    if fp not in _CNNS:
        cnn = require_ray().get(ref)
        if fingerprint(cnn) != fp:
            raise VidseqError(
                "the CNN reached a Ray worker with other weights; check that every node runs "
                "the same vidseq and Keras versions."
            )
        _CNNS[fp] = cnn
    return _CNNS[fp]

"""warm_features: the frozen CNN's features put into the disk cache as `train` would, training nothing."""

from __future__ import annotations

from typing import Callable

import keras

from vidseq.config import RunConfig
from vidseq.data.spec import ClipSpec
from vidseq.errors import VidseqError
from vidseq.run.datasets import dataset_for
from vidseq.run.features import (
    FeatureDataset,
    FeatureJob,
    feature_jobs,
    features_refusal,
    fingerprint,
    frame_cnn,
)
from vidseq.run.train import new_model, training_setup

FeatureRunner = Callable[[keras.Model, str, ClipSpec, str, list[FeatureJob]], dict[str, str]]


def warm_features(cfg: RunConfig, runner: FeatureRunner | None = None) -> dict:
    """Fill the feature cache (`cfg.cache_dir`) as `train` would, training nothing: the same split,
    datasets, model (same seed, so the same CNN fingerprint) and keys; a later `train` with the same
    settings computes no feature. `runner(cnn, fingerprint, spec, cache directory, jobs)` computes the missing
    ones elsewhere (Ray: vidseq.scale.features) into the disk cache and returns {path: reason} for
    the files that failed, which are then quarantined as they would have been here.
    Returns {"videos", "computed" (frames computed here), "failed": {path: reason}}."""
    if not cfg.cache_dir:
        raise VidseqError(
            "features are kept in the disk cache: give --cache-dir (a folder every node shares)."
        )
    cfg, parts, cache = training_setup(cfg)
    datasets = [dataset_for(cfg, parts["train"], training=True, cache=cache)]
    datasets += [dataset_for(cfg, parts["val"], cache=cache)] if len(parts["val"]) else []
    cnn = frame_cnn(new_model(cfg, len(parts["train"].classes)))
    reason = features_refusal(datasets[0], cnn)
    if reason:
        raise VidseqError(
            f"these settings train without cached features: {reason}; nothing to extract."
        )
    if runner is not None:
        jobs = [
            [j for j in feature_jobs(ds, fingerprint(cnn)) if not all(map(cache.has, j.keys))]
            for ds in datasets
        ]
        failed = runner(
            cnn,
            fingerprint(cnn),
            datasets[0].spec,
            str(cache.directory),
            [j for js in jobs for j in js],
        )
        for ds, js in zip(datasets, jobs):
            for job in (j for j in js if j.path in failed):
                ds.quarantine(job.item, failed[job.path])
    features = [FeatureDataset(ds, cnn, cache) for ds in datasets]
    failed = {p: r for ds in datasets for p, r in ds.report.quarantined.items()}
    return {
        "videos": sum(f.videos for f in features),
        "computed": sum(f.computed for f in features),
        "failed": failed,
    }

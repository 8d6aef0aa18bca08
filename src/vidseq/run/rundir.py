"""RunDir: the files of a run directory, and what a resumed run may change."""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path

import keras

from vidseq.config import RunConfig
from vidseq.data.catalog import Catalog, load_split, save_split
from vidseq.errors import VidseqError
from vidseq.io import write_atomic
from vidseq.models import layers, temporal  # noqa: F401  (register the custom layers that load_model needs)

# settings a resumed run may change; every other one must stay as the run was started
RESUMABLE = ("epochs", "workers", "cache", "cache_dir", "early_stopping", "max_bad", "jit_compile")


class RunDir:
    """A run directory: config.yaml, split.json, classes.json, model.keras (the best checkpoint),
    checkpoints/, history.csv, state.json while training, pictures and metrics.json."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def started(self) -> bool:
        """Training began here and has not finished (state.json exists)."""
        return (self / "state.json").is_file()

    @property
    def finished(self) -> bool:
        """Training finished here (model.keras exists and no state.json)."""
        return (self / "model.keras").is_file() and not self.started

    def start(self, cfg: RunConfig, parts: dict[str, Catalog]) -> None:
        """Create the directory with the resolved config, the split and the class names."""
        self.path.mkdir(parents=True, exist_ok=True)
        save_split(self / "split.json", parts)
        cfg.save(self / "config.yaml")
        write_atomic(self / "classes.json", json.dumps(list(parts["train"].classes)).encode())

    def config(self) -> RunConfig:
        """The run's resolved settings."""
        return RunConfig.load(self / "config.yaml")

    def split(self) -> dict[str, Catalog]:
        """The run's train/val/test catalogs."""
        return load_split(self / "split.json")

    def classes(self) -> list[str]:
        """The class names, in label order."""
        return json.loads((self / "classes.json").read_text())

    def epoch(self) -> int:
        """The last finished epoch of a started run (0-based)."""
        return json.loads((self / "state.json").read_text())["epoch"]

    def model(self, unsafe: bool = False) -> keras.Model:
        """The trained model, loaded with Keras' safe_mode (no code from Lambda layers); `unsafe=True`
        is the explicit opt-in for a model you trust."""

        path = self / "model.keras"
        if not path.is_file():
            raise VidseqError(
                f"{self.path} is not a finished run (no model.keras); train it first or check the path."
            )
        try:
            return keras.models.load_model(path, safe_mode=not unsafe)
        except ValueError as e:
            if "safe_mode" in str(e):
                raise VidseqError(
                    f"{path} contains code (a Lambda layer) that runs when loaded; "
                    "load it only if you trust its source, with --unsafe."
                ) from None
            raise VidseqError(
                f"{path} cannot be loaded ({e}); retrain or restore the file."
            ) from None
        except (OSError, zipfile.BadZipFile, KeyError, TypeError) as e:  # a damaged or foreign file
            raise VidseqError(
                f"{path} cannot be loaded ({type(e).__name__}); retrain or restore the file."
            ) from None

    def load(self, unsafe: bool = False) -> tuple[RunConfig, keras.Model, list[str]]:
        """(config, model, class names) of a finished run."""
        model = self.model(unsafe)
        return self.config(), model, self.classes()


def resume_config(saved: RunConfig, requested: RunConfig) -> RunConfig:
    """The saved settings with the requested changes to RESUMABLE ones; a change to any other is an
    error. A requested None (a setting left to its default) keeps the saved value."""
    changed = {
        f.name: getattr(requested, f.name)
        for f in dataclasses.fields(RunConfig)
        if not _same(f.name, getattr(saved, f.name), getattr(requested, f.name))
    }
    fixed = {k: v for k, v in changed.items() if k not in RESUMABLE}
    if fixed:
        key, value = next(iter(fixed.items()))
        raise VidseqError(
            f"a resumed run keeps its settings: {key} is {getattr(saved, key)!r} in the run, not "
            f"{value!r}; drop that option (a resumed run may change {', '.join(RESUMABLE)}), "
            "or train into a new --out folder."
        )
    return dataclasses.replace(saved, **changed)


def _same(name: str, saved, requested) -> bool:
    """Whether a requested setting keeps the saved one (the data as the same folder, however written)."""
    if requested is None or requested == saved:
        return True
    return name == "data" and Path(str(requested)).resolve() == Path(str(saved)).resolve()

"""vidseq: spatiotemporal classifiers (per-frame CNN + LSTM/GRU + MLP) for folders of videos.

The public names below are imported when first used, so `import vidseq` (and `vidseq --help`)
loads neither TensorFlow nor Keras. The only thing set at import is TensorFlow's C++ log level,
before TensorFlow can be imported, so that its start-up lines stay out of every command.
"""

import importlib
import os

os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "1"
)  # TensorFlow C++: warnings and errors, no INFO lines

_PUBLIC = {
    "Catalog": "vidseq.data.catalog",
    "Item": "vidseq.data.catalog",
    "load_split": "vidseq.data.catalog",
    "save_split": "vidseq.data.catalog",
    "ClipDataset": "vidseq.data.dataset",
    "ClipSpec": "vidseq.data.spec",
    "VideoReader": "vidseq.data.decode",
    "read_clip": "vidseq.data.decode",
    "VideoInfo": "vidseq.data.probe",
    "probe": "vidseq.data.probe",
    "register_sampler": "vidseq.data.sampling",
    "VideoDecodeError": "vidseq.errors",
    "VidseqError": "vidseq.errors",
    "RunConfig": "vidseq.config",
    "build_model": "vidseq.models.build",
    "frame_encoder": "vidseq.models.build",
    "list_models": "vidseq.models.registry",
    "register_backbone": "vidseq.models.registry",
    "register_temporal": "vidseq.models.registry",
    "train": "vidseq.run.train",
    "evaluate_run": "vidseq.run.evaluate",
    "predict_files": "vidseq.run.predict",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'vidseq' has no attribute {name!r}")
    if _PUBLIC[name].startswith("vidseq.models"):
        importlib.import_module(
            "vidseq.models.zoo"
        )  # the named models are registered with the registry
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

"""vidseq: spatiotemporal classifiers (per-frame CNN + LSTM/GRU + MLP) for folders of videos."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the CLI

from vidseq.data.catalog import Catalog, Item, load_split, save_split
from vidseq.data.dataset import ClipDataset
from vidseq.data.decode import VideoReader, read_clip
from vidseq.data.probe import VideoInfo, probe
from vidseq.errors import VideoDecodeError, VidseqError
from vidseq.models import zoo as _zoo  # noqa: F401  (registers the named models)
from vidseq.models.registry import build_model, list_models

__all__ = [
    "Catalog", "ClipDataset", "Item", "VideoDecodeError", "VideoInfo", "VideoReader", "VidseqError",
    "build_model", "list_models", "load_split", "probe", "read_clip", "save_split",
]
__version__ = "0.1.0"

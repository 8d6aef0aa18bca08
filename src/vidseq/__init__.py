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
from vidseq.config import RunConfig
from vidseq.training import train
from vidseq.evaluate import evaluate_run
from vidseq.predict import predict_files

__all__ = [
    "Catalog", "ClipDataset", "Item", "RunConfig", "VideoDecodeError", "VideoInfo", "VideoReader", "VidseqError",
    "build_model", "evaluate_run", "list_models", "load_split", "predict_files", "probe", "read_clip", "save_split",
    "train",
]
__version__ = "0.1.0"

"""What `vidseq train` resolves when a setting is left open."""

from __future__ import annotations

from vidseq.config import RunConfig
from vidseq.run import datasets
from vidseq.run.datasets import resolve_defaults


def test_video_defaults_to_the_pretrained_model_at_its_size_when_its_weights_are_installed(
    monkeypatch,
):
    cfg = resolve_defaults(RunConfig(), audio=False)
    assert (cfg.model, cfg.size) == (datasets.PRETRAINED_MODEL, "160")
    assert resolve_defaults(RunConfig(model="efficientnet-lite0-gru-ft"), audio=False).size == "112"
    assert resolve_defaults(RunConfig(model="convnet-gru"), audio=False).size == "112"
    assert resolve_defaults(RunConfig(size="96"), audio=False).size == "96"
    monkeypatch.setattr(datasets, "_weights_installed", lambda: False)
    assert (
        resolve_defaults(RunConfig(), audio=False).model,
        resolve_defaults(RunConfig(), audio=False).size,
    ) == ("convnet-gru", "112")


def test_audio_defaults_to_the_scratch_convnet():
    assert resolve_defaults(RunConfig(), audio=True).model == "convnet-gru"

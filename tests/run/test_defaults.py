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


def test_audio_defaults_to_the_scratch_convnet_whose_options_fit_no_other_model():
    cfg = resolve_defaults(RunConfig(), audio=True)
    assert (cfg.model, cfg.model_options) == ("convnet-gru", {"width": 0.5, "head": [128]})
    mine = resolve_defaults(RunConfig(model_options={"width": 0.25}), audio=True)
    assert mine.model_options == {"width": 0.25, "head": [128]}
    lite = resolve_defaults(RunConfig(model="efficientnet-lite0-motion"), audio=True)
    assert (lite.model_options, lite.size, lite.gray) == ({}, "40x24", True)

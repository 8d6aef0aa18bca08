"""demo: the embedded motion dataset, a temporal model against the single-frame baseline."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vidseq.config import RunConfig
from vidseq.data.synthetic import make_motion_dataset
from vidseq.run.train import train

log = logging.getLogger("vidseq")

DEMO_MODELS = {"temporal": "convnet-gru", "single-frame": "single-frame"}


def run_demo(
    out: str | os.PathLike = "demo-run",
    per_class: int = 150,
    epochs: int = 15,
    verbose: int | str = 2,
) -> dict[str, dict]:
    """Generate the dataset under OUT/data, train both models into OUT/temporal and OUT/single-frame."""
    base = Path(out)
    data = make_motion_dataset(base / "data", per_class=per_class)
    log.info("embedded motion dataset: %s", data)
    results = {}
    for run_name, model in DEMO_MODELS.items():
        cfg = RunConfig(
            data=str(data),
            model=model,
            model_options={"width": 0.25, "head": [128, 64]},
            frames=8,
            size="48",
            batch=8,
            epochs=epochs,
            val=0.2,
            test=0.2,
            seed=0,
        )
        result = train(
            cfg, base / run_name, resume=(base / run_name / "state.json").is_file(), verbose=verbose
        )
        results[run_name] = result.metrics
        log.info(
            "%s (%s): test accuracy %.3f in %.0fs",
            run_name,
            model,
            result.metrics["accuracy"],
            result.seconds,
        )
    return results

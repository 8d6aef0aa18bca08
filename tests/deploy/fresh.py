"""Run an exported artifact in a fresh Python process that cannot import vidseq or Keras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import vidseq.deploy.runtime as runtime


def run_fresh(
    fmt: str, artifact: Path, batches: list[dict[str, np.ndarray]], work: Path
) -> tuple[list[np.ndarray], dict]:
    """Probabilities of each batch (named float32 inputs) from `artifact` in a new process, and its report."""
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    argv = [sys.executable, runtime.__file__, fmt, str(Path(artifact).resolve())]
    outputs = []
    for i, batch in enumerate(batches):
        np.savez(work / f"in{i}.npz", **batch)
        outputs.append(work / f"out{i}.npy")
        argv += [str(work / f"in{i}.npz"), str(outputs[-1])]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return [np.load(p) for p in outputs], report

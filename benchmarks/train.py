"""Training and prediction speed: vidseq's pipeline against a bare model.fit, and the frame encoder's options.

    python benchmarks/train.py            # TensorFlow (default backend)
    KERAS_BACKEND=jax python benchmarks/train.py

Prints clips/s measured side by side in one run, on the embedded motion dataset (600 H.264
videos, 64×64), 8 frames at 48×48, batch 8:
  1. bare model.fit on in-memory arrays vs model.fit on ClipDataset (fixed frames, and random
     frames from a pool of 3 per segment), each once its frames are cached, with 1 and 2 workers;
  2. frame_mode fold vs loop, training and prediction, for convnet-gru and lrcn;
  3. jit_compile on vs off for the same two.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import vidseq
from vidseq.data.synthetic import make_motion_dataset

FRAMES, SIZE, BATCH = 8, 48, 8
OPTIONS = {"convnet-gru": {"width": 0.25, "head": [128, 64]}, "lrcn": {"width": 0.25, "units": 64}}


def clips_per_s(fn, n_clips: int, repeat: int = 2) -> float:
    """Best of `repeat` timed calls (after one warm-up call that compiles)."""
    fn()
    best = min(_timed(fn) for _ in range(repeat))
    return n_clips / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    """Run the three comparisons and print their tables."""
    os.environ.setdefault("VIDSEQ_CACHE", tempfile.mkdtemp(prefix="vidseq-bench-"))
    root = make_motion_dataset(Path(tempfile.gettempdir()) / "vidseq-bench-motion", per_class=150)
    cat = vidseq.Catalog.from_folder(root)
    train, _, _ = cat.split(val=0.2, test=0.2, seed=0)
    ds_eval = vidseq.ClipDataset(
        train, frames=FRAMES, size=SIZE, batch_size=BATCH, shuffle=False, cache="1GB"
    )
    x = np.concatenate([ds_eval[i][0] for i in range(len(ds_eval))])
    y = np.concatenate([ds_eval[i][1] for i in range(len(ds_eval))])
    n = len(x)
    backend = keras.backend.backend()
    print(f"backend {backend}, {n} training clips of {FRAMES}×{SIZE}×{SIZE}, batch {BATCH}\n")

    model = vidseq.build_model("convnet-gru", (FRAMES, SIZE, SIZE, 3), 4, **OPTIONS["convnet-gru"])
    print(
        "1. convnet-gru training, clips/s (best of 3; the bare fit is timed again beside each row)"
    )
    for workers in (1, 2):
        for label, kwargs in (
            ("fixed frames, cached", {"shuffle": False}),
            ("random frames, pool 3", {"pool": 3}),
        ):
            ds = vidseq.ClipDataset(
                train,
                frames=FRAMES,
                size=SIZE,
                batch_size=BATCH,
                cache="1GB",
                workers=workers,
                **kwargs,
            )
            model.fit(ds, epochs=3, verbose=0)  # warm the cache (pool) and the graph
            bare = clips_per_s(
                lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), n, repeat=3
            )
            piped = clips_per_s(lambda: model.fit(ds, epochs=1, verbose=0), n, repeat=3)
            print(
                f"   workers={workers} {label:<22} ClipDataset {piped:6.1f}   bare fit {bare:6.1f}   "
                f"ratio {piped / bare:.2f}"
            )
    print()

    print("2./3. frame encoder and XLA, clips/s        train     predict")
    for name, options in OPTIONS.items():
        for mode, jit in (("fold", False), ("loop", False), ("fold", True), ("loop", True)):
            if backend == "jax" and not jit:
                continue  # JAX without jit runs op by op: not a setting anyone trains with
            m = vidseq.build_model(
                name, (FRAMES, SIZE, SIZE, 3), 4, frame_mode=mode, jit_compile=jit, **options
            )
            tr = clips_per_s(lambda: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), n)
            pr = clips_per_s(lambda: m.predict(x, batch_size=BATCH, verbose=0), n)
            print(
                f"   {name:<12} frame_mode={mode:<4} jit={'on ' if jit else 'off'}  {tr:8.1f}  {pr:9.1f}"
            )


if __name__ == "__main__":
    main()

"""Frames/s of the frozen EfficientNet-Lite frame encoders (ImageNet weights), batch 32.

    python benchmarks/encoder.py                 # lite0 at 112², 160², 224²
    python benchmarks/encoder.py 1 2             # other variants
    KERAS_BACKEND=jax python benchmarks/encoder.py

Times an eager call `model(x, training=False)` (what the feature cache does) and
`predict_on_batch` (a traced function; XLA only where Keras enables it), best of 3 after a warm-up.
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np

import vidseq

BATCH, SIZES = 32, (112, 160, 224)


def frames_per_s(fn, repeat: int = 3) -> float:
    """BATCH over the best of `repeat` timed calls, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return BATCH / best


def main(variants: list[int]) -> None:
    print(f"backend {keras.backend.backend()}, batch {BATCH}")
    for variant in variants:
        for size in SIZES:
            model = vidseq.frame_encoder(f"efficientnet-lite{variant}", (size, size, 3))
            x = np.random.default_rng(0).random((BATCH, size, size, 3), dtype=np.float32)
            eager = frames_per_s(lambda: keras.ops.convert_to_numpy(model(x, training=False)))
            traced = frames_per_s(lambda: model.predict_on_batch(x))
            print(
                f"lite{variant} {size}²: eager {eager:6.1f} frames/s, predict_on_batch {traced:6.1f} frames/s"
            )


if __name__ == "__main__":
    main([int(v) for v in sys.argv[1:]] or [0])

"""Mixup (Zhang et al. 2018) as a batch transform: samples and their one-hot labels blended in pairs."""

from __future__ import annotations

import numpy as np

from vidseq.errors import VidseqError


def check_mixup(alpha: float) -> float:
    """`alpha` if it is a mixup strength (0: none), else a clear error."""
    if alpha < 0:
        raise VidseqError(
            f"mixup must be 0 (none) or an alpha > 0 such as 0.3. Received: mixup={alpha!r}"
        )
    return alpha


def mixup(
    x: np.ndarray | dict[str, np.ndarray], y: np.ndarray, rng: np.random.Generator, alpha: float
) -> tuple[np.ndarray | dict[str, np.ndarray], np.ndarray]:
    """Each sample of a float batch blended with another sample of the batch by a weight drawn from
    Beta(alpha, alpha), its one-hot label alike; a dict of inputs (several streams) is blended with
    the same weights."""
    weight = rng.beta(alpha, alpha, len(y)).astype(np.float32)
    partner = rng.permutation(len(y))

    def blend(a: np.ndarray) -> np.ndarray:
        w = weight.reshape((-1,) + (1,) * (a.ndim - 1))
        return a * w + a[partner] * (1 - w)

    return ({m: blend(v) for m, v in x.items()} if isinstance(x, dict) else blend(x)), blend(y)

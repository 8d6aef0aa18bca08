"""Data-parallel training without a backend in sight: which process this is, and its shard of each batch.

With N processes (keras.distribution over all their devices; vidseq.scale.distributed sets that
up), every process feeds its own part of each global batch and Keras joins them into one array of
the global batch. A PyDataset is not sharded by Keras, so ShardedDataset does it: process p takes
the contiguous positions [p·b/N, (p+1)·b/N) of every global batch of b samples (b = the batch
size, or a last batch cut to a multiple of N), so the joined batch is the one-process batch,
in the same order.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import keras

from vidseq.errors import VidseqError


@dataclass(frozen=True)
class Processes:
    """This process's place among the `count` processes of one training job (0 writes the run)."""

    index: int = 0
    count: int = 1

    @property
    def writer(self) -> bool:
        """Whether this process writes the run directory (process 0 alone)."""
        return self.index == 0

    def shard(self, ds):
        """`ds` itself for one process, else this process's ShardedDataset of it."""
        return ds if self.count == 1 else ShardedDataset(ds, self.index, self.count)

    def check_batch(self, batch: int) -> None:
        """A global batch must split evenly over the processes."""
        if batch % self.count:
            raise VidseqError(
                f"--batch {batch} does not split over {self.count} processes; give a multiple of "
                f"{self.count} (each process loads batch / {self.count} clips)."
            )


def shard_positions(size: int, index: int, count: int) -> range:
    """Positions of a global batch of `size` samples that process `index` of `count` loads: a
    contiguous slice of size // count (the last size % count samples of a short batch are left out)."""
    per = size // count
    return range(index * per, (index + 1) * per)


class ShardedDataset(keras.utils.PyDataset):
    """Process `index` of `count`'s part of every batch of a ClipDataset or FeatureDataset (which
    builds a batch from given samples with `batch_of`); a last batch of fewer than `count` samples is left out."""

    def __init__(self, ds, index: int, count: int):
        super().__init__(
            workers=ds.workers,
            use_multiprocessing=ds.use_multiprocessing,
            max_queue_size=ds.max_queue_size,
        )
        self.ds, self.index, self.count = ds, index, count

    def __len__(self) -> int:
        full = len(self.ds)
        return (
            full
            if full and len(self.ds.batch_samples(full - 1)) >= self.count
            else max(0, full - 1)
        )

    def __getitem__(self, index: int):
        samples = self.ds.batch_samples(index)
        return self.ds.batch_of(
            [samples[i] for i in shard_positions(len(samples), self.index, self.count)], index
        )

    def on_epoch_end(self) -> None:
        """Advance the wrapped dataset to its next epoch."""
        self.ds.on_epoch_end()

    def set_epoch(self, epoch: int) -> None:
        """Go to `epoch` (the same in every process)."""
        self.ds.set_epoch(epoch)

    @property
    def num_batches(self) -> int:
        """Batches per epoch (as len)."""
        return len(self)


@contextlib.contextmanager
def local_keras() -> Iterator[None]:
    """No keras.distribution inside: what one process does alone (save a checkpoint, evaluate)
    creates no variables that wait for the others."""
    from keras.distribution import distribution, set_distribution

    saved = distribution()
    set_distribution(None)
    try:
        yield
    finally:
        set_distribution(saved)

"""Frozen-backbone feature cache: epoch time and accuracy training on cached features vs on clips.

    python benchmarks/features.py                                            # vgg16-lstm at 64×64
    python benchmarks/features.py --model efficientnet-lite0-motion --size 160  # the video default

On the embedded motion dataset (generated: 4 classes × 40 H.264 videos), 8 frames, batch 8: a
zoo model with a frozen per-frame CNN (the seed's vgg16-lstm by default, its VGG16 with random
weights as ImageNet weights cannot be downloaded on this machine; EfficientNet-Lite entries load
their ImageNet weights offline) trains from the same initial weights twice, once on clips (frames
already cached in memory, so decoding is not what is measured) and once on cached features.
Prints the epoch times side by side, their ratio from the second epoch on, the one-off feature
extraction time, and the test accuracy of the saved full model (which takes raw clips) for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import vidseq
from vidseq.data.cache import ClipCache
from vidseq.data.synthetic import make_motion_dataset
from vidseq.run.features import FeatureDataset, frame_cnn

FRAMES, BATCH, EPOCHS = 8, 8, 4
OPTIONS = {"vgg16-lstm": {"weights": None, "units": 64, "head": [128]}}


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.start]


def accuracy(model: keras.Model, test: vidseq.ClipDataset) -> float:
    """Clip accuracy of the full model on raw test clips."""
    probs = model.predict(test, verbose=0)
    labels = np.concatenate([test[i][1] for i in range(len(test))])
    return float((probs.argmax(1) == labels.argmax(1)).mean())


def fit_timed(model: keras.Model, data, val) -> list[float]:
    """Epoch times of EPOCHS epochs of model.fit."""
    timer = EpochTimer()
    model.fit(data, validation_data=val, epochs=EPOCHS, callbacks=[timer], verbose=0)
    return timer.seconds


def main() -> None:
    """Train both ways from the same weights and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="vgg16-lstm", help="a zoo entry with a frozen frame CNN")
    parser.add_argument("--size", type=int, default=64, help="frame size (square)")
    args = parser.parse_args()
    size = args.size
    os.environ.setdefault("VIDSEQ_CACHE", tempfile.mkdtemp(prefix="vidseq-bench-"))
    root = make_motion_dataset(
        Path(tempfile.gettempdir()) / "vidseq-bench-features", per_class=40, size=64
    )
    train, val, test = vidseq.Catalog.from_folder(root).split(val=0.2, test=0.2, seed=0)
    cache = ClipCache("2GB")
    clips = {
        name: vidseq.ClipDataset(
            part,
            frames=FRAMES,
            size=size,
            batch_size=BATCH,
            shuffle=name == "train",
            pool=3,
            cache=cache,
            workers=1,
        )
        for name, part in (("train", train), ("val", val), ("test", test))
    }
    for ds in clips.values():
        ds.warm()
    keras.utils.set_random_seed(0)
    model = vidseq.build_model(
        args.model, (FRAMES, size, size, 3), 4, **OPTIONS.get(args.model, {})
    )
    initial = model.get_weights()
    print(
        f"{args.model}, {len(train)} training clips of {FRAMES}×{size}², batch {BATCH}, {EPOCHS} epochs\n"
    )

    on_clips = fit_timed(model, clips["train"], clips["val"])
    acc_clips = accuracy(model, clips["test"])

    model.set_weights(initial)
    clips["train"].set_epoch(0)
    started = time.perf_counter()
    features = {name: FeatureDataset(clips[name], frame_cnn(model)) for name in ("train", "val")}
    extraction = time.perf_counter() - started
    head = model.get_layer("head")
    head.compile(
        optimizer=keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer)),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    on_features = fit_timed(head, features["train"], features["val"])
    acc_features = accuracy(model, clips["test"])

    print("| epoch | on clips (s) | on features (s) | ratio |")
    print("|---|---|---|---|")
    for epoch, (a, b) in enumerate(zip(on_clips, on_features), 1):
        print(f"| {epoch} | {a:.2f} | {b:.3f} | {a / b:.0f}× |")
    steady = statistics.mean(on_clips[1:]) / statistics.mean(on_features[1:])
    print(
        f"\nfrom epoch 2 on: features {steady:.0f}× faster per epoch; one-off feature extraction {extraction:.1f} s"
    )
    print(
        f"test accuracy of the saved-style full model on raw clips (n={len(test)}): "
        f"trained on clips {acc_clips:.3f}, trained on features {acc_features:.3f}"
    )


if __name__ == "__main__":
    main()

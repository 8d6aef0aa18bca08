"""Drop-in replacement for keras-video-generators 1.0.14, built on vidseq's catalog, samplers and cache.

Change `from keras_video import VideoFrameGenerator` to
`from vidseq.compat.keras_video import VideoFrameGenerator`; the constructor arguments, the
`get_validation_generator()` / `get_test_generator()` methods and the `classes`, `files`,
`files_count`, `classes_count` attributes are the old package's. Where the old behaviour was a
bug, these classes do the right thing; docs/keras_video.md lists every difference.
"""

from __future__ import annotations

import logging

import numpy as np

from vidseq.data.cache import DEFAULT_CACHE
from vidseq.data.catalog import Catalog
from vidseq.data.dataset import ClipDataset
from vidseq.data.motion import as_modality, flow_to_uint8, optical_flow
from vidseq.data.sampling import SlidingSampler, UniformSampler
from vidseq.errors import VidseqError

log = logging.getLogger("vidseq")

METHOD_OPTICAL_FLOW = 1
METHOD_FLOW_MASK = 2
METHOD_DIFF_MASK = 3
METHOD_ABS_DIFF = 4


class VideoFrameGenerator(ClipDataset):
    """Batches (images, one-hot labels) of `nb_frames` frames spread over each video."""

    def __init__(
        self,
        rescale: float = 1 / 255.0,
        nb_frames: int = 5,
        classes: list | None = None,
        batch_size: int = 16,
        use_frame_cache: bool = False,
        target_shape: tuple = (224, 224),
        shuffle: bool = True,
        transformation=None,
        split_test: float | None = None,
        split_val: float | None = None,
        nb_channel: int = 3,
        glob_pattern: str = "./videos/{classname}/*.avi",
        use_headers: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        if "split" in kwargs:
            log.warning("`split` is deprecated in keras-video-generators: use `split_val`")
            split_val = float(kwargs.pop("split"))
        part = kwargs.pop("_validation_data", None) or kwargs.pop("_test_data", None)
        if kwargs:
            raise VidseqError(f"unknown argument(s) {', '.join(kwargs)} for {type(self).__name__}.")
        if nb_channel not in (1, 3) or len(target_shape) != 2:
            raise VidseqError(
                f"nb_channel must be 1 or 3 and target_shape (width, height) (got {nb_channel}, {target_shape})."
            )
        self.rescale, self.nbframe, self.nb_channel = rescale, nb_frames, nb_channel
        self.target_shape, self.glob_pattern, self.use_headers = (
            tuple(target_shape),
            glob_pattern,
            use_headers,
        )
        self.transformation, self.use_frame_cache = transformation, use_frame_cache
        if part is None:
            catalog = _restrict(Catalog.from_glob(glob_pattern), classes)
            part, self.validation, self.test = catalog.split(
                val=split_val or 0.0, test=split_test or 0.0, seed=seed or 0
            )
        vidseq_augment = transformation if isinstance(transformation, (bool, str)) else False
        super().__init__(
            part,
            frames=self._frames_to_read(),
            size=(target_shape[1], target_shape[0]),
            batch_size=batch_size,
            sampler=self._sampler(),
            shuffle=shuffle,
            augment=vidseq_augment,
            dtype="uint8",
            gray=nb_channel == 1,
            cache=DEFAULT_CACHE if use_frame_cache else None,
            seed=seed or 0,
            max_bad=0.1,
        )
        self.classes = list(part.classes)
        self.files = part.paths
        self.files_count, self.classes_count = len(self.files), len(self.classes)

    def _frames_to_read(self) -> int:
        return self.nbframe

    def _sampler(self):
        return UniformSampler()

    def _settings(self) -> dict:
        return dict(
            rescale=self.rescale,
            nb_frames=self.nbframe,
            batch_size=self.batch_size,
            target_shape=self.target_shape,
            shuffle=False,
            nb_channel=self.nb_channel,
            glob_pattern=self.glob_pattern,
            use_frame_cache=self.use_frame_cache,
            seed=self.seed,
        )

    def get_validation_generator(self) -> "VideoFrameGenerator":
        """The validation part (needs split_val); evaluation frames, not shuffled."""
        return self._part_generator(self.validation, "split_val")

    def get_test_generator(self) -> "VideoFrameGenerator":
        """The test part (needs split_test); evaluation frames, not shuffled."""
        return self._part_generator(self.test, "split_test")

    def _part_generator(self, part: Catalog, option: str) -> "VideoFrameGenerator":
        if not len(part):
            raise VidseqError(
                f"this generator has no such split: pass {option}=0.2 (for example) when creating it."
            )
        return type(self)(_validation_data=part, **self._settings())

    def __getitem__(self, index: int):
        x, y = super().__getitem__(index)
        x = (
            np.stack([self._transform(clip) for clip in x])
            if self.transformation is not None
            else x
        )
        return self._output(x).astype(np.float32) * np.float32(self.rescale), y

    def _transform(self, clip: np.ndarray) -> np.ndarray:
        """A legacy ImageDataGenerator's random transform, drawn once and applied to every frame."""
        if not hasattr(self.transformation, "get_random_transform"):
            return clip
        params = self.transformation.get_random_transform(clip.shape[1:])
        return np.stack(
            [self.transformation.apply_transform(f.astype(np.float32), params) for f in clip]
        ).astype(np.uint8)

    def _output(self, x: np.ndarray) -> np.ndarray:
        return x


class SlidingFrameGenerator(VideoFrameGenerator):
    """Several windows per video: `nb_frames` frames spanning `sequence_time` seconds (or
    consecutive frames), windows advancing by `stride` (seconds, or frames)."""

    def __init__(
        self, *args, sequence_time: float | None = None, stride: float | None = None, **kwargs
    ):
        self.sequence_time, self.stride = sequence_time, stride
        super().__init__(*args, **kwargs)

    def _sampler(self):
        return SlidingSampler(stride=self.stride, sequence_time=self.sequence_time)

    def _settings(self) -> dict:
        return {**super()._settings(), "sequence_time": self.sequence_time, "stride": self.stride}


class OpticalFlowGenerator(VideoFrameGenerator):
    """Motion between consecutive sampled frames: flow (dx, dy, magnitude; sign kept), flow
    mask, difference mask or absolute difference; `nb_frames` outputs from nb_frames+1 frames."""

    def __init__(
        self,
        *args,
        method: int = METHOD_OPTICAL_FLOW,
        flowlevel: int = 3,
        iterations: int = 3,
        winsize: int = 15,
        **kwargs,
    ):
        if method not in (METHOD_OPTICAL_FLOW, METHOD_FLOW_MASK, METHOD_DIFF_MASK, METHOD_ABS_DIFF):
            raise VidseqError(f"method={method!r}: use one of the METHOD_* constants.")
        self.method, self.flowlevel, self.iterations, self.winsize = (
            method,
            flowlevel,
            iterations,
            winsize,
        )
        super().__init__(*args, **kwargs)

    def _frames_to_read(self) -> int:
        return self.nbframe + 1

    def _settings(self) -> dict:
        return {
            **super()._settings(),
            "method": self.method,
            "flowlevel": self.flowlevel,
            "iterations": self.iterations,
            "winsize": self.winsize,
        }

    def _output(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self._motion(clip) for clip in x])

    def _motion(self, clip: np.ndarray) -> np.ndarray:
        flow_options = {
            "levels": self.flowlevel,
            "winsize": self.winsize,
            "iterations": self.iterations,
        }
        if (
            self.method == METHOD_OPTICAL_FLOW
        ):  # the old package's 3- or 1-channel picture: dx, dy, magnitude
            flow = flow_to_uint8(optical_flow(clip, **flow_options))
            return flow if self.nb_channel == 3 else flow[..., 2:]
        modality = {
            METHOD_ABS_DIFF: "diff",
            METHOD_DIFF_MASK: "diff-mask",
            METHOD_FLOW_MASK: "flow-mask",
        }[self.method]
        out = as_modality(clip, modality, self.nbframe, **flow_options)
        return np.repeat(out, self.nb_channel, axis=-1) if modality == "diff" else out


def _restrict(catalog: Catalog, classes: list | None) -> Catalog:
    if not classes:
        return catalog
    unknown = sorted(set(classes) - set(catalog.classes))
    if unknown:
        raise VidseqError(
            f"class(es) {', '.join(unknown)} have no files matching the glob pattern."
        )
    keep = sorted(classes)
    index = {c: i for i, c in enumerate(keep)}
    items = [
        type(it)(it.path, index[catalog.classes[it.label]], it.group)
        for it in catalog
        if catalog.classes[it.label] in index
    ]
    return Catalog(tuple(items), tuple(keep), catalog.root)

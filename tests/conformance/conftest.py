"""The conformance corpus, written once a session into a temporary folder, and ffmpeg's truth for each file."""

from __future__ import annotations

import os
import random
import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conformance import corpus, oracle

SAMPLED = (
    20 if corpus.LARGE else 6
)  # pseudo-random indices per file, besides the first, middle and last


def sample_indices(name: str, n: int) -> list[int]:
    """First, middle, last and SAMPLED pseudo-random frame indices of an n-frame file, seeded by its name."""
    rng = random.Random(zlib.crc32(os.fsencode(name)))
    return sorted({0, n // 2, n - 1, *rng.sample(range(n), min(n, SAMPLED))})


class Corpus:
    """The corpus files in one folder, each written and measured by ffmpeg at most once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._truth: dict[str, oracle.Truth] = {}

    def path(self, spec: corpus.Spec) -> Path:
        """The file of `spec` (skips the test where ffmpeg lacks an encoder for it)."""
        lacking = corpus.missing(spec)
        if lacking:
            pytest.skip(f"this ffmpeg has no {', '.join(lacking)} encoder")
        return corpus.build(spec, self.folder)

    def truth(self, spec: corpus.Spec) -> oracle.Truth:
        """ffmpeg's count and frames for `spec`'s file."""
        if spec.name not in self._truth:
            self._truth[spec.name] = oracle.truth(
                self.path(spec), lambda n: sample_indices(spec.name, n)
            )
        return self._truth[spec.name]

    def prepare(self, specs: list[corpus.Spec]) -> None:
        """Write every file of `specs` ffmpeg can (those made from no other file first) and measure it, on all cores."""
        ready = [s for s in specs if not corpus.missing(s)]
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            for wave in ([s for s in ready if not s.bases()], [s for s in ready if s.bases()]):
                list(pool.map(lambda s: corpus.build(s, self.folder), wave))
            list(pool.map(self.truth, ready))


@pytest.fixture(scope="session")
def conformance(tmp_path_factory) -> Corpus:
    """The corpus, written once a session into a temporary folder, or into $VIDSEQ_CONFORMANCE_DIR where set and
    kept there (skips where ffmpeg is not installed: `make test` installs it)."""
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not on PATH (make test installs them)")
    kept = os.environ.get(
        "VIDSEQ_CONFORMANCE_DIR"
    )  # `make conformance`: the folder its table was written to
    made = Corpus(Path(kept) if kept else tmp_path_factory.mktemp("conformance"))
    made.prepare(corpus.specs())
    return made

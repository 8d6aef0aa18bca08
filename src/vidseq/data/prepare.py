"""prepare: re-encode a dataset once to a short side, a constant frame rate and a short keyframe interval."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np

from vidseq.data.catalog import VIDEO_EXTENSIONS
from vidseq.data.decode import convert
from vidseq.data.media import open_video
from vidseq.errors import VidseqError

log = logging.getLogger("vidseq")
Job = tuple[str, str]  # (source video, target path)
Outcome = tuple[str, int | None, str | None]  # (source, bytes written, or the reason it failed)
Runner = Callable[[list[Job], int, float, int], Iterable[Outcome]]


@dataclass
class PrepareReport:
    """Counts and bytes of one `prepare` run."""

    converted: int = 0
    skipped: int = 0
    copied: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    bytes_before: int = 0
    bytes_after: int = 0


def prepare(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    size: int = 160,
    fps: float = 15,
    gop: int = 8,
    workers: int | None = None,
    runner: Runner | None = None,
) -> PrepareReport:
    """Re-encode every video under `src` into `dst` (same relative paths); copy other files as they are.

    Resumable: a file whose output exists is skipped (outputs are written under a temporary name
    and renamed, so an existing output is complete). Files that fail are listed, not fatal.
    `runner` re-encodes the jobs elsewhere (e.g. on a Ray cluster, vidseq.scale.prepare): it
    yields one Outcome per job, in any order; by default a local pool of `workers` processes.
    """
    root, out = Path(src), Path(dst)
    if not root.is_dir():
        raise VidseqError(f"{root} is not a folder; give the dataset folder to prepare.")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise VidseqError(f"{out} is inside {root}; prepare into a folder outside the source.")
    if size < 16 or fps <= 0 or gop < 1:
        raise VidseqError(f"need size >= 16, fps > 0 and gop >= 1 (got {size}, {fps}, {gop}).")
    report = PrepareReport()
    jobs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        target = out / path.relative_to(root)
        report.bytes_before += path.stat().st_size
        if target.exists():
            report.skipped += 1
            report.bytes_after += target.stat().st_size
        elif path.suffix.lower() in VIDEO_EXTENSIONS:
            jobs.append((str(path), str(target)))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            report.copied += 1
            report.bytes_after += target.stat().st_size
    outcomes = (runner or (lambda *args: _in_processes(*args, workers=workers)))(
        jobs, size, fps, gop
    )
    for done, (source, written, error) in enumerate(outcomes, 1):
        if error is None:
            report.converted += 1
            report.bytes_after += written
        else:
            report.failed[source] = error
            log.warning("prepare: %s failed: %s", source, error)
        _progress(done, len(jobs))
    return report


def _in_processes(
    jobs: list[Job], size: int, fps: float, gop: int, workers: int | None
) -> Iterator[Outcome]:
    """Re-encode `jobs` on a local pool of processes, yielding outcomes as they finish."""
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = {pool.submit(reencode, s, t, size, fps, gop): s for s, t in jobs}
        for future in as_completed(futures):
            error = future.exception()
            yield (
                (futures[future], None, str(error))
                if error is not None
                else (futures[future], future.result(), None)
            )


def reencode_outcome(src: str, dst: str, size: int, fps: float, gop: int) -> Outcome:
    """`reencode` as an Outcome, where an output that exists already (written whole by an earlier
    attempt of the same job, since outputs are renamed into place) is kept, not written again."""
    target = Path(dst)
    if target.exists():
        return src, target.stat().st_size, None
    try:
        return src, reencode(src, dst, size, fps, gop), None
    except Exception as e:  # noqa: BLE001 (a file that fails is listed in the report, as on one machine)
        return src, None, str(e)


def reencode(src: str, dst: str, size: int, fps: float, gop: int) -> int:
    """Write `src` as a constant-`fps` video whose short side is `size`; returns the output's bytes."""
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp{target.suffix}")
    codec = "libvpx-vp9" if target.suffix.lower() == ".webm" else "libx264"
    try:
        with open_video(src) as source, av.open(str(tmp), "w") as sink:
            stream_in = source.streams.video[0]
            w, h = stream_in.codec_context.width, stream_in.codec_context.height
            scale = size / min(w, h)
            out_w, out_h = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
            stream = sink.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
            stream.codec_context.gop_size = gop
            stream.options = (  # mbtree off: with it, x264 in a fresh process now and then codes a
                # file's first GOP differently from the same input (Ray vs local); off costs +2% size
                {
                    "bf": "0",
                    "crf": "23",
                    "preset": "veryfast",
                    "sc_threshold": "0",
                    "x264-params": "mbtree=0",
                }
                if codec == "libx264"
                else {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
            )
            _resample(source, stream_in, sink, stream, fps, out_w, out_h)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def _resample(source, stream_in, sink, stream, fps: float, width: int, height: int) -> None:
    """Emit frame k at time k/fps as the latest source frame shown at or before it."""
    start, emitted, last = None, 0, None
    for frame in source.decode(stream_in):
        t = float(frame.time if frame.time is not None else emitted / fps)
        start = t if start is None else start
        while last is not None and emitted / fps < t - start - 1e-6:
            sink.mux(stream.encode(_retimed(last, emitted)))
            emitted += 1
        last = convert(frame, width, height, "yuv420p")
    if last is None:
        raise VidseqError("has no decodable video frames")
    duration = (t - start) + 1.0 / float(stream_in.average_rate or fps)
    while emitted < max(1, int(np.ceil(duration * fps - 1e-6))):
        sink.mux(stream.encode(_retimed(last, emitted)))
        emitted += 1
    sink.mux(stream.encode())


def _retimed(planes: np.ndarray, index: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.pts = index
    return frame


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        bar = "#" * (30 * done // max(total, 1))
        print(
            f"\rprepare [{bar:<30}] {done}/{total}",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )
    elif done == total or done % max(1, total // 10) == 0:
        log.info("prepare: %d/%d files", done, total)

"""The conformance corpus: awkward real-world video files written with the ffmpeg CLI.

Every file is made from lavfi's `testsrc2` (a moving pattern: each frame differs from its
neighbours by 4–11 grey levels on average), so a frame off by one is seen. A file is written
by one ffmpeg command from the test source, or from another corpus file (`Base`), then cut short
where `keep` < 1. `VIDSEQ_CONFORMANCE=large` (`make conformance`) makes the files 4× longer and
adds `LARGE_ONLY`.

    python -m tests.conformance.corpus DIR   # writes the corpus to DIR, prints its table
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

LARGE = os.environ.get("VIDSEQ_CONFORMANCE", "") == "large"
SECONDS = 16 if LARGE else 4  # of the 320×240 files; the big and the DV files stay short
Arg = str | bytes


@dataclass(frozen=True)
class Base:
    """Another corpus file, used as an ffmpeg input."""

    name: str


@dataclass(frozen=True)
class Spec:
    """One corpus file: how ffmpeg writes it and what is awkward about it."""

    name: str
    awkward: str
    inputs: tuple[Arg | Base, ...]  # input options and -i, a Base standing for that file's path
    output: tuple[Arg, ...]  # output options
    encoders: tuple[str, ...] = ()  # ffmpeg encoders it needs
    keep: float = 1.0  # fraction of the bytes kept: below 1 the file is cut short
    piped: bool = False  # written to a pipe (not seekable: no index written at the end)
    tolerance: float = 2.0  # mean |diff| in grey levels allowed between vidseq's RGB and ffmpeg's

    @property
    def id(self) -> str:
        """The name in ASCII (a test id), other bytes %-encoded: caf%E9.mkv."""
        return quote(os.fsencode(self.name), safe="")

    @property
    def truncated(self) -> bool:
        """Whether the file is cut short of its end."""
        return self.keep < 1

    def bases(self) -> list[str]:
        """Names of the corpus files this one is made from."""
        return [a.name for a in self.inputs if isinstance(a, Base)]


def testsrc(size: str = "320x240", rate: str = "25", seconds: float = SECONDS) -> tuple[str, ...]:
    """Input options for lavfi's moving test pattern."""
    return ("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}")


def sine(seconds: float = SECONDS) -> tuple[str, ...]:
    """Input options for a 440 Hz tone (an audio stream)."""
    return ("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}")


def x264(bf: int = 3, g: int = 48, *extra: str) -> tuple[str, ...]:
    """Output options for libx264 with `bf` B-frames and a GOP of `g` frames."""
    return ("-c:v", "libx264", "-preset", "veryfast", "-bf", str(bf), "-g", str(g), *extra)


def x265(bf: int = 3, g: int = 30) -> tuple[str, ...]:
    """Output options for libx265 (ultrafast) with `bf` B-frames and a GOP of `g` frames."""
    return (
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        f"bframes={bf}:keyint={g}:log-level=error",
    )


def copy_of(name: str, *options: Arg) -> tuple[tuple[Base, ...], tuple[Arg, ...]]:
    """(inputs, output) that copy every stream of corpus file `name` with `options`."""
    return ("-i", Base(name)), ("-map", "0", "-c", "copy", *options)


SRC = testsrc()
# The oracle's swscale (FFmpeg 5.1) and the one PyAV bundles (8.1) upsample chroma differently for
# 10-bit 4:2:0 and for 4:1:1: the same decoded frame comes out 1.9–2.3 (10-bit) and 2.2–2.3 (DV)
# grey levels apart on testsrc2's colour edges, while neighbouring frames stay 4+ apart. Against a
# float BT.601 conversion of the decoded 10-bit planes, ffmpeg's is nearer nearest-neighbour chroma
# (1.6 against 3.0) and PyAV's nearer interpolated chroma (2.4 against 2.6): neither is wrong.
CHROMA = 3.0
VFR = "settb=1/1000,setpts='(N+0.5*eq(mod(N\\,7)\\,3)+0.6*floor(N/10))/25/TB'"  # gaps of 1, 1.5, 0.5, 1.6 frames

CORPUS: list[Spec] = [
    Spec(
        "h264_aac.mp4",
        "control: H.264 High with 3 B-frames and AAC audio; an edit list for the B-frame delay",
        (*SRC, *sine()),
        (*x264(3, 25), "-c:a", "aac", "-shortest"),
        ("libx264", "aac"),
    ),
    Spec(
        "h264_bf3.avi",
        "H.264 B-frames in AVI: packets carry decoding order only (pts N/A)",
        SRC,
        x264(3, 48),
        ("libx264",),
    ),
    Spec(
        "h264_bf3.ts",
        "MPEG-TS: PES timestamps starting at 1.48 s, no index",
        SRC,
        x264(3, 30),
        ("libx264",),
    ),
    Spec(
        "mpeg2_interlaced.mpg",
        "interlaced MPEG-2 (field coding, 2 B-frames) in MPEG-PS: no index",
        SRC,
        ("-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-bf", "2", "-g", "15"),
        ("mpeg2video",),
    ),
    Spec(
        "mpeg4_bf2.avi",
        "MPEG-4 Part 2 (XVID tag) with 2 B-frames in AVI: pts N/A on I/P packets",
        SRC,
        ("-c:v", "mpeg4", "-bf", "2", "-g", "48", "-vtag", "XVID", "-q:v", "4"),
        ("mpeg4",),
    ),
    Spec(
        "xvid_packed.avi",
        "libxvid packed bitstream (user data DivX503b1393p): a P and a B VOP in one chunk, "
        "6-byte N-VOP placeholders; the AVI header counts 2 frames more than it holds",
        SRC,
        ("-c:v", "libxvid", "-bf", "2", "-g", "48", "-q:v", "4"),
        ("libxvid",),
    ),
    # ffmpeg 5.1 turns the rotate tag into a display matrix only when it copies the stream, not when it encodes
    Spec(
        "rot90.mp4",
        "phone-style: display matrix 90°, with audio",
        *copy_of("h264_aac.mp4", "-metadata:s:v:0", "rotate=90"),
    ),
    Spec(
        "rot90.mov",
        "QuickTime with display matrix 90°",
        *copy_of("h264_aac.mp4", "-metadata:s:v:0", "rotate=90"),
    ),
    Spec(
        "rot180.mp4",
        "display matrix 180° (same size, upside down)",
        *copy_of("h264_aac.mp4", "-metadata:s:v:0", "rotate=180"),
    ),
    Spec(
        "rot270.mov",
        "QuickTime with display matrix 270°",
        *copy_of("h264_aac.mp4", "-metadata:s:v:0", "rotate=270"),
    ),
    Spec(
        "sar8_9_720x480.mp4",
        "non-square pixels: 720×480 with SAR 8:9 (displayed 640×480)",
        testsrc("720x480", seconds=2),
        ("-vf", "setsar=8/9", *x264(2, 25)),
        ("libx264",),
    ),
    Spec(
        "sar32_27_720x480.mkv",
        "anamorphic 16:9: 720×480 with SAR 32:27 (displayed 853×480)",
        testsrc("720x480", seconds=2),
        ("-vf", "setsar=32/27", *x264(2, 25)),
        ("libx264",),
    ),
    Spec(
        "dv_ntsc.dv",
        "DV camcorder: raw DIF (no timestamps), 4:1:1 chroma, interlaced, 29.97 fps, SAR 8:9",
        testsrc("720x480", "30000/1001", 0.5),
        ("-c:v", "dvvideo", "-pix_fmt", "yuv411p", "-aspect", "4:3"),
        ("dvvideo",),
        tolerance=CHROMA,
    ),
    Spec(
        "h264_444_321x241.mp4",
        "odd size 321×241 (x264 refuses odd 4:2:0) in 4:4:4, High 4:4:4 Predictive",
        (*testsrc("322x242"), "-vf", "crop=321:241:0:0:exact=1"),
        ("-pix_fmt", "yuv444p", *x264(2, 30)),
        ("libx264",),
    ),
    Spec(
        "vp9_321x241.webm",
        "odd size 321×241 in 4:2:0 (chroma planes 161×121)",
        (*testsrc("322x242"), "-vf", "crop=321:241:0:0:exact=1"),
        (
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-g",
            "30",
            "-b:v",
            "400k",
        ),
        ("libvpx-vp9",),
    ),
    Spec(
        "h264_1920x1084.mp4",
        "1920×1084: height not a multiple of 16 (SPS cropping), 1 s",
        testsrc("1920x1084", seconds=1),
        x264(3, 12, "-preset", "ultrafast"),
        ("libx264",),
    ),
    Spec(
        "h264_10bit.mp4",
        "10-bit 4:2:0 (yuv420p10le, High 10)",
        SRC,
        ("-pix_fmt", "yuv420p10le", *x264(3, 30)),
        ("libx264",),
        tolerance=CHROMA,
    ),
    Spec(
        "h264_422.mkv",
        "4:2:2 chroma (yuv422p, High 4:2:2) in Matroska",
        SRC,
        ("-pix_fmt", "yuv422p", *x264(3, 30)),
        ("libx264",),
    ),
    Spec(
        "mjpeg_yuvj420p.avi",
        "Motion JPEG, full-range yuvj420p, in AVI",
        SRC,
        ("-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3"),
        ("mjpeg",),
    ),
    Spec(
        "mjpeg_yuvj422p.mov",
        "Motion JPEG, full-range yuvj422p, in QuickTime",
        SRC,
        ("-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-q:v", "3"),
        ("mjpeg",),
    ),
    Spec(
        "vp8_altref.webm",
        "VP8 with alt-ref (invisible) frames folded into packets",
        SRC,
        (
            "-c:v",
            "libvpx",
            "-deadline",
            "good",
            "-cpu-used",
            "8",
            "-g",
            "30",
            "-auto-alt-ref",
            "1",
            "-lag-in-frames",
            "16",
            "-b:v",
            "500k",
        ),
        ("libvpx",),
    ),
    Spec(
        "vp9_altref.webm",
        "VP9 superframes holding hidden alt-ref frames",
        SRC,
        (
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "good",
            "-cpu-used",
            "8",
            "-g",
            "30",
            "-auto-alt-ref",
            "1",
            "-lag-in-frames",
            "16",
            "-b:v",
            "300k",
        ),
        ("libvpx-vp9",),
    ),
    Spec(
        "av1.mp4",
        "AV1 (SVT-AV1) in MP4",
        SRC,
        ("-c:v", "libsvtav1", "-preset", "12", "-g", "30"),
        ("libsvtav1",),
    ),
    Spec("hevc_bf3.mp4", "HEVC with 3 B-frames in MP4", SRC, x265(3, 30), ("libx265",)),
    Spec("hevc_bf3.mkv", "HEVC with 3 B-frames in Matroska", SRC, x265(3, 30), ("libx265",)),
    Spec(
        "flv1.flv",
        "Sorenson Spark (FLV1, H.263 variant) in FLV: no sample aspect ratio",
        SRC,
        ("-c:v", "flv", "-q:v", "4"),
        ("flv",),
    ),
    Spec(
        "h264.flv",
        "H.264 with B-frames in FLV: millisecond timestamps, composition offsets",
        SRC,
        x264(3, 30),
        ("libx264",),
    ),
    Spec(
        "h263.3gp",
        "3GP H.263 at 176×144, 15 fps",
        testsrc("176x144", "15"),
        ("-c:v", "h263", "-q:v", "4"),
        ("h263",),
    ),
    Spec(
        "vfr.mkv",
        "variable frame rate: gaps of 1, 1.5, 0.5 and 1.6 frame times (ms time base)",
        SRC,
        ("-vf", VFR, "-fps_mode", "passthrough", "-enc_time_base:v", "1/1000", *x264(2, 30)),
        ("libx264",),
    ),
    Spec(
        "editlist.mp4",
        "edit list starting mid-GOP (-ss 1.3 with stream copy): 8 packets to discard, AAC audio",
        ("-ss", "1.3", "-i", Base("h264_aac.mp4")),
        ("-map", "0", "-c", "copy"),
    ),
    Spec(
        "itsoffset.mp4",
        "video delayed 0.5 s against the audio (an empty edit before the video)",
        ("-itsoffset", "0.5", "-i", Base("h264_aac.mp4"), "-i", Base("h264_aac.mp4")),
        ("-map", "0:v", "-map", "1:a", "-c", "copy"),
    ),
    Spec(
        "faststart.mp4",
        "moov before mdat (-movflags faststart), B-frames",
        SRC,
        (*x264(3, 30), "-movflags", "+faststart"),
        ("libx264",),
    ),
    Spec(
        "faststart_cut80.mp4",
        "faststart MP4 cut at 80% of its bytes: the index lists packets that are not there",
        *copy_of("faststart.mp4", "-movflags", "+faststart"),
        keep=0.8,
    ),
    Spec(
        "hevc_cut80.mkv",
        "HEVC Matroska cut at 80% of its bytes: no Cues, the last cluster partial",
        *copy_of("hevc_bf3.mkv"),
        keep=0.8,
    ),
    Spec(
        "fragmented.mp4",
        "fragmented MP4 (empty moov, one moof per GOP): no sample table in moov",
        SRC,
        (*x264(3, 30), "-movflags", "+frag_keyframe+empty_moov+default_base_moof"),
        ("libx264",),
    ),
    Spec(
        "open_gop.mkv",
        "H.264 open GOP: B-frames after a keyframe refer to the GOP before it",
        SRC,
        x264(3, 30, "-x264-params", "open-gop=1"),
        ("libx264",),
    ),
    Spec(
        "intra_refresh.mp4",
        "H.264 periodic intra refresh: no IDR after the first, recovery points marked as sync samples",
        SRC,
        x264(0, 30, "-x264-params", "intra-refresh=1"),
        ("libx264",),
    ),
    Spec(
        "latin1_tags.avi",
        "tags that are not UTF-8 (Latin-1 title, invalid artist bytes)",
        SRC,
        (
            "-c:v",
            "mpeg4",
            "-q:v",
            "4",
            "-metadata",
            b"title=caf\xe9 cr\xe8me",
            "-metadata",
            b"artist=\xff\xfebad",
        ),
        ("mpeg4",),
    ),
    Spec(
        os.fsdecode(b"caf\xe9.mkv"),
        "a file name that is not UTF-8 (Latin-1 bytes), Latin-1 stream title",
        SRC,
        (*x264(2, 30), "-metadata:s:v:0", b"title=caf\xe9"),
        ("libx264",),
    ),
    Spec(
        "theora.ogv",
        "Theora in Ogg: granule positions, no index",
        SRC,
        ("-c:v", "libtheora", "-q:v", "6", "-g", "30"),
        ("libtheora",),
    ),
    Spec("wmv2.asf", "Windows Media Video 8 in ASF", SRC, ("-c:v", "wmv2", "-q:v", "4"), ("wmv2",)),
    Spec(
        "divx3.avi",
        "MS MPEG-4 v3 (DivX 3) in AVI",
        SRC,
        ("-c:v", "msmpeg4", "-q:v", "4", "-vtag", "DIV3"),
        ("msmpeg4",),
    ),
]

LARGE_ONLY: list[Spec] = [
    Spec(
        "prores.mov",
        "ProRes 422 HQ (10-bit 4:2:2, intra) in QuickTime",
        SRC,
        ("-c:v", "prores_ks", "-profile:v", "3"),
        ("prores_ks",),
    ),
    Spec(
        "mpeg1.mpg",
        "MPEG-1 video in MPEG-PS with 2 B-frames",
        SRC,
        ("-c:v", "mpeg1video", "-bf", "2", "-q:v", "4"),
        ("mpeg1video",),
    ),
    Spec(
        "mkv_streamed.mkv",
        "Matroska written to a pipe: no Cues, no duration",
        SRC,
        (*x264(3, 30), "-f", "matroska"),
        ("libx264",),
        piped=True,
    ),
    Spec(
        "huffyuv.avi",
        "lossless HuffYUV 4:2:2 in AVI",
        SRC,
        (
            "-c:v",
            "huffyuv",
        ),
        ("huffyuv",),
    ),
    Spec(
        "qtrle.mov",
        "QuickTime Animation (RLE, rgb24)",
        SRC,
        (
            "-c:v",
            "qtrle",
        ),
        ("qtrle",),
    ),
    Spec(
        "h264_bf16_pyramid.mp4",
        "16 B-frames with a strict B-pyramid",
        SRC,
        x264(16, 60, "-b_strategy", "0", "-x264-params", "b-pyramid=strict"),
        ("libx264",),
    ),
]


def specs() -> list[Spec]:
    """The corpus for this run (`LARGE_ONLY` added when VIDSEQ_CONFORMANCE=large)."""
    return CORPUS + (LARGE_ONLY if LARGE else [])


BY_NAME = {s.name: s for s in CORPUS + LARGE_ONLY}


@lru_cache(maxsize=None)
def encoders() -> frozenset[str]:
    """Names of the encoders this ffmpeg has."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=True
    ).stdout
    return frozenset(
        line.split()[1] for line in out.splitlines() if line[:1] == " " and len(line.split()) > 1
    )


def missing(spec: Spec) -> list[str]:
    """Encoders `spec` (and the files it is made from) needs that this ffmpeg lacks."""
    own = [e for e in spec.encoders if e not in encoders()]
    return own + [e for b in spec.bases() for e in missing(BY_NAME[b])]


def build(spec: Spec, folder: Path) -> Path:
    """Write `spec`'s file into `folder` (and the files it is made from) unless it is already there."""
    path = folder / spec.name
    if path.exists():
        return path
    inputs = [
        os.fspath(build(BY_NAME[a.name], folder)) if isinstance(a, Base) else a for a in spec.inputs
    ]
    part = folder / f".part-{os.fsencode(spec.name).hex()}{Path(spec.name).suffix}"
    args = [
        *inputs,
        *spec.output,
        "-fflags",
        "+bitexact",
    ]  # no random UIDs or serial numbers: the same bytes each run
    if spec.piped:
        with open(part, "wb") as out:
            _ffmpeg([*args, "-"], stdout=out)
    else:
        _ffmpeg([*args, os.fspath(part)])
    if spec.truncated:
        with open(part, "r+b") as f:
            f.truncate(int(part.stat().st_size * spec.keep))
    part.replace(path)
    return path


def _ffmpeg(args: list[Arg], stdout=subprocess.DEVNULL) -> None:
    """Run ffmpeg with `args`; raise with its error output when it fails."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    done = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=300)
    if done.returncode:
        shown = " ".join(os.fsdecode(a) for a in cmd)
        raise RuntimeError(
            f"{shown} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}"
        )


def table(folder: Path) -> list[tuple[str, ...]]:
    """(file, container, codec, stored size, frames, awkward) for each corpus file, written into `folder`; frames is
    the decoded count, or 'ffprobe's ≠ decoded' where `ffprobe -count_frames` disagrees."""
    from tests.conformance.oracle import decoded_count, probed_count, stream_facts

    rows = []
    for spec in specs():
        if missing(spec):
            rows.append(
                (
                    spec.id,
                    "-",
                    "-",
                    "-",
                    "-",
                    f"not made: this ffmpeg has no {', '.join(missing(spec))}",
                )
            )
            continue
        path = build(spec, folder)
        facts, probed, decoded = stream_facts(path), probed_count(path), decoded_count(path)
        counts = f"{probed} ≠ {decoded}" if probed != decoded else f"{decoded}"
        rows.append(
            (
                spec.id,
                facts.container,
                facts.codec,
                f"{facts.width}x{facts.height}",
                counts,
                spec.awkward,
            )
        )
    return rows


def main(argv: list[str]) -> None:
    """Write the corpus into argv[0] and print its table (Markdown)."""
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    print(
        "| file | container | codec | stored size | frames (ffprobe ≠ decoded where they differ) | awkward |"
    )
    print("|---|---|---|---|---|---|")
    for row in table(folder):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is not on PATH")
    main(sys.argv[1:] or ["conformance-corpus"])

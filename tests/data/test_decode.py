"""VideoReader returns exactly the requested frames, or raises VideoDecodeError naming the file."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from tests.conftest import frame_number, numbered_frames
from vidseq import VideoDecodeError, VideoReader, probe, read_clip
from vidseq.data import frames as frames_module
from vidseq.data.synthetic import write_video

CODECS = [  # (container, gop, B-frames): short and long GOP, with and without B-frames
    (".avi", 12, 0),
    (".mp4", 12, 2),
    (".mp4", 250, 3),
    (".mkv", 10, 0),
    (".webm", 30, 0),
]
WANTED = [0, 5, 59, 31, 31, 13, 47, 12, 58, 1]


@pytest.mark.parametrize("ext,gop,bframes", CODECS)
def test_read_returns_exactly_the_requested_indices(numbered_video, ext, gop, bframes):
    path = numbered_video(ext, n=60, gop=gop, bframes=bframes)
    frames = VideoReader(path).read(WANTED)
    assert [frame_number(f) for f in frames] == WANTED
    assert frames.dtype == np.uint8 and frames.shape == (len(WANTED), 64, 96, 3)


@pytest.mark.parametrize("ext,gop,bframes", CODECS)
def test_probe_counts_real_frames_and_keyframes(numbered_video, ext, gop, bframes):
    info = probe(numbered_video(ext, n=60, gop=gop, bframes=bframes))
    assert info.frames == 60
    assert info.keyframes[0] == 0
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(25, rel=0.02)
    assert info.duration == pytest.approx(2.4, rel=0.02)


def _probe_by_demuxing(path, monkeypatch):
    """The probe of `path` with the index ignored: every packet demuxed."""
    with monkeypatch.context() as m:
        m.setattr(frames_module, "_indexed", lambda *args: None)
        return probe(path, cache=False)


@pytest.mark.parametrize(
    "ext,gop,bframes,indexed",
    [(".avi", 12, 0, True), (".mp4", 12, 0, True), *[(*codec, False) for codec in CODECS[1:]]],
)
def test_probe_reads_the_index_only_where_it_equals_demuxing(
    numbered_video, monkeypatch, ext, gop, bframes, indexed
):
    """AVI and MP4 without B-frames are probed from the demuxer's index; the rest by demuxing; same result."""
    path = numbered_video(ext, n=60, gop=gop, bframes=bframes)
    checked = []
    monkeypatch.setattr(
        frames_module,
        "_last_gop_agrees",
        lambda *a, f=frames_module._last_gop_agrees: checked.append(f(*a)) or checked[-1],
    )
    info = probe(path, cache=False)
    assert checked == (
        [True] if indexed else []
    )  # other formats and B-frames: no index read at all
    assert info == _probe_by_demuxing(path, monkeypatch)


def test_avi_without_its_index_is_counted_by_demuxing(numbered_video, tmp_path, monkeypatch):
    data = bytearray(numbered_video(".avi", n=60, gop=12).read_bytes())
    at = data.rindex(b"idx1")
    data[at : at + 4] = b"JUNK"  # the demuxer now knows only the packets it read while opening
    path = tmp_path / "noindex.avi"
    path.write_bytes(bytes(data))
    info = probe(path, cache=False)
    assert info.frames == 60 and info == _probe_by_demuxing(path, monkeypatch)
    assert [frame_number(f) for f in VideoReader(path).read(WANTED)] == WANTED


def test_index_past_the_end_of_a_truncated_mp4_is_not_trusted(
    numbered_video, tmp_path, monkeypatch
):
    """With the index at the front (faststart), the index of a file cut short lists frames it no longer has."""
    whole = write_video(
        tmp_path / "front.mp4", numbered_frames(60), container_options={"movflags": "faststart"}
    )
    data = whole.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 2 // 3])
    info = probe(path, cache=False)
    assert info.frames < 60 and info == _probe_by_demuxing(path, monkeypatch)


@pytest.mark.parametrize(
    "ext,codec,bframes",
    [
        (".avi", "libx264", 3),
        (".avi", "mpeg4", 2),
        (".ts", "libx264", 3),
        (".mpg", "mpeg2video", 2),
    ],
)
def test_frames_are_the_decoders_output_order_where_timestamps_do_not_tell(
    tmp_path, ext, codec, bframes
):
    """AVI holds no presentation times (its pts count packets in decoding order); MPEG-TS/PS seek by
    byte position. Both must still give exactly the frames asked for, and count every frame."""
    path = write_video(
        tmp_path / f"v{ext}", numbered_frames(60), codec=codec, gop=12, bframes=bframes
    )
    info = probe(path, cache=False)
    assert info.frames == 60
    assert [frame_number(f) for f in VideoReader(path).read(WANTED)] == WANTED
    assert [frame_number(f) for f in VideoReader(path).read([59, 58, 24, 12, 11, 36])] == [
        59,
        58,
        24,
        12,
        11,
        36,
    ]


def test_h264_in_avi_with_b_frames_is_counted_by_decoding_and_seeks_to_closed_gops(tmp_path):
    path = write_video(
        tmp_path / "h264.avi", numbered_frames(60), codec="libx264", gop=12, bframes=3
    )
    info = probe(path, cache=False)
    assert info.decoded and info.keyframes == (0, 12, 24, 36, 48)
    assert info.times() == pytest.approx([i / 25 for i in range(60)])  # its pts are not times


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_gives_upright_frames_and_the_displayed_size(tmp_path, rotation):
    path = write_video(tmp_path / f"r{rotation}.mp4", numbered_frames(30), rotation=rotation)
    info = probe(path, cache=False)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((64, 96) if rotation in (90, 270) else (96, 64))
    frames = VideoReader(path).read([0, 7, 29])
    assert frames.shape == (3, info.height, info.width, 3)
    assert [frame_number(np.rot90(f, -rotation // 90)) for f in frames] == [0, 7, 29]
    assert read_clip(path, frames=4, size=(48, 32)).shape == (4, 48, 32, 3)


def test_non_square_pixels_are_shown_at_the_displayed_aspect(tmp_path):
    path = tmp_path / "anamorphic.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(2, 1)
        for rgb in numbered_frames(10):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    info = probe(path, cache=False)
    assert (info.width, info.height, info.coded_width) == (192, 64, 96)
    frame = VideoReader(path).read([5])[0]
    assert frame.shape == (64, 192, 3)
    assert frame_number(frame) == 5  # the stripes are stretched, not cut


def test_variable_frame_rate_is_read_by_frame_order_not_time(tmp_path):
    path = tmp_path / "vfr.mkv"
    pts_ms = np.cumsum([0] + [10, 90, 40, 200, 20] * 6)[:30]  # irregular gaps
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "0", "g": "5"}
        for frame_rgb, pts in zip(numbered_frames(30), pts_ms):
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            frame.pts, frame.time_base = int(pts), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    info = probe(path)
    assert info.frames == 30
    wanted = [29, 0, 7, 8, 22]
    assert [frame_number(f) for f in VideoReader(path).read(wanted)] == wanted


def test_resize_crop_letterbox_and_gray(numbered_video):
    path = numbered_video(".mp4")
    crop = VideoReader(path, size=(32, 32)).read([3])
    assert crop.shape == (1, 32, 32, 3)
    box = VideoReader(path, size=(32, 32), resize="letterbox").read([3])
    assert box.shape == (1, 32, 32, 3)
    assert (
        box[0, :4].max() == 0 and box[0, -4:].max() == 0
    )  # 96×64 fits as 32×21: black bars top and bottom
    gray = VideoReader(path, size="16x24", gray=True).read([3, 4])
    assert gray.shape == (2, 16, 24, 1)


def test_read_clip_spreads_frames_over_the_whole_video(numbered_video):
    clip = read_clip(numbered_video(".avi", n=60), frames=6, size=(64, 96))
    assert clip.shape == (6, 64, 96, 3)
    assert [frame_number(f) for f in clip] == [5, 15, 25, 35, 45, 55]


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty"), (b"just some text, not a video\n" * 50, "not a readable video")],
)
def test_broken_files_raise_decode_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "broken.avi"
    path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match=reason) as err:
        read_clip(path, frames=4, size=32)
    assert str(path) in str(err.value)


def test_truncated_mp4_raises_instead_of_returning_fewer_frames(numbered_video, tmp_path):
    data = numbered_video(".mp4", n=60).read_bytes()
    for keep in (len(data) // 3, len(data) - 200):
        path = tmp_path / f"cut{keep}.mp4"
        path.write_bytes(data[:keep])
        with pytest.raises(VideoDecodeError):
            VideoReader(path).read(list(range(60)))


def test_header_count_that_lies_is_replaced_by_the_real_count(numbered_video, tmp_path):
    data = bytearray(numbered_video(".avi", n=40).read_bytes())
    avih = data.index(b"avih") + 8  # MainAVIHeader: dwTotalFrames at +16
    strh = data.index(b"strh") + 8  # AVIStreamHeader: dwLength at +32
    data[avih + 16 : avih + 20] = (9999).to_bytes(4, "little")
    data[strh + 32 : strh + 36] = (9999).to_bytes(4, "little")
    path = tmp_path / "lying.avi"
    path.write_bytes(bytes(data))
    info = probe(path)
    assert info.header_frames == 9999 and info.frames == 40
    assert [frame_number(f) for f in VideoReader(path).read([39, 0])] == [39, 0]


def test_out_of_range_and_empty_requests_are_errors(numbered_video):
    reader = VideoReader(numbered_video(".mp4", n=60))
    with pytest.raises(
        VideoDecodeError, match="frame 60 was requested but the video has 60 frames"
    ):
        reader.read([0, 60])
    with pytest.raises(VideoDecodeError, match="no frame indices"):
        reader.read([])


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "tone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        samples = (np.sin(np.arange(8000) / 5) * 0.3).astype(np.float32)[None, :]
        for i in range(0, 8000, 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[:, i : i + 1024].copy(), format="fltp", layout="mono"
            )
            frame.sample_rate = 8000
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(VideoDecodeError, match="no video stream"):
        probe(path)


def test_kept_frame_converter_gives_the_pixels_of_a_fresh_one(numbered_video):
    """One swscale context is kept per thread; readers of other sizes in between must not change a pixel."""
    path = numbered_video(".mp4", n=60, gop=12, bframes=2)
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    for size, gray in [((32, 48), False), ((40, 40), True), ((32, 48), False)]:
        reader = VideoReader(path, size=size, gray=gray)
        plan = reader._plan
        fresh = [
            plan.apply(
                decoded[i]
                .reformat(
                    width=plan.scaled_w,
                    height=plan.scaled_h,
                    interpolation="AREA",
                    format="gray" if gray else "rgb24",
                )
                .to_ndarray()
                .reshape(plan.scaled_h, plan.scaled_w, -1)
            )
            for i in WANTED
        ]
        np.testing.assert_array_equal(reader.read(WANTED), np.stack(fresh))


def _read_in_child(path) -> np.ndarray:
    return VideoReader(path, size=(32, 48)).read(WANTED)


def test_a_forked_loader_process_reads_after_the_parent_did(numbered_video):
    """Keras' process workers fork: the child inherits the parent's kept frame converter."""
    import multiprocessing

    path = numbered_video(".avi", n=60, gop=12)
    expected = VideoReader(path, size=(32, 48)).read(WANTED)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_read_in_child, (path,)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)

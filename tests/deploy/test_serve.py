"""`vidseq serve`: the JSON API through Starlette's TestClient and the ASGI interface, the real
server (uvicorn on 127.0.0.1) over a raw socket, and the page in a real headless Chromium."""

from __future__ import annotations

import base64
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.test_cli import TINY_TRAIN
from vidseq.cli import main
from vidseq.data import probe as probe_module
from vidseq.data.synthetic import motion_clip, write_video
from vidseq.deploy.serve import create_app
from vidseq.run.datasets import dataset_for
from vidseq.run.predict import predict_files, predict_timeline
from vidseq.run.rundir import RunDir

LIMIT_MB = 1  # the test server's upload limit
LIMIT = LIMIT_MB * 2**20
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def run_dir(motion_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "motion-convnet-gru"
    assert (
        main(
            [
                "train",
                str(motion_data),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--test",
                "0",
                *TINY_TRAIN,
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def app(run_dir):
    return create_app(run_dir, max_upload_mb=LIMIT_MB, waiting=1)


@pytest.fixture(scope="module")
def client(app, live):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def clip(motion_data) -> Path:
    return sorted((motion_data / "grow").iterdir())[0]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """Six seconds at 10 fps: grow, shrink, grow."""
    rng = np.random.default_rng(0)
    frames = np.concatenate([motion_clip(k, rng, 20, 32) for k in ("grow", "shrink", "grow")])
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames, fps=10)


@pytest.fixture(autouse=True)
def no_traceback_in_the_log(caplog):
    caplog.set_level(logging.INFO)
    yield
    assert not [r for r in caplog.records if r.exc_info], "a log record carries a traceback"
    assert "Traceback" not in caplog.text


def post(client: TestClient, name: str, data: bytes, query: str = ""):
    return client.post("/api/predict" + query, files={"file": (name, data, "video/mp4")})


def checked(response, status: int) -> dict:
    """The JSON body of a response with `status`, nosniff and no traceback; errors are one sentence."""
    assert response.status_code == status, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in response.text
    body = response.json()
    if status >= 400:
        assert set(body) == {"error"} and body["error"].endswith(".") and "\n" not in body["error"]
    return body


# ---- predictions --------------------------------------------------------------------------------
def test_predict_equals_vidseq_predict_on_the_same_file(client, run_dir, clip):
    body = checked(post(client, clip.name, clip.read_bytes()), 200)
    expected = predict_files(run_dir, [clip])[0]
    assert set(body) == {"file", "top"} and body["file"] == clip.name
    assert [t["class"] for t in body["top"]] == [t["class"] for t in expected["top"]]
    np.testing.assert_allclose(
        [t["probability"] for t in body["top"]],
        [t["probability"] for t in expected["top"]],
        atol=1e-6,
        rtol=0,
    )


def test_timeline_when_asked_equals_predict_timeline(client, run_dir, long_video, tmp_path):
    body = checked(post(client, "long.mp4", long_video.read_bytes(), "?timeline=1&window=2"), 200)
    times, probs = predict_timeline(run_dir, long_video, tmp_path / "timeline.png", window=2.0)
    timeline = body["timeline"]
    assert (
        len(times) >= 4
        and timeline["window"] == 2.0
        and timeline["classes"] == RunDir(run_dir).classes()
    )
    np.testing.assert_allclose(timeline["times"], times, atol=1e-9)
    np.testing.assert_allclose(timeline["probabilities"], probs, atol=1e-6, rtol=0)
    assert "timeline" not in checked(post(client, "long.mp4", long_video.read_bytes()), 200)


def test_frames_are_the_clip_the_model_saw(client, run_dir, clip):
    frames = checked(post(client, clip.name, clip.read_bytes(), "?frames=1"), 200)["frames"]
    ds = dataset_for(RunDir(run_dir).config(), [str(clip)])
    seen = ds.load(0)
    assert [f["index"] for f in frames] == ds.frame_indices(0).tolist() and len(
        frames
    ) == ds.frames == 4
    for f, expected in zip(frames, seen):
        png = base64.b64decode(f["image"].removeprefix("data:image/png;base64,"))
        decoded = cv2.cvtColor(
            cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
        )
        np.testing.assert_array_equal(decoded, expected)


def test_info_describes_the_run(client, run_dir):
    info = checked(client.get("/api/info"), 200)
    assert (
        info["classes"] == RunDir(run_dir).classes()
        and info["frames"] == 4
        and info["size"] == "24"
    )
    assert (
        info["model"] == "convnet-gru"
        and info["kind"] == "video"
        and info["max_upload_mb"] == LIMIT_MB
    )


# ---- refusals -----------------------------------------------------------------------------------
def test_an_upload_over_the_limit_gets_413(client):
    assert "limit of 1 MB" in checked(post(client, "big.mp4", b"\0" * (LIMIT + 1)), 413)["error"]


def _multipart(chunk: int, chunks: int) -> tuple[list[bytes], bytes]:
    """A multipart body as a header chunk, `chunks` data chunks of `chunk` bytes and a closing one."""
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
    return [head] + [b"\0" * chunk] * chunks + [
        b"\r\n--B--\r\n"
    ], b"multipart/form-data; boundary=B"


def _asgi_post(
    app, chunks: list[bytes], headers: list[tuple[bytes, bytes]], pause: float = 0
) -> tuple[int, int]:
    """POST `chunks` to the app one receive() at a time, `pause` seconds before each after the
    first: (status, chunks the app asked for)."""
    asked, status = 0, []

    async def receive():
        nonlocal asked
        if asked >= len(chunks):
            return {"type": "http.disconnect"}
        if asked:
            await anyio.sleep(pause)
        asked += 1
        return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/predict",
        "raw_path": b"/api/predict",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    anyio.run(app, scope, receive, send)
    return status[0], asked


def test_413_is_answered_while_the_body_streams_in(app):
    chunks, kind = _multipart(2**16, 40)  # 2.5 MB in 64 KB chunks
    status, asked = _asgi_post(app, chunks, [(b"content-type", kind)])
    assert (
        status == 413 and asked == 1 + LIMIT // 2**16
    )  # the header chunk and the 16 chunks that pass 1 MB
    status, asked = _asgi_post(
        app, chunks, [(b"content-type", kind), (b"content-length", b"%d" % sum(map(len, chunks)))]
    )
    assert status == 413 and asked == 0  # refused on its Content-Length, unread


def test_an_upload_that_trickles_in_gets_408(app, monkeypatch):
    from vidseq.deploy import serve as serve_module

    monkeypatch.setattr(serve_module, "UPLOAD_SECONDS", 0.3)
    status, asked = _asgi_post(
        app,
        _multipart(64, 20)[0],
        [(b"content-type", b"multipart/form-data; boundary=B")],
        pause=0.1,
    )
    assert status == 408 and asked < 10


def _wav(
    path: Path | None = None, hz: float = 440, seconds: float = 0.5, rate: int = 8000
) -> bytes:
    """A real 16-bit PCM wav of a sine tone (written with the standard library's wave module)."""
    path = path or Path(os.environ["VIDSEQ_CACHE"]) / "tone.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(
            (np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate) * 12000)
            .astype("<i2")
            .tobytes()
        )
    return path.read_bytes()


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("notes.mp4", b"a text file, not a video\n" * 40, "PyAV cannot open it"),
        ("empty.mp4", b"", "empty"),
        (
            "subtitles.mp4",
            b"1\n00:00:00,000 --> 00:00:01,000\nhello\n\n",
            "no video stream",
        ),  # PyAV opens: no media
        ("tone.mp4", None, "no video stream"),  # audio only, for a video run
    ],
)
def test_what_is_not_this_runs_media_gets_415(client, name, data, words):
    body = checked(post(client, name, _wav() if data is None else data), 415)
    assert words in body["error"] and body["error"].startswith(name)


@pytest.mark.parametrize(
    "limit, value, words",
    [
        ("max_pixels", 100, "max_pixels"),
        ("max_seconds", 0.1, "max_seconds"),
        ("decode_seconds", 0.0, "decode_seconds"),
    ],
)
def test_a_decode_limit_gets_422(client, clip, monkeypatch, limit, value, words):
    monkeypatch.setattr(probe_module.LIMITS, limit, value)
    body = checked(post(client, clip.name, clip.read_bytes()), 422)
    assert (
        words in body["error"]
        and body["error"].startswith(clip.name)
        and "/tmp" not in body["error"]
    )


@pytest.mark.parametrize("query", ["?top=x", "?top=0", "?window=-1&timeline=1", "?timeline=maybe"])
def test_bad_query_values_get_400(client, clip, query):
    checked(post(client, clip.name, clip.read_bytes(), query), 400)


def test_a_request_without_a_file_gets_400(client):
    assert "multipart" in checked(client.post("/api/predict", json={"file": "x"}), 400)["error"]
    assert (
        "no file"
        in checked(
            client.post("/api/predict", data={"file": "x"}, files={"other": ("a", b"b")}), 400
        )["error"]
    )


def test_a_full_queue_gets_503_and_the_admitted_ones_finish(client, app, clip, monkeypatch):
    service, data = app.state.service, clip.read_bytes()
    release, real = threading.Event(), service.predictor.predict
    monkeypatch.setattr(
        service.predictor, "predict", lambda *a, **k: release.wait(30) and real(*a, **k)
    )
    with ThreadPoolExecutor(2) as pool:
        admitted = [
            pool.submit(post, client, clip.name, data) for _ in range(service.gate.capacity)
        ]
        deadline = time.monotonic() + 20
        while service.gate.admitted < service.gate.capacity and time.monotonic() < deadline:
            time.sleep(0.02)
        busy = post(client, clip.name, data)
        release.set()
        done = [checked(f.result(timeout=60), 200) for f in admitted]
    assert "busy" in checked(busy, 503)["error"] and busy.headers["retry-after"]
    assert done[0] == done[1] and service.gate.admitted == 0


@pytest.mark.slow  # trains a second (audio) run
def test_an_audio_run_predicts_a_sniffed_wav_as_vidseq_predict_does(tmp_path, clip):
    for name, hz in (("low", 300), ("high", 1500)):
        for k in range(6):
            _wav(tmp_path / "tones" / name / f"{k}.wav", hz * (1 + 0.05 * k))
    run = tmp_path / "audio-run"
    assert (
        main(
            [
                "train",
                str(tmp_path / "tones"),
                "--out",
                str(run),
                "--epochs",
                "1",
                "--test",
                "0",
                "--frames",
                "4",
                "--batch",
                "4",
            ]
        )
        == 0
    )
    wav = tmp_path / "tones" / "high" / "0.wav"
    expected = predict_files(run, [wav])[0]["top"]
    with TestClient(create_app(run)) as audio:
        assert checked(audio.get("/api/info"), 200)["kind"] == "audio"
        body = checked(
            post(audio, "tone.mp4", wav.read_bytes(), "?frames=1"), 200
        )  # a wav, whatever its name
        assert [t["class"] for t in body["top"]] == [t["class"] for t in expected] and len(
            body["frames"]
        ) == 4
        np.testing.assert_allclose(
            [t["probability"] for t in body["top"]],
            [t["probability"] for t in expected],
            atol=1e-6,
            rtol=0,
        )
        assert "no audio stream" in checked(post(audio, clip.name, clip.read_bytes()), 415)["error"]
        assert (
            "timeline"
            in checked(post(audio, "tone.wav", wav.read_bytes(), "?timeline=1"), 400)["error"]
        )


# ---- temporary files, headers ---------------------------------------------------------------------
def test_uploads_go_to_the_private_folder_and_are_deleted_after_every_request(
    client, app, clip, monkeypatch
):
    service = app.state.service
    scratch, seen, real = service.scratch, [], service.predictor.media_suffix
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
    monkeypatch.setattr(
        service.predictor,
        "media_suffix",
        lambda path, name: seen.append(path.exists()) or real(path, name),
    )
    for name, data, status in [
        (clip.name, clip.read_bytes(), 200),
        ("notes.mp4", b"text\n" * 99, 415),
        ("big.mp4", b"\0" * (LIMIT + 1), 413),
    ]:
        checked(post(client, name, data), status)
        assert list(scratch.iterdir()) == []
    assert seen == [True, True]  # the two uploads within the limit were written there, then removed
    monkeypatch.setattr(probe_module.LIMITS, "max_pixels", 100)
    checked(post(client, clip.name, clip.read_bytes()), 422)
    assert list(scratch.iterdir()) == []


def test_the_private_folder_is_removed_at_shutdown(run_dir):
    app = create_app(run_dir)
    with TestClient(app):
        assert app.state.service.scratch.is_dir()
    assert not app.state.service.scratch.exists()


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/", 200),
        ("GET", "/static/app.js", 200),
        ("GET", "/static/style.css", 200),
        ("GET", "/api/info", 200),
        ("GET", "/static/../serve.py", 404),
        ("GET", "/missing", 404),
        ("GET", "/api/predict", 405),
    ],
)
def test_every_response_says_nosniff(client, method, path, status):
    response = client.request(method, path)
    assert (
        response.status_code == status and response.headers["x-content-type-options"] == "nosniff"
    )
    assert "default-src 'self'" in response.headers["content-security-policy"]
    if status >= 400:
        checked(response, status)


# ---- the command ----------------------------------------------------------------------------------
def test_vidseq_serve_passes_its_options_and_binds_to_localhost_by_default(run_dir, monkeypatch):
    from vidseq.deploy import serve as serve_module

    calls = []
    monkeypatch.setattr(serve_module, "serve", lambda run, **kw: calls.append((run, kw)))
    assert main(["serve", str(run_dir)]) == 0
    assert (
        main(["serve", str(run_dir), "--host", "0.0.0.0", "--port", "8123", "--max-upload-mb", "5"])
        == 0
    )
    assert calls == [
        (str(run_dir), {"host": "127.0.0.1", "port": 8000, "max_upload_mb": 200}),
        (str(run_dir), {"host": "0.0.0.0", "port": 8123, "max_upload_mb": 5.0}),
    ]


def test_vidseq_serve_names_the_extra_when_a_package_is_missing(run_dir, monkeypatch, capsys):
    import vidseq.deploy

    real = vidseq.deploy.find_spec
    monkeypatch.setattr(
        vidseq.deploy, "find_spec", lambda name: None if name == "uvicorn" else real(name)
    )
    assert main(["serve", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert "uvicorn" in err and "pip install 'vidseq[serve]'" in err and len(err.splitlines()) == 1


def test_vidseq_serve_on_a_port_in_use_is_one_sentence(run_dir, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", str(run_dir), "--port", str(taken.getsockname()[1])]) == 2
    assert "choose another --port" in capsys.readouterr().err


# ---- the real server, and the page in a real browser ---------------------------------------------
class LiveServer:
    """`vidseq serve RUN` in a fresh process on 127.0.0.1 at a free port; its log in `log`."""

    def __init__(self, run: Path, log: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url, self.log = f"http://127.0.0.1:{self.port}/", log
        self.command = [
            sys.executable,
            "-m",
            "vidseq.cli",
            "serve",
            str(run),
            "--port",
            str(self.port),
            "--max-upload-mb",
            str(LIMIT_MB),
        ]

    def __enter__(self) -> "LiveServer":
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )
        return self

    def ready(self) -> "LiveServer":
        """Wait until the server answers (it loads TensorFlow and the model first)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "api/info", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"vidseq serve did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> tuple[int, str]:
        """Ctrl+C, as a person stops it: (exit code, its whole log)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(), self.log.read_text()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture(scope="module")
def live(run_dir, tmp_path_factory):
    """The server process, started (not yet ready): `client` asks for it early, so that it loads
    while the in-process tests run."""
    with LiveServer(run_dir, tmp_path_factory.mktemp("live") / "serve.log") as server:
        yield server


def test_the_real_server_answers_413_before_the_body_has_arrived(live):
    live.ready()
    chunks, kind = _multipart(2**16, 24)
    with socket.create_connection(("127.0.0.1", live.port), timeout=20) as s:
        s.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: " + kind + b"\r\n\r\n"
        )
        for chunk in chunks[:-1]:  # the closing part and the last chunk are never sent
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(4096) or pytest.fail(f"the server closed without an answer: {reply!r}")
    assert (
        reply.startswith(b"HTTP/1.1 413 ") and b"x-content-type-options: nosniff" in reply.lower()
    )


def _launch(playwright, profile: Path):
    """Debian's Chromium, headless, with a fresh profile (skips only where it cannot start)."""
    from playwright.sync_api import Error

    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed (make test installs Debian's chromium)")
    try:
        return playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            viewport={"width": 820, "height": 900},
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
    except Error as e:
        pytest.skip(f"Chromium cannot be launched here: {str(e).splitlines()[0]}")


def test_the_page_in_headless_chromium_shows_vidseq_predicts_top_class(
    live, run_dir, long_video, tmp_path
):
    from playwright.sync_api import sync_playwright

    expected = predict_files(run_dir, [long_video])[0]["top"]
    classes = RunDir(run_dir).classes()
    requests, problems = [], []
    with sync_playwright() as p:
        browser = _launch(p, tmp_path / "profile")
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(live.ready().url)
            page.wait_for_function(
                "document.getElementById('run-info').textContent.startsWith('run ')"
            )
            page.set_input_files("#file-input", str(long_video))
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            names = page.locator("#bars .bar .name").all_inner_texts()
            values = [float(v) for v in page.locator("#bars .bar .value").all_inner_texts()]
            frames = page.locator("#frames img").count()
            lines = page.locator("#timeline polyline").count()
            shown_file = page.inner_text("#result-file")
            page.screenshot(path=str(tmp_path / "serve.png"), full_page=True)
            if os.environ.get("VIDSEQ_SCREENSHOT"):
                page.screenshot(path=os.environ["VIDSEQ_SCREENSHOT"], full_page=True)
        finally:
            browser.close()
    assert names[0] == expected[0]["class"] and names[:3] == [t["class"] for t in expected]
    assert values[0] == pytest.approx(expected[0]["probability"], abs=1e-3)
    assert shown_file == "long.mp4" and frames == 4 and lines == len(classes) and not problems
    assert all(u.startswith(live.url) or u.startswith("data:") for u in requests), (
        requests
    )  # nothing remote
    assert (tmp_path / "serve.png").stat().st_size > 10_000


def test_the_real_server_stops_on_ctrl_c_with_no_traceback_in_its_log(live):
    body = b"".join(_multipart(64, 1)[0]).replace(b"\0" * 64, b"not a video\n" * 5)
    request = urllib.request.Request(
        live.ready().url + "api/predict",
        data=body,
        method="POST",
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 415 and "Traceback" not in refused.value.read().decode()
    code, log = live.stop()
    assert code == 0 and log.rstrip().endswith("server stopped"), log[-2000:]
    assert (
        "Traceback" not in log and "refused an upload (415)" in log and "POST /api/predict" in log
    )

"""`vidseq serve RUN`: a local web page and JSON API to try a trained run (Starlette on uvicorn).

POST /api/predict (multipart field `file`) answers like a line of `vidseq predict --json`, with
`?timeline=1&window=S` a timeline and with `?frames=1` the frames the model saw; GET /api/info
describes the run; GET / is the page. Uploads are streamed into a private temporary folder made at
start-up (413 past the limit, while they arrive), probed (415 for what PyAV cannot read as this
run's media, 422 past a decode limit), predicted one at a time in a worker thread with a few
waiting (503 beyond), and deleted after each request. Errors are `{"error": "<sentence>"}`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import AsyncIterator

from vidseq.deploy import require_serve

require_serve()

import anyio  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.datastructures import MutableHeaders  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from vidseq.deploy.inference import Predictor  # noqa: E402
from vidseq.deploy.upload import ServeError, receive_upload  # noqa: E402
from vidseq.errors import VidseqError  # noqa: E402

log = logging.getLogger("vidseq")
UPLOAD_SECONDS = 600
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


class SecurityHeaders:
    """ASGI middleware: HEADERS on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Gate:
    """Admission: at most one prediction running and `waiting` more requests admitted; the rest refused."""

    def __init__(self, waiting: int):
        self.capacity, self.admitted = 1 + waiting, 0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a place for one request (503 when every place is taken)."""
        if self.admitted >= self.capacity:
            raise ServeError(
                503,
                f"the server is busy ({self.capacity} requests running or waiting); "
                "try again in a moment.",
            )
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1


class Service:
    """The endpoints, around one Predictor, a private scratch folder and the limits."""

    def __init__(self, predictor: Predictor, scratch: Path, max_upload_bytes: int, waiting: int):
        self.predictor, self.scratch, self.limit, self.gate = (
            predictor,
            scratch,
            max_upload_bytes,
            Gate(waiting),
        )

    async def page(self, request: Request) -> Response:
        """The page, or one of its static files."""
        name = request.path_params.get("name", "index.html")
        if name not in STATIC:
            raise HTTPException(404)
        return Response(
            resources.files("vidseq.deploy").joinpath("static", name).read_bytes(),
            media_type=STATIC[name],
        )

    async def info(self, request: Request) -> JSONResponse:
        """The run's model, classes and clips, and the upload limit."""
        return JSONResponse({**self.predictor.info(), "max_upload_mb": self.limit / 2**20})

    async def predict(self, request: Request) -> JSONResponse:
        """One upload's prediction, or `{"error"}` with its status; nothing escapes as a traceback."""
        try:
            async with self.gate.admit():
                options = self._options(request)
                folder = Path(tempfile.mkdtemp(prefix="request-", dir=self.scratch))
                try:
                    return JSONResponse(await self._predict(request, folder, options))
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
        except ServeError as e:
            log.info("refused an upload (%d): %s", e.status, e.sentence)
            return error(e.status, e.sentence)
        except Exception as e:  # a failure of the server, not of the upload: one line, no traceback
            log.error("prediction failed: %s: %s", type(e).__name__, e)
            return error(500, "the server failed on this file; its log says why.")

    async def _predict(self, request: Request, folder: Path, options: dict) -> dict:
        upload = folder / "upload"
        try:
            with anyio.fail_after(
                UPLOAD_SECONDS
            ):  # a client that trickles its body keeps no place for long
                filename = await receive_upload(request, upload, self.limit)
        except TimeoutError:
            raise ServeError(
                408, f"the upload took over {UPLOAD_SECONDS} s; send it again on a faster link."
            ) from None
        media = await run_in_threadpool(self.predictor.media_suffix, upload, filename)
        path = upload.rename(folder / f"upload{media}")
        return await run_in_threadpool(self.predictor.predict, path, filename, **options)

    def _options(self, request: Request) -> dict:
        """top (as many as there are classes at most), window (when a timeline is asked) and frames
        from the query (400 for a bad value)."""
        query = request.query_params
        try:
            top = int(query.get("top", 3))
            window = float(query.get("window", 2.0))
            timeline, frames = (_flag(query.get(k, "0")) for k in ("timeline", "frames"))
        except ValueError:
            raise ServeError(
                400,
                "query values must be top=<int>, window=<seconds>, timeline=0|1 and frames=0|1.",
            ) from None
        if top < 1 or not 0.1 <= window <= 3600:
            raise ServeError(400, "top must be at least 1 and window 0.1 to 3600 seconds.")
        if timeline and self.predictor.audio:
            raise ServeError(
                400,
                "a timeline needs a video run, and this run classifies audio; ask without timeline=1.",
            )
        return {"top": top, "window": window if timeline else None, "frames": frames}


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise ValueError(value)


def error(status: int, sentence: str) -> JSONResponse:
    """An error response: `{"error": sentence}` with `status`."""
    headers = {"Retry-After": "2"} if status == 503 else None
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return error(
        exc.status_code,
        {
            404: "there is nothing at this address; the page is at /.",
            405: "this address does not take that method.",
        }.get(exc.status_code, str(exc.detail)),
    )


def create_app(
    run: str | os.PathLike, max_upload_mb: float = 200, waiting: int = 2, unsafe: bool = False
) -> Starlette:
    """The ASGI app serving `run` (its model loaded now, once): uploads up to `max_upload_mb` MB,
    one prediction at a time and `waiting` more requests admitted."""
    predictor = Predictor(run, unsafe)
    scratch = Path(tempfile.mkdtemp(prefix="vidseq-serve-"))
    service = Service(predictor, scratch, int(max_upload_mb * 2**20), waiting)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    routes = [
        Route("/", service.page),
        Route("/static/{name}", service.page),
        Route("/api/info", service.info),
        Route("/api/predict", service.predict, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.service = service
    return app


def serve(
    run: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 200
) -> None:
    """Serve `run` at http://host:port/ until interrupted (127.0.0.1: this machine only)."""
    import uvicorn

    app = create_app(run, max_upload_mb)
    if not _loopback(host):
        log.warning(
            "serving on %s: other machines can reach this server and upload files to it", host
        )
    log.info("serving %s at http://%s:%d/ (Ctrl+C stops)", run, host, port)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level="info", server_header=False
    )
    try:
        uvicorn.Server(
            config
        ).run()  # its log records go to the "uvicorn" loggers, configured by the caller
    except SystemExit:  # uvicorn's answer to an address it cannot bind (it has logged why)
        raise VidseqError(
            f"cannot listen on {host}:{port} (in use or not allowed); choose another --port or --host."
        ) from None
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has shut down, and passes the signal on
        log.info("stopped serving %s", run)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"

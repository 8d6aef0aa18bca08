"""deploy: a trained run outside training — exported models (ONNX, TFLite, SavedModel) and `vidseq serve`."""

from __future__ import annotations

from importlib.util import find_spec

from vidseq.errors import VidseqError

SERVE_PACKAGES = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "python_multipart": "python-multipart",
}  # module: pip name


def require_serve() -> None:
    """Raise a VidseqError naming the `serve` extra when a package `vidseq serve` needs is missing."""
    missing = [pip for module, pip in SERVE_PACKAGES.items() if find_spec(module) is None]
    if missing:
        raise VidseqError(
            f"vidseq serve needs {', '.join(missing)}, which is not installed; "
            "install it with pip install 'vidseq[serve]'."
        )

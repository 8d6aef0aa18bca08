"""The command line's options: one sub-command each, the `train` options generated from RunConfig."""

from __future__ import annotations

import argparse
import dataclasses
import typing

import vidseq.cli.commands as commands
from vidseq.cli.commands import NOT_FLAGS
from vidseq.config import RunConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidseq", description="Train and use spatiotemporal video classifiers."
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="train + evaluate on the embedded motion dataset")
    demo.add_argument(
        "--out", default="demo-run", help="folder for the dataset and both runs (default: demo-run)"
    )
    demo.add_argument(
        "--per-class", type=int, default=150, help="videos per class to generate (default: 150)"
    )
    demo.add_argument("--epochs", type=int, default=15, help="epochs per model (default: 15)")
    demo.set_defaults(handler=commands.demo)

    train = sub.add_parser("train", help="train a model on a folder, {classname} glob or CSV")
    train.add_argument(
        "data", help="folder (one sub-folder per class), glob with {classname}, or CSV"
    )
    train.add_argument("--out", required=True, help="run directory to create")
    train.add_argument("--config", help="YAML file of settings; flags override it")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out with its saved settings",
    )
    train.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="zoo option such as width=0.25, units=128, weights=PATH, temporal=attention (repeatable)",
    )
    _add_config_options(train)
    train.set_defaults(handler=commands.train)

    feats = sub.add_parser(
        "features", help="fill the disk cache with a frozen CNN's features, as train would"
    )
    feats.add_argument(
        "data", help="folder (one sub-folder per class), glob with {classname}, or CSV"
    )
    feats.add_argument("--config", help="YAML file of settings; flags override it")
    feats.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="zoo option such as weights=PATH, units=128 (repeatable)",
    )
    _add_ray_option(
        feats,
        "compute the features as tasks on this Ray cluster (--cache-dir on a filesystem all nodes share)",
    )
    _add_config_options(feats)
    feats.set_defaults(handler=commands.features, out=None, resume=False)

    ev = sub.add_parser("evaluate", help="metrics of a run on its test split or other data")
    ev.add_argument("run", help="a finished run directory")
    ev.add_argument(
        "--data", help="evaluate on this folder / glob / CSV instead of the saved test split"
    )
    ev.add_argument(
        "--clips", type=int, default=1, help="clips per video, softmax averaged (default: 1)"
    )
    ev.add_argument(
        "--unsafe",
        action="store_true",
        help="allow a model whose Lambda layers run code (trusted files only)",
    )
    _add_ray_option(
        ev,
        "compute the videos' predictions as tasks on this Ray cluster (run and videos on a filesystem "
        "all nodes share)",
    )
    ev.set_defaults(handler=commands.evaluate)

    pr = sub.add_parser("predict", help="top-3 classes for new videos")
    pr.add_argument("run", help="a finished run directory")
    pr.add_argument("files", nargs="+", help="video or audio files, or folders of them")
    pr.add_argument(
        "--clips", type=int, default=1, help="clips per file, softmax averaged (default: 1)"
    )
    pr.add_argument("--json", action="store_true", help="print JSON lines")
    pr.add_argument(
        "--timeline", metavar="PNG", help="slide windows over the (single) video and plot to PNG"
    )
    pr.add_argument(
        "--window", type=float, default=2.0, help="timeline window in seconds (default: 2)"
    )
    pr.add_argument(
        "--unsafe",
        action="store_true",
        help="allow a model whose Lambda layers run code (trusted files only)",
    )
    _add_ray_option(
        pr,
        "predict the files as tasks on this Ray cluster (run and files on a filesystem all nodes share)",
    )
    pr.set_defaults(handler=commands.predict)

    ex = sub.add_parser(
        "export", help="a run's model as ONNX, TFLite or a SavedModel, checked against Keras"
    )
    ex.add_argument("run", help="a finished run directory")
    ex.add_argument("--format", required=True, help="onnx, saved_model or tflite")
    ex.add_argument(
        "--out", required=True, help="new folder for the artifact, classes.json and preprocess.json"
    )
    ex.add_argument(
        "--unsafe",
        action="store_true",
        help="allow a model whose Lambda layers run code (trusted files only)",
    )
    ex.set_defaults(handler=commands.export)

    srv = sub.add_parser(
        "serve", help="a local web page and JSON API to try a run on uploaded files"
    )
    srv.add_argument("run", help="a finished run directory")
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    srv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    srv.add_argument(
        "--max-upload-mb",
        type=float,
        default=200,
        help="largest upload in MB, larger ones get 413 (default: 200)",
    )
    srv.set_defaults(handler=commands.serve)

    show = sub.add_parser("show", help="draw sampled clips as a picture")
    show.add_argument("data", help="folder, {classname} glob or CSV")
    show.add_argument("--out", default="grid.png", help="PNG to write (default: grid.png)")
    show.add_argument("--clips", type=int, default=6, help="clips to draw (default: 6)")
    show.add_argument("--frames", type=int, default=8, help="frames per clip (default: 8)")
    show.add_argument("--size", default="112", help="frame size S or HxW (default: 112)")
    show.add_argument(
        "--augment",
        nargs="?",
        const="standard",
        default=None,
        help="draw one clip augmented several times (preset, default standard)",
    )
    show.add_argument("--seed", type=int, default=0, help="which clips are picked (default: 0)")
    show.set_defaults(handler=commands.show)

    prep = sub.add_parser(
        "prepare", help="re-encode a dataset once: short side, constant fps, short GOP"
    )
    prep.add_argument("src", help="dataset folder")
    prep.add_argument("dst", help="output folder (same layout)")
    prep.add_argument("--size", type=int, default=160, help="short side in pixels (default: 160)")
    prep.add_argument("--fps", type=float, default=15, help="frame rate (default: 15)")
    prep.add_argument("--gop", type=int, default=8, help="keyframe interval in frames (default: 8)")
    prep.add_argument(
        "--workers", type=int, default=None, help="parallel files (default: all cores)"
    )
    _add_ray_option(
        prep,
        "re-encode the files as tasks on this Ray cluster (DST on a filesystem all nodes share)",
    )
    prep.set_defaults(handler=commands.prepare)

    models = sub.add_parser("models", help="list the zoo")
    models.set_defaults(handler=commands.models)
    return p


def _add_ray_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help=f"{what}: host:port of its head, auto (the one started on this machine) or local "
        "(a new one here); needs pip install 'vidseq[ray]'",
    )


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per RunConfig field, with its help, default and allowed values; unset options are None."""
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if f.name in NOT_FLAGS:
            continue
        names = [f.metadata["flag"]] if f.metadata["flag"] else []
        names.append("--" + f.name.replace("_", "-"))
        default = f.default if f.default is not dataclasses.MISSING else None
        text = f.metadata["help"] + ("" if default is None else f" (default: {default})")
        kind = next(
            t for t in (typing.get_args(hints[f.name]) or (hints[f.name],)) if t is not type(None)
        )
        if kind is bool:
            parser.add_argument(
                *names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text
            )
            continue
        choices = f.metadata[
            "choices"
        ]  # listed, not enforced by argparse: RunConfig's check says it in one sentence
        metavar = "{" + ",".join(choices()) + "}" if choices else f.name.upper()
        parser.add_argument(
            *names, dest=f.name, type=kind, default=None, help=text, metavar=metavar
        )

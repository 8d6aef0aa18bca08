"""The `vidseq` command: demo, train, evaluate, predict, export, serve, show, prepare, models.

The `train` options are generated from RunConfig's fields (help, defaults, allowed values), and
every command imports TensorFlow/Keras only when it runs, so `vidseq --help` and `vidseq models`
answer at once. Exit codes: 0 on success, 2 on a user error (one sentence on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import typing
from pathlib import Path

import yaml

from vidseq.config import RunConfig
from vidseq.errors import VidseqError

_NOT_FLAGS = ("data", "model_options")  # the positional DATA and --model-option


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns 0 on success, 2 on a user error (one sentence on stderr)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    try:
        summary = args.handler(args)
    except VidseqError as e:
        print(f"vidseq: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidseq: interrupted; `vidseq train ... --resume` continues a training run.", file=sys.stderr)
        return 130
    print(summary)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidseq", description="Train and use spatiotemporal video classifiers.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="train + evaluate on the embedded motion dataset")
    demo.add_argument("--out", default="demo-run", help="folder for the dataset and both runs (default: demo-run)")
    demo.add_argument("--per-class", type=int, default=150, help="videos per class to generate (default: 150)")
    demo.add_argument("--epochs", type=int, default=15, help="epochs per model (default: 15)")
    demo.set_defaults(handler=_demo)

    train = sub.add_parser("train", help="train a model on a folder, {classname} glob or CSV")
    train.add_argument("data", help="folder (one sub-folder per class), glob with {classname}, or CSV")
    train.add_argument("--out", required=True, help="run directory to create")
    train.add_argument("--config", help="YAML file of settings; flags override it")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out with its saved settings")
    train.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                       help="zoo option such as width=0.25, units=128, weights=PATH, temporal=attention (repeatable)")
    _add_config_options(train)
    train.set_defaults(handler=_train)

    feats = sub.add_parser("features", help="fill the disk cache with a frozen CNN's features, as train would")
    feats.add_argument("data", help="folder (one sub-folder per class), glob with {classname}, or CSV")
    feats.add_argument("--config", help="YAML file of settings; flags override it")
    feats.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                       help="zoo option such as weights=PATH, units=128 (repeatable)")
    _add_ray_option(feats, "compute the features as tasks on this Ray cluster (--cache-dir on a filesystem all nodes share)")
    _add_config_options(feats)
    feats.set_defaults(handler=_features, out=None, resume=False)

    ev = sub.add_parser("evaluate", help="metrics of a run on its test split or other data")
    ev.add_argument("run", help="a finished run directory")
    ev.add_argument("--data", help="evaluate on this folder / glob / CSV instead of the saved test split")
    ev.add_argument("--clips", type=int, default=1, help="clips per video, softmax averaged (default: 1)")
    ev.add_argument("--unsafe", action="store_true", help="allow a model whose Lambda layers run code (trusted files only)")
    ev.set_defaults(handler=_evaluate)

    pr = sub.add_parser("predict", help="top-3 classes for new videos")
    pr.add_argument("run", help="a finished run directory")
    pr.add_argument("files", nargs="+", help="video or audio files, or folders of them")
    pr.add_argument("--clips", type=int, default=1, help="clips per file, softmax averaged (default: 1)")
    pr.add_argument("--json", action="store_true", help="print JSON lines")
    pr.add_argument("--timeline", metavar="PNG", help="slide windows over the (single) video and plot to PNG")
    pr.add_argument("--window", type=float, default=2.0, help="timeline window in seconds (default: 2)")
    pr.add_argument("--unsafe", action="store_true", help="allow a model whose Lambda layers run code (trusted files only)")
    _add_ray_option(pr, "predict the files as tasks on this Ray cluster (run and files on a filesystem all nodes share)")
    pr.set_defaults(handler=_predict)

    ex = sub.add_parser("export", help="a run's model as ONNX, TFLite or a SavedModel, checked against Keras")
    ex.add_argument("run", help="a finished run directory")
    ex.add_argument("--format", required=True, help="onnx, saved_model or tflite")
    ex.add_argument("--out", required=True, help="new folder for the artifact, classes.json and preprocess.json")
    ex.add_argument("--unsafe", action="store_true", help="allow a model whose Lambda layers run code (trusted files only)")
    ex.set_defaults(handler=_export)

    srv = sub.add_parser("serve", help="a local web page and JSON API to try a run on uploaded files")
    srv.add_argument("run", help="a finished run directory")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    srv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    srv.add_argument("--max-upload-mb", type=float, default=200, help="largest upload in MB, larger ones get 413 (default: 200)")
    srv.set_defaults(handler=_serve)

    show = sub.add_parser("show", help="draw sampled clips as a picture")
    show.add_argument("data", help="folder, {classname} glob or CSV")
    show.add_argument("--out", default="grid.png", help="PNG to write (default: grid.png)")
    show.add_argument("--clips", type=int, default=6, help="clips to draw (default: 6)")
    show.add_argument("--frames", type=int, default=8, help="frames per clip (default: 8)")
    show.add_argument("--size", default="112", help="frame size S or HxW (default: 112)")
    show.add_argument("--augment", nargs="?", const="standard", default=None,
                      help="draw one clip augmented several times (preset, default standard)")
    show.add_argument("--seed", type=int, default=0, help="which clips are picked (default: 0)")
    show.set_defaults(handler=_show)

    prep = sub.add_parser("prepare", help="re-encode a dataset once: short side, constant fps, short GOP")
    prep.add_argument("src", help="dataset folder")
    prep.add_argument("dst", help="output folder (same layout)")
    prep.add_argument("--size", type=int, default=160, help="short side in pixels (default: 160)")
    prep.add_argument("--fps", type=float, default=15, help="frame rate (default: 15)")
    prep.add_argument("--gop", type=int, default=8, help="keyframe interval in frames (default: 8)")
    prep.add_argument("--workers", type=int, default=None, help="parallel files (default: all cores)")
    _add_ray_option(prep, "re-encode the files as tasks on this Ray cluster (DST on a filesystem all nodes share)")
    prep.set_defaults(handler=_prepare)

    models = sub.add_parser("models", help="list the zoo")
    models.set_defaults(handler=_models)
    return p


def _add_ray_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help=f"{what}: host:port of its head, auto (the one started on this machine) or local "
                             "(a new one here); needs pip install 'vidseq[ray]'")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per RunConfig field, with its help, default and allowed values; unset options are None."""
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if f.name in _NOT_FLAGS:
            continue
        names = [f.metadata["flag"]] if f.metadata["flag"] else []
        names.append("--" + f.name.replace("_", "-"))
        default = f.default if f.default is not dataclasses.MISSING else None
        text = f.metadata["help"] + ("" if default is None else f" (default: {default})")
        kind = next(t for t in (typing.get_args(hints[f.name]) or (hints[f.name],)) if t is not type(None))
        if kind is bool:
            parser.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        choices = f.metadata["choices"]  # listed, not enforced by argparse: RunConfig's check says it in one sentence
        metavar = "{" + ",".join(choices()) + "}" if choices else f.name.upper()
        parser.add_argument(*names, dest=f.name, type=kind, default=None, help=text, metavar=metavar)


def _train_config(args) -> RunConfig:
    """The run's settings: the saved ones when resuming (else --config's), with the options given."""
    saved = Path(args.out) / "config.yaml" if args.resume else None
    if saved is not None and saved.is_file():
        base = dataclasses.asdict(RunConfig.load(saved))
    else:
        base = dataclasses.asdict(RunConfig.load(args.config)) if args.config else {}
    base["data"] = args.data
    for f in dataclasses.fields(RunConfig):
        value = getattr(args, f.name, None)
        if f.name not in _NOT_FLAGS and value is not None:
            base[f.name] = value
    options = dict(base.get("model_options") or {})
    for pair in args.model_option:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise VidseqError(f"--model-option {pair!r} must look like key=value (e.g. width=0.25).")
        options[key.strip()] = yaml.safe_load(value)
    base["model_options"] = options
    return RunConfig.from_dict(base, "command line")


def _train(args) -> str:
    cfg = _train_config(args)
    if not Path(cfg.data).exists() and "{classname}" not in cfg.data:
        raise VidseqError(f"data {cfg.data} does not exist; give a folder, a {{classname}} glob or a CSV.")
    from vidseq.scale import distributed

    if not distributed.requested():
        return _train_in(cfg, args)
    try:
        return _train_in(cfg, args, distributed.join())
    except (VidseqError, KeyboardInterrupt) as e:
        distributed.abandon(e if isinstance(e, VidseqError) else "interrupted; start all processes again with --resume.")


def _train_in(cfg: RunConfig, args, processes=None) -> str:
    from vidseq.run.evaluate import metrics_table
    from vidseq.run.train import train

    result = train(cfg, args.out, resume=args.resume, processes=processes)
    if processes is not None and not processes.writer:
        return f"process {processes.index} of {processes.count}: trained to epoch {result.epochs} (process 0 wrote the run)"
    if result.metrics is None:
        return f"trained {result.epochs} epochs in {result.seconds:.0f}s into {result.run} (no test split)"
    print(metrics_table(result.metrics))
    return f"test accuracy {result.metrics['accuracy']:.3f} (n={result.metrics['n']})"


def _features(args) -> str:
    cfg = _train_config(args)
    if args.ray:
        from vidseq.scale.features import features_on_ray

        done = features_on_ray(cfg, args.ray)
    else:
        from vidseq.run.train import warm_features

        done = warm_features(cfg)
    for path, reason in done["failed"].items():
        print(f"{path}: failed: {reason}")
    return (f"features of {done['videos']} video(s) in {cfg.cache_dir} ({done['computed']} frames computed in this "
            f"process, the rest cached), {len(done['failed'])} failed")


def _evaluate(args) -> str:
    from vidseq.run.evaluate import evaluate_run, metrics_table

    metrics = evaluate_run(args.run, data=args.data, clips=args.clips, unsafe=args.unsafe)
    print(metrics_table(metrics))
    return f"test accuracy {metrics['accuracy']:.3f} (n={metrics['n']})"


def _predict(args) -> str:
    from vidseq.run.predict import predict_files, predict_timeline

    if args.timeline:
        if args.ray:
            raise VidseqError("--timeline slides over one video in this process; drop --ray.")
        if len(args.files) != 1:
            raise VidseqError("--timeline takes exactly one video file.")
        times, _ = predict_timeline(args.run, args.files[0], args.timeline, window=args.window, unsafe=args.unsafe)
        return f"wrote {args.timeline} ({len(times)} windows)"
    if args.ray:
        from vidseq.scale.predict import predict_on_ray

        results = predict_on_ray(args.run, args.files, args.ray, clips=args.clips, unsafe=args.unsafe)
    else:
        results = predict_files(args.run, args.files, clips=args.clips, unsafe=args.unsafe)
    for r in results:
        if args.json:
            print(json.dumps(r))
        elif "error" in r:
            print(f"{r['file']}: error: {r['error']}")
        else:
            print(f"{r['file']}: " + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"]))
    failed = sum("error" in r for r in results)
    return f"predicted {len(results) - failed} file(s)" + (f", {failed} failed" if failed else "")


def _export(args) -> str:
    from vidseq.deploy.export import export_run

    r = export_run(args.run, args.format, args.out, unsafe=args.unsafe)
    return (f"exported {args.run} as {r.format} to {r.artifact} ({r.bytes / 1e6:.2f} MB, {r.seconds:.1f} s; "
            f"max |Δp| {r.max_abs_diff:.1e} against Keras)")


def _serve(args) -> str:
    from vidseq.deploy import require_serve

    require_serve()
    from vidseq.deploy.serve import serve

    if args.max_upload_mb <= 0 or not 0 < args.port < 65536:
        raise VidseqError("--max-upload-mb must be positive and --port between 1 and 65535.")
    serve(args.run, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    return "server stopped"


def _show(args) -> str:
    from vidseq.run.show import show_clips

    path = show_clips(args.data, args.out, clips=args.clips, frames=args.frames, size=args.size,
                      augment=args.augment, seed=args.seed)
    return f"wrote {path}"


def _prepare(args) -> str:
    from vidseq.data.prepare import prepare

    if args.ray:
        from vidseq.scale.prepare import prepare_on_ray

        r = prepare_on_ray(args.src, args.dst, args.ray, size=args.size, fps=args.fps, gop=args.gop)
    else:
        r = prepare(args.src, args.dst, size=args.size, fps=args.fps, gop=args.gop, workers=args.workers)
    for path, reason in r.failed.items():
        print(f"{path}: failed: {reason}")
    mb = 1e6
    return (f"prepared {r.converted} video(s), skipped {r.skipped} already done, copied {r.copied} other file(s), "
            f"{len(r.failed)} failed: {r.bytes_before / mb:.1f} MB -> {r.bytes_after / mb:.1f} MB")


def _models(args) -> str:
    from vidseq.models.registry import get_spec, list_models

    names = list_models()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {get_spec(name).description}")
    return f"{len(names)} models"


def _demo(args) -> str:
    from vidseq.run.demo import run_demo

    results = run_demo(args.out, per_class=args.per_class, epochs=args.epochs)
    return " | ".join(f"{name} test accuracy {m['accuracy']:.3f} (n={m['n']})" for name, m in results.items())


if __name__ == "__main__":
    sys.exit(main())

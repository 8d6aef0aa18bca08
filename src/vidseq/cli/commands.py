"""What each sub-command does: its handler takes the parsed options and returns the summary line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from vidseq.config import RunConfig
from vidseq.errors import VidseqError

NOT_FLAGS = ("data", "model_options")  # the positional DATA and --model-option


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
        if f.name not in NOT_FLAGS and value is not None:
            base[f.name] = value
    options = dict(base.get("model_options") or {})
    for pair in args.model_option:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise VidseqError(
                f"--model-option {pair!r} must look like key=value (e.g. width=0.25)."
            )
        options[key.strip()] = yaml.safe_load(value)
    base["model_options"] = options
    return RunConfig.from_dict(base, "command line")


def train(args) -> str:
    cfg = _train_config(args)
    if not Path(cfg.data).exists() and "{classname}" not in cfg.data:
        raise VidseqError(
            f"data {cfg.data} does not exist; give a folder, a {{classname}} glob or a CSV."
        )
    from vidseq.scale import distributed

    if not distributed.requested():
        return _train_in(cfg, args)
    try:
        return _train_in(cfg, args, distributed.join())
    except (VidseqError, KeyboardInterrupt) as e:
        distributed.abandon(
            e
            if isinstance(e, VidseqError)
            else "interrupted; start all processes again with --resume."
        )


def _train_in(cfg: RunConfig, args, processes=None) -> str:
    from vidseq.run.evaluate import metrics_table
    from vidseq.run.train import train

    result = train(cfg, args.out, resume=args.resume, processes=processes)
    if processes is not None and not processes.writer:
        return (
            f"process {processes.index} of {processes.count}: trained to epoch {result.epochs} "
            "(process 0 wrote the run)"
        )
    if result.metrics is None:
        return f"trained {result.epochs} epochs in {result.seconds:.0f}s into {result.run} (no test split)"
    print(metrics_table(result.metrics))
    return f"test accuracy {result.metrics['accuracy']:.3f} (n={result.metrics['n']})"


def features(args) -> str:
    cfg = _train_config(args)
    if args.ray:
        from vidseq.scale.features import features_on_ray

        done = features_on_ray(cfg, args.ray)
    else:
        from vidseq.run.warm import warm_features

        done = warm_features(cfg)
    for path, reason in done["failed"].items():
        print(f"{path}: failed: {reason}")
    return (
        f"features of {done['videos']} video(s) in {cfg.cache_dir} ({done['computed']} frames computed in this "
        f"process, the rest cached), {len(done['failed'])} failed"
    )


def evaluate(args) -> str:
    from vidseq.run.evaluate import evaluate_run, metrics_table

    if args.ray:
        from vidseq.scale.evaluate import evaluate_on_ray

        metrics = evaluate_on_ray(args.run, args.ray, args.data, args.clips, args.unsafe)
    else:
        metrics = evaluate_run(args.run, data=args.data, clips=args.clips, unsafe=args.unsafe)
    print(metrics_table(metrics))
    return f"test accuracy {metrics['accuracy']:.3f} (n={metrics['n']})"


def predict(args) -> str:
    from vidseq.run.predict import predict_files, predict_timeline

    if args.timeline:
        if args.ray:
            raise VidseqError("--timeline slides over one video in this process; drop --ray.")
        if len(args.files) != 1:
            raise VidseqError("--timeline takes exactly one video file.")
        times, _ = predict_timeline(
            args.run, args.files[0], args.timeline, window=args.window, unsafe=args.unsafe
        )
        return f"wrote {args.timeline} ({len(times)} windows)"
    if args.ray:
        from vidseq.scale.predict import predict_on_ray

        results = predict_on_ray(
            args.run, args.files, args.ray, clips=args.clips, unsafe=args.unsafe
        )
    else:
        results = predict_files(args.run, args.files, clips=args.clips, unsafe=args.unsafe)
    for r in results:
        if args.json:
            print(json.dumps(r))
        elif "error" in r:
            print(f"{r['file']}: error: {r['error']}")
        else:
            print(
                f"{r['file']}: "
                + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
            )
    failed = sum("error" in r for r in results)
    return f"predicted {len(results) - failed} file(s)" + (f", {failed} failed" if failed else "")


def export(args) -> str:
    from vidseq.deploy.export import export_run

    r = export_run(args.run, args.format, args.out, unsafe=args.unsafe)
    return (
        f"exported {args.run} as {r.format} to {r.artifact} ({r.bytes / 1e6:.2f} MB, {r.seconds:.1f} s; "
        f"max |Δp| {r.max_abs_diff:.1e} against Keras)"
    )


def serve(args) -> str:
    from vidseq.deploy import require_serve

    require_serve()
    from vidseq.deploy.serve import serve

    if args.max_upload_mb <= 0 or not 0 < args.port < 65536:
        raise VidseqError("--max-upload-mb must be positive and --port between 1 and 65535.")
    serve(args.run, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    return "server stopped"


def show(args) -> str:
    from vidseq.run.show import show_clips

    path = show_clips(
        args.data,
        args.out,
        clips=args.clips,
        frames=args.frames,
        size=args.size,
        augment=args.augment,
        seed=args.seed,
    )
    return f"wrote {path}"


def prepare(args) -> str:
    from vidseq.data.prepare import prepare

    if args.ray:
        from vidseq.scale.prepare import prepare_on_ray

        r = prepare_on_ray(args.src, args.dst, args.ray, size=args.size, fps=args.fps, gop=args.gop)
    else:
        r = prepare(
            args.src, args.dst, size=args.size, fps=args.fps, gop=args.gop, workers=args.workers
        )
    for path, reason in r.failed.items():
        print(f"{path}: failed: {reason}")
    mb = 1e6
    return (
        f"prepared {r.converted} video(s), skipped {r.skipped} already done, copied {r.copied} other file(s), "
        f"{len(r.failed)} failed: {r.bytes_before / mb:.1f} MB -> {r.bytes_after / mb:.1f} MB"
    )


def models(args) -> str:
    from vidseq.models.registry import get_spec, list_models

    names = list_models()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {get_spec(name).description}")
    return f"{len(names)} models"


def demo(args) -> str:
    from vidseq.run.demo import run_demo

    results = run_demo(args.out, per_class=args.per_class, epochs=args.epochs)
    return " | ".join(
        f"{name} test accuracy {m['accuracy']:.3f} (n={m['n']})" for name, m in results.items()
    )

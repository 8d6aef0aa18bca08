"""Accuracy study: grouped k-fold cross-validation of zoo models on surv_fight (or any labelled folder).

    python benchmarks/study.py                 # ../shared/data/surv_fight, 5 grouped folds
    python benchmarks/study.py --quick         # smoke run: 2 folds, 1 epoch, 4 frames at 32×32
    python benchmarks/study.py --data DIR --groups CSV_OR_REGEX --models convnet-gru c3d

Every (model, fold) is one `vidseq.train` run from scratch: the test part is fold i, grouped by
the source video (`_meta/groups.csv`), and the validation part (for the best checkpoint and the
learning-rate schedule) is carved from the other folds, so nothing is chosen on a test fold.
Clips are centre-cropped and resized to one square size and sampled spread over each video's
duration, so the capture format cannot leak. Decoded frames are cached on disk once and shared by
all runs. Prints one row per model: mean ± std test accuracy over the folds, and wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import vidseq

SURV_FIGHT = Path(__file__).resolve().parents[2] / "shared" / "data" / "surv_fight"
MODELS = {  # name → model options: from scratch, CPU-sized
    "single-frame": {"width": 0.25, "head": [128]},
    "convnet-gru": {"width": 0.25, "head": [128]},
    "lrcn": {"width": 0.25, "units": 128},
    "convnet-transformer": {"width": 0.25},
    "c3d": {"width": 0.5},
    "two-stream": {"width": 0.25, "head": [128]},
}


def run_study(data: str, groups: str | None, models: list[str], folds: int, fold_ids: list[int], out: Path,
              **settings) -> dict[str, dict]:
    """Train and test every model on every fold; returns {model: {"accuracy": [...], "seconds": [...]}}."""
    results: dict[str, dict] = {}
    for name in models:
        row = results.setdefault(name, {"accuracy": [], "seconds": []})
        for fold in fold_ids:
            run = out / f"{name}-fold{fold}"
            result = vidseq.train(data, run, model=name, model_options=MODELS.get(name, {}), groups=groups,
                                  folds=folds, fold=fold, verbose=0, **settings)
            row["accuracy"].append(result.metrics["accuracy"])
            row["seconds"].append(result.seconds)
            print(f"  {name:22s} fold {fold}: test accuracy {result.metrics['accuracy']:.3f} "
                  f"(n={result.metrics['n']}), {result.seconds:.0f} s", flush=True)
    return results


def table(results: dict[str, dict]) -> str:
    """Markdown table: model, mean ± std accuracy, the folds, minutes per fold."""
    lines = ["| model | accuracy (mean ± std) | per fold | min per fold |", "|---|---|---|---|"]
    for name, row in results.items():
        acc = row["accuracy"]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        folds = " ".join(f"{a:.2f}" for a in acc)
        lines.append(f"| {name} | {statistics.mean(acc):.3f} ± {std:.3f} | {folds} | {statistics.mean(row['seconds']) / 60:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the study, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SURV_FIGHT))
    parser.add_argument("--groups", default=None, help="default: DATA/_meta/groups.csv when present")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="64")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=None, help="run folders and results.json (default: a new temporary folder)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 folds, 1 epoch, 4 frames at 32×32")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data} is not a folder; pass --data (surv_fight lives in ../shared/data).")
    groups = args.groups or (str(Path(args.data) / "_meta" / "groups.csv")
                             if (Path(args.data) / "_meta" / "groups.csv").is_file() else None)
    fold_ids = list(range(2 if args.quick else args.folds))
    frames, size, epochs = (4, "32", 1) if args.quick else (args.frames, args.size, args.epochs)
    out = Path(args.out or tempfile.mkdtemp(prefix="vidseq-study-"))
    settings = dict(frames=frames, size=size, epochs=epochs, batch=8, val=0.15, seed=0, pool=3,
                    cache_dir=str(out / "frame-cache"))
    print(f"{args.data}: {len(fold_ids)} of {args.folds} grouped folds (groups {groups}), "
          f"{frames} frames at {size}², {epochs} epochs, batch 8; runs in {out}", flush=True)
    started = time.time()
    results = run_study(args.data, groups, args.models, args.folds, fold_ids, out, **settings)
    (out / "results.json").write_text(json.dumps({"settings": {**settings, "folds": args.folds}, "results": results}, indent=1))
    print(f"\n{table(results)}\n\ntotal {(time.time() - started) / 60:.1f} min; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()

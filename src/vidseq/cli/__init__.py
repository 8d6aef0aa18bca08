"""The `vidseq` command: demo, train, evaluate, predict, export, serve, show, prepare, models.

The `train` options are generated from RunConfig's fields (help, defaults, allowed values), and
every command imports TensorFlow/Keras only when it runs, so `vidseq --help` and `vidseq models`
answer at once. Exit codes: 0 on success, 2 on a user error (one sentence on stderr).
"""

from __future__ import annotations

import logging
import sys

from vidseq.cli.parser import parser
from vidseq.errors import VidseqError


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns 0 on success, 2 on a user error (one sentence on stderr)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parser().parse_args(argv)
    try:
        summary = args.handler(args)
    except VidseqError as e:
        print(f"vidseq: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "vidseq: interrupted; `vidseq train ... --resume` continues a training run.",
            file=sys.stderr,
        )
        return 130
    print(summary)
    return 0

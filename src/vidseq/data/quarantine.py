"""Quarantine: the one policy for files that cannot give their clips — logged once, listed, fatal past a fraction."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from vidseq.errors import VidseqError

log = logging.getLogger("vidseq")


@dataclass
class Report:
    """What a dataset noticed: files it quarantined (path → reason) and short videos."""

    quarantined: dict[str, str] = field(default_factory=dict)
    short: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines (empty when nothing happened)."""
        out = [f"quarantined {p}: {r}" for p, r in self.quarantined.items()]
        if self.short:
            out.append(
                f"{len(self.short)} video(s) had fewer frames than asked; their frames were repeated evenly"
            )
        return out


class Quarantine:
    """Files that failed (listed in `report`), out of `total`; more than `max_bad` of them is an error.

    The screen before training and every dataset use it, so a file is reported in one wording.
    The error is also kept in `failure`, because one raised in a loader thread reaches the caller
    of `fit` only as a backend's error (`run.train` raises this one instead).
    """

    def __init__(self, total: int, max_bad: float, report: Report | None = None):
        self.total, self.max_bad = total, max_bad
        self.report = report or Report()
        self.failure: VidseqError | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Picklable for process workers (a copy of the list; the lock is made anew)."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __contains__(self, path: str) -> bool:
        return path in self.report.quarantined

    def add(self, path: str, reason: str, check: bool = True) -> None:
        """Stop using `path`: log the reason once; raise when too many files have failed (unless
        `check=False`: the caller checks once all are in)."""
        with self._lock:
            if path in self.report.quarantined:
                return
            self.report.quarantined[path] = reason
            log.warning("quarantined %s: %s", path, reason)
            if check:
                self.check()

    def check(self) -> None:
        """Raise (and keep) a VidseqError listing the failed files when more than `max_bad` of them failed."""
        bad = self.report.quarantined
        if len(bad) > self.max_bad * self.total:
            listed = "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:5])
            self.fail(
                VidseqError(
                    f"{len(bad)} of {self.total} files failed to decode (more than max_bad={self.max_bad:.0%}): "
                    f"{listed}{' …' if len(bad) > 5 else ''}. Fix or remove them, or raise max_bad."
                )
            )

    def fail(self, error: VidseqError) -> None:
        """Keep `error` as the failure and raise it."""
        self.failure = error
        raise error

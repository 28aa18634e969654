"""Progress for long commands: a live line for a person at a terminal, two log lines otherwise.

A command that can run for more than a few seconds (``bench``, ``model``, ``corpus get``,
``demo``, ``synth --teacher-url``, ``train``) shows where it is, but only where someone watches:
a redrawn line on stderr when stderr is a TTY. In CI and pod logs a redrawn line is noise (and
``\\r`` turns into hundreds of lines), so there the same progress is one log record when it
starts and one when it ends. ``REPLYD_NO_PROGRESS=1`` (or ``replyd --no-progress``) turns the
live line off on a terminal too. Notes are step names and counts: never email text.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from types import TracebackType
from typing import TextIO

log = logging.getLogger("replyd.progress")
NO_PROGRESS_ENV = "REPLYD_NO_PROGRESS"
# Redraws closer together than this are skipped: a fast loop must not spend its time on stderr.
MIN_REDRAW_S = 0.1


def wanted(stream: TextIO | None = None) -> bool:
    """Whether a live progress display belongs on ``stream`` (default stderr): a TTY, and
    progress not switched off. Also what ``train`` passes to tqdm's ``disable``."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get(NO_PROGRESS_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Counts work done out of ``total`` (``advance``), or names the step now running
    (``step``). Use as a context manager so the line is finished and the end is logged."""

    def __init__(self, label: str, total: int | None = None, unit: str = "", *,
                 stream: TextIO | None = None, live: bool | None = None) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.note = ""
        self._stream = sys.stderr if stream is None else stream
        self.live = wanted(self._stream) if live is None else live
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0
        self._steps = 0
        self._closed = False
        if not self.live:
            log.info(f"{label}: started", extra={"progress": label, "total": total})

    def advance(self, count: int = 1, note: str | None = None) -> None:
        """``count`` more units done."""
        self.done += count
        if note is not None:
            self.note = note
        self._draw()

    def update_to(self, done: int) -> None:
        """``done`` units in all (for callers that count themselves)."""
        if done != self.done:
            self.done = done
            self._draw()

    def step(self, note: str) -> None:
        """The next step starts; the one before it (if any) is done."""
        if self._steps:
            self.done += 1
        self._steps += 1
        self.note = note
        self._draw(force=True)

    def line(self) -> str:
        """The text of the live line, e.g. ``bench: 3/12 steps · adapters · 1m04s``."""
        elapsed = time.monotonic() - self._started
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        parts = [f"{self.label}: {count}" + (f" {self.unit}" if self.unit else "")]
        if self.note:
            parts.append(self.note)
        parts.append(_clock(elapsed))
        return " · ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.live or (not force and now - self._drawn_at < MIN_REDRAW_S):
            return
        self._drawn_at = now
        text = self.line()
        # Pad over a longer previous line instead of an escape code: works on any terminal.
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def close(self, failed: bool = False) -> None:
        """End the line (terminal) or log the end with the count and duration (logs); once."""
        if self._closed:
            return
        self._closed = True
        if self._steps and not failed:
            self.done += 1
            self._steps = 0
        seconds = round(time.monotonic() - self._started, 1)
        if self.live:
            self._draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
            return
        log.info(f"{self.label}: {'failed' if failed else 'done'}",
                 extra={"progress": self.label, "done": self.done, "total": self.total,
                        "seconds": seconds})

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close(failed=kind is not None)

"""The one status printer (stderr) of the CLI and the plugin: status lines (``say``), progress of long steps (build,
flash, image upload: ``fraction``; images evaluated: ``count``) as a live line on a terminal and a few plain lines
otherwise (CI logs), nothing when quiet but what must be seen (``warn``). ``Eta`` counts steps (the pytest
plugin's device tests) and estimates the time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self._stream = stream
        self.quiet = quiet
        self._last = 0.0

    @property
    def stream(self) -> TextIO:
        """The stream given, else stderr as it is now (pytest swaps it while capturing, and back)."""
        return self._stream or sys.stderr

    @property
    def live(self) -> bool:
        return self.stream.isatty()

    def say(self, text: str) -> None:
        """A status line (``building the firmware …``); none when quiet."""
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """A line to see even when quiet: a test outcome (``harness: the device disagrees …``) or a note."""
        print(text, file=self.stream, flush=True)

    def count(self, done: int, total: int, what: str = "") -> None:
        """``done`` of ``total`` items (``3/32 scene-002``), redrawn on a terminal; nothing in a log."""
        if self.live and not self.quiet:
            print(f"\r  {done}/{total} {what:<30}", end="" if done < total else "\n", file=self.stream, flush=True)

    def fraction(self, what: str, done: float, total: float) -> None:
        """``what`` is ``done`` of ``total`` (bytes, pages, images): redrawn live, or logged every 25 %."""
        if self.quiet or total <= 0:
            return
        pct = 100.0 * done / total
        if self.live:
            now = time.monotonic()
            if done >= total or now - self._last > 0.1:
                self._last = now
                end = "\n" if done >= total else ""
                print(f"\r  {what} {pct:5.1f} %", end=end, file=self.stream, flush=True)
        elif done >= total or int(pct) // 25 != int(100.0 * max(done - 1, 0) / total) // 25:
            print(f"  {what} {pct:.0f} %", file=self.stream, flush=True)

    def bytes_callback(self, what: str):
        return lambda done, total: self.fraction(what, done, total)


def duration(seconds: float) -> str:
    """``45 s``, ``4 min``, ``1 h 05 min``: a person's reading of a time estimate."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Eta:
    """Steps done out of ``total`` and the time left at the pace so far (wall clock, so parallel workers count).
    The pace is measured from the first finished step on: that one carries the build and the boot."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.clock = total, clock
        self.done = 0
        self._first: float | None = None

    def step(self) -> str:
        """Count one step done; ``3/37 done, about 4 min left``."""
        now = self.clock()
        self.done += 1
        if self._first is None:
            self._first = now
        text = f"{self.done}/{self.total} done"
        left = self.total - self.done
        if left <= 0:
            return text
        if self.done < 2:
            return text + ", estimating the time left"
        return text + f", about {duration((now - self._first) / (self.done - 1) * left)} left"

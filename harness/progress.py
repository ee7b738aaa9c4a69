"""Progress for long steps (build, flash, image upload) on stderr: a live line on a terminal, a few plain lines
otherwise (CI logs), nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty()
        self._last = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

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

"""Several ``--board`` values form a pool: each pytest(-xdist) worker takes one board and holds its lock for the
session, so two workers never drive the same real board. Emulated boards need no lock (each worker starts its
own emulator instance)."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.errors import TargetTimeout

LOCK_DIR = Path(tempfile.gettempdir()) / "harness-locks"


@dataclass
class BoardLock:
    key: str
    handle: IO | None = None

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def lock_key(choice) -> str | None:
    """What identifies a physical board (its serial port), or None for an emulator and for a farm's place (labgrid's
    coordinator does the locking, one place per worker: harness/farm/lease.py)."""
    if not choice.board.on_serial_port or getattr(choice, "farm", None) is not None:
        return None
    return re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.realpath(choice.port))


def _try_lock(key: str) -> BoardLock | None:
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(LOCK_DIR / f"{key}.lock", "a+")  # noqa: SIM115 - held for the session
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return BoardLock(key, handle)


def acquire(choices: Sequence, worker: int = 0, timeout: float = 3600.0, poll: float = 0.5):
    """(choice, lock) for this worker: an emulator (the worker-th, round robin), or the first free real board,
    waiting up to ``timeout`` while all are busy. Waiting is said once, with who holds the boards."""
    emulated = [c for c in choices if lock_key(c) is None]
    real = [c for c in choices if lock_key(c) is not None]
    if not real:
        return emulated[worker % len(emulated)], BoardLock("")
    deadline = time.monotonic() + timeout
    order = real[worker % len(real):] + real[:worker % len(real)]
    while True:
        for choice in order:
            lock = _try_lock(lock_key(choice))
            if lock is not None:
                return choice, lock
        if time.monotonic() > deadline:
            holders = ", ".join(f"{c} (pid {_holder(lock_key(c))})" for c in real)
            raise TargetTimeout(f"every board of the pool is busy after {timeout:g} s: {holders}")
        time.sleep(poll)


def _holder(key: str) -> str:
    try:
        return (LOCK_DIR / f"{key}.lock").read_text().strip() or "?"
    except OSError:
        return "?"
